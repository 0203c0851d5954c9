"""The encoder's Index section in Chromium: the drug table leads to the code."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from codesets.services import release_import_now
from tests.codesets.conftest import CM_FY2025, FIXTURES

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coder_finds_a_drug_adverse_effect_code_in_the_index(
    page, live_server, screenshot, settings, tmp_path, coder, password
):
    settings.MEDIA_ROOT = tmp_path
    release_import_now(path=CM_FY2025, activate=True)
    release_import_now(
        path=FIXTURES / "icd10cm_index" / "drug_fy2025_april.xml", activate=True
    )
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(coder.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Encoder").click()
    page.get_by_label("Date of service").fill("2025-06-01")

    page.get_by_role("combobox", name="Code or words").focus()
    page.keyboard.type("acetaminophen adverse", delay=20)
    index = page.get_by_role("region", name="Index")
    link = index.get_by_role("link", name="T39.1X5")
    link.wait_for()
    row = index.locator("tbody tr").first
    assert "Acetaminophen" in row.inner_text()
    assert "Adverse effect" in row.inner_text()
    assert link.get_attribute("hx-get") == (
        "/codesets/encoder/icd10cm/T391X5/?dos=2025-06-01"
    )
    screenshot("encoder-index")

    # By keyboard: ↓ past the codes found (if any) to the index entry, Enter opens it.
    page.locator('#results[data-query="acetaminophen adverse"]').wait_for()
    codes = page.locator("#results-list [role=option]").count()
    for _ in range(codes + 1):
        page.keyboard.press("ArrowDown")
    expect(row).to_have_attribute("data-active", "true")
    page.keyboard.press("Enter")
    panel = page.get_by_test_id("code-panel")
    panel.get_by_role("heading", name="T39.1X5").wait_for()
    # The cut tabular of this test has no T39: the panel says so, plainly.
    assert "No ICD-10-CM release loaded here holds T39.1X5" in panel.inner_text()
    screenshot("encoder-index-opened")
