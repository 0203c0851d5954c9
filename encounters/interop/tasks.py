"""Background jobs of interoperability: thin, ids in, a service does the work."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    acks_late=True, reject_on_worker_lost=True, time_limit=1800, soft_time_limit=1740
)
def claim_export_run_task(*, export_id: int) -> None:
    """Idempotent: a finished export returns at once; an interrupted one is written
    again from the start under a temporary name."""
    from encounters.interop.services import claim_export_run

    claim_export_run(export_id=export_id)
