"""Writes of the table releases beside the DRG weights: NCCI PTP edits, MUE tables,
the ICD-10-CM index tables (drugs and chemicals, neoplasms, external causes) and the
ICD-10-PCS Index and Definitions.

``codesets.services`` calls in here from its receive / import / discard steps, so the
import workflow (upload, Celery job with progress, staged, activate; one transaction)
is the same for every release. Rows belong to one release (like ``DrgWeight``) and are
written with COPY: a quarter's practitioner PTP edits are some two million rows.

**Several part files, one release.** CMS publishes a quarter's PTP edits as several
part files (``ccipra-v321r0-f1`` ... ``-f4``). They import together, in one job and one
transaction, either as a zip of the parts (the upload form and ``import_codes`` accept
one) or as several files at once (the form's file field takes several; ``import_codes
FILE FILE ...``), which are bundled into such a zip on receipt. The bundle is
deterministic (sorted names, fixed timestamps), so the same parts sent twice are
refused as a duplicate like any file. An error in a part names the part and its line.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection, models

from codesets import importers
from codesets.importers.base import (
    HEAD_BYTES,
    Importer,
    ImportFormatError,
    ParseResult,
    Progress,
)
from codesets.models import (
    TABLE_VARIANTS,
    IndexTerm,
    MueEdit,
    PcsDefinition,
    PcsIndexTerm,
    PoaExemptCode,
    PtpEdit,
    Release,
    Table,
    release_kind_label,
)

ZIP_MAGIC = b"PK\x03\x04"
# Formats that come as several part files merging into one release.
MULTIPART_FORMATS = frozenset({"ncci_ptp"})
# A format whose release kind is not its importer's system: index files are detected
# "under icd10cm" (DESIGN.md) and stored as their own kind.
KIND_OF_FORMAT: dict[str, str] = {
    "icd10cm_index": Table.ICD10CM_INDEX,
    "icd10pcs_index": Table.ICD10PCS_INDEX,
    "icd10pcs_definitions": Table.ICD10PCS_DEFINITIONS,
}
FORMAT_OF_KIND = {kind: name for name, kind in KIND_OF_FORMAT.items()}
STORED_KINDS = frozenset(
    {
        Table.NCCI_PTP,
        Table.MUE,
        Table.ICD10CM_INDEX,
        Table.POA_EXEMPT,
        Table.ICD10PCS_INDEX,
        Table.ICD10PCS_DEFINITIONS,
    }
)
BUNDLE_DATE = (1980, 1, 1, 0, 0, 0)


# --- receiving -------------------------------------------------------------------


def release_kind(importer: Importer) -> str:
    """The ``Release.system`` a file of this format is stored under."""
    return KIND_OF_FORMAT.get(importer.name, importer.system)


def inflate_limit(compressed_size: int) -> int:
    """How many bytes a compressed upload (gzip, zip) of ``compressed_size`` may
    inflate to: at most CODESET_INFLATE_MAX_RATIO times its size (official files
    compress 5-20x, the NCCI PTP parts ~10x; a decompression bomb ~1000x), and never
    more than CODESET_INFLATE_MAX_BYTES."""
    by_ratio = max(compressed_size * settings.CODESET_INFLATE_MAX_RATIO, 1 << 20)
    return min(settings.CODESET_INFLATE_MAX_BYTES, by_ratio)


def is_zip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == ZIP_MAGIC


def _data_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = [
        m
        for m in archive.infolist()
        if not m.is_dir()
        and not m.filename.startswith("__MACOSX/")
        and not Path(m.filename).name.startswith(".")
    ]
    # zipfile never reads past a member's stated size, so the stated sizes bound
    # what parsing inflates.
    inflated = sum(m.file_size for m in members)
    limit = inflate_limit(sum(m.compress_size for m in archive.infolist()))
    if inflated > limit:
        raise ImportFormatError(
            f"The zip inflates to {inflated:,} bytes, more than this workbench accepts "
            f"for a file of its size ({limit:,})."
        )
    return sorted(members, key=lambda m: m.filename)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ImportFormatError(f"The zip file is damaged: {exc}") from exc


def _detect_in_zip(path: Path, system: str | None) -> Importer:
    found: dict[str, tuple[Importer, list[str]]] = {}
    with _open_zip(path) as archive:
        members = _data_members(archive)
        for member in members:
            with archive.open(member) as fh:
                head = fh.read(HEAD_BYTES)
            for importer in importers.all_importers():
                if system and importer.system != system:
                    continue
                if head.strip() and importer.detect(head):
                    found.setdefault(importer.name, (importer, []))[1].append(
                        member.filename
                    )
                    break
    if not found:
        held = ", ".join(m.filename for m in members) or "nothing"
        raise ImportFormatError(
            f"The zip holds no file in a format this workbench imports (it holds {held})."
        )
    if len(found) > 1:
        kinds = "; ".join(
            f"{importer.description}: {', '.join(names)}"
            for importer, names in found.values()
        )
        raise ImportFormatError(
            f"The zip mixes formats ({kinds}). Put the parts of one release in it."
        )
    importer, names = next(iter(found.values()))
    if len(names) > 1 and importer.name not in MULTIPART_FORMATS:
        raise ImportFormatError(
            f"The zip holds {len(names)} files of {importer.description}; only NCCI PTP edits "
            "come in parts. Import these files one at a time."
        )
    return importer


def detect_importer(path: Path, *, system: str | None = None) -> Importer:
    """``importers.detect_importer``, and: a zip is judged by its members, and
    ``system`` may name a table kind (``icd10cm_index``) as well as a code system."""
    wanted_format = FORMAT_OF_KIND.get(system or "")
    if wanted_format:
        system = importers.get_importer(wanted_format).system
    if is_zip(path):
        importer = _detect_in_zip(path, system)
    else:
        importer = importers.detect_importer(path, system=system)
    if wanted_format and importer.name != wanted_format:
        wanted = importers.get_importer(wanted_format).description
        raise ImportFormatError(
            f"The file is a {importer.description}, not an {wanted}."
        )
    return importer


def bundle_parts(*, files: list[tuple[Path, str]], folder: Path) -> Path:
    """Zip several uploaded part files (path, original name) into one file in
    ``folder``, the same bytes for the same parts whatever order they came in."""
    names = [Path(name).name for _path, name in files]
    if len(set(names)) != len(names):
        raise ImportFormatError("Two of the files have the same name.")
    target = folder / ("+".join(sorted(names))[:200] + ".zip")
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in sorted(files, key=lambda f: Path(f[1]).name):
            info = zipfile.ZipInfo(Path(name).name, date_time=BUNDLE_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


# --- parsing ---------------------------------------------------------------------


def parse_source(
    importer: Importer,
    path: Path,
    progress: Progress | None = None,
) -> ParseResult:
    """Parse a stored upload: the file itself, or each part of a zip, merged."""
    if not is_zip(path):
        return importer.parse(path, progress=progress)
    size = path.stat().st_size
    parts: list[tuple[str, ParseResult]] = []
    skipped: list[str] = []
    with _open_zip(path) as archive, tempfile.TemporaryDirectory() as tmp:
        members = _data_members(archive)
        inflated = max(sum(m.file_size for m in members), 1)
        done = 0
        for member in members:
            with archive.open(member) as fh:
                head = fh.read(HEAD_BYTES)
            if not head.strip() or not importer.detect(head):
                skipped.append(member.filename)
                continue
            part = Path(tmp) / "part"
            with archive.open(member) as src, open(part, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)

            def part_progress(read: int, _total: int, _base: int = done) -> None:
                # The job's bar counts the stored (zipped) bytes: scale to them.
                if progress is not None:
                    progress(size * (_base + read) // inflated, size)

            try:
                parsed = importer.parse(part, progress=part_progress)
            except ImportFormatError as exc:
                raise ImportFormatError(
                    f"{member.filename}: {exc.message}",
                    line=exc.line,
                    element=exc.element,
                ) from exc
            parts.append((member.filename, parsed))
            done += member.file_size
    if not parts:
        raise ImportFormatError(f"The zip holds no {importer.description}.")
    merged = _merge_parts(parts)
    if skipped:
        merged.warnings.append(
            f"Not read from the zip (not {importer.description}): {', '.join(skipped)}."
        )
    return merged


def _merge_parts(parts: list[tuple[str, ParseResult]]) -> ParseResult:
    if len(parts) == 1:
        return parts[0][1]
    first_name, merged = parts[0]
    merged.warnings = [f"{first_name}: {w}" for w in merged.warnings]
    for name, part in parts[1:]:
        if part.variant != merged.variant:
            raise ImportFormatError(
                f"{name} holds {part.variant} edits but {first_name} holds {merged.variant} edits: "
                "the parts of one release are all practitioner or all hospital edits."
            )
        if part.version != merged.version:
            raise ImportFormatError(
                f"{name} is version {part.version or '(none stated)'} but {first_name} is "
                f"{merged.version or '(none stated)'}: the parts must come from one quarter's release."
            )
        merged.ptp_edits.extend(part.ptp_edits)
        merged.warnings.extend(f"{name}: {w}" for w in part.warnings)
    return merged


# --- the import job's steps ------------------------------------------------------


def proposed_dates(kind: str, version: str) -> tuple[dt.date | None, dt.date | None]:
    """Dates an edit table usually takes effect, open-ended (the next quarter's
    activation ends it). Only a proposal: the admin confirms at activation."""
    if kind == Table.MUE and version:
        try:
            return dt.date.fromisoformat(version), None
        except ValueError:
            return None, None
    # NCCI versions count quarters: 31.0 is January 2025, 31.2 July 2025.
    match = re.fullmatch(r"(\d{2})\.([0-3])(?:r\d)?", version)
    if kind == Table.NCCI_PTP and match:
        return dt.date(1994 + int(match.group(1)), 1 + 3 * int(match.group(2)), 1), None
    return None, None


def default_label(*, kind: str, variant: str, version: str, file_name: str) -> str:
    if kind == Table.POA_EXEMPT:
        return "POA-exempt codes" + (
            f" FY{version[:4]}" if version[:4].isdigit() else ""
        )
    variant_label = TABLE_VARIANTS.get(kind, {}).get(variant, variant)
    label = release_kind_label(kind)
    if variant_label:
        label += f", {variant_label}"
    if kind == Table.NCCI_PTP and version:
        label += f" v{version}"
    elif kind == Table.MUE and version:
        label += f", effective {version}"
    elif kind in FISCAL_YEAR_KINDS and version[:4].isdigit():
        label += f" FY{version[:4]}"
        if "april" in file_name.lower():
            label += " April update"
    return label


# Tables published per fiscal year, as the code sets they go with.
FISCAL_YEAR_KINDS = frozenset(
    {Table.ICD10CM_INDEX, Table.ICD10PCS_INDEX, Table.ICD10PCS_DEFINITIONS}
)


# What a storer returns: warnings to add, and what ``_diff`` compares (the row model,
# the columns that identify a row, the columns compared between releases).
Stored = tuple[list[str], tuple[type[models.Model], list[str], list[str]]]


def _copy_rows(
    model: type[models.Model], columns: list[str], rows: Iterable[tuple]
) -> int:
    table = model._meta.db_table
    quoted = ", ".join(f'"{c}"' for c in columns)  # IndexTerm has a "column" column
    count = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        cursor.execute(f"ANALYZE {table}")
    return count


def _diff(
    model: type[models.Model],
    key: list[str],
    compared: list[str],
    release: Release,
    base: Release,
) -> dict[str, int]:
    """Rows added, deleted and revised (same key, other content) since ``base``."""
    table = model._meta.db_table
    cols = ", ".join(f'"{c}"' for c in key + compared)
    join = " AND ".join(f'a."{c}" = b."{c}"' for c in key)
    a_row = ", ".join(f'a."{c}"' for c in compared)
    b_row = ", ".join(f'b."{c}"' for c in compared)
    sql = f"""
        WITH a AS (SELECT {cols} FROM {table} WHERE release_id = %s),
             b AS (SELECT {cols} FROM {table} WHERE release_id = %s)
        SELECT count(*) FILTER (WHERE a."{key[0]}" IS NULL),
               count(*) FILTER (WHERE b."{key[0]}" IS NULL),
               count(*) FILTER (WHERE a."{key[0]}" IS NOT NULL AND b."{key[0]}" IS NOT NULL
                                  AND ROW({a_row}) IS DISTINCT FROM ROW({b_row}))
        FROM a FULL OUTER JOIN b ON {join}
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [base.id, release.id])
        added, deleted, revised = cursor.fetchone()
    return {"added": added, "deleted": deleted, "revised": revised}


