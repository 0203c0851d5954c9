"""The contract every official-file importer fulfils.

An importer is one module in this package exposing ``IMPORTER``, an object with
``name``, ``system``, ``description``, ``detect(head)`` and ``parse(path, progress=)``.
Parsing is pure: it reads the file and returns plain dataclasses; it never touches
the database. ``codesets.services`` turns a ``ParseResult`` into a staged release.
Adding a format means adding one module and listing it in ``importers/__init__.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
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
    # Per-code dates where the file carries them (HCPCS: added, action effective,
    # termination): the code is valid for dates of service in [valid_from, valid_to].
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    # Further per-code facts a format carries (HCPCS action code, coverage, BETOS...).
    extra: tuple[tuple[str, str], ...] = ()


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


@dataclass(frozen=True, slots=True)
class ParsedPtpEdit:
    """One NCCI procedure-to-procedure edit (a row of a practitioner or hospital PTP file)."""

    column1: str
    column2: str
    existed_before_1996: bool
    effective: dt.date
    deletion: dt.date | None  # None: still in force ("*" in the file)
    modifier_indicator: str  # "0" never bypassed, "1" an NCCI-associated modifier may bypass, "9" not applicable
    rationale: str
    line: int


@dataclass(frozen=True, slots=True)
class ParsedMue:
    """One Medically Unlikely Edit: the most units of a code on one line or one date of service."""

    code: str
    value: int
    adjudication_indicator: int  # 1 line edit, 2 date-of-service edit: policy, 3 date-of-service edit: clinical
    adjudication_text: str
    rationale: str
    line: int


@dataclass(frozen=True, slots=True)
class ParsedDrgWeight:
    """One row of CMS IPPS Table 5: an MS-DRG's relative weight and mean lengths of stay."""

    drg: int
    mdc: str  # "04", "PRE", ...
    type: str  # "MED" | "SURG"
    title: str
    weight: Decimal
    gmlos: Decimal | None
    amlos: Decimal | None
    post_acute: bool
    special_pay: bool
    line: int


@dataclass(frozen=True, slots=True)
class ParsedIndexTerm:
    """One term of an ICD-10-CM index (drug table, neoplasm table, external-cause index).

    ``path`` is the main term followed by each subterm down to this one, as the
    index nests them; ``codes`` maps a table column to its code (drug and neoplasm
    tables) or holds the single code under "code" (external-cause index)."""

    index: str  # "drug" | "neoplasm" | "external_cause" | "disease"
    path: tuple[str, ...]
    codes: tuple[
        tuple[str, str], ...
    ]  # (column, code), code undotted; may end with "-" (incomplete)
    see: str = ""
    see_also: str = ""
    nemod: str = ""  # nonessential modifiers in parentheses


@dataclass(frozen=True, slots=True)
class ParsedPoaExempt:
    """One code of CMS's POA-exempt list: exempt from present-on-admission reporting."""

    code: str  # undotted, e.g. "Z3A00"
    title: str
    order: str  # CMS's order number ("96239"), text with leading zeros
    line: int


@dataclass(frozen=True, slots=True)
class ParsedPcsIndexTerm:
    """One ``<mainTerm>`` or ``<term>`` of the ICD-10-PCS Index.

    ``path`` is the main term's title and each titled subterm's down to this one; a
    term without a title of its own (a bare "see" or "use" under its parent) has its
    parent's path and ``title`` "". At most one reference per term: ``see`` (an
    operation and body part, "Resection, Appendix"), ``use`` (the body-part or device
    value to use, "Appendix") and ``code``: a full code (7 characters), a code start
    (4-6 characters, "0DTJ") or a table (3 characters, "0DT"), undotted, upper case.
    """

    path: tuple[str, ...]
    title: str
    see: str = ""
    use: str = ""
    code: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class ParsedPcsDefinition:
    """One entry of the ICD-10-PCS Definitions: a ``<terms>`` of one axis of one
    section, or (``axis`` 0) one ``<aggregate>`` of the device aggregation table.

    Axis entries: ``titles`` are the values it defines (a body part named once per
    side: "Knee Joint, Left", "Knee Joint, Right"), ``includes`` the words it covers
    (the body-part key "Vermiform appendix" under "Appendix", the device key "Zimmer(R)
    NexGen(R) LPS Mobile Bearing Knee" under "Synthetic Substitute").
    Aggregates: ``titles`` = (the specific device,), ``includes`` = the operations,
    ``body_systems`` where it aggregates, ``parent`` its general device value and
    ``parent_value`` that value's character."""

    section: str  # "0" .. "X"; "" for an aggregate
    axis: int  # 3 .. 7; 0 for an aggregate
    axis_title: str  # "Operation", "Body Part", "Approach", "Device"...
    titles: tuple[str, ...]
    definition: str = ""
    explanation: str = ""
    includes: tuple[str, ...] = ()
    body_systems: tuple[str, ...] = ()
    parent: str = ""
    parent_value: str = ""


@dataclass(slots=True)
class ParseResult:
    system: str  # "icd10cm" | "icd10pcs" | "hcpcs" | "cpt" | "ncci_ptp" | "mue" | "drg_weights"
    format: str  # the importer's name
    version: str = ""  # what the file says of itself, e.g. "2026"
    codes: list[ParsedCode] = field(default_factory=list)
    notes: list[ParsedNote] = field(default_factory=list)
    pcs_tables: list[ParsedPcsTable] = field(default_factory=list)
    # An addenda file is a delta: ``changes`` is filled and ``codes`` stays empty.
    changes: list[ParsedChange] = field(default_factory=list)
    is_delta: bool = False
    # Edit tables and index tables (formats of the later importers).
    variant: str = ""  # e.g. "practitioner" | "hospital" (PTP), "practitioner" | "facility" | "dme" (MUE)
    ptp_edits: list[ParsedPtpEdit] = field(default_factory=list)
    mues: list[ParsedMue] = field(default_factory=list)
    drg_weights: list[ParsedDrgWeight] = field(default_factory=list)
    index_terms: list[ParsedIndexTerm] = field(default_factory=list)
    poa_exempt: list[ParsedPoaExempt] = field(default_factory=list)
    pcs_index_terms: list[ParsedPcsIndexTerm] = field(default_factory=list)
    pcs_definitions: list[ParsedPcsDefinition] = field(default_factory=list)
    # HCPCS modifiers: (modifier, short description, long description, valid_from, valid_to)
    modifiers: list[tuple[str, str, str, dt.date | None, dt.date | None]] = field(
        default_factory=list
    )
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
