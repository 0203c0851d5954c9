"""ICD-10-PCS codes file (``icd10pcs_codes_YYYY.txt``): every valid code and its long title.

Layout: the 7-character code in columns 1-7, one blank, the long title from
column 9 to the end of the line::

    0016070 Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute, Open Approach
    0DTJ4ZZ Resection of Appendix, Percutaneous Endoscopic Approach

Every code is billable (kind ``code``); the file has no short titles
(``short_title`` repeats the long title). ``parent`` is the code's table, its
first three characters (``001``), as in the tables importer, but this file has
no section, body-system or table lines and no labels to title them, so no
header nodes are emitted: the parent is a node this file does not hold (a
warning says so). ``chapter`` and ``block`` stay empty.

ICD-10-PCS codes are exactly 7 characters from 0-9 and A-Z without I and O,
the first one a section (0-9, B, C, D, F, G, H, X). The ICD-10-CM codes file
looks alike but pads its codes (3-7 characters, a letter first) to 8 columns;
detection checks every line of the head, so it never claims one.

The PCS helpers at the top are shared with the PCS order importer; the
generic text helpers live in ``_text``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._text import (
    TITLE_WORD_RE,
    check_title_words,
    check_unique,
    every_head_line,
    progress_step,
    read_lines,
    record_lines,
)
from .base import ImportFormatError, ParsedCode, ParseResult, Progress

PCS_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PCS_SECTIONS = "0123456789BCDFGHX"
PCS_CODE_RE = re.compile(f"[{PCS_ALPHABET}]{{7}}")
PCS_TABLE_RE = re.compile(f"[{PCS_ALPHABET}]{{3}}")
# A detected code must also start with a known section.
_DETECT_CODE_RE = re.compile(f"[{PCS_SECTIONS}][{PCS_ALPHABET}]{{6}}")
CODE_WIDTH = 7


# ---------------------------------------------------------------------------
# PCS helpers (shared with icd10pcs_order)


def check_pcs_code(code: str, lineno: int, where: str, length: int = 7) -> None:
    pattern = PCS_CODE_RE if length == 7 else PCS_TABLE_RE
    if not pattern.fullmatch(code):
        bad = sorted({c for c in code if c not in PCS_ALPHABET})
        detail = f"; {', '.join(repr(c) for c in bad)} cannot occur" if bad else ""
        raise ImportFormatError(
            f"{code!r} ({where}) is not an ICD-10-PCS code: expected {length} characters of 0-9 and "
            f"A-Z without I and O{detail}.",
            line=lineno,
        )


# ---------------------------------------------------------------------------


def _looks_like_record(line: str) -> bool:
    return (
        len(line) > CODE_WIDTH + 1
        and _DETECT_CODE_RE.fullmatch(line[:CODE_WIDTH]) is not None
        and line[CODE_WIDTH] == " "
        and line[CODE_WIDTH + 1] != " "
        and TITLE_WORD_RE.search(line, CODE_WIDTH + 1) is not None
    )


class CodesImporter:
    name = "icd10pcs_codes"
    system = "icd10pcs"
    description = "ICD-10-PCS codes file (7-character codes and long titles)"

    def detect(self, head: bytes) -> bool:
        return every_head_line(head, _looks_like_record)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system=self.system, format=self.name)
        lines, total = read_lines(Path(path), progress, result.warnings)
        seen: dict[str, int] = {}
        for lineno, line in record_lines(lines):
            progress_step(progress, lineno, len(lines), total)
            field = line[:CODE_WIDTH]
            if len(line) <= CODE_WIDTH or " " in field:
                raise ImportFormatError(
                    f"Columns 1-{CODE_WIDTH} must hold a 7-character code followed by a blank and the title; "
                    f"found {line[: CODE_WIDTH + 1]!r}.",
                    line=lineno,
                )
            check_pcs_code(field, lineno, f"columns 1-{CODE_WIDTH}")
            if line[CODE_WIDTH] != " ":
                raise ImportFormatError(
                    f"Column {CODE_WIDTH + 1} must be blank (between code and title), found {line[CODE_WIDTH]!r}.",
                    line=lineno,
                )
            title = line[CODE_WIDTH + 1 :].rstrip()
            if not title or title[0] == " ":
                raise ImportFormatError(
                    f"The title must start in column {CODE_WIDTH + 2}, after exactly one blank.",
                    line=lineno,
                )
            check_title_words(field, title, lineno)
            check_unique(field, seen, lineno)
            result.codes.append(
                ParsedCode(field, "code", True, title, title, field[:3], "", "")
            )
        if not result.codes:
            raise ImportFormatError("The file holds no codes.", line=1)
        result.warnings.append(
            "The codes file carries no hierarchy: it has no section, body-system or table lines and no "
            "labels to title them, so no header nodes were created; each code's parent is its 3-character "
            "table, which is not in this file."
        )
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = CodesImporter()
