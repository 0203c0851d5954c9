"""CMS's list of ICD-10-CM codes exempt from present-on-admission (POA) reporting.

CMS publishes it each fiscal year with the ICD-10-CM files
(``POAexemptCodesFY25.txt``, 38,154 codes for FY2025), tab-separated, a header row,
then one code a row: CMS's order number (text with leading zeros, the code's place
in the tabular order), the code *with* its dot, and its long title. Titles holding
a comma are quoted as a spreadsheet exports them::

    OrdFY25	POAexemptCode	Description
    01236	B90.0	Sequelae of central nervous system tuberculosis
    12128	I69.065	"Other paralytic syndrome following nontraumatic subarachnoid hemorrhage, bilateral"

* the code is stored undotted (``Z3A00``); a dot may only follow the category's
  three characters; a code may be listed once;
* the title must not be empty;
* ``version`` is the fiscal year the order column names (``OrdFY25``, ``Order25``
  -> ``2025``); the release is proposed for that fiscal year (services).

**The change files.** Beside the list CMS publishes what changed from the year
before: the codes added (``POAexemptAddCodesFY25.txt``, the list's own layout),
deleted (``POAexemptDeleteCodesFY25.txt``: code and title) and retitled
(``POAexemptReviseCodesFY25.txt``: order, "Revise from:"/"Revise to:", code,
title). They are not lists of exempt codes, so they are not imported as releases:
the deletion and revision files are recognised and refused with a message saying
so, and a list far shorter than CMS's (an additions file imported by mistake)
gets a warning. What they state is checked instead: the release's diff against
the previous fiscal year's list shows the same added / deleted / retitled codes,
and ``bench/check_poa_exempt.py`` checks the FY2025 list against all three files
(docs/architecture.md, "POA-exempt lists").
"""

from __future__ import annotations

import re
from pathlib import Path

from ._text import csv_rows, head_lines, progress_step, read_decoded
from .base import ImportFormatError, ParsedPoaExempt, ParseResult, Progress
from .icd10cm_order import CM_CODE_RE

CODE_HEADER = "poaexemptcode"
# "OrdFY25", "Order25", "Order2025": the fiscal year the list is for.
ORDER_HEADER_RE = re.compile(r"ord(?:er)?(?:fy)?(\d{2}|\d{4})", re.I)
ORDER_RE = re.compile(r"\d{1,8}")
DOTTED_CODE_RE = re.compile(r"([A-Z][0-9A-Z]{2})(?:\.([0-9A-Z]{1,4}))?")
# CMS's lists hold tens of thousands of codes; a list this short is suspect.
SHORT_LIST = 1000


def _header(line: str) -> list[str]:
    return [cell.strip().strip('"').lower() for cell in line.split("\t")]


def _kind(header: list[str]) -> str:
    """Which of CMS's POA files a header row starts: "list" (the list, or its
    additions file), "delete", "revise", or "" for none."""
    if header[:2] == [CODE_HEADER, "description"]:
        return "delete"
    if len(header) >= 4 and header[1] == "action" and header[2] == CODE_HEADER:
        return "revise"
    if len(header) >= 3 and header[1] == CODE_HEADER and header[2] == "description":
        return "list"
    return ""


def _code(cell: str, lineno: int) -> str:
    raw = cell.strip()
    match = DOTTED_CODE_RE.fullmatch(raw)
    if not match:
        raise ImportFormatError(
            f"{raw!r} is not an ICD-10-CM code as CMS's POA list writes it "
            "(a letter, two letters or digits, then a dot and 1-4 more, e.g. Z3A.00).",
            line=lineno,
        )
    code = match.group(1) + (match.group(2) or "")
    if not CM_CODE_RE.fullmatch(
        code
    ):  # pragma: no cover - the pattern above is stricter
        raise ImportFormatError(f"{raw!r} is not an ICD-10-CM code.", line=lineno)
    return code


class PoaExemptImporter:
    name = "poa_exempt"
    system = "poa_exempt"
    description = "CMS POA-exempt code list (tab-separated: order, code, description)"

    def detect(self, head: bytes) -> bool:
        lines = head_lines(head)
        return bool(lines) and _kind(_header(lines[0])) != ""

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system=self.system, format=self.name)
        text, total = read_decoded(Path(path), progress, result.warnings)
        rows = csv_rows(text, "The tab-separated file", delimiter="\t")
        rows = [
            (lineno, cells) for lineno, cells in rows if any(c.strip() for c in cells)
        ]
        if not rows:
            raise ImportFormatError("The file is empty.", line=1)
        header_line, header_cells = rows[0]
        header = [c.strip().lower() for c in header_cells]
        kind = _kind(header)
        if kind == "delete":
            raise ImportFormatError(
                "This is CMS's list of codes deleted from the POA-exempt list (code and "
                "description), not a POA-exempt list: import the full list "
                "(POAexemptCodesFYyy.txt). Its release's comparison with the previous "
                "year's list shows these deletions.",
                line=header_line,
            )
        if kind == "revise":
            raise ImportFormatError(
                "This is CMS's list of POA-exempt codes whose titles were revised "
                "(Revise from / Revise to), not a POA-exempt list: import the full list "
                "(POAexemptCodesFYyy.txt). Its release's comparison with the previous "
                "year's list shows these revisions.",
                line=header_line,
            )
        if kind != "list":
            raise ImportFormatError(
                "The first row must be the header: order number, POAexemptCode, "
                f"Description (found {' | '.join(header_cells)[:120]!r}).",
                line=header_line,
            )
        year = ORDER_HEADER_RE.fullmatch(header[0])
        if year:
            digits = year.group(1)
            result.version = digits if len(digits) == 4 else f"20{digits}"
        else:
            result.warnings.append(
                f"The order column {header_cells[0]!r} names no fiscal year: give the "
                "release its dates when activating it."
            )
        seen: dict[str, int] = {}
        count = len(rows) - 1
        for index, (lineno, cells) in enumerate(rows[1:]):
            progress_step(progress, index, count, total)
            if len(cells) != 3:
                raise ImportFormatError(
                    f"A row has 3 tab-separated fields (order, code, description); "
                    f"this one has {len(cells)}.",
                    line=lineno,
                )
            order, raw_code, title = (c.strip() for c in cells)
            if not ORDER_RE.fullmatch(order):
                raise ImportFormatError(
                    f"The order number {order!r} is not a number.", line=lineno
                )
            code = _code(raw_code, lineno)
            if not title:
                raise ImportFormatError(f"{raw_code} has no description.", line=lineno)
            if code in seen:
                raise ImportFormatError(
                    f"{raw_code} is listed twice (first on line {seen[code]}).",
                    line=lineno,
                )
            seen[code] = lineno
            result.poa_exempt.append(ParsedPoaExempt(code, title, order, lineno))
        if not result.poa_exempt:
            raise ImportFormatError("The list holds no codes.", line=header_line)
        if len(result.poa_exempt) < SHORT_LIST:
            result.warnings.append(
                f"The list holds only {len(result.poa_exempt):,} codes; CMS's POA-exempt "
                "list holds tens of thousands. If this is the file of codes added this "
                "year (POAexemptAddCodesFYyy.txt), discard this release and import the "
                "full list."
            )
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = PoaExemptImporter()
