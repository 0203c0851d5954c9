"""The encoder's reads: code search and the code panel.

Core PostgreSQL only (the embedded server has no contrib extensions): code
prefixes use a varchar_pattern_ops index, words use full-text search with
prefix matching and English stemming over titles and inclusion terms.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models.fields.json import KeyTransform

from codesets.models import (
    RANK_TAG_LAST,
    Code,
    Note,
    PcsTable,
    Release,
    System,
    display_code,
    normalize_code,
)
from codesets.query_words import (
    DENIES,
    PREFIX,
    STEMMED,
    ParsedQuery,
    Slot,
    mentions_population,
    normalized_query,
    parse_query,
    slots_tsquery,
    typed_words,
)
from codesets.selectors import releases_in_force

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
    # Without the releases' JSON columns (diff, counts, warnings): one small read.
    in_force = [r for r in releases_in_force() if r.system in wanted]
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
    prefixes, else words, ranked as an encoder would (``rank``): the term's default
    code first, then codes whose title the term heads, initial encounters before
    subsequent ones, what this site's coders picked for the same query before.

    Words match as the start of a (stemmed) word of the title or an inclusion term;
    chart language reads as the code sets' words (query_words.parse_query, with the
    synonyms of codesets/synonyms.py). The candidates are the first POOL matches in
    index order (billable, shortest title: WORD_SQL) plus the codes that the query
    names as a whole term (HEAD_SQL); only those are ranked, so the cost stays that
    of a few index probes.

    With ``population_last``, words that name no pregnancy or newborn
    (query_words.mentions_population) list maternity and newborn codes after the
    others; the coding form, which knows the patient, orders them itself."""
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
            parsed = parse_query(query, sorted(releases))
            later = (
                population_last
                and System.ICD10CM in releases
                and not mentions_population(parsed.typed)
            )
            rows = ranked_search(
                cursor,
                parsed=parsed,
                query=query,
                release_ids=release_ids,
                systems=sorted(releases),
                day=day,
                limit=limit,
                population_last=later,
            )
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
    slots: list[Slot],
    release_ids: list[int],
    day: dt.date,
    limit: int,
) -> list[tuple]:
    if not slots:
        return []
    sql, params = word_sql(slots, release_ids, day, limit)
    cursor.execute(sql, params)
    return cursor.fetchall()


# --- the rarest words first -----------------------------------------------------------
#
# The rank tags read the posting lists of every word in 32 slices; a common prefix
# ("righ", "initi", "fractur": tens of thousands of codes each) costs 5-25 ms that
# way, however few codes hold all the words. When PostgreSQL's own statistics of
# Code.search_vector (pg_stats, kept by ANALYZE: the share of rows holding each of the
# ~1,000 commonest lexemes) say the rarest word(s) of the query are on few rows, the
# GIN index is asked for those words only (PROBE_SQL), and the other words are tested
# on the rows found; the whole order (billable, shortest title, code) is then a sort
# of those few rows. The statistics choose the plan, never the result: the rows are
# those of every word either way (a test compares the two), and a probe that finds
# more than PROBE_CAP rows gives way to the rank tags in the same statement.
PROBE_CAP = 2000
PROBE_POSTINGS = 30000
PROBE_SLOTS = 2
STATS_TTL = 3600.0
STATS_SQL = """
SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples
FROM pg_stats s
JOIN pg_class c ON c.relname = s.tablename AND c.relnamespace = to_regnamespace(s.schemaname)
WHERE s.schemaname = current_schema() AND s.tablename = 'codesets_code'
  AND s.attname = 'search_vector'
"""
PROBE_SQL = r"""
WITH probe AS MATERIALIZED (
    SELECT system, code, long_title, billable, kind, search_vector FROM codesets_code
    WHERE search_vector @@ ({probe}) AND release_ids && %s::bigint[]
      AND kind NOT IN ('chapter', 'block', 'modifier')
      AND (valid_from IS NULL OR valid_from <= %s::date) AND (valid_to IS NULL OR valid_to >= %s::date)
    LIMIT %s
)
(SELECT system, code, long_title, billable, kind FROM probe
 WHERE search_vector @@ ({query}) AND (SELECT count(*) FROM probe) <= %s
 ORDER BY billable DESC, length(long_title), code
 LIMIT %s)
UNION ALL
(SELECT * FROM ({tags}) tagged WHERE (SELECT count(*) FROM probe) > %s)
"""


@dataclass(frozen=True)
class LexemeShares:
    lexemes: list[str]  # sorted
    shares: list[float]  # of the rows holding each lexeme, in the same order
    floor: float  # every lexeme not listed holds at most this share
    rows: float


_stats: tuple[float, LexemeShares | None] = (0.0, None)


def lexeme_shares() -> LexemeShares | None:
    """The statistics of Code.search_vector, read at most once an hour per process;
    None before the table was first analyzed."""
    global _stats
    expires, known = _stats
    if expires > time.monotonic():
        return known
    with connection.cursor() as cursor:
        cursor.execute(STATS_SQL)
        row = cursor.fetchone()
    known = None
    if row is not None and row[0] and row[1]:
        elems, freqs, rows = row
        pairs = sorted(zip(elems, freqs[: len(elems)], strict=True))
        known = LexemeShares(
            lexemes=[p[0] for p in pairs],
            shares=[p[1] for p in pairs],
            floor=freqs[len(elems)] if len(freqs) > len(elems) else 0.0,
            rows=float(rows or 0),
        )
    _stats = (time.monotonic() + STATS_TTL, known)
    return known


