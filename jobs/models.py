"""The outbox of task sends: a job is queued by writing a row in the transaction
that creates its work, so a broker that is down never loses it."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """A Celery task to send. Written in the caller's transaction, sent right after
    the commit and deleted; when the broker is down the row stays and the sweep
    (jobs.services.jobs_sweep, beat and worker start-up) sends it later."""

    task = models.CharField(max_length=200)
    kwargs = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task}({self.kwargs})"
