"""What the PCS search through the Index reads: one query a lookup once the tables
it leads to are in memory (fixtures of tests/codesets/test_pcs_lookup.py)."""

from __future__ import annotations

import pytest

from codesets.pcs_lookup import pcs_lookup
from tests.codesets.test_pcs_lookup import DOS, pcs  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root", "pcs")]


def test_a_lookup_reads_the_releases_and_the_index_in_one_query(
    django_assert_num_queries,
):
    first = pcs_lookup(query="laparoscopic appendectomy", day=DOS)
    with django_assert_num_queries(1):
        again = pcs_lookup(query="laparoscopic appendectomy", day=DOS)
    assert again == first
    assert again.hits[0].code == "0DTJ4ZZ"
    assert again.hits[0].title == (
        "Resection of Appendix, Percutaneous Endoscopic Approach"
    )


def test_titles_kept_in_memory_follow_the_date_of_service():
    assert pcs_lookup(query="appendectomy", day=DOS).hits
    # The same tables, read and kept, give nothing on a date their release misses.
    assert pcs_lookup(query="appendectomy", day=DOS.replace(year=2026)).hits == []
