"""NCCI PTP edits and MUE tables stored as table releases: variants, the two queries
the audit rules use, multi-part PTP imports, failures, the release page."""

from __future__ import annotations

import datetime as dt
import json
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from codesets.importers.base import ImportFormatError
from codesets.models import MueEdit, PtpEdit, Release
from codesets.selectors import coverage_on, mue_on, mues_on, ptp_pairs_on
from codesets.services import (
    DuplicateRelease,
    release_activate,
    release_discard,
    release_import_now,
)
from tests.codesets.conftest import FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

PTP_PRACTITIONER = FIXTURES / "ncci" / "ptp_practitioner.txt"
PTP_HOSPITAL = FIXTURES / "ncci" / "ptp_hospital.txt"
MUE_PRACTITIONER = FIXTURES / "ncci" / "mue_practitioner.csv"
MUE_FACILITY = FIXTURES / "ncci" / "mue_facility.csv"
HEADER_LINES = 3  # copyright, title, one-line header (ptp_practitioner.txt)
SINCE_1996 = dt.date(1996, 1, 1)


def _pairs(codes: list[str], day: dt.date, variant: str = "practitioner") -> list:
    return [
        (e.column1, e.column2, e.modifier_indicator)
        for e in ptp_pairs_on(codes=codes, day=day, variant=variant)
    ]


def _parts(tmp_path, source=PTP_PRACTITIONER, split: int = 8) -> list:
    """The practitioner file cut into two part files, each with CMS's header lines,
    as a quarter's f1 / f2 files come."""
    lines = source.read_bytes().splitlines(keepends=True)
    head, body = lines[:HEADER_LINES], lines[HEADER_LINES:]
    paths = []
    for n, chunk in enumerate((body[:split], body[split:]), start=1):
        path = tmp_path / f"ccipra-v312r0-f{n}.txt"
        path.write_bytes(b"".join(head + chunk))
        paths.append(path)
    return paths


def _practitioner_in_force():
    return release_import_now(
        path=PTP_PRACTITIONER, activate=True, effective_from=SINCE_1996
    )


def test_ptp_file_imports_as_a_release_of_its_variant():
    release = release_import_now(path=PTP_PRACTITIONER)
    assert release.system == "ncci_ptp"
    assert release.variant == "practitioner"
    assert release.label == "NCCI PTP edits, practitioner v31.2r0"
    assert release.state == Release.State.STAGED
    # v31.2 is the July 2025 quarter: proposed, open-ended until the next quarter.
    assert (release.effective_from, release.effective_to) == (dt.date(2025, 7, 1), None)
    assert release.code_count == PtpEdit.objects.filter(release=release).count() == 18
    edit = PtpEdit.objects.get(release=release, column1="36415", column2="36416")
    assert edit.existed_before_1996
    assert edit.deletion is None
    assert edit.modifier_indicator == "0"
    assert edit.rationale == "Standards of medical / surgical practice"
    assert release.diff == {"added": 18, "deleted": 0, "revised": 0}


def test_pairs_in_force_follow_the_effective_and_deletion_dates():
    _practitioner_in_force()
    knee = ["27447", "20700"]
    assert _pairs(knee, dt.date(2016, 12, 31)) == []
    assert _pairs(knee, dt.date(2017, 1, 1)) == [("27447", "20700", "0")]
    assert _pairs(knee, dt.date(2018, 12, 31)) == [("27447", "20700", "0")]
    # The deletion date is the first day the edit no longer applies.
    assert _pairs(knee, dt.date(2019, 1, 1)) == []
    # Replaced on 2021-01-01 by the same pair with modifier indicator 1: one edit a day.
    therapy = ["97110", "97530"]
    assert _pairs(therapy, dt.date(2020, 12, 31)) == [("97110", "97530", "0")]
    assert _pairs(therapy, dt.date(2021, 1, 1)) == [("97110", "97530", "1")]
    # Deleted back to its effective date (indicator 9): it never applied.
    assert _pairs(["29881", "29880"], dt.date(2012, 1, 1)) == []


