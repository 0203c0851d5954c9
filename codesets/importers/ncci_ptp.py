"""NCCI procedure-to-procedure (PTP) edit files, practitioner and hospital.

CMS publishes each quarter's Medicare PTP edits as tab-separated text (the
practitioner edits ``ccipra-vNNNrN-f1..f4``, the hospital outpatient edits
``ccioph-vNNNrN-f1..f4``): a few lines of copyright and title, a header row,
sometimes header continuation lines, then one edit a line::

    CPT only copyright 2025 American Medical Association. All rights reserved.
    Practitioner PTP Edits
    Column 1⇥Column 2⇥*=in existence prior to 1996⇥Effective Date⇥Deletion Date *=no data⇥
        Modifier 0=not allowed 1=allowed 9=not applicable⇥PTP Edit Rationale
    11042⇥97597⇥⇥20130101⇥*⇥1⇥Mutually exclusive procedures
    27447⇥20700⇥⇥20170101⇥20190101⇥0⇥CPT Manual or CMS manual coding instructions
    99213⇥36000⇥*⇥19960101⇥*⇥1⇥Standards of medical / surgical practice

Columns: Column 1 code (payable), Column 2 code (denied when billed with it),
``*`` when the edit existed before 1996 (blank otherwise), Effective Date
``YYYYMMDD``, Deletion Date ``YYYYMMDD`` or ``*`` (still in force), Modifier
indicator (``0`` never bypassed, ``1`` an NCCI-associated modifier may bypass,
``9`` not applicable: the edit was deleted back to its effective date), PTP
Edit Rationale.  The header may also be written over several lines, its
``*=no data`` / ``0=not allowed`` / ``1=allowed`` / ``9=not applicable``
parts on continuation lines whose first two cells are empty.

Validation (each error names its line):

* the header row must be found in the first 60 lines and name the columns in
  that order (the rationale column may be missing in old files: rationale "");
* codes are 5 characters: CPT (``99213``, ``0213T``, ``0001U``) or HCPCS
  Level II (``G0101``);
* dates are real calendar dates; the deletion date is not before the
  effective date (a deletion date equal to the effective date is CMS's way of
  deleting an edit retroactively: it never applied);
* the indicator is 0, 1 or 9.  An indicator 9 whose deletion date differs
  from the effective date, and an edit whose two codes are the same, give a
  warning, not an error; so does the same (column 1, column 2, effective date)
  twice.  The same pair with different effective dates is normal (an edit
  deleted and added again) and is kept as separate edits.

**Variant.**  Practitioner and hospital edits differ and the file's name (which
says which it is) is not available to the importer (uploads are stored by
checksum), so the variant is read from the lines above the data: a title or
header naming "practitioner" gives ``practitioner``; one naming "hospital",
"outpatient" or "facility" gives ``hospital``.  A file that names neither (or
both) is refused with a message asking for the title line CMS puts on it
("Practitioner PTP Edits" / "Hospital PTP Edits").

``version`` is what the header says of itself: ``v321r0`` (as in CMS's file
names) gives ``"32.1r0"``, "Version 32.1" gives ``"32.1"``; otherwise ``""``
and a warning giving the latest effective date in the file.

The file is read line by line (the real part files are 20-30 MB); each line
is decoded as UTF-8, or Windows-1252 when it is not.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from .base import ImportFormatError, ParsedPtpEdit, ParseResult, Progress

HEADER_SEARCH_LINES = 60
DETECT_MAX_LINES = 60

# CPT (5 digits; category II/III, PLA and MAAA end with F, T, U, M) or HCPCS Level II (letter + 4 digits).
HCPCS_CODE_RE = re.compile(r"[0-9]{4}[0-9A-Z]|[A-Z][0-9]{4}")
DATE_RE = re.compile(r"[0-9]{8}")
INDICATORS = ("0", "1", "9")

# Expected header cells, in order: (test on the normalised cell, label for messages).
HEADER_COLUMNS = (
    (lambda c: c.replace(" ", "") == "column1", "Column 1"),
    (lambda c: c.replace(" ", "") == "column2", "Column 2"),
    (lambda c: "1996" in c, "*=in existence prior to 1996"),
    (lambda c: "effective" in c, "Effective Date"),
    (lambda c: "deletion" in c, "Deletion Date"),
    (lambda c: "modifier" in c, "Modifier"),
    (lambda c: "rationale" in c, "PTP Edit Rationale"),
)

PRACTITIONER_RE = re.compile(r"\bpractitioners?\b", re.I)
HOSPITAL_RE = re.compile(
    r"\b(?:hospitals?|outpatient|facility|facilities|opps)\b", re.I
)
VERSION_FILE_RE = re.compile(r"\bv(\d{2})(\d)r(\d)\b", re.I)
VERSION_WORD_RE = re.compile(r"\bversion\s+(\d{1,2}\.\d)(?:\s*r\s*(\d))?\b", re.I)


def _norm(cell: str) -> str:
    return " ".join(cell.strip().strip('"').split()).lower()


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in line.split("\t")]
    if '"' in line:
        cells = [
            c[1:-1].strip() if len(c) > 1 and c[0] == c[-1] == '"' else c for c in cells
        ]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _is_header(cells: list[str]) -> bool:
    return len(cells) >= 2 and all(
        test(_norm(cell))
        for (test, _), cell in zip(HEADER_COLUMNS[:2], cells[:2], strict=False)
    )


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


_DATES: dict[str, dt.date] = {}


def _date(value: str, what: str, lineno: int) -> dt.date:
    date = _DATES.get(value)
    if date is not None:
        return date
    if not DATE_RE.fullmatch(value):
        raise ImportFormatError(
            f"The {what} must be a date written YYYYMMDD, found {value!r}.", line=lineno
        )
    try:
        date = dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise ImportFormatError(
            f"The {what} {value} is not a calendar date.", line=lineno
        ) from None
    if len(_DATES) < 100_000:  # a few thousand distinct dates in a real file
        _DATES[value] = date
    return date


def _check_code(code: str, column: str, lineno: int) -> str:
    if not code:
        raise ImportFormatError(f"The {column} code is missing.", line=lineno)
    if not HCPCS_CODE_RE.fullmatch(code):
        raise ImportFormatError(
            f"The {column} code {code!r} is not a CPT/HCPCS code (5 characters: 4 digits and a digit or letter, "
            "or a letter and 4 digits).",
            line=lineno,
        )
    return code


def variant_from_text(text: str, *, what: str) -> str:
    """'practitioner' | 'hospital' from the words above the data; ImportFormatError if it can't be told."""
    practitioner = bool(PRACTITIONER_RE.search(text))
    hospital = bool(HOSPITAL_RE.search(text))
    if practitioner and not hospital:
        return "practitioner"
    if hospital and not practitioner:
        return "hospital"
    if practitioner and hospital:
        raise ImportFormatError(
            f"The lines above the {what} name both practitioner and hospital edits; "
            "the file must be one or the other.",
            line=1,
        )
    raise ImportFormatError(
        f"The file does not say whether it holds practitioner or hospital {what}. CMS's files say so "
        "in a title line above the column headers ('Practitioner PTP Edits' or 'Hospital PTP Edits'); "
        "add that line if it was removed.",
        line=1,
    )


