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

The text helpers at the top are shared with the PCS order importer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .base import ImportFormatError, ParsedCode, ParseResult, Progress

PCS_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
PCS_SECTIONS = "0123456789BCDFGHX"
PCS_CODE_RE = re.compile(f"[{PCS_ALPHABET}]{{7}}")
PCS_TABLE_RE = re.compile(f"[{PCS_ALPHABET}]{{3}}")
# A detected code must also start with a known section.
_DETECT_CODE_RE = re.compile(f"[{PCS_SECTIONS}][{PCS_ALPHABET}]{{6}}")
# A title is words (this keeps out look-alikes such as GEM files: "0016070 0231  00000").
TITLE_WORD_RE = re.compile(r"[A-Za-z]{3}")
DETECT_MAX_LINES = 200
CODE_WIDTH = 7


# ---------------------------------------------------------------------------
# Text helpers (shared with icd10pcs_order)


def decode_text(data: bytes) -> tuple[str, str]:
    """UTF-8 (CMS files are ASCII), else Windows-1252, else Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def read_text(path: Path, progress: Progress | None) -> tuple[str, str, int]:
    """The whole file decoded; reading reports the first half of the progress."""
    total = os.path.getsize(path)
    chunks = []
    read = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            chunks.append(chunk)
            read += len(chunk)
            if progress is not None:
                progress(read // 2, total)
    text, encoding = decode_text(b"".join(chunks))
    return text, encoding, total


def split_lines(text: str) -> list[str]:
    """Physical lines without CR/LF; a final newline does not make an extra line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def head_lines(head: bytes) -> list[str]:
    """Complete non-blank lines of a file head (the last one may be cut by the head size)."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = head.decode("latin-1")
    lines = text.split("\n")
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]
    return [line.rstrip("\r") for line in lines if line.strip()][:DETECT_MAX_LINES]


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


def progress_step(
    progress: Progress | None, index: int, count: int, total: int
) -> None:
    """Second half of the progress: the lines already checked."""
    if progress is not None and count and index % max(1, count // 50) == 0:
        progress(total // 2 + total * index // (2 * count), total)


def check_blank_lines(lines: list[str]):
    """Yield (line number, line) for the records; blank lines may only end the file."""
    blank_from = None
    for index, line in enumerate(lines):
        if not line.strip():
            if blank_from is None:
                blank_from = index + 1
            continue
        if blank_from is not None:
            raise ImportFormatError(
                f"Blank line {blank_from} inside the file (records follow it).",
                line=blank_from,
            )
        yield index + 1, line


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
        lines = head_lines(head)
        return bool(lines) and all(_looks_like_record(line) for line in lines)

    def parse(self, path: Path, *, progress: Progress | None = None) -> ParseResult:
        path = Path(path)
        text, encoding, total = read_text(path, progress)
        result = ParseResult(system=self.system, format=self.name)
        if encoding != "utf-8":
            result.warnings.append(
                f"The file is not UTF-8/ASCII; it was read as {encoding}."
            )
        lines = split_lines(text)
        seen: dict[str, int] = {}
        for lineno, line in check_blank_lines(lines):
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
            if not TITLE_WORD_RE.search(title):
                raise ImportFormatError(
                    f"The title of {field} has no words: {title!r}.", line=lineno
                )
            if field in seen:
                raise ImportFormatError(
                    f"Code {field} appears twice (first on line {seen[field]}).",
                    line=lineno,
                )
            seen[field] = lineno
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
