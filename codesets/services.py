"""Every write to the code sets: receiving a file, importing it into a staged
release, activating and discarding releases."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import logging
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from codesets import importers, table_releases
from codesets.importers.base import (
    ImportFormatError,
    NoteKind,
    ParsedChange,
    ParsedCode,
    ParsedNote,
    ParseResult,
)
from codesets.models import (
    TABLE_VARIANTS,
    AcceptedSuggestion,
    Code,
    DrgWeight,
    Note,
    PaymentRate,
    PaymentRateChange,
    PcsTable,
    Release,
    System,
    Table,
    normalize_code,
    release_kind_label,
)
from codesets.query_words import normalized_query
from jobs.services import (
    JobClaim,
    job_claimed,
    job_enqueue,
    jobs_claimed,
    queued_stale_before,
    stale_before,
)

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

IMPORT_TASK = "codesets.tasks.release_import_task"
GZIP_MAGIC = b"\x1f\x8b"
# Formats this release model stores (codes, notes, PCS tables; DRG weights; HCPCS and
# CPT codes with their per-code validity dates; NCCI PTP, MUE and ICD-10-CM index tables,
# codesets/table_releases.py).
STORABLE_FORMATS = {
    "icd10cm_tabular",
    "icd10cm_addenda",
    "icd10cm_order",
    "icd10cm_codes",
    "icd10pcs_tables",
    "icd10pcs_order",
    "icd10pcs_codes",
    "drg_weights",
    "hcpcs_record",
    "cpt_file",
    "ncci_ptp",
    "mue",
    "icd10cm_index",
    "poa_exempt",
    "icd10pcs_index",
    "icd10pcs_definitions",
}


class ReleaseError(Exception):
    """A code-set operation refused, with a message for the admin."""


class DuplicateRelease(ReleaseError):
    """The same bytes were imported before. Not a frozen dataclass: Python sets
    ``__traceback__`` on an exception as it passes through a ``@contextmanager``."""

    def __init__(self, existing: Release) -> None:
        super().__init__(existing)
        self.existing = existing

    def __str__(self) -> str:
        when = timezone.localtime(self.existing.created_at).strftime("%Y-%m-%d %H:%M")
        return (
            f"This file was already imported as “{self.existing.label}” ({self.existing.get_state_display().lower()}) "
            f"on {when} UTC. Nothing was added."
        )


# --- receiving a file -------------------------------------------------------------


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _plain_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, inflating it if it is gzip-compressed.

    The inflated size is capped while streaming (``table_releases.inflate_limit``): a small bomb is
    refused after writing at most the cap, and what was written is removed."""
    with open(source, "rb") as fh:
        magic = fh.read(2)
    if magic != GZIP_MAGIC:
        shutil.copyfile(source, target)
        return
    limit = table_releases.inflate_limit(source.stat().st_size)
    written = 0
    try:
        with gzip.open(source, "rb") as src, open(target, "wb") as dst:
            while block := src.read(1 << 20):
                written += len(block)
                if written > limit:
                    raise ImportFormatError(
                        f"The gzip file inflates to more than {limit:,} bytes, more "
                        "than this workbench accepts for a file of its size "
                        f"({source.stat().st_size:,} bytes compressed); nothing was "
                        "imported."
                    )
                dst.write(block)
    except (OSError, EOFError) as exc:
        target.unlink(missing_ok=True)
        raise ImportFormatError(f"The gzip file is damaged: {exc}") from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _fiscal_year_dates(
    system: str, version: str, file_name: str
) -> tuple[dt.date | None, dt.date | None]:
    """The dates an official file usually takes effect: FY N runs (N-1)-10-01 to N-09-30,
    an April update from N-04-01. Only a proposal: the admin confirms at activation."""
    if (
        system
        not in (System.ICD10CM, System.ICD10PCS, Table.DRG_WEIGHTS, Table.POA_EXEMPT)
        or not version[:4].isdigit()
    ):
        return None, None
    year = int(version[:4])
    if "april" in file_name.lower():
        return dt.date(year, 4, 1), dt.date(year, 9, 30)
    return dt.date(year - 1, 10, 1), dt.date(year, 9, 30)


# HCPCS quarterly files name their month ("HCPC2020_APR_ANWEB_v2.txt", "July 2020").
_QUARTER_RE = re.compile(r"(?<![a-z])(apr|jul|oct)(?:il|y|ober)?(?![a-z])")
QUARTER_MONTHS = {"apr": 4, "jul": 7, "oct": 10}
QUARTER_NAMES = {4: "April", 7: "July", 10: "October"}


def _quarter_month(file_name: str) -> int | None:
    match = _QUARTER_RE.search(file_name.lower())
    return QUARTER_MONTHS[match.group(1)] if match else None


def _calendar_year_dates(
    system: str, version: str, file_name: str
) -> tuple[dt.date | None, dt.date | None]:
    """HCPCS and CPT editions are calendar years: year N from N-01-01 to N-12-31, a
    HCPCS quarterly update from the first day of its quarter. Only a proposal: the
    admin confirms at activation. A CPT file that names no year proposes nothing."""
    if not version[:4].isdigit():
        return None, None
    year = int(version[:4])
    month = _quarter_month(file_name) if system == System.HCPCS else None
    return dt.date(year, month or 1, 1), dt.date(year, 12, 31)


