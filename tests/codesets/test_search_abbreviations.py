"""Abbreviations coders type from the chart find the conditions the code sets spell out."""

from __future__ import annotations

import datetime as dt

import pytest

from codesets.query_words import ABBREVIATIONS
from codesets.search import code_search
from tests.encounters.conftest import code_sets  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("code_sets")]

DOS = dt.date(2026, 5, 1)


def _found(query: str, limit: int = 20) -> list[tuple[str, str]]:
    return [
        (hit.display, hit.title)
        for hit in code_search(query=query, day=DOS, limit=limit).hits
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("htn", "I10"),
        ("uti", "N39.0"),
        ("copd exacerbation", "J44.1"),
        ("afib paroxysmal", "I48.0"),
        ("aki", "N17.9"),
        ("dm type 2 hyperglyc", "E11.65"),
    ],
)
def test_an_abbreviation_finds_what_it_stands_for(query, code):
    assert code in [found for found, _ in _found(query, limit=3)]


def test_chf_finds_congestive_heart_failure():
    found = _found("chf")
    assert ("I50.20", "Unspecified systolic (congestive) heart failure") in found
    assert all(code.startswith("I50") for code, _ in found), found


def test_an_abbreviation_is_a_whole_word_not_the_start_of_one():
    # "mi" is a myocardial infarction; "mild" (F32.0) and every other "mi..." word
    # are not what the coder means. Typing on ("mil") is a plain prefix again.
    found = _found("mi", limit=50)
    assert found
    assert all("myocardial infarction" in title.lower() for _, title in found), found
    assert "F32.0" in [code for code, _ in _found("mil", limit=50)]


def test_an_abbreviation_the_code_set_prints_is_still_found_as_itself():
    # Z68 titles print "[BMI]": the word itself matches as well as the expansion.
    assert _found("bmi adult")[0][0].startswith("Z68")


def test_every_expansion_is_words_without_stop_words_or_punctuation():
    from django.db import connection

    with connection.cursor() as cursor:
        for abbreviation, words in ABBREVIATIONS.items():
            assert abbreviation.isalnum() and abbreviation.islower()
            cursor.execute(
                "SELECT numnode(to_tsquery('english', %s))",
                [" & ".join(words.split())],
            )
            # every word gives a lexeme: n words -> n lexemes and n - 1 operators
            assert cursor.fetchone()[0] == 2 * len(words.split()) - 1, abbreviation
