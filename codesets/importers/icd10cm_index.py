"""ICD-10-CM index-family XML (``<ICD10CM.index>``): drug table, neoplasm table,
external cause index and Index to Diseases and Injuries, as CDC/NCHS publish them.

All four share one root and one nesting (schemas ``icd-10-cm-drug-neoplasm-2025.xsd``
and ``icd10cm-index-2025.xsd``)::

    <ICD10CM.index>
      <version>2025</version>
      <title>ICD-10-CM EXTERNAL CAUSE of INJURIES INDEX</title>     (eIndex, Index to Diseases)
      <indexHeading>                                                (drug and neoplasm tables)
        <head col="1">Substance</head> ... <head col="6">Adverse effect</head> ...
      </indexHeading>
      <letter>
        <title>A</title>
        <mainTerm>
          <title>Accident<nemod>(to)</nemod></title>
          <see>..</see> <seeAlso>..</seeAlso>
          <code>X58</code>                                          (eIndex, Index to Diseases)
          <manif>I43</manif> <seecat>T71</seecat> <subcat>T75.0</subcat>
          <cell col="2">T39.1X1</cell> ...                          (drug and neoplasm tables)
          <term level="1"> ... the same, nested, level = depth ... </term>
        </mainTerm>

**Which index** (``ParsedIndexTerm.index``) is read from the file, never its
name: a root ``<title>`` naming the external cause index gives
``external_cause``, one naming diseases (or injuries) ``disease``; otherwise the
column heads tell the tables apart: "Substance" / "Adverse effect" /
"Poisoning ..." -> ``drug``, "Neoplasm" / "Malignant ..." / "Benign" ->
``neoplasm``.  A file where neither tells is refused.

**One ParsedIndexTerm per ``<mainTerm>`` and ``<term>``**, in document order,
parents before their subterms (a subheading with no code of its own is a term
too).  ``path`` is the main term's title, then each subterm's title down to
this one.  Titles are the text of ``<title>`` without its ``<nemod>``, white
space collapsed (``Abandonment<nemod>(...)</nemod> NEC`` -> ``"Abandonment NEC"``);
the nonessential modifiers go to ``nemod``.  Paths are **not unique**: the
drug table lists "Carbamate (insecticide)" and "Carbamate (sedative)", and
"2,4-D" under both "#" and "D" with different codes; (path, nemod of each
level) is unique in the FY2023 and FY2025 files.  Letters are not part of the
path.

``codes`` (column, code), codes undotted and upper case, a trailing ``-`` kept
(``C34.9-`` -> ``C349-``: the code needs more characters):

* ``<cell col="N">``: column = the text of ``<head col="N">`` (``"Adverse
  effect"``, ``"Malignant Primary"``); ``--`` and ``-`` mark an empty cell and
  are skipped.  The drug table writes its codes without the trailing ``-``
  although every T36-T65 code needs a 7th character (``T39.1X5``): the code is
  stored as written, ``T391X5``;
* ``<code>``: column ``"code"``;
* ``<manif>`` (Index to Diseases: the manifestation code printed in brackets):
  column ``"manif"``.  The neoplasm table uses ``<manif>`` once for words
  ("ventral surface of tongue and floor of mouth"): words go to ``nemod``;
* ``<seecat>`` / ``<subcat>`` ("see category T71", "see subcategory T75.0"):
  columns ``"see_category"`` / ``"see_subcategory"`` (a range ``T36-T50`` is
  kept as ``T36-T50``).

``see`` and ``see_also`` hold the cross-reference text as written (several
joined by "; ").  Addenda markup is read as the new text: ``<old>`` is dropped,
``<new>``, ``<unc>`` and ``<diff>`` are read through; a file marked
``isAddenda="true"`` is refused (it is a list of changes, not an index).
``<warning>`` elements and elements no schema names are skipped with a warning.

The XML is parsed by defusedxml's expat parser feeding a streaming target (no
tree is built); DTD entity declarations and external references are refused.
Errors carry the line number and the innermost open element.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._xml import StreamTarget, detect_root, stream_parse
from ._xml import clean as _clean
from .base import ImportFormatError, ParsedIndexTerm, ParseResult, Progress

ROOT_TAG = "ICD10CM.index"

# Elements whose text is read (all but <title> hold plain text, addenda markup aside).
TEXT_TAGS = frozenset(
    {
        "version",
        "title",
        "diff",
        "head",
        "see",
        "seeAlso",
        "code",
        "cell",
        "manif",
        "seecat",
        "subcat",
        "warning",
    }
)
TERM_TAGS = ("mainTerm", "term")
TERM_PARENTS = {"mainTerm": ("letter",), "term": TERM_TAGS}
# Addenda markup inside text.
PASS_THROUGH = frozenset({"new", "unc", "diff"})
EMPTY_CELLS = frozenset({"", "-", "--"})

CODE_RE = re.compile(r"[A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]{0,4})?-?")
RANGE_RE = re.compile(
    r"([A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]{1,4})?)-([A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]{1,4})?)"
)

DRUG_HEAD_RE = re.compile(r"substance|adverse effect|poisoning|underdosing", re.I)
NEOPLASM_HEAD_RE = re.compile(r"neoplasm|malignant|benign|in situ", re.I)


def index_code(text: str) -> str | None:
    """The undotted code (trailing '-' kept), or None when ``text`` is not an ICD-10-CM code."""
    code = _clean(text).upper()
    if not CODE_RE.fullmatch(code):
        return None
    return code.replace(".", "")


def _code_or_range(text: str) -> str | None:
    code = index_code(text)
    if code is not None:
        return code
    match = RANGE_RE.fullmatch(_clean(text).upper())
    if match:
        return f"{match.group(1).replace('.', '')}-{match.group(2).replace('.', '')}"
    return None


class _Term:
    __slots__ = ("codes", "emitted", "line", "nemod", "see", "see_also", "tag", "title")

    def __init__(self, tag: str, line: int) -> None:
        self.tag = tag
        self.line = line
        self.title: str | None = None
        self.nemod: list[str] = []
        self.codes: list[tuple[str, str]] = []
        self.see: list[str] = []
        self.see_also: list[str] = []
        self.emitted = False


class _Target(StreamTarget):
    """Streaming target for the expat parser: one ParsedIndexTerm per term, parents first."""

    def __init__(self) -> None:
        super().__init__()
        self.terms: list[_Term] = []
        self.out: list[ParsedIndexTerm] = []
        self.root_seen = False
        self.version = ""
        self.root_title = ""
        self.heads: dict[int, str] = {}
        self.kind = ""
        self.letters = 0
        self.skip_depth = 0
        self.skipped: dict[str, int] = {}
        self.warning_elements = 0
        # text capture
        self.capture: list[str] | None = None
        self.capture_tag = ""
        self.capture_depth = 0
        self.capture_col = 0
        self.nemod_buf: list[str] | None = None
        self.nemods: list[str] = []
        self.old_depth = 0

    # -- helpers ---------------------------------------------------------
    def where(self) -> str:
        titles = [t.title for t in self.terms if t.title]
        return f" (in {' > '.join(titles)})" if titles else ""

    def _decide_kind(self) -> None:
        title = self.root_title.lower()
        heads = " ".join(self.heads.values())
        if "external cause" in title:
            self.kind = "external_cause"
        elif "disease" in title or "injur" in title:
            self.kind = "disease"
        elif "drug" in title or "chemical" in title or DRUG_HEAD_RE.search(heads):
            self.kind = "drug"
        elif "neoplasm" in title or NEOPLASM_HEAD_RE.search(heads):
            self.kind = "neoplasm"
        else:
            self.fail(
                "Cannot tell which ICD-10-CM index this is: the root <title> names neither the external "
                "cause index nor the Index to Diseases, and no <indexHeading> names drug or neoplasm "
                "table columns.",
                "letter",
            )

    def _emit(self, term: _Term) -> None:
        if term.title is None:
            raise ImportFormatError(
                f"A <{term.tag}> has no <title>{self.where()}.",
                line=term.line,
                element=term.tag,
            )
        term.emitted = True
        self.out.append(
            ParsedIndexTerm(
                index=self.kind,
                path=tuple(t.title or "" for t in self.terms),
                codes=tuple(term.codes),
                see="; ".join(term.see),
                see_also="; ".join(term.see_also),
                nemod=" ".join(term.nemod),
            )
        )

    # -- expat callbacks ---------------------------------------------------
    def start(self, tag: str, attrib: dict[str, str]) -> None:
        stack = self.stack
        if not self.root_seen:
            self.root_seen = True
            if tag != ROOT_TAG:
                raise ImportFormatError(
                    f"This is not an ICD-10-CM index file: its root element is <{tag}>, not <{ROOT_TAG}>.",
                    line=self.line(),
                    element=tag,
                )
            if attrib.get("isAddenda", "").strip().lower() == "true":
                raise ImportFormatError(
                    'This is an index addenda file (isAddenda="true"): a list of changes, not an index. '
                    "Import the full index file.",
                    line=self.line(),
                    element=tag,
                )
            stack.append(tag)
            return
        parent = stack[-1]
        stack.append(tag)
        if self.skip_depth:
            self.skip_depth += 1
            return
        if self.capture is not None:
            if tag == "old":
                self.old_depth += 1
            elif (
                tag == "nemod"
                and self.capture_tag in ("title", "diff")
                and not self.old_depth
            ):
                if self.nemod_buf is not None:
                    self.fail("<nemod> inside <nemod>")
                self.nemod_buf = []
            elif tag not in PASS_THROUGH and tag != "nemod":
                self.fail(f"<{tag}> is not allowed inside <{self.capture_tag}>")
            return
        if tag in TEXT_TAGS:
            if tag in ("title", "diff") and parent not in (
                ROOT_TAG,
                "letter",
                *TERM_TAGS,
            ):
                self.fail(f"<{tag}> found inside <{parent}>, where it is not allowed")
            if (
                tag not in ("version", "title", "diff", "head")
                and parent not in TERM_TAGS
            ):
                self.fail(
                    f"<{tag}> found inside <{parent}>; it belongs to a <mainTerm> or <term>"
                )
            if tag in TEXT_TAGS - {"version", "title", "diff", "head", "warning"}:
                term = self.terms[-1]
                if term.emitted:
                    self.fail(
                        f"<{tag}> comes after a subterm of {term.title!r}; it must come before them"
                    )
            if tag in ("head", "cell"):
                col = (attrib.get("col") or "").strip()
                if not col.isdigit() or not 1 <= int(col) <= 99:
                    self.fail(
                        f"<{tag}> needs a col attribute (a column number), found {col!r}"
                    )
                self.capture_col = int(col)
            self.capture = []
            self.capture_tag = tag
            self.capture_depth = len(stack)
            self.nemods = []
            return
        if tag == "indexHeading":
            if parent != ROOT_TAG:
                self.fail("<indexHeading> must sit directly under the root element")
            return
        if tag == "letter":
            if parent != ROOT_TAG:
                self.fail("<letter> must sit directly under the root element")
            if not self.kind:
                self._decide_kind()
            self.letters += 1
            return
        if tag in TERM_TAGS:
            if parent not in TERM_PARENTS[tag]:
                self.fail(f"<{tag}> found inside <{parent}>, where it is not allowed")
            depth = len(self.terms)
            if tag == "term":
                level = (attrib.get("level") or "").strip()
                if level != str(depth):
                    self.fail(
                        f"A <term> at depth {depth} has level {level!r}{self.where()}; the level must be its depth"
                    )
                if not self.terms[-1].emitted:
                    self._emit(self.terms[-1])
            self.terms.append(_Term(tag, self.line() or 0))
            return
        # An element no schema names here: skip its subtree.
        self.skipped[tag] = self.skipped.get(tag, 0) + 1
        self.skip_depth = 1

    def data(self, text: str) -> None:
        if self.capture is None or self.old_depth:
            return
        if self.nemod_buf is not None:
            self.nemod_buf.append(text)
        else:
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
                self._text(tag, text, stack[-2])
            elif tag == "old":
                self.old_depth -= 1
            elif tag == "nemod" and self.nemod_buf is not None and not self.old_depth:
                nemod = _clean("".join(self.nemod_buf))
                if nemod:
                    self.nemods.append(nemod)
                self.nemod_buf = None
                self.capture.append(" ")
            stack.pop()
            return
        if tag in TERM_TAGS:
            term = self.terms[-1]
            if not term.emitted:
                self._emit(term)
            self.terms.pop()
        stack.pop()

    def _text(self, tag: str, raw: str, parent: str) -> None:
        text = _clean(raw)
        if tag == "version":
            if parent == ROOT_TAG:
                self.version = text
            return
        if tag == "head":
            self.heads[self.capture_col] = text
            return
        if tag == "warning":
            self.warning_elements += 1
            return
        if tag in ("title", "diff"):
            if parent == ROOT_TAG:
                self.root_title = text
            elif parent in TERM_TAGS:
                term = self.terms[-1]
                if term.title is not None:
                    self.fail(
                        f"A <{parent}> has two titles ({term.title!r} and {text!r})"
                    )
                if not text:
                    self.fail(f"A <{parent}> has an empty <title>{self.where()}")
                term.title = text
                term.nemod.extend(self.nemods)
            return
        term = self.terms[-1]
        if tag == "see":
            if text:
                term.see.append(text)
        elif tag == "seeAlso":
            if text:
                term.see_also.append(text)
        elif tag == "cell":
            if text in EMPTY_CELLS:
                return
            code = index_code(text)
            if code is None:
                self.fail(
                    f"Cell {self.capture_col} of {term.title!r} holds {text!r}, which is not an ICD-10-CM code"
                )
            column = self.heads.get(self.capture_col) or f"col {self.capture_col}"
            term.codes.append((column, code))
        elif tag == "code":
            code = index_code(text)
            if code is None:
                self.fail(
                    f"<code> of {term.title!r} holds {text!r}, which is not an ICD-10-CM code"
                )
            term.codes.append(("code", code))
        elif tag == "manif":
            code = _code_or_range(text.strip("[]() "))
            if code is not None:
                term.codes.append(("manif", code))
            elif text:
                term.nemod.append(text if text.startswith("(") else f"({text})")
        elif tag in ("seecat", "subcat"):
            code = _code_or_range(text)
            if code is None:
                self.fail(
                    f"<{tag}> of {term.title!r} holds {text!r}, which is not an ICD-10-CM category"
                )
            term.codes.append(
                ("see_category" if tag == "seecat" else "see_subcategory", code)
            )


class IndexImporter:
    name = "icd10cm_index"
    system = "icd10cm"
    description = "ICD-10-CM index XML (drug table, neoplasm table, external cause index, Index to Diseases)"

    def detect(self, head: bytes) -> bool:
        return detect_root(head, ROOT_TAG)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        target = _Target()
        stream_parse(Path(path), target, target.where, progress)
        if not target.root_seen:
            raise ImportFormatError("The file holds no XML element.", line=1)
        if not target.letters or not target.out:
            raise ImportFormatError(
                "The index holds no <letter> with terms.", element=ROOT_TAG
            )

        result = ParseResult(
            system=self.system, format=self.name, version=target.version
        )
        result.variant = target.kind
        result.index_terms = target.out
        if not target.version:
            result.warnings.append("The file has no <version>.")
        if target.kind in ("drug", "neoplasm"):
            used = {col for term in target.out for col, _ in term.codes}
            missing = sorted(c for c in used if c.startswith("col "))
            if missing:
                result.warnings.append(
                    f"Cells in {', '.join(missing)} have no <head> naming their column."
                )
        if target.warning_elements:
            result.warnings.append(
                f"{target.warning_elements} <warning> element(s) were skipped."
            )
        if target.skipped:
            result.warnings.append(
                "Elements no schema names were skipped: "
                + ", ".join(f"<{t}> x{n}" for t, n in sorted(target.skipped.items()))
                + "."
            )
        return result


IMPORTER = IndexImporter()
