from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CM_FY2025 = FIXTURES / "icd10cm" / "tabular_fy2025_april.xml"
CM_FY2026 = FIXTURES / "icd10cm" / "tabular_fy2026_april.xml"
PCS_FY2025 = FIXTURES / "icd10pcs" / "icd10pcs_tables_2025.xml"
PCS_FY2026 = FIXTURES / "icd10pcs" / "icd10pcs_tables_2026.xml"


def addenda_line(action: str, billable: bool, code: str, title: str) -> str:
    """One record in the official addenda layout: action in columns 1-13, then an order record."""
    return f"{action:<13}{int(billable)} {code:<7} {title[:60]:<60} {title}"


def addenda_text(
    lines: list[str],
    *,
    codes_before: int,
    codes_after: int,
    adds: int,
    deletes: int,
    revisions: int,
) -> str:
    footer = [
        "",
        "Codes",
        f"  {codes_before} codes in icd10cm_order_2026.txt",
        f"  {codes_after} codes in icd10cm_order_2027.txt",
        f"  {adds:5d} additions",
        f"  {deletes:5d} deletions",
        f"  {revisions:5d} revisions",
        "of which",
        f"  {revisions:5d} revisions to both long and short titles",
        "      0 revisions to long title only",
        "      0 revisions to short title only",
    ]
    return "\n".join(lines + footer) + "\n"


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
