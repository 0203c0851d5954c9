"""Writes of the audit: jobs (submit, batch, after a new release) and the
supervisor's decisions on findings and encounters. Every decision is recorded in
the encounter's history (CodingChange) and on the finding itself."""

from __future__ import annotations

import datetime as dt
import logging
import time
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User, UserChange
from accounts.services import user_change_record
from codesets.models import Release
from codesets.selectors import release_diff_rows
from encounters.audit.engine import AuditStats, audit_encounters
from encounters.drg import encounter_drg_stored
from encounters.models import (
    AuditBatch,
    AuditRun,
    AuditSampleRate,
    CodingChange,
    DrgShift,
    Encounter,
    Finding,
)
from encounters.payment import encounter_payment
from encounters.selectors import encounter_last_change
from encounters.services import (
    CodingConflict,
    DiagnosisInput,
    NotEditable,
    ProcedureInput,
    coding_snapshot,
    encounter_save_coding,
)
from jobs.services import (
    JobClaim,
    job_claimed,
    job_enqueue,
    job_send,
    jobs_claimed,
    queued_stale_before,
    stale_before,
)

logger = logging.getLogger(__name__)

REASON_MAX = 500  # Finding.resolution and CodingChange.comment hold 500 characters


@transaction.atomic
def audit_sample_rate_set(
    *, coder: User, rate: Decimal | None, changed_by: User
) -> AuditSampleRate | None:
    """Set how often a clean submitted encounter of ``coder`` still goes to a
    supervisor (0 to 1; the audit job reads it at routing), or with ``None`` go back
    to settings.AUDIT_SAMPLE_RATE. Recorded in the coder's history (Users page)."""
    if rate is not None and not Decimal(0) <= rate <= Decimal(1):
        raise ValidationError("The audit sample rate is between 0 and 1.")
    current = AuditSampleRate.objects.select_for_update().filter(coder=coder).first()
    before = f"{current.rate:.3f}" if current else "default"
    if rate is None:
        if current is not None:
            current.delete()
        sample = None
    elif current is None:
        sample = AuditSampleRate(coder=coder, rate=rate)
        sample.full_clean()
        sample.save()
    else:
        sample = current
        sample.rate = rate
        sample.full_clean()
        sample.save(update_fields=["rate"])
    after = f"{sample.rate:.3f}" if sample else "default"
    if before != after:
        user_change_record(
            user=coder,
            changed_by=changed_by,
            action=UserChange.Action.SAMPLE_RATE,
            before=before,
            after=after,
        )
    return sample


AUDIT_TASK = "encounters.tasks.encounter_audit_task"
BATCH_TASK = "encounters.tasks.audit_batch_task"


def encounter_audit_enqueue(encounter_id: int) -> bool:
    """Queue the audit of a submitted encounter now; False (logged) when the broker is
    down: the submit stands and the outbox or audit_stalled_requeue sends it later."""
    return job_send(AUDIT_TASK, {"encounter_id": encounter_id})


def audit_stalled_requeue(
    *, older_than: dt.timedelta = dt.timedelta(minutes=10)
) -> int:
    """Queue again the audits of encounters submitted a while ago and still waiting
    (a backstop: the outbox sends the audits a broker outage held back)."""
    stalled = list(
        Encounter.objects.filter(
            status=Encounter.Status.SUBMITTED,
            submitted_at__lt=timezone.now() - older_than,
        ).values_list("id", flat=True)[:5000]
    )
    for encounter_id in stalled:
        if not encounter_audit_enqueue(encounter_id):
            break
    return len(stalled)


def encounter_audit(*, encounter_id: int) -> AuditStats:
    """The audit of a submitted encounter (the job started by submit)."""
    return audit_encounters(
        encounter_ids=[encounter_id], trigger=AuditRun.Trigger.SUBMIT
    )


@transaction.atomic
def audit_batch_create(
    *,
    user: User | None,
    encounter_ids: list[int],
    reason: str,
    trigger: str = AuditRun.Trigger.BATCH,
) -> AuditBatch:
    if not encounter_ids:
        raise ValidationError("No encounter matches this selection.")
    batch = AuditBatch.objects.create(
        requested_by=user,
        reason=reason[:300],
        trigger=trigger,
        encounter_ids=sorted(set(encounter_ids)),
        heartbeat_at=timezone.now(),
    )
    # Through the outbox: with the broker down the batch is saved and its job sent
    # by the sweep once the broker is back.
    job_enqueue(BATCH_TASK, batch_id=batch.id)
    return batch


def audit_batch_run(*, batch_id: int) -> None:
    """Run (or resume) a batch: chunks already committed are not redone.

    The job holds the batch's claim (jobs.services.JobClaim) and beats after every
    chunk; a second delivery while it runs does nothing. After
    AUDIT_BATCH_SLICE_SECONDS it queues its own continuation and stops, so no run
    outlasts the task time limit (nor the broker's visibility timeout)."""
    with JobClaim("batch", batch_id) as claim:
        if not claim.acquire():
            return  # a live worker runs this batch
        _audit_batch_slice(batch_id, claim)


