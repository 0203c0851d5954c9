"""HCPCS Level II and CPT stored as releases: per-code validity, modifiers, diff, failures."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from codesets.importers.base import ImportFormatError
from codesets.models import Code, Release
from codesets.search import code_detail, code_search
from codesets.selectors import (
    code_on,
    modifier_list,
    modifier_on,
    release_diff_page,
)
from codesets.services import release_activate, release_import_now
from tests.codesets.conftest import FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

HCPCS_2019 = FIXTURES / "hcpcs" / "HCPC2019_CONTR_ANWEB_cut.txt"
HCPCS_2020 = FIXTURES / "hcpcs" / "HCPC2020_ANWEB_w_disclaimer_cut.txt"
CPT_FILES = {
    "ama_tab": FIXTURES / "cpt" / "LONGULT_madeup.txt",
    "ama_link": FIXTURES / "cpt" / "cpt_link_madeup.txt",
    "csv": FIXTURES / "cpt" / "cpt_simple.csv",
}


def _raw_validity(path) -> dict[str, tuple[dt.date, dt.date | None]]:
    """Code or modifier -> (added, terminated), read by column from the fixture (the
    check the stored diff is compared with; no code shared with the importer)."""
    out = {}
    for line in path.read_bytes().decode("cp1252").splitlines():
        if len(line) >= 293 and line[5:11].isdigit() and line[10] in "37":
            term = line[284:292].strip()
            out[line[:5].strip()] = (
                dt.date.fromisoformat(
                    f"{line[268:272]}-{line[272:274]}-{line[274:276]}"
                ),
                dt.date.fromisoformat(f"{term[:4]}-{term[4:6]}-{term[6:]}")
                if term
                else None,
            )
    return out


def _valid_on(raw: dict, day: dt.date) -> set[str]:
    return {k for k, (a, t) in raw.items() if a <= day and (t is None or day <= t)}


@pytest.fixture
def hcpcs_years() -> tuple[Release, Release]:
    y2019 = release_import_now(path=HCPCS_2019, system="hcpcs", activate=True)
    y2020 = release_import_now(path=HCPCS_2020, system="hcpcs")
    assert y2020.state == Release.State.STAGED
    y2020 = release_activate(
        release_id=y2020.id, user_id=None, effective_from=dt.date(2020, 1, 1)
    )
    y2019.refresh_from_db()
    return y2019, y2020


def test_hcpcs_releases_are_calendar_years_with_codes_and_modifiers_apart():
    release = release_import_now(path=HCPCS_2019)
    assert release.system == "hcpcs"
    assert release.label == "HCPCS Level II 2019"
    assert (release.effective_from, release.effective_to) == (
        dt.date(2019, 1, 1),
        dt.date(2019, 12, 31),
    )
    raw = _raw_validity(HCPCS_2019)
    rows = Code.objects.filter(release_ids__contains=[release.id])
    modifiers = rows.filter(kind=Code.Kind.MODIFIER)
    assert {m.code for m in modifiers} == {k for k in raw if len(k) == 2}
    assert not modifiers.filter(billable=True).exists()
    assert release.code_count == len(raw)
    assert release.billable_count == sum(len(k) == 5 for k in raw)
    g8595 = rows.get(code="G8595")
    assert (g8595.valid_from, g8595.valid_to) == (
        dt.date(2010, 1, 1),
        dt.date(2014, 12, 31),
    )
    assert g8595.billable and g8595.kind == Code.Kind.CODE


def test_a_quarterly_hcpcs_file_is_proposed_from_its_quarter(tmp_path):
    april = tmp_path / "HCPC2020_APR_ANWEB_v2.txt"
    shutil.copy(HCPCS_2020, april)
    release = release_import_now(path=april)
    assert release.label == "HCPCS Level II 2020 April update"
    assert (release.effective_from, release.effective_to) == (
        dt.date(2020, 4, 1),
        dt.date(2020, 12, 31),
    )


def test_year_over_year_diff_is_what_changes_validity_on_the_new_first_day(
    hcpcs_years,
):
    y2019, y2020 = hcpcs_years
    assert y2020.base_release_id == y2019.id
    jan1 = dt.date(2020, 1, 1)
    old, new = _raw_validity(HCPCS_2019), _raw_validity(HCPCS_2020)
    added = _valid_on(new, jan1) - _valid_on(old, jan1)
    deleted = _valid_on(old, jan1) - _valid_on(new, jan1)
    assert (y2020.diff["added"], y2020.diff["deleted"]) == (len(added), len(deleted))
    rows, total = release_diff_page(release=y2020, change="added", limit=1000)
    assert {r.code for r in rows} == added and total == len(added)
    rows, _ = release_diff_page(release=y2020, change="deleted", limit=1000)
    assert {r.code for r in rows} == deleted
    # New on 2020-01-01, new in a 2019 quarter, a new modifier; terminated 2019-12-31
    # (still listed in the 2020 file), a modifier discontinued 2019-12-31.
    assert {"A4226", "C9041", "MA"} <= added
    assert {"C9407", "GD"} <= deleted
    # Terminated long ago in both files: no change. Added and ended within 2019: neither.
    assert "G8595" not in added | deleted
    assert "C9141" not in added | deleted


def test_the_diff_page_marks_a_modifier_as_a_modifier(hcpcs_years, admin_client_):
    _, y2020 = hcpcs_years
    page = admin_client_.get(
        f"/codesets/releases/{y2020.id}/", {"change": "added", "q": "MA"}
    ).content.decode()
    row = page.split('<td class="code">MA</td>', 1)[1].split("</tr>", 1)[0]
    assert '<span class="badge modifier">modifier</span>' in row
    assert "header" not in row


def _modifier_section(client, **params) -> str:
    page = client.get(
        "/codesets/encoder/", {"dos": "2020-01-01", "fragment": "results", **params}
    ).content.decode()
    if 'data-testid="modifier-hits"' not in page:
        return ""
    return page.split('data-testid="modifier-hits"', 1)[1].split("</section>", 1)[0]


def test_the_encoder_lists_modifiers_apart_by_modifier_or_meaning(
    hcpcs_years, coder_client
):
    by_code = _modifier_section(coder_client, q="ma")
    assert ">MA</a>" in by_code
    by_words = _modifier_section(coder_client, q="dressing two")
    assert ">A2</a>" in by_words and "Dressing for two wounds" in by_words
    assert ">A3</a>" not in by_words
    # Shortest (short) description first: A2 before A3..A9 for "dressing".
    dressing = _modifier_section(coder_client, q="dressing")
    assert dressing.index(">A1</a>") < dressing.index(">A9</a>")
    # Not valid on the day (GD ended 2019-12-31), or another system asked: none.
    assert _modifier_section(coder_client, q="gd") == ""
    assert _modifier_section(coder_client, q="ma", system="icd10cm") == ""


def test_a_code_is_valid_only_inside_its_dates_and_its_release(hcpcs_years):
    # C9407: added 2019-01-01, terminated 2019-12-31 (the 2020 file still lists it).
    assert code_on(system="hcpcs", code="C9407", day=dt.date(2019, 12, 31))
    assert code_on(system="hcpcs", code="C9407", day=dt.date(2020, 1, 1)) is None
    # A4226: added 2020-01-01.
    assert code_on(system="hcpcs", code="A4226", day=dt.date(2019, 12, 31)) is None
    assert code_on(system="hcpcs", code="A4226", day=dt.date(2020, 1, 1)).billable
    # G8595 ended 2014-12-31: in both releases, valid in neither year.
    assert code_on(system="hcpcs", code="G8595", day=dt.date(2019, 6, 1)) is None
    assert code_on(system="hcpcs", code="G8595", day=dt.date(2020, 6, 1)) is None
    detail = code_detail(system="hcpcs", code="C9407", day=dt.date(2020, 1, 1))
    assert not detail.valid
    assert "last date of service was 2019-12-31" in detail.message
    assert code_detail(system="hcpcs", code="C9407", day=dt.date(2019, 12, 31)).valid


def _search(client: APIClient, q: str, dos: str) -> list[str]:
    response = client.get(
        "/api/v1/codes/search/", {"q": q, "system": "hcpcs", "dos": dos, "limit": 100}
    )
    assert response.status_code == 200, response.content
    return [hit["code"] for hit in response.json()["results"]]


def test_search_api_follows_the_termination_date(hcpcs_years, coder):
    client = APIClient()
    client.force_authenticate(coder)
    assert _search(client, "C9407", "2019-12-31") == ["C9407"]
    assert _search(client, "C9407", "2020-01-01") == []
    words_2019 = _search(client, "iobenguane", "2019-12-31")
    words_2020 = _search(client, "iobenguane", "2020-01-01")
    assert {"C9407", "C9408"} <= set(words_2019) and "A9590" not in words_2019
    assert "A9590" in words_2020 and not {"C9407", "C9408"} & set(words_2020)
    detail = client.get("/api/v1/codes/hcpcs/C9407/", {"dos": "2020-01-01"}).json()
    assert detail["valid"] is False
    assert detail["valid_to"] == "2019-12-31"
    assert detail["kind"] == "code"


def test_modifiers_are_listed_apart_and_never_found_by_code_search(hcpcs_years, coder):
    jan1 = dt.date(2020, 1, 1)
    listed = {m.code for m in modifier_list(day=jan1)}
    assert {"MA", "MB", "ME", "CO", "A1"} <= listed
    assert "GD" not in listed  # discontinued 2019-12-31
    assert "GD" in {m.code for m in modifier_list(day=dt.date(2019, 6, 1))}
    assert modifier_on(modifier="ma", day=jan1).long_title.startswith("Ordering")
    assert modifier_on(modifier="MA", day=dt.date(2019, 6, 1)) is None
    assert modifier_on(modifier="A4226", day=jan1) is None  # a code, not a modifier
    hits = code_search(query="A1", day=jan1, systems=["hcpcs"]).hits
    assert "A1" not in {h.code for h in hits}
    hits = code_search(query="dressing wound", day=jan1, systems=["hcpcs"]).hits
    assert all(h.kind != Code.Kind.MODIFIER for h in hits)
    client = APIClient()
    client.force_authenticate(coder)
    body = client.get("/api/v1/codes/modifiers/", {"dos": "2020-01-01"}).json()
    assert "MA" in {m["modifier"] for m in body["results"]}
    assert "GD" not in {m["modifier"] for m in body["results"]}
    detail = client.get("/api/v1/codes/hcpcs/MA/", {"dos": "2020-01-01"}).json()
    assert detail["kind"] == "modifier" and detail["valid"] is True
    assert "modifier" in detail["message"]


@pytest.mark.parametrize("layout", sorted(CPT_FILES))
def test_cpt_imports_in_each_accepted_layout(layout):
    release = release_import_now(path=CPT_FILES[layout], system="cpt")
    assert release.state == Release.State.STAGED
    assert release.system == "cpt"
    rows = Code.objects.filter(release_ids__contains=[release.id])
    assert rows.count() == release.code_count == release.billable_count
    office = rows.get(code="99213")
    assert "Made-up" in office.long_title
    if layout == "csv":
        assert office.valid_from == dt.date(2021, 1, 1)
        assert release.label == "CPT 2021"
        assert release.effective_from == dt.date(2021, 1, 1)
    else:
        assert office.valid_from is None
        assert release.label == "CPT"
    if layout == "ama_link":
        assert office.short_title == "MADE-UP OFFICE VISIT L3"


def _fail(path) -> Release:
    with pytest.raises(ImportFormatError):
        release_import_now(path=path)
    release = Release.objects.get(source_file_name=path.name)
    assert release.state == Release.State.FAILED
    assert not Code.objects.filter(release_ids__contains=[release.id]).exists()
    return release


def test_malformed_hcpcs_file_fails_the_release_naming_the_line(tmp_path):
    lines = HCPCS_2020.read_bytes().split(b"\r\n")
    index = max(i for i, line in enumerate(lines) if line[10:11] == b"3")
    lines[index] = lines[index][:292] + b"Z" + lines[index][293:]
    broken = tmp_path / "HCPC2020_broken.txt"
    broken.write_bytes(b"\r\n".join(lines))
    release = _fail(broken)
    assert "Column 293 must hold the action code" in release.error
    assert f"line {index + 1}" in release.error


@pytest.mark.parametrize(
    ("layout", "edit", "message"),
    [
        (
            "ama_tab",
            lambda text: text + "99213\tMade-up again\r\n",
            "Code 99213 appears twice",
        ),
        (
            "ama_link",
            lambda text: text.replace(
                "\tMade-up descriptor for tests: appendix removal, open\t", "\t\t", 1
            ),
            "Long Descriptor of 44950 is missing",
        ),
        (
            "csv",
            lambda text: text.replace("2021-01-01", "2021-13-01", 1),
            "valid_from must be a date YYYY-MM-DD",
        ),
    ],
)
def test_malformed_cpt_file_fails_the_release_with_a_clear_message(
    tmp_path, layout, edit, message
):
    source = CPT_FILES[layout]
    broken = tmp_path / f"broken_{source.name}"
    broken.write_bytes(edit(source.read_bytes().decode()).encode())
    release = _fail(broken)
    assert message in release.error
    assert "line" in release.error


def test_import_codes_command_prints_the_release_as_json():
    out = io.StringIO()
    call_command(
        "import_codes", str(HCPCS_2019), "--system", "hcpcs", "--json", stdout=out
    )
    first = json.loads(out.getvalue())
    assert first["system"] == "hcpcs"
    assert first["status"] == "staged"
    assert first["label"] == "HCPCS Level II 2019"
    assert first["codes"] == Release.objects.get(id=first["release"]).code_count
    out = io.StringIO()
    call_command(
        "import_codes",
        str(CPT_FILES["csv"]),
        "--system",
        "cpt",
        "--label",
        "CPT 2021 (licensed)",
        "--activate",
        "--json",
        stdout=out,
    )
    cpt = json.loads(out.getvalue())
    assert cpt["status"] == "active" and cpt["label"] == "CPT 2021 (licensed)"
    rows = len(CPT_FILES["csv"].read_text().splitlines()) - 1  # less the header
    assert cpt["diff"]["added"] == cpt["codes"] == rows


def test_upload_and_code_set_pages_say_cpt_needs_an_ama_licence(admin_client_):
    upload = admin_client_.get(reverse("codesets:release_upload")).content.decode()
    listing = admin_client_.get(reverse("codesets:release_list")).content.decode()
    for page in (upload, listing):
        assert "American Medical Association" in page
        assert "licen" in page
