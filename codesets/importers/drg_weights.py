"""CMS IPPS Table 5: MS-DRGs, relative weighting factors and mean lengths of stay.

CMS publishes Table 5 with each IPPS final rule as tab-separated text in
Windows-1252 (the title holds a 0x97 em dash), CRLF line ends, fields quoted
CSV-style when they hold a comma.  The FY2026 file (MS-DRG v43) reads::

    "TABLE 5.—LIST OF MEDICARE SEVERITY DIAGNOSIS-RELATED GROUPS (MS-DRGS), RELATIVE WEIGHTING FACTORS, ⏎
    AND GEOMETRIC AND ARITHMETIC MEAN LENGTH OF STAY—FY 2026 Final Rule"<9 tabs>
    MS-DRG ⇥FY 2026 Final Post-Acute DRG⇥FY 2026 Final Special Pay DRG⇥MDC⇥TYPE⇥MS-DRG Title⇥
        Weights - Before Cap⇥Weights - 10% Cap Applied ⇥Geometric mean LOS⇥Arithmetic mean LOS
    001⇥No⇥No⇥PRE⇥SURG⇥HEART TRANSPLANT OR IMPLANT OF HEART ASSIST SYSTEM WITH MCC⇥28.0239⇥28.0239⇥25.8⇥36.2
    003⇥Yes⇥No⇥PRE⇥SURG⇥"ECMO OR TRACHEOSTOMY ..., MOUTH AND NECK WITH MAJOR O.R. PROCEDURES"⇥21.2252⇥...
    981⇥Yes⇥No⇥ ⇥SURG⇥EXTENSIVE O.R. PROCEDURES UNRELATED TO PRINCIPAL DIAGNOSIS WITH MCC⇥4.6918⇥...
    998⇥No⇥No⇥ ⇥**⇥PRINCIPAL DIAGNOSIS INVALID AS DISCHARGE DIAGNOSIS⇥.⇥.⇥.⇥
    999⇥No⇥No⇥ ⇥**⇥UNGROUPABLE⇥.⇥.⇥.⇥
    <9 tabs>

The title is one quoted field spread over two physical lines; the last line
is a row of empty fields.  Columns are found by their header names, so a year
that moves or renames a column still reads:

* ``MS-DRG``: 1-3 digits (``001``), stored as an int;
* ``... Post-Acute DRG`` / ``... Special Pay DRG``: ``Yes`` / ``No``;
* ``MDC``: ``PRE`` or two digits (``04``); blank for the DRGs that belong to
  no MDC (981-989, 998, 999): stored as ``""``;
* ``TYPE``: ``MED`` or ``SURG``;
* weights: since FY2023 CMS prints the weight before and after the 10% cap on
  year-over-year decreases.  ``weight`` is the *capped* one ("Weights - 10% Cap
  Applied"), the weight CMS pays with; a file with a single weight column
  (years before the cap) gives that column.  The uncapped weight has no field
  in ``ParsedDrgWeight`` and is not kept (31 DRGs differ in FY2026);
* ``Geometric mean LOS`` / ``Arithmetic mean LOS``: decimals.

DRGs 998 and 999 (ungroupable) have type ``**`` and ``.`` for every figure:
they are kept, with ``type`` ``""``, ``weight`` ``Decimal(0)`` and both lengths
of stay ``None``, and a warning names them.  Any other row must have every
figure.

``version`` is the fiscal year of the title line (``FY 2026`` -> ``"2026"``);
without a title the "FY 2026 Final ..." header names give it (with a warning).
Line numbers in errors are physical lines of the file (the title takes two).
After the table, a blank row and then lines that are not DRG rows (footnotes)
are tolerated and named in a warning; a DRG row after a blank row is refused.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ._text import csv_rows, progress_step, read_decoded
from ._text import norm_cell as _norm
from .base import ImportFormatError, ParsedDrgWeight, ParseResult, Progress

HEADER_SEARCH_ROWS = 30

FY_RE = re.compile(r"\bFY\s*(\d{4})\b", re.I)
DRG_RE = re.compile(r"\d{1,3}")
MDC_RE = re.compile(r"PRE|\d{2}")
WEIGHT_RE = re.compile(r"\d*\.\d+|\d+")
LOS_RE = re.compile(r"\d*\.\d+|\d+")
UNGROUPABLE_TYPE = "**"
MISSING_FIGURE = "."

_DETECT_LINE_RE = re.compile(rb"^\s*\"?MS-DRG\s*\"?\t", re.M | re.I)


def _columns(header: list[str], lineno: int) -> dict[str, int]:
    """Index of each needed column, by header name."""
    names = [_norm(c) for c in header]
    found: dict[str, int] = {}

    def one(key: str, predicate, label: str) -> None:
        hits = [i for i, name in enumerate(names) if predicate(name)]
        if not hits:
            raise ImportFormatError(
                f"The header row has no {label} column (found: {', '.join(repr(c.strip()) for c in header if c.strip())}).",
                line=lineno,
            )
        if len(hits) > 1:
            raise ImportFormatError(
                f"The header row has {len(hits)} {label} columns.", line=lineno
            )
        found[key] = hits[0]

    one("drg", lambda n: n in ("ms-drg", "msdrg", "drg"), "'MS-DRG'")
    one(
        "post_acute",
        lambda n: "post-acute" in n or "post acute" in n,
        "'Post-Acute DRG'",
    )
    one("special_pay", lambda n: "special pay" in n, "'Special Pay DRG'")
    one("mdc", lambda n: n == "mdc", "'MDC'")
    one("type", lambda n: n == "type", "'TYPE'")
    one("title", lambda n: "title" in n, "'MS-DRG Title'")
    one("gmlos", lambda n: "geometric" in n, "'Geometric mean LOS'")
    one("amlos", lambda n: "arithmetic" in n, "'Arithmetic mean LOS'")
    weights = [i for i, name in enumerate(names) if name.startswith("weight")]
    capped = [i for i in weights if "cap applied" in names[i]]
    if len(capped) == 1:
        found["weight"] = capped[0]
    elif len(weights) == 1:
        found["weight"] = weights[0]
    else:
        raise ImportFormatError(
            "The header row must have one 'Weights' column, or a 'Weights - 10% Cap Applied' column "
            f"beside the uncapped one; found {len(weights)} weight columns.",
            line=lineno,
        )
    return found


def _yes_no(value: str, what: str, lineno: int) -> bool:
    word = value.strip().lower()
    if word in ("yes", "y"):
        return True
    if word in ("no", "n"):
        return False
    raise ImportFormatError(
        f"{what} must be Yes or No, found {value.strip()!r}.", line=lineno
    )


def _decimal(value: str, what: str, lineno: int, pattern: re.Pattern) -> Decimal:
    text = value.strip()
    if not pattern.fullmatch(text):
        raise ImportFormatError(
            f"{what} must be a decimal number, found {text!r}.", line=lineno
        )
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already checked it
        raise ImportFormatError(
            f"{what} is not a number: {text!r}.", line=lineno
        ) from None


class DrgWeightsImporter:
    name = "drg_weights"
    system = "drg_weights"
    description = "CMS IPPS Table 5 (MS-DRG relative weights and mean lengths of stay, tab-separated)"

    def detect(self, head: bytes) -> bool:
        head = head.lstrip(b"\xef\xbb\xbf")
        for match in _DETECT_LINE_RE.finditer(head[:16384]):
            end = head.find(b"\n", match.start())
            line = head[match.start() : end if end >= 0 else len(head)].lower()
            if b"\tmdc\t" in line and b"weight" in line and b"title" in line:
                return True
        return False

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system=self.system, format=self.name)
        text, total = read_decoded(Path(path), progress, result.warnings)
        rows = csv_rows(text, "The table", delimiter="\t")

        header_at = None
        for index, (_lineno, row) in enumerate(rows[:HEADER_SEARCH_ROWS]):
            if row and _norm(row[0]) in ("ms-drg", "msdrg"):
                header_at = index
                break
        if header_at is None:
            raise ImportFormatError(
                "No header row starting with 'MS-DRG' in the first lines: this is not CMS Table 5.",
                line=1,
            )
        header_line, header = rows[header_at]
        cols = _columns(header, header_line)
        width = max(cols.values()) + 1

        title = " ".join(
            " ".join(c for c in row if c.strip()) for _, row in rows[:header_at]
        )
        match = FY_RE.search(title)
        if match:
            result.version = match.group(1)
        else:
            header_years = {m.group(1) for m in FY_RE.finditer(" ".join(header))}
            if len(header_years) == 1:
                result.version = header_years.pop()
                result.warnings.append(
                    f"The file has no title line naming its fiscal year; FY {result.version} is taken from the column names."
                )
            else:
                result.warnings.append(
                    "The file does not say which fiscal year it is for."
                )
        if match:
            header_years = {m.group(1) for m in FY_RE.finditer(" ".join(header))}
            if header_years and header_years != {result.version}:
                result.warnings.append(
                    f"The title says FY {result.version} but the column names say FY {', '.join(sorted(header_years))}."
                )

        seen: dict[int, int] = {}
        ungroupable: list[str] = []
        blank_from: int | None = None
        footnotes: list[int] = []
        body = rows[header_at + 1 :]
        for index, (lineno, row) in enumerate(body):
            progress_step(progress, index, len(body), total, parts=20)
            if not any(cell.strip() for cell in row):
                if blank_from is None:
                    blank_from = lineno
                continue
            first = row[0].strip()
            if blank_from is not None:
                if DRG_RE.fullmatch(first):
                    raise ImportFormatError(
                        f"Blank line {blank_from} inside the table (DRG rows follow it).",
                        line=blank_from,
                    )
                footnotes.append(lineno)
                continue
            if not DRG_RE.fullmatch(first):
                raise ImportFormatError(
                    f"The MS-DRG column must hold a DRG number (1-3 digits), found {first!r}.",
                    line=lineno,
                )
            if len(row) < width:
                raise ImportFormatError(
                    f"The row has {len(row)} fields; the header names {width}.",
                    line=lineno,
                )
            drg = int(first)
            if not 1 <= drg <= 999:
                raise ImportFormatError(
                    f"DRG {first} is out of range 001-999.", line=lineno
                )
            if drg in seen:
                raise ImportFormatError(
                    f"DRG {drg:03d} appears twice (first on line {seen[drg]}).",
                    line=lineno,
                )
            seen[drg] = lineno
            mdc = row[cols["mdc"]].strip().upper()
            if mdc and not MDC_RE.fullmatch(mdc):
                raise ImportFormatError(
                    f"The MDC must be PRE, two digits or blank, found {mdc!r}.",
                    line=lineno,
                )
            drg_type = row[cols["type"]].strip().upper()
            title_text = " ".join(row[cols["title"]].split())
            if not title_text:
                raise ImportFormatError(f"DRG {drg:03d} has no title.", line=lineno)
            figures = [row[cols[k]].strip() for k in ("weight", "gmlos", "amlos")]
            if drg_type == UNGROUPABLE_TYPE:
                if any(f not in (MISSING_FIGURE, "") for f in figures):
                    raise ImportFormatError(
                        f"DRG {drg:03d} has type '**' (ungroupable) but carries a weight or length of stay.",
                        line=lineno,
                    )
                ungroupable.append(f"{drg:03d}")
                weight, gmlos, amlos, drg_type = Decimal(0), None, None, ""
            else:
                if drg_type not in ("MED", "SURG"):
                    raise ImportFormatError(
                        f"TYPE must be MED or SURG, found {drg_type!r}.", line=lineno
                    )
                weight = _decimal(figures[0], "The weight", lineno, WEIGHT_RE)
                if weight <= 0:
                    raise ImportFormatError(
                        f"The weight of DRG {drg:03d} is not positive.", line=lineno
                    )
                gmlos = _decimal(figures[1], "The geometric mean LOS", lineno, LOS_RE)
                amlos = _decimal(figures[2], "The arithmetic mean LOS", lineno, LOS_RE)
            result.drg_weights.append(
                ParsedDrgWeight(
                    drg=drg,
                    mdc=mdc,
                    type=drg_type,
                    title=title_text,
                    weight=weight,
                    gmlos=gmlos,
                    amlos=amlos,
                    post_acute=_yes_no(
                        row[cols["post_acute"]], "The post-acute DRG column", lineno
                    ),
                    special_pay=_yes_no(
                        row[cols["special_pay"]], "The special pay DRG column", lineno
                    ),
                    line=lineno,
                )
            )
        if not result.drg_weights:
            raise ImportFormatError("The table holds no DRG rows.", line=header_line)
        if ungroupable:
            result.warnings.append(
                f"DRG {', '.join(ungroupable)} (ungroupable) carry no weight or length of stay; "
                "they are kept with weight 0 and no type."
            )
        if footnotes:
            result.warnings.append(
                f"{len(footnotes)} line(s) after the table were taken as footnotes and skipped "
                f"(from line {footnotes[0]})."
            )
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = DrgWeightsImporter()