def _proposed_dates(
    system: str, version: str, file_name: str
) -> tuple[dt.date | None, dt.date | None]:
    if system in (Table.NCCI_PTP, Table.MUE):
        return table_releases.proposed_dates(system, version)
    if system == Table.ICD10CM_INDEX:
        return _fiscal_year_dates(System.ICD10CM, version, file_name)
    if system in (Table.ICD10PCS_INDEX, Table.ICD10PCS_DEFINITIONS):
        return _fiscal_year_dates(System.ICD10PCS, version, file_name)
    if system in (System.HCPCS, System.CPT):
        return _calendar_year_dates(system, version, file_name)
    return _fiscal_year_dates(system, version, file_name)


def _default_label(system: str, version: str, file_name: str, is_delta: bool) -> str:
    label = release_kind_label(system)
    if system in (System.HCPCS, System.CPT):
        if version[:4].isdigit():
            label += f" {version[:4]}"
        month = _quarter_month(file_name) if system == System.HCPCS else None
        if month:
            label += f" {QUARTER_NAMES[month]} update"
        return label
    if version[:4].isdigit():
        label += f" FY{version[:4]}"
    if "april" in file_name.lower():
        label += " April update"
    if is_delta:
        label += " (from addenda)"
    return label


@transaction.atomic(durable=True)
def release_receive_file(
    *,
    path: Path,
    file_name: str,
    user_id: int | None,
    system: str | None = None,
    label: str = "",
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
    queue: bool = True,
) -> Release:
    """Check an uploaded file and create the release that its import job fills.

    Refuses (nothing written) a file that is too large, in no known format, or
    already imported. The file is kept under MEDIA_ROOT until the job has read it.
    """
    sha256, size = file_sha256(path)
    if size > settings.CODESET_UPLOAD_MAX_BYTES:
        raise ReleaseError(
            f"The file is {size:,} bytes; the limit is {settings.CODESET_UPLOAD_MAX_BYTES:,} bytes."
        )
    # The same bytes are the same format, hence the same system: refuse a file already
    # imported before copying and parsing it again.
    existing = (
        Release.objects.filter(source_sha256=sha256)
        .exclude(state__in=[Release.State.FAILED, Release.State.DISCARDED])
        .first()
    )
    if existing:
        raise DuplicateRelease(existing)
    store = Path(settings.MEDIA_ROOT) / "imports"
    store.mkdir(parents=True, exist_ok=True)
    # A name of its own per upload: two uploads of one file at once must not share
    # (and the loser must not delete) the winner's copy.
    stored = store / f"{sha256}-{uuid.uuid4().hex[:12]}.dat"
    try:
        _plain_copy(path, stored)
        importer = table_releases.detect_importer(stored, system=system)
        if importer.name not in STORABLE_FORMATS:
            raise ReleaseError(
                f"This is a {importer.description}. The workbench reads this format but "
                "cannot store it as a release yet; nothing was imported."
            )
        if effective_to and effective_from and effective_to < effective_from:
            raise ReleaseError("The release cannot end before it starts.")
        try:
            with transaction.atomic():
                release = Release.objects.create(
                    system=table_releases.release_kind(importer),
                    label=label or "",
                    source_file_name=Path(file_name).name[:255],
                    source_sha256=sha256,
                    source_size=size,
                    source_format=importer.name,
                    source_path=str(stored),
                    imported_by_id=user_id,
                    effective_from=effective_from,
                    effective_to=effective_to,
                    progress_message="Waiting for a worker",
                )
        except IntegrityError as exc:
            if "release_unique_file_per_system" not in str(exc):
                raise
            # Lost the race with a simultaneous upload of the same file (the unique
            # file-per-system constraint): the other one is the release.
            raise _duplicate_of(sha256) from None
    except BaseException:
        # Refused or failed: no copy of the upload stays on the server.
        stored.unlink(missing_ok=True)
        raise
    if queue:
        # Through the outbox: with the broker down the release is saved and its job
        # sent by the sweep once the broker is back.
        job_enqueue(IMPORT_TASK, release_id=release.id)
    return release


def _duplicate_of(sha256: str) -> ReleaseError:
    existing = (
        Release.objects.filter(source_sha256=sha256)
        .exclude(state__in=[Release.State.FAILED, Release.State.DISCARDED])
        .first()
    )
    if existing is not None:
        return DuplicateRelease(existing)
    return ReleaseError(
        "This file is being imported by another upload right now; nothing was added."
    )


# --- the import job ---------------------------------------------------------------