def _ptp_rows(release: Release, parsed: ParseResult, repeats: list[int]) -> Iterator:
    seen: set[tuple[str, str, dt.date]] = set()
    for e in parsed.ptp_edits:
        key = (e.column1, e.column2, e.effective)
        if key in seen:
            repeats[0] += 1
            continue
        seen.add(key)
        yield (
            release.id,
            e.column1,
            e.column2,
            e.effective,
            e.deletion,
            e.modifier_indicator,
            e.existed_before_1996,
            e.rationale,
        )


def _store_ptp(release: Release, parsed: ParseResult) -> Stored:
    repeats = [0]
    release.code_count = _copy_rows(
        PtpEdit,
        [
            "release_id",
            "column1",
            "column2",
            "effective",
            "deletion",
            "modifier_indicator",
            "existed_before_1996",
            "rationale",
        ],
        _ptp_rows(release, parsed, repeats),
    )
    notes = []
    if repeats[0]:
        notes.append(
            f"{repeats[0]:,} edit(s) listed more than once (same pair and effective date) "
            "were stored once, as first listed."
        )
    return (
        notes,
        (
            PtpEdit,
            ["column1", "column2", "effective"],
            ["deletion", "modifier_indicator", "rationale"],
        ),
    )


def _store_mue(release: Release, parsed: ParseResult) -> Stored:
    release.code_count = _copy_rows(
        MueEdit,
        ["release_id", "code", "max_units", "adjudication_indicator", "rationale"],
        (
            (release.id, m.code, m.value, m.adjudication_indicator, m.rationale)
            for m in parsed.mues
        ),
    )
    return [], (
        MueEdit,
        ["code"],
        ["max_units", "adjudication_indicator", "rationale"],
    )


