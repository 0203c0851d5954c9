"""The guideline edits (combination-code, symptom-principal, symptom-integral): each
row of their tables fires on a chart coded the way the guideline forbids, and the
chart coded the way the guideline asks comes out with no warning or error at all.

The cases are written from the Official Guidelines and the tabular, one per row (a
row without its case fails its test); they go through the audit job's engine, and a
few through the API a coder uses.
"""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from codesets.models import normalize_code
from encounters.audit.engine import audit_encounters
from encounters.audit.guideline_edits import COMBINATIONS, SYMPTOMS
from encounters.models import Diagnosis, Encounter, Finding, Patient
from encounters.services import encounter_claim
from tests.encounters.conftest import pneumonia_payload

pytestmark = pytest.mark.django_db

DOS = dt.date(2026, 5, 14)

# row key -> (chart as coded, the finding's codes, what the message must say,
#             the chart coded as the guideline asks)
COMBINATION_CASES: dict[str, tuple[list[str], list[str], str, list[str]]] = {
    "hypertension-included": (
        ["I11.0", "I50.23", "I10"],
        ["I10", "I11.0"],
        "remove I10",
        ["I11.0", "I50.23"],
    ),
    "hypertensive-heart-or-kidney-with-both": (
        ["I13.0", "I50.23", "N18.4", "I12.9"],
        ["I12.9", "I13.0"],
        "remove I12.9",
        ["I13.0", "I50.23", "N18.4"],
    ),
    "hypertension-heart-failure-ckd": (
        ["I50.23", "I10", "N18.4"],
        ["I10", "I50.23", "N18.4"],
        "code I13.0 in place of I10",
        ["I13.0", "I50.23", "N18.4"],
    ),
    "hypertension-heart-disease-ckd": (
        ["N18.4", "I10", "I51.9"],
        ["I10", "I51.9", "N18.4"],
        "code I13.10 in place of I10 and I51.9",
        ["I13.10", "N18.4"],
    ),
    "hypertensive-heart-and-kidney": (
        ["I11.0", "I50.23", "I12.9", "N18.4"],
        ["I11.0", "I12.9"],
        "code I13.0 in place of I11.0 and I12.9",
        ["I13.0", "I50.23", "N18.4"],
    ),
    "hypertensive-heart-disease-ckd": (
        ["I11.0", "I50.23", "N18.6"],
        ["I11.0", "N18.6"],
        "code I13.2 in place of I11.0",
        ["I13.2", "I50.23", "N18.6"],
    ),
    "hypertensive-ckd-heart-failure": (
        ["I50.23", "I12.0", "N18.6"],
        ["I12.0", "I50.23"],
        "code I13.2 in place of I12.0",
        ["I13.2", "I50.23", "N18.6"],
    ),
    "hypertensive-ckd-heart-disease": (
        ["I12.9", "N18.30", "I51.9"],
        ["I12.9", "I51.9"],
        "code I13.10 in place of I12.9 and I51.9",
        ["I13.10", "N18.30"],
    ),
    "hypertension-heart-failure": (
        ["I50.23", "I10"],
        ["I10", "I50.23"],
        "code I11.0 in place of I10",
        ["I11.0", "I50.23"],
    ),
    "hypertension-heart-disease": (
        ["J18.9", "I10", "I51.9"],
        ["I10", "I51.9"],
        "code I11.9 in place of I10 and I51.9",
        ["J18.9", "I11.9"],
    ),
    "hypertension-ckd": (
        ["N18.4", "I10"],
        ["I10", "N18.4"],
        "code I12.9 in place of I10",
        ["I12.9", "N18.4"],
    ),
    "hypertensive-heart-disease-included": (
        ["J18.9", "I11.9", "I51.9"],
        ["I11.9", "I51.9"],
        "remove I51.9",
        ["J18.9", "I11.9"],
    ),
    "hypertensive-heart-disease-heart-failure": (
        ["I11.9", "I50.23"],
        ["I11.9", "I50.23"],
        "code I11.0 in place of I11.9",
        ["I11.0", "I50.23"],
    ),
    "hypertensive-ckd-stage": (
        ["I12.9", "N18.6"],
        ["I12.9", "N18.6"],
        "code I12.0 in place of I12.9",
        ["I12.0", "N18.6"],
    ),
    "hypertensive-heart-ckd-stage": (
        ["I13.0", "I50.23", "N18.6"],
        ["I13.0", "N18.6"],
        "code I13.2 in place of I13.0",
        ["I13.2", "I50.23", "N18.6"],
    ),
    "diabetes-ckd": (
        ["J18.9", "E11.9", "N18.4"],
        ["E11.9", "N18.4"],
        "code E11.22 in place of E11.9",
        ["J18.9", "E11.22", "N18.4"],
    ),
    "diabetes-complication-ckd": (
        ["E11.65", "N18.4"],
        ["E11.65", "N18.4"],
        "add E11.22, sequenced before N18.4",
        ["E11.65", "E11.22", "N18.4"],
    ),
    "diabetes-polyneuropathy": (
        ["J18.9", "E11.9", "G62.9"],
        ["E11.9", "G62.9"],
        "code E11.42 in place of E11.9 and G62.9",
        ["J18.9", "E11.42"],
    ),
    "diabetes-gastroparesis": (
        ["E11.9", "K31.84"],
        ["E11.9", "K31.84"],
        "code E11.43 in place of E11.9",
        ["E11.43", "K31.84"],
    ),
    "diabetes-peripheral-angiopathy": (
        ["J18.9", "E11.9", "I73.9"],
        ["E11.9", "I73.9"],
        "code E11.51 in place of E11.9 and I73.9",
        ["J18.9", "E11.51"],
    ),
    "diabetes-foot-ulcer": (
        ["E11.9", "L97.519"],
        ["E11.9", "L97.519"],
        "code E11.621 in place of E11.9",
        ["E11.621", "L97.519"],
    ),
    "diabetes-hypoglycemia": (
        ["E11.9", "E16.2"],
        ["E11.9", "E16.2"],
        "code E11.649 in place of E11.9 and E16.2",
        ["E11.649"],
    ),
    "diabetes-without-complications": (
        ["E11.65", "E11.9"],
        ["E11.9", "E11.65"],
        "remove E11.9",
        ["E11.65"],
    ),
}