class ProgressReporter:
    """Writes a release's progress (its heartbeat) through the import's JobClaim
    connection, so the page sees it while the import transaction is still open. At
    most one write per half second."""

    def __init__(self, release_id: int, claim: JobClaim) -> None:
        self.release_id = release_id
        self.claim = claim
        self._last = 0.0
        self._closed = False

    def __call__(self, percent: int, message: str, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._closed or (not force and now - self._last < 0.5):
            return
        self._last = now
        # Best effort: never waits behind a lock on the release row (JobClaim).
        self.claim.execute(
            "UPDATE codesets_release SET progress = %s, progress_message = %s, progress_at = now() WHERE id = %s",
            [max(0, min(100, percent)), message[:200], self.release_id],
        )

    def close(self) -> None:
        """No more progress writes (the final update is the import's own)."""
        self._closed = True


def _base_release_for(release: Release) -> Release | None:
    """The release this one replaces: the one in force the day before it starts,
    else the newest release of the system in force."""
    candidates = (
        Release.objects.in_force()
        .filter(system=release.system, variant=release.variant)
        .exclude(id=release.id)
    )
    if release.effective_from:
        before = (
            candidates.filter(
                Q(effective_to__isnull=True)
                | Q(effective_to__gte=release.effective_from - dt.timedelta(days=1)),
                effective_from__lt=release.effective_from,
            )
            .order_by("-effective_from")
            .first()
        )
        if before:
            return before
    return candidates.order_by("-effective_from").first()


def _content_hash(*parts: object) -> uuid.UUID:
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return uuid.UUID(bytes=hashlib.md5(joined.encode(), usedforsecurity=False).digest())


def _attach_rows(
    *,
    model: type[models.Model],
    columns: list[str],
    rows: Iterable[tuple],
    system: str,
    release_id: int,
) -> int:
    """Make ``release_id`` a member of a row for each of ``rows`` (code, hash, *columns):
    existing rows with the same content gain the id, new content is inserted."""
    table = model._meta.db_table
    column_list = ", ".join(["code", "content_hash", *columns])
    count = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE incoming ON COMMIT DROP AS SELECT {column_list} FROM {table} WITH NO DATA"  # noqa: S608
        )
        with cursor.cursor.copy(f"COPY incoming ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        cursor.execute("CREATE INDEX ON incoming (code, content_hash)")
        cursor.execute("ANALYZE incoming")
        cursor.execute(
            f"""UPDATE {table} t SET release_ids = array_append(t.release_ids, %s::bigint)
                FROM (SELECT DISTINCT code, content_hash FROM incoming) i
                WHERE t.system = %s AND t.code = i.code AND t.content_hash = i.content_hash
                  AND NOT t.release_ids @> ARRAY[%s::bigint]""",  # noqa: S608
            [release_id, system, release_id],
        )
        cursor.execute(
            f"""INSERT INTO {table} (system, release_ids, {column_list})
                SELECT DISTINCT ON (i.code, i.content_hash) %s, ARRAY[%s::bigint], {", ".join("i." + c for c in ["code", "content_hash", *columns])}
                FROM incoming i
                WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.system = %s AND t.code = i.code AND t.content_hash = i.content_hash)""",  # noqa: S608
            [system, release_id, system],
        )
        cursor.execute("DROP TABLE incoming")
    return count


CODE_COLUMNS = [
    "kind",
    "billable",
    "short_title",
    "long_title",
    "parent",
    "chapter",
    "block",
    "search_terms",
    "valid_from",
    "valid_to",
]
NOTE_COLUMNS = ["kind", "seq", "text", "character"]


def _code_rows(codes: Iterable[ParsedCode], terms: dict[str, str]) -> Iterator[tuple]:
    for c in codes:
        search_terms = terms.get(c.code, "")
        content = (
            c.kind,
            c.billable,
            c.short_title,
            c.long_title,
            c.parent,
            c.chapter,
            c.block,
            search_terms,
        )
        # The dates join the hash only when set, so rows without them (ICD-10) keep
        # the hash they had before the dates existed and stay shared.
        dates = (c.valid_from, c.valid_to) if c.valid_from or c.valid_to else ()
        yield (
            c.code,
            _content_hash(*content, *dates),
            *content,
            c.valid_from,
            c.valid_to,
        )


def _modifier_codes(parsed: ParseResult) -> list[ParsedCode]:
    """HCPCS modifiers as rows of kind "modifier": not billable on their own, left
    out of code search, listed by ``selectors.modifier_list``."""
    return [
        ParsedCode(
            code=modifier,
            kind=Code.Kind.MODIFIER,
            billable=False,
            short_title=short,
            long_title=long,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        for modifier, short, long, valid_from, valid_to in parsed.modifiers
    ]


def _inclusion_terms(notes: Iterable[ParsedNote]) -> dict[str, str]:
    """Each code's inclusion terms, joined: the encoder searches them with the title."""
    terms: dict[str, list[str]] = {}
    for note in notes:
        if note.kind == NoteKind.INCLUSION_TERM:
            terms.setdefault(note.code, []).append(note.text)
    return {code: " | ".join(texts) for code, texts in terms.items()}


def _apply_changes(
    base: Release, changes: list[ParsedChange]
) -> tuple[list[ParsedCode], dict[str, str]]:
    """The base release's codes with an addenda file's adds, deletes and revisions
    applied, and the base's search terms of the codes."""
    nodes: dict[str, ParsedCode] = {}
    terms: dict[str, str] = {}
    rows = Code.objects.filter(system=base.system, release_ids__contains=[base.id])
    for row in rows.iterator(chunk_size=5000):
        nodes[row.code] = ParsedCode(
            code=row.code,
            kind=row.kind,
            billable=row.billable,
            short_title=row.short_title,
            long_title=row.long_title,
            parent=row.parent,
            chapter=row.chapter,
            block=row.block,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
        )
        if row.search_terms:
            terms[row.code] = row.search_terms
    for change in changes:
        present = change.code in nodes
        if change.action == "delete":
            if not present:
                raise ImportFormatError(
                    f"Delete of {change.code}, which {base.label} does not have",
                    line=change.line,
                )
            del nodes[change.code]
        elif change.action == "revise":
            if not present:
                raise ImportFormatError(
                    f"Revision of {change.code}, which {base.label} does not have",
                    line=change.line,
                )
            old = nodes[change.code]
            nodes[change.code] = ParsedCode(
                code=old.code,
                kind=old.kind,
                billable=change.billable,
                short_title=change.short_title,
                long_title=change.long_title,
                parent=old.parent,
                chapter=old.chapter,
                block=old.block,
            )
        elif change.action == "add":
            if present:
                raise ImportFormatError(
                    f"Addition of {change.code}, which {base.label} already has",
                    line=change.line,
                )
            parent = next(
                (
                    change.code[:n]
                    for n in range(len(change.code) - 1, 2, -1)
                    if change.code[:n] in nodes
                ),
                "",
            )
            parent_node = nodes.get(parent)
            nodes[change.code] = ParsedCode(
                code=change.code,
                kind="category" if len(change.code) == 3 else "code",
                billable=change.billable,
                short_title=change.short_title,
                long_title=change.long_title,
                parent=parent or (parent_node.block if parent_node else ""),
                chapter=parent_node.chapter if parent_node else "",
                block=parent_node.block if parent_node else "",
            )
        else:
            raise ImportFormatError(
                f"Unknown change {change.action!r}", line=change.line
            )
    return list(nodes.values()), terms


def _diff_counts(release: Release, base: Release | None) -> dict[str, int]:
    from codesets.selectors import release_diff_rows

    counts = {
        "added": 0,
        "deleted": 0,
        "revised": 0,
        "billable_changed": 0,
        "moved": 0,
        "dates_changed": 0,
    }
    if base is None:
        counts["added"] = release.code_count
        return counts
    for row in release_diff_rows(release=release, base=base):
        for change in row.changes:
            counts[change] += 1
    return counts


def _store_codes(
    release: Release,
    parsed: ParseResult,
    base: Release | None,
    progress: ProgressReporter,
) -> None:
    """Write a code release's codes, notes and PCS tables, sharing unchanged rows."""
    codes = [*parsed.codes, *_modifier_codes(parsed)]
    notes = parsed.notes
    terms = _inclusion_terms(notes)
    carry_notes_from: Release | None = None
    if parsed.is_delta:
        if base is None:
            raise ImportFormatError(
                f"An addenda file changes an earlier release, and no {System(release.system).label} release is in force to apply it to. "
                "Import and activate that release first."
            )
        codes, terms = _apply_changes(base, parsed.changes)
        carry_notes_from = base
    progress(55, f"Writing {len(codes):,} codes")
    _attach_rows(
        model=Code,
        columns=CODE_COLUMNS,
        rows=_code_rows(codes, terms),
        system=release.system,
        release_id=release.id,
    )
    progress(75, f"Writing {len(notes):,} notes")
    _attach_rows(
        model=Note,
        columns=NOTE_COLUMNS,
        system=release.system,
        release_id=release.id,
        rows=(
            (
                n.code,
                _content_hash(n.kind, n.seq, n.text, n.character),
                n.kind,
                n.seq,
                n.text,
                n.character,
            )
            for n in notes
        ),
    )
    if carry_notes_from is not None:
        kept = {c.code for c in codes}
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE codesets_note SET release_ids = array_append(release_ids, %s::bigint)
                   WHERE system = %s AND release_ids @> ARRAY[%s::bigint] AND code = ANY(%s)""",
                [release.id, release.system, carry_notes_from.id, list(kept)],
            )
    if parsed.pcs_tables:
        _attach_rows(
            model=PcsTable,
            columns=["data"],
            system=release.system,
            release_id=release.id,
            rows=(
                (
                    t.code,
                    _content_hash(t.axes, t.rows),
                    Jsonb({"axes": t.axes, "rows": t.rows}),
                )
                for t in parsed.pcs_tables
            ),
        )
    # Bulk inserts park GIN entries in a pending list that every search would then
    # scan; merge them now, and refresh the planner's statistics.
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list('code_search_vector'::regclass)")
        cursor.execute("ANALYZE codesets_code")
    progress(88, "Comparing with the previous release")
    counted = Code.objects.filter(
        system=release.system, release_ids__contains=[release.id]
    ).exclude(kind__in=[Code.Kind.CHAPTER, Code.Kind.BLOCK])
    release.code_count = counted.count()
    release.billable_count = counted.filter(billable=True).count()
    release.note_count = Note.objects.filter(
        system=release.system, release_ids__contains=[release.id]
    ).count()
    release.diff = _diff_counts(release, base)


def _store_drg_weights(
    release: Release,
    parsed: ParseResult,
    base: Release | None,
    progress: ProgressReporter,
) -> None:
    """Write an IPPS Table 5 release and compare it with the previous fiscal year's."""
    progress(55, f"Writing {len(parsed.drg_weights):,} MS-DRGs")
    DrgWeight.objects.bulk_create(
        DrgWeight(
            release=release,
            drg=w.drg,
            mdc=w.mdc,
            type=w.type,
            title=w.title,
            weight=w.weight,
            gmlos=w.gmlos,
            amlos=w.amlos,
            post_acute=w.post_acute,
            special_pay=w.special_pay,
        )
        for w in parsed.drg_weights
    )
    release.code_count = len(parsed.drg_weights)
    release.billable_count = 0
    release.note_count = 0
    counts = {"added": 0, "deleted": 0, "revised": 0, "weight_changed": 0}
    if base is None:
        counts["added"] = release.code_count
    else:
        old = {w.drg: w for w in DrgWeight.objects.filter(release=base)}
        new = {w.drg: w for w in parsed.drg_weights}
        counts["added"] = len(new.keys() - old.keys())
        counts["deleted"] = len(old.keys() - new.keys())
        for drg in new.keys() & old.keys():
            counts["revised"] += new[drg].title != old[drg].title
            counts["weight_changed"] += new[drg].weight != old[drg].weight
    release.diff = counts


def release_import(*, release_id: int) -> Release | None:
    """The import job: parse the release's file and fill the staged release.

    Idempotent: a release no longer importing is left alone, and an advisory lock
    keeps a redelivered job from running beside the first. Everything is written in
    one transaction: a malformed file or a killed worker leaves no partial release.
    """
    claim = JobClaim("release", release_id)
    if not claim.acquire():
        # A live worker imports this release already (a redelivered or resent job).
        return Release.objects.filter(id=release_id).first()
    # The claim is held until the outcome is committed: the sweep restarts an
    # importing release only when no live process holds it.
    claim.execute(
        "UPDATE codesets_release SET attempts = attempts + 1, progress_at = now() WHERE id = %s AND state = 'importing'",
        [release_id],
    )
    progress = ProgressReporter(release_id, claim)
    try:
        return _release_import(release_id, progress)
    except ImportFormatError as exc:
        _release_mark_failed(release_id, str(exc))
        logger.info("release %s failed: %s", release_id, exc)
        return None
    except SoftTimeLimitExceeded:
        _release_mark_failed(
            release_id,
            "The import took longer than the time limit (CELERY_TASK_SOFT_TIME_LIMIT) and was stopped; nothing was staged.",
        )
        raise
    except Exception as exc:
        # Anything else is our fault, not the file's: say so, keep nothing, and let the
        # worker log the traceback. The admin can upload the file again.
        _release_mark_failed(
            release_id,
            f"The import stopped on an internal error ({type(exc).__name__}); nothing was staged. "
            "The worker's log has the details.",
        )
        logger.exception("release %s: internal error during import", release_id)
        raise
    finally:
        claim.release()


def release_imports_stalled_requeue() -> tuple[list[str], list[str]]:
    """The sweep's part for imports (jobs.services.jobs_sweep): an importing release
    that no live worker holds and whose heartbeat is older than JOB_STALE_SECONDS
    (or, never started, JOB_QUEUED_RESEND_SECONDS) is queued again, or failed after
    JOB_MAX_ATTEMPTS deaths. Returns (requeued, failed) descriptions."""
    requeued: list[str] = []
    failed: list[str] = []
    claimed = jobs_claimed("release")
    candidates = Release.objects.filter(state=Release.State.IMPORTING).filter(
        Q(progress_at__lt=stale_before())
        | Q(progress_at__isnull=True, created_at__lt=queued_stale_before())
    )
    for release in candidates.exclude(id__in=claimed)[:100]:
        if release.attempts >= settings.JOB_MAX_ATTEMPTS:
            _release_mark_failed(
                release.id,
                f"The import was started {release.attempts} times and its worker stopped each time "
                "(killed, or out of memory); nothing was staged. Retry it, or discard it and upload the file again.",
            )
            failed.append(f"release {release.id}")
            continue
        with transaction.atomic():
            updated = Release.objects.filter(
                id=release.id,
                state=Release.State.IMPORTING,
                progress_at=release.progress_at,
            ).update(
                progress_at=timezone.now(),
                progress_message="Restarted: the worker stopped; waiting for another one"
                if release.attempts
                else "Waiting for a worker (sent again)",
            )
            if updated:
                job_enqueue(IMPORT_TASK, release_id=release.id)
                requeued.append(f"release {release.id}")
    return requeued, failed


def release_import_stalled(release: Release) -> bool:
    """An importing release that no live worker holds and that shows no progress for
    JOB_STALE_SECONDS: the admin may retry or discard it."""
    if release.state != Release.State.IMPORTING:
        return False
    last = release.progress_at or release.created_at
    return last < stale_before() and not job_claimed("release", release.id)


@transaction.atomic(durable=True)
def release_import_retry(*, release_id: int) -> Release:
    """Start the import of a failed or stalled release again (the admin's Retry)."""
    release = Release.objects.select_for_update().get(id=release_id)
    stalled = release_import_stalled(release)
    if release.state != Release.State.FAILED and not stalled:
        raise ReleaseError(
            "Only a failed import, or one whose worker stopped, can be retried."
        )
    if not release.source_path or not Path(release.source_path).exists():
        raise ReleaseError(
            "The uploaded file is no longer on the server; discard this attempt and upload it again."
        )
    if (
        Release.objects.filter(source_sha256=release.source_sha256)
        .exclude(id=release.id)
        .exclude(state__in=[Release.State.FAILED, Release.State.DISCARDED])
        .exists()
    ):
        raise ReleaseError(
            "This file was uploaded again meanwhile; that release is the one to follow."
        )
    release.state = Release.State.IMPORTING
    release.error = ""
    release.attempts = 0
    release.progress = 0
    release.progress_at = None
    release.progress_message = "Waiting for a worker (retry)"
    release.save(
        update_fields=[
            "state",
            "error",
            "attempts",
            "progress",
            "progress_at",
            "progress_message",
            "updated_at",
        ]
    )
    job_enqueue(IMPORT_TASK, release_id=release.id)
    return release


def _release_mark_failed(release_id: int, message: str) -> None:
    failed = Release.objects.filter(
        id=release_id, state=Release.State.IMPORTING
    ).update(
        state=Release.State.FAILED,
        error=message,
        progress_message="Failed",
        updated_at=timezone.now(),
    )
    if failed:
        # A failed import is uploaded again, never retried from this copy: the
        # upload (which may hold anything) does not stay on the server.
        _release_drop_upload(release_id)


def _release_drop_upload(release_id: int) -> None:
    source = (
        Release.objects.filter(id=release_id)
        .values_list("source_path", flat=True)
        .first()
    )
    if source:
        Path(source).unlink(missing_ok=True)


def _release_import(release_id: int, progress: ProgressReporter) -> Release | None:
    release = Release.objects.filter(id=release_id).first()
    if release is None or release.state != Release.State.IMPORTING:
        return release
    started = time.perf_counter()
    importer = importers.get_importer(release.source_format)
    path = Path(release.source_path)
    if not path.exists():
        raise ImportFormatError(
            "The uploaded file is no longer on the server; upload it again."
        )
    progress(1, "Reading the file", force=True)
    total = path.stat().st_size
    parsed: ParseResult = table_releases.parse_source(
        importer,
        path,
        progress=lambda done, _total: progress(
            int(45 * done / max(total, 1)),
            f"Reading the file ({done * 100 // max(total, 1)}%)",
        ),
    )
    progress(45, "Checking against the previous release", force=True)
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", [4242, release_id]
            )
            if not cursor.fetchone()[0]:
                return release  # another worker holds this import
        # No row lock on the release here: the progress connection updates that row
        # while this transaction runs. The advisory lock keeps other jobs out, and the
        # final compare-and-set below refuses if the release left "importing" meanwhile.
        release = Release.objects.get(id=release_id)
        if release.state != Release.State.IMPORTING:
            return release
        proposed_from, proposed_to = _proposed_dates(
            release.system, parsed.version, release.source_file_name
        )
        release.effective_from = release.effective_from or proposed_from
        if (
            release.effective_to is None
            and proposed_to
            and release.effective_from
            and proposed_to >= release.effective_from
        ):
            release.effective_to = proposed_to
        if release.system in TABLE_VARIANTS:
            release.variant = parsed.variant
        base = _base_release_for(release)
        table_warnings: list[str] = []
        if parsed.drg_weights:
            _store_drg_weights(release, parsed, base, progress)
        elif release.system in table_releases.STORED_KINDS:
            progress(55, "Writing the table", force=True)
            table_warnings = table_releases.table_store(
                release=release, parsed=parsed, base=base
            )
        else:
            _store_codes(release, parsed, base, progress)
        release.base_release = base
        release.version = parsed.version[:40]
        release.stated_counts = parsed.stated_counts
        warnings = [*parsed.warnings, *table_warnings]
        # An addenda footer counts billable codes ("74879 codes in icd10cm_order_2027.txt").
        stated = parsed.stated_counts.get("codes")
        if stated is not None and stated != release.billable_count:
            warnings.append(
                f"The file says the new release has {stated:,} billable codes; applying it to {base.label if base else 'nothing'} gives {release.billable_count:,}."
            )
        release.warnings = warnings
        if not release.label and release.system in table_releases.STORED_KINDS:
            release.label = table_releases.default_label(
                kind=release.system,
                variant=release.variant,
                version=parsed.version,
                file_name=release.source_file_name,
            )
        if not release.label:
            release.label = _default_label(
                release.system,
                parsed.version,
                release.source_file_name,
                parsed.is_delta,
            )
        release.state = Release.State.STAGED
        release.imported_at = timezone.now()
        release.progress = 100
        release.progress_message = f"Staged in {time.perf_counter() - started:.1f} s"
        progress.close()
        fields = [
            "effective_from",
            "effective_to",
            "code_count",
            "billable_count",
            "note_count",
            "base_release_id",
            "diff",
            "version",
            "stated_counts",
            "warnings",
            "variant",
            "label",
            "state",
            "imported_at",
            "progress",
            "progress_message",
        ]
        updated = Release.objects.filter(
            id=release.id, state=Release.State.IMPORTING
        ).update(updated_at=timezone.now(), **{f: getattr(release, f) for f in fields})
        if not updated:
            transaction.set_rollback(True)
            return Release.objects.get(id=release.id)
    path.unlink(missing_ok=True)
    return release


# --- activating -------------------------------------------------------------------


def _start(release: Release) -> dt.date:
    """The first day a release in force judges: never null (the constraint
    release_in_force_has_start)."""
    if release.effective_from is None:
        raise ReleaseError(f"“{release.label}” is in force but has no start date.")
    return release.effective_from


@transaction.atomic(durable=True)
def release_activate(
    *,
    release_id: int,
    user_id: int | None,
    effective_from: dt.date,
    effective_to: dt.date | None = None,
) -> Release:
    """Put a staged release in force from ``effective_from``.

    The release in force the day before ends the day before; dates of service
    before then keep being judged by the releases that covered them. All or nothing.
    """
    # Lock every release of the system: two activations at once must not interleave.
    release = Release.objects.select_for_update().get(id=release_id)
    siblings = list(
        Release.objects.select_for_update()
        .in_force()
        .filter(system=release.system, variant=release.variant)
        .exclude(id=release.id)
        .order_by("effective_from")
    )
    if release.state != Release.State.STAGED:
        raise ReleaseError(
            f"“{release.label}” is {release.get_state_display().lower()}, not staged: only a staged release can be activated."
        )
    if effective_to and effective_to < effective_from:
        raise ReleaseError("The release cannot end before it starts.")
    for other in siblings:
        if other.effective_from == effective_from:
            raise ReleaseError(
                f"“{other.label}” already takes effect on {effective_from:%Y-%m-%d}. Choose another date."
            )
    later = [o for o in siblings if _start(o) > effective_from]
    if later and (effective_to is None or effective_to >= _start(later[0])):
        effective_to = _start(later[0]) - dt.timedelta(days=1)
    for other in siblings:
        if _start(other) < effective_from and (
            other.effective_to is None or other.effective_to >= effective_from
        ):
            other.effective_to = effective_from - dt.timedelta(days=1)
            other.save(update_fields=["effective_to", "updated_at"])
    release.effective_from = effective_from
    release.effective_to = effective_to
    release.state = Release.State.ACTIVE
    release.activated_at = timezone.now()
    release.activated_by_id = user_id
    release.save(
        update_fields=[
            "effective_from",
            "effective_to",
            "state",
            "activated_at",
            "activated_by",
            "updated_at",
        ]
    )
    # The newest release in force is "active"; the ones it superseded are "retired"
    # (still judging the dates of service they cover).
    in_force = sorted([*siblings, release], key=_start)
    for other in in_force:
        wanted = (
            Release.State.ACTIVE if other is in_force[-1] else Release.State.RETIRED
        )
        if other.state != wanted:
            other.state = wanted
            other.save(update_fields=["state", "updated_at"])
    if release.system in System.values:
        # Encounters not yet final whose codes this release deletes or revises are
        # audited again. By task name: codesets does not depend on encounters.
        job_enqueue(
            "encounters.tasks.reaudit_after_release_task", release_id=release.id
        )
    return release


@transaction.atomic(durable=True)
def release_discard(*, release_id: int) -> Release:
    """Throw away a staged or failed release: its codes leave the shared rows."""
    release = Release.objects.select_for_update().get(id=release_id)
    if release.state not in (
        Release.State.STAGED,
        Release.State.FAILED,
    ) and not release_import_stalled(release):
        raise ReleaseError(
            f"“{release.label or release.source_file_name}” is {release.get_state_display().lower()}; only staged or failed releases, or imports whose worker stopped, can be discarded."
        )
    for model in (Code, Note, PcsTable):
        table = model._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET release_ids = array_remove(release_ids, %s::bigint) WHERE release_ids @> ARRAY[%s::bigint]",  # noqa: S608
                [release.id, release.id],
            )
            cursor.execute(f"DELETE FROM {table} WHERE release_ids = '{{}}'")  # noqa: S608
    DrgWeight.objects.filter(release=release).delete()
    table_releases.table_rows_delete(release=release)
    _release_drop_upload(release.id)
    release.state = Release.State.DISCARDED
    release.save(update_fields=["state", "updated_at"])
    return release


