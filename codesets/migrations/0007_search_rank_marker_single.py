"""One rank marker per code (xbN / xhN) instead of xlenN plus xbill: smaller GIN posting
lists to intersect. The generated column is dropped and added back."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.functions
from django.db import migrations, models


def vector():
    sv = django.contrib.postgres.search.SearchVector
    marker = django.db.models.functions.Concat(
        models.Case(models.When(billable=True, then=models.Value("xb")), default=models.Value("xh")),
        django.db.models.functions.Cast(
            django.db.models.functions.Least(
                django.db.models.functions.Length("long_title") / models.Value(20), models.Value(9)
            ),
            models.TextField(),
        ),
        output_field=models.TextField(),
    )
    return (
        sv("long_title", config="english", weight="A")
        + sv("search_terms", config="english", weight="B")
        + sv("long_title", config="simple", weight="A")
        + sv("search_terms", config="simple", weight="B")
        + sv(marker, config="simple", weight="D")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("codesets", "0006_search_rank_markers"),
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
