"""The what-if under the DRG panel in Chromium, by keyboard: open it, read the other
principal diagnoses and the tier, change a code and see it follow (still open);
a supervisor's case shows a hospital-acquired condition."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from encounters.audit.services import encounter_audit
from encounters.models import Encounter
from encounters.services import (
    DiagnosisInput,
    encounter_claim,
    encounter_save_coding,
    encounter_submit,
)
from tests.browser.test_coding import uncoded_pneumonia  # noqa: F401  (fixture)
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(encounter_id: int, user, diagnoses: list[tuple[str, str]]) -> Encounter:
    encounter = encounter_claim(user=user, encounter_id=encounter_id)
    return encounter_save_coding(
        user=user,
        encounter_id=encounter.id,
        version=encounter.version,
        diagnoses=[DiagnosisInput(code, poa) for code, poa in diagnoses],
    )


def _sign_in(page, live_server, user, password) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.locator("main").wait_for()


def test_coder_opens_the_what_if_by_keyboard_and_it_follows_the_codes(
    page,
    live_server,
    screenshot,
    coder,
    password,
    uncoded_pneumonia,  # noqa: F811
):
    encounter = _code(
        uncoded_pneumonia.id,
        coder,
        [("J18.9", "Y"), ("E87.1", "Y"), ("N17.9", "Y"), ("Z87.891", "Y")],
    )
    _sign_in(page, live_server, coder, password)
    page.goto(f"{live_server.url}/encounters/{encounter.id}/")
    page.wait_for_load_state("load")  # htmx wires the form on load
    expect(page.get_by_test_id("drg")).to_contain_text("DRG 194")

    whatif = page.get_by_test_id("whatif")
    alternatives = page.get_by_test_id("whatif-alternatives")
    expect(whatif).not_to_have_attribute("open", "")
    expect(alternatives).to_be_hidden()

    page.locator("#drg-whatif > summary").focus()
    page.keyboard.press("Enter")
    expect(alternatives).to_be_visible()
    # Heaviest first: renal failure as principal (the pneumonia its MCC) is 682.
    rows = page.get_by_test_id("whatif-alternative")
    expect(rows.first).to_have_attribute("data-code", "N17.9")
    expect(rows.first).to_have_attribute("data-drg", "682")
    expect(page.get_by_test_id("whatif-skipped")).to_contain_text(
        "Z87.891: unacceptable as principal diagnosis (MCE)"
    )
    expect(page.get_by_test_id("whatif-guideline")).to_contain_text("Section II")
    expect(page.get_by_test_id("whatif-tier")).to_contain_text("tier of")
    screenshot("whatif-01-open")

    # A41.9 typed over the hyponatremia: the what-if follows the rows as entered
    # and stays open across the panel's refresh.
    box = page.locator("#dx-1-code")
    box.fill("A41.9")
    box.press("Enter")
    expect(page.get_by_test_id("drg")).to_contain_text("DRG 193")
    expect(rows.first).to_have_attribute("data-code", "A41.9")
    expect(rows.first).to_have_attribute("data-drg", "871")
    expect(page.get_by_test_id("whatif")).to_have_attribute("open", "")
    expect(page.get_by_test_id("whatif-tier")).to_contain_text(
        "MS-DRG 193 is the “with MCC” tier of 193/194/195"
    )
    screenshot("whatif-02-followed-the-codes")

    # Read-only: nothing was saved.
    saved = Encounter.objects.get(id=encounter.id)
    assert saved.version == encounter.version
    assert [d.display for d in saved.diagnoses.all()] == [
        "J18.9",
        "E87.1",
        "N17.9",
        "Z87.891",
    ]


def test_supervisor_sees_a_hospital_acquired_condition_in_the_what_if(
    page,
    live_server,
    screenshot,
    supervisor,
    coder,
    password,
    settings,
    uncoded_pneumonia,  # noqa: F811
):
    # Submitted and audited: the HAC warning sends it to the supervisor's review.
    settings.AUDIT_SAMPLE_RATE = 0
    encounter = _code(uncoded_pneumonia.id, coder, [("J18.9", "Y"), ("L89.153", "N")])
    encounter_submit(user=coder, encounter_id=encounter.id, version=encounter.version)
    encounter_audit(encounter_id=encounter.id)
    assert Encounter.objects.get(id=encounter.id).status == "in_review"

    _sign_in(page, live_server, supervisor, password)
    page.goto(f"{live_server.url}/encounters/{encounter.id}/")
    page.wait_for_load_state("load")
    page.get_by_test_id("review-actions").wait_for()
    expect(page.get_by_test_id("drg")).to_contain_text("DRG 195")
    page.locator("#drg-whatif > summary").focus()
    page.keyboard.press("Space")
    hac = page.get_by_test_id("whatif-hac")
    expect(hac).to_be_visible()
    expect(hac).to_contain_text("HAC 04")
    expect(hac).to_contain_text("Had it been present on admission: DRG 193")
    expect(hac).to_contain_text("as coded: DRG 195")
    screenshot("whatif-03-hac")
