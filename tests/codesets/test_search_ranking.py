"""The code search ranks like an encoder (issue 12): the term's default code first,
chart language read through the curated synonyms, and what this site's coders pick."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from codesets.models import AcceptedSuggestion, System
from codesets.search import code_search
from codesets.services import suggestion_accept
from codesets.synonyms import DEFAULTS, SYNONYMS
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

DOS = dt.date(2026, 5, 1)


def _codes(query: str, system: str | None = None, limit: int = 8) -> list[str]:
    hits = code_search(
        query=query, day=DOS, systems=[system] if system else None, limit=limit
    ).hits
    return [hit.display for hit in hits]


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
class TestDefaultCodeFirst:
    def test_pneumonia_is_j18_9_not_a_term_buried_in_an_inclusion_term(self):
        # B59 Pneumocystosis (inclusion term "Pneumonia due to Pneumocystis ...") has
        # the shortest title; the index gives J18.9 for the bare term.
        found = _codes("pneumonia", System.ICD10CM)
        assert found[0] == "J18.9"
        assert "B59" in _codes("pneumocystis pneumonia", System.ICD10CM)

    def test_sepsis_is_the_unspecified_organism_not_anthrax(self):
        assert _codes("sepsis", System.ICD10CM)[0] == "A41.9"
        assert _codes("anthrax sepsis", System.ICD10CM)[0] == "A22.7"

    def test_appendicitis_is_the_unspecified_code(self):
        assert _codes("appendicitis", System.ICD10CM)[0] in ("K37", "K35.80")
        assert _codes("acute appendicitis", System.ICD10CM)[0] == "K35.80"

    def test_the_unspecified_code_before_other(self):
        found = _codes("acute kidney failure", System.ICD10CM)
        assert found[0] == "N17.9"
        assert found.index("N17.9") < found.index("N17.8")

    def test_an_inclusion_term_that_reads_as_the_term_names_its_code(self):
        # I10 includes "hypertension (arterial) (benign) (essential) ..."
        assert _codes("hypertension", System.ICD10CM)[0] == "I10"
        # N17.9 inclusion term "Acute kidney injury (nontraumatic)"
        assert _codes("acute kidney injury", System.ICD10CM)[0] == "N17.9"

    def test_the_index_default_of_a_main_term(self):
        assert _codes("diabetes", System.ICD10CM)[0] == "E11.9"
        assert _codes("type 2 diabetes", System.ICD10CM)[0] == "E11.9"
        # no type written: type 2 (guideline I.C.4.a.2)
        assert _codes("diabetic hyperglycemia", System.ICD10CM)[0] == "E11.65"

    def test_initial_encounter_before_subsequent_and_sequela(self):
        found = _codes("fall", System.ICD10CM)
        assert found[0] == "W19.XXXA"
        assert found.index("W19.XXXA") < found.index("W19.XXXD")

    def test_tokens_with_marks_match(self):
        assert _codes("covid-19", System.ICD10CM)[0] == "U07.1"
        assert _codes("bmi 40.0-44.9 adult", System.ICD10CM)[0] == "Z68.41"
        assert _codes("a-fib", System.ICD10CM)[0] == "I48.91"
        assert _codes("t2dm", System.ICD10CM)[0] == "E11.9"

    def test_a_modifier_the_code_set_does_not_print_is_left_out(self):
        # No code says "community acquired": the words found without it come next.
        assert _codes("community acquired pneumonia", System.ICD10CM)[0] == "J18.9"


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
class TestSynonyms:
    @pytest.mark.parametrize(
        ("query", "first"),
        [
            ("heart attack", "I21.9"),
            ("gi bleed", "K92.2"),
            ("aki", "N17.9"),
            ("covid", "U07.1"),
            ("htn", "I10"),
            ("chf", "I50.9"),
        ],
    )
    def test_lay_terms_and_shorthand_find_the_code(self, query, first):
        assert _codes(query, System.ICD10CM)[0] == first

    @pytest.mark.parametrize(
        ("query", "accepted"),
        [
            ("laparoscopic appendectomy", {"0DTJ4ZZ"}),
            ("lap appy", {"0DTJ4ZZ"}),
            ("appendectomy", {"0DTJ0ZZ", "0DTJ4ZZ"}),
            ("hemodialysis", {"5A1D70Z", "5A1D90Z"}),
            ("mechanical ventilation greater than 96 hours", {"5A1955Z"}),
        ],
    )
    def test_procedure_names_find_the_table_code(self, query, accepted):
        assert _codes(query, System.ICD10PCS)[0] in accepted

    def test_knee_replacement_is_a_procedure_in_pcs_and_a_status_in_cm(self):
        assert _codes("total knee replacement", System.ICD10PCS)[0][:6] in (
            "0SRC0J",
            "0SRD0J",
        )
        assert _codes("tka", System.ICD10PCS)[0][:4] in ("0SRC", "0SRD")

    def test_every_entry_cites_the_code_or_index_entry_it_stands_for(self):
        cited = re.compile(
            r"[A-Z][0-9][0-9A-Z]|Index|index|tabular|Drug table|Neoplasm table|PCS|HCPCS"
        )
        for entry in SYNONYMS:
            assert entry.phrase == entry.phrase.lower().strip(), entry
            assert cited.search(entry.cites), entry
        for system, terms in DEFAULTS.items():
            for term, (code, cites) in terms.items():
                assert code == code.upper() and "." not in code, (system, term)
                assert "Index" in cites or "index" in cites, (system, term)

    def test_a_phrase_has_one_entry_per_system(self):
        seen: set[tuple[str, str]] = set()
        for entry in SYNONYMS:
            for system in entry.systems:
                assert (entry.phrase, system) not in seen, entry
                seen.add((entry.phrase, system))


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
class TestLearnedPrior:
    def test_an_accepted_suggestion_ranks_higher_next_time(self):
        before = _codes("pneumonia", System.ICD10CM, limit=20)
        other_words = _codes("pneumonia organism", System.ICD10CM, limit=20)
        assert before[0] == "J18.9" and "J18.1" in before
        for _ in range(3):
            suggestion_accept(query="Pneumonia ", system=System.ICD10CM, code="J18.1")
        assert AcceptedSuggestion.objects.get(query="pneumonia", code="J181").count == 3
        after = _codes("pneumonia", System.ICD10CM, limit=20)
        assert after.index("J18.1") < before.index("J18.1")
        assert after[0] == "J18.1"
        # counted per query: other words keep their order
        assert _codes("pneumonia organism", System.ICD10CM, limit=20) == other_words

    def test_codes_typed_as_codes_and_unknown_codes_are_not_counted(self):
        assert suggestion_accept(query="j18.1", system="icd10cm", code="J18.1") is None
        assert (
            suggestion_accept(query="pneumonia", system="icd10cm", code="ZZZ") is None
        )
        assert (
            suggestion_accept(query="pneumonia", system="icd99", code="J18.1") is None
        )
        assert not AcceptedSuggestion.objects.exists()

    def test_the_coding_form_and_encoder_report_a_pick(self, coder_client):
        client = coder_client
        url = "/codesets/encoder/accept/"
        before = _codes("heart attack", System.ICD10CM, limit=20)
        picked = before[3]
        response = client.post(
            url, {"q": "heart attack", "system": "icd10cm", "code": picked}
        )
        assert response.status_code == 204
        assert AcceptedSuggestion.objects.get().code == picked.replace(".", "")
        assert (
            client.post(url, {"q": "x", "system": "nope", "code": "I21.4"}).status_code
            == 400
        )
        assert client.get(url).status_code == 405
        after = _codes("heart attack", System.ICD10CM, limit=20)
        assert after.index(picked) < before.index(picked)

    def test_anonymous_callers_cannot_report(self, client):
        response = client.post(
            "/codesets/encoder/accept/",
            {"q": "heart attack", "system": "icd10cm", "code": "I21.4"},
        )
        assert response.status_code in (302, 403)
        assert not AcceptedSuggestion.objects.exists()


@pytest.fixture
def hcpcs_2020(request):
    """HCPCS Level II (the 2020 file's cut), in force from 2026-01-01 here, beside
    the code sets of the encounter tests."""
    request.getfixturevalue("code_sets")
    from codesets.services import release_import_now
    from tests.encounters.conftest import FIXTURES

    return release_import_now(
        path=FIXTURES / "hcpcs" / "HCPC2020_ANWEB_w_disclaimer_cut.txt",
        system="hcpcs",
        activate=True,
        effective_from=dt.date(2026, 1, 1),
    )


def _titles(query: str, system: str) -> list[str]:
    hits = code_search(query=query, day=DOS, systems=[system], limit=8).hits
    return [hit.title.lower() for hit in hits]


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
class TestChartShorthand:
    """Chart abbreviations, sides and sites, doses and routes (synonyms.CHART_SHORTHAND,
    query_words.dose_tokens, search.QueryTraits.sides, search._take_partial)."""

    @pytest.mark.parametrize(
        ("query", "first"),
        [
            ("AECOPD", "J44.1"),
            ("BPH w/ LUTS", "N40.1"),
            ("LLL PNA", "J18.1"),
        ],
    )
    def test_chart_abbreviations_find_the_code(self, query, first):
        assert _codes(query, System.ICD10CM)[0] == first

    @pytest.mark.parametrize("right", ["R", "rt", "right"])
    def test_the_side_typed_comes_first(self, right):
        titles = _titles(f"fx neck of femur {right}", System.ICD10CM)
        assert titles and "right" in titles[0]
        assert all("left" not in t.split() for t in titles[:3])

    @pytest.mark.parametrize("left", ["L", "lt"])
    def test_left_side_shorthand(self, left):
        titles = _titles(f"femur neck fx {left}", System.ICD10CM)
        assert titles and "left" in titles[0]

    def test_a_query_with_words_no_code_has_still_finds_the_words_that_match(self):
        # Two words no title holds: leaving one out is not enough; the codes holding
        # the rest come back rather than nothing.
        found = _codes("pneumonia zzqx qxzz", System.ICD10CM)
        assert found and found[0].startswith("J18")
        assert _codes("zzqx qxzz", System.ICD10CM) == []

    def test_the_shorthand_block_holds_no_phrase_of_the_list_above(self):
        from codesets.synonyms import CHART_SHORTHAND

        above = {
            (e.phrase, s) for e in SYNONYMS[: -len(CHART_SHORTHAND)] for s in e.systems
        }
        assert not [
            e for e in CHART_SHORTHAND if any((e.phrase, s) in above for s in e.systems)
        ]


@pytest.mark.django_db
@pytest.mark.usefixtures("hcpcs_2020")
class TestDrugsAsTheMarWritesThem:
    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ("arixtra 2.5 mg subq", "J1652"),
            ("fondaparinux 2.5mg SQ", "J1652"),
            ("cefoxitin 2 gm IV", "J0694"),
            ("mefoxin 1 g IVPB", "J0694"),
            ("orencia 500 mg infusion", "J0129"),
        ],
    )
    def test_brand_dose_and_route_do_not_stop_the_match(self, query, code):
        assert _codes(query, System.HCPCS)[0] == code


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
class TestWhatTheQuerySays:
    """Second pass over held-out chart language (bench/lookup_heldout.tsv)."""

    def test_a_query_that_says_which_is_not_the_unspecified_whether_code(self):
        # J96.00 "Acute respiratory failure, unspecified whether with hypoxia or
        # hypercapnia" is the default for the bare term only.
        assert _codes("acute hypoxic respiratory failure", System.ICD10CM)[0] == (
            "J96.01"
        )
        assert _codes("acute respiratory failure", System.ICD10CM)[0] == "J96.00"

    def test_the_site_after_a_with_clause_is_not_the_complication(self):
        # "Laceration without foreign body of scalp" (S01.01XA) is the default of
        # "scalp laceration": "of scalp" names the site, not what the code holds.
        from codesets.query_words import parse_query
        from codesets.search import QueryTraits, _complications

        traits = QueryTraits.of(parse_query("scalp laceration", [System.ICD10CM]))
        without = _complications("laceration without foreign body of scalp", traits)
        with_ = _complications("laceration with foreign body of scalp", traits)
        assert without > with_


def _ranked(query: str, system: str, rows: list[tuple], **flags) -> list[str]:
    """The codes of ``rows`` (code, title) in the order the ranking gives them, each a
    candidate holding every word (with ``flags`` on the first)."""
    from codesets.query_words import parse_query
    from codesets.search import Candidate, QueryTraits, rank

    traits = QueryTraits.of(parse_query(query, [system]))
    candidates = [
        Candidate(row=(system, code, title, True, "code"), full=True, order=n)
        for n, (code, title) in enumerate(rows)
    ]
    for name, value in flags.items():
        setattr(candidates[0], name, value)
    ordered = sorted(candidates, key=lambda c: rank(c, traits, population_last=True))
    return [c.row[1] for c in ordered]


@pytest.mark.parametrize(
    ("query", "part", "device"),
    [
        (
            "rolling walker",
            ("E0155", "Wheel attachment, rigid pick-up walker, per pair"),
            ("E0143", "Walker, folding, wheeled, adjustable or fixed height"),
        ),
        (
            "CPAP full face mask",
            ("A7031", "Face mask interface, replacement for full face mask, each"),
            ("A7030", "Full face mask used with positive airway pressure device, each"),
        ),
        (
            "home suction pump",
            (
                "K0744",
                "Absorptive wound dressing for use with suction pump, home model",
            ),
            ("E0600", "Respiratory suction pump, home model, portable or stationary"),
        ),
    ],
)
def test_hcpcs_lists_the_device_before_its_parts_and_supplies(query, part, device):
    # The walker's and the mask's parts have the shorter titles: without the rule
    # they came first.
    assert _ranked(query, System.HCPCS, [part, device]) == [device[0], part[0]]


def test_hcpcs_a_part_asked_for_is_not_put_after():
    part = ("A7031", "Face mask interface, replacement for full face mask, each")
    mask = ("A7030", "Full face mask used with positive airway pressure device, each")
    assert (
        _ranked("full face mask replacement", System.HCPCS, [part, mask])[0] == "A7031"
    )


def test_hcpcs_a_variant_for_a_setting_not_asked_for_is_no_head_of_the_term():
    # "Blood glucose test strips, for dialysis" reads as the term up to its comma,
    # but the strips a coder means are the home monitor's.
    dialysis = ("A4772", "Blood glucose test strips, for dialysis, per 50")
    home = (
        "A4253",
        "Blood glucose test or reagent strips for home blood glucose monitor, per 50 strips",
    )
    assert _ranked(
        "glucose test strips", System.HCPCS, [dialysis, home], head=True
    ) == [
        "A4253",
        "A4772",
    ]
    assert (
        _ranked(
            "dialysis glucose test strips", System.HCPCS, [dialysis, home], head=True
        )[0]
        == "A4772"
    )


def test_hyphenated_title_words_are_words():
    # "semi-electric" holds "electric": the beds that print it are not passed over
    # for one that prints "electric or semi-electric" (and is pediatric).
    pediatric = (
        "E0329",
        "Hospital bed, pediatric, electric or semi-electric, 360 degree side enclosures",
    )
    adult = (
        "E0260",
        "Hospital bed, semi-electric (head and foot adjustment), with any type side rails, with mattress",
    )
    assert (
        _ranked("semi-electric hospital bed", System.HCPCS, [pediatric, adult])[0]
        == "E0260"
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
class TestWhereAndWhenWords:
    """Chart words that say where or when (query_words.CONTEXT_WORDS) are not required
    of a code's title; "f/u" asks for the subsequent encounter."""

    def test_a_setting_word_is_not_required_beside_the_others(self):
        from codesets.query_words import parse_query

        parsed = parse_query("pneumonia, ED", [System.ICD10CM])
        assert [s.typed for s in parsed.required] == [("pneumonia",)]
        assert _codes("pneumonia, ED", System.ICD10CM)[0] == "J18.9"

    def test_setting_words_alone_are_still_searched(self):
        from codesets.query_words import parse_query

        parsed = parse_query("ED visit", [System.ICD10CM])
        assert [s.typed for s in parsed.required] == [("ed",), ("visit",)]

    def test_a_follow_up_asks_for_the_subsequent_encounter(self):
        from codesets.query_words import parse_query
        from codesets.search import QueryTraits

        assert QueryTraits.of(
            parse_query("ankle sprain f/u visit", [System.ICD10CM])
        ).asks_subsequent
        rows = [
            (
                "S93401A",
                "Sprain of unspecified ligament of right ankle, initial encounter",
            ),
            (
                "S93401D",
                "Sprain of unspecified ligament of right ankle, subsequent encounter",
            ),
        ]
        assert _ranked("R ankle sprain f/u visit", System.ICD10CM, rows) == [
            "S93401D",
            "S93401A",
        ]
        assert _ranked("R ankle sprain", System.ICD10CM, rows) == ["S93401A", "S93401D"]


def test_a_title_holding_more_of_the_typed_words_comes_first_when_none_holds_all():
    # No title holds "qqzx": of the two, the one printing both other words leads,
    # though its title is the longer.
    rows = [
        ("X0001", "Disorder of left leg"),
        ("X0002", "Disorder of left popliteal vein of lower extremity"),
    ]
    assert _ranked("left popliteal qqzx", System.ICD10CM, rows) == ["X0002", "X0001"]


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
class TestWhatTheChartSaysIsAbsent:
    """ "w/o", "no", "without": the words after them are not required of a title, and
    a title "with" them ranks after one "without" them (search._complications)."""

    def test_the_absent_words_are_optional_and_marked(self):
        from codesets.query_words import parse_query

        parsed = parse_query("DKA, no coma", [System.ICD10CM])
        assert [s.typed for s in parsed.slots if s.denied] == [("no",), ("coma",)]
        assert all(s.optional for s in parsed.slots if s.denied)
        # Alone, a denial is searched as typed.
        assert not [
            s for s in parse_query("no coma", [System.ICD10CM]).slots if s.denied
        ]

    def test_a_title_with_what_the_query_denies_ranks_after_the_one_without_it(self):
        rows = [
            (
                "F33.3",
                "Major depressive disorder, recurrent, severe with psychotic symptoms",
            ),
            (
                "F33.2",
                "Major depressive disorder, recurrent severe without psychotic features",
            ),
        ]
        query = "MDD recurrent severe w/o psychosis"
        assert _ranked(query, System.ICD10CM, rows) == ["F33.2", "F33.3"]
        # Named without a denial, the psychotic features are asked for.
        assert (
            _ranked("MDD recurrent severe with psychosis", System.ICD10CM, rows)[0]
            == "F33.3"
        )


def test_bilateral_only_when_typed():
    rows = [
        (
            "K40.20",
            "Bilateral inguinal hernia, without obstruction or gangrene, not specified as recurrent",
        ),
        (
            "K40.90",
            "Unilateral inguinal hernia, without obstruction or gangrene, not specified as recurrent",
        ),
    ]
    assert _ranked("inguinal hernia", System.ICD10CM, rows)[0] == "K40.90"
    assert _ranked("bilateral inguinal hernia", System.ICD10CM, rows)[0] == "K40.20"


class TestAnAxisTheQueryDecides:
    """A title that leaves open what the query's words decide is no default for it
    (search.rank: "unspecified <axis>", "not specified as ...")."""

    def test_the_trimester_typed_over_the_unspecified_trimester(self):
        rows = [
            ("O14.10", "Severe pre-eclampsia, unspecified trimester"),
            ("O14.13", "Severe pre-eclampsia, third trimester"),
        ]
        assert _ranked("severe preE 3rd tri", System.ICD10CM, rows)[0] == "O14.13"
        assert _ranked("severe pre-eclampsia", System.ICD10CM, rows)[0] == "O14.10"

    def test_secondary_typed_over_not_specified_as_primary_or_secondary(self):
        rows = [
            (
                "C22.9",
                "Malignant neoplasm of liver, not specified as primary or secondary",
            ),
            (
                "C78.7",
                "Secondary malignant neoplasm of liver and intrahepatic bile duct",
            ),
        ]
        assert (
            _ranked("secondary malignant neoplasm liver", System.ICD10CM, rows)[0]
            == "C78.7"
        )

    def test_in_relapse_only_when_asked(self):
        rows = [
            ("C91.12", "Chronic lymphocytic leukemia of B-cell type in relapse"),
            (
                "C91.10",
                "Chronic lymphocytic leukemia of B-cell type not having achieved remission",
            ),
        ]
        assert (
            _ranked("chronic lymphocytic leukemia", System.ICD10CM, rows)[0] == "C91.10"
        )
        assert _ranked("CLL in relapse", System.ICD10CM, rows)[0] == "C91.12"

    @pytest.mark.parametrize(
        ("written", "first"),
        [("57F", "C50.412"), ("62M", "C50.422"), ("woman", "C50.412")],
    )
    def test_the_sex_a_chart_states_chooses_the_breast(self, written, first):
        rows = [
            (
                "C50.422",
                "Malignant neoplasm of upper-outer quadrant of left male breast",
            ),
            (
                "C50.412",
                "Malignant neoplasm of upper-outer quadrant of left female breast",
            ),
        ]
        query = f"{written} left breast cancer upper outer quadrant"
        assert _ranked(query, System.ICD10CM, rows)[0] == first


def test_hcpcs_preservative_free_only_when_asked():
    rows = [
        ("J3300", "Injection, triamcinolone acetonide, preservative free, 1 mg"),
        ("J3301", "Injection, triamcinolone acetonide, not otherwise specified, 10 mg"),
    ]
    assert _ranked("kenalog 40 mg injection", System.HCPCS, rows)[0] == "J3301"
    assert _ranked("preservative free kenalog", System.HCPCS, rows)[0] == "J3300"


def test_hcpcs_words_found_only_in_what_an_item_includes_do_not_name_it():
    monitor = ("A9275", "Home glucose disposable monitor, includes test strips")
    strips = (
        "A4253",
        "Blood glucose test or reagent strips for home blood glucose monitor, per 50 strips",
    )
    assert _ranked("glucose test strips", System.HCPCS, [monitor, strips])[0] == "A4253"
    assert (
        _ranked("disposable glucose monitor", System.HCPCS, [monitor, strips])[0]
        == "A9275"
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("code_sets")
@pytest.mark.parametrize(
    ("written", "means"),
    [
        ("low Na", "hyponatremia"),
        ("high K", "hyperkalemia"),
        ("low Mg", "hypomagnesemia"),
    ],
)
def test_element_symbols_of_a_lab_line_read_as_the_condition(written, means):
    from codesets.query_words import parse_query

    slot = parse_query(written, [System.ICD10CM]).required[0]
    assert means in slot.phrasings
