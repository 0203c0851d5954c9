"""The ICD-10-PCS Definitions explain the values the table builder offers.

An explainer for ``codesets.pcs_builder`` (registered in ``CodesetsConfig.ready``):
for the values of one builder step it gives what the Definitions release in force
on the date of service says of each, read by section and character position:

* operations (position 3): the definition, the explanation and the examples the
  Definitions give beyond the tables' own definition ("Resection: ... Includes/
  Examples: Total nephrectomy, total lobectomy of lung");
* body parts (the body-part key): the anatomical words that are coded to the value
  ("Appendix" includes "Vermiform appendix", "Appendiceal orifice");
* approaches: the definition and explanation ("Percutaneous Endoscopic: Entry, by
  puncture or minor incision, ... to reach and visualize the site");
* devices (the device key): the devices and brand names coded to the value, where
  the key's entry names the value alone or the value for the operation and body
  system of the step ("Synthetic Substitute, Oxidized Zirconium on Polyethylene for
  Replacement in Lower Joints"); and the device aggregation rows that put a more
  specific device under the value for that operation and body system, when the step
  does not offer that device as a value of its own;
* any other axis the Definitions define (substances, qualifiers of other sections),
  by the same rules.

One query a step (the Definitions release in force on the date); a release's
entries are read once per process and kept, by release id, as a release never
changes once imported (like ``codesets.pcs_lookup``). Nothing is said of the
section and body system (the Definitions do not define them), nor when no
Definitions release covers the date.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from codesets.models import PcsDefinition, Release, Table
from codesets.pcs_builder import BuilderChoice, BuilderValue, ValueNote

# A device or brand list longer than this is cut, saying how many more there are
# (the Definitions list over a hundred products under "Synthetic Substitute").
MAX_INCLUDES = 12
OPERATION_AXIS = 3
AGGREGATE_AXIS = 0
# The operations an aggregation row applies to when it names none in particular.
ALL_OPERATIONS = "All applicable"
# "in Lower Joints", "for Replacement in Lower Joints": where a device key's entry
# says where the value means that device.
QUALIFIED = re.compile(r"^(?: for (?P<operation>.+?))?(?: in (?P<body_system>.+))?$")
MARKS = (("(R)", "®"), ("(r)", "®"), ("(TM)", "™"), ("(tm)", "™"))


@dataclass(frozen=True)
class _Entry:
    """What the Definitions say of one value title, and where it applies (empty:
    everywhere in its section and axis)."""

    notes: tuple[ValueNote, ...]
    operation: str = ""
    body_system: str = ""


@dataclass(frozen=True)
class _Aggregate:
    device: str
    operations: tuple[str, ...]
    body_systems: tuple[str, ...]


@dataclass
class _Definitions:
    # (section, axis) -> value title (or its start, for qualified device keys) ->
    # entries.
    entries: dict[tuple[str, int], dict[str, list[_Entry]]] = field(
        default_factory=dict
    )
    # Device aggregation: parent value character -> rows (each names its body
    # systems and operations, which tell the parents with one character apart).
    aggregates: dict[str, list[_Aggregate]] = field(default_factory=dict)


def _marks(text: str) -> str:
    for plain, mark in MARKS:
        text = text.replace(plain, mark)
    return text


def _listed(items: Sequence[str]) -> str:
    shown = [_marks(i) for i in items[:MAX_INCLUDES]]
    more = len(items) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _notes(d: PcsDefinition) -> tuple[ValueNote, ...]:
    notes = []
    if d.definition:
        notes.append(ValueNote("Definition", d.definition))
    if d.explanation:
        notes.append(ValueNote("Explanation", d.explanation))
    if d.includes:
        # An operation's "includes" are procedures it codes; a key's, the words
        # (anatomy, devices, brands) coded to the value.
        kind = "Examples" if d.axis == OPERATION_AXIS else "Includes"
        notes.append(ValueNote(kind, _listed(d.includes)))
    return tuple(notes)


def _starts(title: str) -> list[tuple[str, str, str]]:
    """The value labels ``title`` may stand for: itself, and each start of it that
    the rest qualifies ("X for Operation in Body System")."""
    found = [(title, "", "")]
    for match in re.finditer(r" (?:for|in) ", title):
        qualified = QUALIFIED.match(title[match.start() :])
        if qualified:
            found.append(
                (
                    title[: match.start()],
                    qualified["operation"] or "",
                    qualified["body_system"] or "",
                )
            )
    return found


@lru_cache(maxsize=4)
def _definitions(release_id: int) -> _Definitions:
    """A Definitions release's entries, indexed for the builder's steps."""
    out = _Definitions()
    for d in PcsDefinition.objects.filter(release_id=release_id).order_by("seq"):
        if d.axis == AGGREGATE_AXIS:
            out.aggregates.setdefault(d.parent_value, []).append(
                _Aggregate(d.titles[0], tuple(d.includes), tuple(d.body_systems))
            )
            continue
        notes = _notes(d)
        if not notes:
            continue
        by_title = out.entries.setdefault((d.section, d.axis), {})
        for title in d.titles:
            for label, operation, body_system in _starts(title):
                by_title.setdefault(label, []).append(
                    _Entry(notes, operation, body_system)
                )
    return out


def _applies(entry: _Entry, operation: str, body_system: str) -> bool:
    return entry.operation in ("", operation) and entry.body_system in (
        "",
        body_system,
    )


def _aggregated(
    definitions: _Definitions,
    value: BuilderValue,
    operation: str,
    body_system: str,
    offered: set[str],
) -> list[ValueNote]:
    """The devices the aggregation table codes to ``value`` for this operation and
    body system, those the step does not offer as values of their own."""
    devices = [
        a.device
        for a in definitions.aggregates.get(value.character, [])
        if (ALL_OPERATIONS in a.operations or operation in a.operations)
        and body_system in a.body_systems
        and a.device not in offered
    ]
    if not devices:
        return []
    return [ValueNote("Aggregates", f"Coded to this value: {_listed(devices)}")]


def definitions_release_on(day: dt.date) -> int | None:
    """The id of the ICD-10-PCS Definitions release in force on ``day``."""
    return (
        Release.objects.covering(Table.ICD10PCS_DEFINITIONS, day)
        .values_list("id", flat=True)
        .first()
    )


def pcs_definitions_notes(
    *,
    day: dt.date,
    path: Sequence[BuilderChoice],
    position: int,
    axis: str,
    values: Sequence[BuilderValue],
) -> Mapping[str, Sequence[ValueNote]]:
    """The Definitions' notes on each value of a builder step, by character (a
    ``codesets.pcs_builder.ValueExplainer``)."""
    if position < OPERATION_AXIS or not path or not values:
        return {}
    release_id = definitions_release_on(day)
    if release_id is None:
        return {}
    definitions = _definitions(release_id)
    by_title = definitions.entries.get((path[0].character, position), {})
    body_system = path[1].label
    operation = path[2].label if len(path) > 2 else ""
    offered = {value.label for value in values}
    out: dict[str, list[ValueNote]] = {}
    for value in values:
        notes: list[ValueNote] = []
        for entry in by_title.get(value.label, []):
            if _applies(entry, operation, body_system):
                notes.extend(n for n in entry.notes if n not in notes)
        if axis == "Device":
            notes.extend(
                _aggregated(definitions, value, operation, body_system, offered)
            )
        if notes:
            out[value.character] = notes
    return out


__all__ = ["definitions_release_on", "pcs_definitions_notes"]
