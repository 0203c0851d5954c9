"""Shared helpers of the fixed-width text importers (ICD-10-CM/PCS order, codes and addenda
files; HCPCS and CPT files use the reading and head helpers).

Encoding: the CMS/CDC files are plain ASCII. Text is decoded as UTF-8 (of which
ASCII is a subset) and falls back to Windows-1252, which older CMS text files
used, then Latin-1.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from .base import ImportFormatError, Progress

DETECT_MAX_LINES = 200
# A title is words. This keeps out look-alikes such as the GEM files
# ("A000    0010  00000", "0016070 0231  00000": code, target code, flags).
TITLE_WORD_RE = re.compile(r"[A-Za-z]{3}")
ORDER_MIN_WIDTH = 78  # an order-file record: the long title starts in column 78


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode an official text file: UTF-8 when it is (ASCII is), else Windows-1252 / Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def read_text(path: Path, progress: Progress | None) -> tuple[str, str, int]:
    """Read and decode the whole file, reporting progress while reading."""
    total = os.path.getsize(path)
    chunks = []
    read = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            chunks.append(chunk)
            read += len(chunk)
            if progress is not None:
                progress(read // 2, total)  # reading is the first half of the work
    text, encoding = decode_text(b"".join(chunks))
    return text, encoding, total


def read_decoded(
    path: Path, progress: Progress | None, warnings: list[str]
) -> tuple[str, int]:
    """The whole file decoded at once (reading is the first half of the progress) and its size.

    A warning goes to ``warnings`` when it is neither UTF-8 nor Windows-1252.
    """
    total = os.path.getsize(path)
    with open(path, "rb") as fh:
        data = fh.read()
    if progress is not None:
        progress(total // 2, total)
    text, encoding = decode_text(data)
    if encoding not in ("utf-8", "cp1252"):
        warnings.append(f"The file was read as {encoding}.")
    return text, total


def csv_rows(text: str, what: str, **fmtparams) -> list[tuple[int, list[str]]]:
    """(first line number, cells) of each CSV row; a malformed ``what`` raises ImportFormatError."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, **fmtparams)
    rows: list[tuple[int, list[str]]] = []
    last_line = 0
    try:
        for row in reader:
            rows.append((last_line + 1, row))
            last_line = reader.line_num
    except csv.Error as exc:
        raise ImportFormatError(
            f"{what} is malformed: {exc}.", line=last_line + 1
        ) from exc
    return rows


def norm_cell(cell: str) -> str:
    """A header cell compared loosely: white space collapsed, lower case."""
    return " ".join(cell.split()).lower()


def split_lines(text: str) -> list[str]:
    """Physical lines without CR/LF; a final newline does not make an extra line."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_lines(
    path: Path, progress: Progress | None, warnings: list[str]
) -> tuple[list[str], int]:
    """The file's lines and size; a warning goes to ``warnings`` when it is not UTF-8."""
    text, encoding, total = read_text(path, progress)
    if encoding != "utf-8":
        warnings.append(f"The file is not UTF-8/ASCII; it was read as {encoding}.")
    return split_lines(text), total


def head_lines(head: bytes, *, keep_blank: bool = False) -> list[str]:
    """The first complete lines of a file head (its last line may be cut by the head size).

    Blank lines are left out unless ``keep_blank``.
    """
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = head.decode("latin-1")
    lines = text.split("\n")
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # cut by the head size
    return [line.rstrip("\r") for line in lines if keep_blank or line.strip()][
        :DETECT_MAX_LINES
    ]


def progress_step(
    progress: Progress | None, index: int, count: int, total: int, parts: int = 50
) -> None:
    """Second half of the progress: the lines already checked, reported about ``parts`` times."""
    if progress is not None and count and index % max(1, count // parts) == 0:
        progress(total // 2 + total * index // (2 * count), total)


def record_lines(
    lines: list[str], progress: Progress | None = None, total: int = 0
) -> Iterator[tuple[int, str]]:
    """Yield (line number, line) for the records; blank lines may only end the file.

    With ``progress``, every physical line is reported (by its 0-based index)
    before it is looked at.
    """
    blank_from = None
    for index, line in enumerate(lines):
        progress_step(progress, index, len(lines), total)
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


def check_blank(line: str, col: int, lineno: int, what: str) -> None:
    """``col`` is 1-based."""
    if line[col - 1] != " ":
        raise ImportFormatError(
            f"Column {col} must be blank ({what}), found {line[col - 1]!r}.",
            line=lineno,
        )


def check_title_words(code: str, title: str, lineno: int) -> None:
    if not TITLE_WORD_RE.search(title):
        raise ImportFormatError(
            f"The title of {code} has no words: {title!r}.", line=lineno
        )


def every_head_line(head: bytes, predicate: Callable[[str], bool]) -> bool:
    """Whether the head has complete non-blank lines and ``predicate`` holds for each."""
    lines = head_lines(head)
    return bool(lines) and all(predicate(line) for line in lines)


def check_unique(code: str, seen: dict[str, int], lineno: int) -> None:
    """Refuse a code already in ``seen`` (code -> line), else record it."""
    if code in seen:
        raise ImportFormatError(
            f"Code {code} appears twice (first on line {seen[code]}).",
            line=lineno,
        )
    seen[code] = lineno


def order_number(line: str, lineno: int) -> str:
    """Columns 1-6 of an order-file record (width, order number, blank); the order number as written."""
    if len(line) < ORDER_MIN_WIDTH:
        raise ImportFormatError(
            f"The line is {len(line)} characters long; an order record has at least {ORDER_MIN_WIDTH} "
            "(long title from column 78).",
            line=lineno,
        )
    order_no = line[:5]
    if not order_no.isdigit():
        raise ImportFormatError(
            f"Columns 1-5 must hold the order number (5 digits), found {order_no!r}.",
            line=lineno,
        )
    check_blank(line, 6, lineno, "after the order number")
    return order_no


def order_increases(order_no: str, previous: int, lineno: int) -> int:
    """The order number, which must be above the previous record's."""
    number = int(order_no)
    if number <= previous:
        raise ImportFormatError(
            f"Order number {order_no} does not increase (the previous record is {previous:05d}).",
            line=lineno,
        )
    return number


def parse_titles(line: str, short_start: int, lineno: int) -> tuple[str, str]:
    """Short title in 60 columns from ``short_start`` (0-based), a blank, then the long title."""
    short_field = line[short_start : short_start + 60]
    short = short_field.rstrip()
    if not short or short_field[0] == " ":
        raise ImportFormatError(
            f"The short title (columns {short_start + 1}-{short_start + 60}) is missing or not left-justified.",
            line=lineno,
        )
    check_blank(line, short_start + 61, lineno, "between short and long title")
    long_start = short_start + 61
    long = line[long_start:].rstrip()
    if not long or line[long_start] == " ":
        raise ImportFormatError(
            f"The long title (from column {long_start + 1}) is missing or not left-justified.",
            line=lineno,
        )
    return short, long
