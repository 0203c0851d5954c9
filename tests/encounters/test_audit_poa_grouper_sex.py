"""Issue 11: POA judged by CMS's POA-exempt list in force on the discharge date
(poa-missing, poa-exempt), the grouper's verdict (drg-ungroupable, hac) and the
sex consistency warning (sex-inconsistent), each firing and not firing."""

from __future__ import annotations

import datetime as dt

import pytest

from codesets.services import release_import_now
from encounters.audit.engine import audit_encounters
from encounters.models import AuditRun, Encounter
from tests.encounters.conftest import FIXTURES
from tests.encounters.test_audit_rules import _encounter, _rules

pytestmark = pytest.mark.django_db

POA_FY25 = FIXTURES / "poa_exempt" / "POAexemptCodesFY25_cut.txt"
DELIVERY = [("O80", ""), ("Z3A.39", ""), ("Z37.0", "1")]
DELIVERY_PX = [("icd10pcs", "10E0XZZ")]


@pytest.fixture
def poa_list(code_sets):
    """CMS's FY2025 POA-exempt list (cut) put in force over the test discharges."""
    return release_import_now(
        path=POA_FY25,
        activate=True,
        effective_from=dt.date(2025, 10, 1),
        effective_to=dt.date(2026, 9, 30),
    )


def _findings(encounter: Encounter, rule: str) -> list:
    return list(encounter.findings.filter(rule=rule).order_by("id"))


# --- POA ---------------------------------------------------------------------


def test_a_delivery_with_blank_or_1_on_exempt_codes_is_not_returned(poa_list):
    # Z3A.39 blank and Z37.0 "1" used to be poa-missing errors: every delivery went
    # back to its coder.
    encounter = _encounter(DELIVERY, DELIVERY_PX, age=30)
    audit_encounters(encounter_ids=[encounter.id], trigger="submit", seed=3)
    encounter.refresh_from_db()
    rules = {f.rule for f in encounter.findings.all()}
    assert not rules & {"poa-missing", "poa-exempt", "drg-ungroupable"}, rules
    assert not [f for f in encounter.findings.all() if f.severity != "info"]
    assert encounter.status in (Encounter.Status.FINAL, Encounter.Status.IN_REVIEW)
    assert AuditRun.objects.get(encounter=encounter).drg["drg"] == 807


def test_poa_on_an_exempt_code_is_info_not_an_error(poa_list):
    rules = _rules(
        _encounter([("O80", "Y"), ("Z3A.39", "Y"), ("Z37.0", "")], DELIVERY_PX, age=30)
    )
    assert rules["poa-exempt"] == [["O80"], ["Z3A.39"]]
    assert "poa-missing" not in rules
    finding = _findings(Encounter.objects.get(), "poa-exempt")[0]
    assert finding.severity == "info"
    assert "POA-exempt codes FY2025" in finding.reference


def test_a_code_not_on_the_list_still_needs_its_poa(poa_list):
    rules = _rules(
        _encounter([("J18.9", "Y"), ("E87.1", ""), ("Z79.4", ""), ("I10", "1")])
    )
    # Z79.4 is on the list; E87.1 blank and I10 "1" are not exempt.
    assert sorted(rules["poa-missing"]) == [["E87.1"], ["I10"]]
    assert "poa-exempt" not in rules
    encounter = Encounter.objects.get()
    assert all(
        f.reference.endswith("CMS POA-exempt codes FY2025")
        for f in _findings(encounter, "poa-missing")
    )


def test_a_date_after_the_list_uses_the_newest_list_and_says_so(code_sets):
    # The list for its own fiscal year only (2024-10-01 to 2025-09-30).
    release_import_now(path=POA_FY25, activate=True)
    encounter = _encounter([("J18.9", "Y"), ("E87.1", ""), ("Z3A.39", "")])
    assert _rules(encounter)["poa-missing"] == [["E87.1"]]
    (finding,) = _findings(encounter, "poa-missing")
    assert "the newest list loaded (none covers 2026-05-14)" in finding.reference


def test_without_any_list_the_fallback_is_used_and_named(code_sets):
    encounter = _encounter(
        [("J18.9", "Y"), ("E87.1", ""), ("Z3A.39", ""), ("Z37.0", "1")]
    )
    rules = _rules(encounter)
    assert rules["poa-missing"] == [["E87.1"]]
    assert "poa-exempt" not in rules  # never from the approximation
    (finding,) = _findings(encounter, "poa-missing")
    assert "built-in approximation" in finding.reference


# --- the grouper's verdict -----------------------------------------------------


