"""CPT code files a customer licenses from the AMA (or prepares from its licensed data).

CPT descriptors are copyright of the American Medical Association: the workbench
ships none. This importer reads the file a licensed customer uploads. CPT code
numbers alone are facts: a code is 5 characters, either 5 digits (Category I,
e.g. 99213) or 4 digits and a letter: F (Category II, 1036F), T (Category III,
0075T), U (Proprietary Laboratory Analyses, 0001U) or M (Multianalyte Assays
with Algorithmic Analyses, 0002M).

Three layouts are accepted; the content decides which (never the file name):

1. **AMA data file, one descriptor per line** (``variant = "ama_tab"``): the
   ``LONGULT.txt`` / ``MEDU.txt`` / ``SHORTU.txt`` style, no header, each line
   ``CODE<TAB>DESCRIPTOR``::

       99213<TAB>Office or other outpatient visit ...

   Such a file carries one descriptor per code; it becomes both the short and the
   long title (a warning says so). Import the file with the descriptors you want
   shown, or use layout 2 or 3 to give both.

2. **AMA "CPT Link"-style table** (``variant = "ama_link"``): tab- or
   comma-separated with a header row. Columns are found by name, case and
   spacing/underscores ignored:

   * code: ``CPT Code``, ``Code``, ``HCPCS``, ``HCPCS Code``, ``CPT`` (required)
   * long title: ``Long Descriptor``, ``Long Description``, ``Descriptor`` (required)
   * short title: ``Short Descriptor``, ``Short Description`` (optional; without
     it the long descriptor is used, with a warning)
   * ``Concept Id`` (optional): kept in ``extra`` as ``concept_id``

   Other columns (medium, consumer or clinician descriptors...) are ignored.

3. **The workbench's simple CSV** (``variant = "csv"``): UTF-8 (Windows-1252 is
   read too), comma-separated, standard CSV quoting (a field holding a comma or a
   quote is enclosed in double quotes, quotes doubled), this header row exactly::

       code,short_title,long_title[,valid_from,valid_to]

   one code a row::

       code,short_title,long_title,valid_from,valid_to
       99213,"Office visit, est, level 3","Office or other outpatient visit ...",2021-01-01,
       0075T,Short title,Long title,,2022-12-31

   ``short_title`` and ``long_title`` must not be empty; ``valid_from`` and
   ``valid_to`` are optional columns (both or neither) holding an ISO date
   YYYY-MM-DD or nothing: the code is valid for dates of service from
   ``valid_from`` through ``valid_to`` (inclusive).

Every layout: the code must have the CPT shape above, a descriptor must not be
empty, a code must not appear twice; any fault stops the import with its line
number (the physical line where the row starts). Blank lines are allowed only at
the end of the file. Result: one ``ParsedCode`` a code, kind "code", billable
True, no hierarchy. ``version`` is empty (a CPT file does not name its year; the
admin gives it), except in the simple CSV with dates, where it is the most common
year of ``valid_from``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from pathlib import Path

from ._text import head_lines, read_text
from .base import ImportFormatError, ParsedCode, ParseResult, Progress

CPT_CODE_RE = re.compile(r"[0-9]{4}[0-9FTUM]")
DETECT_MAX_ROWS = 50

CODE_NAMES = frozenset({"code", "cpt code", "cpt", "hcpcs", "hcpcs code"})
LONG_NAMES = frozenset({"long descriptor", "long description", "descriptor"})
SHORT_NAMES = frozenset({"short descriptor", "short description"})
CONCEPT_NAMES = frozenset({"concept id"})
SIMPLE_HEADERS = (
    ["code", "short_title", "long_title"],
    ["code", "short_title", "long_title", "valid_from", "valid_to"],
)
# An AMA data-file line: code, one tab, a descriptor with at least one letter.
_TAB_LINE_RE = re.compile(r"[0-9]{4}[0-9FTUM]\t[^\t]*[A-Za-z][^\t]*")


def _norm(name: str) -> str:
    return " ".join(name.replace("_", " ").replace("\ufeff", "").split()).lower()


def _columns(header: list[str]) -> dict[str, int] | None:
    """Role -> column index for a header row, or None when it is no CPT header."""
    names = [_norm(h) for h in header]
    if [h.strip().lower() for h in header] in SIMPLE_HEADERS:
        roles: dict[str, int] = {"code": 0, "short": 1, "long": 2, "simple": -1}
        if len(header) == 5:
            roles.update(valid_from=3, valid_to=4)
        return roles
    roles = {}
    for index, name in enumerate(names):
        for role, aliases in (
            ("code", CODE_NAMES),
            ("long", LONG_NAMES),
            ("short", SHORT_NAMES),
            ("concept", CONCEPT_NAMES),
        ):
            if name in aliases and role not in roles:
                roles[role] = index
    if "code" not in roles or "long" not in roles:
        return None
    return roles


def _delimiter(header_line: str) -> str:
    return "\t" if "\t" in header_line else ","


def _parse_date(raw: str, column: str, lineno: int) -> dt.date | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ImportFormatError(
            f"{column} must be a date YYYY-MM-DD or empty, found {raw!r}.", line=lineno
        ) from None


def _check_code(code: str, lineno: int) -> None:
    if not code:
        raise ImportFormatError("The code is missing.", line=lineno)
    if not CPT_CODE_RE.fullmatch(code):
        raise ImportFormatError(
            f"{code!r} is not a CPT code: expected 5 digits, or 4 digits and F, T, U or M "
            "(e.g. 99213, 1036F, 0075T, 0001U).",
            line=lineno,
        )


class CptFileImporter:
    name = "cpt_file"
    system = "cpt"
    description = (
        "CPT file (AMA data file CODE<tab>descriptor, AMA CPT Link-style table, "
        "or CSV code,short_title,long_title)"
    )

    def detect(self, head: bytes) -> bool:
        lines = [line for line in head_lines(head, keep_blank=True) if line.strip()]
        if not lines:
            return False
        if all(_TAB_LINE_RE.fullmatch(line) for line in lines):
            return True
        delimiter = _delimiter(lines[0])
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
        if len(rows) < 2:
            return False
        # The last row may be cut by the head size; it is not judged.
        data = rows[1:-1] if len(rows) > 2 else rows[1:]
        roles = _columns(rows[0])
        if roles is None:
            return False
        codes = [
            row[roles["code"]].strip()
            for row in data[:DETECT_MAX_ROWS]
            if len(row) > roles["code"]
        ]
        return bool(codes) and all(CPT_CODE_RE.fullmatch(code) for code in codes)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        path = Path(path)
        text, encoding, total = read_text(path, progress)
        if text.endswith("\x1a"):  # DOS end-of-file mark
            text = text[:-1]
        result = ParseResult(system=self.system, format=self.name)
        if encoding != "utf-8":
            result.warnings.append(f"The file is not UTF-8; it was read as {encoding}.")
        first = next((line for line in text.splitlines() if line.strip()), "")
        if not first:
            raise ImportFormatError("The file is empty.", line=1)
        if "\t" in first and CPT_CODE_RE.fullmatch(first.split("\t", 1)[0].strip()):
            rows = self._tab_rows(text)
            result.variant = "ama_tab"
        else:
            rows = self._table_rows(text, result)
        seen: dict[str, int] = {}
        years: Counter = Counter()
        count = max(1, len(rows))
        step = max(1, count // 50)
        for index, (
            lineno,
            code,
            short,
            long,
            valid_from,
            valid_to,
            extra,
        ) in enumerate(rows):
            if progress is not None and index % step == 0:
                progress(total // 2 + total * index // (2 * count), total)
            _check_code(code, lineno)
            if code in seen:
                raise ImportFormatError(
                    f"Code {code} appears twice (first on line {seen[code]}).",
                    line=lineno,
                )
            seen[code] = lineno
            if valid_from is not None:
                years[valid_from.year] += 1
            result.codes.append(
                ParsedCode(
                    code=code,
                    kind="code",
                    billable=True,
                    short_title=short,
                    long_title=long,
                    valid_from=valid_from,
                    valid_to=valid_to,
                    extra=extra,
                )
            )
        if not result.codes:
            raise ImportFormatError("The file holds no CPT codes.", line=1)
        if years:
            result.version = str(
                max(years.items(), key=lambda item: (item[1], item[0]))[0]
            )
        if result.variant == "ama_tab":
            result.warnings.append(
                "The file gives one descriptor per code; it is used as both the short and the long title."
            )
        if progress is not None:
            progress(total, total)
        return result

    # ------------------------------------------------------------------ layouts

    @staticmethod
    def _blank_check(lines: list[str]) -> int:
        """Number of lines holding content; blank lines are allowed only at the end."""
        last = len(lines)
        while last and not lines[last - 1].strip():
            last -= 1
        for index in range(last):
            if not lines[index].strip():
                raise ImportFormatError(
                    f"Blank line {index + 1} inside the file (rows follow it).",
                    line=index + 1,
                )
        return last

    def _tab_rows(self, text: str) -> list[tuple]:
        lines = text.splitlines()
        rows = []
        for index in range(self._blank_check(lines)):
            lineno = index + 1
            fields = lines[index].split("\t")
            if len(fields) != 2:
                raise ImportFormatError(
                    f"An AMA data-file line is CODE<tab>DESCRIPTOR (2 fields); this one has {len(fields)}.",
                    line=lineno,
                )
            code, descriptor = fields[0].strip(), " ".join(fields[1].split())
            _check_code(code, lineno)
            if not descriptor:
                raise ImportFormatError(
                    f"The descriptor of {code} is missing.", line=lineno
                )
            rows.append((lineno, code, descriptor, descriptor, None, None, ()))
        return rows

    def _table_rows(self, text: str, result: ParseResult) -> list[tuple]:
        lines = text.splitlines(keepends=True)
        last = self._blank_check([line.rstrip("\r\n") for line in lines])
        first = next(i for i, line in enumerate(lines) if line.strip())
        delimiter = _delimiter(lines[first])
        reader = csv.reader(
            io.StringIO("".join(lines[first:last])), delimiter=delimiter, strict=True
        )
        try:
            header = next(reader)
        except csv.Error as exc:
            raise ImportFormatError(
                f"The header row is not valid CSV: {exc}.", line=first + 1
            ) from None
        roles = _columns(header)
        if roles is None:
            raise ImportFormatError(
                "The first line is neither CODE<tab>DESCRIPTOR nor a header naming the code column "
                "(code, CPT Code, HCPCS) and the descriptor column (Long Descriptor, Long Description, "
                "Descriptor); the simple CSV header is code,short_title,long_title[,valid_from,valid_to].",
                line=first + 1,
            )
        simple = "simple" in roles
        result.variant = "csv" if simple else "ama_link"
        if not simple and "short" not in roles:
            result.warnings.append(
                "The file has no short descriptor column; the long descriptor is used as the short title."
            )
        names = {
            "code": header[roles["code"]].strip(),
            "long": header[roles["long"]].strip(),
        }
        if "short" in roles:
            names["short"] = header[roles["short"]].strip()
        rows = []
        previous_end = first + reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise ImportFormatError(
                    f"The row is not valid CSV: {exc}.", line=previous_end + 1
                ) from None
            lineno = previous_end + 1
            previous_end = first + reader.line_num
            if len(row) != len(header):
                raise ImportFormatError(
                    f"The row has {len(row)} fields; the header has {len(header)} "
                    f"({delimiter!r}-separated: {', '.join(h.strip() for h in header)}).",
                    line=lineno,
                )
            code = row[roles["code"]].strip()
            _check_code(code, lineno)
            long = " ".join(row[roles["long"]].split())
            if not long:
                raise ImportFormatError(
                    f"The {names['long']} of {code} is missing.", line=lineno
                )
            if "short" in roles:
                short = " ".join(row[roles["short"]].split())
                if not short:
                    raise ImportFormatError(
                        f"The {names['short']} of {code} is missing.", line=lineno
                    )
            else:
                short = long
            valid_from = valid_to = None
            if "valid_from" in roles:
                valid_from = _parse_date(row[roles["valid_from"]], "valid_from", lineno)
                valid_to = _parse_date(row[roles["valid_to"]], "valid_to", lineno)
                if valid_from and valid_to and valid_to < valid_from:
                    raise ImportFormatError(
                        f"valid_to {valid_to} is before valid_from {valid_from}.",
                        line=lineno,
                    )
            extra: tuple[tuple[str, str], ...] = ()
            if "concept" in roles and row[roles["concept"]].strip():
                extra = (("concept_id", row[roles["concept"]].strip()),)
            rows.append((lineno, code, short, long, valid_from, valid_to, extra))
        return rows


IMPORTER = CptFileImporter()
