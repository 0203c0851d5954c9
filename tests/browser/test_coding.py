"""A coder's day in Chromium, by keyboard only: claim, code, watch the DRG, submit."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from encounters.models import CodingChange, Encounter
from encounters.services import (
    DocumentInput,
    EncounterInput,
    PatientInput,
    encounter_create,
)
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def uncoded_pneumonia(code_sets):  # noqa: F811
    import datetime as dt

    return encounter_create(
        data=EncounterInput(
            type="inpatient",
            facility="General",
            admit_date=dt.date(2026, 5, 10),
            discharge_date=dt.date(2026, 5, 14),
            discharge_status="01",
            attending_provider="Dr. Rivera",
            patient=PatientInput(
                mrn="A123",
                first_name="Ann",
                last_name="Lee",
                birth_date=dt.date(1956, 2, 1),
                sex="F",
            ),
            documents=[
                DocumentInput(
                    kind="discharge_summary",
                    text="Community-acquired right lower lobe pneumonia. Sodium 128 "
                    "on admission (hyponatremia), corrected with fluids.",
                )
            ],
        ),
        created_by=None,
    )


def _pick(page, field: str, text: str, code: str) -> None:
    """Type into the focused code box, arrow down to ``code``, Enter."""
    page.keyboard.type(text, delay=15)
    # The reply to the whole text, not to a part typed before a pause.
    page.locator(f"#{field}-suggest [data-query='{text}']").wait_for()
    options = page.locator(f"#{field}-suggest [role=option]")
    options.filter(has_text=code).first.wait_for()
    codes = [o.get_attribute("data-code") for o in options.all()]
    for _ in range(codes.index(code) + 1):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.locator(f"#{field}-code[value='{code}']").wait_for()


def test_coder_claims_codes_by_keyboard_sees_the_drg_change_and_submits(
    page, live_server, screenshot, coder, password, uncoded_pneumonia
):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_test_id("queue-row").first.wait_for()
    assert "claim to see" in page.get_by_test_id("queue").inner_text()
    screenshot("coding-01-queue")

    page.get_by_test_id("claim-next").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("document").wait_for()
    page.wait_for_load_state("load")  # htmx wires the form on load
    assert page.url.endswith(f"/encounters/{uncoded_pneumonia.id}/")
    assert "Lee, Ann" in page.get_by_test_id("facts").inner_text()

    # Principal diagnosis: words, arrows, Enter. The DRG appears.
    page.locator("#dx-0-code").focus()
    _pick(page, "dx-0", "pneumonia unspecified organism", "J18.9")
    drg = page.get_by_test_id("drg")
    drg.filter(has_text="DRG 195").wait_for()
    page.keyboard.press("Tab")  # to POA
    page.keyboard.press("y")
    expect(page.locator("#dx-0-poa")).to_have_value("Y")
    screenshot("coding-02-principal")

    # Add the hyponatremia (a CC) by keyboard: Alt+D, type, pick. DRG 195 -> 194.
    page.keyboard.press("Alt+d")
    page.locator("#dx-1-code").wait_for()
    expect(page.locator("#dx-1-code")).to_be_focused()
    _pick(page, "dx-1", "hypo-osmolality", "E87.1")
    drg.filter(has_text="DRG 194").wait_for()
    assert "E87.1 CC" in drg.inner_text()
    assert "Changed from DRG" not in drg.inner_text()  # nothing saved yet
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    screenshot("coding-03-cc-added")

    # Save the draft (Alt+S), then submit.
    page.keyboard.press("Alt+s")
    page.get_by_test_id("banner").filter(has_text="Draft saved").wait_for()
    assert page.url.endswith(f"/encounters/{uncoded_pneumonia.id}/")  # no page post
    screenshot("coding-04-saved")
    page.get_by_test_id("submit").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("queue-empty").or_(page.get_by_test_id("queue")).wait_for()
    assert "submitted" in page.locator(".messages").inner_text()
    screenshot("coding-05-submitted")

    encounter = Encounter.objects.get(id=uncoded_pneumonia.id)
    assert encounter.status == "submitted"
    assert encounter.drg["drg"] == 194
    assert [(d.code, d.poa) for d in encounter.diagnoses.all()] == [
        ("J189", "Y"),
        ("E871", "Y"),
    ]
    assert list(
        CodingChange.objects.filter(encounter=encounter).values_list(
            "action", flat=True
        )
    ) == ["created", "claimed", "saved", "submitted"]


def test_keys_pressed_while_the_drg_is_recomputed_are_not_lost(
    page, live_server, coder, password, uncoded_pneumonia, monkeypatch
):
    """A fast coder does not wait for the live recheck: the POA typed and the row
    added (Alt+D) while its reply is out land in the form that replaces the panel."""
    from encounters import views

    grouped = views.encounter_drg

    def slow_drg(*args, **kwargs):
        time.sleep(0.8)  # the recheck is out while the coder keeps typing
        return grouped(*args, **kwargs)

    monkeypatch.setattr(views, "encounter_drg", slow_drg)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_test_id("claim-next").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("document").wait_for()
    page.wait_for_load_state("load")  # htmx wires the form on load

    page.locator("#dx-0-code").focus()
    page.keyboard.type("J18.9")
    page.keyboard.press("Enter")  # checks the code: the recheck goes out
    page.locator("#coding-form.htmx-request").wait_for(state="attached")
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    page.keyboard.press("Alt+d")
    page.keyboard.type("E87.1")  # before the new row is there: it goes into it

    expect(page.locator("#dx-1-code")).to_have_value("E87.1", timeout=20000)
    expect(page.locator("#dx-1-code")).to_be_focused()
    expect(page.locator("#dx-0-poa")).to_have_value("Y")
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")

    page.keyboard.press("Enter")  # the recheck goes out…
    page.locator("#coding-form.htmx-request").wait_for(state="attached")
    page.keyboard.press("Alt+s")  # …and the save is pressed before it is back
    page.get_by_test_id("banner").filter(has_text="Draft saved").wait_for(timeout=20000)
    assert "DRG 194" in page.get_by_test_id("drg").inner_text()

    encounter = Encounter.objects.get(id=uncoded_pneumonia.id)
    assert [(d.code, d.poa) for d in encounter.diagnoses.all()] == [
        ("J189", "Y"),
        ("E871", ""),
    ]

    # Alt+↑ then Alt+↓ on the same row before the first reply is in: the second move
    # follows the row the first one moved, so it ends where it started.
    page.locator("#dx-1-code").focus()
    coding_reply = lambda response: response.url.endswith("/coding/")  # noqa: E731
    with page.expect_response(coding_reply):
        page.keyboard.press("Alt+ArrowUp")
        page.locator("#coding-form.htmx-request").wait_for(state="attached")
        page.keyboard.press("Alt+ArrowDown")
    with page.expect_response(coding_reply, timeout=20000):
        pass  # the held move, sent once the first reply is in
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")
    expect(page.locator("#dx-1-code")).to_have_value("E87.1")
    # All of it through htmx: never a native form post (the page stays the chart).
    assert page.url.endswith(f"/encounters/{uncoded_pneumonia.id}/")


def _enter_code(page, field: str, code: str) -> None:
    """Type a code into the focused box and press Enter (check what was typed)."""
    page.keyboard.type(code, delay=15)
    page.keyboard.press("Enter")
    page.locator(f"#{field}-code[value='{code}']").wait_for()


def test_coder_sees_excludes1_and_poa_findings_while_coding_before_submit(
    page, live_server, screenshot, coder, password, uncoded_pneumonia
):
    """Diabetic polyneuropathy coded as E11.42 and G63 together (G63: Excludes1
    "E08-E13 with .42") and hypertension without its POA: both findings show beside
    their rows on the rechecks, before Submit; the checks API says the same."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_test_id("claim-next").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("document").wait_for()
    page.wait_for_load_state("load")  # htmx wires the form on load

    page.locator("#dx-0-code").focus()
    _enter_code(page, "dx-0", "J18.9")
    page.get_by_test_id("drg").filter(has_text="DRG 195").wait_for()
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    expect(page.locator("#dx-0-poa")).to_have_value("Y")
    # Picking E11.42 shows its "use additional code" prompt (insulin, oral drugs).
    page.keyboard.press("Alt+d")
    page.locator("#dx-1-code").wait_for()
    _enter_code(page, "dx-1", "E11.42")
    rows = page.get_by_test_id("dx-row")
    rows.nth(1).get_by_test_id("row-prompt").first.wait_for()
    assert "Use additional code" in rows.nth(1).inner_text()
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    page.keyboard.press("Alt+d")
    page.locator("#dx-2-code").wait_for()
    _enter_code(page, "dx-2", "G63")
    page.keyboard.press("Tab")
    page.keyboard.press("y")
    # Hypertension, POA left empty.
    page.keyboard.press("Alt+d")
    page.locator("#dx-3-code").wait_for()
    _enter_code(page, "dx-3", "I10")

    excludes1 = "[data-testid=live-finding][data-rule=excludes1]"
    poa = "[data-testid=live-finding][data-rule=poa-missing]"
    rows.nth(3).locator(poa).wait_for()
    rows.nth(1).locator(excludes1).wait_for()
    rows.nth(2).locator(excludes1).wait_for()
    assert rows.nth(0).locator(excludes1).count() == 0
    assert "G63" in rows.nth(1).locator(excludes1).inner_text()
    assert "I10" in rows.nth(3).locator(poa).inner_text()
    summary = page.get_by_test_id("checks-summary").inner_text()
    assert "warning" in summary
    screenshot("live-checks-01-while-coding")
    encounter = Encounter.objects.get(id=uncoded_pneumonia.id)
    assert encounter.status == "in_progress"  # nothing submitted yet
    on_page = {
        el.get_attribute("data-rule")
        for el in page.locator("[data-testid=live-finding]").all()
    }
    assert {"excludes1", "poa-missing"} <= on_page

    # Submit: what is still open is listed first. An error holds it (the audit
    # would return it at once): "Keep coding" has the focus.
    page.get_by_test_id("submit").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_test_id("confirm-submit")
    dialog.wait_for()
    assert dialog.locator(excludes1).count() == 1
    assert dialog.locator(poa).count() == 1
    assert page.get_by_test_id("submit-anyway").count() == 0
    expect(page.get_by_test_id("keep-coding")).to_be_focused()
    screenshot("live-checks-02-submit-held-by-an-error")
    assert Encounter.objects.get(id=uncoded_pneumonia.id).status == "in_progress"

    # The codes are saved: the checks API runs the same rules on them.
    response = page.request.get(
        f"{live_server.url}/api/v1/encounters/{uncoded_pneumonia.id}/checks/"
    )
    assert response.status == 200
    assert {f["rule"] for f in response.json()["findings"]} == on_page

    # The coder gives I10 its POA; the warnings remain: "Submit anyway" has the focus.
    page.keyboard.press("Escape")  # Keep coding
    dialog.wait_for(state="detached")
    page.locator("#dx-3-poa").focus()
    page.keyboard.press("y")
    rows.nth(3).locator(poa).wait_for(state="detached")
    page.get_by_test_id("submit").focus()
    page.keyboard.press("Enter")
    page.get_by_test_id("submit-anyway").wait_for()
    expect(page.get_by_test_id("submit-anyway")).to_be_focused()
    assert dialog.locator(poa).count() == 0
    screenshot("live-checks-03-submit-asks-about-warnings")
    page.keyboard.press("Enter")  # Submit anyway
    page.get_by_test_id("queue-empty").or_(page.get_by_test_id("queue")).wait_for()
    assert Encounter.objects.get(id=uncoded_pneumonia.id).status == "submitted"
