"""The coding history and the chart access log are append-only.

A trigger refuses UPDATE and DELETE on both tables, whoever asks (the admin, a
service, a SQL prompt through Django). TRUNCATE, used by test database flushes
and by an operator deliberately wiping a test system, is not row-level and
stays possible.
"""

from django.db import migrations

SQL = """
CREATE FUNCTION encounters_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: rows cannot be changed or deleted', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER codingchange_append_only BEFORE UPDATE OR DELETE ON encounters_codingchange
    FOR EACH ROW EXECUTE FUNCTION encounters_refuse_change();
CREATE TRIGGER chartaccess_append_only BEFORE UPDATE OR DELETE ON encounters_chartaccess
    FOR EACH ROW EXECUTE FUNCTION encounters_refuse_change();
"""

REVERSE_SQL = """
DROP TRIGGER chartaccess_append_only ON encounters_chartaccess;
DROP TRIGGER codingchange_append_only ON encounters_codingchange;
DROP FUNCTION encounters_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("encounters", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
