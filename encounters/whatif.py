"""What-if analysis of an inpatient stay's MS-DRG: read-only, it never changes codes.

For the codes as they stand (saved, or as entered on the coding form) it answers the
questions of a query or documentation review:

* **Alternative principal diagnoses**: each secondary diagnosis sequenced first (the
  others keep their order), grouped, with weight and the change against the current
  DRG. Codes the grouper or the Medicare Code Editor refuses as principal are
  listed apart with the reason. The principal diagnosis is chosen by the Official
  Guidelines, Section II (the condition established after study to be chiefly
  responsible for the admission), never by weight: this is for querying the
  physician, not for resequencing for money.
* **Tier in the DRG family**: MS-DRGs come in families of one to three severity
  tiers (193 with MCC / 194 with CC / 195 without CC/MCC). The families are read
  from the titles of the Table 5 release in force; the statement says which tier
  the DRG is in and what a documented CC or MCC would make it.
* **Hospital-acquired conditions**: which diagnosis, its HAC category, and the DRG
  before the HAC logic (initial) against the final one.

Weights come from Table 5 (``codesets.selectors``: read once per release and
process); payment from an optional ``price`` callable, ``(drg, weight) -> payment
dict`` (``{"amount": "5641.30" | None, ...}``), so the what-if does not depend on
how payment is computed. It runs on every check of the coding form: one grouper call
per secondary diagnosis (~0.1 ms), one editor call per code the grouper accepts,
and no query once Table 5 is cached.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from codesets.models import System, display_code, normalize_code
from codesets.selectors import drg_weight_table_on
from encounters.audit.mce import mce_edits
from encounters.drg import (
    UNGROUPABLE_DRGS,
    DrgResult,
    DrgUnavailable,
    Grouping,
    drg_group_sequences,
    encounter_drg,
    encounter_stay_fields,
)

if TYPE_CHECKING:
    from codesets.models import DrgWeight
    from encounters.models import Encounter

Price = Callable[[int, Decimal | None], Mapping[str, Any] | None]

GUIDELINE_NOTE = (
    "The principal diagnosis is the condition established after study to be chiefly "
    "responsible for the admission (Official Guidelines, Section II), whatever its "
    "weight. These alternatives are for a query or documentation review, never for "
    "resequencing to raise payment."
)

# The Medicare Code Editor's edits that say a code cannot be the principal
# diagnosis of an inpatient stay (rule ids of encounters.audit.mce), with the reason
# shown beside the skipped code.
NOT_PRINCIPAL_EDITS = {
    "mce-unacceptable-principal": "unacceptable as principal diagnosis (MCE)",
    "mce-manifestation-principal": "a manifestation: its underlying condition comes "
    "first (MCE)",
    "mce-external-cause-principal": "an external-cause code (MCE)",
}
# Edits that leave the code possible as principal but worth a word.
CAUTION_EDITS = {
    "mce-questionable-admission": "questionable as a reason for admission (MCE)",
}
GROUPER_REFUSALS = {
    "DX_CANNOT_BE_PDX": "cannot be principal diagnosis (grouper)",
    "INVALID_PDX": "not a valid principal diagnosis for this grouper version",
}


# --- MS-DRG families from Table 5 titles -------------------------------------------
# A family is a run of consecutive MS-DRG numbers whose titles are equal once the
# severity phrase ("WITH MCC", "WITH CC", "WITH CC/MCC", "WITHOUT CC/MCC", "WITHOUT
# MCC", "AND MCC") is taken out. The phrase is the last one in the title, followed by
# the end or by " OR ...": another way into the same DRG ("WITH MCC OR TOTAL ANKLE
# REPLACEMENT", "WITH CC OR TPA IN 24 HOURS"), kept as the tier's alternative.
_SEVERITY = re.compile(
    r"\s+(?P<phrase>(?:WITH|WITHOUT|AND)\s+(?:CC/MCC|MCC|CC))(?P<rest>\s+OR\s+.+)?$"
)
# Which secondary-diagnosis severities each phrase admits: CC and MCC tiers.
_ADMITS: dict[str, frozenset[str]] = {
    "WITH MCC": frozenset({"MCC"}),
    "AND MCC": frozenset({"MCC"}),
    "WITH CC": frozenset({"CC"}),
    "WITH CC/MCC": frozenset({"CC", "MCC"}),
    "WITHOUT MCC": frozenset({"", "CC"}),
    "WITHOUT CC/MCC": frozenset({""}),
}


@dataclass(frozen=True)
class FamilyMember:
    drg: int
    phrase: str  # "WITH MCC", "WITHOUT CC/MCC", ... as Table 5 spells it
    also: str  # another way into this DRG: "TOTAL ANKLE REPLACEMENT", or ""

    @property
    def admits(self) -> frozenset[str]:
        return _ADMITS.get(" ".join(self.phrase.split()), frozenset())


def drg_families(titles: Mapping[int, str]) -> dict[int, tuple[FamilyMember, ...]]:
    """Each MS-DRG with a severity tier -> its family, lowest number (highest tier)
    first. DRGs whose title names no tier are left out."""
    parsed: dict[int, tuple[str, FamilyMember]] = {}
    for drg, title in titles.items():
        match = _SEVERITY.search(" ".join(title.upper().split()))
        if match is None:
            continue
        base = title.upper()[: match.start()].strip()
        rest = (match.group("rest") or "").strip()
        also = rest[3:].strip() if rest.startswith("OR ") else ""
        parsed[drg] = (
            " ".join(base.split()),
            FamilyMember(drg=drg, phrase=match.group("phrase"), also=also),
        )
    families: dict[int, tuple[FamilyMember, ...]] = {}
    run: list[FamilyMember] = []
    run_base = ""
    for drg in sorted(parsed):
        base, member = parsed[drg]
        if run and drg == run[-1].drg + 1:
            same = _same_family(run_base, base)
            if same is not None:
                run.append(member)
                run_base = same
                continue
        _close(run, families)
        run, run_base = [member], base
    _close(run, families)
    return families


def _same_family(run_base: str, base: str) -> str | None:
    """The family's base if ``base`` continues a run of ``run_base``. Equal bases,
    or one of them the other's with an "OR ..." condition: 837 "CHEMOTHERAPY WITH
    ACUTE LEUKEMIA AS SECONDARY DIAGNOSIS OR WITH HIGH DOSE CHEMOTHERAPY AGENT WITH
    MCC" heads 838 "CHEMOTHERAPY WITH ACUTE LEUKEMIA AS SECONDARY DIAGNOSIS WITH CC
    OR HIGH DOSE CHEMOTHERAPY AGENT" and 839 "... WITHOUT CC/MCC"."""
    if base == run_base or run_base.startswith(base + " OR "):
        return base
    if base.startswith(run_base + " OR "):
        return run_base
    return None