def lexeme_shares_forget() -> None:
    """Read the statistics again at the next search (tests; after an ANALYZE)."""
    global _stats
    _stats = (0.0, None)


def _prefix_share(stats: LexemeShares, prefix: str) -> float:
    """At most the share of rows holding a lexeme that starts with ``prefix``."""
    start = bisect.bisect_left(stats.lexemes, prefix)
    end = bisect.bisect_left(stats.lexemes, prefix + "\uffff")
    return sum(stats.shares[start:end]) + stats.floor


def _exact_share(stats: LexemeShares, lexeme: str) -> float:
    """About the share of rows holding ``lexeme`` (at most the floor when unlisted)."""
    at = bisect.bisect_left(stats.lexemes, lexeme)
    if at < len(stats.lexemes) and stats.lexemes[at] == lexeme:
        return stats.shares[at]
    return stats.floor


# The lexemes PostgreSQL makes of a typed word (query_words.TERM_SQL: the English
# stem and the word as typed), asked for once per word and process: the shares are
# those of the words the search will read ("pulse" is read as 'puls':*, not as every
# word starting "pul"). A few thousand words at most: common chart words recur.
LEXEME_SQL = """
SELECT p, to_tsquery('english', p)::text, to_tsquery('simple', p)::text
FROM unnest(%s::text[]) AS p
"""
LEXEME = re.compile(r"'([^']*)'")
LEXEMES_KEPT = 20000
_lexemes: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _term(word: str, mode: str) -> str:
    return f"{word}:*" if mode == PREFIX else word


def _read_lexemes(slots: list[Slot]) -> None:
    """Ask PostgreSQL for the lexemes of the slots' words not asked for before."""
    wanted = {
        _term(word, mode)
        for slot in slots
        for alternative in slot.alternatives
        for word, mode in alternative
    } - _lexemes.keys()
    if not wanted:
        return
    if len(_lexemes) + len(wanted) > LEXEMES_KEPT:
        _lexemes.clear()
    with connection.cursor() as cursor:
        cursor.execute(LEXEME_SQL, [sorted(wanted)])
        for term, english, simple in cursor.fetchall():
            _lexemes[term] = (
                tuple(LEXEME.findall(english)),
                tuple(LEXEME.findall(simple)),
            )


def _term_share(stats: LexemeShares, word: str, mode: str) -> float:
    """At most (about) the share of rows a word matches as the search reads it."""
    english, simple = _lexemes.get(_term(word, mode), ((), ()))
    if mode == PREFIX:
        # to_tsquery('english') || to_tsquery('simple'): the stem's range holds the
        # word's when the word starts with it ("puls" and "pulse").
        e = min((_prefix_share(stats, x) for x in english), default=0.0)
        s = min((_prefix_share(stats, x) for x in simple), default=0.0)
        covered = len(english) == len(simple) == 1 and simple[0].startswith(english[0])
        share = e if covered else e + s
    else:
        read = english if mode == STEMMED else simple
        share = min((_exact_share(stats, x) for x in read), default=0.0)
    return share if english or simple else 1.0  # a stop word: no plan from it


def _slot_share(stats: LexemeShares, slot: Slot) -> float:
    """At most the share of rows a slot matches (an alternative: all its words)."""
    total = 0.0
    for alternative in slot.alternatives:
        total += min(
            (_term_share(stats, word, mode) for word, mode in alternative), default=1.0
        )
    return min(total, 1.0)


def word_sql(
    slots: list[Slot], release_ids: list[int], day: dt.date, limit: int
) -> tuple[str, list]:
    """SQL and parameters of the codes holding every slot's words, in index order
    (billable, shortest title, code), the first ``limit``: the rank tags (WORD_SQL),
    or the rarest words probed first (PROBE_SQL) when the statistics say so."""
    tsquery, params = slots_tsquery(slots)
    tags_sql = WORD_SQL.format(query=tsquery)
    tags_params = [RANK_TAGS, *params, release_ids, day, day, limit, limit]
    stats = lexeme_shares()
    if stats is None or not stats.rows:
        return tags_sql, tags_params
    _read_lexemes(slots)
    shares = {id(slot): _slot_share(stats, slot) for slot in slots}
    ranked = sorted(slots, key=lambda slot: shares[id(slot)])
    # The rarest slot, and the next rarest while their posting lists stay short
    # ("righ retract": "retract" alone, not the 37,000 rows of "right" with it).
    probe = ranked[:1]
    for slot in ranked[1:PROBE_SLOTS]:
        if stats.rows * sum(shares[id(s)] for s in [*probe, slot]) <= PROBE_POSTINGS:
            probe.append(slot)
    # The rank tags stop as soon as ``limit`` rows are found: with many codes holding
    # every word they are quick, and the probe would read and sort them all. The
    # probe is for a rare word, and few codes with them all (the shares multiplied:
    # words are taken as independent, a guess that only chooses the plan).
    expected = stats.rows * math.prod(shares.values())
    # The probe reads the posting lists of its words (cheap below tens of thousands
    # of entries) and the rows holding them all (at most PROBE_CAP, else the rank
    # tags take over in the same statement).
    probe_shares = [shares[id(slot)] for slot in probe]
    postings = stats.rows * sum(probe_shares)
    probed = stats.rows * math.prod(probe_shares)
    if postings > PROBE_POSTINGS or probed > PROBE_CAP / 2 or expected > 2 * limit:
        return tags_sql, tags_params
    probe_sql, probe_params = slots_tsquery(probe)
    sql = PROBE_SQL.format(probe=probe_sql, query=tsquery, tags=tags_sql)
    return sql, [
        *probe_params,
        release_ids,
        day,
        day,
        PROBE_CAP + 1,
        *params,
        PROBE_CAP,
        limit,
        *tags_params,
        PROBE_CAP,
    ]


