"""The ICD-10-PCS table builder: one character at a time, only what the tables allow.

A coder builds a PCS code the way the tables are read: section, body system,
operation (the three characters that name a table), then body part, approach,
device and qualifier from one row of that table. ``pcs_builder_step`` answers, for
a date of service and the characters chosen so far (0 to 7), which values the
next character may take in the tables of the ICD-10-PCS release in force on that
date, with the label of each and what explains it; at seven characters it gives
the finished code's title and validity.

Reads (two queries a step, three for a finished code; measured on the full tables
by ``bench/pcs_builder.py``; the Definitions explainer adds one from character 3 on):

* the release in force on the date (``release_in_force``);
* characters 1 and 2: the sections and body systems that begin some table of the
  release (from the tables' codes), titled by the header rows the tables import
  wrote (``Code`` kinds ``chapter`` and ``block``, read by code);
* character 3: the tables of the chosen body system, axes 1-3 only (operation
  label and the tables' own ``<definition>``);
* characters 4 to 7: the one table, its rows narrowed to those that allow every
  character chosen so far (a body part's approaches are those of the rows that
  list the body part);
* seven characters: the code as the release has it (``code_on``).

A character the tables refuse at step n costs the queries of step n as well.

**Explanations.** The tables XML defines the operations only. Other sources (the
ICD-10-PCS Definitions: approach definitions, body-part and device keys) plug in
as *explainers*: ``explainer_register(fn)`` adds a callable that receives the step
(date, characters chosen, position and axis, the values offered) and returns notes
per character; the builder shows whatever they return beside the tables' own
definition, and nothing when none is registered. ``codesets.pcs_explain`` is one
(registered by ``CodesetsConfig.ready``): the ICD-10-PCS Definitions in force. An explainer must not raise
for a step it knows nothing of: it returns ``{}``; it should answer a step with one
query (it is asked on every keystroke). Register it once per process, e.g. from
the providing app's ``AppConfig.ready``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from django.db import connection
from django.db.models.fields.json import KeyTransform

from codesets.models import PcsTable, Release, System
from codesets.selectors import code_on, release_in_force

# The characters of ICD-10-PCS, in the tables' order: digits, then letters without
# I and O (never used, so that they are not read as 1 and 0).
PCS_CHARACTERS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PCS_ORDER = {ch: n for n, ch in enumerate(PCS_CHARACTERS)}
CODE_LENGTH = 7
# What position 1 is called in every table.
SECTION_AXIS = "Section"


@dataclass(frozen=True)
class ValueNote:
    """One explanation of a value: "Definition", "Explanation", "Includes", ..."""

    kind: str
    text: str


@dataclass(frozen=True)
class BuilderValue:
    """One value the next character may take."""

    character: str
    label: str
    # The characters chosen so far followed by this one: what choosing it builds.
    prefix: str
    notes: tuple[ValueNote, ...] = ()


@dataclass(frozen=True)
class BuilderChoice:
    """A character already chosen, with what it means in its table."""

    position: int
    axis: str
    character: str
    label: str


@dataclass(frozen=True)
class BuilderStep:
    day: dt.date
    release: Release | None
    # What was asked, normalised (upper case, no dots or spaces, at most 7).
    typed: str
    # The longest start of ``typed`` the tables allow: the characters chosen.
    prefix: str
    path: tuple[BuilderChoice, ...] = ()
    # The position (1-7) and axis of the next character; 0 and "" once complete.
    position: int = 0
    axis: str = ""
    values: tuple[BuilderValue, ...] = ()
    # Why ``typed`` went no further than ``prefix``, or why nothing is offered.
    message: str = ""
    # Seven valid characters: the code's official title, as the release has it.
    title: str = ""
    valid: bool = False

    @property
    def complete(self) -> bool:
        return len(self.prefix) == CODE_LENGTH and self.valid

    @property
    def code(self) -> str | None:
        """The finished code, once seven valid characters are chosen."""
        return self.prefix if self.complete else None

    @property
    def release_label(self) -> str | None:
        return self.release.label if self.release else None

    @property
    def table(self) -> str:
        return self.prefix[:3] if len(self.prefix) >= 3 else ""

    @property
    def slots(self) -> list[BuilderChoice | None]:
        """The seven positions, chosen or not: the code shown growing."""
        chosen: list[BuilderChoice | None] = list(self.path)
        return chosen + [None] * (CODE_LENGTH - len(chosen))


class ValueExplainer(Protocol):
    """A source of explanations for the values of one step (see the module doc)."""

    def __call__(
        self,
        *,
        day: dt.date,
        path: Sequence[BuilderChoice],
        position: int,
        axis: str,
        values: Sequence[BuilderValue],
    ) -> Mapping[str, Sequence[ValueNote]]: ...


_EXPLAINERS: list[ValueExplainer] = []


def explainer_register(explainer: ValueExplainer) -> None:
    """Add a source of explanations (once; registering it again does nothing)."""
    if explainer not in _EXPLAINERS:
        _EXPLAINERS.append(explainer)


def explainer_unregister(explainer: ValueExplainer) -> None:
    if explainer in _EXPLAINERS:
        _EXPLAINERS.remove(explainer)


def normalize_prefix(prefix: str) -> str:
    """What a coder typed as the characters of a code: "0sr.c" -> "0SRC" (as
    static/js/pcs_builder.js normalises the builder's box)."""
    kept = (ch for ch in prefix.upper() if not ch.isspace() and ch not in ".-")
    return "".join(kept)[:CODE_LENGTH]


def pcs_builder_step(*, prefix: str, day: dt.date) -> BuilderStep:
    """The values the next character of ``prefix`` may take in the ICD-10-PCS tables
    in force on ``day``; at seven characters, the finished code. Characters the
    tables do not allow are not taken: the step stops before the first of them and
    says why."""
    typed = normalize_prefix(prefix)
    release = release_in_force(system=System.ICD10PCS, day=day)
    if release is None:
        return BuilderStep(
            day=day,
            release=None,
            typed=typed,
            prefix="",
            message=f"No ICD-10-PCS release covers {day:%Y-%m-%d}: there are no tables "
            "to build a code from for that date.",
        )
    # Each step asks for what it needs and stops at the first character the
    # tables refuse; a refused table or body system falls back to the step before.
    step = _table_step(release, typed, day) if len(typed) >= 3 else None
    if step is None and len(typed) >= 2:
        step = _operation_step(release, typed, day)
    if step is None:
        step = _header_step(release, typed, day)
    if step.values:
        step = _explained(step)
    return step


# --- characters 1-3: the headers and tables that exist ------------------------------

# Every section and the body systems of one section, those only that begin some
# table of the release (read from the tables' codes, a few hundred short rows, then
# the header rows by code), and what that section calls its second axis. Asking the
# header rows by kind instead would scan every code of the release.
HEADERS_SQL = """
WITH t AS (
    SELECT code FROM codesets_pcstable
    WHERE system = %(system)s AND release_ids @> ARRAY[%(release)s::bigint]
)
SELECT c.code, c.long_title,
       (SELECT p.data -> 'axes' -> 1 ->> 'title' FROM codesets_pcstable p
         WHERE p.system = %(system)s AND p.release_ids @> ARRAY[%(release)s::bigint]
           AND p.code LIKE %(section)s
         LIMIT 1) AS axis
FROM codesets_code c
WHERE c.system = %(system)s AND c.release_ids @> ARRAY[%(release)s::bigint]
  AND c.code IN (SELECT substr(code, 1, 1) FROM t
                 UNION SELECT substr(code, 1, 2) FROM t WHERE code LIKE %(section)s)
"""


def _header_step(release: Release, typed: str, day: dt.date) -> BuilderStep:
    """The first two characters: sections, then the body systems of the section.
    Stops at the longest start of ``typed`` that begins a table of the release."""
    section = typed[:1] if typed[:1] in PCS_ORDER else ""
    with connection.cursor() as cursor:
        cursor.execute(
            HEADERS_SQL,
            {
                "system": System.ICD10PCS,
                "release": release.id,
                # A PCS character is never a LIKE wildcard.
                "section": f"{section}%" if section else "",
            },
        )
        headers = {
            code: (title, SECTION_AXIS if len(code) == 1 else axis or "")
            for code, title, axis in cursor.fetchall()
        }
    if not headers:
        return _no_tables(release, typed, day)
    path: list[BuilderChoice] = []
    chosen = ""
    for size in (1, 2):
        start = typed[:size]
        if len(start) < size or start not in headers:
            break
        title, axis = headers[start]
        path.append(BuilderChoice(size, axis or SECTION_AXIS, start[-1], title))
        chosen = start
    position = len(chosen) + 1
    offered = sorted(
        (c for c in headers if len(c) == position and c.startswith(chosen)),
        key=lambda c: PCS_ORDER[c[-1]],
    )
    step = BuilderStep(
        day=day,
        release=release,
        typed=typed,
        prefix=chosen,
        path=tuple(path),
        position=position,
        axis=headers[offered[0]][1] if offered else SECTION_AXIS,
        values=tuple(BuilderValue(c[-1], headers[c][0], c) for c in offered),
    )
    if len(typed) > len(chosen):
        step = replace(step, message=_refused(typed, len(chosen), step.axis))
    return step


def _operation_step(release: Release, typed: str, day: dt.date) -> BuilderStep | None:
    """The third character: the tables of the chosen body system, each named by its
    operation, with the tables' definition of it. None when ``typed`` (two
    characters or more) names no body system of the release."""
    if any(ch not in PCS_ORDER for ch in typed[:2]):
        return None
    # Axes 1-3 only (data -> 'axes'): each table is read once, its rows stay out.
    tables = sorted(
        PcsTable.objects.filter(
            system=System.ICD10PCS,
            release_ids__contains=[release.id],
            code__startswith=typed[:2],
        )
        .annotate(axes=KeyTransform("axes", "data"))
        .values_list("code", "axes"),
        key=lambda row: PCS_ORDER.get(row[0][2], 99),
    )
    if not tables:
        return None
    section, body_system, operation = tables[0][1]
    step = BuilderStep(
        day=day,
        release=release,
        typed=typed,
        prefix=typed[:2],
        path=(
            BuilderChoice(1, SECTION_AXIS, typed[0], section["label"]),
            BuilderChoice(2, body_system["title"], typed[1], body_system["label"]),
        ),
        position=3,
        axis=operation["title"],
        values=tuple(
            BuilderValue(
                code[2],
                axes[2]["label"],
                code,
                (ValueNote("Definition", axes[2]["definition"]),)
                if axes[2].get("definition")
                else (),
            )
            for code, axes in tables
        ),
    )
    if len(typed) > 2:
        step = replace(step, message=_refused(typed, 2, step.axis))
    return step


def _no_tables(release: Release, typed: str, day: dt.date) -> BuilderStep:
    return BuilderStep(
        day=day,
        release=release,
        typed=typed,
        prefix="",
        message=f"{release.label}, in force on {day:%Y-%m-%d}, has no ICD-10-PCS "
        "tables (it was imported from a codes or order file): import the tables XML "
        "to build codes.",
    )


# --- characters 4-7: the rows of one table ----------------------------------------


def _table_step(release: Release, typed: str, day: dt.date) -> BuilderStep | None:
    """Steps inside a table, or None when ``typed`` names no table of the release."""
    if any(ch not in PCS_ORDER for ch in typed[:3]):
        return None
    data = (
        PcsTable.objects.filter(
            system=System.ICD10PCS,
            code=typed[:3],
            release_ids__contains=[release.id],
        )
        .values_list("data", flat=True)
        .first()
    )
    if data is None:
        return None
    path = [
        BuilderChoice(axis["pos"], axis["title"], axis["code"], axis["label"])
        for axis in data["axes"]
    ]
    rows = [
        {axis["pos"]: axis for axis in row["axes"]} for row in data["rows"]
    ]  # position -> {"title", "values": [{"code", "label"}]}
    chosen = typed[:3]
    for position in range(4, len(typed) + 1):
        character = typed[position - 1]
        kept = [
            row
            for row in rows
            if any(v["code"] == character for v in row[position]["values"])
        ]
        if not kept:
            break
        rows = kept
        axis = rows[0][position]
        label = next(v["label"] for v in axis["values"] if v["code"] == character)
        path.append(BuilderChoice(position, axis["title"], character, label))
        chosen += character
    base = BuilderStep(
        day=day, release=release, typed=typed, prefix=chosen, path=tuple(path)
    )
    if len(chosen) == CODE_LENGTH:
        code = code_on(system=System.ICD10PCS, code=chosen, day=day)
        if code is None:
            return replace(
                base,
                message=f"{chosen} is in the tables of {release.label} but not among "
                "its codes: the release is incomplete.",
            )
        return replace(base, title=code.long_title, valid=code.billable)
    position = len(chosen) + 1
    offered: dict[str, str] = {}
    for row in rows:
        for value in row[position]["values"]:
            offered.setdefault(value["code"], value["label"])
    step = replace(
        base,
        position=position,
        axis=rows[0][position]["title"],
        values=tuple(
            BuilderValue(ch, offered[ch], chosen + ch)
            for ch in sorted(offered, key=lambda c: PCS_ORDER.get(c, 99))
        ),
    )
    if len(typed) > len(chosen):
        step = replace(step, message=_refused(typed, len(chosen), step.axis))
    return step


def _refused(typed: str, at: int, axis: str) -> str:
    character = typed[at]
    after = f" after {typed[:at]}" if at else ""
    if character not in PCS_ORDER:
        return (
            f"“{character}” is not an ICD-10-PCS character (0-9 and A-Z without I "
            f"and O): pick the {axis.lower()} from the list."
        )
    name = axis.lower()
    article = "an" if name[:1] in ("a", "e", "i", "o", "u") else "a"
    return (
        f"“{character}” is not {article} {name} the tables allow{after}: pick one "
        "from the list."
    )


def _explained(step: BuilderStep) -> BuilderStep:
    """The step with the notes of every registered explainer added to its values."""
    if not _EXPLAINERS:
        return step
    extra: dict[str, list[ValueNote]] = {}
    for explainer in _EXPLAINERS:
        found = explainer(
            day=step.day,
            path=step.path,
            position=step.position,
            axis=step.axis,
            values=step.values,
        )
        for character, notes in found.items():
            extra.setdefault(character, []).extend(notes)
    values = []
    for value in step.values:
        notes = list(value.notes)
        for note in extra.get(value.character, []):
            if note not in notes:
                notes.append(note)
        values.append(replace(value, notes=tuple(notes)))
    return replace(step, values=tuple(values))


__all__ = [
    "CODE_LENGTH",
    "PCS_CHARACTERS",
    "BuilderChoice",
    "BuilderStep",
    "BuilderValue",
    "ValueExplainer",
    "ValueNote",
    "explainer_register",
    "explainer_unregister",
    "normalize_prefix",
    "pcs_builder_step",
]
