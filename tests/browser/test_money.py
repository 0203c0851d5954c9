"""The DRG panel in dollars, in Chromium: a coder sees the payment of a transfer,
its reduction and the stay against the DRG's means; a supervisor sees what a
correction will do to the payment, saves it, and sees the DRG shift kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from codesets.services import payment_rate_set
from encounters.services import (
    DiagnosisInput,
    EncounterInput,
    PatientInput,
    encounter_claim,
    encounter_create,
    encounter_save_coding,
)
from tests.browser.test_audit_review import case_in_review  # noqa: F401  (fixture)
from tests.browser.test_coding import uncoded_pneumonia  # noqa: F401  (fixture)
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def rates(db):
    # The figures of tests/encounters/test_payment.py: a DRG's base is 7557.18.
    return payment_rate_set(
        facility="General",
        fiscal_year=2026,
        operating=Decimal("6800.00"),
        capital=Decimal("510.00"),
        wage_index=Decimal("1.05"),
        labor_share=Decimal("0.676"),
        gaf=Decimal("1.034"),
    ).rate


@pytest.fixture
def transfer(code_sets, coder):  # noqa: F811
    """Pneumonia with hyponatremia (DRG 194), one day, transferred to another
    hospital (02): claimed and coded by the coder."""
    encounter = encounter_create(
        data=EncounterInput(
            type="inpatient",
            facility="General",
            admit_date=dt.date(2026, 5, 13),
            discharge_date=dt.date(2026, 5, 14),
            discharge_status="02",
            patient=PatientInput(
                mrn="T1",
                first_name="Tom",
                last_name="Berg",
                birth_date=dt.date(1950, 3, 3),
                sex="M",
            ),
        ),
        created_by=None,
    )
    encounter = encounter_claim(user=coder, encounter_id=encounter.id)
    return encounter_save_coding(
        user=coder,
        encounter_id=encounter.id,
        version=encounter.version,
        diagnoses=[DiagnosisInput("J18.9", "Y"), DiagnosisInput("E87.1", "Y")],
    )


def _login(page, live_server, user, password):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/login/" not in url)


def test_the_coder_sees_the_payment_the_transfer_reduction_and_the_stay(
    page, live_server, screenshot, coder, password, rates, transfer
):
    _login(page, live_server, coder, password)
    page.goto(f"{live_server.url}/encounters/{transfer.id}/")
    page.wait_for_load_state("load")
    expect(page.get_by_test_id("discharge-status")).to_have_text(
        "02 — Discharged/transferred to a short-term general hospital for "
        "inpatient care"
    )
    drg = page.get_by_test_id("drg")
    expect(drg).to_contain_text("DRG 194")
    # 0.8059 x 7557.18 = 6090.33; per diem / 2.8 = 2175.12; x (1 + 1) days
    expect(page.get_by_test_id("drg-amount")).to_have_text("$4,350.24")
    expect(page.get_by_test_id("transfer-reduction")).to_contain_text(
        "full payment $6,090.33 \N{MINUS SIGN} $1,740.09 = $4,350.24 "
        "(per diem $2,175.12 \N{MULTIPLICATION SIGN} 2 days)"
    )
    expect(page.get_by_test_id("drg-stay")).to_contain_text(
        "LOS 1 d · GMLOS 2.8 d · AMLOS 3.4 d"
    )
    screenshot("money-01-transfer")

    # Acute respiratory failure instead of hyponatremia: DRG 193, before saving.
    box = page.locator("#dx-1-code")
    box.fill("J96.01")
    box.press("Enter")
    expect(drg).to_contain_text("DRG 193")
    # 1.3144 x 7557.18 = 9933.16; / 3.9 = 2546.96; x 2 = 5093.92 (+743.68)
    expect(page.get_by_test_id("drg-amount")).to_have_text("$5,093.92")
    expect(page.get_by_test_id("drg-payment-change")).to_contain_text(
        "Payment +$743.68: DRG 194 ($4,350.24) with the saved codes"
    )
    screenshot("money-02-transfer-what-the-new-code-pays")


def test_the_supervisor_sees_the_drg_shift_before_and_after_saving_a_correction(
    page,
    live_server,
    screenshot,
    supervisor,
    password,
    rates,
    case_in_review,  # noqa: F811
):
    _login(page, live_server, supervisor, password)
    page.goto(f"{live_server.url}/encounters/{case_in_review.id}/")
    page.wait_for_load_state("load")
    drg = page.get_by_test_id("drg")
    expect(drg).to_contain_text("DRG 195")
    expect(page.get_by_test_id("drg-amount")).to_have_text("$4,749.69")
    expect(page.get_by_test_id("drg-shift")).to_have_count(0)

    box = page.locator("#dx-1-code")
    box.fill("E87.1")
    box.press("Enter")
    expect(drg).to_contain_text("DRG 194")
    expect(page.get_by_test_id("drg-payment-change")).to_contain_text(
        "Payment +$1,340.64: DRG 195 ($4,749.69) with the saved codes → DRG 194 "
        "($6,090.33) as entered."
    )
    screenshot("money-03-shift-before-saving")

    page.get_by_test_id("correction-comment").fill("Hyponatremia documented, G63 not")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("banner")).to_contain_text("Correction saved")
    shift = page.get_by_test_id("drg-shift")
    expect(shift).to_contain_text("DRG 195 (weight 0.6285, $4,749.69)")
    expect(shift).to_contain_text("DRG 194 (weight 0.8059, $6,090.33)")
    expect(page.get_by_test_id("shift-payment")).to_have_text("+$1,340.64")
    expect(shift).to_contain_text("Hyponatremia documented, G63 not")
    screenshot("money-04-shift-after-saving")
