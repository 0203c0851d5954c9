"""FHIR in, FHIR Claim and X12 837 out (issue 17)."""

from __future__ import annotations

import base64

import pytest
from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework.test import APIClient

from encounters.interop.models import SourceEncounter
from encounters.models import ChartAccess, CodingChange, Encounter, Patient
from tests.encounters.conftest import pneumonia_payload
from tests.encounters.interop_cases import (
    CPT,
    HCPCS,
    ICD10CM,
    INPATIENT,
    NOTE,
    OUTPATIENT,
    PROFESSIONAL,
    inpatient_bundle,
    without,
    x12_valid,
)

pytestmark = pytest.mark.django_db

FHIR = "application/fhir+json"


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _post(api: APIClient, bundle: dict):
    return api.post("/api/v1/fhir/", bundle, format="json")


def _nothing_written() -> None:
    assert Encounter.objects.count() == 0
    assert Patient.objects.count() == 0
    assert SourceEncounter.objects.count() == 0
    assert CodingChange.objects.count() == 0


def _outcome(response, status: int) -> list[dict]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(FHIR)
    body = response.json()
    OperationOutcome.model_validate(body)
    return body["issue"]


# --- FHIR in -----------------------------------------------------------------


def test_a_bundle_creates_the_encounter_as_entered(code_sets, supervisor):
    response = _post(_api(supervisor), inpatient_bundle())
    assert response.status_code == 201, response.content
    assert response.json()["type"] == "transaction-response"
    encounter_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    detail = _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/").json()
    assert detail["type"] == "inpatient"
    assert detail["facility"] == "General"
    assert (detail["admit_date"], detail["discharge_date"]) == (
        "2026-05-10",
        "2026-05-14",
    )
    assert detail["discharge_status"] == "01"
    assert detail["attending_provider"] == "Dr. Rivera"
    assert detail["patient"] == {
        "mrn": "A123",
        "first_name": "Ann",
        "last_name": "Lee",
        "birth_date": "1956-02-01",
        "sex": "F",
    }
    # Rank 1 is the principal although the Bundle lists it second.
    assert [(d["code"], d["poa"]) for d in detail["diagnoses"]] == [
        ("J18.9", "Y"),
        ("E87.1", "N"),
    ]
    assert [(p["system"], p["code"], p["date"]) for p in detail["procedures"]] == [
        ("icd10pcs", "0DTJ4ZZ", "2026-05-11")
    ]
    assert detail["documents"] == [
        {"kind": "discharge_summary", "title": "Discharge summary", "text": NOTE}
    ]
    # Through the service: the history has its "created" entry by the feed's user.
    change = CodingChange.objects.get(encounter_id=encounter_id)
    assert (change.action, change.changed_by) == ("created", supervisor)


def test_the_same_bundle_twice_is_one_encounter(code_sets, supervisor):
    api = _api(supervisor)
    first = _post(api, inpatient_bundle())
    again = _post(api, inpatient_bundle())
    assert (first.status_code, again.status_code) == (201, 200)
    assert first["Location"] == again["Location"]
    assert Encounter.objects.count() == 1
    encounter = Encounter.objects.get()
    assert encounter.version == 1
    assert encounter.documents.count() == 1
    assert CodingChange.objects.count() == 1


def test_a_resent_bundle_with_new_codes_saves_them_in_the_history(
    code_sets, supervisor
):
    api = _api(supervisor)
    _post(api, inpatient_bundle())
    response = _post(api, inpatient_bundle(diagnoses=[("J18.9", "Y")]))
    assert response.status_code == 200
    encounter = Encounter.objects.get()
    assert [d.code for d in encounter.diagnoses.all()] == ["J189"]
    assert encounter.version == 2
    assert encounter.changes.last().action == "saved"


def test_a_resent_bundle_cannot_change_a_final_encounter(code_sets, supervisor):
    api = _api(supervisor)
    _post(api, inpatient_bundle())
    Encounter.objects.update(status=Encounter.Status.FINAL)
    issues = _outcome(_post(api, inpatient_bundle(diagnoses=[("J18.9", "Y")])), 409)
    assert issues[0]["code"] == "conflict"
    assert [d.code for d in Encounter.objects.get().diagnoses.all()] == ["J189", "E871"]