def _index_rows(release: Release, parsed: ParseResult) -> Iterator[tuple]:
    seq = 0
    for term in parsed.index_terms:
        path = " > ".join(term.path)
        codes = term.codes or (("", ""),)
        for column, code in codes:
            seq += 1
            yield (
                release.id,
                seq,
                path,
                len(term.path) - 1,
                column[:80],
                code[:20],
                term.nemod,
                term.see,
                term.see_also,
            )


def _store_index(release: Release, parsed: ParseResult) -> Stored:
    # One row per term and column: the release counts these "index entries".
    release.code_count = _copy_rows(
        IndexTerm,
        [
            "release_id",
            "seq",
            "path",
            "level",
            "column",
            "code",
            "nemod",
            "see",
            "see_also",
        ],
        _index_rows(release, parsed),
    )
    # A bulk insert parks GIN entries in the pending list every search would scan.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gin_clean_pending_list('indexterm_search_vector'::regclass)"
        )
    return [], (IndexTerm, ["path", "nemod", "column"], ["code", "see", "see_also"])


def _store_poa_exempt(release: Release, parsed: ParseResult) -> Stored:
    release.code_count = _copy_rows(
        PoaExemptCode,
        ["release_id", "code", "title", "order"],
        ((release.id, p.code, p.title, p.order) for p in parsed.poa_exempt),
    )
    # A code whose title changed is "revised" (CMS's revision file lists these).
    return [], (PoaExemptCode, ["code"], ["title"])


