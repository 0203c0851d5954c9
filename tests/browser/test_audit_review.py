"""A supervisor's review in Chromium: filter the queue, open a case, correct a code
seeing the DRG change first, accept, and the coder's accuracy updates."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from encounters.audit.services import encounter_audit
from encounters.models import Encounter, Finding
from encounters.services import (
    DiagnosisInput,
    encounter_claim,
    encounter_save_coding,
    encounter_submit,
)
from tests.browser.test_coding import uncoded_pneumonia  # noqa: F401  (fixture)
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def case_in_review(uncoded_pneumonia, coder, settings):  # noqa: F811
    """The coder sent G63 (a manifestation) without its underlying condition: the
    audit raises a code-first warning and the encounter goes to review."""
    settings.AUDIT_SAMPLE_RATE = 0
    encounter = encounter_claim(user=coder, encounter_id=uncoded_pneumonia.id)
    encounter = encounter_save_coding(
        user=coder,
        encounter_id=encounter.id,
        version=encounter.version,
        diagnoses=[DiagnosisInput("J18.9", "Y"), DiagnosisInput("G63", "Y")],
    )
    encounter = encounter_submit(
        user=coder, encounter_id=encounter.id, version=encounter.version
    )
    encounter_audit(encounter_id=encounter.id)
    encounter.refresh_from_db()
    assert encounter.status == "in_review"
    return encounter


def test_supervisor_filters_opens_corrects_sees_the_drg_change_and_accuracy_updates(
    page, live_server, screenshot, supervisor, coder, password, case_in_review
):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(supervisor.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.get_by_test_id("queue-stats").wait_for()
    accuracy = page.get_by_test_id("accuracy")
    assert "0.00" in accuracy.inner_text()  # audited once, nothing confirmed yet

    page.get_by_label("Rule").select_option("code-first")
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_test_id("case-row")
    expect(row).to_have_count(1)
    assert "code-first" in row.inner_text()
    screenshot("review-01-queue-filtered")

    row.get_by_role("link", name="Open").click()
    finding = page.get_by_test_id("finding").filter(has_text="code-first")
    expect(finding).to_contain_text("G63 is a manifestation")
    drg = page.get_by_test_id("drg")
    expect(drg).to_contain_text("DRG 195")
    screenshot("review-02-case")

    # Correct: the second diagnosis becomes E87.1 (a CC). The DRG change shows
    # before anything is saved.
    box = page.locator("#dx-1-code")
    box.fill("E87.1")
    box.press("Enter")
    expect(drg).to_contain_text("DRG 194")
    expect(page.get_by_test_id("drg-change")).to_contain_text("Changed from DRG 195")
    assert (
        Encounter.objects.get(id=case_in_review.id)
        .diagnoses.filter(code="G63")
        .exists()
    )
    screenshot("review-03-drg-change-before-saving")

    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("banner")).to_contain_text("Correction saved")
    page.get_by_test_id("accept").click()
    expect(page.locator(".messages")).to_contain_text("accepted: final")
    screenshot("review-04-accepted")

    encounter = Encounter.objects.get(id=case_in_review.id)
    assert encounter.status == "final"
    assert encounter.drg["drg"] == 194
    assert (
        Finding.objects.get(encounter=encounter, rule="code-first").status
        == "corrected"
    )
    actions = list(encounter.changes.values_list("action", flat=True))
    assert actions[-2:] == ["corrected", "accepted"]
    # One audited encounter, one finding confirmed by the correction.
    expect(
        page.get_by_test_id("accuracy-row").filter(has_text=coder.get_full_name())
    ).to_contain_text("1.00")
    screenshot("review-05-accuracy")
