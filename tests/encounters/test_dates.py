"""Impossible dates are refused at every entry (issue 15): the API (one, bulk,
PATCH), the coding form; each error names its field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from encounters.models import Encounter
from encounters.services import encounter_claim
from tests.encounters.conftest import pneumonia_payload

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _patient(**changes) -> dict:
    return {**pneumonia_payload()["patient"], **changes}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"admit_date": "0001-01-01"}, "admit_date", "before 2000-01-01"),
        ({"discharge_date": "9999-12-31"}, "discharge_date", "in the future"),
        (
            {"patient": _patient(birth_date="2026-05-11")},
            "patient",
            "after the admit date",
        ),
        ({"patient": _patient(birth_date="1850-01-01")}, "patient", "before 1880"),
        ({"discharge_date": "2026-05-01"}, "discharge_date", "before the admit date"),
    ],
)
def test_the_api_refuses_impossible_dates_naming_the_field(
    code_sets, supervisor, overrides, field, words
):
    response = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert response.status_code == 400, response.json()
    errors = response.json()["errors"][field]
    if field == "patient":
        errors = errors["birth_date"]
    assert words in " ".join(errors)
    assert not Encounter.objects.exists()


def test_a_stay_discharged_next_month_is_refused_one_discharged_today_is_not(
    code_sets, supervisor
):
    today = timezone.localdate()
    late = today + dt.timedelta(days=40)
    api = _api(supervisor)
    response = api.post(
        "/api/v1/encounters/",
        pneumonia_payload(
            type="outpatient",
            admit_date=late.isoformat(),
            discharge_date=None,
            diagnoses=[{"code": "J18.9"}],
        ),
        format="json",
    )
    assert response.status_code == 400
    assert "in the future" in response.json()["errors"]["admit_date"][0]
    response = api.post(
        "/api/v1/encounters/",
        pneumonia_payload(
            type="outpatient",
            admit_date=today.isoformat(),
            discharge_date=None,
            diagnoses=[{"code": "J18.9"}],
        ),
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_bulk_creation_with_one_impossible_date_creates_nothing(code_sets, supervisor):
    good = pneumonia_payload()
    bad = pneumonia_payload(discharge_date="9999-12-31", patient=_patient(mrn="B9"))
    response = _api(supervisor).post(
        "/api/v1/encounters/bulk/", [good, bad], format="json"
    )
    assert response.status_code == 400
    assert "in the future" in response.json()["errors"]["1"]["discharge_date"][0]
    assert not Encounter.objects.exists()


def test_a_procedure_date_from_year_one_is_refused_by_patch_and_the_form(
    code_sets, supervisor, coder, coder_client
):
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    encounter = encounter_claim(user=coder, encounter_id=created.json()["id"])
    response = _api(coder).patch(
        f"/api/v1/encounters/{encounter.id}/",
        {
            "version": encounter.version,
            "procedures": [
                {"system": "icd10pcs", "code": "0DTJ4ZZ", "date": "0001-01-01"}
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    assert (
        "before 2000-01-01" in (response.json()["errors"]["procedures"]["0"]["date"][0])
    )
    response = coder_client.post(
        f"/encounters/{encounter.id}/coding/",
        {
            "version": encounter.version,
            "dx-count": 1,
            "dx-0-code": "J18.9",
            "dx-0-poa": "Y",
            "px-count": 1,
            "px-0-system": "icd10pcs",
            "px-0-code": "0DTJ4ZZ",
            "px-0-date": "9999-12-31",
            "px-0-modifiers": "",
            "px-0-units": "1",
            "action": "save",
        },
    )
    assert response.status_code == 200
    assert "9999-12-31 is in the future" in response.content.decode()
    encounter.refresh_from_db()
    assert not encounter.procedures.exists()


def test_the_demo_seed_refuses_a_discharge_window_in_the_future():
    with pytest.raises(CommandError, match="--to: 2099-01-01 is in the future"):
        call_command(
            "seed_demo",
            "--skip-users",
            "--encounters",
            "5",
            "--from",
            "2026-04-01",
            "--to",
            "2099-01-01",
        )
    assert not Encounter.objects.exists()


@pytest.mark.parametrize(
    "bad",
    [
        {"discharge_date": dt.date(9999, 12, 31)},
        {"admit_date": dt.date(1, 1, 1)},
    ],
)
def test_a_stored_encounter_with_impossible_dates_still_opens_and_says_why(
    code_sets, supervisor, coder, coder_client, bad
):
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    encounter = encounter_claim(user=coder, encounter_id=created.json()["id"])
    Encounter.objects.filter(id=encounter.id).update(**bad)
    page = coder_client.get(f"/encounters/{encounter.id}/")
    assert page.status_code == 200
    api = _api(coder)
    assert api.get(f"/api/v1/encounters/{encounter.id}/").status_code == 200
    checks = api.get(f"/api/v1/encounters/{encounter.id}/checks/")
    assert checks.status_code == 200
    assert "encounter-dates-invalid" in {f["rule"] for f in checks.json()["findings"]}
    what_if = api.get(f"/api/v1/encounters/{encounter.id}/what-if/")
    assert what_if.status_code in (200, 400)
