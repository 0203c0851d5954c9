"""Every write to encounters: create (web, API, feeds), claim, save coding, submit.

Codes are checked against the release in force on the date of service. A code no
loaded release has ever had is refused (the sender is told which one); a code that
exists but is not valid on that date (deleted, header, not yet effective) is kept
and flagged so nothing a feed sends is lost.

Concurrent edits: every change bumps ``Encounter.version`` under a row lock; a save
carrying an older version raises :class:`CodingConflict` (HTTP 409) with what the
other person changed, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from codesets.models import System, display_code, is_cpt_modifier, normalize_code
from codesets.selectors import (
    CodeVerdict,
    codes_check,
    modifier_list,
    releases_in_force,
    releases_memo,
)
from encounters.dates import encounter_date_errors, service_date_problem
from encounters.drg import encounter_drg_stored
from encounters.models import (
    ChartAccess,
    CodingChange,
    Diagnosis,
    Document,
    Encounter,
    Patient,
    procedure_systems_for,
)
from encounters.selectors import encounter_last_change, encounter_may_edit
from jobs.services import job_enqueue

MAX_DIAGNOSES = 25  # UB-04 has 1 principal + 24 other diagnoses
MAX_PROCEDURES = 25
COMMENT_MAX = 500  # CodingChange.comment
# The history rows that begin a pass of coding, ended by a submit.
CODING_STARTS = (
    CodingChange.Action.CLAIMED,
    CodingChange.Action.REASSIGNED,
    CodingChange.Action.RETURNED,
)


@dataclass
class DiagnosisInput:
    code: str
    poa: str = ""


@dataclass
class ProcedureInput:
    system: str
    code: str
    date: dt.date | None = None
    modifiers: list[str] = field(default_factory=list)
    units: int = 1


@dataclass
class PatientInput:
    mrn: str
    first_name: str
    last_name: str
    birth_date: dt.date
    sex: str


@dataclass
class DocumentInput:
    kind: str
    text: str
    title: str = ""


@dataclass
class EncounterInput:
    type: str
    facility: str
    admit_date: dt.date
    patient: PatientInput
    discharge_date: dt.date | None = None
    discharge_status: str = ""
    attending_provider: str = ""
    documents: list[DocumentInput] = field(default_factory=list)
    diagnoses: list[DiagnosisInput] = field(default_factory=list)
    procedures: list[ProcedureInput] = field(default_factory=list)


class CodingConflict(Exception):
    """Someone saved the encounter after the version the caller started from."""

    def __init__(self, encounter: Encounter, change: CodingChange | None) -> None:
        self.encounter = encounter
        self.change = change
        who = "someone"
        if change is not None and change.changed_by is not None:
            who = change.changed_by.get_full_name() or change.changed_by.username
        when = f" at {timezone.localtime(change.changed_at):%H:%M:%S}" if change else ""
        super().__init__(
            f"Encounter {encounter.id} was changed by {who}{when} (now version "
            f"{encounter.version}) after you opened it. Nothing of yours was saved: "
            "review their change and save again."
        )

    @property
    def current(self) -> dict[str, Any]:
        return coding_snapshot(self.encounter)


class NotEditable(Exception):
    """The encounter is not in a state (or not assigned so) that allows this change."""


# --- checks ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedDiagnosis:
    code: str
    poa: str
    verdict: CodeVerdict
    index: int  # position in the diagnoses checked (rows with errors have none)


@dataclass(frozen=True)
class CheckedProcedure:
    system: str
    code: str
    date: dt.date | None
    modifiers: list[str]
    units: int
    verdict: CodeVerdict
    message: str  # verdict message plus procedure-level remarks
    index: int  # position in the procedures checked (rows with errors have none)


def _systems_loaded() -> set[str]:
    return {r.system for r in releases_in_force()}


CodingCheck = tuple[
    list[CheckedDiagnosis], list[CheckedProcedure], dict[str, list[str]]
]
# Results of coding_check for the request being served (see coding_check_memo).
_check_memo: ContextVar[dict[tuple[Any, ...], CodingCheck] | None] = ContextVar(
    "coding_check_memo", default=None
)


@contextmanager
def coding_check_memo() -> Iterator[None]:
    """Within the block, coding_check of the same rows on the same dates is done
    once: the coding form's save checks the rows in the service, then again to
    show them (the code sets do not change in the middle of a request)."""
    token = _check_memo.set({})
    try:
        with releases_memo():
            yield
    finally:
        _check_memo.reset(token)


def coding_check(
    *,
    encounter_type: str,
    admit_date: dt.date,
    discharge_date: dt.date | None,
    diagnoses: list[DiagnosisInput],
    procedures: list[ProcedureInput],
) -> CodingCheck:
    """Check codes against the releases in force on the date of service.

    Returns the checked rows and the errors that make the input unusable, keyed
    like ``diagnoses.2.code`` (0-based): malformed values and codes no loaded
    release has ever had. Codes that exist but are not valid on the date are not
    errors: their verdict carries the message.
    """
    memo = _check_memo.get()
    key = (
        encounter_type,
        admit_date,
        discharge_date,
        tuple((d.code, d.poa) for d in diagnoses),
        tuple(
            (p.system, p.code, p.date, tuple(p.modifiers), p.units) for p in procedures
        ),
    )
    if memo is None or key not in memo:
        checked = _coding_check(
            encounter_type=encounter_type,
            admit_date=admit_date,
            discharge_date=discharge_date,
            diagnoses=diagnoses,
            procedures=procedures,
        )
        if memo is None:
            return checked
        memo[key] = checked
    checked_dx, checked_px, errors = memo[key]
    # Copies: a caller may change what it gets.
    return list(checked_dx), list(checked_px), {k: list(v) for k, v in errors.items()}


def _coding_check(
    *,
    encounter_type: str,
    admit_date: dt.date,
    discharge_date: dt.date | None,
    diagnoses: list[DiagnosisInput],
    procedures: list[ProcedureInput],
) -> CodingCheck:
    day = discharge_date or admit_date
    errors: dict[str, list[str]] = {}
    loaded = _systems_loaded()
    if len(diagnoses) > MAX_DIAGNOSES:
        errors["diagnoses"] = [f"At most {MAX_DIAGNOSES} diagnoses."]
    if len(procedures) > MAX_PROCEDURES:
        errors["procedures"] = [f"At most {MAX_PROCEDURES} procedures."]

    dx_verdicts = codes_check(
        system=System.ICD10CM, codes=[d.code for d in diagnoses], day=day
    )
    checked_dx = []
    for n, d in enumerate(diagnoses):
        code = normalize_code(d.code)
        if not code:
            errors[f"diagnoses.{n}.code"] = ["Enter a code."]
            continue
        poa = (d.poa or "").strip().upper()
        if poa not in Diagnosis.Poa.values and poa != "":
            errors[f"diagnoses.{n}.poa"] = [
                f"{d.poa!r} is not a POA indicator; use Y, N, U, W or 1."
            ]
        verdict = dx_verdicts[code]
        if not verdict.exists and System.ICD10CM in loaded:
            errors[f"diagnoses.{n}.code"] = [verdict.message]
        checked_dx.append(
            CheckedDiagnosis(code=code, poa=poa, verdict=verdict, index=n)
        )

    by_system: dict[str, list[str]] = {}
    for p in procedures:
        by_system.setdefault(p.system, []).append(p.code)
    px_verdicts = {
        system: codes_check(system=system, codes=codes, day=day)
        for system, codes in by_system.items()
        if system in System.values
    }
    modifiers_valid: set[str] | None = None
    if System.HCPCS in loaded and any(p.modifiers for p in procedures):
        modifiers_valid = {m.code for m in modifier_list(day=day)}
    checked_px = []
    for n, p in enumerate(procedures):
        code = normalize_code(p.code)
        if p.system not in System.values or p.system == System.ICD10CM:
            errors[f"procedures.{n}.system"] = [
                f"{p.system!r} is not a procedure code system; use icd10pcs, cpt or hcpcs."
            ]
            continue
        if not code:
            errors[f"procedures.{n}.code"] = ["Enter a code."]
            continue
        modifiers = [normalize_code(m) for m in p.modifiers if m.strip()]
        if len(modifiers) > 4:
            errors[f"procedures.{n}.modifiers"] = ["At most 4 modifiers."]
        bad = [m for m in modifiers if len(m) != 2 or not m.isalnum()]
        if bad:
            errors[f"procedures.{n}.modifiers"] = [
                f"Modifiers are two letters or digits: {', '.join(bad)}."
            ]
        if p.system == System.ICD10PCS and modifiers:
            errors[f"procedures.{n}.modifiers"] = [
                "ICD-10-PCS codes take no modifiers."
            ]
        if p.date and (problem := service_date_problem(p.date)):
            errors[f"procedures.{n}.date"] = [problem]
        if not 1 <= p.units <= 9999:
            errors[f"procedures.{n}.units"] = ["Units must be between 1 and 9999."]
        verdict = px_verdicts[p.system][code]
        if not verdict.exists and p.system in loaded:
            errors[f"procedures.{n}.code"] = [verdict.message]
        remarks = [verdict.message] if verdict.message else []
        if p.system not in procedure_systems_for(encounter_type):
            remarks.append(
                "ICD-10-PCS is for inpatient facility claims; use CPT or HCPCS here."
                if p.system == System.ICD10PCS
                else "Inpatient facility claims report procedures in ICD-10-PCS."
            )
        unknown = [
            m
            for m in modifiers
            if modifiers_valid is not None
            and m not in modifiers_valid
            and not is_cpt_modifier(m)
        ]
        if unknown:
            remarks.append(
                f"Modifier {', '.join(unknown)} is not in the HCPCS modifier list "
                f"valid on {day:%Y-%m-%d}."
            )
        if p.system not in loaded:
            remarks.append(
                f"No {System(p.system).label} release is loaded: the code is not checked."
            )
        if p.date and (p.date < admit_date or p.date > (discharge_date or admit_date)):
            remarks.append(
                f"Procedure date {p.date:%Y-%m-%d} is outside the encounter's dates."
            )
        checked_px.append(
            CheckedProcedure(
                system=p.system,
                code=code,
                date=p.date,
                modifiers=modifiers,
                units=p.units,
                verdict=verdict,
                message=" ".join(remarks),
                index=n,
            )
        )
    return checked_dx, checked_px, errors


SNAPSHOT_SQL = """
SELECT 'dx', sequence, code, poa, NULL, NULL::date, NULL::varchar[], NULL::integer
FROM encounters_diagnosis WHERE encounter_id = %(id)s
UNION ALL
SELECT 'px', sequence, code, '', system, date, modifiers, units
FROM encounters_procedure WHERE encounter_id = %(id)s
ORDER BY 1, 2
"""


def coding_snapshot(encounter: Encounter) -> dict[str, Any]:
    """The encounter's codes as shown to people: what history and conflicts compare.
    One query for the diagnoses and the procedures (every save reads it)."""
    with connection.cursor() as cursor:
        cursor.execute(SNAPSHOT_SQL, {"id": encounter.id})
        rows = cursor.fetchall()
    return {
        "diagnoses": [
            {"code": display_code(System.ICD10CM, code), "poa": poa}
            for kind, _seq, code, poa, *_rest in rows
            if kind == "dx"
        ],
        "procedures": [
            _procedure_line(system, code, date, modifiers, units)
            for kind, _seq, code, _poa, system, date, modifiers, units in rows
            if kind == "px"
        ],
    }


def _procedure_line(
    system: str, code: str, date: dt.date | None, modifiers: list[str], units: int
) -> dict[str, Any]:
    return {
        "system": system,
        "code": display_code(system, code),
        "date": date.isoformat() if date else None,
        "modifiers": list(modifiers),
        "units": units,
    }


# Both tables in one statement each: the deletes, then the inserts (separate
# statements: the new rows reuse the sequence numbers the unique constraints guard).
DELETE_CODES_SQL = """
WITH dx AS (DELETE FROM encounters_diagnosis WHERE encounter_id = %(id)s)
DELETE FROM encounters_procedure WHERE encounter_id = %(id)s
"""
INSERT_CODES_SQL = """
WITH dx AS (
    INSERT INTO encounters_diagnosis
        (encounter_id, sequence, code, poa, valid, message, title)
    SELECT %(id)s, * FROM unnest(
        %(dx_seq)s::smallint[], %(dx_code)s::varchar[], %(dx_poa)s::varchar[],
        %(dx_valid)s::boolean[], %(dx_message)s::varchar[], %(dx_title)s::varchar[])
)
INSERT INTO encounters_procedure
    (encounter_id, sequence, system, code, date, modifiers, units, valid, message, title)
