from __future__ import annotations

import datetime as dt
import gzip

import pytest
from django.db import connection

from codesets.importers.base import ImportFormatError
from codesets.models import Code, Note, PcsTable, Release
from codesets.selectors import code_on, coverage_on, release_diff_page, release_in_force
from codesets.services import (
    DuplicateRelease,
    ReleaseError,
    release_activate,
    release_discard,
    release_import_now,
)
from tests.codesets.conftest import (
    CM_FY2025,
    CM_FY2026,
    PCS_FY2025,
    PCS_FY2026,
    addenda_line,
    addenda_text,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def _two_cm_releases() -> tuple[Release, Release]:
    fy25 = release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    fy26 = release_import_now(
        path=CM_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    fy25.refresh_from_db()
    return fy25, fy26


def test_import_stages_codes_notes_and_counts():
    release = release_import_now(path=CM_FY2025)
    assert release.state == Release.State.STAGED
    assert release.system == "icd10cm"
    assert release.label == "ICD-10-CM FY2025 April update"
    codes = Code.objects.filter(release_ids__contains=[release.id])
    counted = codes.exclude(kind__in=["chapter", "block"])
    assert release.code_count == counted.count() > 100
    assert release.billable_count == counted.filter(billable=True).count()
    e1165 = codes.get(code="E1165")
    assert e1165.billable
    assert e1165.long_title == "Type 2 diabetes mellitus with hyperglycemia"
    assert e1165.parent == "E116"
    assert codes.get(code="E11").kind == "category"
    assert Note.objects.filter(
        release_ids__contains=[release.id], code="E11", kind="use_additional_code"
    ).exists()
    # Proposed dates from the file's version and name: the FY2025 April update runs
    # 2025-04-01 to 2025-09-30 (the admin confirms them at activation).
    assert (release.effective_from, release.effective_to) == (
        dt.date(2025, 4, 1),
        dt.date(2025, 9, 30),
    )


def test_second_release_shares_unchanged_rows_and_diffs_against_the_first():
    fy25, fy26 = _two_cm_releases()
    assert fy26.base_release_id == fy25.id
    shared = Code.objects.filter(release_ids__contains=[fy25.id, fy26.id]).count()
    only_new = Code.objects.filter(release_ids=[fy26.id]).count()
    assert shared > 0
    assert only_new < shared  # an update writes only what changed
    assert (
        fy26.diff["added"] > 0 and fy26.diff["deleted"] > 0 and fy26.diff["revised"] > 0
    )
    added, total = release_diff_page(release=fy26, change="added")
    assert total == fy26.diff["added"]
    assert "E11A" in {row.code for row in added}
    deleted, _ = release_diff_page(release=fy26, change="deleted")
    assert "T7807XA" in {row.code for row in deleted}
    revised, _ = release_diff_page(release=fy26, change="revised", query="thigh")
    assert any(
        row.code.startswith("S7421") and "high level" in row.old_title
        for row in revised
    )


def _code_updates() -> tuple[int, int]:
    """Rows of codesets_code updated so far in this transaction, and how many of them
    were heap-only (HOT: the new version on the old page, no index entry written)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables
               WHERE relname = 'codesets_code'"""
        )
        updated, hot = cursor.fetchone()
    return updated, hot


def test_a_release_sharing_rows_adds_itself_without_rewriting_their_index_entries():
    # Issue 15: an import that shares ~98,000 rows with the last release must not
    # write a new entry for each of them in every index (GIN included) while coders
    # save beside it. The table keeps room on each page (migration 0020) so the update
    # of release_ids stays on the page.
    release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    updated_before, hot_before = _code_updates()
    fy26 = release_import_now(path=CM_FY2026)
    updated, hot = _code_updates()
    shared = Code.objects.filter(release_ids__len=2, release_ids__contains=[fy26.id])
    assert updated - updated_before == shared.count() > 100
    assert hot - hot_before >= 0.95 * (updated - updated_before)


def test_validity_follows_the_date_of_service():
    fy25, fy26 = _two_cm_releases()
    # Deleted in FY2026: valid for a 2025 date of service, not for a 2026 one.
    assert (
        code_on(system="icd10cm", code="T7807XA", day=dt.date(2025, 5, 1)) is not None
    )
    assert code_on(system="icd10cm", code="T7807XA", day=dt.date(2026, 5, 1)) is None
    # New in FY2026: the other way round.
    assert code_on(system="icd10cm", code="E11A", day=dt.date(2025, 5, 1)) is None
    assert code_on(system="icd10cm", code="E11A", day=dt.date(2026, 5, 1)).billable
    assert fy25.effective_to == dt.date(2025, 9, 30)
    assert release_in_force(system="icd10cm", day=dt.date(2025, 9, 30)) == fy25
    assert release_in_force(system="icd10cm", day=dt.date(2025, 10, 1)) == fy26
    assert release_in_force(system="icd10cm", day=dt.date(2023, 1, 1)) is None
    assert fy25.state == Release.State.RETIRED and fy26.state == Release.State.ACTIVE


def test_the_same_file_twice_is_refused_and_nothing_is_duplicated():
    first = release_import_now(path=CM_FY2025)
    rows = Code.objects.count()
    with pytest.raises(DuplicateRelease) as refused:
        release_import_now(path=CM_FY2025)
    assert refused.value.existing == first
    assert "already imported" in str(refused.value)
    assert Code.objects.count() == rows
    assert Release.objects.count() == 1


def test_truncated_file_fails_with_the_line_and_stages_nothing(tmp_path):
    broken = tmp_path / "truncated.xml"
    broken.write_bytes(CM_FY2025.read_bytes()[:30000])
    with pytest.raises(ImportFormatError, match="line"):
        release_import_now(path=broken)
    release = Release.objects.get()
    assert release.state == Release.State.FAILED
    assert "line" in release.error
    assert not Code.objects.exists()


def test_unknown_format_is_refused_before_any_release_exists(tmp_path):
    odd = tmp_path / "notes.txt"
    odd.write_text("Patient seen for follow-up.\nNothing to code here.\n")
    with pytest.raises(
        ImportFormatError, match="not in a format this workbench imports"
    ):
        release_import_now(path=odd)
    assert not Release.objects.exists()


def test_addenda_build_the_next_release_from_the_one_in_force(tmp_path):
    base = release_import_now(
        path=CM_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    lines = [
        addenda_line(
            "Add:", True, "E1166", "Type 2 diabetes mellitus with made-up complication"
        ),
        addenda_line(
            "Delete:", True, "A001", "Cholera due to Vibrio cholerae 01, biovar eltor"
        ),
        addenda_line("Revise from:", True, "A009", "Cholera, unspecified"),
        addenda_line("Revise to:", True, "A009", "Cholera, unspecified type"),
    ]
    path = tmp_path / "icd10cm_order_addenda_2027.txt"
    path.write_text(
        addenda_text(
            lines, codes_before=74719, codes_after=74719, adds=1, deletes=1, revisions=1
        )
    )
    fy27 = release_import_now(path=path, effective_from=dt.date(2026, 10, 1))
    assert fy27.base_release == base
    assert fy27.label == "ICD-10-CM FY2027 (from addenda)"
    assert (
        fy27.diff["added"] == 1
        and fy27.diff["deleted"] == 1
        and fy27.diff["revised"] == 1
    )
    assert fy27.billable_count == base.billable_count
    new = Code.objects.get(code="E1166", release_ids__contains=[fy27.id])
    assert new.parent == "E116" and new.chapter == base_chapter_of("E116", base)
    # Notes of unchanged codes carry over.
    assert (
        Note.objects.filter(code="E11", release_ids__contains=[fy27.id]).count()
        == Note.objects.filter(code="E11", release_ids__contains=[base.id]).count()
    )
    # The footer's count is checked: it disagrees with what the fixture base holds.
    assert any("74,719 billable codes" in w for w in fy27.warnings)


def base_chapter_of(code: str, release: Release) -> str:
    return Code.objects.get(code=code, release_ids__contains=[release.id]).chapter


def test_addenda_deleting_a_code_the_base_lacks_names_the_line(tmp_path):
    release_import_now(
        path=CM_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    lines = [addenda_line("Delete:", True, "Z9999", "No such code")]
    path = tmp_path / "addenda.txt"
    path.write_text(
        addenda_text(
            lines, codes_before=1, codes_after=0, adds=0, deletes=1, revisions=0
        )
    )
    with pytest.raises(ImportFormatError, match=r"Delete of Z9999.*line 1"):
        release_import_now(path=path)


def test_addenda_without_a_release_in_force_is_refused(tmp_path):
    lines = [addenda_line("Add:", True, "E1166", "Something")]
    path = tmp_path / "addenda.txt"
    path.write_text(
        addenda_text(
            lines, codes_before=0, codes_after=1, adds=1, deletes=0, revisions=0
        )
    )
    with pytest.raises(ImportFormatError, match="no ICD-10-CM release is in force"):
        release_import_now(path=path)


def test_pcs_tables_import_with_tables_and_diff():
    fy25 = release_import_now(path=PCS_FY2025, activate=True)
    fy26 = release_import_now(path=PCS_FY2026, activate=True)
    assert fy26.base_release == fy25
    appendectomy = code_on(system="icd10pcs", code="0DTJ4ZZ", day=dt.date(2026, 1, 15))
    assert (
        appendectomy.long_title
        == "Resection of Appendix, Percutaneous Endoscopic Approach"
    )
    assert PcsTable.objects.filter(code="0DT", release_ids__contains=[fy26.id]).exists()
    assert fy26.diff["added"] >= 1 and fy26.diff["deleted"] >= 1


def test_gzip_compressed_file_imports_like_the_plain_one(tmp_path):
    packed = tmp_path / "icd10pcs_tables_2026.xml.gz"
    packed.write_bytes(gzip.compress(PCS_FY2026.read_bytes()))
    release = release_import_now(path=packed)
    assert release.state == Release.State.STAGED
    assert release.source_file_name == "icd10pcs_tables_2026.xml.gz"


def test_activation_refuses_a_clashing_start_date_and_changes_nothing():
    fy25 = release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    fy26 = release_import_now(path=CM_FY2026)
    with pytest.raises(ReleaseError, match="already takes effect on 2024-10-01"):
        release_activate(
            release_id=fy26.id, user_id=None, effective_from=dt.date(2024, 10, 1)
        )
    fy25.refresh_from_db()
    fy26.refresh_from_db()
    assert fy26.state == Release.State.STAGED
    assert fy25.state == Release.State.ACTIVE and fy25.effective_to == dt.date(
        2025, 9, 30
    )


def test_only_staged_releases_can_be_activated_or_discarded():
    release = release_import_now(path=CM_FY2025, activate=True)
    with pytest.raises(ReleaseError, match="not staged"):
        release_activate(
            release_id=release.id, user_id=None, effective_from=dt.date(2030, 1, 1)
        )
    with pytest.raises(ReleaseError, match="only staged or failed"):
        release_discard(release_id=release.id)


def test_discarding_a_staged_release_removes_only_its_rows():
    fy25, _ = release_import_now(path=CM_FY2025, activate=True), None
    before = Code.objects.filter(release_ids__contains=[fy25.id]).count()
    fy26 = release_import_now(path=CM_FY2026)
    release_discard(release_id=fy26.id)
    assert not Code.objects.filter(release_ids__contains=[fy26.id]).exists()
    assert Code.objects.filter(release_ids__contains=[fy25.id]).count() == before
    assert Code.objects.count() == before + Code.objects.filter(release_ids=[]).count()
    fy26.refresh_from_db()
    assert fy26.state == Release.State.DISCARDED


def test_coverage_says_which_systems_no_release_covers():
    release_import_now(
        path=CM_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    coverage = dict(coverage_on(dt.date(2026, 1, 1)))
    assert coverage["ICD-10-CM"].label == "ICD-10-CM FY2026 April update"
    assert coverage["ICD-10-PCS"] is None
    assert dict(coverage_on(dt.date(2026, 11, 26)))["ICD-10-CM"] is None


def test_an_internal_error_marks_the_release_failed_and_keeps_nothing(monkeypatch):
    from codesets import importers
    from codesets.services import release_import, release_receive_file

    release = release_receive_file(
        path=CM_FY2025, file_name=CM_FY2025.name, user_id=None, queue=False
    )
    importer = importers.get_importer("icd10cm_tabular")

    def broken_parse(path, *, progress=None):
        raise RuntimeError("disk went away")

    monkeypatch.setattr(
        type(importer), "parse", lambda self, path, progress=None: broken_parse(path)
    )
    with pytest.raises(RuntimeError):
        release_import(release_id=release.id)
    release.refresh_from_db()
    assert release.state == Release.State.FAILED
    assert "internal error (RuntimeError)" in release.error
    assert not Code.objects.exists()


def test_an_import_without_progress_for_minutes_says_so(admin_client_):
    import datetime as dt_

    from django.utils import timezone

    from codesets.services import release_receive_file

    release = release_receive_file(
        path=CM_FY2025, file_name=CM_FY2025.name, user_id=None, queue=False
    )
    assert release.stalled_minutes == 0
    Release.objects.filter(id=release.id).update(
        created_at=timezone.now() - dt_.timedelta(minutes=7)
    )
    release.refresh_from_db()
    assert release.stalled_minutes == 7
    page = admin_client_.get(f"/codesets/releases/{release.id}/").content.decode()
    assert (
        "No progress for 7 minutes: no background worker has taken this import yet"
        in page
    )


def test_a_first_release_lists_every_code_as_added_page_by_page():
    release = release_import_now(path=CM_FY2025)
    page, total = release_diff_page(release=release, change="added", limit=10)
    assert total == release.code_count
    assert [row.code for row in page] == sorted(row.code for row in page)
    assert len(page) == 10
    e11, count = release_diff_page(
        release=release, change="added", query="e11", limit=500
    )
    assert count == len(e11) > 0
    assert all(
        row.code.startswith("E11") or "e11" in row.new_title.lower() for row in e11
    )
    titled, _ = release_diff_page(
        release=release, change="added", query="Hyperglycemia"
    )
    assert "E1165" in {row.code for row in titled}
    assert release_diff_page(release=release, change="deleted") == ([], 0)