# --- ranking (issue 12) -------------------------------------------------------------

# Matches in index order read before ranking: enough for the default code of a common
# word to be among them when HEAD_SQL does not name it.
POOL = 20
# When no code has every word, the query is searched again without each of its words
# in turn (a modifier the code sets do not print: "community acquired pneumonia"),
# those codes ranked after any full match.
RELAX_MAX_SLOTS = 5
RELAX_LIMIT = 10
# Still nothing: the codes with two of the words (then one), ranked by words covered.
PARTIAL_LIMIT = 40
PARTIAL_ALTERNATIVES = 48

# Codes the query names as a whole term, in one round trip:
# * a billable code whose title reads as the term: "Pneumonia, unspecified organism",
#   "Unspecified appendicitis", "Walker, rigid (pickup) ..." (the index's default);
# * a node whose inclusion term reads as it ("hypertension (arterial) (benign) ..." on
#   I10, "diabetes NOS" on E11, "Acute kidney injury (nontraumatic)" on N17.9): its
#   default code is chosen below (_default_below) when the node is a header;
# * the codes the curated list gives for the term (synonyms.DEFAULTS);
# * the codes this site's coders took for the same query (AcceptedSuggestion).
# Each part is a prefix range of a text_pattern_ops index (lower(long_title),
# lower(text) of inclusion terms), or an equality: a few index probes.
HEAD_TITLE_SQL = """
SELECT system, code, long_title, billable, kind, 'title' AS source, 0 AS picks
FROM codesets_code
WHERE ({patterns}) AND release_ids && %s::bigint[] AND billable
  AND kind NOT IN ('chapter', 'block', 'modifier')
  AND (valid_from IS NULL OR valid_from <= %s::date) AND (valid_to IS NULL OR valid_to >= %s::date)
"""
HEAD_NOTE_SQL = """
SELECT system, code, text, NULL::boolean, '', 'note', 0
FROM codesets_note
WHERE kind IN ('includes', 'inclusion_term') AND ({patterns})
  AND release_ids && %s::bigint[]
"""
NAMED_SQL = """
SELECT c.system, c.code, c.long_title, c.billable, c.kind, 'named', 0
FROM codesets_code c
WHERE c.system || ':' || c.code = ANY(%s::text[])
  AND c.code = ANY(%s::text[]) AND c.release_ids && %s::bigint[]
  AND (c.valid_from IS NULL OR c.valid_from <= %s::date) AND (c.valid_to IS NULL OR c.valid_to >= %s::date)
"""
PRIOR_SQL = """
SELECT c.system, c.code, c.long_title, c.billable, c.kind, 'prior', a.count
FROM codesets_acceptedsuggestion a
JOIN codesets_code c ON c.system = a.system AND c.code = a.code
WHERE a.query = %s AND a.system = ANY(%s::text[]) AND c.release_ids && %s::bigint[]
  AND c.kind NOT IN ('chapter', 'block', 'modifier')
  AND (c.valid_from IS NULL OR c.valid_from <= %s::date) AND (c.valid_to IS NULL OR c.valid_to >= %s::date)
"""
# The billable codes under header nodes whose inclusion term reads as the query.
BELOW_SQL = """
SELECT system, code, long_title, billable, kind FROM codesets_code
WHERE ({patterns}) AND release_ids && %s::bigint[] AND billable
  AND kind NOT IN ('chapter', 'block', 'modifier')
  AND (valid_from IS NULL OR valid_from <= %s::date) AND (valid_to IS NULL OR valid_to >= %s::date)
LIMIT 400
"""

PAREN = re.compile(r"\s*[\(\[][^\)\]]*[\)\]]")
# Title words that mark the default code of a term: the unspecified, uncomplicated,
# "not otherwise specified" one (the index's code for the bare term).
DEFAULT_MARK = re.compile(
    r"(, unspecified|^unspecified |without complications|, uncomplicated|"
    r"not elsewhere classified|\bnos\b|not specified as|unspecified as to|"
    r"site not specified|unspecified site|unspecified organism|, not specified)"
)
OTHER_MARK = re.compile(r"^other |^other specified |, other\b")
# (and the "Subsequent ... myocardial infarction" of I22, a new infarct within four
# weeks of one: Index "Infarct, myocardium, subsequent")
LATER_ENCOUNTER = re.compile(r"subsequent encounter|, sequela|^subsequent ")
NOT_ACCIDENTAL = re.compile(r"intentional self-harm|, assault|, undetermined")
ACCIDENTAL = re.compile(r", accidental \(unintentional\)")
# Query words that ask for what the marks above rank last.
ASKS_LATER = (
    "f/u",
    "subsequent",
    "sequela",
    "follow",
    "healing",
    "nonunion",
    "malunion",
    "delayed",
    "routine",
)


