"""One encounter the grouper cannot take never fails a batch (issue 15): on a real
Celery worker over the real Redis, as the other audit job tests. The impossible
dates are written with a raw update, as rows stored before the entries checked
them."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from rest_framework.test import APIClient

from encounters.audit.services import audit_batch_create, audit_stalled_requeue
from encounters.models import AuditBatch, AuditRun, Diagnosis, Encounter, Patient
from encounters.services import encounter_claim
from tests.encounters.conftest import pneumonia_payload


def _wait(condition, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _final(n: int) -> Encounter:
    patient = Patient.objects.create(
        mrn=f"D{n}",
        first_name="Date",
        last_name=f"Case{n}",
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
        status="final",
    )
    Diagnosis.objects.bulk_create(
        [
            Diagnosis(encounter=encounter, sequence=1, code="J189", poa="Y"),
            Diagnosis(encounter=encounter, sequence=2, code="E871", poa=""),
        ]
    )
    return encounter


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_impossible_dates_audits_every_other_encounter(
    celery_worker, code_sets, supervisor
):
    encounters = [_final(n) for n in range(5)]
    discharged_9999, born_after, admitted_year_one = encounters[1:4]
    Encounter.objects.filter(id=discharged_9999.id).update(
        discharge_date=dt.date(9999, 12, 31)
    )
    Patient.objects.filter(id=born_after.patient_id).update(
        birth_date=dt.date(2026, 6, 1)
    )
    Encounter.objects.filter(id=admitted_year_one.id).update(
        admit_date=dt.date(1, 1, 1)
    )
    batch = audit_batch_create(
        user=supervisor, encounter_ids=[e.id for e in encounters], reason="dates"
    )
    _wait(
        lambda: AuditBatch.objects.get(id=batch.id).state in ("done", "failed"),
        what="the batch",
    )
    batch.refresh_from_db()
    assert (batch.state, batch.error) == ("done", "")
    assert batch.done == 5
    assert AuditRun.objects.filter(batch=batch).count() == 5
    for encounter in encounters:
        encounter.refresh_from_db()
        # E87.1 without POA: an error, so every one goes to the supervisor queue.
        assert encounter.status == "in_review"
        assert encounter.findings.filter(rule="poa-missing").exists()
    for bad, words in (
        (discharged_9999, "Discharge date: 9999-12-31 is in the future"),
        (born_after, "Birth date: The birth date is after the admit date"),
        (admitted_year_one, "Admit date: 0001-01-01 is before 2000-01-01"),
    ):
        finding = bad.findings.get(rule="encounter-dates-invalid")
        assert finding.severity == "error"
        assert words in finding.message
        assert finding.codes == []
    for good in (encounters[0], encounters[4]):
        assert not good.findings.filter(rule="encounter-dates-invalid").exists()
        assert AuditRun.objects.get(batch=batch, encounter=good).drg["drg"] == 194


@pytest.mark.django_db(transaction=True)
def test_a_submitted_encounter_with_impossible_dates_goes_back_to_its_coder(
    celery_worker, code_sets, supervisor, coder, settings
):
    settings.AUDIT_SAMPLE_RATE = 0
    api = APIClient()
    api.force_authenticate(supervisor)
    created = api.post("/api/v1/encounters/", pneumonia_payload(), format="json")
    encounter = encounter_claim(user=coder, encounter_id=created.json()["id"])
    Encounter.objects.filter(id=encounter.id).update(
        discharge_date=dt.date(9999, 12, 31)
    )
    api.force_authenticate(coder)
    response = api.post(
        f"/api/v1/encounters/{encounter.id}/submit/",
        {"version": encounter.version},
        format="json",
    )
    assert response.status_code == 202, response.json()
    _wait(
        lambda: Encounter.objects.get(id=encounter.id).status != "submitted",
        what="the audit",
    )
    encounter.refresh_from_db()
    assert encounter.status == "returned"
    finding = encounter.findings.get(rule="encounter-dates-invalid")
    assert "9999-12-31" in finding.message
    assert encounter.changes.filter(
        action="audited", comment__icontains="9999-12-31"
    ).exists()
    # Nothing is left for the stalled-audit sweep to queue again and again.
    Encounter.objects.filter(id=encounter.id).update(
        submitted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    assert audit_stalled_requeue() == 0


@pytest.mark.django_db(transaction=True)
def test_a_value_the_grouper_refuses_is_the_encounters_finding(
    celery_worker, code_sets, supervisor
):
    encounters = [_final(n) for n in range(3)]
    # A sex outside M/F/U, stored before the API's enum checks: the grouper raises.
    Patient.objects.filter(id=encounters[1].patient_id).update(sex="X")
    batch = audit_batch_create(
        user=supervisor, encounter_ids=[e.id for e in encounters], reason="sex"
    )
    _wait(
        lambda: AuditBatch.objects.get(id=batch.id).state in ("done", "failed"),
        what="the batch",
    )
    batch.refresh_from_db()
    assert batch.state == "done"
    finding = encounters[1].findings.get(rule="drg-ungroupable")
    assert finding.severity == "error"
    assert "refuses this stay" in finding.message
    assert "Sex must be M, F or U" in finding.message
    assert finding.codes == ["J18.9"]
    assert AuditRun.objects.filter(batch=batch).count() == 3