def test_pairs_are_found_among_many_codes_in_one_query(django_assert_num_queries):
    _practitioner_in_force()
    with django_assert_num_queries(1):
        found = _pairs(
            ["11042", "97597", "97598", "99213", "g0439", " 99497 "],
            dt.date(2026, 1, 15),
        )
    assert found == [
        ("11042", "97597", "1"),
        ("11042", "97598", "1"),
        ("G0439", "99497", "1"),
    ]
    assert _pairs(["99213"], dt.date(2026, 1, 15)) == []  # 96372 not billed


def test_no_pairs_before_the_release_is_in_force_or_for_another_variant():
    release_import_now(
        path=PTP_PRACTITIONER, activate=True, effective_from=dt.date(2025, 7, 1)
    )
    assert _pairs(["11042", "97597"], dt.date(2025, 6, 30)) == []
    assert _pairs(["11042", "97597"], dt.date(2025, 7, 1)) == [("11042", "97597", "1")]
    # The practitioner edit 99213/96372 is not a hospital edit, and no hospital
    # release is loaded at all.
    assert _pairs(["99213", "96372"], dt.date(2025, 7, 1), "hospital") == []
    with pytest.raises(ValueError, match="not a variant"):
        _pairs(["99213"], dt.date(2025, 7, 1), "facility")


def test_practitioner_and_hospital_releases_are_in_force_side_by_side():
    practitioner = _practitioner_in_force()
    hospital = release_import_now(
        path=PTP_HOSPITAL, activate=True, effective_from=SINCE_1996
    )
    assert hospital.variant == "hospital"
    assert hospital.label == "NCCI PTP edits, hospital outpatient"
    practitioner.refresh_from_db()
    assert practitioner.state == Release.State.ACTIVE  # not retired by the hospital one
    day = dt.date(2026, 1, 15)
    assert _pairs(["C9600", "92920"], day, "hospital") == [("C9600", "92920", "1")]
    assert _pairs(["C9600", "92920"], day, "practitioner") == []
    coverage = dict(coverage_on(day))
    assert coverage["NCCI PTP edits, practitioner"] == practitioner
    assert coverage["NCCI PTP edits, hospital outpatient"] == hospital
    assert coverage["NCCI MUE table, DME supplier services"] is None


def test_next_quarter_is_diffed_and_takes_over_from_its_date(tmp_path):
    first = _practitioner_in_force()
    text = PTP_PRACTITIONER.read_text()
    text = text.replace("v312r0", "v313r0")
    # 45385/45380 deleted from 2025-10-01; one new edit.
    text = text.replace(
        "45385\t45380\t\t20180101\t*\t1", "45385\t45380\t\t20180101\t20251001\t1"
    )
    text += "64483\t64484\t\t20251001\t*\t0\tMisuse of column two code with column one code\r\n"
    path = tmp_path / "ccipra-v313r0.txt"
    path.write_text(text)
    second = release_import_now(path=path)
    assert second.label == "NCCI PTP edits, practitioner v31.3r0"
    assert second.base_release == first
    assert second.diff == {"added": 1, "deleted": 0, "revised": 1}
    release_activate(
        release_id=second.id, user_id=None, effective_from=dt.date(2025, 10, 1)
    )
    first.refresh_from_db()
    assert first.state == Release.State.RETIRED
    assert first.effective_to == dt.date(2025, 9, 30)
    assert _pairs(["64483", "64484"], dt.date(2025, 9, 30)) == []
    assert _pairs(["64483", "64484"], dt.date(2025, 10, 1)) == [("64483", "64484", "0")]
    assert _pairs(["45385", "45380"], dt.date(2025, 10, 1)) == []


