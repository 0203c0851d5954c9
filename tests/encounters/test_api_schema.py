"""Every JSON answer of the API is described in the OpenAPI schema (issue 16: "typed
API output"), and the encounter endpoints answer as their schema says: real answers
checked by schemathesis against /api/schema/."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from rest_framework.test import APIClient

from encounters.services import encounter_claim
from tests.encounters.conftest import pneumonia_payload
from tests.encounters.test_audit_views import in_review  # noqa: F401  (fixture)
from tests.encounters.test_payment import (  # noqa: F401  (rates: a fixture)
    correct_to_drg_194,
    rates,
)

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _schema(user) -> dict:
    response = _api(user).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _check(schema, method: str, template: str, response) -> None:
    """Raises (schemathesis's failure, naming the field) unless the answer is what
    the schema documents for this operation and status."""
    answer = schemathesis.Response(
        status_code=response.status_code,
        headers={k: [v] for k, v in response.headers.items()},
        content=response.content,
        request=requests.Request(method, "http://testserver" + template).prepare(),
        elapsed=0.0,
        verify=False,
    )
    schema[template][method].validate_response(answer)


def test_every_json_answer_has_a_described_shape(supervisor):
    untyped = []
    for path, operations in _schema(supervisor)["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                shape = answer.get("content", {}).get("application/json", {})
                schema = shape.get("schema")
                if schema is not None and "$ref" not in schema:
                    untyped.append(f"{method.upper()} {path} {status}: {schema}")
    assert untyped == []


def test_the_encounter_endpoints_answer_as_their_schema_says(
    in_review,  # noqa: F811
    rates,  # noqa: F811
    supervisor,
    coder,
):
    schema = schemathesis.openapi.from_dict(_schema(supervisor))
    feed = _api(supervisor)
    created = feed.post("/api/v1/encounters/", pneumonia_payload(), format="json")
    assert created.status_code == 201
    _check(schema, "POST", "/api/v1/encounters/", created)
    # The answer carries the payment (rates are set for the facility).
    assert created.json()["drg"]["payment"]["amount"] is not None

    bulk = feed.post(
        "/api/v1/encounters/bulk/",
        [pneumonia_payload(patient={**pneumonia_payload()["patient"], "mrn": "SCH3"})],
        format="json",
    )
    assert bulk.status_code == 201
    _check(schema, "POST", "/api/v1/encounters/bulk/", bulk)

    encounter_id = created.json()["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    api = _api(coder)
    path = f"/api/v1/encounters/{encounter_id}/"
    read = api.get(path)
    _check(schema, "GET", "/api/v1/encounters/{encounter_id}/", read)
    patched = api.patch(
        path,
        {
            "version": read.json()["version"],
            "diagnoses": [{"code": "J18.9", "poa": "Y"}, {"code": "E87.1", "poa": "Y"}],
            "procedures": [
                {"system": "icd10pcs", "code": "0DTJ4ZZ", "date": "2026-05-11"}
            ],
        },
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    _check(schema, "PATCH", "/api/v1/encounters/{encounter_id}/", patched)
    submitted = api.post(
        f"{path}submit/", {"version": patched.json()["version"]}, format="json"
    )
    assert submitted.status_code == 202
    _check(schema, "POST", "/api/v1/encounters/{encounter_id}/submit/", submitted)

    # A supervisor's correction that moves the DRG: drg_shift and findings filled.
    correct_to_drg_194(in_review, supervisor)
    corrected = feed.get(f"/api/v1/encounters/{in_review.id}/")
    assert corrected.json()["drg_shift"]["from"]["drg"] == 195
    assert corrected.json()["findings"]
    _check(schema, "GET", "/api/v1/encounters/{encounter_id}/", corrected)
    # The billing feed: the stored DRGs as documented.
    listed = feed.get("/api/v1/encounters/")
    assert any(row["drg"] for row in listed.json()["results"])
    _check(schema, "GET", "/api/v1/encounters/", listed)


def test_a_wrong_shape_is_caught(code_sets, supervisor):
    # The check above can fail: an answer missing a documented field is refused.
    schema = schemathesis.openapi.from_dict(_schema(supervisor))
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    body = created.content.replace(b'"version":', b'"versoin":', 1)

    class Broken:
        status_code = created.status_code
        headers = created.headers
        content = body

    with pytest.raises(Exception, match="version"):
        _check(schema, "POST", "/api/v1/encounters/", Broken)
