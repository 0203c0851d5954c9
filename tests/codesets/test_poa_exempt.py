"""CMS's POA-exempt code list as a dated table release: detection, parsing, malformed
files, the change files, staged -> diff -> activate, and the selector the audit asks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from codesets.importers import detect_importer
from codesets.importers.base import ImportFormatError
from codesets.importers.poa_exempt import IMPORTER
from codesets.models import PoaExemptCode, Release
from codesets.selectors import poa_exempt_by_day, poa_exempt_on
from codesets.services import release_activate, release_import_now
from tests.codesets.conftest import FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

POA = FIXTURES / "poa_exempt"
FY25 = POA / "POAexemptCodesFY25_cut.txt"
FY24 = POA / "POAexemptCodesFY24_rebuilt_cut.txt"
ADDED = POA / "POAexemptAddCodesFY25.txt"
DELETED = POA / "POAexemptDeleteCodesFY25.txt"
REVISED = POA / "POAexemptReviseCodesFY25.txt"
HEADER = "OrdFY25\tPOAexemptCode\tDescription\n"


def _rows(path) -> list[list[str]]:
    """A plain reading of the fixture, independent of the importer."""
    lines = path.read_text().splitlines()[1:]
    return [line.split("\t") for line in lines if line.strip()]


def test_the_list_is_detected_from_its_content_and_parsed():
    assert detect_importer(FY25) is IMPORTER
    parsed = IMPORTER.parse(FY25)
    rows = _rows(FY25)
    assert parsed.version == "2025"
    assert len(parsed.poa_exempt) == len(rows) == 278
    first = parsed.poa_exempt[0]
    assert (first.code, first.title, first.order) == (
        "B900",
        "Sequelae of central nervous system tuberculosis",
        "01236",
    )
    by_code = {p.code: p for p in parsed.poa_exempt}
    # Quoted titles (they hold commas) lose their quotes.
    assert by_code["I69065"].title == (
        "Other paralytic syndrome following nontraumatic subarachnoid hemorrhage, bilateral"
    )
    assert {"Z3A39", "Z370", "O80", "Z3800"} <= set(by_code)


def test_import_codes_stages_then_activates_a_release_per_fiscal_year(capsys):
    call_command("import_codes", str(FY25), "--system", "poa_exempt", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "release": out["release"],
        "system": "poa_exempt",
        "label": "POA-exempt codes FY2025",
        "status": "staged",
        "codes": 278,
        "billable": 0,
        "diff": {"added": 278, "deleted": 0, "revised": 0, "billable_changed": 0},
    }
    release = Release.objects.get(id=out["release"])
    # Proposed for its fiscal year, like the ICD-10-CM release it goes with.
    assert (release.effective_from, release.effective_to) == (
        dt.date(2024, 10, 1),
        dt.date(2025, 9, 30),
    )
    assert PoaExemptCode.objects.filter(release=release).count() == 278
    # Not in force while staged.
    assert poa_exempt_on(codes=["Z3A.39"], day=dt.date(2025, 1, 10)) is None
    release_activate(
        release_id=release.id,
        user_id=None,
        effective_from=release.effective_from,
        effective_to=release.effective_to,
    )
    found = poa_exempt_on(codes=["Z3A.39", "Z37.0", "J18.9"], day=dt.date(2025, 1, 10))
    assert found is not None
    assert found.exempt == {"Z3A39", "Z370"}
    assert found.covers and found.label == "POA-exempt codes FY2025"


def test_the_format_is_detected_without_system(capsys):
    call_command("import_codes", str(FY25), "--json")
    assert json.loads(capsys.readouterr().out)["system"] == "poa_exempt"


def test_the_next_year_is_compared_with_the_previous_as_the_change_files_say():
    fy24 = release_import_now(path=FY24, activate=True)
    assert fy24.label == "POA-exempt codes FY2024"
    assert (fy24.effective_from, fy24.effective_to) == (
        dt.date(2023, 10, 1),
        dt.date(2024, 9, 30),
    )
    fy25 = release_import_now(path=FY25, activate=True)
    assert fy25.base_release_id == fy24.id
    # What CMS's change files list, within the codes of the fixture.
    added = {r[1] for r in _rows(ADDED)} & {r[1] for r in _rows(FY25)}
    deleted = {r[0] for r in _rows(DELETED)} & {r[1] for r in _rows(FY24)}
    revised = {r[2] for r in _rows(REVISED)}
    assert (
        fy25.diff
        == {
            "added": len(added),
            "deleted": len(deleted),
            "revised": len(revised),
        }
        == {"added": 19, "deleted": 5, "revised": 2}
    )
    # Each year judges its own discharges.
    z86 = ["Z86.010", "Z86.0100", "Q23.8", "Q23.81"]
    assert poa_exempt_on(codes=z86, day=dt.date(2024, 5, 1)).exempt == {
        "Z86010",
        "Q238",
    }
    assert poa_exempt_on(codes=z86, day=dt.date(2025, 5, 1)).exempt == {
        "Z860100",
        "Q2381",
    }


def test_a_date_no_list_covers_is_judged_by_the_newest_earlier_list_and_says_so():
    release_import_now(path=FY25, activate=True)
    answers = poa_exempt_by_day(
        codes_by_day={
            dt.date(2026, 5, 1): {"Z3A39", "I10"},  # after FY2025: stand-in
            dt.date(2025, 5, 1): {"Z370"},
            dt.date(2020, 1, 1): {"Z370"},  # before every list
        }
    )
    later = answers[dt.date(2026, 5, 1)]
    assert later is not None and not later.covers and later.exempt == {"Z3A39"}
    assert answers[dt.date(2025, 5, 1)].covers
    assert answers[dt.date(2025, 5, 1)].exempt == {"Z370"}
    assert answers[dt.date(2020, 1, 1)] is None


def test_no_list_loaded_answers_none():
    assert poa_exempt_on(codes=["Z3A39"], day=dt.date(2025, 1, 1)) is None


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (DELETED, "codes deleted from the POA-exempt list"),
        (REVISED, "titles were revised"),
    ],
)
def test_the_change_files_are_recognised_and_refused_with_what_they_are(path, says):
    assert detect_importer(path) is IMPORTER
    with pytest.raises(ImportFormatError, match=says):
        IMPORTER.parse(path)
    with pytest.raises(CommandError, match=says):
        call_command("import_codes", str(path))
    assert not PoaExemptCode.objects.exists()


def test_the_additions_file_imports_with_a_warning_that_it_is_not_the_full_list():
    parsed = IMPORTER.parse(ADDED)
    assert len(parsed.poa_exempt) == 49
    assert any("codes added this year" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        ("01236\tB90.0\n", 2, "3 tab-separated fields"),
        ("01236\tB90.0\tSequelae\textra\n", 2, "3 tab-separated fields"),
        ("01236\tB9.00\tSequelae\n", 2, "not an ICD-10-CM code"),
        ("01236\tB900\tSequelae\n", 2, "not an ICD-10-CM code"),
        ("01236\tB90.0\t\n", 2, "has no description"),
        ("0123x\tB90.0\tSequelae\n", 2, "order number"),
        ("01236\tB90.0\tA\n01237\tB90.0\tB\n", 3, "listed twice"),
        ('01236\tB90.0\t"Sequelae, unclosed\n', 2, "malformed"),
        ("", 1, "holds no codes"),
    ],
)
def test_malformed_lists_are_refused_naming_the_line(tmp_path, body, line, says):
    path = tmp_path / "poa.txt"
    path.write_text(HEADER + body)
    with pytest.raises(ImportFormatError, match=says) as caught:
        IMPORTER.parse(path)
    assert caught.value.line == line
    # Through the import job: the release fails, nothing is stored.
    with pytest.raises(ImportFormatError, match=says):
        release_import_now(path=path)
    assert Release.objects.get().state == Release.State.FAILED
    assert not PoaExemptCode.objects.exists()


def test_a_header_without_the_code_column_is_not_this_format(tmp_path):
    path = tmp_path / "other.txt"
    path.write_text("Order\tCode\tDescription\n01236\tB90.0\tSequelae\n")
    assert not IMPORTER.detect(path.read_bytes())


def test_the_release_page_lists_the_codes(admin_client):
    release = release_import_now(path=FY25)
    page = admin_client.get(
        reverse("codesets:release_detail", args=[release.id]), {"q": "Z3A.3"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="poa-exempt-table"' in html
    assert "Z3A.39" in html and "B90.0" not in html


def test_a_chunk_of_dates_is_one_query_and_each_list_is_read_once(
    django_assert_num_queries,
):
    fy24 = release_import_now(path=FY24, activate=True)
    release_import_now(path=FY25, activate=True)
    chunk = {
        dt.date(2024, 5, 1): {"Z86.010", "I10"},
        dt.date(2025, 5, 1): {"Z86.010", "Z86.0100"},
        dt.date(2025, 6, 1): {"Z3A.39"},
    }
    with django_assert_num_queries(1):
        first = poa_exempt_by_day(codes_by_day=chunk)
    with django_assert_num_queries(1):
        again = poa_exempt_by_day(codes_by_day=chunk)
    assert first == again
    assert first[dt.date(2024, 5, 1)].release_id == fy24.id
    assert first[dt.date(2024, 5, 1)].exempt == {"Z86010"}
    assert first[dt.date(2025, 5, 1)].exempt == {"Z860100"}
    assert first[dt.date(2025, 6, 1)].exempt == {"Z3A39"}
