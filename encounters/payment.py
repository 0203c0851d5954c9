"""The estimated IPPS payment of an inpatient stay for its MS-DRG (DESIGN.md
"Payment estimate").

    full     = weight x (operating x (labor share x wage index + 1 - labor share)
                         + capital x GAF)
    per diem = full / GMLOS
    transfer = per diem x (LOS + 1), at most full          42 CFR 412.4(f)(1)
    special  = full / 2 + per diem x (LOS + 1) / 2, at most full   412.4(f)(2)

Which stays are transfers: ``encounters.ub04`` (412.4(b) acute, any MS-DRG; 412.4(c)
post-acute, only for the MS-DRGs Table 5 marks post-acute). The special-pay rule
applies to post-acute transfers in the MS-DRGs Table 5 marks special pay; an
acute-to-acute transfer is paid per diem whatever the DRG. That is how CMS's
IPPS PRICER pays them (PPCAL, review codes 09/11: the 50/50 fraction is
0.5 + 0.5 x days / GMLOS, capped at 1).

The days: LOS + 1 because the first day is paid twice (412.4(f)(1): "twice the per
diem rate for the first day ... and the per diem rate for each following day");
a stay of less than a day counts as one (Pub. 100-04 ch. 3 section 40.2.4, and the
PRICER's ``IF B-LOS < 1 MOVE 1``), so a same-day transfer is paid 2 per diems.

Rounding (ROUND_HALF_UP to the cent) at three points: the full amount, the per
diem, and the transfer amount. The PRICER instead rounds a transfer fraction to 4
places and applies it to the operating and capital parts apart, so a transfer
here can differ from a remittance by a few cents; and this estimate leaves out
what the rates table has no field for (outliers, IME, DSH, readmission and HAC
reduction programs, sequestration, a facility's hospital-specific rate). It is
the figure a coder compares between DRGs, not a remittance.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from codesets.selectors import drg_weight_on, payment_rate_for
from encounters.ub04 import ACUTE_TRANSFER_STATUSES, POST_ACUTE_TRANSFER_STATUSES

if TYPE_CHECKING:
    from codesets.models import PaymentRate
    from encounters.drg import DrgResult
    from encounters.models import Encounter

CENT = Decimal("0.01")
HALF = Decimal("0.5")


@dataclass(frozen=True)
class Payment:
    amount: Decimal | None  # what the stay is estimated to be paid
    full_amount: Decimal | None  # the MS-DRG's full payment (no transfer)
    per_diem: Decimal | None  # full / GMLOS
    transfer: bool  # a transfer case under 412.4(b) or (c), reduced or not
    explanation: str
    fiscal_year: int
    days: int | None = None  # the transfer's paid days, LOS + 1

    def as_dict(self) -> dict[str, Any]:
        """The API shape of DESIGN.md: amounts as strings in dollars and cents."""
        return {
            "amount": _money(self.amount),
            "full_amount": _money(self.full_amount),
            "per_diem": _money(self.per_diem),
            "transfer": self.transfer,
            "explanation": self.explanation,
        }

    @property
    def reduction(self) -> Decimal | None:
        """How much the transfer rule takes off the full amount (0 when paid in full)."""
        if self.amount is None or self.full_amount is None:
            return None
        return self.full_amount - self.amount


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fiscal_year_of(day: dt.date) -> int:
    """The federal fiscal year of a discharge: October 1 starts the next one."""
    return day.year + (day.month >= 10)


def _dollars(value: Decimal) -> str:
    return f"${value:,.2f}"


def _drg_name(drg: int | None) -> str:
    return f"MS-DRG {drg:03d}" if drg is not None else "The stay"


def full_payment(*, weight: Decimal, rate: PaymentRate) -> Decimal:
    base = (
        rate.operating * (rate.labor_share * rate.wage_index + 1 - rate.labor_share)
        + rate.capital * rate.gaf
    )
    return _cents(weight * base)


def payment_estimate(
    *,
    facility: str,
    discharge_date: dt.date,
    admit_date: dt.date,
    discharge_status: str,
    drg: int | None,
    weight: Decimal | None,
    gmlos: Decimal | None,
    post_acute: bool,
    special_pay: bool,
) -> Payment:
    """The estimated payment of one stay grouped to ``drg`` (also for DRGs the stay
    did not group to: the what-if analysis prices alternatives with it). One
    query at most, for the facility's rates (cached per process)."""
    year = fiscal_year_of(discharge_date)
    if drg is None or weight is None:
        why = (
            f"{_drg_name(drg)} has no relative weight (ungroupable)"
            if drg in (998, 999) or drg is None
            else f"MS-DRG {drg:03d} has no relative weight in the Table 5 in force"
        )
        return Payment(None, None, None, False, f"No estimate: {why}.", year)
    rate = payment_rate_for(facility=facility, fiscal_year=year)
    if rate is None:
        return Payment(
            None,
            None,
            None,
            False,
            f"No estimate: no IPPS rates for {facility} in FY{year}; a code-set "
            "admin sets them (Code sets → Payment rates, or manage.py payment_rates).",
            year,
        )
    full = full_payment(weight=weight, rate=rate)
    per_diem = _cents(full / gmlos) if gmlos else None
    status = (discharge_status or "").strip()
    acute = status in ACUTE_TRANSFER_STATUSES
    post = post_acute and status in POST_ACUTE_TRANSFER_STATUSES
    basis = (
        f"weight {weight} x (operating {rate.operating} x ({rate.labor_share} x "
        f"wage index {rate.wage_index} + 1 - {rate.labor_share}) + capital "
        f"{rate.capital} x GAF {rate.gaf}), FY{year} rates of {facility}"
    )
    if not (acute or post):
        return Payment(
            full, full, per_diem, False, f"Full MS-DRG payment: {basis}.", year
        )
    kind = (
        "An acute-care transfer (42 CFR 412.4(b))"
        if acute
        else "A post-acute-care transfer (42 CFR 412.4(c))"
    )
    los = (discharge_date - admit_date).days
    days = max(los, 1) + 1
    if per_diem is None:
        return Payment(
            full,
            full,
            None,
            True,
            f"{kind}, but Table 5 gives no GMLOS for MS-DRG {drg:03d}: shown "
            f"at the full payment ({basis}).",
            year,
            days,
        )
    special = post and special_pay
    if special:
        paid = _cents(full * HALF + per_diem * days * HALF)
        rule = (
            f"special-pay MS-DRG (42 CFR 412.4(f)(2)): half the full payment "
            f"{_dollars(full)} plus half of per diem {_dollars(per_diem)} x "
            f"{days} days"
        )
    else:
        paid = per_diem * days
        rule = (
            f"per diem {_dollars(per_diem)} (full {_dollars(full)} / GMLOS {gmlos}) "
            f"x {days} days (42 CFR 412.4(f)(1))"
        )
    if paid >= full:
        return Payment(
            full,
            full,
            per_diem,
            True,
            f"{kind}, paid in full: {rule} = {_dollars(paid)} reaches the full "
            f"payment ({basis}).",
            year,
            days,
        )
    return Payment(
        paid,
        full,
        per_diem,
        True,
        f"{kind}, LOS {los} + 1 < GMLOS {gmlos}: paid {rule} = {_dollars(paid)}, "
        f"{_dollars(full - paid)} less than the full payment ({basis}).",
        year,
        days,
    )


