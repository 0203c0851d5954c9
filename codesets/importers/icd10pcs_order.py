"""ICD-10-PCS order file (``icd10pcs_order_YYYY.txt``, "long and abbreviated titles").

CMS publishes it in the fixed-width layout of the ICD-10-CM order file::

    cols 1-5    order number, zero-filled, increasing
    col  6      blank
    cols 7-13   code, left-justified: a 3-character table header or a 7-character code
    col  14     blank
    col  15     0 = header (a table, not valid for transactions), 1 = valid (billable) code
    col  16     blank
    cols 17-76  short (abbreviated) title, 60 characters, blank-padded
    col  77     blank
    cols 78-    long title

    00001 001     0 Central Nervous System and Cranial Nerves, Bypass            Central Nervous ...
    00002 0016070 1 Bypass Cereb Vent to Nasophar w Autol Sub, Open Approach      Bypass Cerebral ...

Headers are the 3-character tables (kind ``category``, not billable); codes are
the 7-character codes (kind ``code``, billable) and hang on their table. The
file has no section or body-system lines, so there are no ``chapter``/``block``
nodes and the tables have no parent (a warning says so). A header must be 3
characters flagged 0 and a code 7 characters flagged 1.

Detection tells it from the ICD-10-CM order file by the codes: ICD-10-CM codes
start with a letter and are 3-7 characters long, ICD-10-PCS headers are 3 and
codes exactly 7 characters of 0-9 and A-Z without I and O, starting with a
section (0-9, B, C, D, F, G, H or X), every header flagged 0 and every code 1.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._text import (
    ORDER_MIN_WIDTH,
    check_blank,
    check_unique,
    every_head_line,
    order_increases,
    order_number,
    parse_titles,
    progress_step,
    read_lines,
    record_lines,
)
from .base import ImportFormatError, ParsedCode, ParseResult, Progress
from .icd10pcs_codes import PCS_ALPHABET, PCS_SECTIONS, check_pcs_code

MIN_WIDTH = ORDER_MIN_WIDTH  # the long title starts in column 78
SHORT_START = 16
_DETECT_HEADER_RE = re.compile(f"[{PCS_SECTIONS}][{PCS_ALPHABET}]{{2}}")
_DETECT_CODE_RE = re.compile(f"[{PCS_SECTIONS}][{PCS_ALPHABET}]{{6}}")


def _looks_like_record(line: str) -> bool:
    if (
        len(line) < MIN_WIDTH
        or not line[:5].isdigit()
        or line[5] != " "
        or line[13] != " "
    ):
        return False
    if line[15] != " " or line[76] != " " or line[16] == " " or line[77] == " ":
        return False
    code = line[6:13].rstrip()
    if line[14] == "0":
        return _DETECT_HEADER_RE.fullmatch(code) is not None
    if line[14] == "1":
        return _DETECT_CODE_RE.fullmatch(code) is not None
    return False


class OrderImporter:
    name = "icd10pcs_order"
    system = "icd10pcs"
    description = "ICD-10-PCS order file (tables and codes with short and long titles, fixed width)"

    def detect(self, head: bytes) -> bool:
        return every_head_line(head, _looks_like_record)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system=self.system, format=self.name)
        lines, total = read_lines(Path(path), progress, result.warnings)
        seen: dict[str, int] = {}
        tables: dict[str, int] = {}
        missing_tables: dict[str, int] = {}
        previous_order = 0
        for lineno, line in record_lines(lines):
            progress_step(progress, lineno, len(lines), total)
            order_no = order_number(line, lineno)
            field = line[6:13]
            code = field.rstrip()
            if not code or field[0] == " " or " " in code:
                raise ImportFormatError(
                    f"Columns 7-13 must hold one code, left-justified; found {field!r}.",
                    line=lineno,
                )
            check_blank(line, 14, lineno, "after the code")
            flag = line[14]
            if flag not in ("0", "1"):
                raise ImportFormatError(
                    f"Column 15 must be the valid flag, 0 (table header) or 1 (billable code), found {flag!r}.",
                    line=lineno,
                )
            if len(code) not in (3, 7):
                raise ImportFormatError(
                    f"{code!r} (columns 7-13) is neither a 3-character table nor a 7-character code.",
                    line=lineno,
                )
            check_pcs_code(code, lineno, "columns 7-13", length=len(code))
            billable = flag == "1"
            if billable != (len(code) == 7):
                raise ImportFormatError(
                    f"Column 15 flags {code} as {'billable (1)' if billable else 'a header (0)'}, but "
                    + (
                        "a 3-character table is a header (0)."
                        if billable
                        else "a 7-character code is billable (1)."
                    ),
                    line=lineno,
                )
            check_blank(line, 16, lineno, "after the valid flag")
            short, long = parse_titles(line, SHORT_START, lineno)
            previous_order = order_increases(order_no, previous_order, lineno)
            check_unique(code, seen, lineno)
            if billable:
                table = code[:3]
                if table in tables:
                    parent = table
                else:
                    parent = ""
                    missing_tables.setdefault(table, lineno)
                result.codes.append(
                    ParsedCode(code, "code", True, short, long, parent, "", "")
                )
            else:
                tables[code] = lineno
                result.codes.append(
                    ParsedCode(code, "category", False, short, long, "", "", "")
                )
        if not result.codes:
            raise ImportFormatError("The file holds no order records.", line=1)
        for table, lineno in list(missing_tables.items())[:20]:
            result.warnings.append(
                f"Codes of table {table} (from line {lineno}) come before or without its header line; "
                "they have no parent."
            )
        if len(missing_tables) > 20:
            result.warnings.append(
                f"... and {len(missing_tables) - 20} more tables without a header line."
            )
        used = {c.parent for c in result.codes}
        empty = [t for t in tables if t not in used]
        if empty:
            result.warnings.append(
                f"{len(empty)} table header(s) have no codes below them: {', '.join(empty[:10])}"
                + (" ..." if len(empty) > 10 else "")
                + "."
            )
        result.warnings.append(
            "The order file has no section or body-system lines: the 3-character tables are the top nodes "
            "and each code hangs on its table."
        )
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = OrderImporter()
