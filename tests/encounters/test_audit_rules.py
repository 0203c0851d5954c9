"""Each audit rule id of DESIGN.md, firing and not firing on realistic cases.

The encounters are written straight to the tables (as a feed or an older release
may have left them: a code the audit must judge need not pass today's entry
checks), then audited by the engine the Celery job runs.
"""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from codesets.models import normalize_code
from codesets.services import release_import_now
from encounters.audit.engine import audit_encounters
from encounters.models import Diagnosis, Encounter, Patient, Procedure
from tests.encounters.conftest import FIXTURES, pneumonia_payload

pytestmark = pytest.mark.django_db

DOS = dt.date(2026, 5, 14)


def _encounter(
    dx: list[tuple[str, str]] = (),
    px: list[tuple] = (),
    *,
    type: str = "inpatient",
    dos: dt.date = DOS,
    sex: str = "F",
    age: int = 70,
    stay: int = 3,
) -> Encounter:
    patient = Patient.objects.create(
        mrn=f"R{Patient.objects.count() + 1}",
        first_name="Rule",
        last_name="Case",
        birth_date=dt.date(dos.year - age - 1, 12, 31),
        sex=sex,
    )
    encounter = Encounter.objects.create(
        patient=patient,
        type=type,
        facility="General",
        admit_date=dos - dt.timedelta(days=stay if type == "inpatient" else 0),
        discharge_date=dos if type == "inpatient" else None,
        discharge_status="01",
        status=Encounter.Status.SUBMITTED,
    )
    for n, (code, poa) in enumerate(dx, start=1):
        Diagnosis.objects.create(
            encounter=encounter, sequence=n, code=normalize_code(code), poa=poa
        )
    for n, line in enumerate(px, start=1):
        system, code, *rest = line
        modifiers = rest[0] if rest else []
        units = rest[1] if len(rest) > 1 else 1
        Procedure.objects.create(
            encounter=encounter,
            sequence=n,
            system=system,
            code=normalize_code(code),
            date=rest[2] if len(rest) > 2 else dos,
            modifiers=modifiers,
            units=units,
        )
    return encounter


def _rules(encounter: Encounter) -> dict[str, list[list[str]]]:
    audit_encounters(encounter_ids=[encounter.id], trigger="batch")
    out: dict[str, list[list[str]]] = {}
    for f in encounter.findings.all():
        out.setdefault(f.rule, []).append(list(f.codes))
    return out


def test_code_invalid_on_dos(code_sets):
    release_import_now(
        path=FIXTURES / "icd10cm" / "tabular_fy2026_april.xml",
        activate=True,
        effective_from=dt.date(2026, 10, 1),
    )
    # A00.0 only exists from 2026-10-01 (the later release); J18.9 is valid.
    rules = _rules(_encounter([("J18.9", "Y"), ("A00.0", "Y")]))
    assert rules["code-invalid-on-dos"] == [["A00.0"]]
    assert "code-invalid-on-dos" not in _rules(_encounter([("J18.9", "Y")]))


def test_code_not_billable(code_sets):
    assert _rules(_encounter([("J18", "Y")]))["code-not-billable"] == [["J18"]]
    assert "code-not-billable" not in _rules(_encounter([("J18.9", "Y")]))


def test_seventh_character_missing_wrong_or_without_placeholder(code_sets):
    rules = _rules(
        _encounter(
            [("S72.001", "Y"), ("S72.001Z", "Y"), ("W19A", "Y"), ("S72.001A", "Y")]
        )
    )
    assert sorted(rules["seventh-character"]) == [["S72.001"], ["S72.001Z"], ["W19.A"]]
    # Neither also reported as a plain header or an unknown code.
    assert ["S72.001"] not in rules.get("code-not-billable", [])
    assert "code-invalid-on-dos" not in rules
    assert "seventh-character" not in _rules(_encounter([("S72.001A", "Y")]))


def test_mce_age_conflict(code_sets):
    # O80 (encounter for full-term delivery) at 70.
    assert _rules(_encounter([("J18.9", "Y"), ("O80", "Y")], age=70))[
        "mce-age-conflict"
    ] == [["O80"]]
    assert "mce-age-conflict" not in _rules(
        _encounter([("J18.9", "Y"), ("O80", "Y")], age=30)
    )


