"""The case book: realistic cases written from the ICD-10-CM Official Guidelines, the
tabular, the MCE and the MS-DRG definitions (tests/fixtures/casebook/cases.yaml),
each sent through the API and audited; the findings (rule, codes, severity) and the
MS-DRG must be exactly the expected ones.

The expectations were written from the guidelines, not from the rules' code, so a
difference is a question for the rule (or for the case), never silenced here.
``bench/case_book.py`` prints the table of expected vs got for every case.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
import yaml
from django.db import transaction
from rest_framework.test import APIClient

from codesets.services import release_import_now
from encounters.services import encounter_claim
from tests.encounters.conftest import FIXTURES
from tests.factories import UserFactory

CASEBOOK = FIXTURES / "casebook"
CASES = yaml.safe_load((CASEBOOK / "cases.yaml").read_text())
# Where the findings come from: "audit" = submit, then the audit service (what a
# coder's Submit does); "checks" = GET /api/v1/encounters/<id>/checks/ (the live checks).
VIA = os.environ.get("CASEBOOK_VIA", "audit")
# bench/case_book.py sets this to collect one JSON line per case.
RESULTS = os.environ.get("CASEBOOK_RESULTS")

FY2024 = dt.date(2023, 10, 1)
FY2025 = dt.date(2024, 10, 1)
FY2026 = dt.date(2025, 10, 1)
ALWAYS = dt.date(1996, 1, 1)
STAND_IN = dt.date(2025, 1, 1)
STAND_IN_END = dt.date(2026, 12, 31)
CODE_SETS = [
    # (file, effective from); imported and activated in this order
    (CASEBOOK / "icd10cm_codes_fy2024.txt", FY2024),
    (CASEBOOK / "icd10cm_tabular_fy2025_april.xml", FY2025),
    (CASEBOOK / "icd10cm_tabular_fy2026_april.xml", FY2026),
    (CASEBOOK / "icd10pcs_tables_fy2026.xml", FY2026),
    (CASEBOOK / "table5_fy2026_excerpt.txt", FY2026),
    # The newest HCPCS file here is 2020's, and the CPT file is made up: both stand in
    # for the releases a site would have in force on the cases' dates (2025-2026).
    (CASEBOOK / "HCPC2020_ANWEB_cut.txt", STAND_IN),
    (CASEBOOK / "cpt_madeup.csv", STAND_IN),
    (FIXTURES / "ncci" / "ptp_practitioner.txt", ALWAYS),
    (FIXTURES / "ncci" / "ptp_hospital.txt", ALWAYS),
    (FIXTURES / "ncci" / "mue_practitioner.csv", ALWAYS),
    (FIXTURES / "ncci" / "mue_facility.csv", ALWAYS),
]
# CMS's POA-exempt list (system poa_exempt, one release per fiscal year): imported
# when the importer exists; without it the poa-exempt expectations cannot hold.
POA_EXEMPT = (CASEBOOK / "POAexemptCodesFY25_cut.txt", FY2025)


@pytest.fixture(scope="module")
def casebook_code_sets(django_db_setup, django_db_blocker):
    """The code sets, imported once for the module inside a transaction that is
    rolled back at the end (each test runs in a savepoint of it). The block is
    marked as a test case's, as Django's TestCase.setUpClass marks its own, so the
    services' durable blocks may run inside it."""
    outer = transaction.atomic()
    outer._from_testcase = True  # type: ignore[attr-defined]
    with django_db_blocker.unblock(), outer:
        for path, effective in CODE_SETS:
            release_import_now(
                path=path,
                activate=True,
                effective_from=effective,
                effective_to=STAND_IN_END if effective == STAND_IN else None,
            )
        release_import_now(
            path=POA_EXEMPT[0], activate=True, effective_from=POA_EXEMPT[1]
        )
        yield {"poa_exempt": True}
        transaction.set_rollback(True)


def payload(case: dict) -> dict:
    e = case["encounter"]
    body = {
        "type": e["type"],
        "facility": "General",
        "admit_date": e["admit_date"].isoformat(),
        "discharge_status": e["discharge_status"],
        "attending_provider": "Dr. Casebook",
        "patient": {
            "mrn": case["id"][:20],
            "first_name": "Case",
            "last_name": case["id"].split("-", 1)[0],
            "birth_date": e["birth_date"].isoformat(),
            "sex": e["sex"],
        },
        "documents": [{"kind": "discharge_summary", "text": case["chart"]}],
        "diagnoses": [{"code": code, "poa": poa} for code, poa in case["diagnoses"]],
        "procedures": [
            {
                "system": p["system"],
                "code": p["code"],
                "date": p["date"].isoformat(),
                "modifiers": p.get("modifiers", []),
                "units": p.get("units", 1),
            }
            for p in case["procedures"]
        ],
    }
    if e.get("discharge_date"):
        body["discharge_date"] = e["discharge_date"].isoformat()
    return body


