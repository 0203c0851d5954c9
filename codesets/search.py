"""The encoder's reads: code search and the code panel.

Core PostgreSQL only (the embedded server has no contrib extensions): code
prefixes use a varchar_pattern_ops index, words use full-text search with
prefix matching and English stemming over titles and inclusion terms.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.backends.utils import CursorWrapper

from codesets.models import (
    RANK_TAG_LAST,
    Code,
    Note,
    Release,
    System,
    display_code,
    normalize_code,
)
from codesets.query_words import mentions_population, query_words, words_tsquery

CODE_QUERY = re.compile(r"^[A-Z0-9]{1,7}$")
MAX_LIMIT = 100


@dataclass(frozen=True)
class SearchHit:
    system: str
    code: str
    title: str
    billable: bool
    kind: str

    @property
    def display(self) -> str:
        return display_code(self.system, self.code)

    @property
    def system_label(self) -> str:
        return System(self.system).label


@dataclass(frozen=True)
class SearchResult:
    hits: list[SearchHit]
    releases: dict[str, Release]
    # Loaded systems (some release in force) that no release covers on the date.
    uncovered: list[str] = field(default_factory=list)
    # Found as codes (the query read as a code or code prefix), not by words.
    by_code: bool = False

    @property
    def uncovered_labels(self) -> list[str]:
        return [System(s).label for s in self.uncovered]


def releases_on(
    day: dt.date, systems: list[str] | None = None
) -> tuple[dict[str, Release], list[str]]:
    """The release of each system in force on ``day``, and the loaded systems
    that no release covers on that day."""
    wanted = systems or [s.value for s in System]
    in_force = list(Release.objects.in_force().filter(system__in=wanted))
    found = {r.system: r for r in in_force if r.covers(day)}
    loaded = {r.system for r in in_force}
    return found, [s for s in wanted if s in loaded and s not in found]


def looks_like_code(query: str) -> bool:
    plain = normalize_code(query)
    return (
        bool(CODE_QUERY.match(plain))
        and any(ch.isdigit() for ch in plain)
        and " " not in query.strip()
    )


# Every search query ends with the same test: a row of a release in force, not a
# chapter, block or modifier (modifiers are listed apart: selectors.modifier_list),
# and valid on the day by its own dates where it has them (HCPCS terminations).
# A plain filter on rows already fetched: it costs no extra index or heap access.
CODE_SQL = """
SELECT system, code, long_title, billable, kind FROM codesets_code
WHERE code LIKE %(prefix)s AND release_ids && %(releases)s::bigint[]
  AND kind NOT IN ('chapter', 'block', 'modifier')
  AND (valid_from IS NULL OR valid_from <= %(day)s) AND (valid_to IS NULL OR valid_to >= %(day)s)