# row key -> (symptom, the definitive diagnosis that explains it)
SYMPTOM_CASES: dict[str, tuple[str, str]] = {
    "chest-pain-acute-coronary": ("R07.9", "I21.4"),
    "chest-pain-reflux": ("R07.9", "K21.9"),
    "abdominal-pain-appendicitis": ("R10.31", "K35.80"),
    "abdominal-pain-pancreatitis": ("R10.13", "K85.90"),
    "abdominal-pain-cholecystitis": ("R10.11", "K81.0"),
    "nausea-vomiting-abdominal": ("R11.2", "K35.80"),
    "nausea-vomiting-gastroenteritis": ("R11.2", "A08.4"),
    "diarrhea-intestinal-infection": ("R19.7", "A04.72"),
    "fever-pneumonia-influenza": ("R50.9", "J18.9"),
    "fever-sepsis": ("R50.9", "A41.9"),
    "cough-respiratory-infection": ("R05.9", "J20.9"),
    "dyspnea-heart-failure": ("R06.02", "I50.23"),
    "dyspnea-chronic-heart-failure": ("R06.02", "I50.22"),
    "dyspnea-copd-asthma-exacerbation": ("R06.02", "J44.1"),
    "dyspnea-pulmonary-embolism": ("R06.02", "I26.94"),
    "dyspnea-pneumonia": ("R06.02", "J18.9"),
    "dysuria-cystitis": ("R30.0", "N30.00"),
    "altered-mental-status-encephalopathy": ("R41.82", "G93.41"),
}


def _encounter(
    codes: list[str] | list[tuple[str, str]], *, type: str = "inpatient"
) -> Encounter:
    patient = Patient.objects.create(
        mrn=f"G{Patient.objects.count() + 1}",
        first_name="Guide",
        last_name="Line",
        birth_date=dt.date(1955, 3, 2),
        sex="F",
    )
    encounter = Encounter.objects.create(
        patient=patient,
        type=type,
        facility="General",
        admit_date=DOS - dt.timedelta(days=3 if type == "inpatient" else 0),
        discharge_date=DOS if type == "inpatient" else None,
        discharge_status="01",
        status=Encounter.Status.SUBMITTED,
    )
    for n, item in enumerate(codes, start=1):
        code, poa = item if isinstance(item, tuple) else (item, "Y")
        Diagnosis.objects.create(
            encounter=encounter,
            sequence=n,
            code=normalize_code(code),
            poa=poa if type == "inpatient" else "",
        )
    return encounter


def _audit(encounter: Encounter) -> list[Finding]:
    audit_encounters(encounter_ids=[encounter.id], trigger="batch")
    return list(encounter.findings.all())


