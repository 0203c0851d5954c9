"""Uploads that must leave nothing behind: decompression bombs and failed imports."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codesets.models import Release
from codesets.services import release_import
from tests.codesets.conftest import CM_FY2025

pytestmark = [pytest.mark.django_db]


def _bomb(megabytes: int) -> bytes:
    """``megabytes`` MB of zeros, gzipped (~1000x smaller)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        block = b"\0" * (1 << 20)
        for _ in range(megabytes):
            gz.write(block)
    return out.getvalue()


def _post(client, name: str, content: bytes):
    return client.post(
        reverse("codesets:release_upload"),
        {"file": SimpleUploadedFile(name, content)},
    )


def _stored(media_root) -> list:
    imports = media_root / "imports"
    return sorted(imports.iterdir()) if imports.exists() else []


def test_a_gzip_bomb_is_refused_while_inflating_and_leaves_nothing(
    admin_client_, media_root, settings, monkeypatch
):
    settings.CODESET_INFLATE_MAX_BYTES = 10 * 1024 * 1024
    settings.CODESET_INFLATE_MAX_RATIO = 10_000
    bomb = _bomb(50)
    assert len(bomb) < 100_000
    inflated: list[int] = []
    real_read = gzip.GzipFile.read

    def counting_read(self, size=-1):  # what the copy inflates, block by block
        data = real_read(self, size)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counting_read)
    response = _post(admin_client_, "icd10cm_tabular.xml.gz", bomb)
    assert response.status_code == 200
    assert b"inflates to more than" in response.content
    assert not Release.objects.exists()
    assert _stored(media_root) == []
    # Refused at the cap while streaming, not after inflating all 50 MB.
    assert sum(inflated) <= 11 * 1024 * 1024


def test_a_gzip_bomb_is_refused_by_ratio_under_the_byte_cap(
    admin_client_, media_root, settings
):
    settings.CODESET_INFLATE_MAX_RATIO = 100
    response = _post(admin_client_, "icd10cm_tabular.xml.gz", _bomb(20))
    assert b"inflates to more than" in response.content
    assert not Release.objects.exists()
    assert _stored(media_root) == []


def test_a_real_gzipped_code_set_still_imports(admin_client_, media_root):
    response = _post(
        admin_client_,
        "icd10cm_tabular.xml.gz",
        gzip.compress(CM_FY2025.read_bytes()),
    )
    assert response.status_code == 302
    release = Release.objects.get()
    assert release.source_format == "icd10cm_tabular"
    release_import(release_id=release.id)
    release.refresh_from_db()
    assert release.state == Release.State.STAGED
    assert _stored(media_root) == []  # read by the job, then removed


def test_a_zip_bomb_is_refused_by_ratio(admin_client_, media_root):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("icd10cm_tabular.xml", b"\0" * (20 << 20))
    response = _post(admin_client_, "tabular.zip", out.getvalue())
    assert response.status_code == 200
    assert b"The zip inflates to" in response.content
    assert _stored(media_root) == []


def test_a_damaged_gzip_leaves_no_copy(admin_client_, media_root):
    packed = gzip.compress(CM_FY2025.read_bytes())
    response = _post(admin_client_, "tabular.xml.gz", packed[: len(packed) // 2])
    assert b"damaged" in response.content
    assert _stored(media_root) == []


def test_a_failed_import_removes_its_upload_copy(admin_client_, media_root):
    broken = CM_FY2025.read_bytes()[:20000]
    response = _post(admin_client_, "icd10cm_tabular.xml", broken)
    assert response.status_code == 302
    release = Release.objects.get()
    assert len(_stored(media_root)) == 1  # kept for the job
    release_import(release_id=release.id)
    release.refresh_from_db()
    assert release.state == Release.State.FAILED
    assert _stored(media_root) == []
