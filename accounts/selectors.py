from __future__ import annotations

import time
from dataclasses import dataclass

from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User, UserChange


@dataclass(frozen=True)
class Health:
    database: str
    worker: str
    worker_host: str
    worker_ms: float | None


def worker_ping(*, timeout: float = 5.0) -> tuple[str, float]:
    """Send a task to the Celery worker and wait for its answer: (hostname, ms)."""
    from accounts.tasks import worker_ping_task

    started = time.perf_counter()
    result = worker_ping_task.apply_async(kwargs={"sent_at": time.time()})
    answer = result.get(timeout=timeout)
    return str(answer["hostname"]), (time.perf_counter() - started) * 1000


def system_health() -> Health:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        database = cursor.fetchone()[0].split(" on ")[0]
    try:
        host, ms = worker_ping(timeout=3.0)
        return Health(
            database=database,
            worker="answering",
            worker_host=host,
            worker_ms=round(ms, 1),
        )
    except Exception as exc:  # any broker or timeout failure means "not answering"
        return Health(
            database=database,
            worker=f"not answering ({type(exc).__name__})",
            worker_host="",
            worker_ms=None,
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