# Query words that ask for the subsequent encounter (7th character D): routine care
# of a healing injury, a follow-up visit.
ASKS_SUBSEQUENT = ("subsequent", "f/u", "followup")


# "Severe pre-eclampsia, unspecified trimester": the axis after "unspecified".
UNSPECIFIED_AXIS = re.compile(r", unspecified ([a-z]+)")
# The sex a query states: a word, or age and sex as a chart writes them ("57F").
SEX_TYPED = {
    **dict.fromkeys(("female", "woman", "women", "girl"), "female"),
    **dict.fromkeys(("male", "man", "men", "boy"), "male"),
}
AGE_SEX = re.compile(r"^[0-9]{1,3}\s?(?:yo|y/o|y)?\s?(f|m)$")
SEX_PRINTED = re.compile(r"\b(female|male)\b")


def _sex_typed(typed: list[str]) -> str:
    """ "female" or "male" when a typed word states it ("woman", "57F"), else ""."""
    for token in typed:
        if token in SEX_TYPED:
            return SEX_TYPED[token]
        if m := AGE_SEX.match(token):
            return "female" if m.group(1) == "f" else "male"
    return ""


def _asks(tokens: list[str], words: tuple[str, ...]) -> bool:
    """A typed token is one of ``words`` or the start of one ("subse", "malunio")."""
    return any(
        len(t) >= 3 and any(w.startswith(t) or t.startswith(w) for w in words)
        for t in tokens
    )


# HCPCS titles of a part or supply for a device, and the query words that ask for one.
PART_MARK = re.compile(
    r"(\battachment\b|, replacement\b|replacement only|^replacement |replacement for "
    r"|\bfor use (with|on)\b|\baccessor(y|ies)\b)"
)
ASKS_PART = ("attachment", "replacement", "accessory", "accessories", "part", "parts")
# HCPCS variants for a population or a setting, listed after the general item unless
# the query names them ("pediatric" hospital bed, test strips "for dialysis").
UNASKED_VARIANTS = (
    "pediatric",
    "for dialysis",
    "heavy duty",
    "bariatric",
    "preservative free",
)
ASKS_INTENT = ("intentional", "self", "suicid", "assault", "undetermined", "harm")


def title_head(text: str) -> str:
    """A title or inclusion term as a term: lower case, without parentheses, the
    leading "unspecified"/"other", a trailing "NOS", and what follows the first
    comma. "Pneumonia, unspecified organism" -> "pneumonia"; "Essential (primary)
    hypertension" -> "essential hypertension"; "Unspecified appendicitis" ->
    "appendicitis"; "diabetes NOS" -> "diabetes"."""
    text = PAREN.sub("", text.lower()).split(",")[0].strip()
    text = re.sub(r"^(unspecified|other) ", "", text)
    text = re.sub(r" nos$", "", text)
    return " ".join(typed_words(text))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _head_patterns(variants: list[str], column: str) -> tuple[str, list]:
    """SQL ORing the prefix ranges under which a text reads as one of the variants."""
    sql: list[str] = []
    params: list = []
    shapes = (
        ("{v}", "{v},%", "{v} (%", "unspecified {v}", "unspecified {v},%")
        if column == "long_title"
        else ("{v}", "{v},%", "{v} (%", "{v} nos")
    )
    equal = [
        shape.format(v=v) for v in variants for shape in shapes if "%" not in shape
    ]
    if equal:
        sql.append(f"lower({column}) = ANY(%s::text[])")
        params.append(equal)
    for v in variants:
        for pattern in (shape.format(v=v) for shape in shapes if "%" in shape):
            sql.append(f"lower({column}) LIKE %s")
            params.append(_like(pattern[:-1]) + "%")
    return " OR ".join(sql), params


def _default_below(node: str, rows: list[tuple]) -> tuple | None:
    """The default code under a header: its unspecified/uncomplicated code nearest to
    it (E11 -> E11.9 "without complications"), else its shortest code."""
    below = [r for r in rows if r[1].startswith(node)]
    if not below:
        return None
    return min(
        below,
        key=lambda r: (
            not DEFAULT_MARK.search(r[2].lower()),
            bool(OTHER_MARK.search(r[2].lower())),
            len(r[1]),
            r[1],
        ),
    )


@dataclass
class Candidate:
    row: tuple
    full: bool = False  # every required word matched
    dropped: int = 0  # words left out to find it (relaxed search)
    head: bool = False  # its title or an inclusion term reads as the query
    named: bool = False  # the curated default code of the term
    picks: int = 0  # times this site's coders took it for this query
    order: int = 0  # place in index order (billable, shortest title)


