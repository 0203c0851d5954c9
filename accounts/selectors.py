from __future__ import annotations

import time
from dataclasses import dataclass, field

from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User, UserChange


@dataclass(frozen=True)
class QueueHealth:
    """A Celery queue (coding_app.queues): who consumes it, how many jobs wait."""

    name: str
    holds: str
    workers: list[str]
    waiting: int | None


@dataclass(frozen=True)
class Health:
    database: str
    worker: str
    worker_host: str
    worker_ms: float | None
    queues: list[QueueHealth] = field(default_factory=list)


def worker_ping(*, timeout: float = 5.0) -> tuple[str, float]:
    """Send a task to the Celery worker and wait for its answer: (hostname, ms)."""
    from accounts.tasks import worker_ping_task

    started = time.perf_counter()
    result = worker_ping_task.apply_async(kwargs={"sent_at": time.time()})
    answer = result.get(timeout=timeout)
    return str(answer["hostname"]), (time.perf_counter() - started) * 1000


def queue_health(*, timeout: float = 1.0) -> list[QueueHealth]:
    """Each queue with the workers consuming it (a control broadcast, answered even
    by a worker busy with a long job) and the jobs waiting on it. A queue without a
    worker is the silent failure: its jobs wait forever."""
    from coding_app.celery import app

    replies = app.control.inspect(timeout=timeout).active_queues() or {}
    consumers: dict[str, list[str]] = {}
    for worker, queues in replies.items():
        for queue in queues:
            consumers.setdefault(queue["name"], []).append(worker)
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        return [
            QueueHealth(
                name=name,
                holds=holds,
                workers=sorted(consumers.get(name, [])),
                waiting=int(client.llen(name)),
            )
            for name, holds in (
                (
                    app.conf.task_default_queue,
                    "the audit of each submit, health checks, the job sweep",
                ),
                (
                    settings.CELERY_BULK_QUEUE,
                    "imports, batch audits, re-audits after a release, claim exports",
                ),
            )
        ]


def system_health() -> Health:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        database = cursor.fetchone()[0].split(" on ")[0]
    worker, host, ms = "answering", "", None
    try:
        host, round_trip = worker_ping(timeout=3.0)
        ms = round(round_trip, 1)
    except Exception as exc:  # any broker or timeout failure means "not answering"
        worker = f"not answering ({type(exc).__name__})"
    try:
        queues = queue_health()
    except Exception:  # the broker is down: the worker row says so already
        queues = []
    return Health(
        database=database, worker=worker, worker_host=host, worker_ms=ms, queues=queues
    )


def user_list() -> QuerySet[User]:
    """Everyone, for the Users page: active first, by username, roles prefetched."""
    return User.objects.prefetch_related("groups").order_by("-is_active", "username")


def user_locked_usernames(usernames: list[str]) -> set[str]:
    """Which of these usernames django-axes refuses now: AXES_FAILURE_LIMIT failures
    from one address within the cool-off (the lockout is per username and address,
    AXES_LOCKOUT_PARAMETERS; any locked address counts)."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    return set(
        AccessAttempt.objects.filter(
            username__in=usernames,
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT,
            attempt_time__gte=since,
        ).values_list("username", flat=True)
    )


def user_change_list(*, user: User | None = None, limit: int = 20) -> list[UserChange]:
    """The latest changes made on the Users page, of one user or of everyone."""
    changes = UserChange.objects.select_related("user", "changed_by")
    if user is not None:
        changes = changes.filter(user=user)
    return list(changes[:limit])
