"""Batch claim exports: a real Celery worker over the real Redis writes the file of
the final encounters of a period; supervisors start, watch and download it."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.test import Client
from fhir.resources.R4B.claim import Claim
from rest_framework.test import APIClient

from encounters.interop.models import ClaimExport
from encounters.interop.services import claim_export_create, claim_export_run
from encounters.models import Encounter
from tests.conftest import _client_for
from tests.encounters.conftest import pneumonia_payload
from tests.encounters.interop_cases import (
    INPATIENT,
    OUTPATIENT,
    PROFESSIONAL,
    x12_valid,
)


def _wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def _final(supervisor, status: str = Encounter.Status.FINAL, **case) -> int:
    api = APIClient()
    api.force_authenticate(supervisor)
    response = api.post("/api/v1/encounters/", pneumonia_payload(**case), format="json")
    assert response.status_code == 201, response.json()
    encounter_id = response.json()["id"]
    # The audit workflow is not under test here: the encounters are set final.
    Encounter.objects.filter(id=encounter_id).update(status=status)
    return encounter_id


def _cases(supervisor) -> dict[str, int]:
    return {
        "inpatient": _final(supervisor, **INPATIENT),
        "outpatient": _final(supervisor, **OUTPATIENT),
        "professional": _final(supervisor, **PROFESSIONAL),
        "other month": _final(
            supervisor,
            **{**INPATIENT, "admit_date": "2026-06-10", "discharge_date": "2026-06-12"},
        ),
        "not final": _final(supervisor, status=Encounter.Status.IN_REVIEW, **INPATIENT),
        # No CPT line: a professional claim cannot carry it; left out and listed.
        "no lines": _final(supervisor, **{**PROFESSIONAL, "procedures": []}),
    }


def _start(client: Client, fmt: str) -> ClaimExport:
    response = client.post(
        "/claims/exports/",
        {"format": fmt, "date_from": "2026-05-01", "date_to": "2026-05-31"},
    )
    assert response.status_code == 302, response.content
    export = ClaimExport.objects.latest("id")
    assert response["Location"] == f"/claims/exports/{export.id}/"
    return export


def _download(client: Client, export: ClaimExport) -> str:
    response = client.get(f"/claims/exports/{export.id}/download/")
    assert response.status_code == 200
    assert response.streaming
    return b"".join(response.streaming_content).decode()


@pytest.mark.django_db(transaction=True)
def test_the_837_export_of_a_period_runs_on_a_worker_and_validates(
    celery_worker, code_sets, supervisor, supervisor_client, settings, tmp_path
):
    settings.CLAIM_EXPORT_DIR = tmp_path
    cases = _cases(supervisor)
    export = _start(supervisor_client, "x12")
    _wait(lambda: ClaimExport.objects.get(id=export.id).state == "done")
    export.refresh_from_db()
    assert (export.total, export.done, export.percent) == (4, 4, 100)
    assert export.skipped == [[cases["no lines"], export.skipped[0][1]]]
    text = _download(supervisor_client, export)
    ok, report = x12_valid(text)
    assert ok, report
    claims = [s for s in text.split("~\n") if s.startswith("CLM*")]
    assert sorted(c.split("*")[1] for c in claims) == sorted(
        f"E{cases[k]}" for k in ("inpatient", "outpatient", "professional")
    )
    assert "GS*HC*CODINGWB*CLEARINGHOUSE" in text
    assert text.count("*005010X223A2~") == 3  # GS08 and 2 x ST03
    assert text.count("*005010X222A1~") == 2
    page = supervisor_client.get(f"/claims/exports/{export.id}/")
    assert b"Download" in page.content
    assert f"Encounter {cases['no lines']}".encode() in page.content


@pytest.mark.django_db(transaction=True)
def test_the_fhir_export_is_one_valid_claim_per_line(
    celery_worker, code_sets, supervisor, supervisor_client, settings, tmp_path
):
    settings.CLAIM_EXPORT_DIR = tmp_path
    cases = _cases(supervisor)
    export = _start(supervisor_client, "fhir")
    _wait(lambda: ClaimExport.objects.get(id=export.id).state == "done")
    lines = _download(
        supervisor_client, ClaimExport.objects.get(id=export.id)
    ).splitlines()
    claims = [Claim.model_validate(json.loads(line)) for line in lines]
    assert sorted(c.identifier[0].value for c in claims) == sorted(
        str(cases[k]) for k in ("inpatient", "outpatient", "professional", "no lines")
    )


def test_running_an_export_twice_does_not_write_it_again(
    code_sets, supervisor, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.CLAIM_EXPORT_DIR = tmp_path
    _final(supervisor, **INPATIENT)
    with django_capture_on_commit_callbacks() as queued:
        export = claim_export_create(
            user=supervisor,
            format="x12",
            date_from=dt.date(2026, 5, 1),
            date_to=dt.date(2026, 5, 31),
        )
    assert len(queued) == 1  # the job is queued once the export row commits
    claim_export_run(export_id=export.id)
    export.refresh_from_db()
    written = (tmp_path / export.file_name).stat().st_mtime_ns
    claim_export_run(export_id=export.id)
    assert (tmp_path / export.file_name).stat().st_mtime_ns == written
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.django_db
def test_the_progress_fragment_refreshes_while_running(supervisor, supervisor_client):
    export = ClaimExport.objects.create(
        requested_by=supervisor,
        format="x12",
        date_from=dt.date(2026, 5, 1),
        date_to=dt.date(2026, 5, 31),
        state="running",
        total=10,
        done=4,
    )
    response = supervisor_client.get(
        f"/claims/exports/{export.id}/", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert b"<h1>" not in response.content  # the fragment only
    assert b'aria-valuenow="40"' in response.content
    assert b"hx-trigger" in response.content


@pytest.mark.django_db
def test_the_form_refuses_a_period_that_ends_before_it_starts(supervisor_client):
    response = supervisor_client.post(
        "/claims/exports/",
        {"format": "x12", "date_from": "2026-05-31", "date_to": "2026-05-01"},
    )
    assert response.status_code == 200
    assert b"before its start" in response.content
    assert not ClaimExport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["coder", "codeset_admin", "outsider"])
def test_only_supervisors_reach_the_exports(request, who, supervisor):
    export = ClaimExport.objects.create(
        requested_by=supervisor,
        format="x12",
        date_from=dt.date(2026, 5, 1),
        date_to=dt.date(2026, 5, 31),
    )
    client = _client_for(request.getfixturevalue(who))
    for url in (
        "/claims/exports/",
        f"/claims/exports/{export.id}/",
        f"/claims/exports/{export.id}/download/",
    ):
        assert client.get(url).status_code == 403, url


@pytest.mark.django_db
def test_an_unfinished_export_has_no_download(supervisor, supervisor_client):
    export = ClaimExport.objects.create(
        requested_by=supervisor,
        format="x12",
        date_from=dt.date(2026, 5, 1),
        date_to=dt.date(2026, 5, 31),
    )
    assert (
        supervisor_client.get(f"/claims/exports/{export.id}/download/").status_code
        == 404
    )