def test_mce_sex_conflict_before_cms_retired_it(code_sets):
    # Sex-conflict edits apply to discharges before 2024-10-01 only.
    before = _encounter([("J18.9", "Y"), ("N40.0", "Y")], dos=dt.date(2024, 6, 1))
    assert _rules(before)["mce-sex-conflict"] == [["N40.0"]]
    after = _encounter([("J18.9", "Y"), ("N40.0", "Y")], dos=dt.date(2026, 6, 1))
    assert "mce-sex-conflict" not in _rules(after)


def test_mce_manifestation_as_principal(code_sets):
    assert _rules(_encounter([("G63", "Y"), ("E87.1", "Y")]))[
        "mce-manifestation-principal"
    ] == [["G63"]]
    assert "mce-manifestation-principal" not in _rules(
        _encounter([("E87.1", "Y"), ("G63", "Y")])
    )


def test_mce_unacceptable_principal(code_sets):
    assert _rules(_encounter([("Z87.891", "")]))["mce-unacceptable-principal"] == [
        ["Z87.891"]
    ]
    assert "mce-unacceptable-principal" not in _rules(
        _encounter([("J18.9", "Y"), ("Z87.891", "")])
    )


def test_mce_external_cause_as_principal(code_sets):
    assert _rules(_encounter([("W19.XXXA", "Y")]))["mce-external-cause-principal"] == [
        ["W19.XXXA"]
    ]
    assert "mce-external-cause-principal" not in _rules(
        _encounter([("S72.001A", "Y"), ("W19.XXXA", "Y")])
    )


def test_mce_questionable_admission(code_sets):
    assert _rules(_encounter([("I10", "Y")]))["mce-questionable-admission"] == [["I10"]]
    assert "mce-questionable-admission" not in _rules(
        _encounter([("J18.9", "Y"), ("I10", "Y")])
    )


def test_mce_other_says_when_the_package_has_no_edits_for_the_date(code_sets):
    late = _encounter([("J18.9", "Y")], dos=dt.date(2027, 5, 1))
    [codes] = _rules(late)["mce-other"]
    assert codes == []
    assert "needs updating" in late.findings.get(rule="mce-other").message
    assert "mce-other" not in _rules(_encounter([("J18.9", "Y")]))


def test_mce_only_for_inpatient_claims(code_sets):
    assert "mce-questionable-admission" not in _rules(
        _encounter([("I10", "")], type="outpatient")
    )


def test_mce_procedure_los(code_sets):
    # Ventilation > 96 consecutive hours in a 3-day stay cannot be; in 5 days it can,
    # and 24-96 hours (5A1945Z) fits a 3-day stay.
    short = _encounter([("J96.01", "Y")], [("icd10pcs", "5A1955Z")], stay=3)
    assert _rules(short)["mce-procedure-los"] == [["5A1955Z"]]
    finding = short.findings.get(rule="mce-procedure-los")
    assert finding.severity == "error" and "3 day(s)" in finding.message
    long = _encounter([("J96.01", "Y")], [("icd10pcs", "5A1955Z")], stay=5)
    assert "mce-procedure-los" not in _rules(long)
    shorter = _encounter([("J96.01", "Y")], [("icd10pcs", "5A1945Z")], stay=3)
    assert "mce-procedure-los" not in _rules(shorter)


def test_excludes1(code_sets):
    # E11 (type 2 diabetes) says Excludes1 type 1 diabetes (E10.-).
    rules = _rules(_encounter([("J18.9", "Y"), ("E11.9", "Y"), ("E10.9", "Y")]))
    assert rules["excludes1"] == [["E11.9", "E10.9"]]
    assert "excludes1" not in _rules(_encounter([("E11.9", "Y"), ("I10", "Y")]))


def test_excludes1_with_a_subcategory_qualifier(code_sets):
    # G63 excludes "diabetes mellitus (E08-E13 with .42)": E11.42 yes, E11.9 no.
    assert "excludes1" in _rules(
        _encounter([("E87.1", "Y"), ("G63", "Y"), ("E11.42", "Y")])
    )
    assert "excludes1" not in _rules(
        _encounter([("E87.1", "Y"), ("G63", "Y"), ("E11.9", "Y")])
    )


def test_code_first(code_sets):
    # G63 (polyneuropathy in diseases classified elsewhere): code first the
    # underlying disease, e.g. a metabolic disease (E70-E88).
    assert _rules(_encounter([("J18.9", "Y"), ("G63", "Y")]))["code-first"] == [["G63"]]
    assert "code-first" not in _rules(_encounter([("E87.1", "Y"), ("G63", "Y")]))
    # A conditional "code first, if applicable" note (A41) is not enforced.
    assert "code-first" not in _rules(_encounter([("A41.9", "Y")]))


