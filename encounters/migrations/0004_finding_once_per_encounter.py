from django.conf import settings
from django.db import migrations, models

# Batches used to add a copy of every open finding at each run: keep one per
# (encounter, rule, codes), the one a supervisor decided if any, else the latest.
DEDUPLICATE = """
DELETE FROM encounters_finding f
USING (
    SELECT id, row_number() OVER (
        PARTITION BY encounter_id, rule, codes
        ORDER BY (status <> 'open') DESC, resolved_at DESC NULLS LAST, id DESC
    ) AS n
    FROM encounters_finding
) d
WHERE f.id = d.id AND d.n > 1
"""


class Migration(migrations.Migration):
    dependencies = [
        ("encounters", "0003_audit_findings_and_batches"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="finding",
            name="finding_once_per_run",
        ),
        migrations.AddField(
            model_name="finding",
            name="coding",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.RunSQL(DEDUPLICATE, migrations.RunSQL.noop, elidable=True),
        migrations.AddConstraint(
            model_name="finding",
            constraint=models.UniqueConstraint(
                fields=("encounter", "rule", "codes"), name="finding_once_per_encounter"
            ),
        ),
    ]
