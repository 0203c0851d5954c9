from __future__ import annotations

from celery import shared_task
from django.conf import settings


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    # Under the broker's visibility timeout (settings): a message is never handed
    # to a second worker while the first still runs it.
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def release_import_task(*, release_id: int) -> None:
    """Parse an uploaded code-set file into a staged release (idempotent; a killed
    worker's import is restarted by jobs.services.jobs_sweep)."""
    from codesets.services import release_import

    release_import(release_id=release_id)