SELECT %(id)s, seq, system, code, date,
       coalesce(string_to_array(nullif(mods, ''), ','), '{}')::varchar[],
       units, valid, message, title
FROM unnest(
    %(px_seq)s::smallint[], %(px_system)s::varchar[], %(px_code)s::varchar[],
    %(px_date)s::date[], %(px_mods)s::text[], %(px_units)s::integer[],
    %(px_valid)s::boolean[], %(px_message)s::varchar[], %(px_title)s::varchar[]
) AS p(seq, system, code, date, mods, units, valid, message, title)
"""


def _write_codes(
    encounter: Encounter,
    checked_dx: list[CheckedDiagnosis],
    checked_px: list[CheckedProcedure],
) -> dict[str, Any]:
    """Replace the encounter's codes (two statements); returns their coding_snapshot
    (from the rows written, in sequence order: the same as reading them back)."""
    px = list(enumerate(checked_px, start=1))
    dx = list(enumerate(checked_dx, start=1))
    with connection.cursor() as cursor:
        cursor.execute(DELETE_CODES_SQL, {"id": encounter.id})
        if dx or px:
            cursor.execute(
                INSERT_CODES_SQL,
                {
                    "id": encounter.id,
                    "dx_seq": [n for n, _ in dx],
                    "dx_code": [d.code for _, d in dx],
                    "dx_poa": [d.poa for _, d in dx],
                    "dx_valid": [d.verdict.valid for _, d in dx],
                    "dx_message": [d.verdict.message[:300] for _, d in dx],
                    "dx_title": [d.verdict.title[:400] for _, d in dx],
                    "px_seq": [n for n, _ in px],
                    "px_system": [p.system for _, p in px],
                    "px_code": [p.code for _, p in px],
                    "px_date": [p.date for _, p in px],
                    "px_mods": [",".join(p.modifiers) for _, p in px],
                    "px_units": [p.units for _, p in px],
                    "px_valid": [p.verdict.valid and not p.message for _, p in px],
                    "px_message": [p.message[:300] for _, p in px],
                    "px_title": [p.verdict.title[:400] for _, p in px],
                },
            )
    return {
        "diagnoses": [
            {"code": display_code(System.ICD10CM, d.code), "poa": d.poa} for _, d in dx
        ],
        "procedures": [
            _procedure_line(p.system, p.code, p.date, p.modifiers, p.units)
            for _, p in px
        ],
    }


# --- create ------------------------------------------------------------------


def _patient_get_or_create(data: PatientInput) -> Patient:
    patient = Patient.objects.select_for_update().filter(mrn=data.mrn).first()
    if patient is None:
        patient = Patient(
            mrn=data.mrn,
            first_name=data.first_name,
            last_name=data.last_name,
            birth_date=data.birth_date,
            sex=data.sex,
        )
        patient.full_clean()
        patient.save()
        return patient
    differs = [
        name
        for name in ("first_name", "last_name", "birth_date", "sex")
        if getattr(patient, name) != getattr(data, name)
    ]
    if differs:
        # Never overwrite demographics from a feed silently.
        raise ValidationError(
            {
                f"patient.{name}": [
                    f"MRN {data.mrn} is already on file with a different {name.replace('_', ' ')}; "
                    "correct the patient record first."
                ]
                for name in differs
            }
        )
    return patient


@transaction.atomic
def encounter_create(*, data: EncounterInput, created_by: User | None) -> Encounter:
    errors: dict[str, list[str]] = {}
    if data.type not in Encounter.Type.values:
        errors["type"] = [f"{data.type!r} is not an encounter type."]
    if data.type == Encounter.Type.INPATIENT and data.discharge_date is None:
        errors["discharge_date"] = ["An inpatient stay needs a discharge date."]
    errors.update(
        encounter_date_errors(
            admit_date=data.admit_date,
            discharge_date=data.discharge_date,
            birth_date=data.patient.birth_date,
        )
    )
    if data.discharge_status and not (
        len(data.discharge_status) == 2 and data.discharge_status.isdigit()
    ):
        errors["discharge_status"] = [
            "Use the two-digit UB-04 patient status, e.g. 01."
        ]
    if data.patient.sex not in Patient.Sex.values:
        errors["patient.sex"] = ["Use M, F or U."]
    for n, doc in enumerate(data.documents):
        if doc.kind not in Document.Kind.values:
            errors[f"documents.{n}.kind"] = [
                f"{doc.kind!r} is not a document kind; use one of "
                f"{', '.join(Document.Kind.values)}."
            ]
    checked_dx, checked_px, code_errors = coding_check(
        encounter_type=data.type,
        admit_date=data.admit_date,
        discharge_date=data.discharge_date,
        diagnoses=data.diagnoses,
        procedures=data.procedures,
    )
    errors.update(code_errors)
    if errors:
        raise ValidationError(errors)
    patient = _patient_get_or_create(data.patient)
    encounter = Encounter.objects.create(
        patient=patient,
        type=data.type,
        facility=data.facility,
        admit_date=data.admit_date,
        discharge_date=data.discharge_date,
        discharge_status=data.discharge_status,
        attending_provider=data.attending_provider,
    )
    Document.objects.bulk_create(
        Document(encounter=encounter, kind=d.kind, title=d.title, text=d.text)
        for d in data.documents
    )
    _write_codes(encounter, checked_dx, checked_px)
    CodingChange.objects.create(
        encounter=encounter,
        action=CodingChange.Action.CREATED,
        changed_by=created_by,
        version=encounter.version,
        after=coding_snapshot(encounter),
    )
    return encounter


# --- claim, save, submit ------------------------------------------------------


@transaction.atomic
def encounter_claim(*, user: User, encounter_id: int) -> Encounter:
    """Assign an unassigned, ready encounter to ``user``."""
    encounter = Encounter.objects.locked(encounter_id)
    if encounter.assigned_to_id == user.id:
        return encounter
    if (
        encounter.assigned_to_id is not None
        or encounter.status != Encounter.Status.READY
    ):
        raise NotEditable("Another coder has already claimed this encounter.")
    encounter.bump(assigned_to=user, status=Encounter.Status.IN_PROGRESS)
    CodingChange.objects.create(
        encounter=encounter,
        action=CodingChange.Action.CLAIMED,
        changed_by=user,
        version=encounter.version,
    )
    return encounter


@transaction.atomic
def encounter_reassign(
    *, user: User, encounter_id: int, version: int, coder: User | None
) -> Encounter:
    """A supervisor gives an open encounter to another coder (or back to the pool:
    ``coder=None``). The codes stay; the history says who moved it where."""
    encounter = Encounter.objects.locked(encounter_id)
    if encounter.version != version:
        raise CodingConflict(encounter, encounter_last_change(encounter=encounter))
    if not user.has_perm("accounts.review_audits"):
        raise NotEditable("Only a supervisor may reassign encounters.")
    if not encounter.is_editable:
        raise NotEditable(
            f"This encounter is {encounter.get_status_display().lower()}: only open "
            "encounters are reassigned."
        )
    if coder is not None and not coder.has_perm("accounts.code_encounters"):
        raise ValidationError({"coder": [f"{coder.username} is not a coder."]})
    before = encounter.assigned_to.username if encounter.assigned_to else None
    status = encounter.status
    if coder is None and status == Encounter.Status.IN_PROGRESS:
        status = Encounter.Status.READY
    encounter.bump(assigned_to=coder, status=status)
    CodingChange.objects.create(
        encounter=encounter,
        action=CodingChange.Action.REASSIGNED,
        changed_by=user,
        version=encounter.version,
        before={"assigned_to": before},
        after={"assigned_to": coder.username if coder else None},
        comment=f"Assigned to {coder.get_full_name() or coder.username}"
        if coder
        else "Back to the unassigned pool",
    )
    return encounter


@transaction.atomic
def encounter_claim_next(
    *, user: User, type: str = "", facility: str = ""
) -> Encounter | None:
    """The oldest unassigned ready encounter (by date of service), claimed.

    ``SKIP LOCKED``: two coders pressing "next" at once get different encounters.
    """
    candidates = Encounter.objects.filter(
        assigned_to__isnull=True, status=Encounter.Status.READY
    )
    if type:
        candidates = candidates.filter(type=type)
    if facility:
        candidates = candidates.filter(facility=facility)
    encounter = (
        candidates.select_for_update(skip_locked=True)
        .order_by("discharge_date", "admit_date", "id")
        .first()
    )
    if encounter is None:
        return None
    return encounter_claim(user=user, encounter_id=encounter.id)


def _may_edit(encounter: Encounter, user: User) -> None:
    if encounter_may_edit(encounter=encounter, user=user):
        return
    if encounter.assigned_to_id != user.id:
        raise NotEditable("This encounter is not assigned to you.")
    raise NotEditable(
        f"This encounter is {encounter.get_status_display().lower()}: its codes "
        "cannot be changed now."
    )


@transaction.atomic
def encounter_save_coding(
    *,
    user: User | None,
    encounter_id: int,
    version: int,
    diagnoses: list[DiagnosisInput] | None = None,
    procedures: list[ProcedureInput] | None = None,
    action: str = CodingChange.Action.SAVED,
    comment: str = "",
) -> Encounter:
    """Replace the encounter's diagnoses and/or procedures (None: leave as is).

    Raises CodingConflict when ``version`` is not the current one, ValidationError
    for malformed input or unknown codes, NotEditable when the user may not change
    it now. Nothing is written in any of those cases.
    """
    if len(comment) > COMMENT_MAX:
        raise ValidationError(
            {"comment": [f"Keep the comment to at most {COMMENT_MAX} characters."]}
        )
    encounter = Encounter.objects.locked(encounter_id)
    if encounter.version != version:
        raise CodingConflict(encounter, encounter_last_change(encounter=encounter))
    if user is not None:
        _may_edit(encounter, user)
    before = coding_snapshot(encounter)
    if diagnoses is None:
        diagnoses = [DiagnosisInput(d["code"], d["poa"]) for d in before["diagnoses"]]
    if procedures is None:
        procedures = [
            ProcedureInput(
                system=p["system"],
                code=p["code"],
                date=dt.date.fromisoformat(p["date"]) if p["date"] else None,
                modifiers=p["modifiers"],
                units=p["units"],
            )
            for p in before["procedures"]
        ]
    checked_dx, checked_px, errors = coding_check(
        encounter_type=encounter.type,
        admit_date=encounter.admit_date,
        discharge_date=encounter.discharge_date,
        diagnoses=diagnoses,
        procedures=procedures,
    )
    if errors:
        raise ValidationError(errors)
    after = _write_codes(encounter, checked_dx, checked_px)
    if after == before:
        return encounter
    status = encounter.status
    if status == Encounter.Status.READY:
        status = Encounter.Status.IN_PROGRESS
    _bump_and_record(
        encounter,
        status=status,
        action=action,
        user=user,
        before=before,
        after=after,
        comment=comment,
    )
    return encounter


# The next version of a coding save and its history entry, in one statement: what
# Encounter.bump and CodingChange.objects.create do, without two ORM round trips on
# every save of the coding form.
BUMP_AND_RECORD_SQL = """
WITH bumped AS (
    UPDATE encounters_encounter
    SET status = %(status)s, version = version + 1, updated_at = %(now)s
    WHERE id = %(id)s
    RETURNING version
)
INSERT INTO encounters_codingchange
    (encounter_id, action, changed_by_id, changed_at, version, before, after, comment)
