"""The web process sends a task; a real Celery worker over the real Redis broker answers."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.tasks import worker_ping_task
from tests.conftest import worker_queues


def test_worker_ping_task_reports_its_host():
    answer = worker_ping_task(sent_at=0.0)
    assert answer["hostname"] == socket.gethostname()


@pytest.mark.django_db(transaction=True)
def test_real_worker_answers_the_web_process(celery_worker, codeset_admin):
    client = APIClient()
    client.force_authenticate(codeset_admin)
    response = client.get("/api/v1/ping/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["worker"] == socket.gethostname()
    assert body["round_trip_ms"] > 0


@pytest.mark.django_db(transaction=True)
def test_status_page_shows_the_worker_answering(celery_worker, codeset_admin, client):
    client.force_login(codeset_admin)
    response = client.get("/status/")
    assert response.status_code == 200
    assert b"answering" in response.content
    assert b"PostgreSQL" in response.content
    # Both queues, each with the worker consuming it.
    page = response.content.decode()
    for name in worker_queues(celery_worker.app):
        row = page.split(f"Queue “{name}”")[1].split("</tr>")[0]
        assert "1 worker (" in row, row
        assert "0 waiting" in row


@pytest.mark.django_db
def test_status_page_names_a_queue_no_worker_consumes(
    celery_worker_app, codeset_admin, client
):
    """No worker runs: the page says so of each queue, and counts what waits."""
    from encounters.tasks import audit_batch_task

    audit_batch_task.apply_async(kwargs={"batch_id": 0})
    client.force_login(codeset_admin)
    try:
        page = client.get("/status/").content.decode()
    finally:  # what no worker took must not reach a later test's worker
        with celery_worker_app.connection_for_write() as conn:
            conn.default_channel.client.delete(*worker_queues(celery_worker_app))
    assert "not answering" in page
    bulk = page.split(f"Queue “{settings.CELERY_BULK_QUEUE}”")[1].split("</tr>")[0]
    assert "no worker: these jobs wait until one starts; 1 waiting" in bulk