def release_import_now(
    *,
    path: Path,
    system: str | None = None,
    label: str = "",
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
    activate: bool = False,
    user_id: int | None = None,
) -> Release:
    """Receive and import a file in this process (the import_codes command and `make run`)."""
    release = release_receive_file(
        path=path,
        file_name=path.name,
        user_id=user_id,
        system=system,
        label=label,
        effective_from=effective_from,
        effective_to=effective_to,
        queue=False,
    )
    release_import(release_id=release.id)
    release.refresh_from_db()
    if release.state == Release.State.FAILED:
        raise ImportFormatError(release.error)
    if activate:
        release = release_activate(
            release_id=release.id,
            user_id=user_id,
            effective_from=release.effective_from or timezone.localdate(),
            effective_to=release.effective_to,
        )
    return release


def suggestion_accept(
    *, query: str, system: str, code: str
) -> AcceptedSuggestion | None:
    """Count that a coder took ``code`` from the suggestions for the words ``query``
    (the coding form's code box, the encoder): the code search ranks the codes this
    site's coders take for a query higher the next time (search.PRIOR_SQL). A query
    typed as a code, an unknown code or system is not counted (None)."""
    from codesets.search import looks_like_code

    key = normalized_query(query)
    code = normalize_code(code)
    if (
        not key
        or looks_like_code(query)
        or system not in System.values
        or not Code.objects.filter(system=system, code=code).exists()
    ):
        return None
    with transaction.atomic():
        row, _ = AcceptedSuggestion.objects.select_for_update().get_or_create(
            query=key, system=system, code=code
        )
        row.count = models.F("count") + 1
        row.last_accepted_at = timezone.now()
        row.save(update_fields=["count", "last_accepted_at"])
    row.refresh_from_db(fields=["count"])
    return row