def test_code_first_such_as_lists_are_examples_not_the_whole_list(code_sets):
    # R65.2 "code first underlying infection, such as: ... sepsis NOS (A41.9)":
    # E. coli sepsis (A41.51) sequenced first is the underlying infection.
    for severe in ("R65.20", "R65.21"):
        rules = _rules(_encounter([("A41.51", "Y"), (severe, "Y"), ("N17.9", "Y")]))
        assert "code-first" not in rules, severe
    # Pneumonia is a localized infection: severe sepsis needs the systemic
    # infection code first (Guidelines I.C.1.d.4), and nothing of the examples'
    # chapters is sequenced before it.
    encounter = _encounter([("J18.9", "Y"), ("R65.20", "Y"), ("N17.9", "Y")])
    assert _rules(encounter)["code-first"] == [["R65.20"]]
    message = encounter.findings.get(rule="code-first").message
    assert "e.g." in message and "A41.9" in message
    # Sequenced after the manifestation it does not count.
    rules = _rules(_encounter([("R65.20", "Y"), ("A41.51", "Y"), ("N17.9", "Y")]))
    assert rules["code-first"] == [["R65.20"]]


def test_use_additional_code_each_note_is_its_own_requirement(code_sets):
    # E11.22 says "use additional code to identify stage of chronic kidney disease
    # (N18.1-N18.6)"; its category E11 asks for the drugs (Z79.4 ...). Z79.4 does
    # not meet the first.
    encounter = _encounter([("E11.22", "Y"), ("Z79.4", "")])
    assert _rules(encounter)["use-additional-code"] == [["E11.22"]]
    finding = encounter.findings.get(rule="use-additional-code")
    assert finding.severity == "info"
    assert "stage of chronic kidney disease" in finding.message
    assert "N18.1-N18.6" in finding.message
    assert "E11.22" in finding.reference
    assert "use-additional-code" not in _rules(
        _encounter([("E11.22", "Y"), ("N18.4", "Y"), ("Z79.4", "")])
    )
    # N39.0: "use additional code (B95-B97), to identify infectious agent".
    encounter = _encounter([("N39.0", "Y")])
    assert _rules(encounter)["use-additional-code"] == [["N39.0"]]
    assert "B95-B97" in encounter.findings.get(rule="use-additional-code").message
    assert "use-additional-code" not in _rules(
        _encounter([("N39.0", "Y"), ("B96.20", "Y")])
    )


def test_use_additional_code_stays_quiet_on_conditional_and_closed_lists(code_sets):
    # E11 "code to identify control using: insulin (Z79.4), oral ... (Z79.84)" is
    # a closed list: diet-controlled diabetes has none, so its absence proves
    # nothing. N18 "code, if applicable, to identify: ..." is conditional.
    assert "use-additional-code" not in _rules(
        _encounter([("E11.9", "Y")], type="professional")
    )
    assert "use-additional-code" not in _rules(
        _encounter([("I10", "Y"), ("N18.30", "Y")], type="professional")
    )


def test_use_additional_code_such_as_list(code_sets):
    # R65.2 "use additional code to identify specific acute organ dysfunction,
    # such as: acute kidney failure (N17.-) ..."
    encounter = _encounter([("A41.9", "Y"), ("R65.20", "Y")])
    assert _rules(encounter)["use-additional-code"] == [["R65.20"]]
    message = encounter.findings.get(rule="use-additional-code").message
    assert "acute organ dysfunction (e.g. N17.-" in message
    assert "use-additional-code" not in _rules(
        _encounter([("A41.9", "Y"), ("R65.20", "Y"), ("J96.01", "Y")])
    )


def test_duplicate_code(code_sets):
    assert _rules(_encounter([("J18.9", "Y"), ("E87.1", "Y"), ("J18.9", "Y")]))[
        "duplicate-code"
    ] == [["J18.9"]]
    assert "duplicate-code" not in _rules(_encounter([("J18.9", "Y"), ("E87.1", "Y")]))


def test_poa_missing(code_sets):
    rules = _rules(
        _encounter([("J18.9", "Y"), ("E87.1", ""), ("Z79.4", ""), ("I10", "1")])
    )
    assert sorted(rules["poa-missing"]) == [["E87.1"], ["I10"]]  # Z79.4 is exempt
    assert "poa-missing" not in _rules(_encounter([("J18.9", "")], type="outpatient"))


