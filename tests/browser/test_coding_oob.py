"""The coding form swaps only what the server computes (verdicts, DRG, checks,
history): what the coder is typing, and the suggestions under it, stay put while a
recheck or a save is out."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from encounters.audit.services import encounter_review_return
from encounters.models import Encounter
from tests.browser.test_audit_review import case_in_review  # noqa: F401  (fixture)
from tests.browser.test_coding import uncoded_pneumonia  # noqa: F401  (fixture)
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, user, password) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)


def _open(page, live_server, encounter) -> None:
    page.goto(f"{live_server.url}/encounters/{encounter.id}/")
    page.get_by_test_id("document").wait_for()
    page.wait_for_load_state("load")  # htmx wires the form on load


def test_suggestions_being_picked_survive_a_recheck_reply(
    page,
    live_server,
    coder,
    password,
    uncoded_pneumonia,  # noqa: F811
    monkeypatch,
):
    """The coder leaves the principal box (its recheck goes out, slowly), types words
    in the next box and arrows down the suggestions; the recheck's reply lands
    meanwhile: the list, the highlighted code and the words stay, Enter takes it."""
    from encounters import services, views

    grouped = views.encounter_drg

    def slow_drg(*args, **kwargs):
        time.sleep(1.5)
        return grouped(*args, **kwargs)

    monkeypatch.setattr(views, "encounter_drg", slow_drg)
    services.encounter_claim(user=coder, encounter_id=uncoded_pneumonia.id)
    _sign_in(page, live_server, coder, password)
    _open(page, live_server, uncoded_pneumonia)
    page.locator("#dx-0-code").focus()
    page.keyboard.type("J18.9")
    page.keyboard.press("Alt+d")  # a row, and the recheck of J18.9 goes out
    page.locator("#coding-form.htmx-request").wait_for(state="attached")
    expect(page.locator("#dx-1-code")).to_be_focused()
    page.keyboard.type("hypo-osmolality", delay=15)
    page.locator("#dx-1-suggest [data-query='hypo-osmolality']").wait_for()
    options = page.locator("#dx-1-suggest [role=option]")
    codes = [o.get_attribute("data-code") for o in options.all()]
    for _ in range(codes.index("E87.1") + 1):
        page.keyboard.press("ArrowDown")
    assert page.locator("#coding-form.htmx-request").count() == 1  # still out

    page.get_by_test_id("drg").filter(has_text="DRG 195").wait_for(timeout=20000)
    # At once, not after a new look-up: nothing of the box was replaced.
    assert options.count() == len(codes)
    highlighted = page.locator("#dx-1-suggest [role=option][aria-selected=true]")
    assert highlighted.get_attribute("data-code") == "E87.1"
    expect(page.locator("#dx-1-code")).to_have_value("hypo-osmolality")
    expect(page.locator("#dx-1-code")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#dx-1-code")).to_have_value("E87.1")
    page.get_by_test_id("drg").filter(has_text="DRG 194").wait_for(timeout=20000)


def test_the_history_and_the_status_refresh_after_a_save(
    page,
    live_server,
    coder,
    password,
    uncoded_pneumonia,  # noqa: F811
):
    from encounters import services

    services.encounter_claim(user=coder, encounter_id=uncoded_pneumonia.id)
    _sign_in(page, live_server, coder, password)
    _open(page, live_server, uncoded_pneumonia)
    history = page.get_by_test_id("history-row")
    expect(history).to_have_count(2)  # created, claimed
    page.locator("#dx-0-code").focus()
    page.keyboard.type("J18.9")
    page.keyboard.press("Enter")
    page.get_by_test_id("drg").filter(has_text="DRG 195").wait_for()
    page.keyboard.press("Alt+s")
    page.get_by_test_id("banner").filter(has_text="Draft saved").wait_for()
    expect(history).to_have_count(3)
    expect(history.first).to_contain_text("Codes saved")
    expect(history.first).to_contain_text("+ J18.9")
    expect(page.get_by_test_id("status")).to_have_text("In progress")
    # The codes typed are still there, and still where the cursor was.
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")
    expect(page.locator("#dx-0-code")).to_be_focused()

    page.keyboard.press("Alt+d")
    page.keyboard.type("E87.1")
    page.keyboard.press("Enter")
    page.keyboard.press("Alt+s")
    expect(history).to_have_count(4)
    expect(history.first).to_contain_text("+ E87.1")
    version = Encounter.objects.get(id=uncoded_pneumonia.id).version
    expect(history.first).to_contain_text(str(version))


def test_a_returned_encounter_shows_the_supervisors_comment_above_the_codes(
    page,
    live_server,
    screenshot,
    coder,
    supervisor,
    password,
    case_in_review,  # noqa: F811
):
    encounter_review_return(
        user=supervisor,
        encounter_id=case_in_review.id,
        version=case_in_review.version,
        comment="G63 needs its underlying condition coded first.",
    )
    _sign_in(page, live_server, coder, password)
    _open(page, live_server, case_in_review)
    note = page.get_by_test_id("return-note")
    expect(note).to_contain_text("Returned by")
    expect(note).to_contain_text(supervisor.get_full_name())
    expect(note).to_contain_text("G63 needs its underlying condition coded first.")
    # In the coding form, above the codes.
    form_box = page.locator("#coding-form").bounding_box()
    note_box = note.bounding_box()
    row_box = page.get_by_test_id("dx-row").first.bounding_box()
    assert form_box["y"] <= note_box["y"] < row_box["y"]
    screenshot("coding-returned-note")
    # A recheck keeps it.
    page.locator("#dx-1-code").focus()
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.locator("#coding-form.htmx-request").wait_for(state="detached")
    expect(note).to_be_visible()


def test_the_discharge_status_shows_its_meaning(
    page,
    live_server,
    coder,
    password,
    uncoded_pneumonia,  # noqa: F811
):
    from encounters import services

    services.encounter_claim(user=coder, encounter_id=uncoded_pneumonia.id)
    _sign_in(page, live_server, coder, password)
    _open(page, live_server, uncoded_pneumonia)
    expect(page.get_by_test_id("discharge-status")).to_have_text(
        "01 — Discharged to home or self-care (routine discharge)"
    )


def test_procedure_rows_are_added_switched_and_removed_in_the_page(
    page,
    live_server,
    coder,
    password,
    uncoded_pneumonia,  # noqa: F811
):
    """A stay's new procedure row is ICD-10-PCS (no modifiers, the table builder);
    switched to CPT it has a modifiers box; removed, the list says so."""
    from encounters import services

    services.encounter_claim(user=coder, encounter_id=uncoded_pneumonia.id)
    _sign_in(page, live_server, coder, password)
    _open(page, live_server, uncoded_pneumonia)
    page.locator("#dx-0-code").focus()
    none = page.locator("[data-testid=px-rows] > .none")
    expect(none).to_be_visible()
    page.keyboard.press("Alt+p")
    expect(page.locator("#px-0-code")).to_be_focused()
    expect(none).to_be_hidden()
    expect(page.locator("#px-0-system")).to_have_value("icd10pcs")
    expect(page.locator("#px-0-modifiers")).to_be_hidden()
    expect(page.get_by_test_id("pcs-build")).to_be_visible()
    page.locator("#px-0-system").select_option("cpt")
    expect(page.locator("#px-0-modifiers")).to_be_visible()
    expect(page.get_by_test_id("pcs-build")).to_be_hidden()
    page.keyboard.press("Alt+p")
    expect(page.locator("#px-1-code")).to_be_focused()
    assert page.locator("#px-1-code").get_attribute("aria-controls") == "px-1-suggest"
    page.get_by_label("Remove procedure 1").click()
    # The row that was second is first now, numbered as the server reads it.
    expect(page.get_by_test_id("px-row")).to_have_count(1)
    expect(page.locator("#px-0-system")).to_have_value("icd10pcs")
    expect(page.locator("input[name=px-count]")).to_have_value("1")
    page.get_by_label("Remove procedure 1").click()
    expect(none).to_be_visible()
    expect(page.locator("input[name=px-count]")).to_have_value("0")