ORDER BY code = %(exact)s DESC, code
LIMIT %(limit)s
"""

# Results are ordered billable first, then shortest title, then code. Sorting every
# match would cost a heap fetch per match, and even the GIN bitmap of two common words
# costs 6-17 ms (a prefix entry's posting lists are read whole). So the search asks
# Code.search_ranked, whose lexemes carry the row's rank tag (models.RANK_TAG: "b00"
# .. "b30" for billable codes by title length // 4, "h" for the rest), one tag after
# another in that order: the query of one tag reads the posting lists of that slice
# of the order only. The tags are the rows of a LATERAL join: the nested loop runs the
# inner query once per tag, in the order of unnest's ordinality, and the outer LIMIT
# stops it as soon as ``limit`` rows are found. Each tag's rows are sorted (length,
# code) and the tags partition the order, so the concatenation is the full order.
# One plan for all tags, one round trip. The plan cannot hold a Gather (a function
# scan has no partial path; a parameterized inner side is never gathered), so nothing
# reorders the loop. ALL_SQL is the same order the slow way; a test compares them.
RANK_TAGS = [*(f"b{n:02d}" for n in range(RANK_TAG_LAST + 1)), "h"]
# The words' tsquery (query_words.words_tsquery, as ALL_SQL) is built once and read as
# text; every lexeme then gets the tag of the loop's row: 'diab':* -> 'b10diab':*.
# Lexemes of typed words are letters and digits only, so none holds a quote.
WORD_SQL = r"""
SELECT hit.system, hit.code, hit.long_title, hit.billable, hit.kind
FROM unnest(%s::text[]) WITH ORDINALITY AS tag(name, n)
CROSS JOIN LATERAL (
    SELECT system, code, long_title, billable, kind FROM codesets_code
    WHERE search_ranked @@ regexp_replace(
            ({query})::text, '''([^'']+)''', '''' || tag.name || '\1''', 'g'
        )::tsquery
      AND release_ids && %s::bigint[] AND kind NOT IN ('chapter', 'block', 'modifier')
      AND (valid_from IS NULL OR valid_from <= %s::date) AND (valid_to IS NULL OR valid_to >= %s::date)
    ORDER BY length(long_title), code
    LIMIT %s
) hit
LIMIT %s
"""
# Every match sorted at once: the order WORD_SQL must give (a test compares the two).
ALL_SQL = """
SELECT system, code, long_title, billable, kind FROM codesets_code
WHERE search_vector @@ ({query}) AND release_ids && %s::bigint[]
  AND kind NOT IN ('chapter', 'block', 'modifier')
  AND (valid_from IS NULL OR valid_from <= %s::date) AND (valid_to IS NULL OR valid_to >= %s::date)
