"""Run the audit rules over encounters, store the findings, route the encounters.

Chunks of encounters are read with their codes in three queries, everything the
rules need about those codes is loaded in bulk (and cached per process), the rules
and the grouper run in memory, and the results are written with bulk inserts, all
in one transaction per chunk. The unique (encounter, version, trigger, batch) key of
AuditRun makes a second run of the same job a no-op, so a job redelivered after a
worker was killed (acks_late) neither loses nor duplicates anything.

Routing after an audit at submit (DESIGN.md): any error finding returns the
encounter to its coder; warnings, or the random sample (per-coder rate, default
AUDIT_SAMPLE_RATE), send it to the supervisor queue; otherwise it becomes final.
A batch audit (a selection, or a new release) adds findings; encounters that are
final or submitted and now have errors or warnings go to the supervisor queue;
encounters a coder still holds keep their status and show the findings.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Prefetch
from django.utils import timezone

from codesets.models import Release
from codesets.selectors import mue_for, ptp_pairs_on
from encounters.audit import knowledge
from encounters.audit.mce import mce_edits
from encounters.audit.rules import Case, Draft, Dx, Px, candidates, run_rules
from encounters.drg import encounter_drg_stored
from encounters.models import (
    AuditBatch,
    AuditRun,
    AuditSampleRate,
    CodingChange,
    Diagnosis,
    Encounter,
    Finding,
    Procedure,
)

CODE_SYSTEMS = ("icd10cm", "icd10pcs", "cpt", "hcpcs")


@dataclass
class AuditStats:
    audited: int = 0
    skipped: int = 0
    findings: int = 0
    routed: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


class _Releases:
    """The releases in force, read once per chunk: which one judges a date."""

    def __init__(self) -> None:
        self.rows = list(
            Release.objects.in_force()
            .filter(system__in=CODE_SYSTEMS)
            .only("id", "system", "label", "state", "effective_from", "effective_to")
        )
        self.loaded = {r.system for r in self.rows}

    def on(self, day: dt.date) -> dict[str, tuple[int, str]]:
        return {r.system: (r.id, r.label) for r in self.rows if r.covers(day)}


def _sample_rates(coder_ids: set[int]) -> dict[int, Decimal]:
    return dict(
        AuditSampleRate.objects.filter(coder_id__in=coder_ids).values_list(
            "coder_id", "rate"
        )
    )


def _case(
    encounter: Encounter,
    releases: _Releases,
    lines: tuple[list[Dx], list[Px]] | None = None,
) -> Case:
    day = encounter.date_of_service
    if lines is None:
        lines = (
            [
                Dx(d.code, d.display, d.poa, d.sequence)
                for d in encounter.diagnoses.all()
            ],
            [
                Px(p.system, p.code, p.display, p.date, list(p.modifiers), p.units)
                for p in encounter.procedures.all()
            ],
        )
    return Case(
        encounter_id=encounter.id,
        type=encounter.type,
        dos=day,
        age=encounter.patient.age_on(encounter.admit_date),
        sex=encounter.patient.sex,
        discharge_status=encounter.discharge_status or "01",
        length_of_stay=encounter.length_of_stay,
        diagnoses=lines[0],
        procedures=lines[1],
        releases=releases.on(day),
        loaded=releases.loaded,
    )


def _load_knowledge(cases: list[Case]) -> None:
    wanted: dict[tuple[str, int], set[str]] = defaultdict(set)
    for case in cases:
        cm = case.release("icd10cm")
        if cm:
            for d in case.diagnoses:
                wanted[("icd10cm", cm)].add(d.code)
                wanted[("icd10cm", cm)].update(candidates(d.code))
        for p in case.procedures:
            release = case.release(p.system)
            if release:
                wanted[(p.system, release)].add(p.code)
    for (system, release), codes in wanted.items():
        knowledge.nodes_load(release, codes, system=system)


def _edit_tables(case: Case) -> None:
    """NCCI and MUE rows for an outpatient/professional case with CPT/HCPCS lines."""
    lines = [p for p in case.procedures if p.system in ("cpt", "hcpcs")]
    if not lines or case.inpatient:
        return
    ptp_variant = "practitioner" if case.type == "professional" else "hospital"
    mue_variant = "practitioner" if case.type == "professional" else "facility"
    days = {p.date or case.dos for p in lines}
    codes = {p.code for p in lines}
    for day in days:
        case.ptp.extend(ptp_pairs_on(codes=codes, day=day, variant=ptp_variant))
    case.mue.update(mue_for(codes=codes, day=case.dos, variant=mue_variant))


def _mce(case: Case) -> None:
    if case.inpatient and case.diagnoses:
        display = {d.code: d.display for d in case.diagnoses}
        case.mce = mce_edits(
            discharge=case.dos,
            age=case.age,
            sex=case.sex,
            discharge_status=case.discharge_status,
            diagnoses=[(d.code, d.poa) for d in case.diagnoses],
            procedures=[p.code for p in case.procedures if p.system == "icd10pcs"],
            display=display,
        )


def cases_prepare(
    encounters: Sequence[Encounter],
    *,
    lines: Sequence[tuple[list[Dx], list[Px]]] | None = None,
) -> list[Case]:
    """The :class:`Case` of each encounter, ready for ``run_rules``: the releases in
    force on its date of service, what the rules know of its codes (loaded in bulk),
    the MCE's edits and the NCCI/MUE rows. The audit job and the live checks of the
    coding form (encounters.audit.selectors) both start here.

    ``encounters`` come with ``patient`` and their diagnoses and procedures (in
    sequence); ``lines``, when given, are the codes to judge instead of the stored
    ones (the coding form's unsaved rows), one (diagnoses, procedures) per encounter.
    """
    releases = _Releases()
    cases = [
        _case(encounter, releases, lines[n] if lines is not None else None)
        for n, encounter in enumerate(encounters)
    ]
    _load_knowledge(cases)
    for case in cases:
        _mce(case)
        _edit_tables(case)
    return cases


def _drg(encounter: Encounter, case: Case) -> dict | None:
    if not case.diagnoses:
        return None
    try:
        return encounter_drg_stored(
            encounter,
            diagnoses=[(d.code, d.poa) for d in case.diagnoses],
            procedures=[p.code for p in case.procedures if p.system == "icd10pcs"],
        )
    except ValueError as exc:  # a value the grouper refuses: said, not raised
        return {"drg": None, "message": str(exc)}


def _route(
    encounter: Encounter, drafts: list[Draft], trigger: str, sampled: bool
) -> str:
    """The status the encounter moves to ('' = stays)."""
    errors = any(d.severity == "error" for d in drafts)
    warnings = any(d.severity == "warning" for d in drafts)
    if trigger == AuditRun.Trigger.SUBMIT:
        if encounter.status != Encounter.Status.SUBMITTED:
            return ""
        if errors:
            return Encounter.Status.RETURNED
        if warnings or sampled:
            return Encounter.Status.IN_REVIEW
        return Encounter.Status.FINAL
    if (errors or warnings) and encounter.status in (
        Encounter.Status.FINAL,
        Encounter.Status.SUBMITTED,
    ):
        return Encounter.Status.IN_REVIEW
    return ""


def _route_comment(status: str, drafts: list[Draft], sampled: bool) -> str:
    errors = [d for d in drafts if d.severity == "error"]
    warnings = [d for d in drafts if d.severity == "warning"]
    if status == Encounter.Status.RETURNED:
        return "Returned to the coder: " + "; ".join(d.message for d in errors)[:480]
    if status == Encounter.Status.IN_REVIEW:
        why = f"{len(warnings)} warning(s)" if warnings else "random sample"
        return f"Sent to the supervisor queue ({why})."
    if status == Encounter.Status.FINAL:
        return "Clean audit: final."
    return ""


@transaction.atomic
def _audit_chunk(
    encounter_ids: list[int],
    *,
    trigger: str,
    batch: AuditBatch | None,
    rng: random.Random,
) -> AuditStats:
    stats = AuditStats()
    encounters = list(
        Encounter.objects.filter(id__in=encounter_ids)
        .select_related("patient")
        .select_for_update(of=("self",))
        .prefetch_related(
            Prefetch("diagnoses", queryset=Diagnosis.objects.order_by("sequence")),
            Prefetch("procedures", queryset=Procedure.objects.order_by("sequence")),
        )
        .order_by("id")
    )
    done = set(
        AuditRun.objects.filter(
            encounter_id__in=encounter_ids, trigger=trigger, batch=batch
        ).values_list("encounter_id", "encounter_version")
    )
    audited = []
    for encounter in encounters:
        if (encounter.id, encounter.version) in done:
            stats.skipped += 1
            continue
        if trigger == AuditRun.Trigger.SUBMIT and (
            encounter.status != Encounter.Status.SUBMITTED
        ):
            stats.skipped += 1
            continue
        audited.append(encounter)
    todo = list(zip(audited, cases_prepare(audited), strict=True))
    rates = _sample_rates({e.assigned_to_id for e, _c in todo if e.assigned_to_id})
    default_rate = Decimal(str(settings.AUDIT_SAMPLE_RATE))

    runs, per_run, changes, moves = [], [], [], defaultdict(list)
    now = timezone.now()
    for encounter, case in todo:
        drafts = run_rules(case)
        rate = (
            rates.get(encounter.assigned_to_id, default_rate)
            if encounter.assigned_to_id is not None
            else default_rate
        )
        sampled = trigger == AuditRun.Trigger.SUBMIT and rng.random() < float(rate)
        status = _route(encounter, drafts, trigger, sampled)
        drg = _drg(encounter, case)
        runs.append(
            AuditRun(
                encounter=encounter,
                encounter_version=encounter.version,
                trigger=trigger,
                batch=batch,
                sampled=sampled,
                routed_to=status,
                drg=drg,
                created_at=now,
            )
        )
        per_run.append(drafts)
        if status:
            moves[status].append(encounter.id)
            changes.append(
                CodingChange(
                    encounter=encounter,
                    action=CodingChange.Action.AUDITED,
                    changed_by=None,
                    changed_at=now,
                    version=encounter.version + 1,
                    before={"status": encounter.status},
                    after={"status": status, "findings": len(drafts)},
                    comment=_route_comment(status, drafts, sampled),
                )
            )
            stats.routed[status] += 1
    AuditRun.objects.bulk_create(runs)
    if trigger == AuditRun.Trigger.SUBMIT:
        # The DRG the audit computed is the one stored with the encounter (the
        # audit queue shows it; the submit stored the same unless codes changed).
        grouped = []
        for run, (encounter, _unused) in zip(runs, todo, strict=True):
            if run.drg is not None and encounter.drg != run.drg:
                encounter.drg = run.drg
                grouped.append(encounter)
        Encounter.objects.bulk_update(grouped, ["drg"])
    findings = [
        Finding(
            encounter_id=run.encounter_id,
            run=run,
            rule=d.rule,
            severity=d.severity,
            message=d.message[:500],
            codes=list(d.codes),
            reference=d.reference[:300],
            created_at=now,
        )
        for run, drafts in zip(runs, per_run, strict=True)
        for d in drafts
    ]
    Finding.objects.bulk_create(findings)
    for status, ids in moves.items():
        Encounter.objects.filter(id__in=ids).update(
            status=status,
            version=F("version") + 1,
            updated_at=now,
        )
    CodingChange.objects.bulk_create(changes)
    stats.audited = len(runs)
    stats.findings = len(findings)
    if batch is not None:
        AuditBatch.objects.filter(id=batch.id).update(
            done=F("done") + len(encounter_ids),
            findings=F("findings") + len(findings),
        )
    return stats


def audit_encounters(
    *,
    encounter_ids: list[int],
    trigger: str,
    batch: AuditBatch | None = None,
    seed: int | None = None,
) -> AuditStats:
    """Audit the encounters in chunks (one transaction each); safe to run twice."""
    rng = random.Random(seed)  # noqa: S311 - audit sampling, not secrets
    total = AuditStats()
    chunk = settings.AUDIT_CHUNK
    for start in range(0, len(encounter_ids), chunk):
        stats = _audit_chunk(
            encounter_ids[start : start + chunk], trigger=trigger, batch=batch, rng=rng
        )
        total.audited += stats.audited
        total.skipped += stats.skipped
        total.findings += stats.findings
        for status, n in stats.routed.items():
            total.routed[status] += n
    return total
