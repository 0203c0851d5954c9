from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True, time_limit=120, soft_time_limit=110)
def jobs_sweep_task() -> None:
    """Beat, every JOB_SWEEP_SECONDS: the outbox is sent, stalled imports and batches
    are queued again (jobs.services.jobs_sweep)."""
    from jobs.services import jobs_sweep

    jobs_sweep()