def _audit_batch_slice(batch_id: int, claim: JobClaim) -> None:
    batch = AuditBatch.objects.get(id=batch_id)
    if batch.state in (AuditBatch.State.DONE, AuditBatch.State.FAILED):
        return
    started = time.monotonic()
    AuditBatch.objects.filter(id=batch_id).update(
        state=AuditBatch.State.RUNNING,
        heartbeat_at=timezone.now(),
    )
    # `done` moves in the same transaction as each chunk's findings, so it says
    # exactly where a killed worker stopped.
    chunk = settings.AUDIT_CHUNK
    start = (batch.done // chunk) * chunk
    try:
        for offset in range(start, len(batch.encounter_ids), chunk):
            if (
                offset > start
                and time.monotonic() - started > settings.AUDIT_BATCH_SLICE_SECONDS
            ):
                with transaction.atomic():
                    AuditBatch.objects.filter(id=batch_id).update(
                        state=AuditBatch.State.QUEUED, heartbeat_at=timezone.now()
                    )
                    job_enqueue(BATCH_TASK, batch_id=batch_id)
                return
            audit_encounters(
                encounter_ids=batch.encounter_ids[offset : offset + chunk],
                trigger=batch.trigger,
                batch=batch,
            )
            claim.execute(
                "UPDATE encounters_auditbatch SET heartbeat_at = now() WHERE id = %s",
                [batch_id],
            )
    except Exception as exc:
        AuditBatch.objects.filter(id=batch_id).update(
            state=AuditBatch.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    AuditBatch.objects.filter(id=batch_id).update(
        state=AuditBatch.State.DONE,
        done=len(batch.encounter_ids),
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )


def audit_batches_stalled_requeue() -> tuple[list[str], list[str]]:
    """The sweep's part for batches (jobs.services.jobs_sweep): a running batch no
    live worker holds, with no heartbeat for JOB_STALE_SECONDS, is queued again (it
    resumes at its first uncommitted chunk), or failed after JOB_MAX_ATTEMPTS
    deaths; a queued one not started after JOB_QUEUED_RESEND_SECONDS is sent again."""
    requeued: list[str] = []
    failed: list[str] = []
    claimed = jobs_claimed("batch")
    candidates = AuditBatch.objects.filter(
        Q(state=AuditBatch.State.RUNNING, heartbeat_at__lt=stale_before())
        | Q(state=AuditBatch.State.QUEUED, heartbeat_at__lt=queued_stale_before())
        | Q(
            state__in=[AuditBatch.State.QUEUED, AuditBatch.State.RUNNING],
            heartbeat_at__isnull=True,
        )
    ).exclude(id__in=claimed)
    for batch in candidates.only("id", "state", "attempts", "heartbeat_at")[:100]:
        died = batch.state == AuditBatch.State.RUNNING
        if died and batch.attempts + 1 >= settings.JOB_MAX_ATTEMPTS:
            AuditBatch.objects.filter(id=batch.id, state=batch.state).update(
                state=AuditBatch.State.FAILED,
                error=f"The batch was started {batch.attempts + 1} times and its worker stopped each time "
                "(killed, or out of memory). What was audited stands; retry to go on from there.",
            )
            failed.append(f"batch {batch.id}")
            continue
        with transaction.atomic():
            updated = AuditBatch.objects.filter(
                id=batch.id, state=batch.state, heartbeat_at=batch.heartbeat_at
            ).update(
                state=AuditBatch.State.QUEUED,
                heartbeat_at=timezone.now(),
                attempts=F("attempts") + int(died),
            )
            if updated:
                job_enqueue(BATCH_TASK, batch_id=batch.id)
                requeued.append(f"batch {batch.id}")
    return requeued, failed


def audit_batch_stalled(batch: AuditBatch) -> bool:
    """A queued or running batch that no live worker holds and that has not moved
    for JOB_STALE_SECONDS: a supervisor may retry or stop it."""
    if batch.state not in (AuditBatch.State.QUEUED, AuditBatch.State.RUNNING):
        return False
    last = batch.heartbeat_at or batch.created_at
    return last < stale_before() and not job_claimed("batch", batch.id)


@transaction.atomic
def audit_batch_retry(*, batch_id: int) -> AuditBatch:
    """A supervisor's Retry on a failed or stalled batch: it goes on from its first
    chunk not yet committed (what was audited stands)."""
    batch = AuditBatch.objects.select_for_update().get(id=batch_id)
    if batch.state != AuditBatch.State.FAILED and not audit_batch_stalled(batch):
        raise ValidationError(
            "Only a failed batch, or one whose worker stopped, can be retried."
        )
    batch.state = AuditBatch.State.QUEUED
    batch.error = ""
    batch.attempts = 0
    batch.heartbeat_at = timezone.now()
    batch.save(update_fields=["state", "error", "attempts", "heartbeat_at"])
    job_enqueue(BATCH_TASK, batch_id=batch.id)
    return batch


@transaction.atomic
def audit_batch_stop(*, batch_id: int, user: User) -> AuditBatch:
    """A supervisor's Stop on a stalled batch: failed, what was audited stands."""
    batch = AuditBatch.objects.select_for_update().get(id=batch_id)
    if not audit_batch_stalled(batch):
        raise ValidationError(
            "Only a batch whose worker stopped can be stopped here; a running batch finishes its work."
        )
    batch.state = AuditBatch.State.FAILED
    batch.error = f"Stopped by {user.get_username()} after its worker stopped; {batch.done} of {batch.total} audited."
    batch.save(update_fields=["state", "error"])
    return batch


def reaudit_after_release(*, release_id: int) -> AuditBatch | None:
    """Re-audit every not-yet-final encounter whose date of service the new release
    judges and whose codes it deletes or revises."""
    release = Release.objects.get(id=release_id)
    if release.base_release is None or release.system not in (
        "icd10cm",
        "icd10pcs",
        "cpt",
        "hcpcs",
    ):
        return None
    changed = {
        row.code
        for row in release_diff_rows(release=release, base=release.base_release)
        if {"deleted", "revised", "billable_changed"} & set(row.changes)
    }
    if not changed:
        return None
    start, end = release.effective_from, release.effective_to or dt.date(9999, 12, 31)
    in_range = Q(discharge_date__range=(start, end)) | Q(
        discharge_date__isnull=True, admit_date__range=(start, end)
    )
    codes = (
        Q(diagnoses__code__in=changed)
        if release.system == "icd10cm"
        else Q(procedures__system=release.system, procedures__code__in=changed)
    )
    ids = list(
        Encounter.objects.exclude(status=Encounter.Status.FINAL)
        .filter(in_range, codes)
        .values_list("id", flat=True)
        .distinct()
    )
    if not ids:
        return None
    return audit_batch_create(
        user=None,
        encounter_ids=ids,
        reason=f"{release.label} deletes or revises codes these encounters use",
        trigger=AuditRun.Trigger.RELEASE,
    )


# --- the supervisor's decisions -------------------------------------------------------


@transaction.atomic
def finding_resolve(
    *, user: User, finding_id: int, status: str, reason: str = ""
) -> Finding:
    """Confirm (the coder was wrong) or dismiss one open finding. Dismissing a
    warning or an error needs a reason; an info finding (a reminder, which never
    routes anything) is dismissed without one."""
    if status not in (Finding.Status.CONFIRMED, Finding.Status.DISMISSED):
        raise ValidationError({"status": ["Confirm or dismiss."]})
    finding = Finding.objects.select_for_update().get(id=finding_id)
    if (
        status == Finding.Status.DISMISSED
        and not reason.strip()
        and finding.severity != Finding.Severity.INFO
    ):
        raise ValidationError({"reason": ["Say why the finding is dismissed."]})
    if len(reason.strip()) > REASON_MAX:
        raise ValidationError(
            {"reason": [f"Keep the reason to at most {REASON_MAX} characters."]}
        )
    if finding.status != Finding.Status.OPEN:
        raise NotEditable(
            f"This finding is already {finding.get_status_display().lower()}."
        )
    finding.status = status
    finding.resolved_by = user
    finding.resolved_at = timezone.now()
    finding.resolution = reason.strip()[:500]
    finding.save(update_fields=["status", "resolved_by", "resolved_at", "resolution"])
    encounter = finding.encounter
    CodingChange.objects.create(
        encounter=encounter,
        action=CodingChange.Action.FINDING,
        changed_by=user,
        version=encounter.version,
        before={"finding": finding.id, "status": "open"},
        after={"finding": finding.id, "rule": finding.rule, "status": status},
        comment=(
            f"{finding.rule}: {status}" + (f" ({finding.resolution})" if reason else "")
        )[:REASON_MAX],
    )
    return finding


def _review_locked(user: User, encounter_id: int, version: int) -> Encounter:
    encounter = Encounter.objects.locked(encounter_id)
    if encounter.version != version:
        raise CodingConflict(encounter, encounter_last_change(encounter=encounter))
    if not user.has_perm("accounts.review_audits"):
        raise NotEditable("Only a supervisor may decide on an audited encounter.")
    if encounter.status != Encounter.Status.IN_REVIEW:
        raise NotEditable(
            f"This encounter is {encounter.get_status_display().lower()}, not in review."
        )
    return encounter


def _review_decide(
    *,
    user: User,
    encounter_id: int,
    version: int,
    status: str,
    findings_become: str,
    action: str,
    comment: str,
    resolution: str = "",
) -> Encounter:
    """Move an encounter out of review; its open findings take ``findings_become``."""
    encounter = _review_locked(user, encounter_id, version)
    encounter.findings.filter(status=Finding.Status.OPEN).update(
        status=findings_become,
        resolved_by=user,
        resolved_at=timezone.now(),
        resolution=resolution[:500],
    )
    encounter.bump(status=status)
    CodingChange.objects.create(
        encounter=encounter,
        action=action,
        changed_by=user,
        version=encounter.version,
        before={"status": Encounter.Status.IN_REVIEW},
        after={"status": status},
        comment=comment.strip()[:500],
    )
    return encounter


@transaction.atomic
def encounter_review_return(
    *, user: User, encounter_id: int, version: int, comment: str
) -> Encounter:
    """Send the encounter back to its coder with a comment (open findings confirmed)."""
    if not comment.strip():
        raise ValidationError({"comment": ["Tell the coder what to fix."]})
    return _review_decide(
        user=user,
        encounter_id=encounter_id,
        version=version,
        status=Encounter.Status.RETURNED,
        findings_become=Finding.Status.CONFIRMED,
        action=CodingChange.Action.RETURNED,
        comment=comment,
        # The comment is for the coder (the banner of the coding form and the
        # history), not the resolution of each finding, related or not.
        resolution="",
    )


@transaction.atomic
def encounter_review_accept(
    *, user: User, encounter_id: int, version: int, comment: str = ""
) -> Encounter:
    """Accept the coding as it stands: final. Open findings are dismissed as accepted."""
    return _review_decide(
        user=user,
        encounter_id=encounter_id,
        version=version,
        status=Encounter.Status.FINAL,
        findings_become=Finding.Status.DISMISSED,
        action=CodingChange.Action.ACCEPTED,
        comment=comment,
        resolution=comment.strip() or "Accepted by the supervisor.",
    )


@transaction.atomic
def encounter_review_correct(
    *,
    user: User,
    encounter_id: int,
    version: int,
    diagnoses: list[DiagnosisInput] | None,
    procedures: list[ProcedureInput] | None,
    comment: str = "",
) -> Encounter:
    """The supervisor corrects the codes: saved as a correction, the DRG recomputed,
    and the open findings whose codes are gone marked corrected (they count against
    the coder's accuracy like confirmed ones)."""
    locked = _review_locked(user, encounter_id, version)
    # The DRG the coder submitted (stored at submit; grouped now for encounters
    # sent to review without it).
    before = locked.drg or encounter_drg_stored(locked)
    encounter = encounter_save_coding(
        user=user,
        encounter_id=encounter_id,
        version=version,
        diagnoses=diagnoses,
        procedures=procedures,
        action=CodingChange.Action.CORRECTED,
        comment=comment,
    )
    present = {
        line["code"]
        for key in ("diagnoses", "procedures")
        for line in coding_snapshot(encounter)[key]
    }
    now = timezone.now()
    for finding in encounter.findings.filter(status=Finding.Status.OPEN):
        if not set(finding.codes) <= present:
            finding.status = Finding.Status.CORRECTED
            finding.resolved_by = user
            finding.resolved_at = now
            finding.resolution = "Codes corrected by the supervisor."
            finding.save(
                update_fields=["status", "resolved_by", "resolved_at", "resolution"]
            )
    encounter.drg = encounter_drg_stored(encounter)
    encounter.save(update_fields=["drg"])
    _drg_shift_record(encounter, before, user=user, comment=comment)
    return encounter


def _drg_shift_record(
    encounter: Encounter, before: dict | None, *, user: User, comment: str
) -> DrgShift | None:
    """Keep the DRG change a correction made (from, to, both payments, the reason);
    nothing when the DRG and its weight stayed the same."""
    after = encounter.drg
    if not before or not after:
        return None
    if (before.get("drg"), before.get("weight")) == (
        after.get("drg"),
        after.get("weight"),
    ):
        return None
    change = (
        CodingChange.objects.filter(
            encounter=encounter,
            action=CodingChange.Action.CORRECTED,
            version=encounter.version,
        )
        .order_by("-id")
        .first()
    )
    if change is None:  # the save changed no code: nothing to tie the shift to
        return None
    paid_before = encounter_payment(encounter, before)
    paid_after = encounter_payment(encounter, after)
    return DrgShift.objects.create(
        encounter=encounter,
        change=change,
        from_drg=before,
        to_drg=after,
        from_payment=paid_before.amount if paid_before else None,
        to_payment=paid_after.amount if paid_after else None,
        reason=comment.strip()[:500],
        changed_by=user,
        changed_at=change.changed_at,
    )