def _of(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def _alarms(findings: list[Finding]) -> list[tuple[str, list[str]]]:
    return [(f.rule, f.codes) for f in findings if f.severity in ("warning", "error")]


# --- combination-code ----------------------------------------------------------------


@pytest.mark.parametrize("key", [row.key for row in COMBINATIONS])
def test_each_combination_row_fires_and_its_correct_coding_is_clean(code_sets, key):
    coded, codes, says, correct = COMBINATION_CASES[key]
    found = _of(_audit(_encounter(coded)), "combination-code")
    assert [f.codes for f in found] == [codes]
    assert found[0].severity == "warning"
    assert says in found[0].message
    assert found[0].reference.startswith("ICD-10-CM Official Guidelines")
    assert _alarms(_audit(_encounter(correct))) == []


def test_hypertension_with_heart_failure_says_what_it_does_to_the_drg(code_sets):
    (finding,) = _of(_audit(_encounter(["I50.23", "I10"])), "combination-code")
    assert "MS-DRG 293 as coded, 291 once corrected" in finding.message
    assert "unless the provider documents that the conditions are unrelated" in (
        finding.message
    )
    assert "I.C.9.a.1" in finding.reference


def test_diabetes_with_ckd_follows_the_type_of_diabetes(code_sets):
    (finding,) = _of(_audit(_encounter(["E10.9", "N18.4"])), "combination-code")
    assert "code E10.22 in place of E10.9" in finding.message
    assert 'I.A.15 "With"' in finding.reference


def test_diabetes_entered_as_its_category_with_ckd(code_sets):
    found = _audit(_encounter(["J18.9", "E11", "N18.4"]))
    assert [f.codes for f in _of(found, "code-not-billable")] == [["E11"]]
    (finding,) = _of(found, "combination-code")
    assert "code E11.22 in place of E11" in finding.message


def test_one_mistake_one_suggestion_of_e11_22(code_sets):
    found = _of(_audit(_encounter(["E11.9", "E11.65", "N18.4"])), "combination-code")
    assert [f.codes for f in found] == [["E11.9", "N18.4"]]
    assert "code E11.22 in place of E11.9" in found[0].message


def test_hypertension_heart_failure_and_ckd_is_one_finding_for_i13(code_sets):
    found = _of(_audit(_encounter(["I10", "I50.23", "N18.6"])), "combination-code")
    assert len(found) == 1
    assert "code I13.2 in place of I10" in found[0].message


@pytest.mark.parametrize(
    "coded",
    [
        pytest.param(["I10", "N17.9"], id="acute-kidney-injury-is-not-ckd"),
        pytest.param(["I10", "I25.10"], id="coronary-disease-is-not-in-i11"),
        pytest.param(["E11.9", "N17.9"], id="diabetes-with-aki"),
        pytest.param(["E11.22", "N18.4", "I12.9"], id="diabetic-and-hypertensive-ckd"),
        pytest.param(
            ["E11.9", "L97.519", "I70.235"], id="foot-ulcer-with-atherosclerosis"
        ),
        pytest.param(["E10.9", "E11.65"], id="two-types-are-not-this-row"),
        pytest.param(
            ["E11.65", "E11.21", "N18.4"], id="a-diabetic-kidney-code-is-there"
        ),
    ],
)
def test_combination_code_stays_quiet_where_the_codes_do_not_presume_a_link(
    code_sets, coded
):
    assert _of(_audit(_encounter(coded)), "combination-code") == []


# --- symptom-principal and symptom-integral ---------------------------------------------


@pytest.mark.parametrize("key", [row.key for row in SYMPTOMS])
def test_each_symptom_row_as_principal_and_as_secondary(code_sets, key):
    symptom, definitive = SYMPTOM_CASES[key]
    row = next(r for r in SYMPTOMS if r.key == key)
    # The symptom as principal beside the diagnosis that explains it.
    principal = _of(_audit(_encounter([symptom, definitive])), "symptom-principal")
    if row.principal:
        (finding,) = principal
        assert finding.codes == [symptom, definitive]
        assert finding.severity == "warning"
        assert f"sequence {definitive} first" in finding.message
        assert "Section II.A" in finding.reference
    else:  # belongs to the condition, but need not be what brought the patient in
        assert principal == []
    # After the diagnosis: an integral symptom is info (remove it), a related one
    # that is not routine stands.
    found = _audit(_encounter([definitive, symptom]))
    integral = _of(found, "symptom-integral")
    if row.integral:
        assert [(f.codes, f.severity) for f in integral] == [
            ([symptom, definitive], "info")
        ]
        assert "Remove it unless" in integral[0].message
    else:
        assert integral == []
    assert _alarms(found) == []
    # The diagnosis alone: nothing to say.
    assert _alarms(_audit(_encounter([definitive]))) == []


def test_fever_principal_beside_pneumonia_says_the_drg(code_sets):
    (finding,) = _of(_audit(_encounter(["R50.9", "J18.9"])), "symptom-principal")
    assert "MS-DRG 864 as coded, 195 once corrected" in finding.message


def test_a_symptom_first_listed_in_the_emergency_department(code_sets):
    found = _audit(_encounter(["R10.31", "K35.80"], type="emergency"))
    (finding,) = _of(found, "symptom-principal")
    assert "first-listed" in finding.message
    assert "Section IV.D" in finding.reference
    assert "MS-DRG" not in finding.message


@pytest.mark.parametrize(
    "coded",
    [
        pytest.param(["R07.9", "I10", "E78.5"], id="chest-pain-without-a-diagnosis"),
        pytest.param(
            ["R07.9", "I25.10"], id="chronic-coronary-disease-explains-nothing"
        ),
        pytest.param(["R10.11", "K80.20"], id="gallstones-without-cholecystitis"),
        pytest.param(
            ["R06.02", "I50.23", "J44.1"], id="contrasting-diagnoses-section-ii-e"
        ),
        pytest.param(
            ["R07.9", "K21.9", "I20.9"], id="chest-pain-gerd-versus-angina-ii-d"
        ),
        pytest.param([("R50.9", "Y"), ("J18.9", "N")], id="pneumonia-not-poa"),
    ],
)
def test_symptom_principal_stays_quiet_without_one_explaining_diagnosis(
    code_sets, coded
):
    assert _of(_audit(_encounter(coded)), "symptom-principal") == []


def test_a_symptom_present_on_admission_is_not_part_of_a_condition_acquired_later(
    code_sets,
):
    found = _audit(_encounter([("S72.001A", "Y"), ("R50.9", "Y"), ("J18.9", "N")]))
    assert _of(found, "symptom-integral") == []


# --- through the API ---------------------------------------------------------------------


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _submitted_through_api(supervisor, coder, diagnoses: list[dict]) -> dict:
    """Created by a feed, coded and submitted by the coder, audited by the job the
    submit starts; what the coder then reads."""
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(diagnoses=diagnoses), format="json"
    )
    assert created.status_code == 201, created.json()
    encounter_id = created.json()["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    url = f"/api/v1/encounters/{encounter_id}/"
    version = _api(coder).get(url).json()["version"]
    response = _api(coder).post(f"{url}submit/", {"version": version}, format="json")
    assert response.status_code == 202
    audit_encounters(encounter_ids=[encounter_id], trigger="submit")
    return _api(coder).get(url).json()


def test_api_hypertension_with_heart_failure_goes_to_review_with_its_drg(
    code_sets, supervisor, coder, settings
):
    settings.AUDIT_SAMPLE_RATE = 0
    body = _submitted_through_api(
        supervisor, coder, [{"code": "I50.23", "poa": "Y"}, {"code": "I10", "poa": "Y"}]
    )
    assert body["status"] == "in_review"
    assert body["drg"]["drg"] == 293
    (finding,) = [f for f in body["findings"] if f["rule"] == "combination-code"]
    assert finding["severity"] == "warning"
    assert finding["codes"] == ["I10", "I50.23"]
    assert "code I11.0 in place of I10" in finding["message"]
    assert "MS-DRG 293 as coded, 291 once corrected" in finding["message"]


def test_api_the_corrected_heart_failure_coding_is_final_without_findings(
    code_sets, supervisor, coder, settings
):
    settings.AUDIT_SAMPLE_RATE = 0
    body = _submitted_through_api(
        supervisor,
        coder,
        [{"code": "I11.0", "poa": "Y"}, {"code": "I50.23", "poa": "Y"}],
    )
    assert body["status"] == "final"
    assert body["drg"]["drg"] == 291
    assert [f for f in body["findings"] if f["severity"] != "info"] == []


def test_api_fever_as_principal_beside_pneumonia(
    code_sets, supervisor, coder, settings
):
    settings.AUDIT_SAMPLE_RATE = 0
    body = _submitted_through_api(
        supervisor,
        coder,
        [
            {"code": "R50.9", "poa": "Y"},
            {"code": "J18.9", "poa": "Y"},
            {"code": "R05.9", "poa": "Y"},
        ],
    )
    assert body["status"] == "in_review"
    rules = {f["rule"]: f for f in body["findings"]}
    assert rules["symptom-principal"]["codes"] == ["R50.9", "J18.9"]
    assert rules["symptom-integral"]["codes"] == ["R05.9", "J18.9"]
    assert rules["symptom-integral"]["severity"] == "info"
