"""ICD-10-CM codes file (``icd10cm_codes_YYYY.txt``): the valid (billable) codes only.

Layout: the code without its dot, left-justified in an 8-column field (so
column 8 is always blank), then the long title from column 9 to the end::

    A000    Cholera due to Vibrio cholerae 01, biovar cholerae
    S0000XA Unspecified superficial injury of unspecified part of head, initial encounter

Every code is billable; the file has no short titles (``short_title`` repeats
the long title), no headers and no hierarchy, so ``parent``, ``chapter`` and
``block`` stay empty (a warning says so).

The ICD-10-PCS codes file has the same shape for its 7-character codes
(``0016070 Bypass ...``); detection tells them apart by the codes themselves
(see ``icd10cm_order.cm_codes_not_pcs``).
"""

from __future__ import annotations

from pathlib import Path

from ._text import (
    TITLE_WORD_RE,
    check_title_words,
    check_unique,
    head_lines,
    read_lines,
    record_lines,
)
from .base import ImportFormatError, ParsedCode, ParseResult, Progress
from .icd10cm_order import CM_CODE_RE, check_code, cm_codes_not_pcs, code_kind

CODE_WIDTH = 8


def _code_field(line: str) -> str | None:
    """The code when the line has the codes-file layout, for detection."""
    if (
        len(line) <= CODE_WIDTH
        or line[CODE_WIDTH - 1] != " "
        or line[CODE_WIDTH] == " "
    ):
        return None
    code = line[:CODE_WIDTH].rstrip()
    if not code or " " in code or not TITLE_WORD_RE.search(line, CODE_WIDTH):
        return None
    return code


class CodesImporter:
    name = "icd10cm_codes"
    system = "icd10cm"
    description = "ICD-10-CM codes file (billable codes and long titles)"

    def detect(self, head: bytes) -> bool:
        lines = head_lines(head)
        if not lines:
            return False
        codes = []
        for line in lines:
            code = _code_field(line)
            if code is None or not CM_CODE_RE.fullmatch(code):
                return False
            codes.append(code)
        return cm_codes_not_pcs(codes)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system="icd10cm", format=self.name)
        lines, total = read_lines(Path(path), progress, result.warnings)
        seen: dict[str, int] = {}
        for lineno, line in record_lines(lines, progress, total):
            field = line[:CODE_WIDTH]
            code = field.rstrip()
            if field[:1] == " " or " " in code:
                raise ImportFormatError(
                    f"Columns 1-{CODE_WIDTH} must hold one code, left-justified; found {field!r}.",
                    line=lineno,
                )
            check_code(code, lineno, f"columns 1-{CODE_WIDTH}")
            if len(line) <= CODE_WIDTH or line[CODE_WIDTH - 1] != " ":
                raise ImportFormatError(
                    f"The code must be followed by blanks up to column {CODE_WIDTH} and the title from column "
                    f"{CODE_WIDTH + 1}.",
                    line=lineno,
                )
            title = line[CODE_WIDTH:].rstrip()
            if not title or line[CODE_WIDTH] == " ":
                raise ImportFormatError(
                    f"The title must start in column {CODE_WIDTH + 1}, right after the code field.",
                    line=lineno,
                )
            check_title_words(code, title, lineno)
            check_unique(code, seen, lineno)
            result.codes.append(
                ParsedCode(code, code_kind(code), True, title, title, "", "", "")
            )
        if not result.codes:
            raise ImportFormatError("The file holds no codes.", line=1)
        result.warnings.append(
            "The codes file lists billable codes only, with no headers, chapters or blocks: "
            "the codes carry no hierarchy (no parents)."
        )
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = CodesImporter()