def test_mue_of_a_code_on_a_date_by_variant(django_assert_num_queries):
    practitioner = release_import_now(path=MUE_PRACTITIONER)
    assert practitioner.system == "mue"
    assert practitioner.variant == "practitioner"
    assert practitioner.label == (
        "NCCI MUE table, practitioner services, effective 2026-01-01"
    )
    assert practitioner.effective_from == dt.date(2026, 1, 1)
    release_activate(
        release_id=practitioner.id, user_id=None, effective_from=dt.date(2026, 1, 1)
    )
    release_import_now(path=MUE_FACILITY, activate=True)
    with django_assert_num_queries(1):
        mue = mue_on(code="96372", day=dt.date(2026, 5, 1), variant="practitioner")
    assert (mue.max_units, mue.adjudication_indicator) == (6, 3)
    assert mue.rationale == "Clinical: Data"
    assert (
        mue_on(code="j9999", day=dt.date(2026, 5, 1), variant="practitioner").max_units
        == 0
    )
    assert (
        mue_on(code="71046", day=dt.date(2026, 5, 1), variant="facility").max_units == 3
    )
    assert mue_on(code="71046", day=dt.date(2026, 3, 31), variant="facility") is None
    assert mue_on(code="99999", day=dt.date(2026, 5, 1), variant="practitioner") is None
    assert (
        mue_on(code="96372", day=dt.date(2025, 12, 31), variant="practitioner") is None
    )
    assert mue_on(code="96372", day=dt.date(2026, 5, 1), variant="dme") is None
    with django_assert_num_queries(1):
        many = mues_on(
            codes=["96372", "j9999", "99999"],
            day=dt.date(2026, 5, 1),
            variant="practitioner",
        )
    assert {code: m.max_units for code, m in many.items()} == {"96372": 6, "J9999": 0}