def _store_pcs_index(release: Release, parsed: ParseResult) -> Stored:
    # One row per main term and subterm: the release counts these "index entries".
    release.code_count = _copy_rows(
        PcsIndexTerm,
        ["release_id", "seq", "path", "level", "title", "see", "use", "code"],
        (
            (
                release.id,
                seq,
                " > ".join(term.path),
                len(term.path) - 1,
                term.title,
                term.see,
                term.use,
                term.code,
            )
            for seq, term in enumerate(parsed.pcs_index_terms, 1)
        ),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gin_clean_pending_list('pcsindexterm_search_vector'::regclass)"
        )
    # Terms repeat (a bare "see" under its parent has the parent's path): the seq
    # tells them apart, and the diff compares what a term says, in file order.
    return [], (PcsIndexTerm, ["path", "title", "see", "use", "code"], ["level"])


def _store_pcs_definitions(release: Release, parsed: ParseResult) -> Stored:
    release.code_count = _copy_rows(
        PcsDefinition,
        [
            "release_id",
            "seq",
            "section",
            "axis",
            "axis_title",
            "titles",
            "definition",
            "explanation",
            "includes",
            "body_systems",
            "parent",
            "parent_value",
        ],
        (
            (
                release.id,
                seq,
                d.section,
                d.axis,
                d.axis_title[:60],
                list(d.titles),
                d.definition,
                d.explanation,
                list(d.includes),
                list(d.body_systems),
                d.parent,
                d.parent_value,
            )
            for seq, d in enumerate(parsed.pcs_definitions, 1)
        ),
    )
    return [], (
        PcsDefinition,
        ["section", "axis", "titles"],
        ["definition", "explanation", "includes", "body_systems", "parent"],
    )


STORERS: dict[str, Callable[[Release, ParseResult], Stored]] = {
    Table.NCCI_PTP: _store_ptp,
    Table.MUE: _store_mue,
    Table.ICD10CM_INDEX: _store_index,
    Table.POA_EXEMPT: _store_poa_exempt,
    Table.ICD10PCS_INDEX: _store_pcs_index,
    Table.ICD10PCS_DEFINITIONS: _store_pcs_definitions,
}


def table_store(
    *, release: Release, parsed: ParseResult, base: Release | None
) -> list[str]:
    """Write a parsed edit or index table into ``release`` (inside the import job's
    transaction) and set its counts and diff; returns warnings to add."""
    notes, (model, key, compared) = STORERS[release.system](release, parsed)
    release.billable_count = 0
    release.note_count = 0
    if base is None:
        release.diff = {"added": release.code_count, "deleted": 0, "revised": 0}
    else:
        release.diff = _diff(model, key, compared, release, base)
    return notes


def table_rows_delete(*, release: Release) -> None:
    """Discarding a release: its rows go."""
    for model in (
        PtpEdit,
        MueEdit,
        IndexTerm,
        PoaExemptCode,
        PcsIndexTerm,
        PcsDefinition,
    ):
        model.objects.filter(release=release).delete()