def test_drg_ungroupable_on_998(poa_list):
    # O80 with no delivery procedure groups to 998.
    encounter = _encounter(DELIVERY, age=30)
    assert _rules(encounter)["drg-ungroupable"] == [["O80"]]
    (finding,) = _findings(encounter, "drg-ungroupable")
    assert finding.severity == "error"
    assert "998" in finding.message and "998" in finding.reference
    assert "drg-ungroupable" not in _rules(_encounter(DELIVERY, DELIVERY_PX, age=30))


def test_drg_ungroupable_on_an_error_return_code(poa_list):
    # A HAC code without its POA: 999, HAC_MISSING_ONE_POA.
    encounter = _encounter([("J18.9", "Y"), ("L89.153", "")])
    assert _rules(encounter)["drg-ungroupable"] == [["L89.153"]]
    (finding,) = _findings(encounter, "drg-ungroupable")
    assert "HAC_MISSING_ONE_POA" in finding.reference
    assert "hac" not in _rules(encounter)


def test_hac_names_the_condition_and_the_drg_with_and_without_it(poa_list):
    encounter = _encounter([("J18.9", "Y"), ("L89.153", "N")])
    rules = _rules(encounter)
    assert rules["hac"] == [["L89.153"]]
    assert "drg-ungroupable" not in rules
    (finding,) = _findings(encounter, "hac")
    assert finding.severity == "warning"
    assert "HAC 04" in finding.message and "Pressure Ulcer" in finding.message
    # The MCC does not count: 195 instead of 193.
    assert "MS-DRG 195" in finding.message and "193" in finding.message
    assert "HAC 04" in finding.reference
    assert "hac" not in _rules(_encounter([("J18.9", "Y"), ("L89.153", "Y")]))


def test_the_drg_is_grouped_once_per_encounter(poa_list, monkeypatch):
    from encounters import drg as drg_module

    calls = []
    real = drg_module.drg_group

    def counting(**kwargs):
        calls.append(kwargs["diagnoses"])
        return real(**kwargs)

    monkeypatch.setattr("encounters.audit.engine.drg_group", counting)
    encounter = _encounter([("J18.9", "Y"), ("L89.153", "N")])
    assert "hac" in _rules(encounter)
    assert len(calls) == 1


# --- sex consistency ---------------------------------------------------------------


def test_sex_inconsistent_after_cms_switched_the_mce_edit_off(poa_list):
    female = _rules(_encounter([("J18.9", "Y"), ("N40.0", "Y")], sex="F"))
    assert female["sex-inconsistent"] == [["N40.0"]]
    assert "mce-sex-conflict" not in female
    male = _rules(_encounter(DELIVERY, DELIVERY_PX, sex="M", age=30))
    assert sorted(male["sex-inconsistent"]) == [
        ["10E0XZZ"],
        ["O80"],
        ["Z37.0"],
        ["Z3A.39"],
    ]
    assert "sex-inconsistent" not in _rules(
        _encounter([("J18.9", "Y"), ("N40.0", "Y")], sex="M")
    )
    assert "sex-inconsistent" not in _rules(
        _encounter([("J18.9", "Y"), ("N40.0", "Y")], sex="U")
    )


def test_sex_inconsistent_on_outpatient_claims_too(poa_list):
    rules = _rules(_encounter([("N40.0", "")], type="outpatient", sex="F"))
    assert rules["sex-inconsistent"] == [["N40.0"]]
    assert (
        _findings(Encounter.objects.get(), "sex-inconsistent")[0].severity == "warning"
    )


def test_before_october_2024_the_mce_edit_reports_it_once(poa_list):
    encounter = _encounter(
        [("J18.9", "Y"), ("N40.0", "Y")], sex="F", dos=dt.date(2024, 6, 1)
    )
    rules = _rules(encounter)
    assert rules["mce-sex-conflict"] == [["N40.0"]]
    assert "sex-inconsistent" not in rules


def test_demo_encounters_leave_poa_blank_on_exempt_codes(poa_list):
    from encounters.demo import demo_encounters_create
    from encounters.models import Diagnosis

    demo_encounters_create(
        count=60,
        first_discharge=dt.date(2026, 4, 1),
        last_discharge=dt.date(2026, 9, 30),
        inpatient_share=1.0,
        coded_share=1.0,
    )
    inpatient = Diagnosis.objects.filter(encounter__type="inpatient")
    exempt = inpatient.filter(code__in=["Z794", "Z7901"])  # on the cut list
    assert exempt.exists()
    assert set(exempt.values_list("poa", flat=True)) == {""}
    assert inpatient.filter(sequence=1, poa="Y").exists()