def test_a_bundle_without_the_patient_is_refused_and_nothing_written(supervisor):
    issues = _outcome(
        _post(_api(supervisor), without(inpatient_bundle(), "Patient")), 400
    )
    assert "Patient" in issues[0]["expression"][0]
    _nothing_written()


def test_an_unknown_code_system_is_refused_naming_the_element(code_sets, supervisor):
    bundle = inpatient_bundle()
    condition = next(
        n
        for n, e in enumerate(bundle["entry"])
        if e["resource"]["resourceType"] == "Condition"
    )
    bundle["entry"][condition]["resource"]["code"]["coding"][0]["system"] = (
        "http://snomed.info/sct"
    )
    issues = _outcome(_post(_api(supervisor), bundle), 400)
    assert issues[0]["code"] == "code-invalid"
    assert issues[0]["expression"] == [
        f"Bundle.entry[{condition}].resource.code.coding[0].system"
    ]
    _nothing_written()


def test_a_bundle_that_is_not_a_transaction_is_refused(supervisor):
    bundle = inpatient_bundle()
    bundle["type"] = "collection"
    issues = _outcome(_post(_api(supervisor), bundle), 400)
    assert issues[0]["expression"] == ["Bundle.type"]
    _nothing_written()


def test_an_invalid_resource_is_refused_naming_the_element(supervisor):
    bundle = inpatient_bundle()
    bundle["entry"][1]["resource"]["birthDate"] = "1956-13-45"
    issues = _outcome(_post(_api(supervisor), bundle), 400)
    assert issues[0]["expression"] == ["Bundle.entry[1].resource.birthDate"]
    _nothing_written()


def test_a_code_no_release_has_is_refused_naming_the_condition(code_sets, supervisor):
    issues = _outcome(
        _post(
            _api(supervisor),
            inpatient_bundle(diagnoses=[("J18.9", "Y"), ("E87.99", "Y")]),
        ),
        400,
    )
    assert [i["expression"][0].endswith(".resource.code") for i in issues] == [True]
    _nothing_written()


def test_a_coder_may_not_post_bundles(coder):
    response = _post(_api(coder), inpatient_bundle())
    assert response.status_code == 403
    _nothing_written()


def test_a_bundle_as_fhir_json_is_accepted(code_sets, supervisor):
    import json

    response = _api(supervisor).post(
        "/api/v1/fhir/", json.dumps(inpatient_bundle()), content_type=FHIR
    )
    assert response.status_code == 201, response.content


# --- Claim and 837 out -------------------------------------------------------


def _encounter(supervisor, **overrides) -> int:
    response = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_the_claim_of_an_inpatient_stay_validates_and_carries_the_codes(
    code_sets, supervisor
):
    encounter_id = _encounter(supervisor, **INPATIENT)
    response = _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/fhir-claim/")
    assert response.status_code == 200
    body = response.json()
    claim = Claim.model_validate(body)
    assert claim.type.coding[0].code == "institutional"
    dx = body["diagnosis"]
    assert [d["diagnosisCodeableConcept"]["coding"][0] for d in dx] == [
        {
            "system": ICD10CM,
            "code": "J18.9",
            "display": dx[0]["diagnosisCodeableConcept"]["coding"][0]["display"],
        },
        {
            "system": ICD10CM,
            "code": "E87.1",
            "display": dx[1]["diagnosisCodeableConcept"]["coding"][0]["display"],
        },
    ]
    assert [d["sequence"] for d in dx] == [1, 2]
    assert [d["onAdmission"]["coding"][0]["code"] for d in dx] == ["y", "n"]
    drg = Encounter.objects.get(id=encounter_id)
    detail = _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/").json()
    assert dx[0]["packageCode"]["coding"][0]["code"] == f"{detail['drg']['drg']:03d}"
    assert drg is not None
    assert [
        (p["procedureCodeableConcept"]["coding"][0]["code"], p["date"])
        for p in body["procedure"]
    ] == [("0DTJ4ZZ", "2026-05-11")]