def _version(text: str) -> str:
    match = VERSION_FILE_RE.search(text)
    if match:
        return f"{match.group(1)}.{match.group(2)}r{match.group(3)}"
    match = VERSION_WORD_RE.search(text)
    if match:
        return match.group(1) + (f"r{match.group(2)}" if match.group(2) else "")
    return ""


class PtpImporter:
    name = "ncci_ptp"
    system = "ncci_ptp"
    description = "NCCI procedure-to-procedure edits, practitioner or hospital (tab-separated text)"

    def detect(self, head: bytes) -> bool:
        if head.startswith(b"\xef\xbb\xbf"):
            head = head[3:]
        lines = head.decode("latin-1").splitlines()[:DETECT_MAX_LINES]
        for line in lines:
            if "\t" not in line:
                continue
            cells = _cells(line)
            if _is_header(cells) and len(cells) >= 6:
                names = [_norm(c) for c in cells]
                return all(
                    test(name)
                    for (test, _), name in zip(
                        HEADER_COLUMNS[2:6], names[2:6], strict=True
                    )
                )
        return False

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        path = Path(path)
        total = os.path.getsize(path)
        result = ParseResult(system=self.system, format=self.name)
        preamble: list[str] = []
        header_line: int | None = None
        width = 0
        data_started = False
        blank_from: int | None = None
        seen: dict[tuple[str, str, dt.date], int] = {}
        duplicates: list[str] = []
        odd: list[str] = []
        latest: dt.date | None = None
        read = 0
        next_report = 0
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                read += len(raw)
                if progress is not None and read >= next_report:
                    progress(read, total)
                    next_report = read + max(total // 50, 1 << 16)
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                line = _decode(raw.rstrip(b"\r\n"))
                if header_line is None:
                    cells = _cells(line) if "\t" in line else [line.strip()]
                    if _is_header(cells):
                        header_line = lineno
                        width = self._check_header(cells, lineno)
                        preamble.append(line)
                    elif lineno >= HEADER_SEARCH_LINES:
                        raise ImportFormatError(
                            f"No header row ('Column 1', 'Column 2', ...) in the first {HEADER_SEARCH_LINES} lines: "
                            "this is not an NCCI PTP edit file.",
                            line=1,
                        )
                    else:
                        preamble.append(line)
                    continue
                cells = _cells(line)
                if not cells:
                    if data_started and blank_from is None:
                        blank_from = lineno
                    continue
                if (
                    not data_started
                    and not cells[0]
                    and (len(cells) < 2 or not cells[1])
                ):
                    preamble.append(line)  # a continuation line of the header
                    continue
                if blank_from is not None:
                    raise ImportFormatError(
                        f"Blank line {blank_from} inside the file (edits follow it).",
                        line=blank_from,
                    )
                data_started = True
                edit = self._edit(cells, width, lineno, odd)
                key = (edit.column1, edit.column2, edit.effective)
                if key in seen:
                    duplicates.append(
                        f"{edit.column1}/{edit.column2} effective {edit.effective:%Y%m%d} (lines {seen[key]} and {lineno})"
                    )
                else:
                    seen[key] = lineno
                if latest is None or edit.effective > latest:
                    latest = edit.effective
                result.ptp_edits.append(edit)
        if header_line is None:
            raise ImportFormatError(
                "No header row ('Column 1', 'Column 2', ...): this is not an NCCI PTP edit file.",
                line=1,
            )
        if not result.ptp_edits:
            raise ImportFormatError("The file holds no edits.", line=header_line)
        above = "\n".join(preamble)
        result.variant = variant_from_text(above, what="PTP edits")
        result.version = _version(above)
        if not result.version:
            result.warnings.append(
                "The file does not state its version; the latest effective date in it is "
                f"{latest:%Y-%m-%d}."
            )
        if duplicates:
            result.warnings.append(
                f"{len(duplicates)} edit(s) appear twice with the same effective date: "
                + "; ".join(duplicates[:10])
                + (" ..." if len(duplicates) > 10 else "")
            )
        result.warnings.extend(odd[:20])
        if len(odd) > 20:
            result.warnings.append(f"... and {len(odd) - 20} more such edits.")
        if progress is not None:
            progress(total, total)
        return result

    @staticmethod
    def _check_header(cells: list[str], lineno: int) -> int:
        names = [_norm(c) for c in cells]
        if len(names) < 6:
            raise ImportFormatError(
                f"The header row has {len(names)} columns; a PTP file has 7 (Column 1, Column 2, "
                "*=in existence prior to 1996, Effective Date, Deletion Date, Modifier, PTP Edit Rationale).",
                line=lineno,
            )
        for index, ((test, label), name) in enumerate(
            zip(HEADER_COLUMNS, names, strict=False)
        ):
            if not test(name):
                raise ImportFormatError(
                    f"Header column {index + 1} should be '{label}', found {cells[index]!r}.",
                    line=lineno,
                )
        return min(len(names), len(HEADER_COLUMNS))

    @staticmethod
    def _edit(
        cells: list[str], width: int, lineno: int, odd: list[str]
    ) -> ParsedPtpEdit:
        if len(cells) > width:
            raise ImportFormatError(
                f"The line has {len(cells)} fields; a PTP edit has {width}.",
                line=lineno,
            )
        if len(cells) < 6:
            raise ImportFormatError(
                f"The line has {len(cells)} fields; a PTP edit has {width} (Column 1, Column 2, "
                "prior-to-1996 mark, effective date, deletion date, modifier indicator, rationale).",
                line=lineno,
            )
        cells = cells + [""] * (7 - len(cells))
        column1 = _check_code(cells[0], "Column 1", lineno)
        column2 = _check_code(cells[1], "Column 2", lineno)
        if cells[2] not in ("", "*"):
            raise ImportFormatError(
                f"The prior-to-1996 column must be '*' or empty, found {cells[2]!r}.",
                line=lineno,
            )
        effective = _date(cells[3], "effective date", lineno)
        deletion = (
            None
            if cells[4] == "*"
            else _date(cells[4], "deletion date (or '*')", lineno)
        )
        if deletion is not None and deletion < effective:
            raise ImportFormatError(
                f"The deletion date {cells[4]} is before the effective date {cells[3]}.",
                line=lineno,
            )
        indicator = cells[5]
        if indicator not in INDICATORS:
            raise ImportFormatError(
                f"The modifier indicator must be 0, 1 or 9, found {indicator!r}.",
                line=lineno,
            )
        if indicator == "9" and deletion != effective:
            odd.append(
                f"{column1}/{column2} (line {lineno}) has modifier indicator 9 but was not deleted back to its effective date."
            )
        if column1 == column2:
            odd.append(f"{column1}/{column2} (line {lineno}) pairs a code with itself.")
        return ParsedPtpEdit(
            column1=column1,
            column2=column2,
            existed_before_1996=cells[2] == "*",
            effective=effective,
            deletion=deletion,
            modifier_indicator=indicator,
            rationale=" ".join(cells[6].split()),
            line=lineno,
        )


IMPORTER = PtpImporter()
