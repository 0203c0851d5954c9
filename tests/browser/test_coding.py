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