ORDER BY billable DESC, length(long_title), code
LIMIT %s
"""


# ICD-10-CM codes for a pregnancy or a newborn: the maternity and perinatal chapters,
# and the Z codes of pregnancy and delivery outcome, and of liveborn infants.
MATERNITY_Z = frozenset({"Z33", "Z34", "Z36", "Z37", "Z39", "Z3A"})
NEWBORN_Z = frozenset({"Z38"})


def population_of(system: str, code: str) -> str:
    """ "maternity" or "newborn" for an ICD-10-CM code (undotted) of one of those
    populations, else "". The code search lists them last unless asked for; the
    coding form compares them with the patient (encounters.selectors)."""
    if system != System.ICD10CM:
        return ""
    if code[:1] == "O" or code[:3] in MATERNITY_Z:
        return "maternity"
    if code[:1] == "P" or code[:3] in NEWBORN_Z:
        return "newborn"
    return ""


def code_search(
    *,
    query: str,
    day: dt.date,
    systems: list[str] | None = None,
    limit: int = 20,
    population_last: bool = True,
) -> SearchResult:
    """Codes valid on ``day`` matching ``query``: exact code first, then code
    prefixes, else words: every word a prefix of a (stemmed) word of the title or
    an inclusion term, billable codes first, the shortest (most to-the-point)
    title first. Ordering by ts_rank instead would rank every match before the
    LIMIT (100+ ms for a common word over 180k rows); this order follows an index.

    With ``population_last``, words that name no pregnancy or newborn
    (query_words.mentions_population) list maternity and newborn codes after the
    others (searching twice the rows when the first page holds one); the coding form,
    which knows the patient, orders them itself."""
    releases, uncovered = releases_on(day, systems)
    limit = max(1, min(limit, MAX_LIMIT))
    query = query.strip()
    if not query or not releases:
        return SearchResult(hits=[], releases=releases, uncovered=uncovered)
    release_ids = [r.id for r in releases.values()]
    rows: list[tuple] = []
    by_code = False
    with connection.cursor() as cursor:
        if looks_like_code(query):
            plain = normalize_code(query)
            cursor.execute(
                CODE_SQL,
                {
                    "prefix": plain + "%",
                    "exact": plain,
                    "releases": release_ids,
                    "day": day,
                    "limit": limit,
                },
            )
            rows = cursor.fetchall()
        by_code = bool(rows)
        if not by_code:
            words = query_words(query)
            later = (
                population_last
                and System.ICD10CM in releases
                and not mentions_population(words)
            )
            rows = _word_search(cursor, words, release_ids, day, limit)
            if later and any(population_of(r[0], r[1]) for r in rows):
                # Only then twice the rows (most queries find none of those codes),
                # and a stable sort: the search order within each part.
                rows = _word_search(cursor, words, release_ids, day, limit * 2)
                rows = sorted(rows, key=lambda r: bool(population_of(r[0], r[1])))
                rows = rows[:limit]
    hits = [
        SearchHit(system=s, code=c, title=t, billable=b, kind=k)
        for s, c, t, b, k in rows
    ]
    if not by_code and System.ICD10PCS in releases:
        # The ICD-10-PCS Index leads from procedure words to codes (codesets/pcs_lookup.py).
        from codesets.pcs_lookup import lead_with_index_hits

        hits = lead_with_index_hits(
            hits, query=query, day=day, limit=limit, pcs_only=len(releases) == 1
        )
    return SearchResult(
        hits=hits, releases=releases, uncovered=uncovered, by_code=by_code
    )


def _word_search(
    cursor: CursorWrapper,
    words: list[str],
    release_ids: list[int],
    day: dt.date,
    limit: int,
) -> list[tuple]:
    if not words:
        return []
    tsquery, params = words_tsquery(words)
    cursor.execute(
        WORD_SQL.format(query=tsquery),
        [RANK_TAGS, *params, release_ids, day, day, limit, limit],
    )
    return cursor.fetchall()


# --- the code panel ---------------------------------------------------------------

CHAIN_SQL = """
WITH RECURSIVE chain AS (
    SELECT id, code, parent, 0 AS depth FROM codesets_code
    WHERE system = %(system)s AND code = %(code)s AND release_ids @> ARRAY[%(release)s::bigint]
  UNION ALL
    SELECT p.id, p.code, p.parent, chain.depth + 1 FROM codesets_code p
    JOIN chain ON p.code = chain.parent
    WHERE p.system = %(system)s AND p.release_ids @> ARRAY[%(release)s::bigint] AND chain.depth < 12
)
SELECT id, depth FROM chain ORDER BY depth DESC
"""

NOTE_LABELS = {
    "includes": "Includes",
    "inclusion_term": "Inclusion terms",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional_code": "Use additional code",
    "code_also": "Code also",
    "seventh_character_note": "7th character note",
    "note": "Note",
}


@dataclass(frozen=True)
class NoteLine:
    kind: str
    text: str
    source: str  # display code of the node the note stands on
    inherited: bool


@dataclass(frozen=True)
class SeventhCharacter:
    character: str
    text: str
    code: str  # the full code, undotted
    display: str
    exists: bool


@dataclass
class CodeDetail:
    system: str
    code: Code
    release: Release | None
    valid: bool
    ancestors: list[Code]
    notes: list[NoteLine]
    seventh: list[SeventhCharacter]
    seventh_source: str = ""
    message: str = ""

    def notes_by_kind(self) -> list[tuple[str, str, list[NoteLine]]]:
        grouped: dict[str, list[NoteLine]] = {}
        for note in self.notes:
            grouped.setdefault(note.kind, []).append(note)
        return [
            (kind, NOTE_LABELS.get(kind, kind), grouped[kind])
            for kind in NOTE_LABELS
            if kind in grouped
        ]


def with_seventh_character(code: str, character: str) -> str:
    """S72001 + A → S72001A; S020 + A → S020XXA (placeholder X up to six characters)."""
    return code.ljust(6, "X") + character


def code_detail(*, system: str, code: str, day: dt.date) -> CodeDetail | None:
    """The code as the release in force on ``day`` has it, with its path, the notes
    that apply to it (its own and its ancestors'), and its 7th characters.

    When the release in force lacks the code (deleted, not yet effective) the newest
    release that has it is shown, with ``valid`` false and a message saying why."""
    code = normalize_code(code)
    release = Release.objects.covering(system, day).first()
    row = (
        Code.objects.filter(
            system=system, code=code, release_ids__contains=[release.id]
        ).first()
        if release
        else None
    )
    message = ""
    if row is None:
        other = (
            Code.objects.filter(system=system, code=code)
            .exclude(release_ids=[])
            .order_by("-id")
            .first()
        )
        if other is None:
            return None
        holder = (
            Release.objects.filter(id__in=other.release_ids)
            .in_force()
            .order_by("-effective_from")
            .first()
            or Release.objects.filter(id__in=other.release_ids)
            .order_by("-created_at")
            .first()
        )
        if release is None:
            message = f"No {System(system).label} release covers {day:%Y-%m-%d}."
        else:
            message = f"{display_code(system, code)} is not in {release.label}, the release in force on {day:%Y-%m-%d}."
        if holder:
            message += f" Shown as in {holder.label}."
        release, row = holder, other
    if release is None:  # rows of a release since discarded: nothing to show
        return None
    in_range = row.in_validity_range(day)
    # A modifier is valid as a modifier (beside a procedure code), never on its own.
    is_modifier = row.kind == Code.Kind.MODIFIER
    valid = bool((row.billable or is_modifier) and release.covers(day) and in_range)
    if not message and not in_range:
        if row.valid_to is not None and day > row.valid_to:
            message = f"{row.display} was discontinued: its last date of service was {row.valid_to:%Y-%m-%d}."
        elif row.valid_from is not None:
            message = f"{row.display} takes effect for dates of service from {row.valid_from:%Y-%m-%d}."
    if not message and is_modifier:
        message = f"{row.display} is a modifier: it goes beside a procedure code, not on a line of its own."
    elif not message and not row.billable:
        message = (
            f"{row.display} is a header: a more specific code is required on a claim."
        )
    with connection.cursor() as cursor:
        cursor.execute(
            CHAIN_SQL, {"system": system, "code": code, "release": release.id}
        )
        chain_ids = [row_id for row_id, _depth in cursor.fetchall()]
    chain = {c.id: c for c in Code.objects.filter(id__in=chain_ids)}
    ordered = [chain[i] for i in chain_ids if i in chain]
    ancestors = [c for c in ordered if c.code != code]
    depth = {c.code: n for n, c in enumerate(ordered)}
    notes_qs = Note.objects.filter(
        system=system, code__in=list(depth), release_ids__contains=[release.id]
    )
    notes: list[NoteLine] = []
    seventh_by_node: dict[str, list[Note]] = {}
    for note in sorted(notes_qs, key=lambda n: (depth[n.code], n.kind, n.seq)):
        if note.kind == "seventh_character":
            seventh_by_node.setdefault(note.code, []).append(note)
            continue
        notes.append(
            NoteLine(
                kind=note.kind,
                text=note.text,
                source=display_code(system, note.code),
                inherited=note.code != code,
            )
        )
    seventh: list[SeventhCharacter] = []
    source = ""
    # The nearest definition wins; codes of 7 characters already carry theirs.
    for node in reversed(ordered):
        if node.code in seventh_by_node:
            source = node.code
            break
    if source and len(code) < 7:
        definitions = seventh_by_node[source]
        full_codes = [with_seventh_character(code, d.character) for d in definitions]
        existing = set(
            Code.objects.filter(
                system=system, code__in=full_codes, release_ids__contains=[release.id]
            ).values_list("code", flat=True)
        )
        seventh = [
            SeventhCharacter(
                character=d.character,
                text=d.text,
                code=full,
                display=display_code(system, full),
                exists=full in existing,
            )
            for d, full in zip(definitions, full_codes, strict=True)
        ]
        if not any(s.exists for s in seventh):
            seventh = []
    return CodeDetail(
        system=system,
        code=row,
        release=release,
        valid=valid,
        ancestors=ancestors,
        notes=notes,
        seventh=seventh,
        seventh_source=display_code(system, source) if source else "",
        message=message,
    )
