"""Load the bundled official code sets into an empty installation (`make run`).

ICD-10-CM FY2026 April (the tabular XML inside the `simple-icd-10-cm` package),
ICD-10-CM FY2027 built from it with the official FY2027 addenda, ICD-10-PCS
FY2026 tables with the FY2026 Definitions and the FY2025 Index (the newest Index
available here), the FY2026 IPPS Table 5 (MS-DRG weights) and CMS's FY2025 POA-exempt
code list (for its fiscal year; later discharges are judged by it as the newest list
loaded until a later one is imported, and the audit says so). Each file is skipped
when a release of it already exists, so the command is safe to run at every start.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from codesets.models import Release
from codesets.services import DuplicateRelease, file_sha256, release_import_now

DATA = Path(__file__).resolve().parent.parent.parent / "data"
# What a table release's rows are, in the command's report.
ROWS = {
    "drg_weights": "MS-DRGs",
    "icd10pcs_index": "index entries",
    "icd10pcs_definitions": "definitions",
    "poa_exempt": "codes",
}


def bundled_files() -> list[tuple[Path, str, str, dt.date, dt.date | None]]:
    """(path, system, label, effective from, effective to), in the order they must load."""
    tabular = Path(
        str(
            resources.files("simple_icd_10_cm")
            / "data"
            / "icd10c-tabular-April-1-2026.xml"
        )
    )
    return [
        (
            tabular,
            "icd10cm",
            "ICD-10-CM FY2026 April update",
            dt.date(2026, 4, 1),
            dt.date(2026, 9, 30),
        ),
        (
            DATA / "icd10cm_order_addenda_2027.txt",
            "icd10cm",
            "ICD-10-CM FY2027",
            dt.date(2026, 10, 1),
            dt.date(2027, 9, 30),
        ),
        (
            DATA / "icd10pcs_tables_2026.xml.gz",
            "icd10pcs",
            "ICD-10-PCS FY2026",
            dt.date(2025, 10, 1),
            dt.date(2026, 9, 30),
        ),
        # The PCS search reads these with the tables in force (codesets/pcs_lookup.py).
        (
            DATA / "icd10pcs_index_2025.xml.gz",
            "icd10pcs_index",
            "ICD-10-PCS Index FY2025 (with the FY2026 tables)",
            dt.date(2025, 10, 1),
            dt.date(2026, 9, 30),
        ),
        (
            DATA / "icd10pcs_definitions_2026.xml.gz",
            "icd10pcs_definitions",
            "ICD-10-PCS Definitions FY2026",
            dt.date(2025, 10, 1),
            dt.date(2026, 9, 30),
        ),
        (
            DATA / "table5_drg_weights_fy2026_final.txt",
            "drg_weights",
            "MS-DRG weights FY2026 (v43)",
            dt.date(2025, 10, 1),
            dt.date(2026, 9, 30),
        ),
        (
            DATA / "POAexemptCodesFY25.txt.gz",
            "poa_exempt",
            "POA-exempt codes FY2025",
            dt.date(2024, 10, 1),
            dt.date(2025, 9, 30),
        ),
    ]


class Command(BaseCommand):
    help = "Import and activate the bundled official code sets (skips those already loaded)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be loaded."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for path, system, label, start, end in bundled_files():
            sha, _size = file_sha256(path)
            existing = (
                Release.objects.filter(system=system, source_sha256=sha)
                .exclude(state__in=["failed", "discarded"])
                .first()
            )
            if existing:
                self.stdout.write(
                    f"  {label}: already loaded ({existing.get_state_display().lower()})"
                )
                continue
            if options["dry_run"]:
                self.stdout.write(f"  {label}: would load {path.name}")
                continue
            try:
                release = release_import_now(
                    path=path,
                    system=system,
                    label=label,
                    effective_from=start,
                    effective_to=end,
                    activate=True,
                )
            except DuplicateRelease as exc:
                self.stdout.write(f"  {label}: {exc}")
                continue
            counted = (
                f"{release.code_count:,} {ROWS.get(release.system, 'rows')}"
                if release.is_table
                else f"{release.code_count:,} codes ({release.billable_count:,} billable)"
            )
            self.stdout.write(
                f"  {label}: {counted}, in force {start} to {end or 'open-ended'}"
            )
