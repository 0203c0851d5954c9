"""What the audit rules know about codes: each code of each release with its notes
and its parent, read in bulk and kept per process.

Codes and notes of a release never change once it is imported (rows are shared
between releases but a release's membership is fixed), so a (release, code) entry
can be cached for the life of the process. The audit job reads a chunk of
encounters, asks :func:`nodes_load` for every code they use (one or two queries for
whatever is not cached yet), then runs every rule in memory: that is what makes
hundreds of encounters per second possible.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from codesets.models import Code, Note

T = TypeVar("T")

RULE_NOTE_KINDS = (
    "excludes1",
    "code_first",
    "use_additional_code",
    "seventh_character",
    "code_also",  # the coding form's prompts (encounters.audit.selectors)
)


@dataclass(frozen=True)
class Spec:
    """A code reference in a note: ``E13.-`` (E13 and below), ``K85-K86.-`` (a range)."""

    low: str
    high: str = ""
    text: str = ""
    # "(E08-E13 with .42)": only the codes of the range with these characters after
    # the category.
    suffix: str = ""

    def matches(self, code: str) -> bool:
        if self.suffix and not code[3:].startswith(self.suffix):
            return False
        if not self.high:
            return code.startswith(self.low)
        return code[: len(self.low)] >= self.low and code[: len(self.high)] <= self.high


@dataclass
class Node:
    code: str
    kind: str
    billable: bool
    parent: str
    title: str
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    notes: dict[str, list[str]] = field(default_factory=dict)
    seventh: dict[str, str] = field(default_factory=dict)  # character -> meaning

    def in_range(self, day: dt.date) -> bool:
        """The code's own dates (HCPCS) allow ``day``."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


_PAREN = re.compile(r"\(([^()]*)\)")
_CODE = r"[A-Z][0-9][0-9A-Z](?:\.?[0-9A-Z]{1,4})?"
_WITH = re.compile(r"\bwith \.([0-9A-Z]+)")
_BELOW = r"(?:\.-|-(?![A-Z0-9]))?"  # "E13.-" / "T80.22-": the code and below
_ITEM = re.compile(rf"({_CODE}){_BELOW}(?:\s*-\s*({_CODE}){_BELOW})?")


@functools.lru_cache(maxsize=50_000)
def note_specs(text: str) -> tuple[Spec, ...]:
    """The codes a note names, from its parentheses: ``diabetes (E08-E13)``."""
    specs = []
    for group in _PAREN.findall(text):
        with_suffix = _WITH.search(group)
        suffix = with_suffix.group(1) if with_suffix else ""
        for match in _ITEM.finditer(_WITH.sub("", group)):
            low = match.group(1).replace(".", "")
            high = (match.group(2) or "").replace(".", "")
            specs.append(Spec(low=low, high=high, text=text, suffix=suffix))
    return tuple(specs)


@functools.lru_cache(maxsize=50_000)
def note_codes(text: str) -> tuple[str, ...]:
    """The code references of a note as the tabular writes them ("N18.1-N18.6",
    "L97.4-"), one per comma-separated item of its parentheses."""
    out = []
    for group in _PAREN.findall(text):
        for item in group.split(","):
            item = item.strip()
            if _ITEM.match(item) and not item.lower().startswith("with"):
                out.append(item)
    return tuple(out)


_cache: dict[tuple[int, str], Node | None] = {}
# Values derived from cached nodes (a code's requirements), keyed by what they
# were derived from; cleared with the nodes.
_memo: dict[tuple, Any] = {}
_lock = threading.Lock()
MAX_CACHED = 400_000


def nodes_load(release_id: int, codes: set[str], system: str = "icd10cm") -> None:
    """Make sure the cache holds ``codes`` of the release and all their ancestors
    (with their notes, for ICD-10-CM)."""
    wanted = {c for c in codes if (release_id, c) not in _cache}
    while wanted:
        rows = {
            row.code: row
            for row in Code.objects.filter(
                system=system, code__in=wanted, release_ids__contains=[release_id]
            ).only(
                "code",
                "kind",
                "billable",
                "parent",
                "long_title",
                "valid_from",
                "valid_to",
            )
        }
        notes: dict[str, list[Note]] = {}
        if rows and system == "icd10cm":
            for note in (
                Note.objects.filter(
                    system="icd10cm",
                    code__in=list(rows),
                    kind__in=RULE_NOTE_KINDS,
                    release_ids__contains=[release_id],
                )
                .only("code", "kind", "text", "character", "seq")
                .order_by("code", "kind", "seq")
            ):
                notes.setdefault(note.code, []).append(note)
        found: dict[tuple[int, str], Node | None] = {}
        parents = set()
        for code in wanted:
            row = rows.get(code)
            if row is None:
                found[(release_id, code)] = None
                continue
            node = Node(
                code=code,
                kind=row.kind,
                billable=row.billable,
                parent=row.parent,
                title=row.long_title,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
            )
            for note in notes.get(code, []):
                if note.kind == "seventh_character":
                    node.seventh[note.character] = note.text
                else:
                    node.notes.setdefault(note.kind, []).append(note.text)
            found[(release_id, code)] = node
            if row.parent and system == "icd10cm":
                parents.add(row.parent)
        with _lock:
            if len(_cache) > MAX_CACHED:
                _cache.clear()
                _memo.clear()
            _cache.update(found)
        wanted = {p for p in parents if (release_id, p) not in _cache}


def node(release_id: int, code: str) -> Node | None:
    return _cache.get((release_id, code))


def chain(release_id: int, code: str) -> list[Node]:
    """The code and its ancestors up to the chapter (nearest first)."""
    out = []
    current = node(release_id, code)
    seen = set()
    while current is not None and current.code not in seen:
        seen.add(current.code)
        out.append(current)
        current = node(release_id, current.parent) if current.parent else None
    return out


def notes_of(release_id: int, code: str, kind: str) -> tuple[tuple[str, str], ...]:
    """(text, where) of the notes of ``kind`` on the code and its ancestors."""
    key = ("notes", release_id, code, kind)
    try:
        return _memo[key]
    except KeyError:
        pass
    found = tuple(
        (text, n.code)
        for n in chain(release_id, code)
        for text in n.notes.get(kind, [])
    )
    if (release_id, code) in _cache:  # loaded: final (an unloaded code may be later)
        _memo[key] = found
    return found


def seventh_definition(release_id: int, code: str) -> tuple[str, dict[str, str]]:
    """The nearest 7th-character definition above ``code``: (where, choices)."""
    for n in chain(release_id, code):
        if n.seventh:
            return n.code, n.seventh
    return "", {}


def memo(key: tuple, compute: Callable[[], T]) -> T:
    """``compute()`` once per key for the life of the node cache."""
    try:
        return _memo[key]
    except KeyError:
        value = _memo[key] = compute()
        return value


def cache_clear() -> None:
    with _lock:
        _cache.clear()
        _memo.clear()
