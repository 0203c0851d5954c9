from __future__ import annotations

from celery import shared_task


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=30 * 60,
    soft_time_limit=28 * 60,
)
def release_import_task(*, release_id: int) -> None:
    """Parse an uploaded code-set file into a staged release (idempotent)."""
    from codesets.services import release_import

    release_import(release_id=release_id)