def _close(
    run: list[FamilyMember], families: dict[int, tuple[FamilyMember, ...]]
) -> None:
    family = tuple(run)
    for member in family:
        families[member.drg] = family


_families_lock = threading.Lock()
# id() of a Table 5 mapping (codesets.selectors hands out the same object until the
# release in force changes) -> (that mapping, its families). The mapping is kept so
# its id cannot be reused by another object while the entry lives.
_FAMILIES: dict[
    int, tuple[Mapping[int, DrgWeight], dict[int, tuple[FamilyMember, ...]]]
] = {}


def _families_of(table: Mapping[int, DrgWeight]) -> dict[int, tuple[FamilyMember, ...]]:
    cached = _FAMILIES.get(id(table))
    if cached is not None and cached[0] is table:
        return cached[1]
    families = drg_families({drg: row.title for drg, row in table.items()})
    with _families_lock:
        if len(_FAMILIES) >= 8:
            _FAMILIES.clear()
        _FAMILIES[id(table)] = (table, families)
    return families


# --- the analysis --------------------------------------------------------------------


@dataclass(frozen=True)
class DrgOption:
    """One MS-DRG with its Table 5 weight and, when priced, its payment; deltas are
    against the current DRG (None when either side has no figure)."""

    drg: int | None
    title: str
    weight: Decimal | None
    payment: Mapping[str, Any] | None = None
    weight_delta: Decimal | None = None
    amount_delta: Decimal | None = None

    @property
    def amount(self) -> str | None:
        return None if self.payment is None else self.payment.get("amount")

    def as_dict(self) -> dict[str, Any]:
        return {
            "drg": self.drg,
            "title": self.title,
            "weight": _float(self.weight),
            "weight_delta": _float(self.weight_delta),
            "payment": dict(self.payment) if self.payment is not None else None,
            "amount_delta": _money(self.amount_delta),
        }


