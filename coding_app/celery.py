"""The Celery app: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

import logging
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")

app = Celery("coding_app", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def sweep_on_worker_start(sender: object = None, **kwargs: object) -> None:
    """A worker that starts (often: a replacement for one that was killed) restarts
    the stalled jobs and sends the outbox at once, not at beat's next round."""
    try:
        from jobs.services import jobs_sweep

        jobs_sweep()
    except Exception:
        logging.getLogger(__name__).exception("The start-up job sweep failed")
