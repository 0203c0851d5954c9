"""The idle logoff without lost work: a warning with a countdown, "Stay signed in",
the chart emptied when the session ends, and the typed codes back after signing in.

A 6-second idle timeout with a 3-second warning stands in for 15 minutes and 2."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import expect

from encounters.models import Encounter
from encounters.services import (
    DiagnosisInput,
    encounter_claim,
    encounter_save_coding,
)
from tests.browser.test_floor import _stay
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chart(code_sets, coder) -> Encounter:  # noqa: F811
    lee = _stay("A123", "Lee", dt.date(2026, 5, 14))
    encounter_claim(user=coder, encounter_id=lee.id)
    return lee


@pytest.fixture
def short_idle(settings):
    settings.SESSION_IDLE_SECONDS = 6
    settings.SESSION_IDLE_WARNING_SECONDS = 3


def _sign_in(page, live_server, user, password, path: str = "/login/") -> None:
    page.goto(f"{live_server.url}{path}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)


def _open_chart(page, live_server, chart) -> None:
    page.goto(f"{live_server.url}/encounters/{chart.id}/")
    page.get_by_test_id("facts").wait_for()


def _hold_sign_in_page(page) -> list[str]:
    """The next load of the sign-in page answers 204 (the browser stays put), so the
    test can look at what the page left on screen; returns the URLs asked for."""
    asked: list[str] = []

    def answer(route) -> None:
        asked.append(route.request.url)
        route.fulfill(status=204)
        page.unroute("**/login/**")

    page.route("**/login/**", answer)
    return asked


def _assert_no_patient_data(page) -> None:
    html = page.content()
    for shown in ("A123", "Lee, Ann", "Ann Lee", "pneumonia"):
        assert shown not in html
    expect(page.locator("#dx-0-code")).to_have_count(0)
    expect(page.get_by_test_id("document")).to_have_count(0)


def test_an_idle_warning_counts_down_and_stay_signed_in_keeps_the_session(
    page, live_server, screenshot, coder, password, chart, short_idle
):
    _sign_in(page, live_server, coder, password)
    _open_chart(page, live_server, chart)

    warning = page.get_by_test_id("session-warning")
    expect(warning).to_be_visible(timeout=6000)
    countdown = page.get_by_test_id("session-countdown")
    expect(countdown).to_have_text(re.compile(r"^0:0[1-3]$"))
    first = countdown.inner_text()
    screenshot("idle-01-warning")
    expect(countdown).not_to_have_text(first, timeout=2000)  # it counts down
    assert countdown.inner_text() < first

    page.get_by_test_id("stay-signed-in").click()
    expect(warning).to_have_count(0)
    # Past the logoff the page had counted down to: still signed in, chart on screen.
    page.wait_for_timeout(3500)
    assert page.url == f"{live_server.url}/encounters/{chart.id}/"
    expect(page.get_by_test_id("facts")).to_contain_text("A123")
    status = page.request.get(f"{live_server.url}/session/")
    assert status.status == 200
    assert status.json()["signed_in"] is True


def test_the_idle_logoff_empties_the_chart_and_signing_in_brings_the_draft_back(
    page, live_server, screenshot, coder, password, chart, short_idle
):
    _sign_in(page, live_server, coder, password)
    _open_chart(page, live_server, chart)
    page.locator("#dx-0-code").click()
    page.keyboard.type("J18.9", delay=10)  # typed, never checked nor saved
    asked = _hold_sign_in_page(page)

    signed_out = page.get_by_test_id("signed-out")
    expect(signed_out).to_be_visible(timeout=15000)
    _assert_no_patient_data(page)
    screenshot("idle-02-signed-out")
    assert len(asked) == 1
    query = parse_qs(urlsplit(asked[0]).query)
    assert query["next"] == [f"/encounters/{chart.id}/"]
    # The server ended the session too: it was not just the page.
    assert page.request.get(f"{live_server.url}/session/").status == 401

    page.goto(asked[0])
    expect(page.get_by_test_id("signed-out-idle")).to_be_visible()
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/encounters/{chart.id}/")
    page.get_by_test_id("facts").wait_for()

    notice = page.get_by_test_id("draft-restored")
    expect(notice).to_contain_text(re.compile(r"Draft restored from \d\d:\d\d"))
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")
    # Put back as typed: the form rechecked itself and shows the DRG of the draft.
    page.get_by_test_id("drg").filter(has_text="DRG 195").wait_for()
    screenshot("idle-03-draft-restored")


def test_a_request_refused_after_the_session_ended_empties_the_chart(
    page, live_server, screenshot, coder, password, chart
):
    """The issue's path: type a code, the session ends on the server, press Enter."""
    _sign_in(page, live_server, coder, password)
    _open_chart(page, live_server, chart)
    page.locator("#dx-0-code").click()
    page.keyboard.type("J18.9", delay=10)
    Session.objects.all().delete()
    asked = _hold_sign_in_page(page)
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("signed-out")).to_be_visible()
    _assert_no_patient_data(page)
    assert len(asked) == 1
    # The page the coder was on, not the fragment's URL (a typeahead, the POST).
    assert parse_qs(urlsplit(asked[0]).query)["next"] == [f"/encounters/{chart.id}/"]

    page.goto(asked[0])
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/encounters/{chart.id}/")
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")


def test_a_draft_typed_on_an_older_version_is_not_put_back(
    page, live_server, screenshot, coder, password, chart
):
    _sign_in(page, live_server, coder, password)
    _open_chart(page, live_server, chart)
    page.locator("#dx-0-code").click()
    page.keyboard.type("J18.9", delay=10)
    # Meanwhile the codes were saved elsewhere (another tab, the API): a new version.
    encounter_save_coding(
        user=coder,
        encounter_id=chart.id,
        version=Encounter.objects.get(id=chart.id).version,
        diagnoses=[DiagnosisInput(code="E87.1", poa="Y")],
    )
    Session.objects.all().delete()
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/**")

    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/encounters/{chart.id}/")
    stale = page.get_by_test_id("draft-stale")
    expect(stale).to_contain_text("not restored")
    expect(stale).to_contain_text("changed since")
    expect(stale).to_contain_text("J18.9")
    expect(page.locator("#dx-0-code")).to_have_value("E87.1")
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)
    screenshot("idle-04-draft-not-restored")
    stale.get_by_test_id("discard-draft").click()
    expect(stale).to_have_count(0)


def test_signing_out_on_purpose_drops_the_draft(
    page, live_server, coder, password, chart
):
    _sign_in(page, live_server, coder, password)
    _open_chart(page, live_server, chart)
    page.locator("#dx-0-code").click()
    page.keyboard.type("J18.9", delay=10)
    page.on("dialog", lambda dialog: dialog.accept())  # "leave without saving?"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login/**")

    _sign_in(page, live_server, coder, password)
    _open_chart(page, live_server, chart)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)  # a draft would be back by now (it is, on a timeout)
    expect(page.locator("#dx-0-code")).to_have_value("")
    expect(page.get_by_test_id("draft-restored")).to_have_count(0)


def test_a_reload_keeps_the_typed_codes_once_the_suggestions_came(
    page, live_server, coder, password, chart
):
    _sign_in(page, live_server, coder, password)
    _open_chart(page, live_server, chart)
    page.locator("#dx-0-code").click()
    page.keyboard.type("J18.9", delay=10)
    page.locator("#dx-0-suggest [role=option]").first.wait_for()
    page.on("dialog", lambda dialog: dialog.accept())  # "leave without saving?"
    page.reload()
    page.get_by_test_id("facts").wait_for()
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")
