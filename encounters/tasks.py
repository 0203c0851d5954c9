"""Background jobs of the audit. Thin: ids in, a service does the work. Each is
idempotent (the AuditRun key), so acks_late redelivery after a killed worker is safe."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    acks_late=True, reject_on_worker_lost=True, time_limit=300, soft_time_limit=280
)
def encounter_audit_task(*, encounter_id: int) -> None:
    from encounters.audit.services import encounter_audit

    encounter_audit(encounter_id=encounter_id)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # Under the broker's visibility timeout: a batch works in slices of
    # AUDIT_BATCH_SLICE_SECONDS and queues its own continuation.
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def audit_batch_task(*, batch_id: int) -> None:
    from encounters.audit.services import audit_batch_run

    audit_batch_run(batch_id=batch_id)


@shared_task(
    acks_late=True, reject_on_worker_lost=True, time_limit=600, soft_time_limit=580
)
def reaudit_after_release_task(*, release_id: int) -> None:
    """Started when a code-set release is activated (codesets.services)."""
    from encounters.audit.services import reaudit_after_release

    reaudit_after_release(release_id=release_id)


@shared_task(acks_late=True, time_limit=120, soft_time_limit=110)
def audit_stalled_task() -> None:
    """Beat, every few minutes: submitted encounters whose audit never ran are
    queued again (a backstop behind the outbox of jobs.services)."""
    from encounters.audit.services import audit_stalled_requeue

    audit_stalled_requeue()