def ranked_search(
    cursor: CursorWrapper,
    *,
    parsed: ParsedQuery,
    query: str,
    release_ids: list[int],
    systems: list[str],
    day: dt.date,
    limit: int,
    population_last: bool,
) -> list[tuple]:
    """The word search's candidates ranked (see ``rank``); the first ``limit``."""
    from codesets import synonyms

    required = parsed.required
    pool = max(POOL, limit)
    found: dict[tuple[str, str], Candidate] = {}

    def take(rows: list[tuple], **flags) -> None:
        for row in rows:
            key = (row[0], row[1])
            cand = found.get(key)
            if cand is None:
                cand = found[key] = Candidate(row=row[:5], order=len(found))
            for name, value in flags.items():
                if name == "dropped":
                    cand.dropped = value if not cand.full else 0
                elif value:
                    setattr(cand, name, value)

    # One round trip: the word search and the codes the query names as a term.
    parts: list[str] = []
    params: list = []
    if required:
        # The tsquery SQL is ours (query_words.TERM_SQL); the words are parameters.
        words_sql, word_params = word_sql(required, release_ids, day, pool)
        parts.append(f"SELECT w.*, 'word', 0 FROM ({words_sql}) w")  # noqa: S608
        params += word_params
    variants = parsed.variants()
    if variants:
        title_sql, title_params = _head_patterns(variants, "long_title")
        note_sql, note_params = _head_patterns(variants, "text")
        named = [
            f"{system}:{synonyms.DEFAULTS[system][v][0]}"
            for system in systems
            for v in variants
            if v in synonyms.DEFAULTS.get(system, {})
        ]
        parts += [
            HEAD_TITLE_SQL.format(patterns=title_sql),
            HEAD_NOTE_SQL.format(patterns=note_sql),
            PRIOR_SQL,
        ]
        params += [
            *title_params,
            release_ids,
            day,
            day,
            *note_params,
            release_ids,
            normalized_query(query),
            systems,
            release_ids,
            day,
            day,
        ]
        if named:
            parts.append(NAMED_SQL)
            params += [
                named,
                [n.split(":", 1)[1] for n in named],
                release_ids,
                day,
                day,
            ]
    if not parts:
        return []
    cursor.execute(" UNION ALL ".join(f"({part})" for part in parts), params)
    rows = cursor.fetchall()
    words = [r for r in rows if r[5] == "word"]
    take(words, full=True)
    if (
        population_last
        and len(words) == pool
        and any(population_of(r[0], r[1]) for r in words)
    ):
        # Maternity and newborn codes go last: twice the rows, so that the page
        # still fills (most queries find none of those codes).
        take(_word_search(cursor, required, release_ids, day, pool * 2), full=True)
    absent = [
        replace(s, optional=False)
        for s in parsed.slots
        if s.denied and s.alternatives and s.typed[0] not in DENIES
    ]
    if absent and required:
        # The codes whose title says the word, most often "without" it ("hernia
        # without obstruction"), with the other words: the word search above, which
        # does not require it, may stop at shorter titles.
        take(
            _word_search(cursor, [*required, *absent], release_ids, day, pool),
            full=True,
        )
    later = sum(bool(LATER_ENCOUNTER.search(r[2].lower())) for r in words)
    if later * 2 > len(words) > 0 and not _asks(parsed.typed, ASKS_LATER):
        # Subsequent-encounter and sequela titles are the short ones: the initial
        # encounters (what a coder codes first) are asked for by name.
        initial = Slot(typed=(), alternatives=((("initial", "prefix"),),), phrasings=())
        take(
            _word_search(cursor, [*required, initial], release_ids, day, pool),
            full=True,
        )
    if not found and 2 <= len(required) <= RELAX_MAX_SLOTS:
        # One query: every word but one, for each word (when each slot is one word
        # or phrase; else one query per word left out).
        if all(len(o.alternatives) == 1 for o in required):
            relaxed = Slot(
                typed=(),
                alternatives=tuple(
                    tuple(
                        term
                        for other in required[:n] + required[n + 1 :]
                        for term in other.alternatives[0]
                    )
                    for n in range(len(required))
                ),
                phrasings=(),
            )
            take(
                _word_search(cursor, [relaxed], release_ids, day, RELAX_LIMIT),
                dropped=1,
            )
        else:
            for n in range(len(required)):
                rest = required[:n] + required[n + 1 :]
                take(
                    _word_search(cursor, rest, release_ids, day, RELAX_LIMIT),
                    dropped=1,
                )
    traits = QueryTraits.of(parsed)
    if not found and len(required) >= 2:
        _take_partial(cursor, required, traits, release_ids, day, take)
    wanted = set(variants)
    notes = [r for r in rows if r[5] == "note" and title_head(r[2]) in wanted]
    take(
        [r for r in rows if r[5] == "title" and title_head(r[2]) in wanted],
        head=True,
    )
    take([r for r in rows if r[5] == "named"], named=True, full=True)
    for r in rows:
        if r[5] == "prior":
            take([r], picks=r[6])
    if notes:
        # Inclusion terms stand on codes and on headers; a header's default code.
        nodes = sorted({(r[0], r[1]) for r in notes})
        cursor.execute(
            BELOW_SQL.format(patterns=" OR ".join(["code LIKE %s"] * len(nodes))),
            [*(_like(code) + "%" for _, code in nodes), release_ids, day, day],
        )
        below = cursor.fetchall()
        for system, node in nodes:
            default = _default_below(node, [r for r in below if r[0] == system])
            if default is not None:
                take([default], head=True, full=True)
    ranked = sorted(
        found.values(), key=lambda c: rank(c, traits, population_last=population_last)
    )
    return [c.row for c in ranked[:limit]]


