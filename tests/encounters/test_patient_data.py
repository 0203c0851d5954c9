"""Every answer that shows a chart is in the access log, and none is cached."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from encounters.models import ChartAccess, Encounter
from encounters.services import encounter_claim
from tests.encounters.conftest import pneumonia_payload

pytestmark = pytest.mark.django_db

NO_STORE = {"no-store", "private"}


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _claimed(supervisor, coder) -> Encounter:
    response = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    assert response.status_code == 201
    return encounter_claim(user=coder, encounter_id=response.json()["id"])


def _cache_control(response) -> set[str]:
    return {p.strip() for p in response.get("Cache-Control", "").split(",")}


def test_an_api_patch_that_returns_the_chart_is_logged(code_sets, supervisor, coder):
    encounter = _claimed(supervisor, coder)
    response = _api(coder).patch(
        f"/api/v1/encounters/{encounter.id}/",
        {"version": encounter.version, "diagnoses": [{"code": "J18.9", "poa": "Y"}]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["documents"][0]["text"].startswith("Community-acquired")
    assert ChartAccess.objects.filter(
        user=coder, encounter=encounter, via="api"
    ).exists()


def test_a_feed_that_creates_an_encounter_is_logged_as_reading_it(
    code_sets, supervisor
):
    response = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    assert response.status_code == 201
    assert ChartAccess.objects.filter(
        user=supervisor, encounter_id=response.json()["id"], via="api"
    ).exists()


def test_a_coding_post_without_htmx_that_shows_the_chart_is_logged(
    code_sets, supervisor, coder, coder_client
):
    encounter = _claimed(supervisor, coder)
    response = coder_client.post(
        f"/encounters/{encounter.id}/coding/",
        {
            "version": encounter.version,
            "dx-count": 1,
            "px-count": 0,
            "dx-0-code": "J18.9",
            "dx-0-poa": "Y",
            "action": "save",
        },
    )
    assert response.status_code == 200
    assert b"Sodium 128 on admission" in response.content  # the documents
    assert ChartAccess.objects.filter(
        user=coder, encounter=encounter, via="web"
    ).exists()


def test_chart_pages_and_api_answers_are_never_stored(
    code_sets, supervisor, coder, coder_client
):
    encounter = _claimed(supervisor, coder)
    page = coder_client.get(f"/encounters/{encounter.id}/")
    assert page.status_code == 200
    assert _cache_control(page) >= NO_STORE
    queue = coder_client.get("/encounters/queue/")
    assert _cache_control(queue) >= NO_STORE
    token = Token.objects.create(user=coder)
    api = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    answer = api.get(f"/api/v1/encounters/{encounter.id}/")
    assert answer.status_code == 200
    assert _cache_control(answer) >= NO_STORE
    # An API error is not cached either.
    assert _cache_control(api.get("/api/v1/encounters/999999/")) >= NO_STORE
