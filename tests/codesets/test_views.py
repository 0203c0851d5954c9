from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codesets.models import Release
from codesets.services import release_import_now
from tests.codesets.conftest import CM_FY2025, CM_FY2026

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def _upload(client, path, **extra):
    return client.post(
        reverse("codesets:release_upload"),
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), **extra},
    )


def test_coder_and_supervisor_cannot_reach_code_set_pages(
    coder_client, supervisor_client
):
    release = release_import_now(path=CM_FY2025)
    for client in (coder_client, supervisor_client):
        for url in (
            reverse("codesets:release_list"),
            reverse("codesets:release_upload"),
            reverse("codesets:release_detail", args=[release.id]),
        ):
            assert client.get(url).status_code == 403
        assert (
            client.post(
                reverse("codesets:release_activate", args=[release.id]),
                {"effective_from": "2025-01-01"},
            ).status_code
            == 403
        )
    release.refresh_from_db()
    assert release.state == Release.State.STAGED


def test_upload_creates_an_importing_release_and_queues_the_job(
    admin_client_, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _upload(admin_client_, CM_FY2025)
    release = Release.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("codesets:release_detail", args=[release.id])
    assert release.state == Release.State.IMPORTING
    assert release.source_format == "icd10cm_tabular"
    assert (
        len(callbacks) == 1
    )  # the import job is sent only once the release is committed
    page = admin_client_.get(response["Location"])
    assert b"Importing" in page.content
    assert b'hx-trigger="every 1s"' in page.content


def test_uploading_the_same_file_again_says_so(admin_client_):
    existing = release_import_now(path=CM_FY2025)
    response = _upload(admin_client_, CM_FY2025)
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "codesets:release_detail", args=[existing.id]
    )
    page = admin_client_.get(response["Location"])
    assert b"already imported" in page.content
    assert Release.objects.count() == 1


def test_upload_of_a_non_code_set_file_shows_the_reason(admin_client_, tmp_path):
    odd = tmp_path / "letter.txt"
    odd.write_text("Dear colleague,\nplease find attached.\n")
    response = _upload(admin_client_, odd)
    assert response.status_code == 200
    assert b"not in a format this workbench imports" in response.content
    assert not Release.objects.exists()


def test_upload_over_the_size_limit_is_refused(admin_client_, settings):
    settings.CODESET_UPLOAD_MAX_BYTES = 1000
    response = _upload(admin_client_, CM_FY2025)
    assert response.status_code == 200
    assert b"the limit is 1,000 bytes" in response.content
    assert not Release.objects.exists()


def test_staged_release_page_shows_counts_diff_and_search(admin_client_):
    release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    fy26 = release_import_now(path=CM_FY2026)
    url = reverse("codesets:release_detail", args=[fy26.id])
    page = admin_client_.get(url)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Activate release" in body
    assert f"{fy26.diff['added']}</span>" in body
    revised = admin_client_.get(
        url, {"change": "revised", "q": "thigh"}
    ).content.decode()
    assert "S74.21" in revised and "<del>" in revised and "<ins>" in revised
    fragment = admin_client_.get(
        url,
        {"change": "deleted", "q": "T78.07", "fragment": "diff"},
        HTTP_HX_REQUEST="true",
    )
    assert fragment.content.decode().lstrip().startswith('<div id="diff">')
    assert b"T78.07XA" in fragment.content


def test_activation_from_the_page_puts_the_release_in_force(
    admin_client_, codeset_admin
):
    fy25 = release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    fy26 = release_import_now(path=CM_FY2026)
    response = admin_client_.post(
        reverse("codesets:release_activate", args=[fy26.id]),
        {"effective_from": "2025-10-01", "effective_to": "2026-09-30"},
        follow=True,
    )
    assert b"is now in force from 2025-10-01 to 2026-09-30" in response.content
    fy25.refresh_from_db()
    fy26.refresh_from_db()
    assert fy26.state == Release.State.ACTIVE and fy26.activated_by == codeset_admin
    assert fy25.state == Release.State.RETIRED and fy25.effective_to == dt.date(
        2025, 9, 30
    )
    listing = admin_client_.get(reverse("codesets:release_list")).content.decode()
    assert "No release covers" in listing  # nothing covers today's date in this test