def _take_partial(
    cursor: CursorWrapper,
    required: list[Slot],
    traits: QueryTraits,
    release_ids: list[int],
    day: dt.date,
    take: Callable[..., None],
) -> None:
    """When no code has every word, nor every word but one: the codes holding at
    least two of the words (then any one), ranked by how many words their title
    covers, so that one word the code sets do not print ("DJD knee crepitus") never
    leaves the coder with nothing. One query per round (at most two)."""
    alternatives = [list(slot.alternatives) for slot in required]
    rounds: list[list[tuple[tuple[str, str], ...]]] = []
    if len(required) >= 3:
        pairs = [
            a + b
            for i in range(len(required))
            for j in range(i + 1, len(required))
            for a in alternatives[i]
            for b in alternatives[j]
        ]
        rounds.append(pairs[:PARTIAL_ALTERNATIVES])
    rounds.append([a for alts in alternatives for a in alts][:PARTIAL_ALTERNATIVES])
    for alts in rounds:
        if not alts:
            continue
        anyof = Slot(typed=(), alternatives=tuple(alts), phrasings=())
        rows = _word_search(cursor, [anyof], release_ids, day, PARTIAL_LIMIT)
        for row in rows:
            words = _title_words(row[2].lower())
            covered = sum(
                any(
                    all(any(t.startswith(s) for t in words) for s in alternative)
                    for alternative in slot
                )
                for slot in traits.slot_stems
            )
            take([row], dropped=max(1, len(required) - covered))
        if rows:
            return


def _title_words(lower: str) -> list[str]:
    """The words of a title, lower case: "Bath/shower chair" holds "shower",
    "semi-electric" holds "electric"."""
    return TITLE_SPLIT.sub(" ", lower).split()


TITLE_SPLIT = re.compile(r"[(),/-]")


def _stem(word: str) -> str:
    """A crude stem for "is this word in the title": diabetic ~ diabetes, urinary ~
    urine (the search itself matched with PostgreSQL's stemmer)."""
    return word if len(word) <= 4 else word[: max(4, len(word) - 3)]


DIABETES_TYPED = re.compile(r"\b(diabet\w*|dm)\b")
DIABETES_TYPE = re.compile(
    r"\b(type|t1|t2|dm1|dm2|t1dm|t2dm|iddm|niddm|gestational|secondary|drug|steroid|due|juvenile)\b"
)
CLAUSE = re.compile(r"\b(with|without)\b([^,]*?)(?=\bwith\b|\bwithout\b|\bof\b|,|$)")
NEGATED = re.compile(r"\bnon-?([a-z]+)")
APPROACH_TYPED = re.compile(
    r"\b(open|percut\w*|lap\w*|endoscop\w*|external|natural|via|transorifice)\b"
)


# The side a typed word names (chart shorthand, codesets/synonyms.py): a code whose
# title prints that side ranks before the unspecified side, which ranks before the
# other side ("OA R knee": M17.11 right, then M17.10, then M17.12 left).
SIDES = ("right", "left", "bilateral")
SIDE_TYPED = {
    **dict.fromkeys(
        ("r", "rt", "right", "od", "rle", "rue", "rul", "rll", "rml"), "right"
    ),
    **dict.fromkeys(
        ("l", "lt", "left", "os", "lle", "lue", "lul", "lll", "lingula"), "left"
    ),
    **dict.fromkeys(
        ("bilat", "bil", "b/l", "bilateral", "ou", "ble", "bue"), "bilateral"
    ),
}
LEADING_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?=[a-z]*$)")