def test_part_files_import_into_one_release(tmp_path, capsys):
    parts = _parts(tmp_path)
    call_command("import_codes", *map(str, parts), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["system"] == "ncci_ptp"
    assert out["codes"] == 18
    release = Release.objects.get(id=out["release"])
    assert release.variant == "practitioner"
    assert release.source_file_name == "ccipra-v312r0-f1.txt+ccipra-v312r0-f2.txt.zip"
    assert PtpEdit.objects.filter(release=release).count() == 18
    # The same parts again, in another order, are the same upload.
    with pytest.raises(DuplicateRelease):
        release_import_now(path=_bundle(tmp_path, reversed(parts), "again.zip"))


def _bundle(tmp_path, paths, name: str):
    path = tmp_path / name
    from codesets.table_releases import bundle_parts

    built = bundle_parts(files=[(p, p.name) for p in paths], folder=tmp_path)
    built.rename(path)
    return path


def test_a_zip_of_the_parts_imports_like_the_files(tmp_path):
    parts = _parts(tmp_path)
    path = tmp_path / "ccipra-v312r0.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for part in parts:
            archive.write(part, f"v312r0/{part.name}")
        archive.writestr("v312r0/README.pdf", b"%PDF-1.4 not an edit file")
    release = release_import_now(path=path)
    assert release.code_count == 18
    assert any("README.pdf" in w for w in release.warnings)


def test_parts_of_different_variants_fail_naming_the_part(tmp_path):
    practitioner = _parts(tmp_path)[0]
    hospital = tmp_path / "ccioph-v312r0-f2.txt"
    hospital.write_bytes(
        PTP_HOSPITAL.read_bytes().replace(
            b"Hospital PTP Edits", b"Hospital PTP Edits v312r0"
        )
    )
    with pytest.raises(
        ImportFormatError, match=r"ccioph-v312r0-f2\.txt holds hospital edits"
    ):
        release_import_now(
            path=_bundle(tmp_path, [practitioner, hospital], "mixed.zip")
        )
    assert Release.objects.get().state == Release.State.FAILED
    assert not PtpEdit.objects.exists()


def test_a_malformed_part_fails_with_its_name_and_line_and_stages_nothing(tmp_path):
    parts = _parts(tmp_path)
    parts[1].write_bytes(
        parts[1].read_bytes().replace(b"\t*\t1\tMisuse", b"\t*\t7\tMisuse", 1)
    )
    with pytest.raises(
        ImportFormatError,
        match=r"ccipra-v312r0-f2.txt: The modifier indicator must be 0, 1 or 9, found '7'. \(line \d+\)",
    ):
        release_import_now(path=_bundle(tmp_path, parts, "broken.zip"))
    release = Release.objects.get()
    assert release.state == Release.State.FAILED
    assert not PtpEdit.objects.exists()


def test_several_mue_tables_in_one_upload_are_refused(admin_client_):
    response = admin_client_.post(
        reverse("codesets:release_upload"),
        {
            "file": [
                SimpleUploadedFile(
                    MUE_PRACTITIONER.name, MUE_PRACTITIONER.read_bytes()
                ),
                SimpleUploadedFile(MUE_FACILITY.name, MUE_FACILITY.read_bytes()),
            ]
        },
    )
    assert response.status_code == 200
    assert b"only NCCI PTP edits come in parts" in response.content
    assert not Release.objects.exists()


def test_discarding_a_staged_table_removes_its_rows():
    ptp = release_import_now(path=PTP_PRACTITIONER)
    mue = release_import_now(path=MUE_PRACTITIONER)
    release_discard(release_id=ptp.id)
    release_discard(release_id=mue.id)
    assert not PtpEdit.objects.exists()
    assert not MueEdit.objects.exists()


def test_release_page_lists_and_filters_the_edits(admin_client_):
    ptp = release_import_now(path=PTP_PRACTITIONER)
    url = reverse("codesets:release_detail", args=[ptp.id])
    page = admin_client_.get(url).content.decode()
    assert 'data-testid="ptp-table"' in page
    assert "18 PTP edits" in page
    assert "practitioner" in page
    filtered = admin_client_.get(
        url, {"q": "96372", "fragment": "diff"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "2 PTP edits matching" in filtered  # 99213/96372 and J1885/96372
    assert "J1885" in filtered
    assert "11042" not in filtered
    mue = release_import_now(path=MUE_PRACTITIONER)
    page = admin_client_.get(
        reverse("codesets:release_detail", args=[mue.id]), {"q": "a0425"}
    ).content.decode()
    assert 'data-testid="mue-table"' in page
    assert "1 MUE matching" in page
    assert "250" in page


@pytest.mark.django_db(transaction=True)
def test_real_worker_imports_uploaded_parts_into_one_staged_release(
    celery_worker, admin_client_, tmp_path
):
    parts = _parts(tmp_path)
    response = admin_client_.post(
        reverse("codesets:release_upload"),
        {"file": [SimpleUploadedFile(p.name, p.read_bytes()) for p in parts]},
    )
    assert response.status_code == 302
    release = _wait(Release.objects.get())
    assert release.state == Release.State.STAGED, release.error
    assert release.progress == 100
    assert release.code_count == 18
    assert release.variant == "practitioner"


@pytest.mark.django_db(transaction=True)
def test_real_worker_marks_a_malformed_mue_table_failed(
    celery_worker, admin_client_, tmp_path
):
    broken = tmp_path / "mue.csv"
    broken.write_bytes(
        MUE_PRACTITIONER.read_bytes().replace(b"96372,6,", b"96372,six,")
    )
    admin_client_.post(
        reverse("codesets:release_upload"),
        {"file": SimpleUploadedFile(broken.name, broken.read_bytes())},
    )
    release = _wait(Release.objects.get())
    assert release.state == Release.State.FAILED
    assert "whole number of units, found 'six'" in release.error
    assert "line 15" in release.error
    assert not MueEdit.objects.exists()
    page = admin_client_.get(reverse("codesets:release_detail", args=[release.id]))
    assert b"The import failed and nothing was staged." in page.content


def _wait(release: Release) -> Release:
    deadline = time.monotonic() + 60
    while release.state == Release.State.IMPORTING and time.monotonic() < deadline:
        time.sleep(0.2)
        release.refresh_from_db()
    return release