def test_the_claim_of_a_professional_visit_has_lines_with_modifiers_and_units(
    code_sets, supervisor
):
    encounter_id = _encounter(supervisor, **PROFESSIONAL)
    body = _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/fhir-claim/").json()
    Claim.model_validate(body)
    assert body["type"]["coding"][0]["code"] == "professional"
    assert "procedure" not in body
    assert [
        (
            i["productOrService"]["coding"][0]["system"],
            i["productOrService"]["coding"][0]["code"],
            [m["coding"][0]["code"] for m in i.get("modifier", [])],
            i["quantity"]["value"],
        )
        for i in body["item"]
    ] == [(CPT, "99214", ["25"], 1), (HCPCS, "J1100", [], 2)]
    assert "onAdmission" not in body["diagnosis"][0]


@pytest.mark.parametrize(
    ("case", "version"),
    [
        (INPATIENT, "005010X223A2"),
        (OUTPATIENT, "005010X223A2"),
        (PROFESSIONAL, "005010X222A1"),
    ],
    ids=["inpatient", "outpatient", "professional"],
)
def test_the_837_passes_the_x12_validator(code_sets, supervisor, case, version):
    encounter_id = _encounter(supervisor, **case)
    response = _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/x12-837/")
    assert response.status_code == 200
    text = response.content.decode()
    ok, report = x12_valid(text)
    assert ok, report
    assert f"ST*837*0001*{version}~" in text


def test_the_837i_of_a_stay_has_poa_admitting_drg_and_pcs(code_sets, supervisor):
    encounter_id = _encounter(supervisor, **INPATIENT)
    text = (
        _api(supervisor)
        .get(f"/api/v1/encounters/{encounter_id}/x12-837/")
        .content.decode()
    )
    drg = (
        _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/").json()["drg"]["drg"]
    )
    segments = text.split("~\n")
    assert "HI*ABK:J189:::::::Y" in segments
    assert "HI*ABJ:J189" in segments
    assert f"HI*DR:{drg:03d}" in segments
    assert "HI*ABF:E871:::::::N" in segments
    assert "HI*BBR:0DTJ4ZZ:D8:20260511" in segments
    assert "NM1*85*2*GENERAL*****XX*1234567893" in segments


def test_the_837p_has_lines_with_modifiers_units_and_pointers(code_sets, supervisor):
    encounter_id = _encounter(supervisor, **PROFESSIONAL)
    text = (
        _api(supervisor)
        .get(f"/api/v1/encounters/{encounter_id}/x12-837/")
        .content.decode()
    )
    segments = text.split("~\n")
    assert "HI*ABK:J189*ABF:E871" in segments
    assert "SV1*HC:99214:25*0*UN*1***1:2" in segments
    assert "SV1*HC:J1100*0*UN*2***1:2" in segments


def test_the_validator_catches_a_broken_837(code_sets, supervisor):
    """The check above can fail: a wrong HI qualifier does not pass."""
    encounter_id = _encounter(supervisor, **INPATIENT)
    text = (
        _api(supervisor)
        .get(f"/api/v1/encounters/{encounter_id}/x12-837/")
        .content.decode()
    )
    assert not x12_valid(text.replace("HI*ABK", "HI*XXX"))[0]


def test_billing_identifiers_come_from_facility_settings(
    code_sets, supervisor, settings
):
    settings.CLAIM_FACILITIES = {"General": {"provider_npi": "1245319599"}}
    encounter_id = _encounter(supervisor, **INPATIENT)
    text = (
        _api(supervisor)
        .get(f"/api/v1/encounters/{encounter_id}/x12-837/")
        .content.decode()
    )
    assert "NM1*85*2*GENERAL*****XX*1245319599~" in text
    claim = (
        _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/fhir-claim/").json()
    )
    org = next(r for r in claim["contained"] if r["resourceType"] == "Organization")
    assert org["identifier"][0]["value"] == "1245319599"


def test_an_encounter_without_lines_is_not_billable_as_837p(code_sets, supervisor):
    encounter_id = _encounter(supervisor, **{**PROFESSIONAL, "procedures": []})
    response = _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/x12-837/")
    assert response.status_code == 400
    assert "line" in response.json()["detail"]


@pytest.mark.parametrize("what", ["fhir-claim", "x12-837"])
def test_claims_record_the_chart_access(code_sets, supervisor, what):
    encounter_id = _encounter(supervisor, **INPATIENT)
    # Creating the encounter through the API already logged one read (issue 15).
    before = ChartAccess.objects.filter(encounter_id=encounter_id).count()
    _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/{what}/")
    accesses = ChartAccess.objects.filter(encounter_id=encounter_id).order_by("id")
    assert accesses.count() == before + 1
    access = accesses.last()
    assert access is not None
    assert (access.user, access.via) == (supervisor, "api")