@pytest.fixture
def edit_tables(code_sets):
    for name in ("ptp_practitioner.txt", "ptp_hospital.txt", "mue_practitioner.csv"):
        release_import_now(
            path=FIXTURES / "ncci" / name,
            activate=True,
            effective_from=dt.date(1996, 1, 1),
        )


def test_ncci_ptp(edit_tables):
    # 93000/93005 (indicator 0): never together. 11042/97597 (indicator 1): only
    # with a modifier such as 59.
    rules = _rules(
        _encounter(
            [("J18.9", "")],
            [("cpt", "93000"), ("cpt", "93005"), ("cpt", "11042"), ("cpt", "97597")],
            type="professional",
        )
    )
    assert sorted(rules["ncci-ptp"]) == [["11042", "97597"], ["93000", "93005"]]
    fine = _encounter(
        [("J18.9", "")],
        [("cpt", "11042"), ("cpt", "97597", ["59"]), ("cpt", "99213")],
        type="professional",
    )
    assert "ncci-ptp" not in _rules(fine)


def test_mue_units(edit_tables):
    # 11042: MUE 1, line edit. 36415: MUE 2 per date (clinical: a warning).
    rules = _rules(
        _encounter(
            [("J18.9", "")],
            [
                ("cpt", "11042", [], 2),
                ("cpt", "36415", [], 2),
                ("cpt", "36415", ["91"], 1),
            ],
            type="professional",
        )
    )
    assert sorted(rules["mue-units"]) == [["11042"], ["36415"]]
    ok = _encounter([("J18.9", "")], [("cpt", "11042", [], 1)], type="professional")
    assert "mue-units" not in _rules(ok)


def test_procedure_system_mismatch(code_sets):
    rules = _rules(_encounter([("J18.9", "Y")], [("cpt", "99223")]))
    assert rules["procedure-system-mismatch"] == [["99223"]]
    rules = _rules(
        _encounter([("K35.80", "")], [("icd10pcs", "0DTJ4ZZ")], type="outpatient")
    )
    assert rules["procedure-system-mismatch"] == [["0DTJ4ZZ"]]
    assert "procedure-system-mismatch" not in _rules(
        _encounter([("K35.80", "Y")], [("icd10pcs", "0DTJ4ZZ")])
    )


def test_a_clean_encounter_has_no_error_or_warning(code_sets):
    encounter = _encounter([("J18.9", "Y"), ("E87.1", "Y"), ("I10", "Y")])
    _rules(encounter)
    assert not encounter.findings.exclude(severity="info").exists()


def test_procedure_date_outside_stay(code_sets):
    # Admitted 2026-05-11, discharged 2026-05-14.
    rules = _rules(
        _encounter(
            [("K35.80", "Y")],
            [
                ("icd10pcs", "0DTJ4ZZ", [], 1, dt.date(2026, 5, 9)),
                ("icd10pcs", "5A1945Z", [], 1, dt.date(2026, 5, 15)),
            ],
        )
    )
    assert sorted(rules["procedure-date-outside-stay"]) == [["0DTJ4ZZ"], ["5A1945Z"]]
    inside = _encounter(
        [("K35.80", "Y")], [("icd10pcs", "0DTJ4ZZ", [], 1, dt.date(2026, 5, 11))]
    )
    assert "procedure-date-outside-stay" not in _rules(inside)
    # A visit: any date but the date of service is outside it.
    visit = _encounter(
        [("J18.9", "")],
        [("hcpcs", "G0101", [], 1, DOS - dt.timedelta(days=1))],
        type="outpatient",
    )
    assert _rules(visit)["procedure-date-outside-stay"] == [["G0101"]]


@pytest.fixture
def hcpcs(code_sets):
    """HCPCS Level II (the 2020 file's cut), in force from 2026-01-01 here."""
    return release_import_now(
        path=FIXTURES / "hcpcs" / "HCPC2020_ANWEB_w_disclaimer_cut.txt",
        system="hcpcs",
        activate=True,
        effective_from=dt.date(2026, 1, 1),
    )