# --- IPPS payment rates of a facility ----------------------------------------------
# What the rule fixes when a hospital states no figure of its own (docs/payment.md):
# the labor-related share of the operating standardized amount is 67.6% (FY2025 and
# FY2026 IPPS final rules), or 62% for a hospital whose wage index is 1.0 or less
# (Social Security Act 1886(d)(3)(E)(ii)); the capital GAF is the wage index raised
# to the 0.6848 power (42 CFR 412.316(a)); a wage index of 1.0 is the national one.
LABOR_SHARE = Decimal("0.6760")
LABOR_SHARE_LOW_WAGE_INDEX = Decimal("0.6200")
GAF_EXPONENT = Decimal("0.6848")
FOUR_PLACES = Decimal("0.0001")


def default_labor_share(wage_index: Decimal) -> Decimal:
    return LABOR_SHARE if wage_index > 1 else LABOR_SHARE_LOW_WAGE_INDEX


def default_gaf(wage_index: Decimal) -> Decimal:
    return (wage_index**GAF_EXPONENT).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RateSet:
    """What ``payment_rate_set`` stored, and which figures were the rule's defaults."""

    rate: PaymentRate
    created: bool
    changed: bool
    defaulted: tuple[str, ...]


@transaction.atomic
def payment_rate_set(
    *,
    facility: str,
    fiscal_year: int,
    operating: Decimal,
    capital: Decimal,
    wage_index: Decimal | None = None,
    labor_share: Decimal | None = None,
    gaf: Decimal | None = None,
    user: User | None = None,
    via: str = "command",
    note: str = "",
) -> RateSet:
    """Create or replace a facility's rates for a fiscal year (the whole set: a
    figure not given takes the rule's default, never the previous value), and
    record the change. Raises ValidationError naming the field for a bad figure."""
    facility = facility.strip()
    if not 2000 <= fiscal_year <= 2100:
        raise ValidationError({"fiscal_year": ["A fiscal year such as 2026."]})
    for field, ok, message in (
        ("operating", operating > 0, "The operating amount must be above 0."),
        ("capital", capital >= 0, "The capital rate must be 0 or more."),
        ("wage_index", wage_index is None or wage_index > 0, "Must be above 0."),
        ("gaf", gaf is None or gaf > 0, "Must be above 0."),
        (
            "labor_share",
            labor_share is None or 0 < labor_share <= 1,
            "The labor share is a fraction: above 0, at most 1 (0.676, not 67.6).",
        ),
    ):
        if not ok:
            raise ValidationError({field: [message]})
    defaulted = [
        name
        for name, value in (
            ("wage_index", wage_index),
            ("labor_share", labor_share),
            ("gaf", gaf),
        )
        if value is None
    ]
    if wage_index is None:
        wage_index = Decimal("1.0000")
    if labor_share is None:
        labor_share = default_labor_share(wage_index)
    if gaf is None:
        gaf = default_gaf(wage_index)
    rate = PaymentRate.objects.select_for_update().for_stay(facility, fiscal_year)
    current = rate.first()
    before = current.values() if current is not None else {}
    row = current or PaymentRate(facility=facility, fiscal_year=fiscal_year)
    row.operating, row.capital = operating, capital
    row.wage_index, row.labor_share, row.gaf = wage_index, labor_share, gaf
    row.updated_by = user
    row.updated_at = timezone.now()
    row.full_clean(validate_unique=current is None, validate_constraints=False)
    row.save()
    row.refresh_from_db()  # the figures as stored (6952.5 -> 6952.50)
    after = row.values()
    changed = before != after
    if changed:
        PaymentRateChange.objects.create(
            rate=row,
            changed_by=user,
            before=before,
            after=after,
            via=via,
            note=note[:300]
            or (f"defaults: {', '.join(defaulted)}" if defaulted else ""),
        )
    _payment_rates_changed()
    return RateSet(
        rate=row, created=current is None, changed=changed, defaulted=tuple(defaulted)
    )


def _payment_rates_changed() -> None:
    from codesets.selectors import payment_rate_cache_clear

    # This process sees the change at once (now, and again once committed, in case
    # a read in between cached the old figures); the others within PAYMENT_RATE_TTL.
    payment_rate_cache_clear()
    transaction.on_commit(payment_rate_cache_clear)
