"""A coding floor's day by keyboard: the cursor where the work starts, submit and
next, the queue search, and no codes lost by leaving a chart unsaved."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from encounters.models import Encounter
from encounters.services import (
    DocumentInput,
    EncounterInput,
    PatientInput,
    encounter_claim,
    encounter_create,
)
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _stay(mrn: str, last: str, discharged: dt.date) -> Encounter:
    return encounter_create(
        data=EncounterInput(
            type="inpatient",
            facility="General",
            admit_date=discharged - dt.timedelta(days=4),
            discharge_date=discharged,
            discharge_status="01",
            attending_provider="Dr. Rivera",
            patient=PatientInput(
                mrn=mrn,
                first_name="Ann",
                last_name=last,
                birth_date=dt.date(1956, 2, 1),
                sex="F",
            ),
            documents=[
                DocumentInput(
                    kind="discharge_summary",
                    text="Community-acquired right lower lobe pneumonia.",
                )
            ],
        ),
        created_by=None,
    )


@pytest.fixture
def two_stays(code_sets):  # noqa: F811
    return (
        _stay("A123", "Lee", dt.date(2026, 5, 14)),
        _stay("B456", "Park", dt.date(2026, 6, 3)),
    )


def _sign_in(page, live_server, user, password) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_test_id("queue").or_(page.get_by_test_id("queue-empty")).wait_for()


def _code_principal(page) -> None:
    """Type J18.9 into the principal box, check it (Enter), POA Y.

    The box has the cursor when the chart opens (autofocus); the keys wait for it, as
    a coder's eyes do, since a slow machine may paint the page before it is focused.
    """
    expect(page.locator("#dx-0-code")).to_be_focused()
    page.keyboard.type("J18.9", delay=10)
    page.keyboard.press("Enter")
    page.get_by_test_id("drg").filter(has_text="DRG 195").wait_for()
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    expect(page.locator("#dx-0-poa")).to_have_value("Y")
    page.get_by_test_id("checks-summary").wait_for()


def test_after_claim_next_the_cursor_is_in_the_principal_diagnosis_box(
    page, live_server, screenshot, coder, password, two_stays
):
    lee, _park = two_stays
    _sign_in(page, live_server, coder, password)
    page.get_by_test_id("claim-next").click()
    page.wait_for_url(f"**/encounters/{lee.id}/")
    expect(page.locator("#dx-0-code")).to_be_focused()
    # Typing goes straight into the principal diagnosis.
    page.keyboard.type("J18.9")
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")

    # "Skip to codes" is the first stop of the page, shown once focused; Enter on
    # it puts the cursor back in the first empty diagnosis box.
    first_stop = page.evaluate(
        "document.querySelector('a[href], button, input:not([type=hidden]), select')"
        ".dataset.testid"
    )
    assert first_stop == "skip-to-codes"
    skip = page.get_by_test_id("skip-to-codes")
    page.locator("#dx-0-code").fill("")
    skip.focus()
    expect(skip).to_be_visible()
    expect(skip).to_be_in_viewport()
    screenshot("floor-01-skip-to-codes")
    page.keyboard.press("Enter")
    expect(page.locator("#dx-0-code")).to_be_focused()


def test_claiming_one_encounter_from_the_queue_focuses_its_principal_box(
    page, live_server, coder, password, two_stays
):
    _lee, park = two_stays
    _sign_in(page, live_server, coder, password)
    page.get_by_test_id("queue-row").nth(1).get_by_role("button", name="Claim").click()
    page.wait_for_url(f"**/encounters/{park.id}/")
    expect(page.locator("#dx-0-code")).to_be_focused()


def test_submit_and_next_opens_the_next_encounter_then_the_queue_when_done(
    page, live_server, screenshot, coder, password, two_stays
):
    lee, park = two_stays
    _sign_in(page, live_server, coder, password)
    page.get_by_test_id("claim-next").click()
    page.wait_for_url(f"**/encounters/{lee.id}/")
    _code_principal(page)
    assert "Alt+N" in page.get_by_test_id("submit-next").inner_text()
    page.keyboard.press("Alt+n")

    page.wait_for_url(f"**/encounters/{park.id}/")
    assert f"Encounter {lee.id} submitted" in page.locator(".messages").inner_text()
    expect(page.locator("#dx-0-code")).to_be_focused()
    screenshot("floor-02-submitted-and-next")
    assert Encounter.objects.get(id=lee.id).status == "submitted"
    assert Encounter.objects.get(id=park.id).assigned_to == coder

    _code_principal(page)
    page.get_by_test_id("submit-next").click()
    page.wait_for_url("**/encounters/queue/")
    messages = page.locator(".messages").inner_text()
    assert f"Encounter {park.id} submitted" in messages
    assert "No encounter is waiting" in messages
    screenshot("floor-03-queue-done")
    assert Encounter.objects.get(id=park.id).status == "submitted"


def test_the_queue_search_finds_an_encounter_by_mrn_name_or_number(
    page, live_server, screenshot, coder, password, two_stays
):
    lee, park = two_stays
    encounter_claim(user=coder, encounter_id=lee.id)
    encounter_claim(user=coder, encounter_id=park.id)
    _sign_in(page, live_server, coder, password)
    rows = page.get_by_test_id("queue-row")
    expect(rows).to_have_count(2)

    search = page.get_by_test_id("queue-search")
    search.fill("b456")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Park, Ann")
    expect(search).to_have_value("b456")
    screenshot("floor-04-queue-search")

    search.fill("lee")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"#{lee.id}")

    search.fill(f"#{park.id}")
    search.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Park, Ann")


def test_leaving_a_chart_with_unsaved_codes_asks_first(
    page, live_server, screenshot, coder, password, two_stays
):
    lee, _park = two_stays
    encounter_claim(user=coder, encounter_id=lee.id)
    _sign_in(page, live_server, coder, password)
    chart = f"{live_server.url}/encounters/{lee.id}/"
    page.goto(chart)
    page.wait_for_load_state("load")

    # Nothing changed: the queue link leaves without a question.
    asked: list[str] = []

    def answer(dialog, accept: bool) -> None:
        asked.append(dialog.type)
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", lambda d: answer(d, accept=False))
    page.get_by_role("link", name="← Work queue").click()
    page.wait_for_url("**/encounters/queue/")
    assert asked == []

    # Codes typed, not saved: the link asks, and "stay" keeps the codes.
    page.goto(chart)
    page.wait_for_load_state("load")
    _code_principal(page)
    page.get_by_role("link", name="← Work queue").click()
    assert asked == ["confirm"]
    assert page.url == chart
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")
    screenshot("floor-05-unsaved-kept")

    # Back (and closing the tab) asks through the browser's own prompt.
    page.evaluate("history.back()")  # Back, without waiting for a page that never comes
    for _ in range(50):
        if len(asked) == 2:
            break
        page.wait_for_timeout(100)
    assert asked == ["confirm", "beforeunload"]
    page.wait_for_timeout(300)
    assert page.url == chart
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")

    # Saved: no question.
    page.locator("#dx-0-code").focus()
    page.keyboard.press("Alt+s")
    page.get_by_test_id("banner").filter(has_text="Draft saved").wait_for()
    page.get_by_role("link", name="← Work queue").click()
    page.wait_for_url("**/encounters/queue/")
    assert asked == ["confirm", "beforeunload"]


def test_signing_in_after_a_timed_out_save_lands_on_the_chart_not_a_405(
    page, live_server, screenshot, coder, password, two_stays
):
    """A session that ran out while the coding form posted sends its POST-only URL
    as ``next``: signing in opens the chart instead of "HTTP ERROR 405"."""
    lee, _park = two_stays
    encounter_claim(user=coder, encounter_id=lee.id)
    page.goto(f"{live_server.url}/login/?next=/encounters/{lee.id}/coding/")
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_test_id("facts").wait_for()
    assert page.url == f"{live_server.url}/encounters/{lee.id}/"
    expect(page.locator("#dx-0-code")).to_be_focused()
    screenshot("floor-06-signed-in-to-the-chart")
