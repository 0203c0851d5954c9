"""The audit as background jobs on a real Celery worker over the real Redis:
submit -> findings; running a job twice; a worker killed mid-batch."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from coding_app.devstack import solo_worker_command
from encounters.audit.services import (
    audit_batch_create,
    audit_batch_run,
    encounter_review_accept,
    finding_resolve,
)
from encounters.models import (
    AuditBatch,
    AuditRun,
    Diagnosis,
    Encounter,
    Finding,
    Patient,
)
from encounters.services import encounter_claim
from encounters.tasks import encounter_audit_task
from tests.encounters.conftest import pneumonia_payload

ROOT = Path(__file__).resolve().parent.parent.parent


def _wait(condition, timeout: float = 30.0, what: str = "", describe=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what}: {describe() if describe else ''}"
    )


def _submitted(supervisor, coder, **overrides) -> Encounter:
    api = APIClient()
    api.force_authenticate(supervisor)
    body = api.post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert body.status_code == 201, body.json()
    encounter = encounter_claim(user=coder, encounter_id=body.json()["id"])
    api.force_authenticate(coder)
    response = api.post(
        f"/api/v1/encounters/{encounter.id}/submit/",
        {"version": encounter.version},
        format="json",
    )
    assert response.status_code == 202
    return encounter


@pytest.mark.django_db(transaction=True)
def test_submit_starts_the_audit_and_findings_appear(
    celery_worker, code_sets, supervisor, coder, settings
):
    settings.AUDIT_SAMPLE_RATE = 0
    # E87.1 without POA: an error, so the encounter goes back to the coder.
    faulty = _submitted(
        supervisor,
        coder,
        diagnoses=[{"code": "J18.9", "poa": "Y"}, {"code": "E87.1", "poa": ""}],
    )
    clean = _submitted(
        supervisor,
        coder,
        patient={**pneumonia_payload()["patient"], "mrn": "B2"},
    )
    _wait(
        lambda: (
            not Encounter.objects.filter(
                id__in=[faulty.id, clean.id], status="submitted"
            ).exists()
        ),
        what="the audit job",
    )
    faulty.refresh_from_db()
    clean.refresh_from_db()
    assert faulty.status == "returned"
    assert clean.status == "final"
    finding = faulty.findings.get(rule="poa-missing")
    assert finding.severity == "error"
    assert finding.codes == ["E87.1"]
    assert "present-on-admission" in finding.message
    run = AuditRun.objects.get(encounter=faulty)
    assert run.drg["drg"] == 194
    # The coder reads the reasons through the API too.
    api = APIClient()
    api.force_authenticate(coder)
    body = api.get(f"/api/v1/encounters/{faulty.id}/").json()
    assert {"rule": "poa-missing", "severity": "error"}.items() <= body["findings"][
        0
    ].items()
    # And the history says why it came back.
    assert faulty.changes.filter(
        action="audited", comment__icontains="present-on-admission"
    )


@pytest.mark.django_db(transaction=True)
def test_running_the_audit_job_twice_never_duplicates_findings(
    celery_worker, code_sets, supervisor, coder, settings
):
    settings.AUDIT_SAMPLE_RATE = 0
    encounter = _submitted(
        supervisor,
        coder,
        diagnoses=[{"code": "J18.9", "poa": "Y"}, {"code": "J18", "poa": ""}],
    )
    _wait(
        lambda: Encounter.objects.get(id=encounter.id).status != "submitted",
        what="the first audit",
    )
    first = sorted(
        Finding.objects.filter(encounter=encounter).values_list("rule", flat=True)
    )
    assert "code-not-billable" in first
    # The same job again (a redelivery), twice, through the worker.
    results = [encounter_audit_task.delay(encounter_id=encounter.id) for _ in range(2)]
    for result in results:
        result.get(timeout=30)
    assert (
        sorted(
            Finding.objects.filter(encounter=encounter).values_list("rule", flat=True)
        )
        == first
    )
    assert AuditRun.objects.filter(encounter=encounter).count() == 1


def _bulk_encounters(count: int) -> list[int]:
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"K{n}",
            first_name="Kill",
            last_name=f"Test{n}",
            birth_date=dt.date(1950, 1, 1),
            sex="F",
        )
        for n in range(count)
    )
    encounters = Encounter.objects.bulk_create(
        Encounter(
            patient=p,
            type="inpatient",
            facility="General",
            admit_date=dt.date(2026, 5, 10),
            discharge_date=dt.date(2026, 5, 14),
            discharge_status="01",
            status="final",
        )
        for p in patients
    )
    Diagnosis.objects.bulk_create(
        Diagnosis(encounter=e, sequence=s, code=code, poa=poa)
        for e in encounters
        for s, (code, poa) in enumerate([("J189", "Y"), ("E871", ""), ("J18", "Y")], 1)
    )
    return [e.id for e in encounters]


def _worker(queue: str) -> subprocess.Popen:
    env = {
        **os.environ,
        # The same server as this test run, its test database.
        "DATABASE_URL": urlsplit(settings.DATABASE_URL)
        ._replace(path="/" + connection.settings_dict["NAME"])
        .geturl(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_VISIBILITY_TIMEOUT": "3",
        "AUDIT_CHUNK": "50",
        "DEV_MODE": "1",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_BULK_QUEUE": f"{queue}-bulk",
    }
    return subprocess.Popen(
        solo_worker_command(queue, f"{queue}-bulk"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_another_completes_it(
    celery_worker_app, code_sets, supervisor
):
    """Two real worker processes: the first is killed (SIGKILL) after some chunks
    were committed; the batch's message comes back (acks_late, visibility timeout)
    and the second finishes it, without redoing or duplicating anything."""
    ids = _bulk_encounters(1200)
    queue = celery_worker_app.conf.task_default_queue
    batch = audit_batch_create(user=supervisor, encounter_ids=ids, reason="kill test")
    first = _worker(queue)
    try:
        _wait(
            lambda: AuditBatch.objects.get(id=batch.id).done >= 100,
            timeout=60,
            what="the first chunks",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    stopped_at = AuditBatch.objects.get(id=batch.id)
    assert stopped_at.state == "running"
    assert 0 < stopped_at.done < len(ids), "kill came too late to test anything"

    second = _worker(queue)
    try:
        _wait(
            lambda: AuditBatch.objects.get(id=batch.id).state == "done",
            timeout=90,
            what="the second worker to finish the batch",
            describe=lambda: AuditBatch.objects.values("state", "done", "error").get(
                id=batch.id
            ),
        )
    finally:
        second.terminate()
        second.wait(timeout=20)
    batch.refresh_from_db()
    assert batch.done == len(ids)
    assert AuditRun.objects.filter(batch=batch).count() == len(ids)
    # Each encounter: poa-missing (E87.1) and code-not-billable (J18), once.
    assert Finding.objects.filter(run__batch=batch, rule="poa-missing").count() == len(
        ids
    )
    assert Finding.objects.filter(
        run__batch=batch, rule="code-not-billable"
    ).count() == len(ids)
    assert batch.findings == Finding.objects.filter(run__batch=batch).count()
    # Final encounters with errors go to the supervisor queue.
    assert Encounter.objects.filter(id__in=ids, status="in_review").count() == len(ids)


# --- one finding per (encounter, rule, codes), whatever the number of audits ------


def _coded(dx: list[tuple[str, str]], status: str = "final") -> Encounter:
    patient = Patient.objects.create(
        mrn=f"F{Patient.objects.count()}",
        first_name="Fin",
        last_name="Ding",
        birth_date=dt.date(1950, 1, 1),
        sex="F",
    )
    encounter = Encounter.objects.create(
        patient=patient,
        type="inpatient",
        facility="General",
        admit_date=dt.date(2026, 5, 10),
        discharge_date=dt.date(2026, 5, 14),
        discharge_status="01",
        status=status,
    )
    Diagnosis.objects.bulk_create(
        Diagnosis(encounter=encounter, sequence=n, code=code, poa=poa)
        for n, (code, poa) in enumerate(dx, start=1)
    )
    return encounter


def _batch(supervisor, encounters: list[Encounter]) -> AuditBatch:
    batch = audit_batch_create(
        user=supervisor, encounter_ids=[e.id for e in encounters], reason="again"
    )
    audit_batch_run(batch_id=batch.id)
    batch.refresh_from_db()
    return batch


def _open(encounter: Encounter) -> list[tuple[str, list[str]]]:
    return sorted((f.rule, f.codes) for f in encounter.findings.filter(status="open"))


@pytest.mark.django_db
def test_batches_over_unchanged_encounters_refresh_findings_never_copy_them(
    code_sets, supervisor
):
    # An error (no POA on E87.1), a warning (G63 without its underlying disease)
    # and an info (N39.0 without its organism).
    encounters = [
        _coded([("J189", "Y"), ("G63", "Y"), ("E871", ""), ("N390", "Y")])
        for _ in range(3)
    ]
    first = _batch(supervisor, encounters)
    raised = {e.id: _open(e) for e in encounters}
    assert {"poa-missing", "code-first", "use-additional-code"} <= {
        rule for rule, _codes in raised[encounters[0].id]
    }
    last = [_batch(supervisor, encounters) for _ in range(2)][-1]
    for e in encounters:
        assert _open(e) == raised[e.id]
        assert e.findings.count() == len(raised[e.id])
        # Refreshed: the last audit is the one that raised them.
        assert set(e.findings.values_list("run__batch", flat=True)) == {last.id}
    assert last.findings == first.findings == sum(map(len, raised.values()))
    # The database says it too.
    finding = encounters[0].findings.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Finding.objects.create(
            encounter=finding.encounter,
            run=finding.run,
            rule=finding.rule,
            severity=finding.severity,
            message="a copy",
            codes=finding.codes,
        )


@pytest.mark.django_db
def test_a_decision_stands_on_a_reaudit_of_the_same_codes(code_sets, supervisor, coder):
    """Dismissed: the encounter a supervisor accepted stays final however often it
    is audited again. Confirmed: the confirmation stays."""
    encounter = _coded([("J189", "Y"), ("G63", "Y")], status="in_review")
    other = _coded([("J189", "Y"), ("G63", "Y"), ("E871", "")], status="in_review")
    _batch(supervisor, [encounter, other])
    warning = encounter.findings.get(rule="code-first")
    error = other.findings.get(rule="poa-missing")
    finding_resolve(
        user=supervisor, finding_id=warning.id, status="dismissed", reason="fine"
    )
    finding_resolve(user=supervisor, finding_id=error.id, status="confirmed")
    encounter.refresh_from_db()
    encounter_review_accept(
        user=supervisor, encounter_id=encounter.id, version=encounter.version
    )
    for _ in range(2):
        _batch(supervisor, [encounter, other])
    encounter.refresh_from_db()
    warning.refresh_from_db()
    error.refresh_from_db()
    assert encounter.status == "final"
    assert (warning.status, warning.resolution) == ("dismissed", "fine")
    assert encounter.findings.count() == 1
    assert error.status == "confirmed"


@pytest.mark.django_db
def test_a_finding_no_longer_raised_after_the_codes_changed_is_closed(
    code_sets, supervisor
):
    encounter = _coded([("J189", "Y"), ("G63", "Y"), ("E871", "")], status="final")
    _batch(supervisor, [encounter])
    poa = encounter.findings.get(rule="poa-missing")
    code_first = encounter.findings.get(rule="code-first")
    finding_resolve(
        user=supervisor, finding_id=code_first.id, status="dismissed", reason="ok"
    )
    # The coder fixes the POA: the codes changed.
    Diagnosis.objects.filter(encounter=encounter, code="E871").update(poa="Y")
    _batch(supervisor, [encounter])
    poa.refresh_from_db()
    assert (poa.status, poa.resolved_by) == ("corrected", None)
    assert "codes changed" in poa.resolution
    # The dismissed warning is raised again on other codes: open again.
    code_first.refresh_from_db()
    assert (code_first.status, code_first.resolved_by) == ("open", None)
