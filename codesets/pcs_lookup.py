"""ICD-10-PCS codes from the words a coder types, through the Index, as a coder
looks them up: find the term in the Index, follow it to a table ("Appendectomy" ->
see Resection, Appendix -> 0DTJ), then choose the remaining characters in the table
(approach, device, qualifier) from the words and the Definitions.

    "laparoscopic appendectomy"
      -> "laparoscopic" names an approach: Percutaneous Endoscopic (the Definitions
         define it; APPROACH_WORDS says which chart words mean it)
      -> the Index term "Appendectomy" refers to Excision, Appendix (0DBJ) and
         Resection, Appendix (0DTJ); an -ectomy that does not say "partial" takes out
         the whole body part, which is Resection (PCS guideline B3.8), so 0DTJ first
      -> the rows of table 0DT under J: 0DTJ4ZZ (approach 4, no device, no qualifier)

**The Index.** Every typed word (approach words aside) must start a word of an
Index term's path (main term down to subterm, English stems or as typed). When no
term holds all of them, the largest groups of words that a term holds are tried
(at most MAX_WORDS words), so "knee replacement oxinium" finds Replacement > Joint >
Knee > Left / Right (0SRD, 0SRC) although no term says "oxinium"; the words left over
then choose among the codes. Terms that give a code or a code start come before those
that give a whole table (Hemicolectomy: see Resection, Gastrointestinal System 0DT),
whose codes are narrowed to the body parts the words name. A term whose
reference is "use X" (a body-part or device key: "Vermiform appendix: use
Appendix") stands for X: the lookup runs again with X in place of its words.

Sides, extent, numbers and durations ("right", "total", "24-96 hours":
REFINER_WORDS) stay out of the Index search when other words are typed: alone they
match every right-sided term; they choose among the codes instead. A word ending in
"centesis" or the word "puncture" implies the Percutaneous approach unless another
is named.

**Choosing the codes of a table.** The codes under each code start the Index gives
(its order kept: the term the words name best first) are ranked by: the approach
the words name (codes of another approach after); words left over found in the
labels of the other characters or in the Index path that gave the code start, and
device keys of the Definitions ("OXINIUM" is a
key of "Synthetic Substitute, Oxidized Zirconium on Polyethylene"); then the
general value before its variants: "No Device" / "No Qualifier" first, then a
device whose label starts the labels of others ("Synthetic Substitute" before
"Synthetic Substitute, Unicondylar Medial"), then the rest; then the code.

Only the PCS release in force on the date judges: the Index and Definitions
releases in force on the date are read (when none is, the latest that came into
force before it: the Index of an earlier year still leads to the codes of its
tables that remain valid), and only codes of the tables release in force are
returned.

**Reads.** One query a lookup: the releases in force and the Index rows of the words
together (RELEASES_INDEX_SQL; a second one only when the terms found are "use" or
"see" references without a code). What a release holds never changes once imported,
so each process keeps, by release id, each table it has read with the titles of its
codes (one query a table, the first time), and the Definitions' approaches and
device keys (one query a release). Timed by ``bench/pcs_lookup_speed.py``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connection

from codesets.models import (
    PcsDefinition,
    Release,
    System,
    Table,
)
from codesets.search import SearchHit

MAX_WORDS = 5
INDEX_ROWS = 60
MAX_POINTERS = 12
WORD = re.compile(r"[a-z0-9]+")
# Words that carry nothing for the Index (to_tsquery would drop most of them).
STOP_WORDS = frozenset(
    {"a", "an", "and", "by", "for", "in", "of", "on", "the", "to", "via", "with"}
)
# Chart words that name an approach, by the approach value's title in the
# Definitions (word prefixes; "lap" is the shorthand of the op note).
APPROACH_WORDS: dict[str, str] = {
    "laparoscop": "Percutaneous Endoscopic",
    "lap": "Percutaneous Endoscopic",
    "arthroscop": "Percutaneous Endoscopic",
    "thoracoscop": "Percutaneous Endoscopic",
    "mediastinoscop": "Percutaneous Endoscopic",
    "pelviscop": "Percutaneous Endoscopic",
    "vats": "Percutaneous Endoscopic",
    "open": "Open",
    "percutaneous": "Percutaneous",
    "transurethral": "Via Natural or Artificial Opening Endoscopic",
    "cystoscop": "Via Natural or Artificial Opening Endoscopic",
    "colonoscop": "Via Natural or Artificial Opening Endoscopic",
    "bronchoscop": "Via Natural or Artificial Opening Endoscopic",
    "hysteroscop": "Via Natural or Artificial Opening Endoscopic",
    "ureteroscop": "Via Natural or Artificial Opening Endoscopic",
    "sigmoidoscop": "Via Natural or Artificial Opening Endoscopic",
    "endoscop": "Via Natural or Artificial Opening Endoscopic",
    "transvaginal": "Via Natural or Artificial Opening",
    "transanal": "Via Natural or Artificial Opening",
    "external": "External",
}
# Words that end in these name the approach they are done by (thoracentesis,
# paracentesis, lumbar puncture: a needle through the skin), unless another is said.
IMPLIED_APPROACH = {"centesis": "Percutaneous", "puncture": "Percutaneous"}
# Words that choose among the codes the other words find rather than find a term:
# sides, extent, durations and numbers ("right", "total", "24-96 hours"). Searched
# in the Index alone, "right" would match every right-sided term.
REFINER_WORDS = frozenset(
    {
        "right",
        "left",
        "bilateral",
        "unilateral",
        "total",
        "complete",
        "initial",
        "hours",
        "hour",
        "consecutive",
        "cemented",
        "uncemented",
        "biopsy",
        "diagnostic",
    }
)
# Chart words for a value's label: a biopsy is the qualifier Diagnostic (the Index:
# "Biopsy: see Excision with qualifier Diagnostic").
LABEL_WORDS = {"biopsy": "diagnostic"}
# "percutaneous endoscopic" is one approach, not two.
APPROACH_PAIRS = {("percutaneous", "endoscopic"): "Percutaneous Endoscopic"}
# An -ectomy names the removal of the whole body part unless it says otherwise.
PARTIAL_WORDS = frozenset({"partial", "excision", "excisional", "biopsy", "wedge"})

# A typed word: the start of a word of the path, stemmed or as typed (the code
# search reads words the same way, codesets/query_words.py).
WORD_TSQUERY = "(to_tsquery('english', %s) || to_tsquery('simple', %s))"
# Rows holding any of the words, with a bit mask of the words each holds; the rows
# holding the most words first (bit_count of the mask), then main terms before
# subterms, then file order. "release_id + 0" keeps the planner off the release_id
# index (with two Index releases stored it scanned a whole release, 15 ms, instead
# of the GIN bitmap of the words, under 2 ms).
INDEX_SQL = """
SELECT path, title, see, use, code, mask FROM (
    SELECT path, title, see, use, code, level, seq, ({held}) AS mask
    FROM codesets_pcsindexterm
    WHERE release_id + 0 = %s AND search_vector @@ ({any})
) t
ORDER BY length(replace(mask::bit(8)::text, '0', '')) DESC, level, seq
LIMIT %s
"""


# The PCS releases in force on the date (tables, Index, Definitions) and the Index
# rows of INDEX_SQL, in one round trip: a row with the release ids alone (the Index
# columns NULL) when no term holds a word or no Index release is in force. When
# some terms hold every word, INDEX_SQL's rows are those terms (they hold the most
# words): they are read first, through the GIN index of the words together, and the
# rows holding any word (all the terms of a common word, "replacement": a thousand)
# are read only when there are none (a one-time test of the materialized "every"
# rows: a NOT EXISTS that searched the words again was planned as a sequential
# scan of the whole Index, ~8 ms a query).
RELEASES_INDEX_SQL = """
WITH r AS (
    SELECT (SELECT id FROM codesets_release
            WHERE system = %s AND state IN (%s, %s) AND effective_from <= %s
              AND (effective_to IS NULL OR effective_to >= %s)
            ORDER BY id DESC LIMIT 1) AS tables,
           (SELECT id FROM codesets_release
            WHERE system = %s AND state IN (%s, %s) AND effective_from <= %s
              AND (%s OR effective_to IS NULL OR effective_to >= %s)
            ORDER BY (effective_to IS NULL OR effective_to >= %s) DESC,
                     effective_from DESC, id DESC LIMIT 1) AS idx,
           (SELECT id FROM codesets_release
            WHERE system = %s AND state IN (%s, %s) AND effective_from <= %s
              AND (%s OR effective_to IS NULL OR effective_to >= %s)
            ORDER BY (effective_to IS NULL OR effective_to >= %s) DESC,
                     effective_from DESC, id DESC LIMIT 1) AS defs
), every AS MATERIALIZED (
    SELECT path, title, see, use, code, level, seq, %s AS mask
    FROM codesets_pcsindexterm, r
    WHERE release_id + 0 = r.idx AND search_vector @@ ({every})
    ORDER BY level, seq
    LIMIT %s
), anyword AS MATERIALIZED (
    SELECT path, title, see, use, code, level, seq, mask FROM (
        SELECT path, title, see, use, code, level, seq, ({held}) AS mask
        FROM codesets_pcsindexterm
        WHERE release_id + 0 = (SELECT idx FROM r) AND search_vector @@ ({any})
          AND NOT EXISTS (SELECT FROM every)
        OFFSET 0  -- the mask worked out once a row, not again for the order
    ) held
    ORDER BY {held_count} DESC, level, seq
    LIMIT %s
)
SELECT r.tables, r.idx, r.defs, t.path, t.title, t.see, t.use, t.code, t.mask
FROM r LEFT JOIN LATERAL (
    SELECT * FROM (SELECT * FROM every UNION ALL SELECT * FROM anyword) s
    ORDER BY length(replace(mask::bit(8)::text, '0', '')) DESC, level, seq
    LIMIT %s
) t ON true
"""
RELEASE_KINDS = (System.ICD10PCS, Table.ICD10PCS_INDEX, Table.ICD10PCS_DEFINITIONS)


@dataclass(frozen=True)
class PcsIndexEntry:
    """An Index term that led to codes: its path, its reference and its code start."""

    path: str
    see: str
    use: str
    code: str


@dataclass(frozen=True)
class PcsLookup:
    hits: list[SearchHit]
    entries: list[PcsIndexEntry] = field(default_factory=list)
    # The approach the words name (a Definitions title) and its definition.
    approach: str = ""
    approach_definition: str = ""


def _words(query: str) -> list[str]:
    return [w for w in WORD.findall(query.lower()) if w not in STOP_WORDS]


def _approach_of(words: list[str]) -> tuple[str, list[str]]:
    """The approach the words name, and the words without it."""
    for (first, second), title in APPROACH_PAIRS.items():
        for i in range(len(words) - 1):
            if words[i] == first and words[i + 1].startswith(second[:8]):
                return title, words[:i] + words[i + 2 :]
    for i, word in enumerate(words):
        for prefix, title in APPROACH_WORDS.items():
            if word == prefix or (len(prefix) > 4 and word.startswith(prefix)):
                return title, words[:i] + words[i + 1 :]
    for word in words:
        for ending, title in IMPLIED_APPROACH.items():
            if word.endswith(ending):
                return title, words
    return "", words


def _is_refiner(word: str) -> bool:
    return word in REFINER_WORDS or any(ch.isdigit() for ch in word)


def _index_sql(template: str, words: list[str]) -> tuple[str, list[int | str]]:
    """``template`` with the word tests of ``words`` (INDEX_SQL's "held" bit mask,
    "any" and "every" conditions), and the parameters of one of them."""
    held = " + ".join(
        f"(search_vector @@ {WORD_TSQUERY})::int * {1 << i}" for i in range(len(words))
    )
    params: list[int | str] = []
    for word in words:
        params += [f"{word}:*", f"{word}:*"]
    sql = template.format(
        held=held,
        # the words a row holds: the bits of its mask
        held_count=" + ".join(f"(mask >> {i} & 1)" for i in range(len(words))),
        any=" || ".join([WORD_TSQUERY] * len(words)),
        every=" && ".join(f"({WORD_TSQUERY})" for _ in words),
    )
    return sql, params


def _releases_and_index(
    day: dt.date, words: list[str], *, latest: bool = False
) -> tuple[tuple[int | None, int | None, int | None], list[tuple[str, ...]]]:
    """The ids of the tables, Index and Definitions releases in force on ``day``, and
    the Index rows holding any of ``words`` (INDEX_SQL's rows): one query. With
    ``latest``, when no Index or Definitions release is in force on ``day``, the
    latest that came into force before it."""
    words = list(dict.fromkeys(words))[:MAX_WORDS]
    sql, params = _index_sql(RELEASES_INDEX_SQL, words)
    states = [Release.State.ACTIVE, Release.State.RETIRED]
    # The Index and Definitions releases: (kind, states, day, latest, day, day) each.
    later: list[str | bool | dt.date] = []
    for kind in RELEASE_KINDS[1:]:
        later += [kind, *states, day, latest, day, day]
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                System.ICD10PCS,
                *states,
                day,
                day,
                *later,
                (1 << len(words)) - 1,  # the mask of the rows holding every word
                *params,  # every
                INDEX_ROWS,
                *params,  # held
                *params,  # any
                INDEX_ROWS,
                INDEX_ROWS,
            ],
        )
        found = cursor.fetchall()
    tables, index, definitions = found[0][:3]
    return (tables, index, definitions), [r[3:] for r in found if r[3] is not None]


def _index_lookup(
    release_id: int, words: list[str], rows: list[tuple] | None = None
) -> tuple[list[tuple], list[str]]:
    """Index rows holding the most of ``words`` (all if one term does), each with the
    words its path does not hold, and the words no row of that group holds. One
    query (none when ``rows``, INDEX_SQL's rows for these words, are given): each
    row says which words it holds (a bit mask)."""
    words = list(dict.fromkeys(words))[:MAX_WORDS]
    if not words:
        return [], []
    if rows is None:
        sql, params = _index_sql(INDEX_SQL, words)
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, release_id, *params, INDEX_ROWS])
            rows = cursor.fetchall()
    if not rows:
        return [], words
    most = max(bin(r[-1]).count("1") for r in rows)
    best = [r for r in rows if bin(r[-1]).count("1") == most]
    used = 0
    for row in best:
        used |= row[-1]
    leftover = [w for i, w in enumerate(words) if not used & (1 << i)]
    # Each row with the words its own path does not hold (they choose its codes).
    return [
        (*r[:-1], tuple(w for i, w in enumerate(words) if not r[-1] & (1 << i)))
        for r in best
    ], leftover


@lru_cache(maxsize=8)
def _definitions(
    release_id: int,
) -> tuple[dict[str, str], dict[str, list[tuple[set[str], str]]]]:
    """Approach definitions by title, and device keys: (key words, device title),
    filed under one word of the key (the first in sort order): a key all of whose
    words are typed is found under a typed word."""
    approaches: dict[str, str] = {}
    device_keys: dict[str, list[tuple[set[str], str]]] = {}
    for d in PcsDefinition.objects.filter(release_id=release_id, axis__in=(5, 6)):
        if d.axis == 5:
            for title in d.titles:
                approaches.setdefault(title, d.definition)
            continue
        for key in d.includes:
            key_words = {w for w in WORD.findall(key.lower()) if w not in ("r", "tm")}
            key_words -= STOP_WORDS
            if not key_words:
                continue
            for title in d.titles:
                device_keys.setdefault(min(key_words), []).append((key_words, title))
    return approaches, device_keys


@lru_cache(maxsize=8192)
def _spaced(text: str) -> str:
    """The words of ``text``, each after a space: " replacement joint knee"."""
    return " " + " ".join(WORD.findall(text.lower()))


def _starts_a_word(word: str, text: str) -> bool:
    # ``word`` is letters and digits only: found after a space, it starts a word.
    return f" {word}" in _spaced(text)


def _names_device(definition_title: str, label: str) -> bool:
    """The Definitions title a device value by its label and, where the same label
    means other things elsewhere, where it goes: "Articulating Spacer in Lower
    Joints", "Synthetic Substitute, Ceramic for Replacement in Lower Joints"."""
    return definition_title == label or definition_title.startswith(
        (f"{label} in ", f"{label} for ")
    )


# Endings of the words that name an operation on a body part ("thyroidectomy",
# "splenectomy", "tonsillectomy"): what comes before names the body part.
OPERATION_ENDINGS = re.compile(
    r"(ectomy|ectomies|otomy|ostomy|oscopy|oplasty|opexy|orrhaphy|ocentesis|olysis)$"
)


def _body_word(word: str) -> str:
    """The body-part word of a typed word: itself, or the first four letters of what
    comes before an operation ending ("thyroidectomy" -> "thyr", "splenectomy" ->
    "sple")."""
    stem = OPERATION_ENDINGS.sub("", word)
    return stem[:4] if stem != word and len(stem) >= 4 else word


@lru_cache(maxsize=1 << 16)
def _label_names(label: str, stems: tuple[str, ...]) -> bool:
    return any(_starts_a_word(stem, label) for stem in stems)


def _generic_penalty(label: str, values: list[str]) -> float:
    """0 for "No Device" / "No Qualifier"; between 1 and 2 for the head of a family
    of values (the more values it starts, the more general); 2 for the rest."""
    if label.startswith("No "):
        return 0
    family = len({v for v in values if v != label and v.startswith(label)})
    return 1 + 1 / (1 + family) if family else 2


@dataclass(frozen=True, slots=True)
class Value:
    """One character of a code: its axis title, label and generic penalty."""

    axis: str
    label: str
    penalty: float


# A table of a tables release and the codes of the release under it (kind "code"),
# each with its title and the dates it is valid between (NULL: open), in one query.
TABLE_SQL = """
SELECT t.data,
       (SELECT coalesce(json_agg(json_build_array(
                   c.code, c.long_title, c.valid_from, c.valid_to)), '[]')
        FROM codesets_code c
        WHERE c.system = %(system)s AND c.code LIKE %(start)s
          AND c.release_ids && ARRAY[%(release)s::bigint] AND c.kind = 'code')
FROM codesets_pcstable t
WHERE t.system = %(system)s AND t.code = %(code)s
  AND t.release_ids @> ARRAY[%(release)s::bigint]
LIMIT 1
"""

# A code's title and the ISO dates it is valid between ("" when open).
Titled = tuple[str, str, str]


@lru_cache(maxsize=1024)
def _table(release_id: int, code: str) -> tuple[dict, dict[str, list[Titled]]] | None:
    """A table of a tables release and the titles of its codes, by code (cached: a
    release's tables and codes never change once imported)."""
    with connection.cursor() as cursor:
        cursor.execute(
            TABLE_SQL,
            {
                "system": System.ICD10PCS,
                "code": code,
                # A PCS character is never a LIKE wildcard.
                "start": f"{code}%",
                "release": release_id,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    # Django leaves JSON to the fields that read it: a raw cursor gets the text.
    data, codes = (json.loads(v) if isinstance(v, str) else v for v in row)
    titles: dict[str, list[Titled]] = {}
    for found, title, valid_from, valid_to in codes:
        titles.setdefault(found, []).append((title, valid_from or "", valid_to or ""))
    return data, titles


def _table_data(release_id: int, code: str) -> dict | None:
    """A table of a tables release (its content never changes once imported)."""
    table = _table(release_id, code)
    return table[0] if table else None


# A table row's characters 4-7: per axis, its (character, Value) pairs by character.
Axis = tuple[tuple[str, Value], ...]


# Every row of each table read, with the Values of its characters: ~900 tables for a
# tables release, small once read (the Values are shared: one per axis, label and
# penalty). Cached per table, not per code start: the starts of one table share it.
@lru_cache(maxsize=2048)
def _table_rows(release_id: int, table: str) -> tuple[tuple[Axis, ...], ...]:
    """The rows of a table of a tables release, each as its axes 4-7 (cached: a
    release's tables never change)."""
    data = _table_data(release_id, table)
    if data is None:
        return ()
    # Every label of each axis in the table: a device is a family's head if it
    # starts the labels of others anywhere in the table.
    labels: dict[int, list[str]] = {}
    for row in data["rows"]:
        for a in row["axes"]:
            labels.setdefault(a["pos"], []).extend(x["label"] for x in a["values"])
    values: dict[tuple[str, str, int], Value] = {}

    def value(axis: dict, label: str) -> Value:
        key = (axis["title"], label, axis["pos"])
        found = values.get(key)
        if found is None:
            found = values[key] = Value(
                axis=axis["title"],
                label=label,
                penalty=_generic_penalty(label, labels[axis["pos"]])
                if axis["pos"] >= 6
                else 0,
            )
        return found

    return tuple(
        tuple(
            tuple(
                sorted(
                    ((v["code"], value(a, v["label"])) for v in a["values"]),
                    key=lambda pair: pair[0],
                )
            )
            for a in row["axes"]
        )
        for row in data["rows"]
    )


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a lookup reads in the characters of the codes it ranks."""

    path: str  # the Index path that gave the code start
    approach: str  # the approach label the words name ("" when none)
    leftover: tuple[str, ...]  # words the Index term left unsaid
    devices: frozenset[str]  # Definitions titles of the devices the words name
    typed: tuple[str, ...]  # every word typed


def _ranked_codes(
    release_id: int,
    pointer: str,
    wanted: Wanted,
    *,
    limit: int,
    body_words: tuple[str, ...] | None = None,
) -> list[tuple[tuple, str]]:
    """The first ``limit`` codes under a code start, best first, each with its
    score: (approach missed, -words and devices said, body-part words beyond those
    typed, how generic the characters are), ties by code.

    ``body_words``: for a whole table, keep the codes whose body part these words
    name, when some do.

    A code's score adds up what each of its characters says (the words said: a
    union), so the characters of an axis that score alike are ranked once, as a
    group: a table of thousands of codes is a few dozen groups, and only the best
    groups are spelled out as codes."""
    fixed = pointer[3:]
    # The rows under the code start, each axis cut to the characters it fixes.
    under: list[tuple[Axis, ...]] = []
    for row in _table_rows(release_id, pointer[:3]):
        axes = tuple(
            tuple(p for p in axis if p[0] == fixed[i]) if i < len(fixed) else axis
            for i, axis in enumerate(row)
        )
        if all(axes):
            under.append(axes)
    if body_words is not None:
        stems = _body_words(tuple(w for w in body_words if len(w) >= 3))
        # A code is kept when its body part is one the words name.
        named = [
            cut
            for cut in (
                tuple(
                    tuple(p for p in axis if _label_names(p[1].label, stems))
                    if axis[0][1].axis == "Body Part"
                    else axis
                    for axis in axes
                )
                for axes in under
                if any(axis[0][1].axis == "Body Part" for axis in axes)
            )
            if all(cut)
        ]
        under = named or under
    words = wanted.leftover
    unique = tuple(dict.fromkeys(words))
    bit = {w: 1 << i for i, w in enumerate(unique)}
    # How many of the leftover words (as typed: repeats count) a set of them says.
    weight = [
        sum(1 for w in words if mask & bit[w]) for mask in range(1 << len(unique))
    ]
    path_mask = sum(bit[w] for w in _words_said(wanted.path, unique))
    stems_typed = _body_words(wanted.typed)
    start = len(fixed)
    levels: dict[tuple, list[tuple[Axis, ...]]] = {}
    for axes in under:
        # Per axis, its characters grouped by what they add to the score.
        grouped: list[list[tuple[tuple, Axis]]] = []
        approach_seen = False
        for i, axis in enumerate(axes):
            groups: dict[tuple, list[tuple[str, Value]]] = {}
            for pair in axis:
                v = pair[1]
                miss = 0
                if v.axis == "Approach":
                    approach_seen = True
                    miss = int(bool(wanted.approach) and v.label != wanted.approach)
                key: tuple = (miss, 0, 0, 0, 0)
                if i >= start:
                    mask = 0
                    if not v.label.startswith("No "):
                        for w in _words_said(v.label, unique):
                            mask |= bit[w]
                    device = int(
                        v.axis == "Device"
                        and any(_names_device(d, v.label) for d in wanted.devices)
                    )
                    beyond = (
                        _words_beyond(v.label, stems_typed)
                        if v.axis == "Body Part"
                        else 0
                    )
                    key = (miss, mask, device, beyond, v.penalty)
                groups.setdefault(key, []).append(pair)
            grouped.append([(k, tuple(g)) for k, g in groups.items()])
        no_approach = int(bool(wanted.approach) and not approach_seen)
        for combo in itertools.product(*grouped):
            miss = no_approach
            mask = path_mask
            device = beyond = 0
            generic = 0
            for key, _pairs in combo:
                miss += key[0]
                mask |= key[1]
                device += key[2]
                beyond += key[3]
                generic += key[4]
            score = (miss, -(weight[mask] + device), beyond, generic)
            levels.setdefault(score, []).append(tuple(p for _k, p in combo))
    table = pointer[:3]
    out: list[tuple[tuple, str]] = []
    for score in sorted(levels):
        # The codes of one score, by code: each group's product runs in code order.
        spelled = heapq.merge(
            *(
                (
                    table + "".join(p[0] for p in chars)
                    for chars in itertools.product(*c)
                )
                for c in levels[score]
            )
        )
        out.extend(
            (score, code) for code in itertools.islice(spelled, limit - len(out))
        )
        if len(out) >= limit:
            break
    return out


# _rank reads the same labels for every code of a table (a lookup ranks hundreds to
# thousands of codes): what a label says of the words is kept per process (pure
# functions of their arguments; labels and words are short strings).
@lru_cache(maxsize=1 << 16)
def _words_said(text: str, words: tuple[str, ...]) -> frozenset[str]:
    """Which of ``words`` ``text`` says (a word of it starts with the word, or with
    the label word it stands for, LABEL_WORDS)."""
    return frozenset(w for w in words if _starts_a_word(LABEL_WORDS.get(w, w), text))


@lru_cache(maxsize=1 << 12)
def _body_words(typed: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_body_word(w) for w in typed)


@lru_cache(maxsize=1 << 16)
def _words_beyond(label: str, stems: tuple[str, ...]) -> int:
    """How many words of a body-part label go beyond the typed words (their body
    words, ``stems``)."""
    return sum(
        1
        for label_word in WORD.findall(label.lower())
        if label_word not in STOP_WORDS
        and not any(label_word.startswith(stem) for stem in stems)
    )


def _pointer_order(rows: list[tuple], words: list[str]) -> list[tuple]:
    """Terms that give a code or a code start before those that give a whole table;
    Resection before Excision of the same body part for an -ectomy that does not say
    partial, Excision first when it does; else the Index order."""
    partial = any(w in PARTIAL_WORDS for w in words)

    def key(row: tuple) -> tuple[int, int]:
        see = row[2]
        operation = 0
        if see.startswith("Resection"):
            operation = 1 if partial else 0
        elif see.startswith("Excision"):
            operation = 0 if partial else 1
        return (len(row[4]) <= 3, operation)

    return sorted(rows, key=key)


def pcs_lookup(
    *,
    query: str,
    day: dt.date,
    limit: int = 20,
    refine: tuple[str, ...] = (),
    latest: bool = False,
) -> PcsLookup:
    """PCS codes valid on ``day`` that the Index leads to from the words of ``query``;
    ``refine``: more words that choose among the codes without being looked up in
    the Index (the device and qualifier words of an abbreviation, pcs_phrases.py);
    ``latest``: read the latest Index when none is in force on ``day``."""
    words = _words(query)
    if not words:
        return PcsLookup(hits=[])
    approach, rest = _approach_of(words)
    # The approach word is the term when nothing else is ("colonoscopy with biopsy").
    terms = [w for w in rest if not _is_refiner(w)] or [
        w for w in words if not _is_refiner(w)
    ]
    rest = rest or words
    # Refiners stay out of the Index search unless they are all there is.
    refiners = [w for w in words if _is_refiner(w)] if terms else []
    refiners += [w for w in refine if w not in refiners]
    # One query: the releases in force and the Index rows of the words.
    (tables_id, index_id, definitions_id), found = _releases_and_index(
        day, terms or rest, latest=latest
    )
    if tables_id is None or index_id is None:
        return PcsLookup(hits=[])
    rows, leftover = _index_lookup(index_id, terms or rest, found)
    if rows and not any(r[4] for r in rows):
        # Only references without a code: "Vermiform appendix: use Appendix",
        # "Fracture: see Reposition". Look again with what they refer to.
        refer = next((r[3] or r[2] for r in rows if r[3] or r[2]), "")
        if refer:
            rows, _left = _index_lookup(index_id, leftover + _words(refer))
    rows = [r for r in rows if r[4]]
    rows = _pointer_order(rows, words)
    if len(rows) > MAX_POINTERS and refiners:
        # More terms than are read: of the whole codes the Index gives, those whose
        # path says more of the refining words first ("Heart > Right and Left >
        # Transesophageal" B246ZZ4 for a TEE); code starts keep their places.
        rows.sort(
            key=lambda r: (
                (len(r[4]) == 7) * -sum(1 for w in refiners if _starts_a_word(w, r[0]))
            )
        )
    pointers: list[str] = []
    entries: list[PcsIndexEntry] = []
    left_of: dict[str, list[str]] = {}
    for path, _title, see, use, code, left in rows:
        if code not in pointers and len(pointers) < MAX_POINTERS:
            pointers.append(code)
            left_of[code] = [*left, *(w for w in refiners if w not in left)]
            entries.append(PcsIndexEntry(path=path, see=see, use=use, code=code))
    approach_definition = ""
    devices: set[str] = set()
    if definitions_id is not None:
        approaches, device_keys = _definitions(definitions_id)
        approach_definition = approaches.get(approach, "")
        typed = set(words) | set(refine)
        devices = {
            title
            for word in typed
            for key, title in device_keys.get(word, ())
            if key <= typed
        }
    paths = {e.code: e.path for e in entries}
    typed_words = tuple(dict.fromkeys([*words, *refine]))
    wanted_devices = frozenset(devices)
    ranked: list[tuple] = []
    for order, pointer in enumerate(pointers):
        wanted = Wanted(
            path=paths[pointer],
            approach=approach,
            leftover=tuple(left_of[pointer]),
            devices=wanted_devices,
            typed=typed_words,
        )
        ranked.extend(
            ((len(pointer) <= 3, *score), order, code)
            for score, code in _ranked_codes(
                tables_id,
                pointer,
                wanted,
                limit=limit,
                # A whole table: the body parts the words name, when they name some.
                body_words=tuple(words) if len(pointer) == 3 else None,
            )
        )
    ranked.sort()
    seen: set[str] = set()
    best: list[str] = []
    for _score, _order, code in ranked:
        if code not in seen:
            seen.add(code)
            best.append(code)
        if len(best) == limit:
            break
    titles = _titles(tables_id, best, day)
    hits = [
        SearchHit(
            system=System.ICD10PCS,
            code=code,
            title=titles[code],
            billable=True,
            kind="code",
        )
        for code in best
        if code in titles
    ]
    return PcsLookup(
        hits=hits,
        entries=entries,
        approach=approach,
        approach_definition=approach_definition,
    )


def _titles(release_id: int, codes: list[str], day: dt.date) -> dict[str, str]:
    """The titles of ``codes`` in the release, those valid on ``day`` (read with their
    tables, already in memory: no query once the tables are)."""
    on = day.isoformat()
    out: dict[str, str] = {}
    for code in codes:
        table = _table(release_id, code[:3])
        for title, valid_from, valid_to in table[1].get(code, ()) if table else ():
            if (not valid_from or valid_from <= on) and (
                not valid_to or valid_to >= on
            ):
                out[code] = title
    return out


def lead_with_index_hits(
    hits: list[SearchHit],
    *,
    query: str,
    day: dt.date,
    limit: int,
    pcs_only: bool,
) -> list[SearchHit]:
    """The code search's hits with the codes the Index leads to: first when the
    search is for ICD-10-PCS alone, else after the others (within ``limit``).

    Op-note shorthand ("R THA", "EGD with biopsy", codesets/pcs_phrases.py) is read
    as the Index words it stands for, through the latest Index when none is in force,
    and its codes lead. A query no curated PCS phrase covers (codesets/synonyms.py)
    is read through the latest Index when none is in force."""
    from codesets.pcs_phrases import expand, normalize

    expanded = expand(query)
    if expanded is not None:
        # Shorthand read as the Index words it stands for (pcs_phrases.py).
        found = pcs_lookup(
            query=expanded[0], day=day, limit=limit, refine=expanded[1], latest=True
        ).hits
        pcs_only = pcs_only or bool(found)
    elif not pcs_only and len(hits) >= limit:
        # The Index's codes would follow the others, and the others fill the page.
        return hits
    else:
        normalized = normalize(query)
        fallback = not _has_pcs_synonym(query)
        if fallback and _words(normalized) == _words(query):
            # The Index in force, else the latest: one look (what the two below
            # come to when the Index files the words as typed).
            found = pcs_lookup(query=query, day=day, limit=limit, latest=True).hits
        else:
            found = pcs_lookup(query=query, day=day, limit=limit).hits
            if not found and fallback:
                # No Index in force, or words the Index files otherwise ("R
                # forearm"), and no curated phrase (the code search reads those as
                # the code set's words): the latest Index leads.
                found = pcs_lookup(
                    query=normalized, day=day, limit=limit, latest=True
                ).hits
    if not found:
        return hits
    first, then = (found, hits) if pcs_only else (hits, found)
    merged: list[SearchHit] = []
    seen: set[tuple[str, str]] = set()
    for hit in [*first, *then]:
        if (hit.system, hit.code) not in seen:
            seen.add((hit.system, hit.code))
            merged.append(hit)
    return merged[:limit]


def _has_pcs_synonym(query: str) -> bool:
    """Whether the query holds a curated ICD-10-PCS phrase (codesets/synonyms.py):
    then the code search already reads it as the code set's words."""
    from codesets import synonyms
    from codesets.query_words import typed_words

    synonyms.load()
    words = tuple(typed_words(query))
    return any(
        words[i : i + len(phrase)] == phrase
        for phrase in synonyms.synonyms_for(System.ICD10PCS)
        for i in range(len(words) - len(phrase) + 1)
    )
