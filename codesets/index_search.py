"""The encoder's search of the ICD-10-CM index tables (drugs and chemicals,
neoplasms, external causes), beside the code search of codesets/search.py.

An index row is one code in one column of one term (``IndexTerm``), and its search
vector holds the term's path and the column's name, so every typed word must start a
word of either: "acetaminophen adverse effect" finds Acetaminophen's "Adverse effect"
code (T39.1X5-) and none of its poisoning codes; "neoplasm lung malignant primary"
finds "Neoplasm, neoplastic > lung" under "Malignant Primary" (C34.9-). Core
PostgreSQL full-text search only, as for codes: a generated tsvector with a GIN index.
The tables are small (some 60k rows a year), so the matches are simply sorted: the
shortest path first (the term itself before its subterms), then file order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from codesets.models import Release, Table, display_index_code
from codesets.query_words import query_words, words_tsquery

MAX_LIMIT = 100
# Each word must start a word of the path or the column, as typed or stemmed, and
# abbreviations stand for their words, as in the code search (codesets/query_words.py).
SEARCH_SQL = """
SELECT t.path, t."column", t.code, t.see, t.see_also, t.nemod, r.variant
FROM codesets_indexterm t JOIN codesets_release r ON r.id = t.release_id
WHERE t.release_id = ANY(%s) AND t.search_vector @@ ({query})
ORDER BY length(t.path), t.release_id, t.seq
LIMIT %s
"""


@dataclass(frozen=True)
class IndexHit:
    path: str  # "Neoplasm, neoplastic > lung"
    column: str  # "Malignant Primary"; "code" in the external cause index; "" for none
    code: str  # undotted, "C349-" (needs more characters), "T36-T50" (a range) or ""
    see: str
    see_also: str
    nemod: str
    index: str  # "drug" | "neoplasm" | "external_cause" | "disease"

    @property
    def display(self) -> str:
        """The code as the index prints it: C34.9-, T39.1X5, T36-T50."""
        return display_index_code(self.code)

    @property
    def panel_code(self) -> str:
        """The code the code panel opens (a trailing '-' dropped); "" for a range."""
        plain = self.code.rstrip("-")
        return "" if "-" in plain else plain

    @property
    def column_label(self) -> str:
        return "" if self.column in ("", "code") else self.column


def index_search(*, q: str, dos: dt.date, limit: int = 10) -> list[IndexHit]:
    """Index rows whose path and column hold every word of ``q`` (each word may be the
    start of a word), from the index tables in force on ``dos``."""
    words = query_words(q)
    limit = max(1, min(limit, MAX_LIMIT))
    if not words:
        return []
    releases = list(
        Release.objects.on(dos)
        .filter(system=Table.ICD10CM_INDEX)
        .values_list("id", flat=True)
    )
    if not releases:
        return []
    query, params = words_tsquery(words)
    with connection.cursor() as cursor:
        cursor.execute(SEARCH_SQL.format(query=query), [releases, *params, limit])
        rows = cursor.fetchall()
    return [IndexHit(*row) for row in rows]
