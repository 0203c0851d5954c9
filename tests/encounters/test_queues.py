"""Two queues by how long jobs run (issue 15, coding_app/queues.py): a coder's submit
is audited by the interactive worker while an import and a batch wait on the bulk
queue for a worker of their own. Real thread workers over the real Redis."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from codesets.models import Release
from encounters.audit.services import audit_batch_create
from encounters.models import AuditBatch, AuditRun
from tests.encounters.test_audit_jobs import _bulk_encounters, _submitted
from tests.encounters.test_job_faults import _wait

ROOT = Path(__file__).resolve().parent.parent.parent
HCPCS = ROOT / "tests" / "fixtures" / "hcpcs" / "HCPC2020_ANWEB_w_disclaimer_cut.txt"


def _waiting_on(app, queue: str) -> set[tuple[str, int]]:
    """(task, id) of the messages waiting on a queue (the code sets' activations
    queue their re-audits there too)."""
    with app.connection_for_write() as conn:
        raw = conn.default_channel.client.lrange(queue, 0, -1)
    waiting = set()
    for message in map(json.loads, raw):
        _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        waiting.add((message["headers"]["task"], next(iter(kwargs.values()))))
    return waiting


def test_each_job_goes_to_the_queue_of_its_length(celery_worker_app):
    route = celery_worker_app.amqp.router.route
    bulk = django_settings.CELERY_BULK_QUEUE
    interactive = celery_worker_app.conf.task_default_queue
    assert bulk != interactive
    for task in (
        "codesets.tasks.release_import_task",
        "encounters.tasks.audit_batch_task",
        "encounters.tasks.reaudit_after_release_task",
        "encounters.interop.tasks.claim_export_run_task",
    ):
        assert route({}, task)["queue"].name == bulk, task
    for task in (
        "encounters.tasks.encounter_audit_task",
        "accounts.tasks.worker_ping_task",
        "jobs.tasks.jobs_sweep_task",
        "encounters.tasks.audit_stalled_task",
    ):
        assert route({}, task)["queue"].name == interactive, task


@pytest.mark.django_db(transaction=True)
def test_a_submit_is_audited_while_an_import_and_a_batch_wait_for_the_bulk_worker(
    celery_worker_app, code_sets, supervisor, coder, codeset_admin, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.AUDIT_SAMPLE_RATE = 0
    app = celery_worker_app
    bulk = settings.CELERY_BULK_QUEUE
    # Long work first: a code-set upload and a batch audit of 300 encounters.
    admin = Client()
    admin.force_login(codeset_admin)
    response = admin.post(
        reverse("codesets:release_upload"),
        {"file": SimpleUploadedFile(HCPCS.name, HCPCS.read_bytes())},
    )
    assert response.status_code == 302
    release = Release.objects.get(source_file_name=HCPCS.name)
    batch = audit_batch_create(
        user=supervisor, encounter_ids=_bulk_encounters(300), reason="long work"
    )
    ours = {
        ("codesets.tasks.release_import_task", release.id),
        ("encounters.tasks.audit_batch_task", batch.id),
    }
    _wait(lambda: ours <= _waiting_on(app, bulk), 10, "both jobs on the bulk queue")

    # Only the interactive worker runs: the coder's submit is audited all the same.
    with start_worker(
        app,
        pool="threads",
        concurrency=1,
        perform_ping_check=False,
        shutdown_timeout=30,
        queues=[app.conf.task_default_queue],
    ):
        encounter = _submitted(supervisor, coder)
        seconds = _wait(
            lambda: AuditRun.objects.filter(encounter=encounter).exists(),
            30,
            "the submit's audit",
        )
    print(f"submit audited in {seconds:.2f} s with two bulk jobs waiting")
    release.refresh_from_db()
    batch.refresh_from_db()
    assert (release.state, release.progress) == ("importing", 0)
    assert (batch.state, batch.done) == ("queued", 0)
    assert ours <= _waiting_on(app, bulk)

    # The bulk worker takes them.
    with start_worker(
        app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        shutdown_timeout=30,
        queues=[bulk],
    ):
        _wait(
            lambda: (
                Release.objects.get(id=release.id).state == "staged"
                and AuditBatch.objects.get(id=batch.id).state == "done"
            ),
            120,
            "the import and the batch",
            lambda: (
                Release.objects.filter(id=release.id).values().get(),
                AuditBatch.objects.filter(id=batch.id).values().get(),
            ),
        )
    assert AuditBatch.objects.get(id=batch.id).done == 300
