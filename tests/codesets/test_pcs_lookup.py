"""The ICD-10-PCS Index and Definitions stored as dated releases, and the PCS search
that reads them with the tables: words -> Index -> table -> code.

Fixtures cut from the official FY2025 / FY2023 files by tests/fixtures/cut_pcs_index.py
(Index terms Appendectomy, Cholecystectomy, Replacement > Joint > Knee, Hemodialysis...;
tables 0DB, 0DT, 0FB, 0FT, 0SR, 5A1)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from codesets.models import PcsDefinition, PcsIndexTerm, Release
from codesets.pcs_lookup import pcs_lookup
from codesets.search import code_search
from codesets.selectors import coverage_on
from codesets.services import release_discard, release_import_now
from tests.codesets.conftest import CM_FY2025, FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

HERE = FIXTURES / "icd10pcs_index"
INDEX_2025 = HERE / "icd10pcs_index_2025.xml"
INDEX_2023 = HERE / "icd10pcs_index_2023.xml"
DEFINITIONS_2025 = HERE / "icd10pcs_definitions_2025.xml"
TABLES_2025 = HERE / "icd10pcs_tables_2025_lookup.xml"
DOS = dt.date(2025, 6, 1)


@pytest.fixture
def pcs():
    """FY2025 tables, Index and Definitions, active (FY2025: 2024-10-01 to 2025-09-30)."""
    return [
        release_import_now(path=path, activate=True)
        for path in (TABLES_2025, INDEX_2025, DEFINITIONS_2025)
    ]


def codes(query: str, day: dt.date = DOS, limit: int = 10) -> list[str]:
    return [h.code for h in pcs_lookup(query=query, day=day, limit=limit).hits]


# --- storage ----------------------------------------------------------------------


def test_index_file_imports_as_a_dated_release_of_its_own(capsys):
    call_command("import_codes", str(INDEX_2025), "--json")
    out = json.loads(capsys.readouterr().out)
    release = Release.objects.get(id=out["release"])
    assert out["system"] == "icd10pcs_index"
    assert out["status"] == "staged"
    assert out["label"] == "ICD-10-PCS Index FY2025"
    data = INDEX_2025.read_bytes()
    terms = data.count(b"<mainTerm>") + data.count(b"<term level=")
    assert out["codes"] == PcsIndexTerm.objects.filter(release=release).count() == terms
    assert out["diff"] | {"billable_changed": 0} == {
        "added": terms,
        "deleted": 0,
        "revised": 0,
        "billable_changed": 0,
    }
    assert (release.effective_from, release.effective_to) == (
        dt.date(2024, 10, 1),
        dt.date(2025, 9, 30),
    )
    see = PcsIndexTerm.objects.get(release=release, see="Resection, Appendix")
    assert (see.path, see.level, see.title, see.code) == ("Appendectomy", 0, "", "0DTJ")
    knee = PcsIndexTerm.objects.get(
        release=release, path="Replacement > Joint > Knee > Right"
    )
    assert (knee.level, knee.code) == (3, "0SRC")


def test_definitions_file_imports_as_a_dated_release_of_its_own(capsys):
    call_command(
        "import_codes",
        str(DEFINITIONS_2025),
        "--system",
        "icd10pcs_definitions",
        "--json",
    )
    out = json.loads(capsys.readouterr().out)
    assert (out["system"], out["label"]) == (
        "icd10pcs_definitions",
        "ICD-10-PCS Definitions FY2025",
    )
    release = Release.objects.get(id=out["release"])
    assert out["codes"] == PcsDefinition.objects.filter(release=release).count()
    appendix = PcsDefinition.objects.get(release=release, axis=4, titles=["Appendix"])
    assert appendix.includes == ["Appendiceal orifice", "Vermiform appendix"]
    aggregate = PcsDefinition.objects.filter(release=release, axis=0).first()
    assert (aggregate.parent_value, aggregate.parent) == (
        "7",
        "Autologous Tissue Substitute",
    )


def test_system_flag_refuses_a_file_of_another_kind():
    with pytest.raises(CommandError, match="not an ICD-10-PCS Index XML"):
        call_command(
            "import_codes", str(DEFINITIONS_2025), "--system", "icd10pcs_index"
        )
    assert not Release.objects.exists()


def test_a_later_index_is_compared_with_the_one_before():
    release_import_now(path=INDEX_2023, activate=True)
    later = release_import_now(path=INDEX_2025)
    assert later.base_release.label == "ICD-10-PCS Index FY2023"
    # FY2025 adds the body-part key "Appendiceal orifice: use Appendix".
    assert later.diff == {"added": 1, "deleted": 0, "revised": 0}


def test_index_and_definitions_judge_nothing_and_stay_out_of_coverage(pcs):
    lines = dict(coverage_on(DOS))
    assert lines["ICD-10-PCS"] == pcs[0]
    assert not any("Index" in label or "Definitions" in label for label in lines)


def test_discarding_a_staged_index_removes_its_terms():
    release = release_import_now(path=INDEX_2025)
    release_discard(release_id=release.id)
    assert not PcsIndexTerm.objects.exists()


def test_a_malformed_index_fails_and_stores_nothing(tmp_path):
    broken = tmp_path / "index.xml"
    broken.write_bytes(INDEX_2025.read_bytes()[:3000])
    with pytest.raises(Exception, match="incomplete"):
        release_import_now(path=broken)
    assert Release.objects.get().state == Release.State.FAILED
    assert not PcsIndexTerm.objects.exists()


def test_release_pages_list_index_terms_and_definitions(pcs, admin_client_):
    _tables, index, definitions = pcs
    page = admin_client_.get(
        reverse("codesets:release_detail", args=[index.id]), {"q": "appendectomy"}
    ).content.decode()
    assert 'data-testid="pcs-index-table"' in page
    assert "Resection, Appendix" in page
    page = admin_client_.get(
        reverse("codesets:release_detail", args=[definitions.id]), {"q": "vermiform"}
    ).content.decode()
    assert 'data-testid="pcs-definitions-table"' in page
    assert "Vermiform appendix" in page


# --- search -----------------------------------------------------------------------


def test_appendectomy_leads_to_resection_of_the_appendix(pcs):
    result = pcs_lookup(query="appendectomy", day=DOS)
    assert result.hits[0].code == "0DTJ0ZZ"
    assert {h.code[:4] for h in result.hits[:4]} == {"0DTJ"}
    assert "0DTJ4ZZ" in [h.code for h in result.hits[:5]]
    assert result.entries[0].see == "Resection, Appendix"
    assert result.hits[0].title == "Resection of Appendix, Open Approach"


def test_laparoscopic_appendectomy_gives_0dtj4zz_first(pcs):
    result = pcs_lookup(query="laparoscopic appendectomy", day=DOS)
    assert result.hits[0].code == "0DTJ4ZZ"
    assert result.approach == "Percutaneous Endoscopic"
    assert result.approach_definition.endswith(
        "reach and visualize the site of the procedure"
    )


def test_a_partial_appendectomy_is_an_excision(pcs):
    assert codes("partial appendectomy laparoscopic")[0] == "0DBJ4ZZ"


def test_laparoscopic_cholecystectomy_gives_0ft44zz_first(pcs):
    assert codes("laparoscopic cholecystectomy")[0] == "0FT44ZZ"
    assert codes("cholecystectomy, laparoscopic, hand-assisted")[0] == "0FT44ZG"


def test_total_knee_replacement_offers_both_knees_with_a_synthetic_substitute(pcs):
    found = codes("total knee replacement")
    assert set(found[:2]) == {"0SRC0JZ", "0SRD0JZ"}
    assert codes("total knee replacement right cemented")[0] == "0SRC0J9"
    # A device key of the Definitions names the device.
    assert codes("knee replacement oxinium left")[0] == "0SRD06Z"


def test_hemodialysis_leads_to_performance_urinary(pcs):
    found = codes("hemodialysis")
    assert found[0] == "5A1D70Z"
    assert set(found) == {"5A1D70Z", "5A1D80Z", "5A1D90Z"}


def test_a_use_reference_stands_for_its_body_part(pcs):
    # "Vermiform appendix: use Appendix", then Resection, Appendix.
    assert codes("resection vermiform appendix laparoscopic")[0] == "0DTJ4ZZ"


def test_words_the_index_does_not_know_find_nothing(pcs):
    assert codes("pneumonia") == []
    assert codes("") == []


def test_only_the_releases_in_force_on_the_date_are_read(pcs):
    assert codes("appendectomy", day=dt.date(2024, 9, 30)) == []
    assert codes("appendectomy", day=dt.date(2025, 10, 1)) == []


def test_without_an_index_release_the_words_and_synonyms_still_find_codes():
    release_import_now(path=TABLES_2025, activate=True)
    assert codes("appendectomy") == []  # nothing through the Index
    # The tables' titles and the encoder's synonyms (appendectomy: Resection,
    # Appendix) still answer.
    hits = code_search(query="appendectomy", day=DOS, systems=["icd10pcs"]).hits
    assert hits[0].code == "0DTJ0ZZ"


def test_code_search_for_pcs_puts_the_index_codes_first(pcs):
    result = code_search(
        query="laparoscopic appendectomy", day=DOS, systems=["icd10pcs"]
    )
    assert result.hits[0].code == "0DTJ4ZZ"
    # A code typed as a code is still found as a code.
    assert code_search(query="0DTJ4ZZ", day=DOS, systems=["icd10pcs"]).by_code


def test_search_api_returns_the_index_codes(pcs, coder):
    client = APIClient()
    client.force_authenticate(coder)
    body = client.get(
        "/api/v1/codes/search/",
        {
            "q": "laparoscopic cholecystectomy",
            "system": "icd10pcs",
            "dos": "2025-06-01",
        },
    ).json()
    assert body["results"][0] == {
        "system": "icd10pcs",
        "code": "0FT44ZZ",
        "title": "Resection of Gallbladder, Percutaneous Endoscopic Approach",
        "billable": True,
    }
    total_knee = client.get(
        "/api/v1/codes/search/",
        {"q": "total knee replacement", "system": "icd10pcs", "dos": "2025-06-01"},
    ).json()
    assert {r["code"] for r in total_knee["results"][:2]} == {"0SRC0JZ", "0SRD0JZ"}
    assert body["pcs_index"][0] == {
        "path": "Cholecystectomy",
        "see": "Resection, Gallbladder",
        "use": "",
        "code": "0FT4",
    }


def test_a_search_of_all_systems_adds_the_index_codes(pcs):
    release_import_now(path=CM_FY2025, activate=True)
    result = code_search(query="appendectomy", day=DOS)
    assert {"icd10cm", "icd10pcs"} <= set(result.releases)
    assert [h.code for h in result.hits][:2] == ["0DTJ0ZZ", "0DTJ4ZZ"]


def test_a_search_of_all_systems_whose_page_is_full_does_not_read_the_index(pcs):
    # The Index's codes follow the others in a search of every system: when the
    # others fill the page, the Index is not read, and the page is the same.
    release_import_now(path=CM_FY2025, activate=True)
    two = [h.code for h in code_search(query="appendectomy", day=DOS, limit=2).hits]
    with CaptureQueriesContext(connection) as queries:
        one = code_search(query="appendectomy", day=DOS, limit=1)
    assert [h.code for h in one.hits] == two[:1]
    assert not [q for q in queries if PcsIndexTerm._meta.db_table in q["sql"]]
    with CaptureQueriesContext(connection) as queries:
        code_search(query="appendectomy", day=DOS, limit=20)
    assert [q for q in queries if PcsIndexTerm._meta.db_table in q["sql"]]


def test_sides_and_durations_choose_among_the_codes_the_other_words_find(pcs):
    # "right" alone would match every right-sided term; here it picks the body part
    # of the whole table Hemicolectomy points to (0DT: Large Intestine, Right).
    assert codes("right hemicolectomy")[0] == "0DTF0ZZ"
    assert codes("laparoscopic right hemicolectomy")[0] == "0DTF4ZZ"
    # "24-96 hours" picks the duration of Mechanical ventilation's 5A19.
    assert codes("mechanical ventilation 24-96 hours")[0] == "5A1945Z"
    assert codes("mechanical ventilation greater than 96 consecutive hours")[0] == (
        "5A1955Z"
    )


def test_encoder_shows_the_index_terms_behind_the_pcs_codes(pcs, coder_client):
    page = coder_client.get(
        reverse("codesets:encoder"),
        {
            "q": "laparoscopic appendectomy",
            "system": "icd10pcs",
            "dos": "2025-06-01",
            "fragment": "results",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert page.index("0DTJ4ZZ") < page.index('data-testid="pcs-index-hits"')
    assert "<i>Resection, Appendix</i>" in page


def test_dry_run_counts_the_index_entries_and_writes_nothing(capsys):
    call_command("import_codes", str(INDEX_2025), "--dry-run", "--json")
    out = json.loads(capsys.readouterr().out)
    data = INDEX_2025.read_bytes()
    assert (out["format"], out["system"], out["version"]) == (
        "icd10pcs_index",
        "icd10pcs_index",
        "2025",
    )
    assert out["table_rows"] == data.count(b"<mainTerm>") + data.count(b"<term level=")
    assert not Release.objects.exists()


# --- op-note shorthand, sides, scopes (codesets/pcs_phrases.py) ----------------------


def pcs_search(query: str, day: dt.date = DOS) -> list[str]:
    return [
        h.code for h in code_search(query=query, day=day, systems=["icd10pcs"]).hits
    ]


def test_joint_shorthand_with_a_one_letter_side_finds_the_replacement(pcs):
    # TKA: total knee arthroplasty -> Replacement > Joint > Knee > Right 0SRC; "R" is
    # right, "cemented" the qualifier.
    assert pcs_search("R TKA cemented")[0] == "0SRC0J9"
    assert pcs_search("lt TKA cemented")[0] == "0SRD0J9"
    assert pcs_search("left TKR")[0] == "0SRD0JZ"


def test_a_scope_with_a_biopsy_is_an_endoscopic_diagnostic_excision(pcs):
    # "Biopsy: see Excision with qualifier Diagnostic"; EGD is endoscopic through a
    # natural opening; the duodenum is the body part typed.
    assert pcs_search("EGD with biopsy of duodenum")[0] == "0DB98ZX"


@pytest.mark.parametrize("written", ["EGD w/ bx of duodenum", "EGD w/bx of duodenum"])
def test_w_slash_is_with_in_op_note_shorthand(pcs, written):
    # "w/" was read as a body-part word "w": nothing in the Index, so the code
    # search's excisions of any wall came first.
    assert pcs_search(written)[0] == "0DB98ZX"
    assert pcs_search(written)[:5] == pcs_search("EGD with biopsy of duodenum")[:5]


def test_a_snare_polypectomy_is_an_excision_through_the_scope(pcs):
    # "Polypectomy, gastrointestinal: see Excision"; the snare is how, not where.
    first = pcs_search("colonoscopy w/ snare polypectomy")[0]
    assert first[:3] == "0DB" and first[4:6] == "8Z"


def test_a_scope_that_only_looked_reads_as_the_scope_not_as_a_diagnostic_excision():
    from codesets.pcs_phrases import expand

    # "Colonoscopy: see Inspection, Lower Intestinal Tract": "diagnostic" and
    # "screening" say no operation was done through the scope.
    for looked in ("diagnostic colonoscopy", "screening colonoscopy"):
        assert expand(looked) == ("colonoscopy", ())
    assert expand("diagnostic EGD") == expand("EGD")
    # With an operation word the scope's operation is read (unchanged).
    assert expand("diagnostic colonoscopy with biopsy") == expand(
        "colonoscopy with biopsy"
    )


def test_shorthand_reads_the_latest_index_when_none_is_in_force():
    # The tables stay in force after the FY2025 Index ends (as on the bench: FY2026
    # tables with the FY2025 Index): the shorthand still leads through that Index.
    release_import_now(
        path=TABLES_2025,
        activate=True,
        effective_from=dt.date(2024, 10, 1),
        effective_to=dt.date(2026, 9, 30),
    )
    for path in (INDEX_2025, DEFINITIONS_2025):
        release_import_now(path=path, activate=True)
    later = dt.date(2026, 1, 15)
    assert codes("knee replacement", day=later) == []  # none in force: nothing read
    assert pcs_search("R TKA cemented", day=later)[0] == "0SRC0J9"
    # A phrase no curated entry covers is read through the latest Index too.
    assert pcs_search("laparoscopic appendectomy", day=later)[0] == "0DTJ4ZZ"


def test_a_ventilation_time_in_hours_or_days_chooses_the_duration(pcs):
    # 5A19: Less than 24 / 24-96 / Greater than 96 Consecutive Hours.
    assert pcs_search("mech vent 48 hrs")[0] == "5A1945Z"
    assert pcs_search("vent 5 days")[0] == "5A1955Z"
    assert pcs_search("mechanical ventilation 12 hours")[0] == "5A1935Z"
