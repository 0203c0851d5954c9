"""Issue 12 in Chromium: the words coders type, then Enter, give the code a coder
would accept, on the coding form's own rows (no arrow keys, no code typed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from playwright.sync_api import expect

from codesets.services import release_import_now
from encounters.models import Encounter
from encounters.services import encounter_claim
from tests.browser.test_coding import uncoded_pneumonia  # noqa: F401  (fixture)
from tests.encounters.conftest import FY2026, code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PCS_INDEX = Path(__file__).resolve().parent.parent / "fixtures" / "icd10pcs_index"


@pytest.fixture
def pcs_index(code_sets):  # noqa: F811
    """The ICD-10-PCS Index and Definitions (cut fixtures), in force with the FY2026
    tables the encounter is coded against."""
    for name in ("icd10pcs_index_2025.xml", "icd10pcs_definitions_2025.xml"):
        release_import_now(
            path=PCS_INDEX / name,
            activate=True,
            effective_from=FY2026,
            effective_to=dt.date(2026, 9, 30),
        )


def _words_then_enter(page, field: str, text: str) -> None:
    page.locator(f"#{field}-code").focus()
    page.keyboard.type(text, delay=15)
    # The list answering the whole text (not a shorter query typed before a pause).
    page.locator(f"#{field}-suggest [data-query='{text}']").wait_for()
    page.keyboard.press("Enter")


def test_words_then_enter_put_the_code_a_coder_accepts_on_the_row(
    page,
    live_server,
    screenshot,
    coder,
    password,
    uncoded_pneumonia,  # noqa: F811
    pcs_index,
):
    encounter_claim(user=coder, encounter_id=uncoded_pneumonia.id)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_test_id("queue").or_(page.get_by_test_id("queue-empty")).wait_for()
    page.goto(f"{live_server.url}/encounters/{uncoded_pneumonia.id}/")
    page.get_by_test_id("document").wait_for()
    page.wait_for_load_state("load")  # htmx wires the form on load

    # "pneumonia", Enter: J18.9 (the index's code for the bare term), not B59.
    _words_then_enter(page, "dx-0", "pneumonia")
    expect(page.locator("#dx-0-code")).to_have_value("J18.9")
    page.get_by_test_id("drg").filter(has_text="DRG 195").wait_for()
    screenshot("lookup-01-pneumonia-enter")

    # An ICD-10-PCS row: "laparoscopic appendectomy", Enter: 0DTJ4ZZ.
    page.keyboard.press("Alt+p")
    page.locator("#px-0-code").wait_for()
    _words_then_enter(page, "px-0", "laparoscopic appendectomy")
    expect(page.locator("#px-0-code")).to_have_value("0DTJ4ZZ")
    screenshot("lookup-02-laparoscopic-appendectomy-enter")

    page.keyboard.press("Alt+s")
    page.get_by_test_id("banner").filter(has_text="Draft saved").wait_for()
    encounter = Encounter.objects.get(id=uncoded_pneumonia.id)
    assert [d.code for d in encounter.diagnoses.all()] == ["J189"]
    assert [p.code for p in encounter.procedures.all()] == ["0DTJ4ZZ"]
