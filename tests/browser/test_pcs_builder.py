"""The ICD-10-PCS table builder in Chromium, by keyboard alone: 0SRC0J9 (replacement
of the right knee joint with a synthetic substitute, cemented, open) from the
encoder, and into a procedure row of the coding form."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from codesets.services import release_import_now
from encounters.services import (
    DocumentInput,
    EncounterInput,
    PatientInput,
    encounter_claim,
    encounter_create,
)
from tests.encounters.conftest import FIXTURES, code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KNEE = "0SRC0J9"
KNEE_TITLE = (
    "Replacement of Right Knee Joint with Synthetic Substitute, Cemented, Open Approach"
)


def _sign_in(page, live_server, user, password) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Encoder").wait_for()


def _step(page, typed: str):
    """The builder's step for exactly ``typed`` (not for a shorter text typed before)."""
    step = page.locator(f'#pcs-builder-step[data-typed="{typed}"]')
    step.wait_for()
    return step


def _arrow_to(page, character: str) -> None:
    """↓ until the value ``character`` is highlighted."""
    options = page.locator("#pcs-builder-values [role=option]")
    characters = [o.get_attribute("data-character") for o in options.all()]
    for _ in range(characters.index(character) + 1):
        page.keyboard.press("ArrowDown")
    expect(page.locator(f"#pcs-value-{character}")).to_have_attribute(
        "aria-selected", "true"
    )


def _values(page) -> list[str]:
    options = page.locator("#pcs-builder-values [role=option]")
    return [o.get_attribute("data-character") for o in options.all()]


def test_coder_builds_0src0j9_in_the_encoder_by_keyboard_alone(
    page, live_server, screenshot, settings, tmp_path, coder, password
):
    settings.MEDIA_ROOT = tmp_path
    release_import_now(
        path=FIXTURES / "encounters" / "icd10pcs_tables_fy2026.xml",
        activate=True,
        effective_from=dt.date(2025, 10, 1),
        effective_to=dt.date(2026, 9, 30),
    )
    _sign_in(page, live_server, coder, password)
    page.goto(f"{live_server.url}/codesets/encoder/")
    page.get_by_label("Date of service").fill("2026-05-01")
    box = page.get_by_role("combobox", name="Code or words")
    box.focus()

    # Alt+B from the empty search box: the sections of the tables in force.
    page.keyboard.press("Alt+b")
    builder = page.get_by_test_id("pcs-builder")
    builder.wait_for()
    code_box = page.locator("#pcs-builder-code")
    expect(code_box).to_be_focused()
    _step(page, "")
    assert "tables in force on 2026-05-01" in builder.inner_text()
    assert _values(page) == ["0", "1", "3", "4", "5"]
    screenshot("pcs-builder-01-sections")

    # Section by arrow and Enter; body system by typing its character.
    _arrow_to(page, "0")
    page.keyboard.press("Enter")
    _step(page, "0")
    page.keyboard.type("s")
    _step(page, "0S")
    # One operation in this body system (Replacement): highlighted, Enter takes it.
    assert "Putting in or on biological or synthetic material" in builder.inner_text()
    screenshot("pcs-builder-02-operation")
    page.keyboard.press("Enter")
    step = _step(page, "0SR")
    assert "Character 4: Body Part" in step.inner_text()
    screenshot("pcs-builder-03-body-part")

    _arrow_to(page, "C")
    page.keyboard.press("Enter")
    _step(page, "0SRC")
    assert _values(page) == ["0"]  # the knee is replaced by an open approach only
    page.keyboard.press("Enter")
    _step(page, "0SRC0")
    assert _values(page) == ["6", "7", "E", "J", "K", "L", "M", "N"]
    _arrow_to(page, "J")
    page.keyboard.press("Enter")
    step = _step(page, "0SRC0J")
    assert _values(page) == ["9", "A", "Z"]
    slots = page.get_by_test_id("pcs-slots").inner_text()
    assert "Knee Joint, Right" in slots and "Synthetic Substitute" in slots
    screenshot("pcs-builder-04-qualifier")

    # A character the row does not allow is not taken; Backspace goes back.
    page.keyboard.type("d")
    _step(page, "0SRC0JD")
    assert "not a qualifier the tables allow" in (
        page.get_by_test_id("pcs-builder-message").inner_text()
    )
    page.keyboard.press("Backspace")
    _step(page, "0SRC0J")
    page.keyboard.type("9")
    done = page.get_by_test_id("pcs-builder-done")
    done.wait_for()
    assert KNEE in done.inner_text() and KNEE_TITLE in done.inner_text()
    screenshot("pcs-builder-05-finished")

    # Backspace goes back a step from the finished code too.
    page.keyboard.press("Backspace")
    _step(page, "0SRC0J")
    page.keyboard.type("9")
    _step(page, KNEE)

    # Enter uses the code: the encoder shows it and opens its panel.
    page.keyboard.press("Enter")
    panel = page.get_by_test_id("code-panel")
    panel.filter(has_text=KNEE_TITLE).wait_for()
    expect(box).to_have_value(KNEE)
    page.locator(f'#results[data-query="{KNEE}"]').wait_for()
    screenshot("pcs-builder-06-code-panel")

    # From a table typed in the search box, Alt+B starts at that table; Esc goes
    # back to the box.
    box.fill("")
    page.keyboard.type("0sr", delay=20)
    page.keyboard.press("Alt+b")
    _step(page, "0SR")
    expect(code_box).to_be_focused()
    expect(code_box).to_have_value("0SR")
    page.keyboard.press("Escape")
    expect(box).to_be_focused()

    # Typed ahead of the replies, then Enter at once: Enter waits for the step of
    # the whole code and uses it (the left knee this time).
    page.keyboard.press("Alt+b")
    _step(page, "0SR")
    page.keyboard.type("d0j9")
    page.keyboard.press("Enter")
    panel.filter(has_text="Replacement of Left Knee Joint").wait_for()
    expect(box).to_have_value("0SRD0J9")

    # Another date of service: the builder follows it (no tables before FY2026 here).
    page.keyboard.press("Alt+b")
    _step(page, "0SRD0J9")
    page.get_by_label("Date of service").fill("2024-05-01")
    page.get_by_test_id("pcs-builder").filter(
        has_text="tables in force on 2024-05-01"
    ).wait_for()
    assert "No ICD-10-PCS release covers 2024-05-01" in (
        page.get_by_test_id("pcs-builder-message").inner_text()
    )

    # A PCS code highlighted in the results is where Alt+B starts.
    page.get_by_label("Date of service").fill("2026-05-01")
    page.get_by_test_id("pcs-builder").filter(
        has_text="tables in force on 2026-05-01"
    ).wait_for()
    box.focus()
    box.fill("")
    page.keyboard.type("0sr", delay=20)
    page.locator('#results[data-query="0sr"]').wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    highlighted = page.locator("#results-list [aria-selected=true] .code").inner_text()
    assert highlighted.startswith("0SR") and len(highlighted) == 7
    page.keyboard.press("Alt+b")
    _step(page, highlighted)
    expect(code_box).to_be_focused()


