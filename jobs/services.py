"""Queueing background jobs so that neither a dead broker nor a killed worker
strands work.

- ``job_enqueue``: a task send written to the outbox in the caller's transaction,
  sent after the commit; a broker that is down costs the caller at most about a
  second (settings: no publish retry, short connect timeouts) and the sweep sends
  it once the broker is back.
- ``JobClaim``: a running import or batch holds a PostgreSQL session advisory lock
  on a connection of its own and writes a heartbeat through it. PostgreSQL drops
  the lock the moment the worker process dies (kill -9 included), so a job in a
  running state whose lock nobody holds and whose heartbeat is old is stalled.
- ``jobs_sweep``: beat (every JOB_SWEEP_SECONDS) and every worker's start-up: sends
  the outbox, and queues stalled imports and batches again (their jobs are
  idempotent), or marks them failed after JOB_MAX_ATTEMPTS deaths.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
from dataclasses import dataclass, field

import psycopg
from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from jobs.models import OutboxMessage

logger = logging.getLogger(__name__)

# Advisory lock namespaces (the first key of pg_try_advisory_lock(int, int)).
LOCK_KEYS = {"release": 4243, "batch": 4244}


# --- sending ----------------------------------------------------------------------


@dataclass
class SendReport:
    """What the sends of one request did: the view tells the user the truth."""

    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def broker_down(self) -> bool:
        return self.failed > 0


_report: contextvars.ContextVar[SendReport | None] = contextvars.ContextVar(
    "job_send_report", default=None
)


class sends_reported:
    """``with sends_reported() as sends: service(...)``, then ``sends.broker_down``:
    whether a job the service queued could not reach the broker (it waits in the
    outbox). The sends run at commit, inside the service's transaction block.
    A class, not a generator: exceptions pass through untouched (some are frozen
    dataclasses, which contextlib's re-raise cannot annotate)."""

    def __enter__(self) -> SendReport:
        self.report = SendReport()
        self.token = _report.set(self.report)
        return self.report

    def __exit__(self, *exc: object) -> None:
        _report.reset(self.token)


QUEUED_LATER = (
    "queued; it will run when the background service is back "
    "(the job service cannot be reached right now)"
)


def job_send(task: str, kwargs: dict[str, object]) -> bool:
    """Send one task now by name; False (logged, reported) when the broker is down."""
    report = _report.get()
    try:
        current_app.send_task(task, kwargs=kwargs, ignore_result=True)
    except Exception as exc:
        logger.warning("Could not queue %s(%s): %s", task, kwargs, exc)
        if report is not None:
            report.failed += 1
            report.errors.append(f"{type(exc).__name__}: {exc}")
        return False
    if report is not None:
        report.sent += 1
    return True


def job_enqueue(task: str, **kwargs: object) -> OutboxMessage:
    """Queue ``task`` once the current transaction commits, never losing it: the
    outbox row commits with the caller's writes; after the commit it is sent and
    deleted, or kept for the sweep when the broker is down."""
    message = OutboxMessage.objects.create(task=task, kwargs=kwargs)
    transaction.on_commit(lambda: _deliver(message))
    return message


def _deliver(message: OutboxMessage) -> None:
    if job_send(message.task, message.kwargs):
        OutboxMessage.objects.filter(id=message.id).delete()
    else:
        OutboxMessage.objects.filter(id=message.id).update(attempts=1)


def outbox_drain(*, older_than: dt.timedelta | None = None, limit: int = 500) -> int:
    """Send what the outbox holds (rows older than a few seconds: younger ones are
    being sent by their own commit). Stops at the first failure: the broker is down."""
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.JOB_OUTBOX_GRACE_SECONDS)
    sent = 0
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(created_at__lt=timezone.now() - older_than)
            .order_by("id")[:limit]
        )
        for row in rows:
            if not job_send(row.task, row.kwargs):
                OutboxMessage.objects.filter(id=row.id).update(
                    attempts=row.attempts + 1
                )
                break
            row.delete()
            sent += 1
    return sent


# --- claims and heartbeats ----------------------------------------------------------


class JobClaim:
    """A running job's claim on its row: a session advisory lock held on a database
    connection of its own (so it survives the job's own transactions and dies with
    the process), through which the job also writes its heartbeat."""

    def __init__(self, kind: str, job_id: int) -> None:
        self.key = LOCK_KEYS[kind]
        self.job_id = job_id
        self.conn: psycopg.Connection | None = None

    def acquire(self) -> bool:
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute("SET lock_timeout = '200ms'")
        row = self.conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", [self.key, self.job_id]
        ).fetchone()
        if not row or not row[0]:
            self.release()
            return False
        return True

    def execute(self, sql: str, params: list[object]) -> None:
        """A best-effort write (a heartbeat) that never waits behind a row lock."""
        if self.conn is None:
            return
        with contextlib.suppress(psycopg.errors.LockNotAvailable):
            self.conn.execute(sql, params)

    def release(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()
            self.conn = None

    def __enter__(self) -> JobClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def jobs_claimed(kind: str) -> set[int]:
    """Ids of the jobs of ``kind`` a live process holds the claim of."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND granted",
            [LOCK_KEYS[kind]],
        )
        return {row[0] for row in cursor.fetchall()}


def job_claimed(kind: str, job_id: int) -> bool:
    return job_id in jobs_claimed(kind)


# --- the sweep ----------------------------------------------------------------------


@dataclass
class SweepResult:
    outbox_sent: int = 0
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def jobs_sweep() -> SweepResult:
    """Beat and worker start-up: send the outbox, then restart or fail the jobs whose
    worker died. Each app says which of its jobs are stalled (stalled_jobs_* hooks)."""
    from codesets.services import release_imports_stalled_requeue
    from encounters.audit.services import audit_batches_stalled_requeue

    result = SweepResult()
    result.outbox_sent = outbox_drain()
    for hook in (release_imports_stalled_requeue, audit_batches_stalled_requeue):
        requeued, failed = hook()
        result.requeued += requeued
        result.failed += failed
    if result.outbox_sent or result.requeued or result.failed:
        logger.warning(
            "jobs sweep: %s sent from the outbox, requeued %s, failed %s",
            result.outbox_sent,
            result.requeued or "none",
            result.failed or "none",
        )
    return result


def stale_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_SECONDS)


def queued_stale_before() -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=settings.JOB_QUEUED_RESEND_SECONDS)
