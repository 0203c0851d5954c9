"""The contract every official-file importer fulfils.

An importer is one module in this package exposing ``IMPORTER``, an object with
``name``, ``system``, ``description``, ``detect(head)`` and ``parse(path, progress=)``.
Parsing is pure: it reads the file and returns plain dataclasses; it never touches
the database. ``codesets.services`` turns a ``ParseResult`` into a staged release.
Adding a format means adding one module and listing it in ``importers/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# Called with (bytes_read, total_bytes) while a file is parsed; drives the progress bar.
Progress = Callable[[int, int], None]

HEAD_BYTES = 65536


class ImportFormatError(Exception):
    """The file is malformed or not the format its importer reads.

    ``message`` says what is wrong in words an admin understands; ``line`` or
    ``element`` say where, so the upload page can point at it.
    """

    def __init__(
        self, message: str, *, line: int | None = None, element: str = ""
    ) -> None:
        self.message = message
        self.line = line
        self.element = element
        where = []
        if line is not None:
            where.append(f"line {line}")
        if element:
            where.append(f"element <{element}>")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class NoteKind:
    INCLUDES = "includes"
    INCLUSION_TERM = "inclusion_term"
    EXCLUDES1 = "excludes1"
    EXCLUDES2 = "excludes2"
    CODE_FIRST = "code_first"
    USE_ADDITIONAL_CODE = "use_additional_code"
    CODE_ALSO = "code_also"
    SEVENTH_CHARACTER = "seventh_character"
    SEVENTH_CHARACTER_NOTE = "seventh_character_note"
    NOTE = "note"

    ALL = (
        INCLUDES,
        INCLUSION_TERM,
        EXCLUDES1,
        EXCLUDES2,
        CODE_FIRST,
        USE_ADDITIONAL_CODE,
        CODE_ALSO,
        SEVENTH_CHARACTER,
        SEVENTH_CHARACTER_NOTE,
        NOTE,
    )


@dataclass(frozen=True, slots=True)
class ParsedCode:
    """One node of a code system.

    ``code`` is stored without punctuation, upper case (``E1165``). ICD-10-CM
    chapters and blocks are nodes too, so that every code has a path: chapter
    codes are the chapter number (``"4"``), block codes the range (``"E08-E13"``).
    """

    code: str
    kind: str  # "chapter" | "block" | "category" | "code"
    billable: bool
    short_title: str
    long_title: str
    parent: str = ""  # code of the parent node; "" at the top
    chapter: str = ""  # ICD-10-CM chapter number this node belongs to
    block: str = ""  # ICD-10-CM block (section) range this node belongs to


@dataclass(frozen=True, slots=True)
class ParsedNote:
    """An instructional note standing on one node; it applies to every node below."""

    code: str  # the node it stands on (a ParsedCode.code)
    kind: str  # a NoteKind value
    text: str
    seq: int  # order of the note within its node and kind
    character: str = ""  # for SEVENTH_CHARACTER: the letter/digit ("A")


@dataclass(frozen=True, slots=True)
class ParsedPcsTable:
    """One ICD-10-PCS table: the first three axes and its rows of axes 4-7."""

    code: str  # the first three characters, e.g. "001"
    axes: list[
        dict
    ]  # [{"pos": 1, "title": "Section", "code": "0", "label": "...", "definition": "..."}] for pos 1-3
    rows: list[
        dict
    ]  # [{"axes": [{"pos": 4, "title": "Body Part", "values": [{"code": "6", "label": "..."}]}, ...]}]


@dataclass(frozen=True, slots=True)
class ParsedChange:
    """One line of an addenda file: applied to the previous release."""

    action: str  # "add" | "delete" | "revise"
    code: str
    billable: bool
    short_title: str
    long_title: str
    line: int


@dataclass(slots=True)
class ParseResult:
    system: str  # "icd10cm" | "icd10pcs" | ...
    format: str  # the importer's name
    version: str = ""  # what the file says of itself, e.g. "2026"
    codes: list[ParsedCode] = field(default_factory=list)
    notes: list[ParsedNote] = field(default_factory=list)
    pcs_tables: list[ParsedPcsTable] = field(default_factory=list)
    # An addenda file is a delta: ``changes`` is filled and ``codes`` stays empty.
    changes: list[ParsedChange] = field(default_factory=list)
    is_delta: bool = False
    # Figures the file states about itself (e.g. an addenda footer's counts),
    # checked by the service after applying the delta.
    stated_counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class Importer(Protocol):
    name: str
    system: str
    description: str

    def detect(self, head: bytes) -> bool:
        """True when the first HEAD_BYTES of a file are this format."""
        ...

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult: ...
