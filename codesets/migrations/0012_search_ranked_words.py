"""Issue 5: Code.search_ranked, the search words prefixed with the row's rank tag
(billable codes by title length // 4, headers apart), and its GIN index without a
pending list. codesets/search.py asks it one tag after another, best first."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.expressions
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('codesets', '0011_merge_validity_and_edit_tables'),
    ]

    operations = [
        migrations.AddField(
            model_name='code',
            name='search_ranked',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.comparison.Cast(models.Func(django.db.models.functions.comparison.Cast(models.Func(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.SearchVector('long_title', config='english'), '||', django.contrib.postgres.search.SearchVector('search_terms', config='english'), django.contrib.postgres.search.SearchConfig('english')), '||', django.contrib.postgres.search.SearchVector('long_title', config='simple'), django.contrib.postgres.search.SearchConfig('english')), '||', django.contrib.postgres.search.SearchVector('search_terms', config='simple'), django.contrib.postgres.search.SearchConfig('english')), function='strip', output_field=django.contrib.postgres.search.SearchVectorField()), models.TextField()), models.Value("(^| )'"), django.db.models.functions.text.Concat(models.Value("\\1'"), models.Case(models.When(billable=True, then=django.db.models.functions.text.Concat(models.Value('b'), django.db.models.functions.text.LPad(django.db.models.functions.comparison.Cast(django.db.models.functions.comparison.Least(django.db.models.expressions.CombinedExpression(django.db.models.functions.text.Length('long_title'), '/', models.Value(4)), models.Value(30)), models.TextField()), 2, models.Value('0')))), default=models.Value('h'), output_field=models.TextField()), output_field=models.TextField()), models.Value('g'), function='regexp_replace', output_field=models.TextField()), django.contrib.postgres.search.SearchVectorField()), output_field=django.contrib.postgres.search.SearchVectorField()),
        ),
        migrations.AddIndex(
            model_name='code',
            index=django.contrib.postgres.indexes.GinIndex(fastupdate=False, fields=['search_ranked'], name='code_search_ranked'),
        ),
    ]
