"""The coding floor's keyboard path: queue order and search, submit-and-next,
and where signing in lands."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from encounters.models import Encounter
from encounters.services import encounter_claim
from tests.encounters.conftest import pneumonia_payload
from tests.encounters.test_views import _create, _form, _panel

pytestmark = pytest.mark.django_db


def _patient(mrn: str, first: str = "Ann", last: str = "Lee") -> dict:
    return {
        **pneumonia_payload()["patient"],
        "mrn": mrn,
        "first_name": first,
        "last_name": last,
    }


def _queue_ids(client, query: str = "") -> list[int]:
    page = client.get(f"/encounters/queue/{query}").content.decode()
    return [int(n) for n in re.findall(r'<span class="code">#(\d+)</span>', page)]


def test_the_queue_lists_returned_cases_first_then_in_progress_then_ready_by_age(
    code_sets, supervisor, coder, coder_client
):
    ready_old = _create(supervisor, patient=_patient("R1"))
    ready_new = _create(
        supervisor,
        patient=_patient("R2"),
        admit_date="2026-06-01",
        discharge_date="2026-06-03",
    )
    mine_new = _create(
        supervisor,
        patient=_patient("M1"),
        admit_date="2026-07-01",
        discharge_date="2026-07-03",
    )
    returned_newest = _create(
        supervisor,
        patient=_patient("T1"),
        admit_date="2026-08-01",
        discharge_date="2026-08-03",
    )
    encounter_claim(user=coder, encounter_id=mine_new)
    encounter_claim(user=coder, encounter_id=returned_newest)
    Encounter.objects.filter(id=returned_newest).update(status="returned")

    assert _queue_ids(coder_client) == [returned_newest, mine_new, ready_old, ready_new]
    # Newest first keeps the returned case on top.
    assert _queue_ids(coder_client, "?sort=-age") == [
        returned_newest,
        mine_new,
        ready_new,
        ready_old,
    ]


def test_the_queue_search_finds_an_encounter_by_number_mrn_or_patient_name(
    code_sets, supervisor, coder, coder_client
):
    lee = _create(supervisor, patient=_patient("MRN-77", "Ann", "Lee"))
    park = _create(supervisor, patient=_patient("MRN-88", "Jin", "Park"))
    encounter_claim(user=coder, encounter_id=lee)
    encounter_claim(user=coder, encounter_id=park)
    unclaimed = _create(supervisor, patient=_patient("MRN-99", "Ann", "Leeds"))

    assert _queue_ids(coder_client, f"?q={park}") == [park]
    assert _queue_ids(coder_client, f"?q=%23{park}") == [park]
    assert _queue_ids(coder_client, "?q=mrn-88") == [park]
    assert _queue_ids(coder_client, "?q=MRN-99") == [unclaimed]
    assert _queue_ids(coder_client, "?q=park") == [park]
    assert _queue_ids(coder_client, "?q=Lee%2C+Ann") == [lee]
    # A name finds only charts whose patient the coder may see: "Leeds" is unclaimed.
    assert _queue_ids(coder_client, "?q=leeds") == []
    page = coder_client.get("/encounters/queue/?q=nobody").content.decode()
    assert "No encounter in your queue matches “nobody”" in page
    # The search box keeps what was typed.
    page = coder_client.get("/encounters/queue/?q=park").content.decode()
    assert 'name="q" id="id_q" value="park"' in page


@pytest.mark.parametrize(
    ("next_url", "lands_on"),
    [
        ("/encounters/{id}/coding/", "/encounters/{id}/"),  # POST-only: its page
        ("/encounters/{id}/claim/", "/encounters/{id}/"),
        ("/encounters/queue/next/", "/encounters/queue/"),
        ("/encounters/queue/?q=lee", "/encounters/queue/?q=lee"),  # GET: kept
        ("/encounters/{id}/", "/encounters/{id}/"),
        ("/nowhere/at/all/", "/"),  # no page: home (the role's page)
        ("https://evil.example/encounters/1/", "/"),  # off-site: home
    ],
)
def test_signing_in_lands_on_a_page_that_answers_get(
    code_sets, supervisor, coder, password, client, next_url, lands_on
):
    encounter_id = _create(supervisor)
    encounter_claim(user=coder, encounter_id=encounter_id)
    next_url = next_url.format(id=encounter_id)
    response = client.post(
        f"/login/?next={next_url}",
        {"username": coder.username, "password": password, "next": next_url},
    )
    assert response.status_code == 302
    assert response.url == lands_on.format(id=encounter_id)
    assert client.get(response.url, follow=True).status_code == 200


def test_submit_and_next_opens_my_returned_case_then_claims_the_next_one(
    code_sets, supervisor, coder, coder_client
):
    first = _create(supervisor, patient=_patient("N1"))
    returned = _create(supervisor, patient=_patient("N2"))
    waiting = _create(supervisor, patient=_patient("N3"))
    encounter = encounter_claim(user=coder, encounter_id=first)
    encounter_claim(user=coder, encounter_id=returned)
    Encounter.objects.filter(id=returned).update(status="returned")

    def submit_next(encounter_id: int) -> str:
        encounter = Encounter.objects.get(id=encounter_id)
        response = coder_client.post(
            f"/encounters/{encounter_id}/coding/",
            _form(encounter, [("J18.9", "Y")], action="submit-next"),
            HTTP_HX_REQUEST="true",
        )
        assert Encounter.objects.get(id=encounter_id).status == "submitted"
        return response.headers["HX-Redirect"]

    assert submit_next(encounter.id) == f"/encounters/{returned}/"
    assert submit_next(returned) == f"/encounters/{waiting}/"
    assert Encounter.objects.get(id=waiting).assigned_to == coder
    assert submit_next(waiting) == "/encounters/queue/"
    page = coder_client.get("/encounters/queue/").content.decode()
    assert "No encounter is waiting: your queue is done." in page


def test_submit_and_next_with_open_warnings_asks_first_and_keeps_going_after(
    code_sets, supervisor, coder, coder_client
):
    first = _create(supervisor, patient=_patient("W1"))
    waiting = _create(supervisor, patient=_patient("W2"))
    encounter = encounter_claim(user=coder, encounter_id=first)
    rows = [("J18.9", "Y"), ("E11.42", "Y"), ("G63", "Y")]  # excludes1: a warning
    panel = _panel(coder_client, first, _form(encounter, rows, action="submit-next"))
    assert 'data-testid="confirm-submit"' in panel
    assert 'value="submit-anyway-next"' in panel
    encounter.refresh_from_db()
    assert encounter.status == "in_progress"  # held; the codes are saved
    response = coder_client.post(
        f"/encounters/{first}/coding/",
        _form(encounter, rows, action="submit-anyway-next"),
        HTTP_HX_REQUEST="true",
    )
    assert response.headers["HX-Redirect"] == f"/encounters/{waiting}/"
    assert Encounter.objects.get(id=first).status == "submitted"


def _api_list(user, query: str = "") -> dict:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get(f"/api/v1/encounters/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_encounter_list_api_q_matches_mrn_patient_name_or_encounter_id(
    code_sets, supervisor, coder
):
    lee = _create(supervisor, patient=_patient("MRN-77", "Ann", "Lee"))
    park = _create(supervisor, patient=_patient("MRN-88", "Jin", "Park"))

    def ids(query: str) -> list[int]:
        return [r["id"] for r in _api_list(supervisor, query)["results"]]

    assert ids("") == [lee, park]
    assert ids("?q=mrn-88") == [park]
    assert ids("?q=park") == [park]
    assert ids("?q=Lee%2C+Ann") == [lee]
    assert ids(f"?q={lee}") == [lee]
    assert ids(f"?q=%23{park}") == [park]
    assert ids("?q=nobody") == []
    row = _api_list(supervisor, "?q=park")["results"][0]
    assert row["patient"]["mrn"] == "MRN-88"
    assert row["diagnoses"][0]["code"] == "J18.9"  # display form
    # A coder reads only the encounters assigned to them.
    encounter_claim(user=coder, encounter_id=park)
    assert [r["id"] for r in _api_list(coder)["results"]] == [park]
    assert _api_list(coder, "?q=lee")["results"] == []


def test_the_encounter_list_api_filters_by_status_and_updated_since_and_pages(
    code_sets, supervisor, coder, django_assert_max_num_queries
):
    first = _create(supervisor, patient=_patient("P1"))
    second = _create(supervisor, patient=_patient("P2"))
    encounter_claim(user=coder, encounter_id=second)
    in_progress = _api_list(supervisor, "?status=in_progress")["results"]
    assert [r["id"] for r in in_progress] == [second]
    assert in_progress[0]["assigned_to"] == coder.username
    since = Encounter.objects.get(id=second).updated_at.isoformat()
    since_ids = [
        r["id"]
        for r in _api_list(supervisor, f"?updated_since={since.replace('+', '%2B')}")[
            "results"
        ]
    ]
    assert since_ids == [second]

    for n in range(3, 6):
        _create(supervisor, patient=_patient(f"P{n}"))
    with django_assert_max_num_queries(8):  # no query per encounter
        page = _api_list(supervisor)
    assert len(page["results"]) == 5 and page["next"] is None

    client = APIClient()
    client.force_authenticate(supervisor)
    bad = client.get("/api/v1/encounters/?status=lost&updated_since=yesterday")
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"status", "updated_since"}
    assert first in [r["id"] for r in _api_list(supervisor, "?status=ready")["results"]]


def test_the_encounter_list_api_pages_with_a_next_link(
    code_sets, supervisor, monkeypatch
):
    from encounters.api import EncounterListApi

    monkeypatch.setattr(EncounterListApi, "PAGE", 2)
    made = [_create(supervisor, patient=_patient(f"G{n}")) for n in range(3)]
    page = _api_list(supervisor)
    assert [r["id"] for r in page["results"]] == made[:2]
    assert page["next"].endswith(f"/api/v1/encounters/?after={made[1]}")
    rest = _api_list(supervisor, page["next"].split("/api/v1/encounters/")[1])
    assert [r["id"] for r in rest["results"]] == made[2:]
    assert rest["next"] is None


def test_outsiders_cannot_list_encounters(code_sets, supervisor, outsider):
    _create(supervisor)
    client = APIClient()
    assert client.get("/api/v1/encounters/").status_code in (401, 403)
    client.force_authenticate(outsider)
    assert client.get("/api/v1/encounters/").status_code == 403