@pytest.mark.parametrize("what", ["fhir-claim", "x12-837"])
def test_a_coder_gets_404_for_someone_elses_claim(code_sets, supervisor, coder, what):
    encounter_id = _encounter(supervisor, **INPATIENT)
    response = _api(coder).get(f"/api/v1/encounters/{encounter_id}/{what}/")
    assert response.status_code == 404
    assert not ChartAccess.objects.filter(user=coder).exists()


@pytest.mark.parametrize("what", ["fhir-claim", "x12-837"])
def test_an_outsider_gets_403(code_sets, supervisor, outsider, what):
    encounter_id = _encounter(supervisor, **INPATIENT)
    response = _api(outsider).get(f"/api/v1/encounters/{encounter_id}/{what}/")
    assert response.status_code == 403


def test_the_coder_of_the_encounter_gets_its_claim(code_sets, supervisor, coder):
    from encounters.services import encounter_claim

    encounter_id = _encounter(supervisor, **INPATIENT)
    encounter_claim(user=coder, encounter_id=encounter_id)
    response = _api(coder).get(f"/api/v1/encounters/{encounter_id}/fhir-claim/")
    assert response.status_code == 200


def test_round_trip_bundle_in_claim_out(code_sets, supervisor):
    """The codes an EHR sent come out on the claim in the same order."""
    response = _post(_api(supervisor), inpatient_bundle())
    encounter_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    claim = (
        _api(supervisor).get(f"/api/v1/encounters/{encounter_id}/fhir-claim/").json()
    )
    assert [
        d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]
    ] == ["J18.9", "E87.1"]
    text = (
        _api(supervisor)
        .get(f"/api/v1/encounters/{encounter_id}/x12-837/")
        .content.decode()
    )
    assert x12_valid(text)[0]


def _entry(bundle: dict, resource_type: str) -> tuple[int, dict]:
    return next(
        (n, e["resource"])
        for n, e in enumerate(bundle["entry"])
        if e["resource"]["resourceType"] == resource_type
    )


def test_a_note_is_kept_as_the_ehr_wrote_it(code_sets, supervisor):
    """ "Dose" is itself valid base64: it must not be decoded twice."""
    bundle = inpatient_bundle()
    _, document = _entry(bundle, "DocumentReference")
    document["content"][0]["attachment"]["data"] = base64.b64encode(b"Dose").decode()
    response = _post(_api(supervisor), bundle)
    assert response.status_code == 201
    assert Encounter.objects.get().documents.get().text == "Dose"


def test_a_note_that_is_not_base64_is_refused(supervisor):
    bundle = inpatient_bundle()
    n, document = _entry(bundle, "DocumentReference")
    document["content"][0]["attachment"]["data"] = "not base64!"
    issues = _outcome(_post(_api(supervisor), bundle), 400)
    assert issues[0]["expression"] == [
        f"Bundle.entry[{n}].resource.content[0].attachment.data"
    ]
    _nothing_written()


def test_a_professional_bundle_keeps_modifiers_and_units(code_sets, supervisor):
    bundle = inpatient_bundle(
        diagnoses=[("J18.9", None)],
        procedures=[
            {
                "system": CPT,
                "code": "99214",
                "date": "2026-05-10",
                "extension": [
                    {
                        "url": "urn:coding-workbench:fhir:procedure-modifier",
                        "valueCoding": {"code": "25"},
                    },
                    {
                        "url": "urn:coding-workbench:fhir:procedure-units",
                        "valueInteger": 2,
                    },
                ],
            }
        ],
    )
    _, encounter = _entry(bundle, "Encounter")
    encounter["class"]["code"] = "AMB"
    encounter["period"] = {"start": "2026-05-10", "end": "2026-05-10"}
    encounter["type"] = [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        }
    ]
    response = _post(_api(supervisor), bundle)
    assert response.status_code == 201, response.content
    saved = Encounter.objects.get()
    assert saved.type == "professional"
    line = saved.procedures.get()
    assert (line.system, line.code, line.modifiers, line.units) == (
        "cpt",
        "99214",
        ["25"],
        2,
    )
