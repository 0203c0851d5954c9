from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import connection


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