@dataclass(frozen=True)
class QueryTraits:
    """What ``rank`` needs of the query, worked out once per search."""

    typed: str  # the typed tokens, space-joined
    tokens: frozenset[str]
    stems: tuple[str, ...]  # of the typed words but with/without
    denied: tuple[str, ...]  # of the words typed as absent ("w/o psychosis")
    # per required slot: per alternative, the stems of its words
    slot_stems: tuple[tuple[tuple[str, ...], ...], ...]
    asks_later: bool
    asks_subsequent: bool
    asks_intent: bool
    diabetes_untyped: bool
    names_approach: bool
    # the stems of the typed words and of what they stand for ("3rd tri": third,
    # trimester): what decides an axis a title leaves unspecified
    decisive: tuple[str, ...] = ()
    sex: str = ""  # "female" / "male", as typed ("57F", "woman")
    sides: frozenset[str] = frozenset()  # right / left / bilateral, as typed
    numbers: frozenset[str] = frozenset()  # numbers typed (doses: "30 mg", "125mg")

    @classmethod
    def of(cls, parsed: ParsedQuery) -> QueryTraits:
        typed = " ".join(parsed.typed)
        stems = tuple(_stem(w) for w in parsed.typed if w not in ("with", "without"))
        slot_stems = tuple(
            tuple(
                tuple(_stem(w.lstrip("-")) for w, _mode in alternative)
                for alternative in slot.ranked
            )
            for slot in parsed.required
        )
        return cls(
            typed=typed,
            tokens=frozenset(parsed.typed),
            stems=stems,
            denied=_denied(parsed.typed),
            decisive=tuple(
                dict.fromkeys(
                    [*stems, *(s for slot in slot_stems for alt in slot for s in alt)]
                )
            ),
            sex=_sex_typed(parsed.typed),
            slot_stems=slot_stems,
            asks_later=_asks(parsed.typed, ASKS_LATER),
            asks_subsequent=_asks(parsed.typed, ASKS_SUBSEQUENT),
            asks_intent=any(w in typed for w in ASKS_INTENT),
            diabetes_untyped=bool(DIABETES_TYPED.search(typed))
            and not DIABETES_TYPE.search(typed),
            names_approach=bool(APPROACH_TYPED.search(typed)),
            sides=frozenset(SIDE_TYPED[w] for w in parsed.typed if w in SIDE_TYPED),
            numbers=frozenset(
                m.group(0).lstrip("0") or "0"
                for w in parsed.typed
                if (m := LEADING_NUMBER.match(w))
            ),
        )


def _complications(lower: str, traits: QueryTraits) -> float:
    """ICD-10-CM titles say what the code holds with "with ..." and "without ...":
    a complication the query does not name counts against the code, its absence for
    it (the uncomplicated code is the default), unless the query names it."""
    score = 0.0
    for word, clause in CLAUSE.findall(lower):
        if any(s in clause for s in traits.denied):
            # "MDD recurrent severe w/o psychosis": the query says it is absent.
            score += -4 if word == "with" else 4
            continue
        named = any(s in clause for s in traits.stems)
        if word == "with":
            score += 0 if named else -2
        else:
            score += -4 if named else 2
    return max(-4.0, min(4.0, score))


def _denied(typed: list[str]) -> tuple[str, ...]:
    """Stems of the (up to two) words after a word of DENIES, up to a "with"."""
    out: list[str] = []
    for n, token in enumerate(typed):
        if token not in DENIES:
            continue
        for word in typed[n + 1 : n + 3]:
            if word in ("with", "w", "w/") or word in DENIES:
                break
            out.append(_stem(word))
    return tuple(out)


def _covers(words: list[str], traits: QueryTraits) -> list[bool]:
    """Per required slot: whether the title words hold all the words of one of its
    alternatives (each as the start of a title word)."""
    return [
        any(
            all(any(t.startswith(s) for t in words) for s in alternative)
            for alternative in slot
        )
        for slot in traits.slot_stems
    ]


COVERED_SLOT = 2.0