@dataclass(frozen=True)
class Alternative:
    """A secondary diagnosis sequenced as principal, and the DRG that gives."""

    code: str  # display form
    poa: str
    option: DrgOption
    mdc: int | None
    note: str  # e.g. the MCE's "questionable admission"
    diagnosis: str = ""  # the code's title, when the caller knows it

    def as_dict(self) -> dict[str, Any]:
        return {
            "principal": self.code,
            "poa": self.poa,
            "diagnosis": self.diagnosis,
            **self.option.as_dict(),
            "mdc": self.mdc,
            "note": self.note,
        }


@dataclass(frozen=True)
class Skipped:
    code: str  # display form
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


@dataclass(frozen=True)
class TierStep:
    """What one more documented CC or MCC would make the DRG."""

    level: str  # "CC" or "MCC"
    option: DrgOption
    phrase: str  # the target's tier, "with CC"
    also: str  # another way into the target (a procedure), or ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "tier": self.phrase,
            "also": self.also,
            **self.option.as_dict(),
        }


@dataclass(frozen=True)
class Tier:
    drg: int
    phrase: str  # the current DRG's tier: "without CC/MCC"
    family: tuple[DrgOption, ...]  # highest tier first
    family_phrases: tuple[str, ...]
    steps: tuple[TierStep, ...]
    statement: str

    @property
    def rows(self) -> list[tuple[DrgOption, str]]:
        return list(zip(self.family, self.family_phrases, strict=True))

    def as_dict(self) -> dict[str, Any]:
        return {
            "drg": self.drg,
            "tier": self.phrase,
            "family": [
                {
                    "drg": o.drg,
                    "tier": phrase,
                    "title": o.title,
                    "weight": _float(o.weight),
                }
                for o, phrase in zip(self.family, self.family_phrases, strict=True)
            ],
            "with_cc": next((s.as_dict() for s in self.steps if s.level == "CC"), None),
            "with_mcc": next(
                (s.as_dict() for s in self.steps if s.level == "MCC"), None
            ),
            "statement": self.statement,
        }


@dataclass(frozen=True)
class HacEffect:
    """A hospital-acquired condition the grouper found, and the DRG before (initial)
    and after (final) its HAC logic: the initial DRG is what the stay would group to
    had the condition been present on admission (all of the stay's HACs together)."""

    code: str
    poa: str
    hac: str  # "HAC 04"
    description: str
    level: str  # the code's own severity: "CC", "MCC" or ""
    initial: DrgOption
    final: DrgOption  # deltas against the initial DRG

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "poa": self.poa,
            "hac": self.hac,
            "description": self.description,
            "level": self.level,
            "initial": self.initial.as_dict(),
            "final": self.final.as_dict(),
        }


@dataclass(frozen=True)
class WhatIf:
    current: DrgOption
    principal: str  # display form
    alternatives: tuple[Alternative, ...]
    skipped: tuple[Skipped, ...]
    tier: Tier | None
    hacs: tuple[HacEffect, ...]
    priced: bool  # a price callable was given
    guideline: str = GUIDELINE_NOTE

    def as_dict(self) -> dict[str, Any]:
        """The API shape (``GET /api/v1/encounters/<id>/what-if/``)."""
        return {
            "current": {"principal": self.principal, **self.current.as_dict()},
            "alternatives": [a.as_dict() for a in self.alternatives],
            "skipped": [s.as_dict() for s in self.skipped],
            "tier": self.tier.as_dict() if self.tier is not None else None,
            "hacs": [h.as_dict() for h in self.hacs],
            "guideline": self.guideline,
        }


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _amount(payment: Mapping[str, Any] | None) -> Decimal | None:
    amount = None if payment is None else payment.get("amount")
    return None if amount in (None, "") else Decimal(str(amount))


