"""ICD-10-CM tabular list XML (``<ICD10CM.tabular>``), as CDC/NCHS publish it.

Layout (schema ``icd-10-cm-tabular-2025.xsd``)::

    <ICD10CM.tabular>
      <version>2026</version>
      <introduction>...</introduction>              (skipped)
      <chapter>
        <name>4</name><desc>Endocrine, ... (E00-E89)</desc>
        <includes|excludes1|excludes2|notes|...><note>..</note></...>
        <sectionIndex>...</sectionIndex>           (skipped: repeats the sections)
        <section id="E08-E13">
          <desc>Diabetes mellitus (E08-E13)</desc>
          <diag>
            <name>E11</name><desc>Type 2 diabetes mellitus</desc>
            <inclusionTerm|excludes1|...|sevenChrNote><note>..</note></...>
            <sevenChrDef><extension char="A">initial encounter</extension></sevenChrDef>
            <diag> ... nested ... </diag>

What the parser produces (all ``ParsedCode``, parents before children, in
tabular order):

* one ``chapter`` node per chapter: code = chapter number (``"4"``),
  ``chapter`` = its own number;
* one ``block`` node per ``<section>``: code = section id (``"E08-E13"``),
  parent = chapter, ``block`` = its own code.  The tabular has a dozen
  sections whose id is a single category (``<section id="B99">`` holding
  category B99); such a block would share its code with the category, so the
  block is named as a one-category range, ``"B99-B99"``.  Sections are flat
  in the XML: "umbrella" sections (``C00-C96``, ``V00-X58``…) that hold no
  categories of their own are still emitted as empty blocks under their
  chapter;
* every ``<diag>``: code undotted upper case, ``category`` when 3 characters,
  ``code`` otherwise; parent = enclosing diag, or the block for a category;
* 7th-character codes: a ``<sevenChrDef>`` applies to every leaf ``<diag>``
  below (or at) the node carrying it, the nearest definition winning.  Such a
  leaf is a header (not billable) and one billable child is generated per
  7th character, exactly as the CMS order file lists them: the leaf code is
  padded with the placeholder ``X`` to 6 characters and the character
  appended (S02.0 + A -> ``S020XXA``; T36.0X1 + A -> ``T360X1A``); its title
  is ``"<leaf title>, <7th character description>"``.

The tabular has no short titles: ``short_title`` repeats the long title.

Notes (``ParsedNote``) stand on the node whose element holds them, chapters and
blocks included; ``seq`` numbers them from 1 within (node, kind) in document
order.  ``<extension>`` of a ``<sevenChrDef>`` becomes a ``seventh_character``
note (``character`` = the char).  A bare ``<note>`` inside ``<sevenChrDef>``
(the tabular uses them as an extra line under the preceding character, e.g.
"initial encounter for open fracture NOS" under S72's "B") becomes a
``seventh_character_note`` with ``character`` = that preceding character.  The
single ``<visualImpairment>`` table (H54) is flattened into ``note`` notes, one
per category.

The XML is parsed by defusedxml's expat parser feeding a streaming target (no
tree is built, so memory stays flat); DTD entity declarations and external
references are refused.  Errors carry the line number and the innermost open
element.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ._xml import StreamTarget, detect_root, stream_parse
from ._xml import clean as _clean
from .base import (
    ImportFormatError,
    NoteKind,
    ParsedCode,
    ParsedNote,
    ParseResult,
    Progress,
)

# Containers whose <note> children become ParsedNote of this kind.
NOTE_CONTAINERS = {
    "includes": NoteKind.INCLUDES,
    "inclusionTerm": NoteKind.INCLUSION_TERM,
    "excludes1": NoteKind.EXCLUDES1,
    "excludes2": NoteKind.EXCLUDES2,
    "codeFirst": NoteKind.CODE_FIRST,
    "useAdditionalCode": NoteKind.USE_ADDITIONAL_CODE,
    "codeAlso": NoteKind.CODE_ALSO,
    "sevenChrNote": NoteKind.SEVENTH_CHARACTER_NOTE,
    "notes": NoteKind.NOTE,
}
NODE_TAGS = ("chapter", "section", "diag")
# Elements whose text we read.
TEXT_TAGS = frozenset(
    {"version", "name", "desc", "note", "extension", "heading", "value"}
)
# Subtrees with nothing for us.
SKIP_TAGS = frozenset({"introduction", "sectionIndex", "deactivated"})
ROOT_TAG = "ICD10CM.tabular"

DIAG_NAME_RE = re.compile(r"[A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]{1,4})?")
SECTION_ID_RE = re.compile(r"[A-Z][0-9A-Z]{2}(?:-[A-Z][0-9A-Z]{2})?")
CHAPTER_RE = re.compile(r"[0-9]{1,2}")
SEVENTH_CHAR_RE = re.compile(r"[0-9A-Z]")

# "7th characters D and S do not apply to codes in category S06 with 6th character
# 7 - death due to ..., or 8 - death due to ..." (a <notes> note on S06).
NOT_APPLY_RE = re.compile(
    r"7th characters? (?P<chars>[A-Z0-9](?:(?:,? and |,? or |, )[A-Z0-9])*) (?:do|does) not apply to codes "
    r"in (?:sub)?category (?P<cat>[A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]{1,3})?) with 6th character (?P<rest>.*)",
    re.I,
)
SIXTH_CHAR_RE = re.compile(r"(?:^|,? or |, )([0-9A-Z]) -")


class _Node:
    __slots__ = (
        "block",
        "chapter",
        "code",
        "has_child_diag",
        "line",
        "parent",
        "seven",
        "tag",
        "title",
    )

    def __init__(self, tag: str, parent: int, line: int) -> None:
        self.tag = tag
        self.code = ""
        self.title = ""
        self.parent = parent  # index into _Target.nodes, -1 at the top
        self.line = line
        self.has_child_diag = False
        self.seven: list[tuple[str, str]] | None = None  # own <sevenChrDef>
        self.chapter = ""
        self.block = ""


class _Target(StreamTarget):
    """Streaming target for the expat parser: builds flat node records and notes."""

    def __init__(self) -> None:
        super().__init__()
        self.node_stack: list[int] = []  # indices of open chapter/section/diag
        self.nodes: list[_Node] = []
        # raw notes: (node index, kind, text, character)
        self.notes: list[tuple[int, str, str, str]] = []
        self.version = ""
        self.skip_depth = 0
        self.capture: list[str] | None = None
        self.capture_depth = 0
        self.old_depth = 0
        self.last_seventh_char = ""
        self.vis_category: list[str] | None = None
        self.vis_value = ""
        self.vis_ranges: list[list[str]] = []
        self.root_seen = False
        self.extension_char = ""
        self.warnings: list[str] = []

    # -- helpers ---------------------------------------------------------
    def current(self) -> _Node | None:
        return self.nodes[self.node_stack[-1]] if self.node_stack else None

    # -- expat callbacks ---------------------------------------------------
    def start(self, tag: str, attrib: dict[str, str]) -> None:
        stack = self.stack
        if not self.root_seen:
            self.root_seen = True
            if tag != ROOT_TAG:
                raise ImportFormatError(
                    f"This is not an ICD-10-CM tabular file: its root element is <{tag}>, not <{ROOT_TAG}>.",
                    line=self.line(),
                    element=tag,
                )
        stack.append(tag)
        if self.skip_depth:
            self.skip_depth += 1
            return
        if tag in SKIP_TAGS:
            self.skip_depth = 1
            return
        if self.capture is not None:
            if tag == "old":  # addenda markup: text that was removed
                self.old_depth += 1
            return
        if tag in NODE_TAGS:
            self._start_node(tag, attrib)
        elif tag in TEXT_TAGS:
            if tag == "extension":
                self.extension_char = attrib.get("char", "")
            self.capture = []
            self.capture_depth = len(stack)
        elif tag == "sevenChrDef":
            node = self.current()
            if node is None:
                self.fail("<sevenChrDef> outside a chapter, section or diag")
            if node.seven is None:
                node.seven = []
            self.last_seventh_char = ""
        elif tag == "visCategory":
            self.vis_category = []
            self.vis_value = ""
            self.vis_ranges = []
        elif tag == "visRange":
            self.vis_ranges.append(["", ""])

    def _start_node(self, tag: str, attrib: dict[str, str]) -> None:
        parent_idx = self.node_stack[-1] if self.node_stack else -1
        parent = self.nodes[parent_idx] if parent_idx >= 0 else None
        expected_parent = {
            "chapter": (),
            "section": ("chapter",),
            "diag": ("section", "diag"),
        }[tag]
        node = _Node(tag, parent_idx, self.line() or 0)
        if tag == "chapter":
            if parent is not None or self.stack[-2] != ROOT_TAG:
                self.fail("<chapter> must sit directly under the root element")
        else:
            if (
                parent is None
                or parent.tag not in expected_parent
                or self.stack[-2] != parent.tag
            ):
                where = f"<{self.stack[-2]}>" if len(self.stack) > 1 else "the top"
                self.fail(f"<{tag}> found inside {where}, where it is not allowed")
            if tag == "section":
                section_id = (attrib.get("id") or "").strip().upper()
                if not SECTION_ID_RE.fullmatch(section_id):
                    self.fail(
                        f"Section id {section_id!r} is not a code range such as 'E08-E13'"
                    )
                if "-" not in section_id:
                    section_id = f"{section_id}-{section_id}"
                node.code = section_id
                node.chapter = parent.chapter
                node.block = section_id
            elif tag == "diag":
                parent.has_child_diag = True
                node.chapter = parent.chapter
                node.block = parent.block
        self.node_stack.append(len(self.nodes))
        self.nodes.append(node)

    def data(self, text: str) -> None:
        if self.capture is not None and not self.old_depth:
            self.capture.append(text)

    def end(self, tag: str) -> None:
        stack = self.stack
        if self.skip_depth:
            self.skip_depth -= 1
            stack.pop()
            return
        if self.capture is not None:
            if len(stack) == self.capture_depth:
                text = "".join(self.capture)
                self.capture = None
                self._text(tag, text)
            elif tag == "old":
                self.old_depth -= 1
            stack.pop()
            return
        if tag in NODE_TAGS:
            self._end_node(tag)
        elif tag == "visCategory":
            self._end_vis_category()
        stack.pop()

    def _end_node(self, tag: str) -> None:
        node = self.nodes[self.node_stack.pop()]
        if not node.code:  # a section's code is its id, checked at its start
            self.fail(f"A <{tag}> has no <name>", tag)
        if not node.title:
            self.fail(f"{tag.capitalize()} {node.code} has no <desc>", tag)

    def _text(self, tag: str, raw: str) -> None:
        stack = self.stack
        parent_tag = stack[-2] if len(stack) > 1 else ""
        node = self.current()
        if tag == "version":
            if parent_tag == ROOT_TAG:
                self.version = _clean(raw)
            return
        if tag == "name":
            if node is None or parent_tag != node.tag or node.tag == "section":
                return
            name = _clean(raw).upper()
            if node.tag == "chapter":
                if not CHAPTER_RE.fullmatch(name):
                    self.fail(f"Chapter name {name!r} is not a chapter number")
                node.code = node.chapter = str(int(name))
            else:
                if not DIAG_NAME_RE.fullmatch(name):
                    self.fail(f"Diagnosis code {name!r} is not an ICD-10-CM code")
                code = name.replace(".", "")
                parent = self.nodes[node.parent]
                if parent.tag == "diag" and not (
                    code.startswith(parent.code) and len(code) > len(parent.code)
                ):
                    self.warnings.append(
                        f"{name} (line {self.line()}) is nested under {parent.code}, which is not its prefix; "
                        "its parent is taken from the nesting."
                    )
                node.code = code
            return
        if tag == "desc":
            if node is not None and parent_tag == node.tag:
                node.title = _clean(raw)
            return
        if tag == "note":
            text = _clean(raw)
            if not text:
                return
            if parent_tag in NOTE_CONTAINERS:
                if node is None or stack[-3] != node.tag:
                    return
                self.notes.append(
                    (self.node_stack[-1], NOTE_CONTAINERS[parent_tag], text, "")
                )
            elif parent_tag == "sevenChrDef" and node is not None:
                self.notes.append(
                    (
                        self.node_stack[-1],
                        NoteKind.SEVENTH_CHARACTER_NOTE,
                        text,
                        self.last_seventh_char,
                    )
                )
            return
        if tag == "extension":
            if parent_tag != "sevenChrDef" or node is None:
                return
            char = self.extension_char.strip().upper()
            text = _clean(raw)
            if not SEVENTH_CHAR_RE.fullmatch(char):
                self.fail(
                    f"7th character {char!r} of {node.code} is not a single letter or digit"
                )
            if not text:
                self.fail(f"7th character {char} of {node.code} has no description")
            if node.seven is None:  # cannot be: the enclosing <sevenChrDef> set it
                self.fail(
                    f"7th character {char} of {node.code} outside a <sevenChrDef>"
                )
            if any(c == char for c, _ in node.seven):
                self.fail(f"7th character {char} is defined twice for {node.code}")
            node.seven.append((char, text))
            self.last_seventh_char = char
            self.notes.append(
                (self.node_stack[-1], NoteKind.SEVENTH_CHARACTER, text, char)
            )
            return
        if self.vis_category is not None:
            text = _clean(raw)
            if tag == "value" and parent_tag == "visCategory":
                self.vis_value = text
            elif (
                tag == "value"
                and parent_tag in ("visMax", "visMin")
                and self.vis_ranges
            ):
                self.vis_ranges[-1][0 if parent_tag == "visMax" else 1] = text

    def _end_vis_category(self) -> None:
        node = self.current()
        if node is not None and self.vis_value:
            parts = []
            for vmax, vmin in self.vis_ranges:
                if vmax and vmin:
                    parts.append(f"less than {vmax}, equal to or better than {vmin}")
                elif vmax:
                    parts.append(f"less than {vmax}")
                elif vmin:
                    parts.append(f"equal to or better than {vmin}")
            text = f"Category of visual impairment {self.vis_value}"
            if parts:
                text += " (visual acuity with best possible correction): " + "; ".join(
                    parts
                )
            self.notes.append((self.node_stack[-1], NoteKind.NOTE, text, ""))
        self.vis_category = None


class TabularImporter:
    name = "icd10cm_tabular"
    system = "icd10cm"
    description = "ICD-10-CM tabular XML"

    def detect(self, head: bytes) -> bool:
        return detect_root(head, ROOT_TAG)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        target = _Target()
        stream_parse(Path(path), target, lambda: _inside(target), progress)
        if not target.root_seen:
            raise ImportFormatError("The file holds no XML element.", line=1)
        if not any(n.tag == "chapter" for n in target.nodes):
            raise ImportFormatError(
                "The tabular file holds no <chapter>.", element=ROOT_TAG
            )
        return _build_result(target, self.name)


def _inside(target: _Target) -> str:
    for idx in reversed(target.node_stack):
        node = target.nodes[idx]
        if node.code:
            label = {"chapter": "chapter", "section": "section", "diag": "code"}[
                node.tag
            ]
            return f" (inside {label} {node.code})"
    return ""


def _seventh_char_restrictions(
    notes: list[tuple[int, str, str, str]],
) -> list[tuple[str, str, str]]:
    """Exceptions the tabular states only in words, e.g. S06: D and S not with 6th character 7 or 8.

    Returns (code prefix, 6th characters, excluded 7th characters) triples.
    """
    found = []
    for _idx, kind, text, _char in notes:
        if kind != NoteKind.NOTE or "not apply" not in text:
            continue
        match = NOT_APPLY_RE.search(text)
        if not match:
            continue
        chars = "".join(re.findall(r"\b([A-Z0-9])\b", match.group("chars")))
        sixth = "".join(SIXTH_CHAR_RE.findall(match.group("rest")))
        if chars and sixth:
            found.append((match.group("cat").replace(".", "").upper(), sixth, chars))
    return found


def _expanded_code(leaf: str, char: str) -> str:
    return leaf.ljust(6, "X") + char


def _build_result(target: _Target, fmt: str) -> ParseResult:
    result = ParseResult(system="icd10cm", format=fmt, version=target.version)
    result.warnings.extend(target.warnings)
    nodes = target.nodes
    codes = result.codes
    seen: dict[str, int] = {}
    restrictions = _seventh_char_restrictions(target.notes)
    effective: list[list[tuple[str, str]] | None] = [None] * len(nodes)
    for i, node in enumerate(nodes):
        parent = nodes[node.parent] if node.parent >= 0 else None
        effective[i] = (
            node.seven
            if node.seven
            else (effective[node.parent] if parent is not None else None)
        )
        if node.code in seen:
            raise ImportFormatError(
                f"Code {node.code} appears twice (first at line {nodes[seen[node.code]].line})",
                line=node.line,
                element=node.tag,
            )
        seen[node.code] = i
        if node.tag == "chapter":
            codes.append(
                ParsedCode(
                    node.code,
                    "chapter",
                    False,
                    node.title,
                    node.title,
                    "",
                    node.chapter,
                    "",
                )
            )
            continue
        if parent is None:  # _start_node admits only chapters at the top
            raise ImportFormatError(
                f"<{node.tag}> {node.code} is outside any chapter.",
                line=node.line,
                element=node.tag,
            )
        if node.tag == "section":
            codes.append(
                ParsedCode(
                    node.code,
                    "block",
                    False,
                    node.title,
                    node.title,
                    parent.code,
                    node.chapter,
                    node.code,
                )
            )
            continue
        kind = "category" if len(node.code) == 3 else "code"
        seven = effective[i] if not node.has_child_diag else None
        billable = not node.has_child_diag and not seven
        codes.append(
            ParsedCode(
                node.code,
                kind,
                billable,
                node.title,
                node.title,
                parent.code,
                node.chapter,
                node.block,
            )
        )
        if seven:
            if len(node.code) > 6:
                result.warnings.append(
                    f"{node.code} (line {node.line}) is already 7 characters long; its 7th-character "
                    "definition was not applied and the code is taken as billable."
                )
                codes[-1] = ParsedCode(
                    node.code,
                    kind,
                    True,
                    node.title,
                    node.title,
                    parent.code,
                    node.chapter,
                    node.block,
                )
                continue
            for prefix, sixth, excluded in restrictions:
                if (
                    node.code.startswith(prefix)
                    and len(node.code) >= 6
                    and node.code[5] in sixth
                ):
                    seven = [(c, d) for c, d in seven if c not in excluded]
            for char, desc in seven:
                code = _expanded_code(node.code, char)
                title = f"{node.title}, {desc}"
                codes.append(
                    ParsedCode(
                        code,
                        "code",
                        True,
                        title,
                        title,
                        node.code,
                        node.chapter,
                        node.block,
                    )
                )
    # Expanded codes must not collide with codes written out in the tabular.
    counts = Counter(c.code for c in codes)
    if len(counts) != len(codes):
        dup = sorted(c for c, n in counts.items() if n > 1)[:5]
        raise ImportFormatError(
            f"7th-character expansion produces codes that already exist: {', '.join(dup)}"
        )

    seq: dict[tuple[int, str], int] = {}
    for idx, kind, text, char in target.notes:
        key = (idx, kind)
        seq[key] = seq.get(key, 0) + 1
        result.notes.append(ParsedNote(nodes[idx].code, kind, text, seq[key], char))
    if not result.version:
        result.warnings.append("The file has no <version>.")
    return result


IMPORTER = TabularImporter()
