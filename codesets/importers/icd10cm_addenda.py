"""ICD-10-CM order-file addenda (``icd10cm_order_addenda_YYYY.txt``): one year's changes.

Body, one change a line; the action in columns 1-13, then an order record
without its order number::

    cols 1-13   "Add:", "Delete:", "Revise from:" or "Revise to:", blank-padded
    col  14     valid flag: 0 = header, 1 = billable code
    col  15     blank
    cols 16-23  code without its dot, left-justified (7 characters and a blank)
    cols 24-83  short title (60 characters)
    col  84     blank
    cols 85-    long title

    Add:         1 C7831   Secondary malignant neoplasm of larynx                       Secondary ...
    Delete:      1 D691    Qualitative platelet defects                                 Qualitative ...
    Add:         0 D691    Qualitative platelet defects                                 Qualitative ...
    Revise from: 1 Z2914   Encounter for prophylactic rabies immune globin              Encounter ...
    Revise to:   1 Z2914   Encounter for prophylactic rabies immune globulin            Encounter ...

then a blank line and a footer of counts, for headers (flag 0) and for codes
(flag 1) separately::

    Headers
      23467 headers in icd10cm_order_2026.txt
      23524 headers in icd10cm_order_2027.txt
         63 additions
    ...
    Codes
      74719 codes in icd10cm_order_2026.txt
      74879 codes in icd10cm_order_2027.txt
        190 additions
         30 deletions
          4 revisions

Note the footer's "codes" are the billable codes only; headers are counted apart.

Result: ``is_delta=True`` and ``changes`` in file order. A "Revise from:" /
"Revise to:" pair is one ``revise`` change carrying the new flag and titles
(``line`` = the "Revise from:" line). A "Delete:" then "Add:" of the same code
(a billable code becoming a header when it gets subdivided, e.g. D691) stays
two changes, applied in order. ``stated_counts`` holds the footer's Codes
section: ``codes`` (billable codes in the new year), ``additions``,
``deletions``, ``revisions``. The footer is required: without it the file is
taken as truncated.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._text import check_blank, head_lines, parse_titles, read_lines
from .base import ImportFormatError, ParsedChange, ParseResult, Progress
from .icd10cm_order import cm_codes_not_pcs, parse_code_field, parse_flag

ACTION_WIDTH = 13
ACTIONS = {
    "Add:": "add",
    "Delete:": "delete",
    "Revise from:": "revise_from",
    "Revise to:": "revise_to",
}
MIN_WIDTH = 85  # the long title starts in column 85

FOOTER_SECTION_RE = re.compile(r"(Headers|Codes)")
FOOTER_FILE_RE = re.compile(r"\s*(\d+) (headers|codes) in (\S+)")
FOOTER_COUNT_RE = re.compile(r"\s*(\d+) (additions|deletions|revisions)")
FOOTER_DETAIL_RE = re.compile(r"\s*(\d+) revisions to (.+)")


def _record(line: str, lineno: int) -> tuple[str, bool, str, str, str]:
    """(action, billable, code, short, long) of a body line; ImportFormatError if malformed."""
    label = line[:ACTION_WIDTH].rstrip()
    if label not in ACTIONS or line[:1] == " ":
        raise ImportFormatError(
            f"Unknown action {label.strip()!r} in columns 1-{ACTION_WIDTH}; expected one of "
            + ", ".join(ACTIONS)
            + ".",
            line=lineno,
        )
    if len(line) < MIN_WIDTH:
        raise ImportFormatError(
            f"The line is {len(line)} characters long; an addenda record has at least {MIN_WIDTH} "
            "(long title from column 85).",
            line=lineno,
        )
    billable = parse_flag(line[13], 14, lineno)
    check_blank(line, 15, lineno, "after the valid flag")
    code = parse_code_field(line, 15, lineno)
    check_blank(line, 23, lineno, "after the code")
    short, long = parse_titles(line, 23, lineno)
    return ACTIONS[label], billable, code, short, long


class AddendaImporter:
    name = "icd10cm_addenda"
    system = "icd10cm"
    description = (
        "ICD-10-CM order-file addenda (Add/Delete/Revise changes to the previous year)"
    )

    def detect(self, head: bytes) -> bool:
        codes = []
        for line in head_lines(head):
            if not line.startswith(tuple(ACTIONS)):
                break  # the footer, or not this format at all
            try:
                _action, _billable, code, _short, _long = _record(line, 0)
            except ImportFormatError:
                return False
            codes.append(code)
        return cm_codes_not_pcs(codes)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        result = ParseResult(system="icd10cm", format=self.name, is_delta=True)
        lines, total = read_lines(Path(path), progress, result.warnings)

        pending: tuple[int, bool, str] | None = (
            None  # open "Revise from:" (line, billable, code)
        )
        seen: dict[tuple[str, str], int] = {}
        tally = {
            ("add", True): 0,
            ("add", False): 0,
            ("delete", True): 0,
            ("delete", False): 0,
            ("revise", True): 0,
            ("revise", False): 0,
        }
        index = 0
        for index, line in enumerate(lines):
            lineno = index + 1
            if not line.strip():
                break
            action, billable, code, short, long = _record(line, lineno)
            if pending is not None and action != "revise_to":
                raise ImportFormatError(
                    f"'Revise from:' of {pending[2]} on line {pending[0]} is not followed by its 'Revise to:' line.",
                    line=pending[0],
                )
            if action == "revise_from":
                pending = (lineno, billable, code)
                continue
            if action == "revise_to":
                if pending is None:
                    raise ImportFormatError(
                        f"'Revise to:' of {code} without a 'Revise from:' line before it.",
                        line=lineno,
                    )
                if pending[2] != code:
                    raise ImportFormatError(
                        f"'Revise to:' is for {code} but the 'Revise from:' line before it is for {pending[2]}.",
                        line=lineno,
                    )
                action, lineno = "revise", pending[0]
                pending = None
            seen_key = (action, code)
            if seen_key in seen:
                raise ImportFormatError(
                    f"{code} is listed for '{action}' twice (first on line {seen[seen_key]}).",
                    line=lineno,
                )
            seen[seen_key] = lineno
            tally[(action, billable)] += 1
            result.changes.append(
                ParsedChange(action, code, billable, short, long, lineno)
            )
        else:
            index = len(lines)
        if pending is not None:
            raise ImportFormatError(
                f"'Revise from:' of {pending[2]} on line {pending[0]} is not followed by its 'Revise to:' line.",
                line=pending[0],
            )
        if progress is not None:
            progress(total * 3 // 4, total)

        footer = self._footer(lines, index, result)
        codes = footer.get("Codes", {})
        missing = [
            k
            for k in ("codes", "additions", "deletions", "revisions")
            if k not in codes
        ]
        if missing:
            raise ImportFormatError(
                "The file ends without the footer's Codes counts ("
                + ", ".join(missing)
                + "); is it truncated?",
                line=len(lines) or 1,
            )
        result.stated_counts = {
            k: codes[k] for k in ("codes", "additions", "deletions", "revisions")
        }
        if not result.changes:
            result.warnings.append("The addenda lists no changes.")

        # The footer counts flag-1 lines as codes and flag-0 lines as headers: check it adds up.
        for section, flag in (("Codes", True), ("Headers", False)):
            stated = footer.get(section)
            if not stated:
                continue
            for action, key in (
                ("add", "additions"),
                ("delete", "deletions"),
                ("revise", "revisions"),
            ):
                if key in stated and stated[key] != tally[(action, flag)]:
                    result.warnings.append(
                        f"The footer states {stated[key]} {section.lower()} {key} but the file lists "
                        f"{tally[(action, flag)]}."
                    )
            if {"previous", "codes", "additions", "deletions"} <= stated.keys():
                expected = (
                    stated["previous"] + stated["additions"] - stated["deletions"]
                )
                if expected != stated["codes"]:
                    result.warnings.append(
                        f"The footer's {section.lower()} do not add up: {stated['previous']} + "
                        f"{stated['additions']} - {stated['deletions']} != {stated['codes']}."
                    )
        if progress is not None:
            progress(total, total)
        return result

    @staticmethod
    def _footer(
        lines: list[str], start: int, result: ParseResult
    ) -> dict[str, dict[str, int]]:
        """{"Headers": {...}, "Codes": {"previous": n, "codes": n, "additions": n, ...}}."""
        footer: dict[str, dict[str, int]] = {}
        section: dict[str, int] | None = None
        files: list[tuple[str, int, str]] = []

        def close_files() -> None:
            # "N codes in icd10cm_order_2026.txt" then "... _2027.txt": the later year is the new one.
            if section is None or not files:
                return
            ordered = sorted(
                files, key=lambda f: (re.findall(r"\d{4}", f[2]) or ["0"])[-1]
            )
            if len(ordered) >= 2:
                section["previous"] = ordered[0][1]
            section["codes"] = ordered[-1][1]
            # The newer order file's year is the fiscal year the addenda brings in.
            year = (re.findall(r"\d{4}", ordered[-1][2]) or [""])[-1]
            if year and not result.version:
                result.version = year
            files.clear()

        for index in range(start, len(lines)):
            lineno = index + 1
            line = lines[index]
            stripped = line.strip()
            if not stripped or stripped == "of which":
                continue
            if line.startswith(tuple(ACTIONS)):
                raise ImportFormatError(
                    "A change record follows the blank line that starts the footer.",
                    line=lineno,
                )
            if FOOTER_SECTION_RE.fullmatch(stripped):
                close_files()
                section = footer.setdefault(stripped, {})
                continue
            if section is None:
                raise ImportFormatError(
                    f"Unexpected line before the footer's Headers/Codes heading: {stripped!r}.",
                    line=lineno,
                )
            if match := FOOTER_FILE_RE.fullmatch(line):
                files.append((match.group(2), int(match.group(1)), match.group(3)))
                continue
            if match := FOOTER_DETAIL_RE.fullmatch(line):
                continue  # "n revisions to both long and short titles" etc.: a breakdown of "revisions"
            if match := FOOTER_COUNT_RE.fullmatch(line):
                section[match.group(2)] = int(match.group(1))
                continue
            raise ImportFormatError(
                f"Unexpected line in the footer: {stripped!r}.", line=lineno
            )
        close_files()
        return footer


IMPORTER = AddendaImporter()
