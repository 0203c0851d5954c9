"""NCCI Medically Unlikely Edit (MUE) tables: practitioner, facility outpatient hospital, DME supplier.

CMS publishes each quarter's Medicare MUE tables as CSV
(``MCR_MUE_PractitionerServices_Eff_*.csv``, ``…OutpatientHospitalServices…``,
``…DMESupplierServices…``): a copyright / disclaimer preamble (often one quoted
cell spread over several lines), a header row, then one code a row::

    "CPT codes, descriptions and other data only are copyright 2025 American Medical Association. ..."
    HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale
    0001U,1,2 Date of Service Edit: Policy,Code Descriptor / CPT Instruction
    11042,1,1 Line Edit,Clinical: Data
    20610,2,3 Date of Service Edit: Clinical,Anatomic Consideration

The header cell of the code may itself hold a line break (``"HCPCS/⏎CPT Code"``):
the CSV is read with quoting, and line numbers are physical lines.

* code: 5 characters, CPT or HCPCS Level II (as in the PTP importer); a code
  may appear once per table;
* MUE value: a whole number of units, 0 or more;
* MUE Adjudication Indicator (MAI): ``1 Line Edit``, ``2 Date of Service Edit:
  Policy``, ``3 Date of Service Edit: Clinical``.  The digit gives
  ``adjudication_indicator``; the words, when present, must be the ones CMS
  uses for that digit (``adjudication_text`` keeps them as written; a bare
  digit gets CMS's words);
* MUE Rationale: free text, kept as written (may be empty).

**Variant** comes from the name of the value column: "Practitioner Services
MUE Values" -> ``practitioner``; "Outpatient Hospital Services MUE Values" (or
any name with "facility" / "outpatient" / "hospital") -> ``facility``; "DME
Supplier Services MUE Values" -> ``dme``.  A value column that names none of
these is refused.  Tables without an adjudication indicator column (the
Medicaid MUE files) are refused: every Medicare MUE has an MAI.

``version`` is the effective date when the lines above the header state one
("Effective January 1, 2026", "Eff 01-01-2026", "effective 2026-01-01") as
``YYYY-MM-DD``; otherwise ``""`` with a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ._text import csv_rows, progress_step, read_decoded
from ._text import norm_cell as _norm
from .base import ImportFormatError, ParsedMue, ParseResult, Progress
from .ncci_ptp import HCPCS_CODE_RE

HEADER_SEARCH_ROWS = 40

MAI_TEXTS = {
    1: "Line Edit",
    2: "Date of Service Edit: Policy",
    3: "Date of Service Edit: Clinical",
}
MAI_RE = re.compile(r"([0-9]+)\s*(.*)", re.S)
VALUE_RE = re.compile(r"[0-9]+")

MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january", "february", "march", "april", "may", "june", "july",
            "august", "september", "october", "november", "december",
        ),
        start=1,
    )
}  # fmt: skip
EFFECTIVE_RE = re.compile(
    r"\beff(?:ective)?\.?[\s_:-]*(?:"
    r"(?P<month>[a-z]+)\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4})"
    r"|(?P<m2>\d{1,2})[-/](?P<d2>\d{1,2})[-/](?P<y2>\d{4})"
    r"|(?P<y3>\d{4})-(?P<m3>\d{2})-(?P<d3>\d{2}))",
    re.I,
)

_DETECT_RE = re.compile(
    rb'(?is)cpt\s+code\s*"?\s*,\s*"?[a-z /&-]*mue\s+values?\s*"?\s*,'
)


def _is_code_header(cell: str) -> bool:
    name = re.sub(r"\s*/\s*", "/", _norm(cell))
    return name in ("hcpcs/cpt code", "cpt/hcpcs code", "hcpcs code", "hcpcs/cpt codes")


def _variant(column: str, lineno: int) -> str:
    name = _norm(column)
    if "practitioner" in name:
        return "practitioner"
    if "dme" in name or "supplier" in name:
        return "dme"
    if "hospital" in name or "facility" in name or "outpatient" in name:
        return "facility"
    raise ImportFormatError(
        f"The MUE value column {column.strip()!r} does not say whose table this is "
        "(Practitioner, Outpatient Hospital or DME Supplier Services MUE Values).",
        line=lineno,
    )


def _effective(text: str) -> str:
    match = EFFECTIVE_RE.search(text)
    if not match:
        return ""
    try:
        if match.group("month"):
            month = MONTHS.get(match.group("month").lower())
            if month is None:
                return ""
            date = dt.date(int(match.group("year")), month, int(match.group("day")))
        elif match.group("m2"):
            date = dt.date(
                int(match.group("y2")), int(match.group("m2")), int(match.group("d2"))
            )
        else:
            date = dt.date(
                int(match.group("y3")), int(match.group("m3")), int(match.group("d3"))
            )
    except ValueError:
        return ""
    return date.isoformat()


class MueImporter:
    name = "mue"
    system = "mue"
    description = "NCCI Medically Unlikely Edits: practitioner, outpatient hospital or DME supplier table (CSV)"

    def detect(self, head: bytes) -> bool:
        return bool(_DETECT_RE.search(head.lstrip(b"\xef\xbb\xbf")))

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system=self.system, format=self.name)
        text, total = read_decoded(Path(path), progress, result.warnings)
        rows = csv_rows(text, "The CSV")

        header_at = next(
            (
                i
                for i, (_, row) in enumerate(rows[:HEADER_SEARCH_ROWS])
                if row and _is_code_header(row[0])
            ),
            None,
        )
        if header_at is None:
            raise ImportFormatError(
                "No header row starting with 'HCPCS/CPT Code' in the first rows: this is not an MUE table.",
                line=1,
            )
        header_line, header = rows[header_at]
        names = [_norm(c) for c in header]
        value_cols = [i for i, n in enumerate(names) if "mue value" in n]
        mai_cols = [i for i, n in enumerate(names) if "adjudication" in n]
        rationale_cols = [i for i, n in enumerate(names) if "rationale" in n]
        if len(value_cols) != 1:
            raise ImportFormatError(
                "The header row must have one '... Services MUE Values' column, "
                f"found {len(value_cols)}.",
                line=header_line,
            )
        if len(mai_cols) != 1:
            raise ImportFormatError(
                "The header row must have one 'MUE Adjudication Indicator' column "
                f"(Medicaid MUE tables, which have none, are not imported), found {len(mai_cols)}.",
                line=header_line,
            )
        if len(rationale_cols) > 1:
            raise ImportFormatError(
                "The header row has two rationale columns.", line=header_line
            )
        value_col, mai_col = value_cols[0], mai_cols[0]
        rationale_col = rationale_cols[0] if rationale_cols else None
        if rationale_col is None:
            result.warnings.append("The table has no MUE Rationale column.")
        width = max(value_col, mai_col, rationale_col or 0) + 1
        result.variant = _variant(header[value_col], header_line)
        above = " ".join(" ".join(row) for _, row in rows[:header_at])
        result.version = _effective(above)
        if not result.version:
            result.warnings.append(
                "The lines above the header do not state the table's effective date."
            )

        seen: dict[str, int] = {}
        blank_from: int | None = None
        body = rows[header_at + 1 :]
        for index, (lineno, row) in enumerate(body):
            progress_step(progress, index, len(body), total, parts=20)
            cells = [c.strip() for c in row]
            if not any(cells):
                if blank_from is None:
                    blank_from = lineno
                continue
            if blank_from is not None:
                raise ImportFormatError(
                    f"Blank line {blank_from} inside the table (codes follow it).",
                    line=blank_from,
                )
            if len(cells) < width:
                raise ImportFormatError(
                    f"The row has {len(cells)} fields; the header names {width}.",
                    line=lineno,
                )
            if any(cells[width:]):
                raise ImportFormatError(
                    f"The row has {len(cells)} fields; the header names {width}.",
                    line=lineno,
                )
            code = cells[0]
            if not code:
                raise ImportFormatError("The HCPCS/CPT code is missing.", line=lineno)
            if not HCPCS_CODE_RE.fullmatch(code):
                raise ImportFormatError(
                    f"{code!r} is not a CPT/HCPCS code (5 characters: 4 digits and a digit or letter, "
                    "or a letter and 4 digits).",
                    line=lineno,
                )
            if code in seen:
                raise ImportFormatError(
                    f"Code {code} appears twice (first on line {seen[code]}).",
                    line=lineno,
                )
            seen[code] = lineno
            value_text = cells[value_col]
            if not VALUE_RE.fullmatch(value_text):
                raise ImportFormatError(
                    f"The MUE value must be a whole number of units, found {value_text!r}.",
                    line=lineno,
                )
            mai_text = " ".join(cells[mai_col].split())
            match = MAI_RE.fullmatch(mai_text)
            if not match or int(match.group(1)) not in MAI_TEXTS:
                raise ImportFormatError(
                    "The MUE adjudication indicator must be 1 (Line Edit), 2 (Date of Service Edit: Policy) "
                    f"or 3 (Date of Service Edit: Clinical), found {mai_text!r}.",
                    line=lineno,
                )
            mai = int(match.group(1))
            words = match.group(2).strip()
            if words and _norm(words) != _norm(MAI_TEXTS[mai]):
                raise ImportFormatError(
                    f"Adjudication indicator {mai} is '{MAI_TEXTS[mai]}', but the row says {words!r}.",
                    line=lineno,
                )
            result.mues.append(
                ParsedMue(
                    code=code,
                    value=int(value_text),
                    adjudication_indicator=mai,
                    adjudication_text=words or MAI_TEXTS[mai],
                    rationale=" ".join(cells[rationale_col].split())
                    if rationale_col is not None
                    else "",
                    line=lineno,
                )
            )
        if not result.mues:
            raise ImportFormatError("The table holds no codes.", line=header_line)
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = MueImporter()