def encounter_payment(
    encounter: Encounter, drg: Mapping[str, Any] | None
) -> Payment | None:
    """The payment estimate of an inpatient encounter for ``drg`` (the stored shape,
    ``DrgResult.as_dict()``); None for other encounters and without a discharge.
    Table 5's post-acute and special-pay flags of the DRG are read in-process."""
    if not encounter.is_inpatient or encounter.discharge_date is None:
        return None
    number = drg.get("drg") if drg else None
    weight = _decimal(drg.get("weight")) if drg else None
    gmlos = _decimal(drg.get("gmlos")) if drg else None
    flags = (
        drg_weight_on(drg=number, day=encounter.discharge_date)
        if number is not None and weight is not None
        else None
    )
    return payment_estimate(
        facility=encounter.facility,
        discharge_date=encounter.discharge_date,
        admit_date=encounter.admit_date,
        discharge_status=encounter.discharge_status,
        drg=number,
        weight=weight,
        gmlos=gmlos,
        post_acute=bool(flags and flags.post_acute),
        special_pay=bool(flags and flags.special_pay),
    )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class Stay:
    """The length of stay against the MS-DRG's national means (Table 5)."""

    los: int
    gmlos: Decimal | None
    amlos: Decimal | None

    @property
    def long_stay(self) -> bool:
        """Longer than the arithmetic mean stay of the DRG: worth a look for a
        complication or comorbidity the codes do not show. (Cost outliers are paid
        on charges, not days: this flag says nothing about them.)"""
        return self.amlos is not None and self.los > self.amlos

    def as_dict(self) -> dict[str, Any]:
        return {
            "los": self.los,
            "gmlos": _money_or_none(self.gmlos),
            "amlos": _money_or_none(self.amlos),
            "long_stay": self.long_stay,
        }