class _Options:
    """DRG -> DrgOption against one reference DRG, from one Table 5 and one price
    callable (each DRG priced once)."""

    def __init__(
        self,
        table: Mapping[int, DrgWeight] | None,
        price: Price | None,
    ) -> None:
        self.table = table or {}
        self.price = price
        self._payments: dict[int, Mapping[str, Any] | None] = {}

    def weight(self, drg: int | None) -> Decimal | None:
        if drg is None or drg in UNGROUPABLE_DRGS:
            return None
        row = self.table.get(drg)
        return None if row is None else row.weight

    def payment(
        self, drg: int | None, weight: Decimal | None
    ) -> Mapping[str, Any] | None:
        if self.price is None or drg is None:
            return None
        if drg not in self._payments:
            self._payments[drg] = self.price(drg, weight)
        return self._payments[drg]

    def option(
        self,
        drg: int | None,
        title: str = "",
        *,
        against: DrgOption | None = None,
        weight: Decimal | None = None,
    ) -> DrgOption:
        if weight is None:
            weight = self.weight(drg)
        if not title and drg is not None and drg in self.table:
            title = self.table[drg].title
        payment = self.payment(drg, weight)
        weight_delta = amount_delta = None
        if against is not None:
            if weight is not None and against.weight is not None:
                weight_delta = weight - against.weight
            mine, theirs = _amount(payment), _amount(against.payment)
            if mine is not None and theirs is not None:
                amount_delta = mine - theirs
        return DrgOption(drg, title, weight, payment, weight_delta, amount_delta)


def drg_what_if(
    *,
    discharge_date: dt.date,
    birth_date: dt.date,
    admit_date: dt.date,
    sex: str,
    discharge_status: str,
    diagnoses: Sequence[tuple[str, str]],
    procedures: Sequence[str],
    current: DrgResult,
    price: Price | None = None,
    titles: Mapping[str, str] | None = None,
) -> WhatIf:
    """The what-if of one stay whose codes (``diagnoses`` as (code, POA), principal
    first) group to ``current`` (``drg_group`` of the same codes). Read-only.
    ``titles`` (undotted code -> title) label the alternatives.

    Raises ``DrgUnavailable`` as ``drg_group`` does (no grouper for the date)."""
    table = drg_weight_table_on(discharge_date)
    options = _Options(table, price)
    now = options.option(current.drg, current.title, weight=current.weight)
    dx = [
        (normalize_code(code), (poa or "").strip().upper()) for code, poa in diagnoses
    ]
    dx = [d for d in dx if d[0]]
    alternatives, skipped = _alternatives(
        dx,
        now,
        options,
        titles=titles or {},
        stay={
            "discharge_date": discharge_date,
            "birth_date": birth_date,
            "admit_date": admit_date,
            "sex": sex,
            "discharge_status": discharge_status,
            "procedures": procedures,
        },
    )
    return WhatIf(
        current=now,
        principal=_cm(dx[0][0]) if dx else "",
        alternatives=alternatives,
        skipped=skipped,
        tier=_tier(current, now, options, table),
        hacs=_hac_effects(current, now, options),
        priced=price is not None,
    )


def _cm(code: str) -> str:
    return display_code(System.ICD10CM, code)


