"""ICD-10-CM order file ("Code Descriptions in Tabular Order", ``icd10cm_order_YYYY.txt``).

Fixed width, one record a line (CDC layout, icd10OrderFiles.pdf)::

    cols 1-5    order number, zero-filled, increasing
    col  6      blank
    cols 7-13   code without its dot, left-justified
    col  14     blank
    col  15     0 = header (not valid for HIPAA transactions), 1 = valid (billable) code
    col  16     blank
    cols 17-76  short title (60 characters, blank-padded)
    col  77     blank
    cols 78-    long title

    00001 A00     0 Cholera                                                      Cholera
    00002 A000    1 Cholera due to Vibrio cholerae 01, biovar cholerae           Cholera due to ...

The file has no chapters or blocks: ``chapter`` and ``block`` stay empty and a
code's parent is the longest shorter prefix that is itself a code in the file
(7th-character codes hang on the code they extend: S020XXA under S020).

Encoding: the CDC files are plain ASCII (checked on the FY2021 file: no byte
above 0x7F; the order file spells "Sjogren", the tabular XML "Sjögren"). The
importer decodes UTF-8 (of which ASCII is a subset) and falls back to
Windows-1252, which older CMS text files used, with a warning.

The ICD-10-CM helpers at the top are shared with the codes and addenda
importers; the generic text helpers live in ``_text``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._text import (
    ORDER_MIN_WIDTH,
    check_blank,
    check_unique,
    head_lines,
    order_increases,
    order_number,
    parse_titles,
    read_lines,
    record_lines,
)
from .base import ImportFormatError, ParsedCode, ParseResult, Progress

# ---------------------------------------------------------------------------
# Helpers shared by the ICD-10-CM text importers (order, codes, addenda).

# ICD-10-CM code without its dot: a letter, then 2-6 letters/digits (A00, E1165,
# S72001A; the second character is a letter in FY2026's QA0).
CM_CODE_RE = re.compile(r"[A-Z][0-9A-Z]{2,6}")

# ICD-10-PCS codes are 7 characters from 0-9 and A-Z without I and O; the first
# (the section) is 0-9, B-D, F-H or X. The PCS order file also lists 3-character
# table headers (e.g. "001").
_PCS_ALPHABET = frozenset("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
_PCS_SECTIONS = frozenset("0123456789BCDFGHX")


def looks_like_pcs(code: str) -> bool:
    return (
        len(code) in (3, 7)
        and code[0] in _PCS_SECTIONS
        and all(c in _PCS_ALPHABET for c in code)
    )


def cm_codes_not_pcs(codes: list[str]) -> bool:
    """True when every code is ICD-10-CM shaped and at least one cannot be ICD-10-PCS.

    A PCS code starting with B, C, D, F, G, H or X is CM shaped too, so a head
    made only of such codes is ambiguous and the CM importers do not claim it.
    Real files start with A00 (CM) or 001 (PCS) and are never ambiguous.
    """
    if not codes or not all(CM_CODE_RE.fullmatch(c) for c in codes):
        return False
    return any(not looks_like_pcs(c) for c in codes)


def check_code(code: str, lineno: int, where: str) -> None:
    if not code:
        raise ImportFormatError(f"The code is missing ({where}).", line=lineno)
    if not CM_CODE_RE.fullmatch(code):
        raise ImportFormatError(
            f"{code!r} ({where}) is not an ICD-10-CM code: expected a letter then 2-6 letters or digits, no dot.",
            line=lineno,
        )


def parse_code_field(line: str, start: int, lineno: int) -> str:
    """The code in the 7 columns from ``start`` (0-based), left-justified."""
    columns = f"{start + 1}-{start + 7}"
    code_field = line[start : start + 7]
    code = code_field.rstrip()
    if code_field[:1] == " " or " " in code:
        raise ImportFormatError(
            f"Columns {columns} must hold the code, left-justified; found {code_field!r}.",
            line=lineno,
        )
    check_code(code, lineno, f"columns {columns}")
    return code


def code_kind(code: str) -> str:
    return "category" if len(code) == 3 else "code"


def prefix_parent(code: str, known) -> str:
    """The longest shorter prefix of ``code`` that is itself a known code ("" if none)."""
    for length in range(len(code) - 1, 2, -1):
        if code[:length] in known:
            return code[:length]
    return ""


def parse_flag(char: str, col: int, lineno: int) -> bool:
    if char not in ("0", "1"):
        raise ImportFormatError(
            f"Column {col} must be the valid flag, 0 (header) or 1 (billable code), found {char!r}.",
            line=lineno,
        )
    return char == "1"


# ---------------------------------------------------------------------------

MIN_WIDTH = ORDER_MIN_WIDTH  # the long title starts in column 78


def _order_fields(line: str) -> tuple[str, str, str] | None:
    """(order number, code, flag) when the line has the order layout, for detection."""
    if (
        len(line) < MIN_WIDTH
        or not line[:5].isdigit()
        or line[5] != " "
        or line[13] != " "
    ):
        return None
    if line[14] not in "01" or line[15] != " " or line[76] != " ":
        return None
    code = line[6:13].rstrip()
    if not code or " " in code:
        return None
    return line[:5], code, line[14]


class OrderImporter:
    name = "icd10cm_order"
    system = "icd10cm"
    description = (
        "ICD-10-CM order file (codes and headers in tabular order, fixed width)"
    )

    def detect(self, head: bytes) -> bool:
        lines = head_lines(head)
        if not lines:
            return False
        codes = []
        for line in lines:
            fields = _order_fields(line)
            if fields is None:
                return False
            codes.append(fields[1])
        return cm_codes_not_pcs(codes)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system="icd10cm", format=self.name)
        lines, total = read_lines(Path(path), progress, result.warnings)
        records: list[tuple[str, bool, str, str, int]] = []
        seen: dict[str, int] = {}
        previous_order = 0
        for lineno, line in record_lines(lines, progress, total):
            order_no = order_number(line, lineno)
            code = parse_code_field(line, 6, lineno)
            check_blank(line, 14, lineno, "after the code")
            billable = parse_flag(line[14], 15, lineno)
            check_blank(line, 16, lineno, "after the valid flag")
            short, long = parse_titles(line, 16, lineno)
            previous_order = order_increases(order_no, previous_order, lineno)
            check_unique(code, seen, lineno)
            records.append((code, billable, short, long, lineno))
        if not records:
            raise ImportFormatError("The file holds no order records.", line=1)

        has_children: set[str] = set()
        parents = {}
        for code, *_ in records:
            parent = prefix_parent(code, seen)
            parents[code] = parent
            if parent:
                has_children.add(parent)
        odd = []
        for code, billable, short, long, lineno in records:
            result.codes.append(
                ParsedCode(
                    code, code_kind(code), billable, short, long, parents[code], "", ""
                )
            )
            if billable and code in has_children:
                odd.append(
                    f"{code} (line {lineno}) is flagged billable but has codes below it"
                )
            elif not billable and code not in has_children:
                odd.append(
                    f"{code} (line {lineno}) is flagged as a header but has no codes below it"
                )
        result.warnings.extend(odd[:20])
        if len(odd) > 20:
            result.warnings.append(
                f"... and {len(odd) - 20} more codes whose valid flag does not fit the hierarchy."
            )
        result.warnings.append(
            "The order file has no chapters or blocks; each code is placed under its longest prefix code."
        )
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = OrderImporter()
