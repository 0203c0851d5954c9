"""Search the plain words as well as the English stems (a generated column cannot be
altered: drop it with its index, add it back with the new expression)."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models


def vector(*parts):
    out = None
    for column, config in parts:
        part = django.contrib.postgres.search.SearchVector(column, config=config, weight="A" if column == "long_title" else "B")
        out = part if out is None else out + part
    return out


class Migration(migrations.Migration):
    dependencies = [
        ("codesets", "0003_code_search_order"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="code", name="code_search_vector"),
        migrations.RemoveField(model_name="code", name="search_vector"),
        migrations.AddField(
            model_name="code",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=vector(
                    ("long_title", "english"), ("search_terms", "english"), ("long_title", "simple"), ("search_terms", "simple")
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="code",
            index=django.contrib.postgres.indexes.GinIndex(fields=["search_vector"], name="code_search_vector"),
        ),
    ]