def test_a_superseded_release_is_labelled_by_the_dates_it_still_judges(
    admin_client_,
):
    fy25 = release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    fy26 = release_import_now(
        path=CM_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    listing = admin_client_.get(reverse("codesets:release_list")).content.decode()
    releases = listing.split('data-testid="releases"')[1]
    # FY2025 still judges every date of service up to 2025-09-30: not "Retired".
    assert "Retired" not in releases
    assert (
        "In force for dates of service 2024-10-01 to 2025-09-30; "
        "superseded for new dates" in releases
    )
    detail = admin_client_.get(
        reverse("codesets:release_detail", args=[fy25.id])
    ).content.decode()
    assert "superseded for new dates</span>" in detail
    detail = admin_client_.get(
        reverse("codesets:release_detail", args=[fy26.id])
    ).content.decode()
    # The newest release: in force (for today, or for its own range once it ends).
    assert 'data-testid="release-state">In force' in detail
    assert "superseded" not in detail


def test_activation_with_an_end_before_the_start_is_refused(admin_client_):
    fy26 = release_import_now(path=CM_FY2026)
    response = admin_client_.post(
        reverse("codesets:release_activate", args=[fy26.id]),
        {"effective_from": "2025-10-01", "effective_to": "2025-01-01"},
        follow=True,
    )
    assert b"cannot end before it starts" in response.content
    fy26.refresh_from_db()
    assert fy26.state == Release.State.STAGED


@pytest.mark.django_db(transaction=True)
def test_real_worker_imports_an_upload_into_a_staged_release(
    celery_worker, admin_client_
):
    response = _upload(admin_client_, CM_FY2025)
    assert response.status_code == 302
    release = Release.objects.get()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        release.refresh_from_db()
        if release.state != Release.State.IMPORTING:
            break
        time.sleep(0.2)
    assert release.state == Release.State.STAGED, release.error
    assert release.progress == 100
    assert release.code_count > 100
    # The progress fragment now tells the page to reload into the staged view.
    fragment = admin_client_.get(
        response["Location"], {"fragment": "progress"}, HTTP_HX_REQUEST="true"
    )
    assert fragment["HX-Refresh"] == "true"


@pytest.mark.django_db(transaction=True)
def test_real_worker_marks_a_malformed_upload_failed_and_stages_nothing(
    celery_worker, admin_client_, tmp_path
):
    broken = tmp_path / "icd10cm_tabular.xml"
    broken.write_bytes(CM_FY2025.read_bytes()[:20000])
    _upload(admin_client_, broken)
    release = Release.objects.get()
    deadline = time.monotonic() + 60
    while release.state == Release.State.IMPORTING and time.monotonic() < deadline:
        time.sleep(0.2)
        release.refresh_from_db()
    assert release.state == Release.State.FAILED
    assert "line" in release.error
    page = admin_client_.get(reverse("codesets:release_detail", args=[release.id]))
    assert b"The import failed and nothing was staged." in page.content


def test_an_edit_table_upload_is_received_like_a_code_set(admin_client_):
    from tests.codesets.conftest import FIXTURES

    mue = FIXTURES / "ncci" / "mue_practitioner.csv"
    response = _upload(admin_client_, mue)
    assert response.status_code == 302
    release = Release.objects.get()
    assert (release.system, release.source_format) == ("mue", "mue")
    assert release.state == Release.State.IMPORTING


def test_django_admin_shows_imported_content_read_only(client, django_user_model):
    release_import_now(path=CM_FY2025)
    superuser = django_user_model.objects.create_superuser(
        "root", "root@example.org", "a-long-admin-passphrase-1"
    )
    client.force_login(superuser)
    listing = client.get("/admin/codesets/code/", {"q": "E1165"})
    assert listing.status_code == 200
    assert b"Type 2 diabetes mellitus with hyperglycemia" in listing.content
    from codesets.models import Code

    code = Code.objects.get(code="E1165")
    page = client.get(f"/admin/codesets/code/{code.id}/change/")
    assert page.status_code == 200
    assert b'name="long_title"' not in page.content  # shown, not editable
    assert (
        client.post(
            f"/admin/codesets/code/{code.id}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert client.get("/admin/codesets/release/add/").status_code == 403