@pytest.fixture
def knee_replacement_stay(code_sets, coder):  # noqa: F811
    encounter = encounter_create(
        data=EncounterInput(
            type="inpatient",
            facility="General",
            admit_date=dt.date(2026, 5, 10),
            discharge_date=dt.date(2026, 5, 12),
            discharge_status="01",
            attending_provider="Dr. Rivera",
            patient=PatientInput(
                mrn="K900",
                first_name="Kim",
                last_name="Park",
                birth_date=dt.date(1951, 3, 4),
                sex="F",
            ),
            documents=[
                DocumentInput(
                    kind="operative_note",
                    text="Bilateral total knee arthroplasty, cemented components.",
                )
            ],
        ),
        created_by=None,
    )
    return encounter_claim(user=coder, encounter_id=encounter.id)


def test_coder_builds_0src0j9_into_a_procedure_row_by_keyboard_alone(
    page, live_server, screenshot, coder, password, knee_replacement_stay
):
    _sign_in(page, live_server, coder, password)
    page.goto(f"{live_server.url}/encounters/{knee_replacement_stay.id}/")
    page.get_by_test_id("document").wait_for()
    page.wait_for_load_state("load")  # htmx wires the form on load
    page.locator("#dx-0-code").focus()

    # Alt+P adds a procedure row (ICD-10-PCS for a stay); Alt+B opens the builder.
    page.keyboard.press("Alt+p")
    row_box = page.locator("#px-0-code")
    row_box.wait_for()
    expect(row_box).to_be_focused()
    page.keyboard.press("Alt+b")
    dialog = page.get_by_test_id("pcs-builder-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#pcs-builder-code")).to_be_focused()
    _step(page, "")
    # The tables in force on the discharge date.
    assert "tables in force on 2026-05-12" in dialog.inner_text()

    page.keyboard.type("0sr", delay=20)
    _step(page, "0SR")
    _arrow_to(page, "C")
    screenshot("pcs-builder-07-coding-form-body-part")
    page.keyboard.press("Enter")
    _step(page, "0SRC")
    page.keyboard.press("Enter")  # Open, the only approach
    _step(page, "0SRC0")
    page.keyboard.type("j9", delay=20)
    _step(page, KNEE)
    page.get_by_test_id("pcs-builder-done").wait_for()
    screenshot("pcs-builder-08-coding-form-finished")

    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("px-row").first
    row.filter(has_text=KNEE_TITLE).wait_for()
    expect(page.locator("#px-0-code")).to_have_value(KNEE)
    screenshot("pcs-builder-09-coding-form-row")

    # Esc closes the builder without touching the row.
    page.locator("#px-0-code").focus()
    page.keyboard.press("Alt+b")
    expect(dialog).to_be_visible()
    _step(page, KNEE)  # it starts from the row's code
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#px-0-code")).to_have_value(KNEE)
    expect(page.locator("#px-0-code")).to_be_focused()

    # The other knee in a second row, typed straight after Alt+B and Enter at once,
    # before the builder or its steps have arrived: nothing typed is lost.
    page.keyboard.press("Alt+p")
    expect(page.locator("#px-1-code")).to_be_focused()
    page.keyboard.press("Alt+b")
    page.keyboard.type("0srd0j9")
    page.keyboard.press("Enter")
    expect(page.locator("#px-1-code")).to_have_value("0SRD0J9")
    expect(dialog).to_be_hidden()
    page.get_by_test_id("px-row").nth(1).filter(
        has_text="Replacement of Left Knee Joint with Synthetic Substitute, Cemented"
    ).wait_for()
    expect(page.locator("#px-0-code")).to_have_value(KNEE)
    screenshot("pcs-builder-10-coding-form-both-knees")
