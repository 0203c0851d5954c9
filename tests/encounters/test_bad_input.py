"""Input that used to answer HTTP 500 (issue 15): each now gets a 4xx with a clear
message, and nothing is written."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from encounters.audit.services import audit_encounters
from encounters.models import CodingChange, Encounter, Finding
from encounters.services import encounter_claim
from tests.encounters.conftest import pneumonia_payload

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _claimed(supervisor, coder, **overrides) -> Encounter:
    body = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert body.status_code == 201, body.json()
    return encounter_claim(user=coder, encounter_id=body.json()["id"])


def test_too_many_diagnoses_with_an_unknown_code_is_a_400(code_sets, supervisor):
    diagnoses = [{"code": "J18.9", "poa": "Y"}] + [
        {"code": "E87.1", "poa": "Y"} for _ in range(25)
    ]
    diagnoses[3] = {"code": "Q99.999", "poa": "Y"}
    response = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(diagnoses=diagnoses), format="json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]["diagnoses"]
    assert errors["non_field_errors"] == ["At most 25 diagnoses."]
    assert errors["3"]["code"]
    assert not Encounter.objects.exists()


def test_a_dismissal_reason_over_500_characters_is_refused(
    code_sets, supervisor, coder
):
    encounter = _claimed(
        supervisor, coder, diagnoses=[{"code": "J18.9", "poa": "Y"}, {"code": "G63"}]
    )
    Encounter.objects.filter(id=encounter.id).update(status="in_review")
    audit_encounters(encounter_ids=[encounter.id], trigger="batch")
    finding = Finding.objects.filter(encounter=encounter).first()
    client = Client(raise_request_exception=False)
    client.force_login(supervisor)
    response = client.post(
        f"/encounters/findings/{finding.id}/decide/",
        {"status": "dismissed", "reason": "x" * 501},
        follow=True,
    )
    assert response.status_code == 200
    assert "at most 500 characters" in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == "open"


def test_a_correction_comment_over_500_characters_is_refused(
    code_sets, supervisor, coder
):
    encounter = _claimed(supervisor, coder)
    Encounter.objects.filter(id=encounter.id).update(status="in_review")
    encounter.refresh_from_db()
    client = Client(raise_request_exception=False)
    client.force_login(supervisor)
    response = client.post(
        f"/encounters/{encounter.id}/coding/",
        {
            "version": encounter.version,
            "dx-count": 1,
            "dx-0-code": "J18.9",
            "dx-0-poa": "Y",
            "px-count": 0,
            "comment": "y" * 501,
            "action": "save",
        },
    )
    assert response.status_code == 200
    assert "at most 500 characters" in response.content.decode()
    assert not CodingChange.objects.filter(
        encounter=encounter, action="corrected"
    ).exists()


def test_a_row_count_that_is_not_a_number_is_a_400(code_sets, supervisor, coder):
    encounter = _claimed(supervisor, coder)
    client = Client(raise_request_exception=False)
    client.force_login(coder)
    response = client.post(
        f"/encounters/{encounter.id}/coding/",
        {"version": encounter.version, "dx-count": "abc", "action": "save"},
    )
    assert response.status_code == 400
    assert "dx-count" in response.content.decode()


def test_a_reassign_version_that_is_not_a_number_is_refused(
    code_sets, supervisor, coder
):
    encounter = _claimed(supervisor, coder)
    client = Client(raise_request_exception=False)
    client.force_login(supervisor)
    response = client.post(
        f"/encounters/{encounter.id}/reassign/", {"version": "abc", "coder": ""}
    )
    assert response.status_code == 400
    assert "version" in response.content.decode()
    encounter.refresh_from_db()
    assert encounter.assigned_to == coder


def test_a_nul_byte_in_claim_next_facility_is_a_400(coder):
    client = Client(raise_request_exception=False)
    client.force_login(coder)
    response = client.post("/encounters/queue/next/", {"facility": "Gen\x00eral"})
    assert response.status_code == 400
    assert "NUL" in response.content.decode()


def test_a_nul_byte_in_a_diagnosis_code_is_a_400(code_sets, supervisor, coder):
    encounter = _claimed(supervisor, coder)
    client = Client(raise_request_exception=False)
    client.force_login(coder)
    response = client.post(
        f"/encounters/{encounter.id}/coding/",
        {
            "version": encounter.version,
            "dx-count": 1,
            "dx-0-code": "J18\x009",
            "dx-0-poa": "Y",
            "action": "save",
        },
    )
    assert response.status_code == 400
    api = _api(coder)
    response = api.patch(
        f"/api/v1/encounters/{encounter.id}/",
        {"version": encounter.version, "diagnoses": [{"code": "J18\x009"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"] + str(response.json().get("errors"))
    assert Encounter.objects.get(id=encounter.id).version == encounter.version


def test_a_json_body_nested_100k_deep_is_a_400(supervisor):
    api = _api(supervisor)
    body = "[" * 100_000 + "]" * 100_000
    response = api.generic(
        "POST", "/api/v1/encounters/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
