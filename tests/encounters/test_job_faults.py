"""Faults of the background service (issue 15): a worker killed mid-import or
mid-batch, a broker that refuses connections. Real worker processes over a Redis of
the test's own where the broker must die; nothing waits for Redis's visibility
timeout (2,100 s)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from codesets.models import Release
from codesets.services import release_receive_file
from coding_app.devstack import solo_worker_command
from encounters.audit.services import audit_batch_create, audit_batches_stalled_requeue
from encounters.models import AuditBatch, AuditRun, Encounter, Finding
from encounters.services import encounter_claim
from jobs.models import OutboxMessage
from jobs.services import jobs_sweep
from tests.encounters.conftest import pneumonia_payload
from tests.encounters.test_audit_jobs import _bulk_encounters

ROOT = Path(__file__).resolve().parent.parent.parent
PCS_TABLES = ROOT / "codesets" / "data" / "icd10pcs_tables_2026.xml.gz"
# A clean import of PCS_TABLES (import_codes --json): the restarted import must match.
PCS_CODES, PCS_BILLABLE = 80029, 79115
STALE = 2  # JOB_STALE_SECONDS for these tests and their workers


def _wait(condition, timeout: float, what: str, describe=None) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what}: {describe() if describe else ''}"
    )


def _worker(queue: str, redis_url: str | None = None) -> subprocess.Popen:
    """A real worker process with the production visibility timeout: only the
    sweep can bring a killed worker's job back in time."""
    env = {
        **os.environ,
        "DATABASE_URL": urlsplit(django_settings.DATABASE_URL)
        ._replace(path="/" + connection.settings_dict["NAME"])
        .geturl(),
        "REDIS_URL": redis_url or django_settings.REDIS_URL,
        "AUDIT_CHUNK": "50",
        "JOB_STALE_SECONDS": str(STALE),
        # What the worker itself queues (the sweep's restarts) stays on this queue.
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_BULK_QUEUE": f"{queue}-bulk",
        "DEV_MODE": "1",
    }
    env.pop("CELERY_VISIBILITY_TIMEOUT", None)
    return subprocess.Popen(
        solo_worker_command(queue, f"{queue}-bulk"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


@pytest.fixture
def stale_soon(settings):
    settings.JOB_STALE_SECONDS = STALE
    settings.JOB_OUTBOX_GRACE_SECONDS = 0
    return settings


# --- a worker killed mid-batch, mid-import ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_worker_was_killed_is_finished_once_by_the_next_worker(
    celery_worker_app, code_sets, supervisor, stale_soon
):
    ids = _bulk_encounters(1200)
    queue = celery_worker_app.conf.task_default_queue
    batch = audit_batch_create(user=supervisor, encounter_ids=ids, reason="kill -9")
    first = _worker(queue)
    try:
        _wait(
            lambda: AuditBatch.objects.get(id=batch.id).done >= 100,
            timeout=90,
            what="the first chunks",
        )
        _kill(first)
    finally:
        _stop(first)
    killed_at = time.monotonic()
    stopped = AuditBatch.objects.get(id=batch.id)
    assert stopped.state == "running"
    assert 0 < stopped.done < len(ids), "kill came too late to test anything"
    # The supervisor sees it stalled (no live worker holds it) once the heartbeat
    # is old, with Retry and Stop.
    time.sleep(STALE + 0.5)
    client = _client(supervisor)
    page = client.get(reverse("encounters:batch_detail", args=[batch.id])).content
    assert b'data-testid="batch-stalled"' in page
    assert b"Retry now" in page and b"Stop this batch" in page

    # A fresh worker's start-up sweep restarts it, with Redis's visibility timeout
    # nowhere near.
    second = _worker(queue)
    try:
        _wait(
            lambda: AuditBatch.objects.get(id=batch.id).state == "done",
            timeout=max(5.0, 120 - (time.monotonic() - killed_at)),
            what="the next worker to finish the batch",
            describe=lambda: AuditBatch.objects.values(
                "state", "done", "error", "attempts"
            ).get(id=batch.id),
        )
    finally:
        _stop(second)
    print(f"batch done {time.monotonic() - killed_at:.1f} s after the kill")
    batch.refresh_from_db()
    assert batch.done == len(ids)
    assert batch.attempts == 1
    # Exactly once: one run per encounter, the findings of a clean run (each
    # encounter: poa-missing on E87.1, code-not-billable on J18).
    assert AuditRun.objects.filter(batch=batch).count() == len(ids)
    for rule in ("poa-missing", "code-not-billable"):
        assert Finding.objects.filter(run__batch=batch, rule=rule).count() == len(ids)
    assert batch.findings == Finding.objects.filter(run__batch=batch).count()
    assert not OutboxMessage.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_import_whose_worker_was_killed_is_staged_once_by_the_next_worker(
    celery_worker_app, codeset_admin, stale_soon, tmp_path
):
    stale_soon.MEDIA_ROOT = str(tmp_path)
    queue = celery_worker_app.conf.task_default_queue
    release = release_receive_file(
        path=PCS_TABLES, file_name=PCS_TABLES.name, user_id=codeset_admin.id
    )
    first = _worker(queue)
    try:
        # Killed while writing codes (past the parse), its transaction open.
        _wait(
            lambda: Release.objects.get(id=release.id).progress >= 50,
            timeout=120,
            what="the import to write codes",
            describe=lambda: Release.objects.values(
                "state", "progress", "progress_message"
            ).get(id=release.id),
        )
        _kill(first)
    finally:
        _stop(first)
    killed_at = time.monotonic()
    assert Release.objects.get(id=release.id).state == "importing"
    time.sleep(STALE + 0.5)
    # The admin sees it stalled, with Retry and Discard; the same file is still
    # refused as a duplicate (it is this release's job, not a lost one).
    admin = _client(codeset_admin)
    page = admin.get(reverse("codesets:release_detail", args=[release.id])).content
    assert b'data-testid="stalled"' in page
    assert b"Retry the import" in page and b"Discard" in page

    second = _worker(queue)
    try:
        _wait(
            lambda: Release.objects.get(id=release.id).state != "importing",
            timeout=max(5.0, 120 - (time.monotonic() - killed_at)),
            what="the next worker to stage the release",
            describe=lambda: Release.objects.values(
                "state", "progress", "progress_message", "attempts", "error"
            ).get(id=release.id),
        )
    finally:
        _stop(second)
    print(f"release staged {time.monotonic() - killed_at:.1f} s after the kill")
    release.refresh_from_db()
    assert release.state == "staged", release.error
    assert (release.code_count, release.billable_count) == (PCS_CODES, PCS_BILLABLE)
    assert release.attempts == 2
    assert Release.objects.count() == 1


# --- stalled jobs in the UI, without a worker ---------------------------------------


def _client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _stalled_import(admin, tmp_path, *, started: bool) -> Release:
    release = release_receive_file(
        path=PCS_TABLES, file_name=PCS_TABLES.name, user_id=admin.id, queue=False
    )
    old = timezone.now() - dt.timedelta(minutes=5)
    Release.objects.filter(id=release.id).update(
        progress_at=old if started else None,
        created_at=old,
        attempts=1 if started else 0,
        progress=60 if started else 0,
    )
    return Release.objects.get(id=release.id)


@pytest.mark.django_db
def test_an_admin_discards_a_stalled_import_and_the_same_file_is_accepted_again(
    codeset_admin, stale_soon, tmp_path
):
    stale_soon.MEDIA_ROOT = str(tmp_path)
    release = _stalled_import(codeset_admin, tmp_path, started=True)
    admin = _client(codeset_admin)
    response = admin.post(reverse("codesets:release_discard", args=[release.id]))
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.state == "discarded"
    again = admin.post(
        reverse("codesets:release_upload"),
        {"file": SimpleUploadedFile(PCS_TABLES.name, PCS_TABLES.read_bytes())},
    )
    assert again.status_code == 302
    assert Release.objects.exclude(id=release.id).get().state == "importing"


@pytest.mark.django_db
def test_an_admin_retries_a_stalled_import(codeset_admin, stale_soon, tmp_path):
    stale_soon.MEDIA_ROOT = str(tmp_path)
    release = _stalled_import(codeset_admin, tmp_path, started=True)
    admin = _client(codeset_admin)
    response = admin.post(reverse("codesets:release_retry", args=[release.id]))
    assert response.status_code == 302
    release.refresh_from_db()
    assert (release.state, release.attempts, release.progress_at) == (
        "importing",
        0,
        None,
    )
    assert OutboxMessage.objects.filter(
        task="codesets.tasks.release_import_task", kwargs={"release_id": release.id}
    ).exists()
    # A release importing normally (fresh heartbeat) can be neither retried nor
    # discarded.
    Release.objects.filter(id=release.id).update(progress_at=timezone.now())
    for url in ("codesets:release_retry", "codesets:release_discard"):
        admin.post(reverse(url, args=[release.id]))
        release.refresh_from_db()
        assert release.state == "importing"


@pytest.mark.django_db
def test_the_sweep_restarts_a_dead_job_and_fails_it_after_repeated_deaths(
    code_sets, supervisor, stale_soon
):
    batch = audit_batch_create(
        user=supervisor, encounter_ids=_bulk_encounters(3), reason="deaths"
    )
    old = timezone.now() - dt.timedelta(minutes=1)
    for attempt in range(1, stale_soon.JOB_MAX_ATTEMPTS):
        AuditBatch.objects.filter(id=batch.id).update(state="running", heartbeat_at=old)
        assert audit_batches_stalled_requeue() == ([f"batch {batch.id}"], [])
        batch.refresh_from_db()
        assert (batch.state, batch.attempts) == ("queued", attempt)
    AuditBatch.objects.filter(id=batch.id).update(state="running", heartbeat_at=old)
    assert audit_batches_stalled_requeue() == ([], [f"batch {batch.id}"])
    batch.refresh_from_db()
    assert batch.state == "failed"
    assert "worker stopped" in batch.error
    # The supervisor retries it from the page: queued again, from where it stopped.
    client = _client(supervisor)
    page = client.get(reverse("encounters:batch_detail", args=[batch.id])).content
    assert b"Retry from where it stopped" in page
    client.post(reverse("encounters:batch_retry", args=[batch.id]))
    batch.refresh_from_db()
    assert (batch.state, batch.attempts, batch.error) == ("queued", 0, "")


@pytest.mark.django_db
def test_a_supervisor_stops_a_stalled_batch_but_not_a_live_one(
    code_sets, supervisor, stale_soon
):
    batch = audit_batch_create(
        user=supervisor, encounter_ids=_bulk_encounters(3), reason="stop"
    )
    client = _client(supervisor)
    AuditBatch.objects.filter(id=batch.id).update(
        state="running", heartbeat_at=timezone.now()
    )
    client.post(reverse("encounters:batch_stop", args=[batch.id]))
    assert AuditBatch.objects.get(id=batch.id).state == "running"
    AuditBatch.objects.filter(id=batch.id).update(
        heartbeat_at=timezone.now() - dt.timedelta(minutes=1)
    )
    client.post(reverse("encounters:batch_stop", args=[batch.id]))
    batch.refresh_from_db()
    assert batch.state == "failed"
    assert "Stopped by" in batch.error


def test_no_job_may_outlast_the_visibility_timeout():
    """A message a worker still runs must not be handed to another worker: every
    task's hard time limit is under the broker's visibility timeout."""
    from celery import current_app

    visibility = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    current_app.loader.import_default_modules()
    for name, task in current_app.tasks.items():
        if name.startswith(("codesets.", "encounters.", "jobs.", "accounts.")):
            limit = task.time_limit or django_settings.CELERY_TASK_TIME_LIMIT
            assert limit < visibility, (name, limit, visibility)
    assert (
        django_settings.AUDIT_BATCH_SLICE_SECONDS
        < django_settings.CELERY_TASK_SOFT_TIME_LIMIT
    )


# --- the broker refuses connections ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """A redis-server of this test's own (never the shared one), to kill and restart."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="jobs-redis-")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                self.dir,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        _wait(self._answers, timeout=10, what="redis-server")

    def _answers(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cleanup(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def _publish_to(app, url: str, *, close: bool) -> None:
    """Point the app's publishing (connection and producer pools) at ``url``. The
    pools live in kombu's process-wide registry, keyed by URL: only the own
    broker's is closed (a closed pool would stay registered for its URL)."""
    if close:
        app.pool.force_close_all()
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def own_broker(celery_worker_app) -> Iterator[OwnRedis]:
    """The test process publishes to a redis-server of its own."""
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    redis = OwnRedis()
    redis.start()
    before = celery_worker_app.conf.broker_url
    _publish_to(celery_worker_app, redis.url, close=False)
    try:
        yield redis
    finally:
        _publish_to(celery_worker_app, before, close=True)
        redis.cleanup()


def _waiting(task: str) -> int:
    return OutboxMessage.objects.filter(task=task).count()


def _claimed(supervisor, coder) -> Encounter:
    api = APIClient()
    api.force_authenticate(supervisor)
    patient = {**pneumonia_payload()["patient"], "mrn": f"Q{Encounter.objects.count()}"}
    body = api.post(
        "/api/v1/encounters/", pneumonia_payload(patient=patient), format="json"
    )
    assert body.status_code == 201, body.json()
    return encounter_claim(user=coder, encounter_id=body.json()["id"])


def _timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_submit_answers_fast_tells_the_truth_and_audits_later(
    celery_worker_app, own_broker, code_sets, supervisor, coder, stale_soon
):
    stale_soon.AUDIT_SAMPLE_RATE = 0
    queue = celery_worker_app.conf.task_default_queue
    worker = _worker(queue, redis_url=own_broker.url)
    try:
        own_broker.kill()
        # The API.
        api = APIClient()
        api.force_authenticate(coder)
        by_api = _claimed(supervisor, coder)
        response, seconds = _timed(
            lambda: api.post(
                f"/api/v1/encounters/{by_api.id}/submit/",
                {"version": by_api.version},
                format="json",
            )
        )
        assert response.status_code == 202
        assert seconds <= 2, f"the API submit took {seconds:.1f} s"
        assert response.json()["audit_queued"] is False
        assert (
            "will run when the background service is back" in response.json()["message"]
        )
        # The form, and the form through HTMX.
        client = _client(coder)
        submitted = [by_api]
        for htmx in (False, True):
            encounter = _claimed(supervisor, coder)
            data = {
                "version": encounter.version,
                "dx-count": 1,
                "px-count": 0,
                "dx-0-code": "J18.9",
                "dx-0-poa": "Y",
                "action": "submit",
            }
            headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
            started = time.monotonic()
            response = client.post(
                f"/encounters/{encounter.id}/coding/", data, **headers
            )
            seconds = time.monotonic() - started
            assert response.status_code in (200, 302)
            assert seconds <= 2, f"the form submit (htmx={htmx}) took {seconds:.1f} s"
            queue_page = client.get("/encounters/queue/").content.decode()
            assert f"Encounter {encounter.id} submitted" in queue_page
            assert "will run when the background service is back" in queue_page
            assert "the audit checks run now" not in queue_page
            submitted.append(encounter)
        ids = [e.id for e in submitted]
        # Saved: submitted, each audit waiting in the outbox.
        assert set(
            Encounter.objects.filter(id__in=ids).values_list("status", flat=True)
        ) == {"submitted"}
        audit_task = "encounters.tasks.encounter_audit_task"
        assert _waiting(audit_task) == len(ids)
        # A sweep while the broker is still down keeps them.
        jobs_sweep()
        assert _waiting(audit_task) == len(ids)

        # The broker is back: the next sweep (beat's) sends them, the worker audits.
        own_broker.start()
        _wait(
            lambda: jobs_sweep().outbox_sent > 0 or not OutboxMessage.objects.exists(),
            timeout=30,
            what="the outbox to be sent",
        )
        _wait(
            lambda: (
                not Encounter.objects.filter(id__in=ids, status="submitted").exists()
            ),
            timeout=60,
            what="the audits after the broker came back",
            describe=lambda: list(
                Encounter.objects.filter(id__in=ids).values_list("status", flat=True)
            ),
        )
    finally:
        _stop(worker)
    assert not OutboxMessage.objects.exists()
    assert AuditRun.objects.filter(encounter_id__in=ids).count() == len(ids)


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_an_upload_and_a_batch_are_saved_and_run_later(
    celery_worker_app,
    own_broker,
    code_sets,
    supervisor,
    codeset_admin,
    stale_soon,
    tmp_path,
):
    stale_soon.MEDIA_ROOT = str(tmp_path)
    queue = celery_worker_app.conf.task_default_queue
    worker = _worker(queue, redis_url=own_broker.url)
    try:
        own_broker.kill()
        addenda = ROOT / "codesets" / "data" / "icd10cm_order_addenda_2027.txt"
        admin = _client(codeset_admin)
        response, seconds = _timed(
            lambda: admin.post(
                reverse("codesets:release_upload"),
                {"file": SimpleUploadedFile(addenda.name, addenda.read_bytes())},
                follow=True,
            )
        )
        assert response.status_code == 200
        assert seconds <= 2, f"the upload took {seconds:.1f} s"
        assert (
            "will run when the background service is back" in response.content.decode()
        )
        release = Release.objects.get(source_file_name=addenda.name)
        assert release.state == "importing"

        ids = _bulk_encounters(5)
        supervisor_client = _client(supervisor)
        response, seconds = _timed(
            lambda: supervisor_client.post(
                reverse("encounters:batch_new"),
                {"status": ["final"], "reason": "broker down"},
                follow=True,
            )
        )
        assert response.status_code == 200
        assert seconds <= 2, f"the batch took {seconds:.1f} s"
        assert (
            "will run when the background service is back" in response.content.decode()
        )
        batch = AuditBatch.objects.get(reason="broker down")
        assert batch.state == "queued"
        assert _waiting("codesets.tasks.release_import_task") == 1
        assert _waiting("encounters.tasks.audit_batch_task") == 1

        own_broker.start()
        _wait(
            lambda: jobs_sweep().outbox_sent > 0 or not OutboxMessage.objects.exists(),
            timeout=30,
            what="the outbox to be sent",
        )
        _wait(
            lambda: (
                AuditBatch.objects.get(id=batch.id).state == "done"
                and Release.objects.get(id=release.id).state != "importing"
            ),
            timeout=90,
            what="the import and the batch after the broker came back",
            describe=lambda: (
                AuditBatch.objects.values("state", "done").get(id=batch.id),
                Release.objects.values("state", "error").get(id=release.id),
            ),
        )
    finally:
        _stop(worker)
    release.refresh_from_db()
    assert release.state in ("staged", "failed")  # an addenda needs its base: either
    # way the job ran and told the admin; what matters is that it ran once.
    assert AuditRun.objects.filter(batch=batch).count() == len(
        AuditBatch.objects.get(id=batch.id).encounter_ids
    )
    assert set(ids) <= set(AuditBatch.objects.get(id=batch.id).encounter_ids)