def _findings_via_audit(api: APIClient, coder, encounter_id: int) -> list[dict]:
    from encounters.audit.services import encounter_audit

    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    api.force_authenticate(coder)
    response = api.post(
        f"/api/v1/encounters/{encounter_id}/submit/",
        {"version": encounter.version},
        format="json",
    )
    assert response.status_code == 202, response.content
    encounter_audit(encounter_id=encounter_id)
    return api.get(f"/api/v1/encounters/{encounter_id}/").json()["findings"]


def _findings_via_checks(api: APIClient, coder, encounter_id: int) -> list[dict]:
    response = api.get(f"/api/v1/encounters/{encounter_id}/checks/")
    assert response.status_code == 200, response.content
    return response.json()["findings"]


FINDINGS = {"audit": _findings_via_audit, "checks": _findings_via_checks}


def run_case(case: dict) -> dict:
    """Create the encounter through the API, audit it, read it back: what we got."""
    supervisor = UserFactory(username=f"sup-{case['id'][:20]}", role="supervisor")
    coder = UserFactory(username=f"cod-{case['id'][:20]}", role="coder")
    api = APIClient()
    api.force_authenticate(supervisor)
    response = api.post("/api/v1/encounters/", payload(case), format="json")
    if response.status_code != 201:
        return {"created": False, "error": response.json(), "findings": [], "drg": None}
    encounter_id = response.json()["id"]
    findings = FINDINGS[VIA](api, coder, encounter_id)
    api.force_authenticate(supervisor)
    body = api.get(f"/api/v1/encounters/{encounter_id}/").json()
    drg = body["drg"]["drg"] if body.get("drg") else None
    return {"created": True, "findings": findings, "drg": drg}


def _key(rule: str, codes, severity: str) -> tuple:
    return (rule, None if codes is None else tuple(sorted(codes)), severity)


def compare(case: dict, got: dict) -> dict:
    """Expected and got findings as comparable sets, and the difference."""
    expected = {
        _key(f["rule"], f["codes"], f["severity"]) for f in case["expected"]["findings"]
    }
    loose = {(rule, sev) for rule, codes, sev in expected if codes is None}
    got_keys = set()
    for f in got["findings"]:
        key = _key(f["rule"], f["codes"], f["severity"])
        got_keys.add((key[0], None, key[2]) if (key[0], key[2]) in loose else key)
    return {
        "missing": sorted(expected - got_keys, key=str),
        "unexpected": sorted(got_keys - expected, key=str),
        "drg_expected": case["expected"].get("drg"),
        "drg_got": got["drg"],
    }


def _record(case: dict, got: dict, diff: dict, loaded: dict) -> None:
    if not RESULTS:
        return
    row = {
        "id": case["id"],
        "kind": case["kind"],
        "created": got["created"],
        "error": got.get("error"),
        "poa_exempt_list_loaded": loaded["poa_exempt"],
        "expected": sorted(
            (
                [f["rule"], f["codes"], f["severity"]]
                for f in case["expected"]["findings"]
            ),
            key=str,
        ),
        "got": sorted(
            ([f["rule"], list(f["codes"]), f["severity"]] for f in got["findings"]),
            key=str,
        ),
        "missing": [[r, list(c) if c else c, s] for r, c, s in diff["missing"]],
        "unexpected": [[r, list(c) if c else c, s] for r, c, s in diff["unexpected"]],
        "drg_expected": diff["drg_expected"],
        "drg_got": diff["drg_got"],
    }
    with Path(RESULTS).open("a") as out:
        out.write(json.dumps(row, default=str) + "\n")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_book(casebook_code_sets, db, case):
    got = run_case(case)
    diff = compare(case, got)
    _record(case, got, diff, casebook_code_sets)
    assert got["created"], (
        f"{case['id']}: the API refused the encounter: {got['error']}"
    )
    assert not diff["missing"] and not diff["unexpected"], (
        f"{case['id']}: missing {diff['missing']}, unexpected {diff['unexpected']} "
        f"(references: {case['references']})"
    )
    assert diff["drg_got"] == diff["drg_expected"]


def test_the_book_is_big_and_balanced():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) >= 60
    correct = [c for c in CASES if c["kind"] == "correct"]
    assert len(correct) >= len(CASES) // 3
    for case in correct:  # a correct case expects no error or warning
        assert all(f["severity"] == "info" for f in case["expected"]["findings"])
    for case in CASES:
        assert case["references"], case["id"]
        if case["encounter"]["type"] == "inpatient":
            assert case["expected"].get("drg"), case["id"]
