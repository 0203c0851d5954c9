# The encoder chooses how to search a query's words from PostgreSQL's statistics of
# Code.search_vector (codesets.search.word_sql: probe the rarest words first, or walk
# the rank tags). At the default statistics target the planner keeps the 1,000 most
# common lexemes of ~25,000, and any other lexeme may hold up to ~280 codes as far as
# the statistics tell: a word held by 44 codes ("retract") looked as common as one
# held by 280. At 3,000 the statistics list ~9,000 lexemes and the rest hold at most
# a handful of codes. ANALYZE then reads the whole table (a few seconds after an
# import, which runs it anyway).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("codesets", "0018_jobs_release_attempts")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE codesets_code ALTER COLUMN search_vector SET STATISTICS 3000",
            reverse_sql="ALTER TABLE codesets_code ALTER COLUMN search_vector SET STATISTICS -1",
        )
    ]
