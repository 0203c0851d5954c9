"""The encoder: code forms, word search, date of service, 7th characters, the API and page."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework.test import APIClient

from codesets.search import code_detail, code_search, with_seventh_character
from codesets.services import release_import_now
from tests.codesets.conftest import CM_FY2025, CM_FY2026, PCS_FY2026

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

DOS_2025 = dt.date(2025, 5, 1)
DOS_2026 = dt.date(2026, 5, 1)


@pytest.fixture
def releases():
    fy25 = release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    fy26 = release_import_now(
        path=CM_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    pcs = release_import_now(
        path=PCS_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    return fy25, fy26, pcs


def _codes(query: str, day: dt.date = DOS_2026, **kwargs) -> list[str]:
    return [hit.display for hit in code_search(query=query, day=day, **kwargs).hits]


@pytest.mark.usefixtures("releases")
@pytest.mark.parametrize("query", ["E11.65", "e11.65", "E1165", "e1165", " e1165 "])
def test_a_code_is_found_in_any_case_with_or_without_the_dot(query):
    assert _codes(query)[0] == "E11.65"


@pytest.mark.usefixtures("releases")
def test_a_code_prefix_lists_the_category_first_then_its_codes_in_order():
    assert _codes("e11")[0] == "E11"
    found = _codes("e116", limit=100)
    assert found[0] == "E11.6"
    assert found.index("E11.64") < found.index("E11.65")
    assert all(code.startswith("E11.6") for code in found)


@pytest.mark.usefixtures("releases")
def test_words_in_any_order_with_prefixes_and_stemming_find_the_code():
    assert _codes("diab mel type 2 hyperglyc")[0] == "E11.65"
    assert _codes("hyperglycemia diabetes type 2")[0] == "E11.65"
    # "diabetic" and "diabetes" share the English stem.
    assert "E11.65" in _codes("diabetic hyperglycemia type 2")


@pytest.mark.usefixtures("releases")
def test_inclusion_terms_are_searched_with_the_titles():
    # "Kimmelstiel-Wilson disease" stands only as an inclusion term of E11.21.
    assert "E11.21" in _codes("kimmelstiel wilson")


@pytest.mark.usefixtures("releases")
def test_billable_codes_come_before_headers_and_headers_are_marked():
    hits = code_search(query="type 2 diabetes mellitus", day=DOS_2026, limit=100).hits
    flags = [hit.billable for hit in hits]
    assert flags == sorted(flags, reverse=True)
    assert any(not hit.billable and hit.display == "E11" for hit in hits)


@pytest.mark.usefixtures("releases")
def test_search_is_filtered_by_system():
    assert _codes("0DTJ4ZZ") == ["0DTJ4ZZ"]
    assert _codes("0DTJ4ZZ", systems=["icd10cm"]) == []
    assert (
        _codes("resection appendix percutaneous endoscopic", systems=["icd10pcs"])[0]
        == "0DTJ4ZZ"
    )


@pytest.mark.usefixtures("releases")
def test_a_code_deleted_in_fy2026_is_found_for_2025_and_not_for_2026():
    assert _codes("T78.07XA", day=DOS_2025) == ["T78.07XA"]
    assert _codes("T78.07XA", day=DOS_2026) == []
    assert _codes("E11.A", day=DOS_2025) == []
    assert _codes("E11.A", day=DOS_2026) == ["E11.A"]


@pytest.mark.usefixtures("releases")
def test_a_date_no_release_covers_finds_nothing_and_says_so():
    result = code_search(query="e11", day=dt.date(2020, 1, 1))
    assert result.hits == []
    assert result.uncovered == ["icd10cm", "icd10pcs"]


def test_seventh_character_fills_placeholder_x():
    assert with_seventh_character("S72001", "A") == "S72001A"
    assert with_seventh_character("T360X1", "A") == "T360X1A"
    assert with_seventh_character("S020", "A") == "S020XXA"


@pytest.mark.usefixtures("releases")
def test_code_panel_offers_the_seventh_characters_of_the_category():
    detail = code_detail(system="icd10cm", code="S72.001", day=DOS_2026)
    assert not detail.code.billable
    assert not detail.valid
    assert "header" in detail.message
    choices = {s.character: s for s in detail.seventh}
    assert choices["A"].display == "S72.001A"
    assert choices["A"].exists
    assert choices["A"].text == "initial encounter for closed fracture"
    assert detail.seventh_source == "S72"
    t36 = code_detail(system="icd10cm", code="T36.0X1", day=DOS_2026)
    assert [s.display for s in t36.seventh] == ["T36.0X1A", "T36.0X1D", "T36.0X1S"]
    full = code_detail(system="icd10cm", code="T36.0X1A", day=DOS_2026)
    assert full.valid
    assert full.seventh == []


@pytest.mark.usefixtures("releases")
def test_code_panel_shows_the_path_and_inherited_notes():
    detail = code_detail(system="icd10cm", code="E1165", day=DOS_2026)
    assert [a.display for a in detail.ancestors] == ["4", "E08-E13", "E11", "E11.6"]
    kinds = {kind: lines for kind, _label, lines in detail.notes_by_kind()}
    assert any(n.source == "E11" and n.inherited for n in kinds["use_additional_code"])
    assert all(
        not n.inherited for n in kinds["use_additional_code"] if n.source == "E11.65"
    )


@pytest.mark.usefixtures("releases")
def test_code_panel_of_a_deleted_code_says_it_is_not_in_the_release_in_force():
    detail = code_detail(system="icd10cm", code="T78.07XA", day=DOS_2026)
    assert not detail.valid
    assert "is not in ICD-10-CM FY2026" in detail.message


@pytest.mark.usefixtures("releases")
def test_search_api_returns_results_in_display_form(coder):
    client = APIClient()
    client.force_authenticate(coder)
    response = client.get(
        "/api/v1/codes/search/",
        {"q": "diab mel type 2 hyperglyc", "dos": "2026-05-01", "system": "icd10cm"},
    )
    assert response.status_code == 200
    first = response.json()["results"][0]
    assert first == {
        "system": "icd10cm",
        "code": "E11.65",
        "title": "Type 2 diabetes mellitus with hyperglycemia",
        "billable": True,
    }


def test_search_api_names_a_bad_parameter(coder):
    client = APIClient()
    client.force_authenticate(coder)
    response = client.get(
        "/api/v1/codes/search/", {"q": "e11", "dos": "2026-13-45", "system": "icd11"}
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"dos", "system"}


@pytest.mark.usefixtures("releases")
def test_code_api_gives_validity_ancestors_notes_and_seventh_characters(coder):
    client = APIClient()
    client.force_authenticate(coder)
    body = client.get("/api/v1/codes/icd10cm/S72.001/", {"dos": "2026-05-01"}).json()
    assert body["billable"] is False
    assert body["valid"] is False
    assert [a["code"] for a in body["ancestors"]] == [
        "19",
        "S70-S79",
        "S72",
        "S72.0",
        "S72.00",
    ]
    assert body["seventh_characters"][0] == {
        "character": "A",
        "title": "initial encounter for closed fracture",
        "code": "S72.001A",
        "valid": True,
    }
    assert client.get("/api/v1/codes/icd10cm/Z99999/").status_code == 404


def test_anonymous_callers_cannot_search(client):
    assert APIClient().get("/api/v1/codes/search/", {"q": "e11"}).status_code in (
        401,
        403,
    )
    assert client.get("/codesets/encoder/").status_code == 302


@pytest.mark.usefixtures("releases")
def test_encoder_page_and_fragment(coder_client):
    page = coder_client.get("/codesets/encoder/", {"q": "e1165", "dos": "2026-05-01"})
    assert page.status_code == 200
    assert b'role="listbox"' in page.content
    assert b"E11.65" in page.content
    fragment = coder_client.get(
        "/codesets/encoder/",
        {"q": "e1165", "dos": "2026-05-01", "fragment": "results"},
        HTTP_HX_REQUEST="true",
    )
    assert fragment.content.decode().lstrip().startswith('<div id="results"')
    panel = coder_client.get(
        "/codesets/encoder/icd10cm/E1165/",
        {"dos": "2026-05-01"},
        HTTP_HX_REQUEST="true",
    )
    assert b'data-testid="code-panel"' in panel.content
    assert b"<html" not in panel.content
    assert coder_client.get("/codesets/encoder/icd10cm/Z99999/").status_code == 404
    assert coder_client.get("/codesets/encoder/icd11/E1165/").status_code == 404


def _index_order(query: str, limit: int) -> list[tuple[str, str]]:
    """The candidates the code search ranks (issue 12): the first ``limit`` matches
    in index order, read tag after tag (search.WORD_SQL)."""
    from django.db import connection

    from codesets.query_words import parse_query
    from codesets.search import _word_search, releases_on

    releases, _ = releases_on(DOS_2026)
    slots = parse_query(query, sorted(releases)).required
    with connection.cursor() as cursor:
        rows = _word_search(
            cursor, slots, [r.id for r in releases.values()], DOS_2026, limit
        )
    return [(row[0], row[1]) for row in rows]


def _every_match_sorted(query: str, limit: int) -> list[tuple[str, str]]:
    """The order the rank tags must give, the slow way: every match sorted."""
    from django.db import connection

    from codesets.query_words import parse_query, slots_tsquery
    from codesets.search import ALL_SQL, releases_on

    releases, _ = releases_on(DOS_2026)
    tsquery, params = slots_tsquery(parse_query(query, sorted(releases)).required)
    with connection.cursor() as cursor:
        cursor.execute(
            ALL_SQL.format(query=tsquery),
            [*params, [r.id for r in releases.values()], DOS_2026, DOS_2026, limit],
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


@pytest.mark.usefixtures("releases")
@pytest.mark.parametrize(
    "query",
    [
        "type 2 diabetes",
        "fracture femur",
        "diab",
        "poisoning",
        "encounter",
        "cholera",
        "dm type 2",
        "fx femur",
    ],
)
@pytest.mark.parametrize("limit", [1, 5, 20, 100])
def test_the_rank_markers_give_the_same_results_as_sorting_every_match(query, limit):
    found = _index_order(query, limit)
    assert found == _every_match_sorted(query, limit)
    assert found


@pytest.mark.usefixtures("releases")
@pytest.mark.parametrize(
    "query",
    [
        "fracture neck femur right initial",
        "resection percutaneous endoscopic",
        "subsequent encounter routine healing",
        "2",
    ],
)
def test_the_rank_tags_give_the_same_results_as_sorting_every_match(query):
    # Multi-word queries whose matches spread over many rank tags, and a number
    # (a lexeme of digits takes its tag as a prefix like any other).
    hits = _index_order(query, 100)
    assert hits == _every_match_sorted(query, 100)
    assert hits


@pytest.fixture
def analyzed(releases):
    """The code table analyzed, so the search may probe its rarest words first
    (codesets.search.word_sql reads PostgreSQL's statistics)."""
    from django.db import connection

    from codesets.search import lexeme_shares_forget

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE codesets_code")
    lexeme_shares_forget()
    yield
    lexeme_shares_forget()


@pytest.mark.parametrize(
    "query",
    [
        "cholera",
        "fracture neck femur right initial",
        "type 2 diabetes",
        "resection percutaneous endoscopic",
        "subsequent encounter routine healing",
        "fx femur",
        "poisoning",
    ],
)
@pytest.mark.parametrize("limit", [1, 20, 100])
def test_probing_the_rarest_words_first_finds_what_sorting_every_match_finds(
    analyzed, query, limit
):
    from codesets.search import lexeme_shares

    assert lexeme_shares() is not None  # the statistics are there to choose with
    found = _index_order(query, limit)
    assert found == _every_match_sorted(query, limit)
    assert found


def test_a_rare_word_is_probed_first_and_a_common_query_keeps_the_rank_tags(
    analyzed,
):
    from codesets.query_words import parse_query
    from codesets.search import releases_on, word_sql

    releases, _ = releases_on(DOS_2026)
    ids = [r.id for r in releases.values()]

    def plan(query: str, limit: int) -> str:
        slots = parse_query(query, sorted(releases)).required
        sql, _params = word_sql(slots, ids, DOS_2026, limit)
        return "probe" if "probe AS MATERIALIZED" in sql else "tags"

    assert plan("cholera", 20) == "probe"
    # A word hundreds of codes hold, one row wanted: the rank tags stop at the first.
    assert plan("encounter", 1) == "tags"


def test_the_probe_leaves_out_a_common_word_whose_rows_would_be_read_for_nothing(
    analyzed, monkeypatch
):
    """ "righ retract": "retract" is probed alone; reading the rows of "right" with it
    (tens of thousands on the full code set) would cost more than the rank tags."""
    from codesets import search
    from codesets.query_words import parse_query
    from codesets.search import lexeme_shares, releases_on, word_sql

    releases, _ = releases_on(DOS_2026)
    ids = [r.id for r in releases.values()]
    slots = parse_query("cholera due", sorted(releases)).required
    stats = lexeme_shares()
    assert stats is not None
    # The posting lists allowed: cholera's rows, not those of both words.
    search._read_lexemes(slots)
    shares = sorted(search._slot_share(stats, slot) for slot in slots)
    monkeypatch.setattr(search, "PROBE_POSTINGS", stats.rows * sum(shares) - 0.5)
    sql, _params = word_sql(slots, ids, DOS_2026, 20)
    assert "probe AS MATERIALIZED" in sql
    probe_terms = sql.split("probe AS MATERIALIZED", 1)[1].split("LIMIT", 1)[0]
    assert probe_terms.count("to_tsquery") == 2  # one slot: english and simple
    # And it finds what sorting every match finds.
    assert _index_order("cholera due", 20) == _every_match_sorted("cholera due", 20)


def test_a_word_is_weighed_by_the_lexemes_postgresql_reads_it_as(analyzed):
    """ "pulse" is read as the English stem 'puls':* (and 'pulse':*): its share is
    that of the rows holding a word starting "puls", not of every word starting
    "pul" (pulmonary), which would keep a rare word from being probed first."""
    from codesets import search
    from codesets.query_words import PREFIX, parse_query

    releases, _ = search.releases_on(DOS_2026)
    stats = search.lexeme_shares()
    assert stats is not None
    assert any(x.startswith("pulmonari") for x in stats.lexemes)  # in the fixture
    search._read_lexemes(parse_query("pulse", sorted(releases)).required)
    share = search._term_share(stats, "pulse", PREFIX)
    assert share == search._prefix_share(stats, "puls")
    assert share < search._prefix_share(stats, "pul")


@pytest.fixture
def after_the_pcs_release(monkeypatch):
    """Today is 2026-11-16: ICD-10-CM FY2027 covers it, the only ICD-10-PCS release
    (FY2026) ended on 2026-09-30."""
    release_import_now(
        path=CM_FY2026,
        activate=True,
        effective_from=dt.date(2025, 10, 1),
        effective_to=dt.date(2027, 9, 30),
    )
    release_import_now(
        path=PCS_FY2026,
        activate=True,
        effective_from=dt.date(2025, 10, 1),
        effective_to=dt.date(2026, 9, 30),
    )
    monkeypatch.setattr(
        "django.utils.timezone.localdate", lambda *args: dt.date(2026, 11, 16)
    )


@pytest.mark.usefixtures("after_the_pcs_release")
def test_encoder_starts_on_the_last_date_a_pcs_release_covers_and_says_so(
    coder_client,
):
    page = coder_client.get("/codesets/encoder/").content.decode()
    assert 'name="dos" value="2026-09-30"' in page
    assert (
        "No ICD-10-PCS release covers today (2026-11-16): the date of service is set "
        "to 2026-09-30, the latest date it covers." in page
    )
    # So a PCS code exists on the page's date without the coder changing it.
    found = coder_client.get(
        "/codesets/encoder/", {"q": "0DTJ4ZZ", "system": "icd10pcs"}
    ).content.decode()
    assert 'data-testid="uncovered"' not in found
    assert "0DTJ4ZZ" in found.split('id="results"')[1]
    panel = coder_client.get("/codesets/encoder/icd10pcs/0DTJ4ZZ/").content.decode()
    assert "Valid on 2026-09-30" in panel
    builder = coder_client.get("/codesets/encoder/pcs-builder/").content.decode()
    assert "tables in force on 2026-09-30" in builder
    assert 'data-testid="dos-default"' in builder


@pytest.mark.usefixtures("after_the_pcs_release")
def test_encoder_keeps_today_when_every_system_covers_it_or_a_date_is_given(
    coder_client,
):
    # ICD-10-CM alone covers today: today it is, without a note.
    page = coder_client.get("/codesets/encoder/", {"system": "icd10cm"}).content
    assert b'name="dos" value="2026-11-16"' in page
    assert b'data-testid="dos-default"' not in page
    page = coder_client.get("/codesets/encoder/", {"dos": "2026-11-01"}).content
    assert b'name="dos" value="2026-11-01"' in page
    assert b'data-testid="dos-default"' not in page


@pytest.mark.usefixtures("releases")
def test_pcs_code_path_names_section_body_system_and_operation(coder_client):
    panel = coder_client.get(
        "/codesets/encoder/icd10pcs/0DTJ4ZZ/", {"dos": "2026-05-01"}
    ).content.decode()
    path = panel.split('aria-label="Path">')[1].split("</nav>")[0]
    crumbs = [c.split(">")[-1] for c in path.split("</a>")[:-1]]
    assert crumbs == [
        "Section 0 Medical and Surgical",
        "Body System D Gastrointestinal System",
        "Operation T Resection",
    ]
    assert "Chapter 0" not in panel
    # ICD-10-CM keeps its chapters.
    panel = coder_client.get(
        "/codesets/encoder/icd10cm/E1165/", {"dos": "2026-05-01"}
    ).content.decode()
    assert ">Chapter 4</a>" in panel


@pytest.mark.usefixtures("after_the_pcs_release")
def test_the_api_without_a_date_looks_up_the_latest_date_the_releases_cover(coder):
    """Asked with no date of service on a day no PCS release covers (FY2027 not yet
    imported), the API looks the code up on the last day the releases cover and
    says so, instead of finding nothing on today; a date given is the date used."""
    client = APIClient()
    client.force_authenticate(coder)
    detail = client.get("/api/v1/codes/icd10pcs/0DTJ4ZZ/").json()
    assert detail["dos"] == "2026-09-30"
    assert detail["valid"] is True
    assert detail["dos_note"].startswith(
        "No ICD-10-PCS release covers today (2026-11-16)"
    )
    search = client.get(
        "/api/v1/codes/search/", {"q": "0DTJ4ZZ", "system": "icd10pcs"}
    ).json()
    assert search["dos"] == "2026-09-30"
    assert [r["code"] for r in search["results"]] == ["0DTJ4ZZ"]
    assert search["uncovered"] == []
    builder = client.get("/api/v1/codes/icd10pcs/builder/", {"prefix": "0DT"}).json()
    assert builder["dos"] == "2026-09-30"
    assert "ICD-10-PCS" in builder["dos_note"]
    # ICD-10-CM covers today: today it is, without a note.
    cm = client.get("/api/v1/codes/search/", {"q": "J18.9", "system": "icd10cm"}).json()
    assert (cm["dos"], cm["dos_note"]) == ("2026-11-16", "")
    dated = client.get(
        "/api/v1/codes/search/",
        {"q": "0DTJ4ZZ", "system": "icd10pcs", "dos": "2026-11-16"},
    ).json()
    assert (dated["dos"], dated["dos_note"], dated["results"]) == ("2026-11-16", "", [])
    assert dated["uncovered"] == ["icd10pcs"]