def _money_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def encounter_stay(encounter: Encounter, drg: Mapping[str, Any] | None) -> Stay | None:
    if not encounter.is_inpatient or encounter.discharge_date is None:
        return None
    return Stay(
        los=(encounter.discharge_date - encounter.admit_date).days,
        gmlos=_decimal(drg.get("gmlos")) if drg else None,
        amlos=_decimal(drg.get("alos")) if drg else None,
    )


def dollars(value: Decimal | None) -> str:
    """``$6,090.33`` (``delta`` signs a difference: ``+$1,340.64``)."""
    return "—" if value is None else _dollars(value)


def delta(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{_sign(value)}{_dollars(abs(value))}"


MINUS = "\N{MINUS SIGN}"


def _sign(value: Decimal) -> str:
    return "+" if value > 0 else MINUS if value < 0 else "\N{PLUS-MINUS SIGN}"


def drg_money(
    encounter: Encounter,
    drg: DrgResult,
    *,
    saved: DrgResult | None = None,
) -> dict[str, Any] | None:
    """What the DRG panel shows in dollars for the DRG of the codes as entered:
    the payment, the stay against the DRG's means, the HAC effect (the payment of
    the DRG the stay had before the HAC logic against this one), and, when the
    saved codes group elsewhere, the payment change the save would make.
    Cheap enough for every save: rates and Table 5 come from the process caches."""
    stored = drg.as_dict()
    payment = encounter_payment(encounter, stored)
    if payment is None:
        return None
    money: dict[str, Any] = {
        "payment": payment,
        "amount": dollars(payment.amount),
        "full": dollars(payment.full_amount),
        "per_diem": dollars(payment.per_diem),
        "reduction": dollars(payment.reduction) if payment.reduction else "",
        "stay": encounter_stay(encounter, stored),
        "hac": None,
        "change": None,
    }
    if drg.hacs and drg.initial_drg and drg.initial_drg != drg.drg:
        initial = _priced(encounter, drg.initial_drg)
        money["hac"] = {
            "initial_drg": drg.initial_drg,
            "initial_amount": dollars(initial.amount),
            "effect": delta(_minus(payment.amount, initial.amount)),
            "hacs": drg.hacs,
        }
    if saved is not None and saved.drg and saved.drg != drg.drg:
        before = encounter_payment(encounter, saved.as_dict())
        if before is not None:
            money["change"] = {
                "drg": saved.drg,
                "amount": dollars(before.amount),
                "effect": delta(_minus(payment.amount, before.amount)),
            }
    return money


def _minus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    return None if a is None or b is None else a - b


def _priced(encounter: Encounter, drg: int) -> Payment:
    """The stay's payment had it grouped to ``drg`` (its Table 5 row)."""
    if encounter.discharge_date is None:
        raise ValueError("Only a discharged stay has a payment.")
    row = drg_weight_on(drg=drg, day=encounter.discharge_date)
    return payment_estimate(
        facility=encounter.facility,
        discharge_date=encounter.discharge_date,
        admit_date=encounter.admit_date,
        discharge_status=encounter.discharge_status,
        drg=drg,
        weight=row.weight if row else None,
        gmlos=row.gmlos if row else None,
        post_acute=bool(row and row.post_acute),
        special_pay=bool(row and row.special_pay),
    )


def drg_pricer(encounter: Encounter) -> Callable[[int, Decimal | None], dict | None]:
    """The what-if's price callable (encounters.whatif.Price) for this stay: the
    payment, as ``Payment.as_dict()``, had it grouped to a given MS-DRG; None for
    a stay without a discharge date."""

    def price(drg: int, _weight: Decimal | None) -> dict | None:
        if encounter.discharge_date is None:
            return None
        return _priced(encounter, drg).as_dict()

    return price


def shift_display(shift: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``encounter_drg_shift`` with its amounts formatted for a page."""
    if shift is None:
        return None

    def money(text: str | None) -> Decimal | None:
        return None if text is None else Decimal(text)

    weight = money(shift["weight_delta"])
    return {
        **shift,
        "from_amount": dollars(money(shift["from"]["payment"])),
        "to_amount": dollars(money(shift["to"]["payment"])),
        "payment_effect": delta(money(shift["payment_delta"])),
        "weight_effect": "—" if weight is None else f"{_sign(weight)}{abs(weight)}",
    }
