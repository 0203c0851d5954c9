"""The Users page's history (accounts.UserChange) is append-only, like the coding
history: a trigger refuses UPDATE and DELETE whoever asks. TRUNCATE (test database
flushes) stays possible."""

from django.db import migrations

SQL = """
CREATE FUNCTION accounts_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: rows cannot be changed or deleted', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER userchange_append_only BEFORE UPDATE OR DELETE ON accounts_userchange
    FOR EACH ROW EXECUTE FUNCTION accounts_refuse_change();
"""

REVERSE_SQL = """
DROP TRIGGER userchange_append_only ON accounts_userchange;
DROP FUNCTION accounts_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_user_changes_and_manage_users")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
