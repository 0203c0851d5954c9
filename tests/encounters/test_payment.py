"""The payment estimate (DESIGN.md "Payment estimate"), computed by hand to the cent.

Every case uses the rates of "General" for FY2026 set below:
    operating 6,800.00, capital 510.00, wage index 1.05, labor share 0.676, GAF 1.034
so the base of every MS-DRG (its payment at weight 1) is
    6800.00 x (0.676 x 1.05 + 1 - 0.676) = 6800.00 x 1.0338 = 7029.84
  +  510.00 x 1.034                                         =  527.34
  = 7557.18
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from codesets.models import PaymentRate, PaymentRateChange
from codesets.services import payment_rate_set
from encounters.audit.services import encounter_review_correct
from encounters.models import DrgShift
from encounters.payment import payment_estimate
from encounters.services import DiagnosisInput, encounter_claim
from tests.encounters.conftest import pneumonia_payload
from tests.encounters.test_audit_views import in_review  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

DISCHARGE = dt.date(2026, 5, 14)  # FY2026


@pytest.fixture
def rates(db):
    return payment_rate_set(
        facility="General",
        fiscal_year=2026,
        operating=Decimal("6800.00"),
        capital=Decimal("510.00"),
        wage_index=Decimal("1.05"),
        labor_share=Decimal("0.676"),
        gaf=Decimal("1.034"),
    ).rate


def _estimate(
    *,
    drg=194,
    weight="0.8059",
    gmlos="2.8",
    los=4,
    status="01",
    post_acute=True,
    special_pay=False,
    facility="General",
    discharge=DISCHARGE,
):
    return payment_estimate(
        facility=facility,
        discharge_date=discharge,
        admit_date=discharge - dt.timedelta(days=los),
        discharge_status=status,
        drg=drg,
        weight=None if weight is None else Decimal(weight),
        gmlos=None if gmlos is None else Decimal(gmlos),
        post_acute=post_acute,
        special_pay=special_pay,
    ).as_dict()


def test_a_routine_discharge_is_paid_the_full_drg_amount(rates):
    # MS-DRG 194, weight 0.8059: 0.8059 x 7557.18 = 6090.331362 -> 6090.33
    # per diem 6090.33 / GMLOS 2.8 = 2175.1178... -> 2175.12
    payment = _estimate(status="01", los=4)
    assert payment == {
        "amount": "6090.33",
        "full_amount": "6090.33",
        "per_diem": "2175.12",
        "transfer": False,
        "explanation": payment["explanation"],
    }
    assert payment["explanation"].startswith("Full MS-DRG payment: weight 0.8059")


def test_an_acute_to_acute_transfer_under_the_gmlos_is_paid_per_diem(rates):
    # status 02, LOS 1: 1 + 1 = 2 days < GMLOS 2.8
    # paid 2175.12 x 2 = 4350.24 (full 6090.33; 1740.09 less)
    payment = _estimate(status="02", los=1, post_acute=False)
    assert payment["amount"] == "4350.24"
    assert payment["full_amount"] == "6090.33"
    assert payment["per_diem"] == "2175.12"
    assert payment["transfer"] is True
    assert "acute-care transfer (42 CFR 412.4(b))" in payment["explanation"]
    assert "$1,740.09 less" in payment["explanation"]


def test_a_same_day_transfer_is_paid_two_per_diems(rates):
    # LOS 0 counts as 1 day, + 1 for the first day: 2175.12 x 2 = 4350.24
    assert _estimate(status="66", los=0)["amount"] == "4350.24"


def test_a_post_acute_transfer_under_the_gmlos_is_paid_per_diem(rates):
    # MS-DRG 193 (post-acute), weight 1.3144: 1.3144 x 7557.18 = 9933.157392 -> 9933.16
    # per diem 9933.16 / 3.9 = 2546.9641... -> 2546.96; to a SNF (03) after LOS 2:
    # 2 + 1 = 3 days < 3.9, paid 2546.96 x 3 = 7640.88
    payment = _estimate(drg=193, weight="1.3144", gmlos="3.9", los=2, status="03")
    assert payment["amount"] == "7640.88"
    assert payment["full_amount"] == "9933.16"
    assert payment["per_diem"] == "2546.96"
    assert payment["transfer"] is True
    assert "post-acute-care transfer (42 CFR 412.4(c))" in payment["explanation"]


def test_a_post_acute_transfer_over_the_gmlos_is_paid_in_full(rates):
    # LOS 4: 2546.96 x 5 = 12734.80 > full 9933.16 -> capped at 9933.16
    payment = _estimate(drg=193, weight="1.3144", gmlos="3.9", los=4, status="03")
    assert payment["amount"] == "9933.16"
    assert payment["full_amount"] == "9933.16"
    assert payment["transfer"] is True
    assert "paid in full" in payment["explanation"]


def test_a_post_acute_status_does_not_reduce_a_drg_table5_does_not_mark(rates):
    payment = _estimate(
        drg=193, weight="1.3144", gmlos="3.9", los=2, status="03", post_acute=False
    )
    assert (payment["amount"], payment["transfer"]) == ("9933.16", False)


def test_a_special_pay_drg_gets_half_the_full_amount_and_half_the_per_diem(rates):
    # MS-DRG 481 (post-acute, special pay), weight 2.0945:
    # 2.0945 x 7557.18 = 15828.51351 -> 15828.51; per diem 15828.51 / 4.3 = 3681.0488
    # -> 3681.05; to a SNF after LOS 1 (2 days):
    # 15828.51 / 2 + 3681.05 x 2 / 2 = 7914.255 + 3681.05 = 11595.305 -> 11595.31
    payment = _estimate(
        drg=481, weight="2.0945", gmlos="4.3", los=1, status="03", special_pay=True
    )
    assert payment["amount"] == "11595.31"
    assert payment["full_amount"] == "15828.51"
    assert payment["per_diem"] == "3681.05"
    assert "42 CFR 412.4(f)(2)" in payment["explanation"]


def test_an_acute_transfer_of_a_special_pay_drg_is_paid_plain_per_diem(rates):
    # 412.4(f)(2) is for post-acute transfers: to another hospital (02) the same
    # stay is paid 3681.05 x 2 = 7362.10
    payment = _estimate(
        drg=481, weight="2.0945", gmlos="4.3", los=1, status="02", special_pay=True
    )
    assert payment["amount"] == "7362.10"


def test_without_rates_for_the_facility_and_year_there_is_no_amount(rates):
    # Discharged 2026-10-01: FY2027, for which General has no rates.
    payment = _estimate(discharge=dt.date(2026, 10, 1))
    assert payment["amount"] is None
    assert payment["full_amount"] is None
    assert "no IPPS rates for General in FY2027" in payment["explanation"]
    other = _estimate(facility="Elsewhere")
    assert other["amount"] is None
    assert "no IPPS rates for Elsewhere in FY2026" in other["explanation"]


def test_an_ungroupable_drg_has_no_weight_and_no_amount(rates):
    payment = _estimate(drg=998, weight=None, gmlos=None)
    assert payment == {
        "amount": None,
        "full_amount": None,
        "per_diem": None,
        "transfer": False,
        "explanation": "No estimate: MS-DRG 998 has no relative weight (ungroupable).",
    }


# --- manage.py payment_rates -----------------------------------------------------------


def test_the_command_sets_rates_with_the_rules_defaults(capsys):
    call_command(
        "payment_rates",
        "--facility=General",
        "--fiscal-year=2026",
        "--operating=6952.49",
        "--capital=507.59",
    )
    rate = PaymentRate.objects.get(facility="General", fiscal_year=2026)
    assert rate.wage_index == Decimal("1.0000")
    assert rate.labor_share == Decimal("0.6200")  # wage index <= 1
    assert rate.gaf == Decimal("1.0000")
    out = capsys.readouterr().out
    assert "Created: General FY2026: operating 6952.49, capital 507.59" in out
    assert "defaults: wage index, labor share, gaf" in out


def test_the_command_replaces_the_years_rates_and_keeps_the_history(capsys):
    call_command(
        "payment_rates",
        "--facility=General",
        "--fiscal-year=2026",
        "--operating=6952.49",
        "--capital=507.59",
    )
    call_command(
        "payment_rates",
        "--facility=General",
        "--fiscal-year=FY2026",
        "--operating=7000",
        "--capital=510",
        "--wage-index=1.2",
    )
    rate = PaymentRate.objects.get(facility="General", fiscal_year=2026)
    assert rate.operating == Decimal("7000.00")
    assert rate.labor_share == Decimal("0.6760")  # wage index > 1
    assert rate.gaf == Decimal("1.1330")  # 1.2 ^ 0.6848 = 1.13298...
    changes = list(PaymentRateChange.objects.order_by("id"))
    assert [c.before.get("operating") for c in changes] == [None, "6952.49"]
    assert changes[1].after["operating"] == "7000.00"
    assert "Updated: General FY2026" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--operating=6,9x2"], "--operating: '6,9x2' is not a decimal number"),
        (["--capital=abc"], "--capital: 'abc' is not a decimal number"),
        (["--wage-index=-1"], "--wage-index: Must be above 0."),
        (["--labor-share=67.6"], "--labor-share:"),
        (["--fiscal-year=26"], "--fiscal-year: '26' is not a year such as 2026"),
        (["--operating=0"], "--operating: The operating amount must be above 0."),
    ],
)
def test_the_command_refuses_bad_figures_and_writes_nothing(args, message):
    base = {
        "--facility": "General",
        "--fiscal-year": "2026",
        "--operating": "6952.49",
        "--capital": "507.59",
    }
    for arg in args:
        name, value = arg.split("=", 1)
        base[name] = value
    with pytest.raises(CommandError) as refused:
        call_command("payment_rates", *(f"{k}={v}" for k, v in base.items()))
    assert message in str(refused.value)
    assert not PaymentRate.objects.exists()
    assert not PaymentRateChange.objects.exists()


def test_a_dry_run_writes_nothing(capsys):
    call_command(
        "payment_rates",
        "--facility=General",
        "--fiscal-year=2026",
        "--operating=6952.49",
        "--capital=507.59",
        "--dry-run",
    )
    assert "Dry run: nothing was written." in capsys.readouterr().out
    assert not PaymentRate.objects.exists()


# --- on the encounter API ----------------------------------------------------------------


def _api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_encounter_api_shows_the_payment_the_stay_and_the_status_label(
    code_sets, rates, supervisor
):
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    body = _api(supervisor).get(f"/api/v1/encounters/{created.json()['id']}/").json()
    assert body["discharge_status"] == "01"
    assert body["discharge_status_label"] == (
        "01 — Discharged to home or self-care (routine discharge)"
    )
    assert body["drg"]["drg"] == 194
    # 0.8059 x 7557.18 = 6090.33 (see the module docstring); 6090.33 / 2.8 = 2175.12
    assert body["drg"]["payment"] == {
        "amount": "6090.33",
        "full_amount": "6090.33",
        "per_diem": "2175.12",
        "transfer": False,
        "explanation": body["drg"]["payment"]["explanation"],
    }
    # 2026-05-10 to 2026-05-14: 4 days, longer than DRG 194's mean stay of 3.4
    assert body["drg"]["stay"] == {
        "los": 4,
        "gmlos": "2.8",
        "amlos": "3.4",
        "long_stay": True,
    }
    assert body["drg_shift"] is None


def test_an_outpatient_encounter_has_no_payment(code_sets, rates, supervisor):
    created = _api(supervisor).post(
        "/api/v1/encounters/",
        pneumonia_payload(type="outpatient", discharge_date=None, discharge_status=""),
        format="json",
    )
    body = _api(supervisor).get(f"/api/v1/encounters/{created.json()['id']}/").json()
    assert body["drg"] is None
    assert body["drg_shift"] is None


def correct_to_drg_194(encounter, supervisor) -> None:
    """The supervisor replaces in_review's G63 with hyponatremia (E87.1, a CC): DRG
    195 -> 194."""
    encounter_review_correct(
        user=supervisor,
        encounter_id=encounter.id,
        version=encounter.version,
        diagnoses=[DiagnosisInput("J18.9", "Y"), DiagnosisInput("E87.1", "Y")],
        procedures=None,
        comment="G63 not documented; hyponatremia is",
    )


def test_a_supervisor_correction_that_changes_the_drg_is_kept_as_a_shift(
    in_review,  # noqa: F811
    rates,
    supervisor,
    supervisor_client,
):
    before = _api(supervisor).get(f"/api/v1/encounters/{in_review.id}/").json()
    assert before["drg"]["drg"] == 195
    assert before["drg_shift"] is None
    correct_to_drg_194(in_review, supervisor)
    shift = (
        _api(supervisor).get(f"/api/v1/encounters/{in_review.id}/").json()["drg_shift"]
    )
    # 195: 0.6285 x 7557.18 = 4749.687630 -> 4749.69; 194: 6090.33 (above)
    # weight 0.8059 - 0.6285 = 0.1774; payment 6090.33 - 4749.69 = 1340.64
    assert shift["from"] == {
        "drg": 195,
        "title": shift["from"]["title"],
        "weight": "0.6285",
        "payment": "4749.69",
    }
    assert (shift["to"]["drg"], shift["to"]["weight"], shift["to"]["payment"]) == (
        194,
        "0.8059",
        "6090.33",
    )
    assert shift["weight_delta"] == "0.1774"
    assert shift["payment_delta"] == "1340.64"
    assert shift["reason"] == "G63 not documented; hyponatremia is"
    assert shift["by"] == supervisor.username
    # On the audit queue: G63 removed and E87.1 added are 2 secondary changes
    # (1 point each); the DRG change counts apart, with its payment effect.
    page = supervisor_client.get("/encounters/audit/").content.decode()
    assert 'title="0 principal, 2 secondary, 0 procedure changes">2<' in page
    assert 'data-testid="drg-changes">1<' in page
    assert 'data-testid="drg-payment-effect">+$1,340.64<' in page
    # The history of shifts cannot be rewritten.
    with pytest.raises(DatabaseError), transaction.atomic():
        DrgShift.objects.filter(encounter=in_review).update(reason="changed")


def test_a_correction_that_keeps_the_drg_records_no_shift(
    in_review,  # noqa: F811
    rates,
    supervisor,
):
    encounter_review_correct(
        user=supervisor,
        encounter_id=in_review.id,
        version=in_review.version,
        diagnoses=[DiagnosisInput("J18.9", "Y")],
        procedures=None,
        comment="G63 removed",
    )
    body = _api(supervisor).get(f"/api/v1/encounters/{in_review.id}/").json()
    assert body["drg"]["drg"] == 195
    assert body["drg_shift"] is None


# --- on the coding form and the supervisor's case -----------------------------------------


def _form(encounter, dx, **extra):
    data = {"version": encounter.version, "dx-count": len(dx), "px-count": 0}
    for n, (code, poa) in enumerate(dx):
        data[f"dx-{n}-code"] = code
        data[f"dx-{n}-poa"] = poa
    data.update(extra)
    return data


def test_the_coding_form_spells_out_a_transfer_reduction_and_the_stay(
    code_sets, rates, supervisor, coder, coder_client
):
    created = _api(supervisor).post(
        "/api/v1/encounters/",
        pneumonia_payload(admit_date="2026-05-13", discharge_status="02"),
        format="json",
    )
    encounter = encounter_claim(user=coder, encounter_id=created.json()["id"])
    page = coder_client.get(f"/encounters/{encounter.id}/").content.decode()
    assert (
        "02 — Discharged/transferred to a short-term general hospital for "
        "inpatient care" in page
    )
    # DRG 194, LOS 1: per diem 2175.12 x 2 days = 4350.24 (tests above)
    assert "Estimated payment <b" in page and "$4,350.24" in page
    assert (
        "Transfer reduction: full payment $6,090.33 \N{MINUS SIGN} $1,740.09 = "
        "$4,350.24 (per diem $2,175.12 \N{MULTIPLICATION SIGN} 2 days)" in page
    )
    assert "LOS <b>1 d</b> · GMLOS 2.8 d · AMLOS 3.4 d" in page
    assert "long stay" not in page


def test_checking_the_form_shows_what_a_new_drg_would_pay(
    code_sets, rates, supervisor, coder, coder_client
):
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    encounter = encounter_claim(user=coder, encounter_id=created.json()["id"])
    panel = coder_client.post(
        f"/encounters/{encounter.id}/coding/",
        _form(encounter, [("J18.9", "Y"), ("E87.1", "Y"), ("J96.01", "Y")]),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    # DRG 193 pays 9933.16, DRG 194 (the saved codes) 6090.33: +3842.83
    assert (
        "Payment +$3,842.83: DRG 194 ($6,090.33) with the saved codes → DRG 193 "
        "($9,933.16) as entered." in panel
    )
    # LOS 4 is a long stay for DRG 194 (AMLOS 3.4), not for DRG 193 (AMLOS 4.9).
    assert "LOS <b>4 d</b> · GMLOS 3.9 d · AMLOS 4.9 d" in panel
    assert 'data-testid="long-stay"' not in panel
    encounter.refresh_from_db()
    assert encounter.version == 2  # nothing saved by the check


def test_the_supervisor_sees_the_drg_shift_before_and_after_saving_a_correction(
    in_review,  # noqa: F811
    rates,
    supervisor_client,
):
    url = f"/encounters/{in_review.id}/"
    assert 'data-testid="drg-shift"' not in supervisor_client.get(url).content.decode()
    correction = _form(in_review, [("J18.9", "Y"), ("E87.1", "Y")])
    before = supervisor_client.post(
        f"{url}coding/", correction, HTTP_HX_REQUEST="true"
    ).content.decode()
    # 195 -> 194: 6090.33 - 4749.69 = 1340.64
    assert "Payment +$1,340.64: DRG 195 ($4,749.69) with the saved codes" in before
    after = supervisor_client.post(
        f"{url}coding/",
        {**correction, "action": "save", "comment": "Hyponatremia documented"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Correction saved" in after
    assert 'data-testid="drg-shift"' in after
    assert "DRG 195 (weight 0.6285, $4,749.69)" in after
    assert "DRG 194 (weight 0.8059, $6,090.33)" in after
    assert "+0.1774" in after and "+$1,340.64" in after
    assert "Hyponatremia documented" in after


def test_a_codeset_admin_sets_rates_on_their_page_and_others_cannot(
    admin_client_, coder_client, codeset_admin
):
    url = "/codesets/payment-rates/"
    assert coder_client.get(url).status_code == 403
    refused = admin_client_.post(
        url, {"facility": "General", "fiscal_year": 2026, "operating": "x"}
    )
    assert "Enter a number." in refused.content.decode()
    assert not PaymentRate.objects.exists()
    saved = admin_client_.post(
        url,
        {
            "facility": "General",
            "fiscal_year": 2026,
            "operating": "6952.49",
            "capital": "507.59",
            "wage_index": "0.9",
        },
        follow=True,
    )
    page = saved.content.decode()
    assert "Rates of General FY2026 saved." in page
    assert "0.6200" in page  # the labor share where the wage index is below 1
    assert PaymentRateChange.objects.get().changed_by == codeset_admin


def test_accuracy_weighs_a_changed_principal_double_and_counts_drg_changes_apart(
    in_review,  # noqa: F811
    rates,
    supervisor,
    supervisor_client,
    coder,
):
    # The coder sent J18.9, G63. The supervisor makes E87.1 the principal and
    # J18.9 the secondary: principal changed (2 points), J18.9 now secondary and
    # G63 gone are the principal's move and 1 removal (1 point) -> 3 points.
    encounter_review_correct(
        user=supervisor,
        encounter_id=in_review.id,
        version=in_review.version,
        diagnoses=[DiagnosisInput("E87.1", "Y"), DiagnosisInput("J18.9", "Y")],
        procedures=None,
        comment="Hyponatremia was the reason for admission",
    )
    page = supervisor_client.get("/encounters/audit/").content.decode()
    row = page[page.index('data-testid="accuracy-row"') :]
    row = row[: row.index("</tr>")]
    assert coder.username in row or coder.get_full_name() in row
    assert (
        'data-testid="error-points" title="1 principal, 1 secondary, 0 procedure '
        'changes">3<' in row
    )
    # 195 -> 640, a DRG the test's Table 5 excerpt does not price: a DRG change
    # without a payment effect.
    assert 'data-testid="drg-changes">1<' in row
    assert 'data-testid="drg-payment-effect">—<' in row


def test_the_coding_form_shows_what_a_hospital_acquired_condition_costs(
    code_sets, rates, supervisor, coder, coder_client
):
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    encounter = encounter_claim(user=coder, encounter_id=created.json()["id"])
    # A stage 3 pressure ulcer (an MCC) not present on admission: HAC 04. The
    # grouper's initial DRG 193 (with MCC) becomes 194 once the HAC is left out.
    panel = coder_client.post(
        f"/encounters/{encounter.id}/coding/",
        _form(encounter, [("J18.9", "Y"), ("E87.1", "Y"), ("L89.153", "N")]),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    # 6090.33 (DRG 194) - 9933.16 (DRG 193) = -3842.83
    assert (
        "HAC effect <b>\N{MINUS SIGN}$3,842.83</b>: DRG 193 ($9,933.16) before the "
        "HAC logic, DRG 194 ($6,090.33) after" in panel
    )
    assert "HAC 04 Stage III and IV Pressure Ulcers (POA N)" in panel


def test_a_coders_save_reads_the_rates_at_most_once_and_no_drg_shift(
    code_sets, rates, supervisor, coder, coder_client
):
    created = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    encounter = encounter_claim(user=coder, encounter_id=created.json()["id"])
    url = f"/encounters/{encounter.id}/coding/"
    seen = []
    for extra in ([("J96.01", "Y")], []):
        encounter.refresh_from_db()
        dx = [("J18.9", "Y"), ("E87.1", "Y"), *extra]
        with CaptureQueriesContext(connection) as queries:
            response = coder_client.post(
                url, _form(encounter, dx, action="save"), HTTP_HX_REQUEST="true"
            )
        body = response.content.decode()
        assert "Draft saved" in body, body[body.find("banner") :][:300]
        seen.append(
            [
                q["sql"]
                for q in queries.captured_queries
                if "codesets_paymentrate" in q["sql"]
                or "encounters_drgshift" in q["sql"]
            ]
        )
    assert len(seen[0]) <= 1
    assert seen[1] == []  # the process cache answers the next save
