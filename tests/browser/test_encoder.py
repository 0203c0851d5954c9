"""The encoder in Chromium, by keyboard only: type, arrows, Enter, read the notes."""

from __future__ import annotations

import datetime as dt

import pytest

from codesets.services import release_import_now
from tests.codesets.conftest import CM_FY2026

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coder_finds_a_code_by_keyboard_and_reads_its_notes(
    page, live_server, screenshot, settings, tmp_path, coder, password
):
    settings.MEDIA_ROOT = tmp_path
    release_import_now(
        path=CM_FY2026,
        activate=True,
        effective_from=dt.date(2025, 10, 1),
        effective_to=dt.date(2026, 9, 30),
    )
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Encoder").click()
    page.get_by_label("Date of service").fill("2026-05-01")

    box = page.get_by_role("combobox", name="Code or words")
    box.focus()
    page.keyboard.type("diab mel type 2 hyperglyc", delay=20)
    # Wait for the reply to the whole query, not to a part typed before a pause.
    page.locator('#results[data-query="diab mel type 2 hyperglyc"]').wait_for()
    results = page.get_by_role("listbox", name="Matching codes")
    results.get_by_role("option").first.filter(has_text="E11.65").wait_for()
    screenshot("encoder-typed")

    page.keyboard.press("ArrowDown")
    assert results.get_by_role("option").first.get_attribute("aria-selected") == "true"
    page.keyboard.press("Enter")
    panel = page.get_by_test_id("code-panel")
    panel.get_by_role(
        "heading", name="E11.65 Type 2 diabetes mellitus with hyperglycemia"
    ).wait_for()
    assert panel.get_by_test_id("validity").inner_text() == "Valid on 2026-05-01"
    assert "Use additional code" in panel.inner_text()
    assert page.url.endswith("/codesets/encoder/")  # no page reload
    screenshot("encoder-notes")

    # A category that needs a 7th character: the panel offers them with placeholder X.
    box.fill("")
    page.keyboard.type("t36.0x1", delay=20)
    page.locator('#results[data-query="t36.0x1"]').wait_for()
    results.get_by_role("option").first.filter(has_text="T36.0X1").wait_for()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    panel.get_by_test_id("seventh").wait_for()
    assert "T36.0X1A" in panel.get_by_test_id("seventh").inner_text()
    screenshot("encoder-seventh-character")