def rank(cand: Candidate, traits: QueryTraits, *, population_last: bool) -> tuple:
    """Sort key of a candidate, best first: not a maternity or newborn code unless
    asked; billable codes; then the score below; then the shortest title, the code.

    The score is what an encoder weighs: the code the index gives for the term
    (curated default, a title or inclusion term reading as the term), what this
    site's coders took for this query before, every word found (in the title rather
    than only in an inclusion term), the unspecified/uncomplicated code before its
    subtypes and "other" codes, the initial encounter before subsequent and sequela,
    accidental poisoning before the other intents (guideline I.C.19.e.5.b), type 2
    diabetes when no type is written (I.C.4.a.2), "personal" before "family"
    history, not the "non-..." or "in remission" code unless asked."""
    system, code, title, billable, _kind = cand.row
    lower = title.lower()
    words = _title_words(lower)
    typed = traits.typed
    score = 0.0
    if cand.named:
        score += 60
    if cand.picks:
        # one pick does not outweigh the index's default; three do
        score += 60 * math.log2(1 + cand.picks)
    # A variant for a population or a setting the query does not name is no head of
    # the term, whatever its title reads as ("Blood glucose test strips, for dialysis").
    variant = system == System.HCPCS and any(
        v in lower and v.split()[-1] not in typed for v in UNASKED_VARIANTS
    )
    if cand.head and not variant:
        score += 40
    if cand.full:
        score += 30
    score -= 30 * cand.dropped
    covered = _covers(words, traits)
    if covered and all(covered):
        score += 10
    score += COVERED_SLOT * sum(covered)
    # "Unspecified whether with hypoxia or hypercapnia" is no default for a query
    # that says which ("acute hypoxic respiratory failure": J96.01, not J96.00).
    # So is "Severe pre-eclampsia, unspecified trimester" for "severe preE 3rd tri",
    # or "Malignant neoplasm of liver, not specified as primary or secondary" for
    # "mets to liver": the axis left open is one the query's words decide.
    undecided = (
        lower.partition("unspecified whether")[2]
        or lower.partition("unspecified as to")[2]
        or lower.partition("not specified as ")[2]
        or UNSPECIFIED_AXIS.findall(lower)
    )
    if undecided and any(len(s) >= 4 and s in str(undecided) for s in traits.decisive):
        score -= 6
    elif DEFAULT_MARK.search(lower):
        score += 8
        score += 3 * min(words.count("unspecified"), 3)
    else:
        score += 3 * min(words.count("unspecified"), 3)
    if system == System.ICD10CM:
        if " with" in lower:
            score += _complications(lower, traits)
        if len(code) == 7 and traits.asks_subsequent:
            score += 5 if code[6] == "D" else 0  # "f/u visit": the subsequent encounter
        elif len(code) == 7 and code[6] == "A":
            score += 3
        if traits.diabetes_untyped and code[:3] == "E11":
            score += 5
    if OTHER_MARK.search(lower):
        score -= 6
    if not traits.asks_later and LATER_ENCOUNTER.search(lower):
        score -= 15
    if ACCIDENTAL.search(lower):
        score += 4
    elif not traits.asks_intent and NOT_ACCIDENTAL.search(lower):
        score -= 4
    if "open fracture" in lower and "open" not in traits.tokens:
        score -= 4
    if "in remission" in lower and "remission" not in typed:
        score -= 6
    if "in relapse" in lower and "relapse" not in typed:
        score -= 6  # the Index's default: "not having achieved remission"
    if traits.sex and (sex := SEX_PRINTED.search(lower)):
        score += 4 if sex.group(1) == traits.sex else -8
    if "family history" in lower and "family" not in typed:
        score -= 8
    if "non" in lower:
        for negated in NEGATED.findall(lower):
            if negated in typed and f"non{negated}" not in typed.replace("-", ""):
                score -= 6
    if system == System.ICD10PCS:
        # Catheter and needle work (insertion of a device, dilation, administration,
        # measurement) is percutaneous unless the query names an approach; the
        # open approach only has the shortest title.
        if (
            not traits.names_approach
            and len(code) == 7
            and code[4] == "3"
            and (code[0] in "34" or (code[0] == "0" and code[2] in "H7"))
        ):
            score += 3
        # Administration (3): the usual route and donor unless another is typed.
        if "peripheral vein" in lower:
            score += 3
        if (
            "autologous" in lower
            and "nonautologous" not in lower
            and ("autologous" not in typed)
        ):
            score -= 3
    if system == System.HCPCS:
        # A part or supply for a device after the device itself (wheel and brake
        # attachments beside the walker, a replacement cushion beside the mask, a
        # dressing "for use with" the pump), unless the query asks for a part; and
        # a variant for a population or setting the query does not name.
        if PART_MARK.search(lower) and not _asks(list(traits.tokens), ASKS_PART):
            score -= 8
        if variant:
            score -= 4
        head, includes, _rest = lower.partition("includes ")
        if includes and sum(_covers(_title_words(head), traits)) < sum(covered):
            # "Home glucose disposable monitor, includes test strips" is a monitor:
            # words found only in what the item includes do not name it.
            score -= 6
    if traits.sides:
        printed = {side for side in SIDES if side in words}
        if printed & traits.sides:
            score += 6
        elif printed:
            score -= 8
    elif system == System.ICD10CM and "bilateral" in words:
        # Both sides is a finding of its own: the Index's code for the bare term is
        # the one-sided or unspecified one ("Hernia, inguinal K40.90", unilateral).
        score -= 3
    if traits.numbers and traits.numbers & {w.replace(",", "") for w in words}:
        score += 2  # the dose typed is the title's ("up to 125 mg")
    population = population_last and bool(population_of(system, code))
    return (population, not billable, -score, len(title), code)


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
    # What each ancestor is called on the path: "Chapter 9" (ICD-10-CM), or the
    # ICD-10-PCS table's axis and value, "Body System D Gastrointestinal System".
    ancestor_labels: dict[str, str] = field(default_factory=dict)

    def crumbs(self) -> list[tuple[Code, str]]:
        return [
            (a, self.ancestor_labels.get(a.code) or a.display) for a in self.ancestors
        ]

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
    ancestor_labels = _ancestor_labels(system, release, ancestors)
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
        ancestor_labels=ancestor_labels,
    )


def _ancestor_labels(
    system: str, release: Release, ancestors: list[Code]
) -> dict[str, str]:
    """ICD-10-CM chapters by number; ICD-10-PCS headers by the axis their last
    character stands for in the code's table (section, body system, operation; other
    sections name axes 2-3 their own way, "Body Region", "Type"), then the value."""
    if system != System.ICD10PCS:
        return {a.code: f"Chapter {a.code}" for a in ancestors if a.kind == "chapter"}
    table = next((a.code for a in ancestors if len(a.code) == 3), "")
    axes = (
        PcsTable.objects.filter(
            system=system, code=table, release_ids__contains=[release.id]
        )
        .annotate(axes=KeyTransform("axes", "data"))
        .values_list("axes", flat=True)
        .first()
        if table
        else None
    ) or []
    labels = {}
    for a in ancestors:
        position = len(a.code)
        if position > 3:
            continue
        title = axes[position - 1].get("title", "") if position <= len(axes) else ""
        title = title or ("Section", "Body System", "Operation")[position - 1]
        labels[a.code] = f"{title} {a.code[-1]} {a.long_title}"
    return labels
