"""Issue 14, Done-when 2, in Chromium: a code-set admin creates a coder on the Users
page and sets their audit sample rate; the coder locks themself out; the admin
unlocks; the coder signs in; and the rate set there routes the coder's clean
submit to a supervisor."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from encounters.audit.services import encounter_audit
from encounters.models import AuditRun, Encounter
from encounters.services import (
    DiagnosisInput,
    encounter_claim,
    encounter_save_coding,
    encounter_submit,
)
from tests.browser.test_coding import uncoded_pneumonia  # noqa: F401  (fixture)
from tests.conftest import SCREENSHOTS
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NINA_PASSWORD = "plum-orchard-ledger-42"


def _sign_in(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_creates_a_coder_unlocks_them_and_the_sample_rate_routes(
    browser,
    page,
    live_server,
    screenshot,
    settings,
    codeset_admin,
    password,
    uncoded_pneumonia,  # noqa: F811
):
    settings.AUDIT_SAMPLE_RATE = 0
    # The admin creates the coder and samples every one of their encounters.
    _sign_in(page, live_server, codeset_admin.username, password)
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Users"
    ).click()
    page.get_by_role("heading", name="Users", exact=True).wait_for()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Username").fill("nina")
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("Nguyen")
    page.get_by_label("Role").select_option(label="Coder")
    page.get_by_label("Initial password").fill(NINA_PASSWORD)
    screenshot("users-new")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_contain_text("User nina created.")
    page.get_by_label("Audit sample rate").fill("1")
    page.get_by_role("button", name="Save sample rate").click()
    expect(page.get_by_role("status")).to_contain_text("sample rate of nina saved")

    # The coder mistypes the password until django-axes locks them out.
    coder_context = browser.new_context(viewport={"width": 390, "height": 844})
    coder_page = coder_context.new_page()
    coder_page.set_default_timeout(15000)
    for _ in range(5):
        _sign_in(coder_page, live_server, "nina", "not-my-password")
    _sign_in(coder_page, live_server, "nina", NINA_PASSWORD)
    coder_page.get_by_role(
        "heading", name="Too many failed sign-in attempts"
    ).wait_for()
    expect(coder_page.get_by_role("alert")).to_contain_text("paused for 15 minutes")
    expect(coder_page.locator("main")).to_contain_text("ask a code-set admin")
    coder_page.screenshot(path=str(SCREENSHOTS / "users-lockout-390.png"))

    # The admin sees the lockout and lifts it.
    page.goto(f"{live_server.url}/users/")
    row = page.locator('tr[data-username="nina"]')
    expect(row).to_contain_text("locked out")
    expect(row).to_contain_text("1.000")
    screenshot("users-list")
    row.get_by_role("link", name="nina").click()
    expect(page.get_by_test_id("user-state")).to_contain_text("Locked out")
    screenshot("users-detail-locked")
    page.get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("status")).to_contain_text("nina can sign in again.")
    expect(page.get_by_test_id("user-state")).to_have_text("Active")
    expect(page.get_by_test_id("user-history")).to_contain_text("Unlocked")

    # The coder signs in and lands on the work queue.
    _sign_in(coder_page, live_server, "nina", NINA_PASSWORD)
    coder_page.get_by_role("heading", name="Work queue").wait_for()
    coder_context.close()

    # The Users pages at 390 px: nothing of the page itself wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    nina = User.objects.get(username="nina")
    for url, name in (
        (f"/users/{nina.id}/", "users-detail-390"),
        ("/users/", "users-list-390"),
    ):
        page.goto(f"{live_server.url}{url}")
        screenshot(name)
        assert page.evaluate(
            "document.querySelector('main').scrollWidth <= window.innerWidth"
        )

    # The rate set on that screen (1.0) sends nina's clean submit to a supervisor.
    encounter = encounter_claim(user=nina, encounter_id=uncoded_pneumonia.id)
    encounter = encounter_save_coding(
        user=nina,
        encounter_id=encounter.id,
        version=encounter.version,
        diagnoses=[DiagnosisInput("J18.9", "Y"), DiagnosisInput("E87.1", "Y")],
    )
    encounter = encounter_submit(
        user=nina, encounter_id=encounter.id, version=encounter.version
    )
    encounter_audit(encounter_id=encounter.id)
    assert Encounter.objects.get(id=encounter.id).status == "in_review"
    run = AuditRun.objects.get(encounter_id=encounter.id)
    assert run.sampled and run.routed_to == "in_review"
