"""The coding floor's keyboard path: queue order and search, submit-and-next,
and where signing in lands."""

from __future__ import annotations

import re

import pytest

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
