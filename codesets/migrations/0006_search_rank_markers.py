"""Rank markers in the search vector (xlenN, xbill): a generated column cannot be
altered, so drop it with its index and add it back with the new expression."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.functions
from django.db import migrations, models


def vector():
    sv = django.contrib.postgres.search.SearchVector
    markers = django.db.models.functions.Concat(
        models.Value("xlen"),
        django.db.models.functions.Cast(
            django.db.models.functions.Least(
                django.db.models.functions.Length("long_title") / models.Value(20), models.Value(9)
            ),
            models.TextField(),
        ),
        models.Case(models.When(billable=True, then=models.Value(" xbill")), default=models.Value("")),
        output_field=models.TextField(),
    )
    return (
        sv("long_title", config="english", weight="A")
        + sv("search_terms", config="english", weight="B")
        + sv("long_title", config="simple", weight="A")
        + sv("search_terms", config="simple", weight="B")
        + sv(markers, config="simple", weight="D")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("codesets", "0005_drop_code_release_gin"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="code", name="code_search_vector"),
        migrations.RemoveField(model_name="code", name="search_vector"),
        migrations.AddField(
            model_name="code",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=vector(),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="code",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="code_search_vector"),
        ),
    ]
