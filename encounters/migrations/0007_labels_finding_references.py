"""Findings raised before the POA-exempt lists were imported cite a source file
("exempt categories we carry: see encounters/audit/rules.py"): say what judged them
instead, as the poa-missing rule now does (docs/audit_rules.md, "POA exemptions")."""

from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Replace

OLD = "exempt categories we carry: see encounters/audit/rules.py"
NEW = "judged by the built-in approximation of CMS's POA-exempt list"


def forwards(apps, schema_editor):
    Finding = apps.get_model("encounters", "Finding")
    Finding.objects.filter(reference__contains=OLD).update(
        reference=Replace(F("reference"), Value(OLD), Value(NEW))
    )


class Migration(migrations.Migration):
    dependencies = [("encounters", "0006_jobs_batch_heartbeat")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