def _alternatives(
    dx: list[tuple[str, str]],
    now: DrgOption,
    options: _Options,
    *,
    titles: Mapping[str, str],
    stay: dict[str, Any],
) -> tuple[tuple[Alternative, ...], tuple[Skipped, ...]]:
    skipped: list[tuple[int, Skipped]] = []  # with the position, for the order
    trials: list[int] = []  # positions in dx of the secondaries to try
    seen = {dx[0][0]} if dx else set()
    for n, (code, poa) in enumerate(dx[1:], start=1):
        if code in seen:
            skipped.append((n, Skipped(_cm(code), "listed twice")))
            continue
        seen.add(code)
        if poa == "N":
            # Section II: the principal diagnosis occasioned the admission; a
            # condition not present on admission cannot have.
            skipped.append((n, Skipped(_cm(code), "not present on admission (POA N)")))
            continue
        trials.append(n)
    if not trials:
        return (), tuple(s for _n, s in skipped)
    groupings = drg_group_sequences(
        discharge_date=stay["discharge_date"],
        birth_date=stay["birth_date"],
        admit_date=stay["admit_date"],
        sex=stay["sex"],
        discharge_status=stay["discharge_status"],
        sequences=[[dx[n], *dx[:n], *dx[n + 1 :]] for n in trials],
        procedures=stay["procedures"],
    )
    age = _age_at(stay["birth_date"], stay["admit_date"])
    found: list[tuple[int, Alternative]] = []
    for n, grouping in zip(trials, groupings, strict=True):
        code, poa = dx[n]
        refusal = _grouper_refusal(grouping)
        note = ""
        if refusal is None:
            refusal, note = _editor_verdict(code, poa, age=age, stay=stay)
        if refusal is not None:
            skipped.append((n, Skipped(_cm(code), refusal)))
            continue
        option = options.option(grouping.drg, grouping.title, against=now)
        found.append(
            (
                n,
                Alternative(
                    _cm(code), poa, option, grouping.mdc, note, titles.get(code, "")
                ),
            )
        )
    # Heaviest first; equal weights (or none) in the coder's order.
    found.sort(
        key=lambda item: (
            item[1].option.weight is None,
            -(item[1].option.weight or 0),
            item[0],
        )
    )
    skipped.sort(key=lambda item: item[0])
    return tuple(a for _n, a in found), tuple(s for _n, s in skipped)


def _grouper_refusal(grouping: Grouping) -> str | None:
    if grouping.return_code != "OK":
        return GROUPER_REFUSALS.get(
            grouping.return_code,
            f"ungroupable as principal ({grouping.return_code})",
        )
    if grouping.drg == 998:
        return "invalid as principal for this stay (MS-DRG 998)"
    if grouping.drg in UNGROUPABLE_DRGS or grouping.drg is None:
        return "ungroupable as principal (MS-DRG 999)"
    return None


def _editor_verdict(
    code: str, poa: str, *, age: int, stay: dict[str, Any]
) -> tuple[str | None, str]:
    """(why the code cannot be principal, or None; a caution) from the Medicare Code
    Editor, asked about the code alone as principal diagnosis."""
    edits = mce_edits(
        discharge=stay["discharge_date"],
        age=age,
        sex=stay["sex"],
        discharge_status=stay["discharge_status"],
        diagnoses=[(code, poa)],
        procedures=[],
        display={},
    )
    rules = {e.rule for e in edits}
    for rule, reason in NOT_PRINCIPAL_EDITS.items():
        if rule in rules:
            return reason, ""
    return None, "; ".join(
        text for rule, text in CAUTION_EDITS.items() if rule in rules
    )


def _age_at(birth_date: dt.date, day: dt.date) -> int:
    return (
        day.year
        - birth_date.year
        - ((day.month, day.day) < (birth_date.month, birth_date.day))
    )


_RANK = {"": 0, "CC": 1, "MCC": 2}


def _rank(member: FamilyMember) -> int:
    """The least secondary-diagnosis severity the tier takes: 0 none, 1 CC, 2 MCC."""
    admits = member.admits
    return min((_RANK[a] for a in admits), default=0)


def _tier(
    current: DrgResult,
    now: DrgOption,
    options: _Options,
    table: Mapping[int, DrgWeight] | None,
) -> Tier | None:
    if current.drg is None or current.drg in UNGROUPABLE_DRGS or not table:
        return None
    family = _families_of(table).get(current.drg)
    if family is None:
        return Tier(
            drg=current.drg,
            phrase="",
            family=(now,),
            family_phrases=("",),
            steps=(),
            statement=f"MS-DRG {current.drg:03d} has no CC/MCC tiers: a documented "
            "CC or MCC would not change it.",
        )
    member = next(m for m in family if m.drg == current.drg)
    here = _rank(member)
    steps = []
    for level in ("CC", "MCC"):
        if level in member.admits:
            continue
        target = next(
            (m for m in family if level in m.admits and _rank(m) > here), None
        )
        if target is not None:
            steps.append(
                TierStep(
                    level=level,
                    option=options.option(target.drg, against=now),
                    phrase=_phrase(target),
                    also=target.also,
                )
            )
    return Tier(
        drg=current.drg,
        phrase=_phrase(member),
        family=tuple(options.option(m.drg) for m in family),  # Table 5 titles
        family_phrases=tuple(_phrase(m) for m in family),
        steps=tuple(steps),
        statement=_statement(current, member, family, steps),
    )


