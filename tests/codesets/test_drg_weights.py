"""IPPS Table 5 stored as a release: weights by discharge date, diff, page, discard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from codesets.models import DrgWeight, Release
from codesets.selectors import drg_weight_on
from codesets.services import release_activate, release_discard, release_import_now
from tests.codesets.conftest import FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

TABLE5 = FIXTURES / "ms-drg" / "table5_fy2026_excerpt.txt"


def _reweighted(tmp_path, drg: str, weight: str):
    """The fixture with one DRG's capped weight changed (a stand-in for the next year's table)."""
    lines = TABLE5.read_bytes().split(b"\n")
    for n, line in enumerate(lines):
        cells = line.split(b"\t")
        if cells[0] == drg.encode():
            cells[7] = weight.encode()
            lines[n] = b"\t".join(cells)
    path = tmp_path / "table5_next.txt"
    path.write_bytes(b"\n".join(lines).replace(b"FY 2026", b"FY 2027"))
    return path


def test_table5_imports_as_a_release_and_gives_weights_by_discharge_date():
    release = release_import_now(path=TABLE5, activate=True)
    assert release.system == "drg_weights"
    assert release.label == "MS-DRG weights (IPPS Table 5) FY2026"
    assert (release.effective_from, release.effective_to) == (
        dt.date(2025, 10, 1),
        dt.date(2026, 9, 30),
    )
    assert release.code_count == DrgWeight.objects.filter(release=release).count() > 30
    pneumonia = drg_weight_on(drg=193, day=dt.date(2026, 1, 15))
    assert pneumonia.weight == Decimal("1.3144")
    assert pneumonia.gmlos == Decimal("3.9")
    assert pneumonia.amlos == Decimal("4.9")
    assert pneumonia.title == "SIMPLE PNEUMONIA AND PLEURISY WITH MCC"
    assert (
        drg_weight_on(drg=193, day=dt.date(2026, 11, 26)) is None
    )  # no FY2027 table loaded


def test_next_years_table_diffs_weights_and_takes_over_from_its_date(tmp_path):
    fy26 = release_import_now(path=TABLE5, activate=True)
    fy27 = release_import_now(path=_reweighted(tmp_path, "193", "1.4000"))
    assert fy27.base_release == fy26
    assert fy27.diff == {"added": 0, "deleted": 0, "revised": 0, "weight_changed": 1}
    release_activate(
        release_id=fy27.id, user_id=None, effective_from=dt.date(2026, 10, 1)
    )
    assert drg_weight_on(drg=193, day=dt.date(2026, 9, 30)).weight == Decimal("1.3144")
    assert drg_weight_on(drg=193, day=dt.date(2026, 10, 1)).weight == Decimal("1.4000")


def test_discarding_a_staged_table_removes_its_rows():
    release = release_import_now(path=TABLE5)
    release_discard(release_id=release.id)
    assert not DrgWeight.objects.filter(release=release).exists()
    assert Release.objects.get(id=release.id).state == Release.State.DISCARDED


def test_release_page_lists_and_filters_the_drgs(admin_client_):
    release = release_import_now(path=TABLE5)
    url = reverse("codesets:release_detail", args=[release.id])
    page = admin_client_.get(url).content.decode()
    assert 'data-testid="drg-table"' in page
    assert "MS-DRGs" in page
    filtered = admin_client_.get(
        url, {"q": "193", "fragment": "diff"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "SIMPLE PNEUMONIA AND PLEURISY WITH MCC" in filtered
    assert "1.3144" in filtered
    assert "HEART TRANSPLANT" not in filtered


def test_import_codes_reports_a_table_release(capsys):
    call_command("import_codes", str(TABLE5), "--system", "drg_weights", "--json")
    out = capsys.readouterr().out
    assert '"system": "drg_weights"' in out
    assert '"status": "staged"' in out
