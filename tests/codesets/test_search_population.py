"""Maternity and newborn codes come after the others unless the words ask for them."""

from __future__ import annotations

import datetime as dt

import pytest

from codesets.query_words import mentions_population
from codesets.search import code_search
from codesets.services import release_import_now
from tests.encounters.conftest import FIXTURES, FY2026

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

DOS = dt.date(2026, 5, 1)


@pytest.fixture
def golden_cm():
    # The golden cut holds O08.2 "Embolism following ectopic and molar pregnancy",
    # the shortest title that matches "embolism", and T85.81- embolism codes.
    return release_import_now(
        path=FIXTURES / "encounters" / "icd10cm_tabular_fy2026_april_golden.xml",
        activate=True,
        effective_from=FY2026,
    )


def _codes(query: str, **options) -> list[str]:
    return [
        hit.display
        for hit in code_search(query=query, day=DOS, limit=20, **options).hits
    ]


@pytest.mark.usefixtures("golden_cm")
def test_a_maternity_code_comes_after_the_others_unless_the_words_ask_for_it():
    plain = _codes("embolism")
    assert plain[0].startswith("T85")
    assert "O08.2" in plain and plain.index("O08.2") > max(
        i for i, code in enumerate(plain) if code.startswith("T85")
    )
    assert _codes("embolism pregnancy")[0] == "O08.2"
    assert _codes("embolism ectopic")[0] == "O08.2"
    # The plain order, for callers that order by the patient themselves.
    # (ranked as any other code: after the initial encounters, before the later ones)
    plain_order = _codes("embolism", population_last=False)
    assert plain_order.index("O08.2") < plain_order.index("T85.810D")
    # A code typed as such is never moved.
    assert _codes("o08.2") == ["O08.2"]


@pytest.mark.parametrize(
    ("words", "mentions"),
    [
        (["uti"], False),
        (["embolism"], False),
        (["preg"], True),
        (["pregnancies"], True),
        (["neonatal", "jaundice"], True),
        (["postpartum"], True),
        (["de"], False),  # too short to mean "delivery"
    ],
)
def test_population_words(words, mentions):
    assert mentions_population(words) is mentions


@pytest.mark.parametrize(
    ("system", "code", "population"),
    [
        ("icd10cm", "O082", "maternity"),
        ("icd10cm", "Z3A20", "maternity"),  # weeks of gestation
        ("icd10cm", "Z370", "maternity"),  # outcome of delivery
        ("icd10cm", "P393", "newborn"),
        ("icd10cm", "Z3800", "newborn"),  # liveborn infant
        ("icd10cm", "N390", ""),
        ("icd10cm", "Z87440", ""),
        ("hcpcs", "P9010", ""),  # a HCPCS P code is a pathology code, not a newborn
    ],
)
def test_which_codes_belong_to_a_population(system, code, population):
    from codesets.search import population_of

    assert population_of(system, code) == population
