"""HCPCS Level II alpha-numeric record file (CMS "HCPCS Contractor Record").

The annual file CMS publishes as ``HCPCyyyy_CONTR_ANWEB.txt`` (2020:
``HCPC2020_ANWEB_w_disclaimer.txt``): fixed width, one 320-byte record a line,
CRLF. Columns, 1-based, from the CMS record layout (``HCPCS2019_recordlayout.txt``,
"CMS RIF REPORT"; the layout did not change in substance from 2017 to 2020)::

    1-5     HCPCS code (A-V + 4 digits); on modifier records 1-3 blank, 4-5 the modifier
    6-10    sequence number (by 100s: 00100 on the first line, 00200 on the next...)
    11      record id: 3 first line of a procedure, 4 continuation of its long
            description, 7 first line of a modifier, 8 continuation of a modifier
    12-91   long description (80; continued on the 4/8 records that follow)
    92-119  short description (28)
    120-127 pricing indicator, up to 4 x 2
    128     multiple pricing indicator
    129-146 coverage issues manual (CIM) reference, up to 3 x 6
    147-170 Medicare carriers manual (MCM) reference, up to 3 x 8
    171-180 statute number
    181-204 lab certification code, up to 8 x 3
    205-229 cross-reference code, up to 5 x 5
    230     coverage code (C carrier judgment, D special coverage instructions,
            I not payable by Medicare, M non-covered, S non-covered by statute)
    231-232 ASC payment group ("YY" = approved for ASC)
    233-240 ASC payment group effective date (YYYYMMDD; the 2018 file writes five
            as YYMMDD left-justified, "170701  ": read as 20YYMMDD with a warning)
    241-243 MOG (OPPS) payment group
    244     MOG payment policy indicator
    245-252 MOG effective date (YYYYMMDD)
    253-256 processing note number
    257-259 BETOS code
    260     filler
    261-265 type of service, up to 5 x 1
    266-268 anesthesia base units
    269-276 code added date (YYYYMMDD)
    277-284 action effective date (YYYYMMDD)
    285-292 termination date (YYYYMMDD): "last date for which a procedure or
            modifier code may be used by Medicare providers"
    293     action code: A add, B change in administrative data and long description,
            C change in long description, D discontinue, F change in administrative
            data, N no maintenance, P payment change, R re-activate, S change in
            short description, T miscellaneous change (BETOS, type of service)
    294-320 filler

Continuation records (4/8) carry only columns 1-91 ("no detail information in
positions 92-275"); 2017 and 2020 cut them to 91 characters, 2018 and 2019 pad
them to 320 (one 2019 line is 316). The first line of a record is always 320 wide.

Some years begin with a free-text disclaimer (2018 ``***Disclaimers``, 2019 the
same with tabs and Windows-1252 non-breaking spaces, 2020 "Note regarding coverage
and payment indicators for codes in CMS' 2020 HCPCS Update ..." with a
Windows-1252 apostrophe). Every line before the first record is such preamble;
a line whose columns 6-11 are digits is taken for a record and validated. From
the first record on every line must be a valid record (blank lines only at the end).
The records themselves are ASCII in 2017-2020.

Result
------
* one ``ParsedCode`` per HCPCS code: kind "code", billable True, no hierarchy
  (parent ""), short title = columns 92-119, long title = columns 12-91 of the
  first line and of its continuation lines joined with single spaces (CMS wraps
  between words: no word is split across two records in 2017-2020).
  ``valid_from`` = code added date, ``valid_to`` = termination date (None when
  blank): a code is valid for a date of service D when valid_from <= D and
  (valid_to is None or D <= valid_to). Discontinued codes stay in the file for
  four years with their termination date, so ``codes`` includes codes that are
  no longer valid; filter on the dates.
  ``extra`` holds, in this order and only when not blank: action_code,
  action_effective (ISO date), pricing (comma-separated), multiple_pricing, cim,
  mcm, statute, lab_cert, xref, coverage, asc_group, asc_effective, opps_group,
  opps_indicator, opps_effective, processing_note, betos, type_of_service
  (the type-of-service letters, comma-separated), anesthesia_base_units.
* ``modifiers``: (modifier, short, long, valid_from, valid_to) with the same dates.
* ``version``: the year the preamble names ("... 2020 HCPCS Update ..."); without
  one, the most common year of the action-effective dates of the records that
  carry an action this year (action code other than N): over all records the
  most common action-effective year is an old one (2003 in the 2019 and 2020
  files), while the year's own actions are dated in it (2019: 20190101; 2020:
  20200101, plus the quarterly 2019 actions the annual file collects).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

from ._text import head_lines, read_text, split_lines
from .base import ImportFormatError, ParsedCode, ParseResult, Progress

RECORD_WIDTH = 320
FIRST_MIN_WIDTH = 293  # the action code is in column 293
CONT_MIN_WIDTH = 12  # at least one character of long description
MAX_PREAMBLE_LINES = 100

HCPCS_CODE_RE = re.compile(r"[A-V][0-9]{4}")
MODIFIER_RE = re.compile(r"[A-Z0-9]{2}")
ACTION_CODES = frozenset("ABCDFNPRST")
RECORD_IDS = {
    "3": "first line of a procedure",
    "4": "procedure continuation",
    "7": "first line of a modifier",
    "8": "modifier continuation",
}
# A line whose sequence number and record id columns (6-11) are digits is a record.
_RECORD_LIKE = re.compile(r".{5}[0-9]{6}")
_VERSION_RE = re.compile(
    r"\b((?:19|20)[0-9]{2})\s+(?:Alpha-?Numeric\s+)?HCPCS\b|\bHCPCS\s+((?:19|20)[0-9]{2})\b",
    re.I,
)


def _field(line: str, start: int, end: int) -> str:
    """Columns ``start``-``end``, 1-based and inclusive."""
    return line[start - 1 : end]


def _repeated(line: str, start: int, width: int, count: int) -> str:
    """A field occurring ``count`` times: its non-blank occurrences, comma-separated."""
    values = []
    for index in range(count):
        value = line[
            start - 1 + index * width : start - 1 + (index + 1) * width
        ].strip()
        if value:
            values.append(value)
    return ",".join(values)


def _date(
    line: str,
    start: int,
    what: str,
    lineno: int,
    *,
    required: bool = False,
    short_ok: bool = False,
) -> dt.date | None:
    raw = _field(line, start, start + 7)
    if short_ok and raw[6:] == "  " and raw[:6].isdigit():
        # The 2018 file writes a few ASC effective dates as YYMMDD, left-justified
        # ("170701  " on C9488, C9745-C9748): read as 20YYMMDD.
        raw = "20" + raw[:6]
    if not raw.strip():
        if required:
            raise ImportFormatError(
                f"The {what} (columns {start}-{start + 7}) is missing.", line=lineno
            )
        return None
    if not raw.isdigit():
        raise ImportFormatError(
            f"The {what} (columns {start}-{start + 7}) must be a date YYYYMMDD, found {raw!r}.",
            line=lineno,
        )
    try:
        return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise ImportFormatError(
            f"The {what} (columns {start}-{start + 7}) is not a real date: {raw!r}.",
            line=lineno,
        ) from None


def _key(line: str, record_id: str, lineno: int) -> str:
    """The code (record ids 3/4) or modifier (7/8) in columns 1-5, checked."""
    field = line[:5]
    if record_id in "34":
        if not HCPCS_CODE_RE.fullmatch(field):
            raise ImportFormatError(
                f"Columns 1-5 must hold a HCPCS Level II code (a letter A-V and 4 digits) "
                f"on a procedure record (record id {record_id}), found {field!r}.",
                line=lineno,
            )
        return field
    if field[:3] != "   " or not MODIFIER_RE.fullmatch(field[3:]):
        raise ImportFormatError(
            f"A modifier record (record id {record_id}) must have columns 1-3 blank and the "
            f"2-character modifier in columns 4-5, found {field!r}.",
            line=lineno,
        )
    return field[3:]


def _first_line_fields(line: str, lineno: int) -> dict:
    """Validate the detail columns of a first line (record id 3 or 7)."""
    if len(line) < FIRST_MIN_WIDTH:
        raise ImportFormatError(
            f"The line is {len(line)} characters long; the first line of a record has "
            f"{RECORD_WIDTH} (at least {FIRST_MIN_WIDTH}: the action code is in column 293).",
            line=lineno,
        )
    long = _field(line, 12, 91).strip()
    short = _field(line, 92, 119).strip()
    if not long:
        raise ImportFormatError(
            "The long description (columns 12-91) is missing.", line=lineno
        )
    if not short:
        raise ImportFormatError(
            "The short description (columns 92-119) is missing.", line=lineno
        )
    action = _field(line, 293, 293)
    if action not in ACTION_CODES:
        raise ImportFormatError(
            f"Column 293 must hold the action code ({', '.join(sorted(ACTION_CODES))}), found {action!r}.",
            line=lineno,
        )
    if _field(line, 294, 320).strip():
        raise ImportFormatError("Columns 294-320 (filler) must be blank.", line=lineno)
    added = _date(line, 269, "code added date", lineno, required=True)
    effective = _date(line, 277, "action effective date", lineno)
    terminated = _date(line, 285, "termination date", lineno)
    asc_effective = _date(
        line, 233, "ASC payment group effective date", lineno, short_ok=True
    )
    opps_effective = _date(
        line, 245, "MOG payment group effective date", lineno, short_ok=True
    )
    extra = [
        ("action_code", action),
        ("action_effective", effective.isoformat() if effective else ""),
        ("pricing", _repeated(line, 120, 2, 4)),
        ("multiple_pricing", _field(line, 128, 128).strip()),
        ("cim", _repeated(line, 129, 6, 3)),
        ("mcm", _repeated(line, 147, 8, 3)),
        ("statute", _field(line, 171, 180).strip()),
        ("lab_cert", _repeated(line, 181, 3, 8)),
        ("xref", _repeated(line, 205, 5, 5)),
        ("coverage", _field(line, 230, 230).strip()),
        ("asc_group", _field(line, 231, 232).strip()),
        ("asc_effective", asc_effective.isoformat() if asc_effective else ""),
        ("opps_group", _field(line, 241, 243).strip()),
        ("opps_indicator", _field(line, 244, 244).strip()),
        ("opps_effective", opps_effective.isoformat() if opps_effective else ""),
        ("processing_note", _field(line, 253, 256).strip()),
        ("betos", _field(line, 257, 259).strip()),
        ("type_of_service", _repeated(line, 261, 1, 5)),
        ("anesthesia_base_units", _field(line, 266, 268).strip()),
    ]
    return {
        "long": long,
        "short": short,
        "added": added,
        "effective": effective,
        "terminated": terminated,
        "action": action,
        "extra": tuple((k, v) for k, v in extra if v),
    }


def _preamble_version(lines: list[str]) -> str:
    for line in lines:
        match = _VERSION_RE.search(line)
        if match:
            return match.group(1) or match.group(2)
    return ""


def _record_start(line: str) -> bool:
    return bool(_RECORD_LIKE.match(line))


class HcpcsRecordImporter:
    name = "hcpcs_record"
    system = "hcpcs"
    description = "HCPCS Level II record file (CMS alpha-numeric)"

    def detect(self, head: bytes) -> bool:
        """A preamble of free text (or none), then 320-wide HCPCS records.

        The first record must pass the full first-line checks (code or modifier,
        record id 3 or 7, dates, action code); every later complete line of the
        head must at least have the record shape (digits in columns 6-11). The
        real files begin with their modifiers (record id 7), so a 64 KB head may
        hold no procedure record at all.
        """
        lines = head_lines(head, keep_blank=True)
        first = None
        for index, line in enumerate(lines):
            if _record_start(line):
                first = index
                break
            if index >= MAX_PREAMBLE_LINES:
                return False
        if first is None:
            return False
        line = lines[first]
        if line[10] not in "37" or len(line) > RECORD_WIDTH:
            return False
        try:
            _key(line, line[10], 1)
            _first_line_fields(line, 1)
        except ImportFormatError:
            return False
        for line in lines[first + 1 :]:
            if not line.strip():
                continue
            if not _record_start(line) or len(line) > RECORD_WIDTH:
                return False
        return True

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        path = Path(path)
        text, encoding, total = read_text(path, progress)
        result = ParseResult(system=self.system, format=self.name)
        lines = split_lines(text)

        first = None
        for index, line in enumerate(lines):
            if _record_start(line):
                first = index
                break
            if index >= MAX_PREAMBLE_LINES:
                raise ImportFormatError(
                    f"No HCPCS record in the first {MAX_PREAMBLE_LINES} lines: a record has "
                    "the sequence number in columns 6-10 and the record id in column 11.",
                    line=1,
                )
        if first is None:
            raise ImportFormatError(
                "The file holds no HCPCS records (sequence number in columns 6-10, record id in column 11).",
                line=1,
            )
        preamble = lines[:first]

        # (key, record id of the first line, lineno, sequence, fields, [long description parts])
        records: list[list] = []
        current: list | None = None
        seen: dict[tuple[str, str], int] = {}
        blank_from = None
        non_ascii = 0
        short_dates: list[str] = []
        count = len(lines)
        step = max(1, count // 50)
        for index in range(first, count):
            line = lines[index]
            lineno = index + 1
            if progress is not None and index % step == 0:
                progress(total // 2 + total * index // (2 * max(1, count)), total)
            if not line.strip():
                if blank_from is None:
                    blank_from = lineno
                continue
            if blank_from is not None:
                raise ImportFormatError(
                    f"Blank line {blank_from} inside the file (records follow it).",
                    line=blank_from,
                )
            if len(line) > RECORD_WIDTH:
                raise ImportFormatError(
                    f"The line is {len(line)} characters long; a HCPCS record has {RECORD_WIDTH}.",
                    line=lineno,
                )
            if not line.isascii():
                non_ascii += 1
            if len(line) < CONT_MIN_WIDTH:
                raise ImportFormatError(
                    f"The line is {len(line)} characters long, too short for a HCPCS record "
                    "(long description from column 12).",
                    line=lineno,
                )
            sequence = _field(line, 6, 10)
            if not sequence.isdigit():
                raise ImportFormatError(
                    f"Columns 6-10 must hold the sequence number (5 digits), found {sequence!r}.",
                    line=lineno,
                )
            record_id = line[10]
            if record_id not in RECORD_IDS:
                raise ImportFormatError(
                    f"Column 11 must hold the record id (3 procedure, 4 procedure continuation, "
                    f"7 modifier, 8 modifier continuation), found {record_id!r}.",
                    line=lineno,
                )
            key = _key(line, record_id, lineno)
            if record_id in "37":
                kind = "code" if record_id == "3" else "modifier"
                if (kind, key) in seen:
                    raise ImportFormatError(
                        f"{'Code' if kind == 'code' else 'Modifier'} {key} appears twice "
                        f"(first on line {seen[(kind, key)]}).",
                        line=lineno,
                    )
                seen[(kind, key)] = lineno
                fields = _first_line_fields(line, lineno)
                for start, what in ((233, "ASC"), (245, "MOG")):
                    raw = _field(line, start, start + 7)
                    if raw[6:] == "  " and raw[:6].isdigit():
                        short_dates.append(
                            f"{key} (line {lineno}): {what} effective date {raw.strip()!r}"
                        )
                current = [
                    key,
                    record_id,
                    lineno,
                    int(sequence),
                    fields,
                    [fields["long"]],
                ]
                records.append(current)
                continue
            # A continuation (4 or 8) must follow the first line (or a continuation)
            # of the same code or modifier.
            wanted = "3" if record_id == "4" else "7"
            what = "procedure" if record_id == "4" else "modifier"
            if current is None or current[1] != wanted or current[0] != key:
                raise ImportFormatError(
                    f"Continuation line (record id {record_id}) of {what} {key} without its first "
                    f"line (record id {wanted}) before it.",
                    line=lineno,
                )
            if int(sequence) <= current[3]:
                raise ImportFormatError(
                    f"Sequence number {sequence} of {key} does not increase "
                    f"(the previous line of {key} has {current[3]:05d}).",
                    line=lineno,
                )
            current[3] = int(sequence)
            if _field(line, 92, RECORD_WIDTH).strip():
                raise ImportFormatError(
                    "A continuation line carries only the long description (columns 12-91); "
                    "columns 92-320 must be blank.",
                    line=lineno,
                )
            part = _field(line, 12, 91).strip()
            if not part:
                raise ImportFormatError(
                    "The continuation line has no description text (columns 12-91).",
                    line=lineno,
                )
            current[5].append(part)

        if not records:
            raise ImportFormatError("The file holds no HCPCS records.", line=first + 1)

        years: Counter = Counter()
        latest: dt.date | None = None
        odd_dates = []
        for key, record_id, lineno, _seq, fields, parts in records:
            long = " ".join(" ".join(parts).split())
            added, terminated = fields["added"], fields["terminated"]
            if terminated is not None and terminated < added:
                odd_dates.append(
                    f"{key} (line {lineno}) ends {terminated} before it was added {added}"
                )
            effective = fields["effective"]
            if effective is not None:
                latest = max(latest, effective) if latest else effective
                if fields["action"] != "N":
                    years[effective.year] += 1
            if record_id == "3":
                result.codes.append(
                    ParsedCode(
                        code=key,
                        kind="code",
                        billable=True,
                        short_title=fields["short"],
                        long_title=long,
                        parent="",
                        valid_from=added,
                        valid_to=terminated,
                        extra=fields["extra"],
                    )
                )
            else:
                result.modifiers.append((key, fields["short"], long, added, terminated))

        stated = _preamble_version(preamble)
        if years:
            derived = str(max(years.items(), key=lambda item: (item[1], item[0]))[0])
        elif latest is not None:
            derived = str(latest.year)
        else:
            derived = ""
        result.version = stated or derived
        if stated and derived and stated != derived:
            result.warnings.append(
                f"The preamble names {stated}, but this year's actions are dated {derived}."
            )
        if not stated and derived:
            result.warnings.append(
                f"The file does not name its year; {derived} is the year of its actions."
            )
        if non_ascii:
            result.warnings.append(
                f"{non_ascii} records hold characters outside ASCII; the file was read as {encoding}."
            )
        if short_dates:
            result.warnings.append(
                f"{len(short_dates)} effective dates are written YYMMDD instead of YYYYMMDD and were read "
                f"as 20YY: {'; '.join(short_dates[:10])}"
            )
        result.warnings.extend(odd_dates[:20])
        ended_codes = sum(c.valid_to is not None for c in result.codes)
        ended_mods = sum(m[4] is not None for m in result.modifiers)
        if ended_codes or ended_mods:
            result.warnings.append(
                f"{ended_codes} codes and {ended_mods} modifiers have a termination date "
                "(discontinued codes stay in the file for four years); they are imported with valid_to set."
            )
        if progress is not None:
            progress(total, total)
        return result


IMPORTER = HcpcsRecordImporter()
