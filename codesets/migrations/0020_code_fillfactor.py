# Room on each page of codesets_code for a second version of its rows (issue 15).
#
# An import adds its release to every row it shares with the last release
# (services._attach_rows: release_ids = array_append(...)), ~95 % of an ICD-10-CM
# release, ~98,000 rows. With the pages packed full (fillfactor 100), each updated row
# went to another page, so PostgreSQL wrote a new entry for it in every index of the
# table, the two GIN indexes of the search columns included: ~40 lexemes a row each,
# 2.2 million WAL records, 930 MB of WAL and 14-16 s of one core for one release, while
# the coders' saves waited for the CPU and for their commits' WAL flush (floor load,
# bench/README.md). With half of each page free, the new version stays on its page as
# a heap-only tuple (HOT: no indexed column changes; the stored generated columns are
# recomputed to the same values), and no index is touched: the same UPDATE measured
# 0.6-0.7 s and 131,000 WAL records (32 MB). PostgreSQL prunes the old versions when
# it next reads the page (or VACUUM does), so the room is there for the next release.
#
# The cost is space: a table of ~270 MB instead of ~210 MB for 179,000 rows. The code
# search reads its rows through the GIN indexes, a page per row, so fewer rows per page
# changes nothing it reads.
#
# The table is rewritten so that rows already stored get the room too (an exclusive
# lock for a few seconds on a full table; instant on a new install). VACUUM FULL cannot
# run in a transaction: this migration is not atomic.
from django.db import migrations

FILLFACTOR = 50


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("codesets", "0019_search_vector_statistics")]

    operations = [
        migrations.RunSQL(
            f"ALTER TABLE codesets_code SET (fillfactor = {FILLFACTOR})",
            reverse_sql="ALTER TABLE codesets_code RESET (fillfactor)",
        ),
        migrations.RunSQL("VACUUM FULL codesets_code", reverse_sql=migrations.RunSQL.noop),
    ]
