"""Code-set input that used to answer HTTP 500 (issue 15): now a 4xx or the form
again with a clear message."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client

from codesets.models import Release

CPT = Path(__file__).resolve().parent.parent / "fixtures" / "cpt" / "cpt_simple.csv"

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_a_code_of_the_url_is_a_400(codeset_admin, coder):
    api = Client(raise_request_exception=False)
    api.force_login(coder)
    response = api.get("/api/v1/codes/icd10cm/J18%009/")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    response = api.get("/codesets/encoder/icd10cm/J18%009/")
    assert response.status_code == 400
    response = api.get("/api/v1/codes/search/?q=pneu%00monia")
    assert response.status_code == 400


def test_a_binary_file_uploaded_as_cpt_is_refused(admin_client_):
    admin_client_.raise_request_exception = False
    blob = bytes(range(256)) * 40
    response = admin_client_.post(
        "/codesets/import/",
        {"file": SimpleUploadedFile("cpt.txt", blob), "system": "cpt"},
    )
    assert response.status_code == 200
    assert "not in a format this workbench imports for cpt" in (
        response.content.decode()
    )
    assert not Release.objects.exists()


def test_an_upload_form_posted_without_a_file_says_so(admin_client_):
    admin_client_.raise_request_exception = False
    response = admin_client_.post("/codesets/import/", {"system": "cpt"})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()


def _until_an_insert_waits_on_the_lock() -> None:
    """Until another session waits on a row lock (this upload's insert on the
    unique index), 10 s at most."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as watcher:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            (waiting,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if waiting:
                return
            time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_the_losing_upload_of_two_simultaneous_ones_is_told_it_is_a_duplicate(
    codeset_admin,
):
    """The other upload's release row is inserted but not yet committed when this
    one checks for a duplicate: this one's insert waits on the unique index, then
    fails. It is answered as a duplicate of the winner, not with a 500."""
    data = CPT.read_bytes()
    inserted = threading.Event()

    def other_upload() -> None:
        try:
            with transaction.atomic():
                Release.objects.create(
                    system="cpt",
                    label="the other upload",
                    source_file_name=CPT.name,
                    source_sha256=hashlib.sha256(data).hexdigest(),
                    source_size=len(data),
                    source_format="cpt_file",
                    source_path="",
                )
                inserted.set()
                _until_an_insert_waits_on_the_lock()
        finally:
            connection.close()

    other = threading.Thread(target=other_upload)
    other.start()
    assert inserted.wait(timeout=10)
    client = Client(raise_request_exception=False)
    client.force_login(codeset_admin)
    response = client.post(
        "/codesets/import/",
        {"file": SimpleUploadedFile(CPT.name, data), "system": "cpt"},
    )
    other.join(timeout=10)
    winner = Release.objects.get()
    assert response.status_code == 302
    assert response.url == f"/codesets/releases/{winner.id}/"
    page = client.get(response.url)
    assert "already imported" in page.content.decode()
