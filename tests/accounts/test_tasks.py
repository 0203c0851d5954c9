"""The web process sends a task; a real Celery worker over the real Redis broker answers."""

from __future__ import annotations

import socket

import pytest
from rest_framework.test import APIClient

from accounts.tasks import worker_ping_task


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
