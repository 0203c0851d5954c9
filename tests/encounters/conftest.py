from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from codesets.services import release_import_now

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FY2026 = dt.date(2025, 10, 1)


@pytest.fixture
def code_sets(db):
    """ICD-10-CM FY2026 April, ICD-10-PCS FY2026 and Table 5 FY2026 (cut fixtures),
    active from 2025-10-01: the encounters below are discharged in FY2026."""
    return [
        release_import_now(
            path=FIXTURES / "encounters" / "icd10cm_tabular_fy2026_april.xml",
            activate=True,
            effective_from=FY2026,
        ),
        release_import_now(
            path=FIXTURES / "encounters" / "icd10pcs_tables_fy2026.xml",
            activate=True,
            effective_from=FY2026,
        ),
        release_import_now(
            path=FIXTURES / "ms-drg" / "table5_fy2026_excerpt.txt",
            activate=True,
            effective_from=FY2026,
        ),
    ]


def pneumonia_payload(**overrides) -> dict:
    """The DESIGN.md example: simple pneumonia with hyponatremia (a CC)."""
    body = {
        "type": "inpatient",
        "facility": "General",
        "admit_date": "2026-05-10",
        "discharge_date": "2026-05-14",
        "discharge_status": "01",
        "attending_provider": "Dr. Rivera",
        "patient": {
            "mrn": "A123",
            "first_name": "Ann",
            "last_name": "Lee",
            "birth_date": "1956-02-01",
            "sex": "F",
        },
        "documents": [
            {
                "kind": "discharge_summary",
                "text": "Community-acquired pneumonia. Sodium 128 on admission.",
            }
        ],
        "diagnoses": [{"code": "J18.9", "poa": "Y"}, {"code": "E87.1", "poa": "Y"}],
        "procedures": [],
    }
    body.update(overrides)
    return body