def _phrase(member: FamilyMember) -> str:
    return member.phrase.lower().replace(" cc", " CC").replace("mcc", "MCC")


def _statement(
    current: DrgResult,
    member: FamilyMember,
    family: tuple[FamilyMember, ...],
    steps: list[TierStep],
) -> str:
    """ "MS-DRG 195 is the “without CC/MCC” tier of 193/194/195: a documented CC would
    make it 194 (weight 0.8059), an MCC 193 (weight 1.3144)." """
    text = f"MS-DRG {current.drg:03d} is the “{_phrase(member)}” tier"
    if len(family) == 1:
        return text + "; Table 5 lists no other tier of its family."
    text += " of " + "/".join(f"{m.drg:03d}" for m in family)
    if member.also and not {c.level for c in current.cc_mcc} & member.admits:
        text += f" (reached here by {member.also.lower()}, not by a CC or MCC)"
    changes: list[str] = []
    levels = [step.level for step in steps]
    if len(steps) == 2 and steps[0].option.drg == steps[1].option.drg:
        levels, steps = ["CC or MCC"], steps[:1]  # a "with CC/MCC" tier
    for level, step in zip(levels, steps, strict=True):
        target = f"{step.option.drg:03d}"
        if step.option.weight is not None:
            target += f" (weight {step.option.weight})"
        lead = "an" if changes else "a documented"
        changes.append(f"{lead} {level} {'' if changes else 'would make it '}{target}")
    if "" in member.admits and "CC" in member.admits:
        changes.append("a CC would not change it")
    if not changes:
        return text + ": the highest tier of its family."
    return text + ": " + ", ".join(changes) + "."


def _hac_effects(
    current: DrgResult, now: DrgOption, options: _Options
) -> tuple[HacEffect, ...]:
    if not current.hacs:
        return ()
    initial = options.option(current.initial_drg)
    final = options.option(
        current.drg, current.title, against=initial, weight=now.weight
    )
    return tuple(
        HacEffect(
            code=hit.code,
            poa=hit.poa,
            hac=hit.hac,
            description=hit.description,
            level=hit.level,
            initial=initial,
            final=final,
        )
        for hit in current.hacs
    )


def encounter_what_if(
    encounter: Encounter,
    *,
    diagnoses: Sequence[tuple[str, str]] | None = None,
    procedures: Sequence[str] | None = None,
    current: DrgResult | None = None,
    price: Price | None = None,
    titles: Mapping[str, str] | None = None,
) -> WhatIf | str | None:
    """The what-if of an inpatient encounter for the given codes (default: the saved
    ones, titled as saved); ``current`` is their DRG when the caller has grouped
    them already.

    None for other encounter types or without a principal diagnosis; a message
    string when no grouper covers the discharge date. Never writes."""
    if not encounter.is_inpatient or encounter.discharge_date is None:
        return None
    if diagnoses is None:
        saved = list(encounter.diagnoses.all())
        diagnoses = [(d.code, d.poa) for d in saved]
        titles = {d.code: d.title for d in saved} if titles is None else titles
    if procedures is None:
        procedures = [
            p.code for p in encounter.procedures.all() if p.system == System.ICD10PCS
        ]
    if not diagnoses or not diagnoses[0][0].strip():
        return None
    if current is None:
        grouped = encounter_drg(
            encounter, diagnoses=list(diagnoses), procedures=list(procedures)
        )
        if not isinstance(grouped, DrgResult):
            return grouped
        current = grouped
    try:
        return drg_what_if(
            **encounter_stay_fields(encounter),
            diagnoses=diagnoses,
            procedures=procedures,
            current=current,
            price=price,
            titles=titles,
        )
    except DrgUnavailable as exc:
        return str(exc)