def test_invalid_modifier_is_code_invalid_on_dos(hcpcs):
    # TC is valid; GD was discontinued 2019-12-31; ZZ is no modifier at all.
    rules = _rules(
        _encounter(
            [("J18.9", "")],
            [("hcpcs", "G0101", ["TC"]), ("hcpcs", "G0118", ["GD", "ZZ"])],
            type="outpatient",
        )
    )
    assert sorted(rules["code-invalid-on-dos"]) == [["G0118", "GD"], ["G0118", "ZZ"]]
    fine = _encounter([("J18.9", "")], [("hcpcs", "G0101", ["TC"])], type="outpatient")
    assert "code-invalid-on-dos" not in _rules(fine)


def test_cpt_modifiers_are_not_judged_against_the_hcpcs_list(hcpcs):
    # 59 and 25 are CPT (Level I) modifiers: the HCPCS Level II file never lists them,
    # so they must not read as "not in the HCPCS modifier list" (the case book's
    # PR01/PR04 caught this on the commonest NCCI bypass modifier).
    visit = _encounter(
        [("J18.9", "")], [("hcpcs", "G0101", ["59", "25", "TC"])], type="outpatient"
    )
    assert "code-invalid-on-dos" not in _rules(visit)


def test_cpt_or_hcpcs_code_on_a_date_no_release_covers(hcpcs):
    # No CPT release is loaded; HCPCS is in force from 2026-01-01 only.
    rules = _rules(
        _encounter(
            [("J18.9", "")],
            [("cpt", "99213"), ("hcpcs", "G0101")],
            type="professional",
            dos=dt.date(2025, 12, 1),
        )
    )
    assert sorted(rules["code-invalid-on-dos"]) == [["99213"], ["G0101"]]


def test_nothing_stored_invalid_at_entry_is_ever_final(hcpcs, supervisor, settings):
    """Every line the encounter API stores as invalid (the coding form's checks)
    is named by an error finding of the audit, so the encounter cannot go final."""
    settings.AUDIT_SAMPLE_RATE = 0
    visit = pneumonia_payload(
        type="outpatient",
        admit_date="2026-05-14",
        discharge_date=None,
        diagnoses=[{"code": "J18.9", "poa": ""}, {"code": "J18", "poa": ""}],
        procedures=[
            # dated the day before the visit
            {"system": "hcpcs", "code": "G0101", "date": "2026-05-13"},
            # a discontinued modifier, an unknown one
            {"system": "hcpcs", "code": "G0118", "date": "2026-05-14",
             "modifiers": ["GD", "ZZ"]},
            # no CPT release is loaded
            {"system": "cpt", "code": "99213", "date": "2026-05-14"},
            # ICD-10-PCS on an outpatient claim
            {"system": "icd10pcs", "code": "0DTJ4ZZ", "date": "2026-05-14"},
        ],
    )  # fmt: skip
    stay = pneumonia_payload(
        patient={**pneumonia_payload()["patient"], "mrn": "B7"},
        procedures=[
            # before admission (2026-05-10)
            {"system": "icd10pcs", "code": "0DTJ4ZZ", "date": "2026-05-09"},
            # HCPCS on an inpatient facility claim
            {"system": "hcpcs", "code": "G0101", "date": "2026-05-12"},
        ],
    )
    api = APIClient()
    api.force_authenticate(supervisor)
    for body in (visit, stay):
        response = api.post("/api/v1/encounters/", body, format="json")
        assert response.status_code == 201, response.json()
        encounter = Encounter.objects.get(id=response.json()["id"])
        invalid = [
            *encounter.diagnoses.filter(valid=False),
            *encounter.procedures.filter(valid=False),
        ]
        assert len(invalid) >= 2
        Encounter.objects.filter(id=encounter.id).update(status="submitted")
        audit_encounters(encounter_ids=[encounter.id], trigger="submit")
        encounter.refresh_from_db()
        assert encounter.status == "returned"
        named = {
            code
            for f in encounter.findings.filter(severity="error")
            for code in f.codes
        }
        for line in invalid:
            assert line.display in named, (line.display, line.message)


def test_info_findings_never_open_a_review(code_sets, settings):
    """N39.0 without its organism: an info finding only. At submit the encounter
    goes final; a batch over a final encounter leaves it final."""
    settings.AUDIT_SAMPLE_RATE = 0
    encounter = _encounter([("N39.0", "Y"), ("E87.1", "Y")])
    audit_encounters(encounter_ids=[encounter.id], trigger="submit")
    encounter.refresh_from_db()
    assert encounter.status == "final"
    assert set(encounter.findings.values_list("severity", flat=True)) == {"info"}
    audit_encounters(encounter_ids=[encounter.id], trigger="batch")
    encounter.refresh_from_db()
    assert encounter.status == "final"