SELECT %(id)s, %(action)s, %(user)s, %(now)s, bumped.version,
       %(before)s::jsonb, %(after)s::jsonb, %(comment)s
FROM bumped
RETURNING version
"""


def _bump_and_record(
    encounter: Encounter,
    *,
    status: str,
    action: str,
    user: User | None,
    before: dict[str, Any],
    after: dict[str, Any],
    comment: str,
) -> None:
    """Move the locked encounter to its next version with ``status`` and keep the
    change in its history (CodingChange, append-only)."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            BUMP_AND_RECORD_SQL,
            {
                "id": encounter.id,
                "status": status,
                "now": now,
                "action": action,
                "user": user.id if user is not None else None,
                "before": json.dumps(before),
                "after": json.dumps(after),
                "comment": comment,
            },
        )
        (version,) = cursor.fetchone()
    encounter.status = status
    encounter.version = version
    encounter.updated_at = now


@transaction.atomic
def encounter_submit(*, user: User, encounter_id: int, version: int) -> Encounter:
    """Submit for audit: the DRG is computed and stored with the encounter, and the
    audit job starts once the transaction commits."""
    encounter = Encounter.objects.locked(encounter_id)
    if encounter.version != version:
        raise CodingConflict(encounter, encounter_last_change(encounter=encounter))
    _may_edit(encounter, user)
    if encounter.status == Encounter.Status.IN_REVIEW:
        raise NotEditable("This encounter is in supervisor review.")
    if not encounter.diagnoses.exists():
        raise ValidationError(
            {"diagnoses": ["Add at least the principal diagnosis before submitting."]}
        )
    stored = encounter_drg_stored(encounter)
    encounter.bump(
        status=Encounter.Status.SUBMITTED,
        drg=stored,
        submitted_at=timezone.now(),
    )
    # Through the outbox: sent after the commit; with the broker down the submit
    # stands and the sweep sends the audit once the broker is back.
    job_enqueue("encounters.tasks.encounter_audit_task", encounter_id=encounter.id)
    snapshot = coding_snapshot(encounter)
    # When this pass of coding began: the productivity report's minutes per encounter
    # without searching the history for it.
    started = encounter.changes.filter(action__in=CODING_STARTS).aggregate(
        at=Max("changed_at")
    )["at"]
    CodingChange.objects.create(
        encounter=encounter,
        action=CodingChange.Action.SUBMITTED,
        changed_by=user,
        version=encounter.version,
        before=snapshot,
        after={**snapshot, "drg": stored},
        started_at=started,
        encounter_type=encounter.type,
    )
    return encounter


def chart_access_log(*, user: User, encounter: Encounter, via: str = "web") -> None:
    ChartAccess.objects.create(user=user, encounter=encounter, via=via)
