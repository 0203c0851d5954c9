"""Reads of the code sets: releases, what a release contains, what changed."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import TypedDict

from django.db import connection
from django.db.models import F, Func, Q, QuerySet, TextField, Value

from codesets.models import (
    RELEASE_KINDS,
    TABLE_VARIANTS,
    Code,
    DrgWeight,
    IndexTerm,
    MueEdit,
    PaymentRate,
    PcsDefinition,
    PcsIndexTerm,
    PoaExemptCode,
    PtpEdit,
    Release,
    System,
    Table,
    display_code,
    normalize_code,
)
from codesets.query_words import WORD, query_words


def release_list() -> QuerySet[Release]:
    return Release.objects.select_related(
        "imported_by", "activated_by", "base_release"
    ).order_by("system", "-effective_from", "-created_at")


# The releases in force (active or retired, every system), read once for the block of
# ``releases_memo``: a save of the coding form asks which release judges a date four
# times (which systems are loaded, the ICD-10-CM release, the live checks' releases,
# the Table 5), one small table read each time otherwise.
_in_force_memo: ContextVar[list[Release] | None] = ContextVar(
    "releases_in_force_memo", default=None
)
_in_force_active: ContextVar[bool] = ContextVar("releases_memo_active", default=False)


@contextmanager
def releases_memo() -> Iterator[None]:
    """Within the block, the releases in force are read from the database once.
    For one request or one task: an activation that commits meanwhile is seen by the
    next block (never use it around long-running work)."""
    active = _in_force_active.set(True)
    rows = _in_force_memo.set(None)
    try:
        yield
    finally:
        _in_force_memo.reset(rows)
        _in_force_active.reset(active)


@lru_cache(maxsize=1)
def _in_force_sql() -> tuple[str, tuple]:
    """The SQL of the releases in force, compiled once: the read runs on every code
    search and every save, and compiling the queryset cost more than running it."""
    query = (
        Release.objects.in_force()
        .defer("error", "diff", "stated_counts", "warnings")
        .query
    )
    sql, params = query.sql_with_params()
    return sql, tuple(params)


def releases_in_force() -> list[Release]:
    """Every release in force (active or retired), in the model's order (system, then
    newest first); one query, or none inside ``releases_memo`` after the first."""
    rows = _in_force_memo.get()
    if rows is None:
        sql, params = _in_force_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            names = [column.name for column in cursor.description]
            rows = [
                Release.from_db(connection.alias, names, values)
                for values in cursor.fetchall()
            ]
        if _in_force_active.get():
            _in_force_memo.set(rows)
    return rows


def release_in_force(*, system: str, day: dt.date) -> Release | None:
    return next(
        (r for r in releases_in_force() if r.system == system and r.covers(day)), None
    )


@dataclass(frozen=True)
class DayOfService:
    """The date of service a lookup page starts on, and why it is not today."""

    day: dt.date
    note: str = ""


def day_of_service_default(*, systems: Iterable[str], today: dt.date) -> DayOfService:
    """Today, unless a loaded code system among ``systems`` has no release covering
    today (ICD-10-PCS stops at 2026-09-30 until the FY2027 files are imported): then
    the latest date those systems' releases cover, so that their codes exist on the
    page's date, with a note saying so."""
    in_force = releases_in_force()
    labels, ends = [], []
    for system in systems:
        mine = [r for r in in_force if r.system == system]
        if not mine or any(r.covers(today) for r in mine):
            continue
        ended = [
            r.effective_to for r in mine if r.effective_to and r.effective_to < today
        ]
        if ended:  # none: every release starts after today, nothing earlier to offer
            labels.append(System(system).label)
            ends.append(max(ended))
    if not ends:
        return DayOfService(today)
    day = min(ends)
    return DayOfService(
        day,
        f"No {' or '.join(labels)} release covers today ({today:%Y-%m-%d}): the date "
        f"of service is set to {day:%Y-%m-%d}, the latest date "
        f"{'they cover' if len(labels) > 1 else 'it covers'}. Change it to look up "
        "another date.",
    )


def coverage_on(day: dt.date) -> list[tuple[str, Release | None]]:
    """For each code system and table: the release judging ``day``, or None. A table
    published in variants (practitioner / hospital PTP edits) has a line per variant;
    the ICD-10-CM index tables help search but judge nothing, and are left out."""
    in_force = {(r.system, r.variant): r for r in Release.objects.on(day)}
    lines: list[tuple[str, Release | None]] = []
    for value, label in RELEASE_KINDS:
        if value in (
            Table.ICD10CM_INDEX,
            Table.ICD10PCS_INDEX,
            Table.ICD10PCS_DEFINITIONS,
        ):
            continue
        variants = TABLE_VARIANTS.get(value, {"": ""})
        lines.extend(
            (f"{label}, {name}" if name else label, in_force.get((value, variant)))
            for variant, name in variants.items()
        )
    return lines


def _joined(field: str) -> Func:
    return Func(
        F(field), Value(" "), function="array_to_string", output_field=TextField()
    )


CODE_ON_SQL = """
SELECT c.* FROM codesets_code c
WHERE c.system = %(system)s AND c.code = %(code)s
  AND c.release_ids @> ARRAY[(
      SELECT r.id FROM codesets_release r
      WHERE r.system = %(system)s AND r.state IN ('active', 'retired')
        AND r.effective_from <= %(day)s AND (r.effective_to IS NULL OR r.effective_to >= %(day)s)
      LIMIT 1)]
  AND (c.valid_from IS NULL OR c.valid_from <= %(day)s)
  AND (c.valid_to IS NULL OR c.valid_to >= %(day)s)
"""


def code_on(*, system: str, code: str, day: dt.date) -> Code | None:
    """The code as the release in force on ``day`` has it (None if it has none, or
    if the code's own dates exclude the day: a HCPCS code terminated 2019-12-31 is
    not valid on 2020-01-01 although the 2020 file still lists it).

    One query, on two indexes: the release covering the day, and the code's rows
    (system, code) narrowed to that release's membership.
    """
    found = list(
        Code.objects.raw(CODE_ON_SQL, {"system": system, "code": code, "day": day})
    )
    return found[0] if found else None


@dataclass(frozen=True)
class DiffRow:
    code: str
    display: str
    old_title: str
    new_title: str
    old_billable: bool | None
    new_billable: bool | None
    changes: tuple[
        str, ...
    ]  # of "added", "deleted", "revised", "billable_changed", "moved", "dates_changed"
    kind: str = "code"  # Code.kind: a HCPCS "modifier" is neither billable nor a header

    @property
    def old_badge(self) -> str:
        return self._badge(self.old_billable)

    @property
    def new_badge(self) -> str:
        return self._badge(self.new_billable)

    def _badge(self, billable: bool | None) -> str:
        if self.kind == "modifier":
            return "modifier"
        return "billable" if billable else "header"


# Codes with their own validity dates (HCPCS, some CPT files) are compared as valid on
# one day, the new release's first day: a HCPCS file keeps discontinued codes for four
# years, and "deleted" must mean "no longer valid from this release on", as in CMS's
# change report. Rows without dates (ICD-10) pass the date test unchanged.
DIFF_SQL = """
WITH a AS (
    SELECT id, code, billable, long_title, short_title, parent, kind, valid_from, valid_to
    FROM codesets_code
    WHERE system = %(system)s AND release_ids @> ARRAY[%(base)s::bigint] AND kind NOT IN ('chapter', 'block')
      AND (%(day)s::date IS NULL OR ((valid_from IS NULL OR valid_from <= %(day)s::date)
                                     AND (valid_to IS NULL OR valid_to >= %(day)s::date)))
), b AS (
    SELECT id, code, billable, long_title, short_title, parent, kind, valid_from, valid_to
    FROM codesets_code
    WHERE system = %(system)s AND release_ids @> ARRAY[%(release)s::bigint] AND kind NOT IN ('chapter', 'block')
      AND (%(day)s::date IS NULL OR ((valid_from IS NULL OR valid_from <= %(day)s::date)
                                     AND (valid_to IS NULL OR valid_to >= %(day)s::date)))
)
SELECT coalesce(a.code, b.code) AS code, a.long_title, b.long_title, a.billable, b.billable,
       a.short_title, b.short_title, a.parent, b.parent, a.id IS NULL, b.id IS NULL,
       a.valid_from IS DISTINCT FROM b.valid_from OR a.valid_to IS DISTINCT FROM b.valid_to,
       coalesce(b.kind, a.kind)
FROM a FULL OUTER JOIN b ON a.code = b.code
WHERE a.id IS DISTINCT FROM b.id
ORDER BY 1
"""


def release_diff_rows(*, release: Release, base: Release) -> list[DiffRow]:
    """Every code whose row differs between ``base`` and ``release``, classified."""
    with connection.cursor() as cursor:
        cursor.execute(
            DIFF_SQL,
            {
                "system": release.system,
                "base": base.id,
                "release": release.id,
                "day": release.effective_from,
            },
        )
        rows = cursor.fetchall()
    out = []
    for (
        code,
        old_title,
        new_title,
        old_bill,
        new_bill,
        old_short,
        new_short,
        old_parent,
        new_parent,
        added,
        deleted,
        dates_changed,
        kind,
    ) in rows:
        if added:
            changes: tuple[str, ...] = ("added",)
        elif deleted:
            changes = ("deleted",)
        else:
            found = []
            if old_title != new_title or old_short != new_short:
                found.append("revised")
            if old_bill != new_bill:
                found.append("billable_changed")
            if not found and old_parent != new_parent:
                found.append("moved")
            if dates_changed:
                found.append("dates_changed")
            changes = tuple(found) or ("moved",)
        out.append(
            DiffRow(
                code=code,
                display=display_code(release.system, code),
                old_title=old_title or "",
                new_title=new_title or "",
                old_billable=old_bill,
                new_billable=new_bill,
                changes=changes,
                kind=kind,
            )
        )
    return out


def release_diff_page(
    *, release: Release, change: str, query: str = "", offset: int = 0, limit: int = 100
) -> tuple[list[DiffRow], int]:
    """One page of one kind of change, filtered by code or title words."""
    needle = query.strip().lower()
    plain = needle.replace(".", "").upper()
    if release.base_release is None:
        # A first release: every code is "added". Filter and page in the database
        # rather than build ~100k rows to show 100.
        if change != "added":
            return [], 0
        codes = Code.objects.filter(
            system=release.system, release_ids__contains=[release.id]
        ).exclude(kind__in=["chapter", "block"])
        if needle:
            codes = codes.filter(
                Q(code__startswith=plain) | Q(long_title__icontains=needle)
            )
        page = [
            DiffRow(
                code=c.code,
                display=c.display,
                old_title="",
                new_title=c.long_title,
                old_billable=None,
                new_billable=c.billable,
                changes=("added",),
                kind=c.kind,
            )
            for c in codes.order_by("code")[offset : offset + limit]
        ]
        return page, codes.count()
    rows = [
        r
        for r in release_diff_rows(release=release, base=release.base_release)
        if change in r.changes
    ]
    if needle:
        rows = [
            r
            for r in rows
            if r.code.startswith(plain)
            or needle in r.old_title.lower()
            or needle in r.new_title.lower()
        ]
    return rows[offset : offset + limit], len(rows)


def modifier_list(*, system: str = System.HCPCS, day: dt.date) -> list[Code]:
    """The modifiers valid on ``day`` in the release in force, by modifier: a list of
    their own, never offered as a claim line's code (code search leaves them out)."""
    release = release_in_force(system=system, day=day)
    if release is None:
        return []
    rows = Code.objects.filter(
        system=system, kind=Code.Kind.MODIFIER, release_ids__contains=[release.id]
    ).order_by("code")
    return [row for row in rows if row.in_validity_range(day)]


def modifier_search(*, query: str, day: dt.date, limit: int = 10) -> list[Code]:
    """Modifiers valid on ``day`` for the encoder: the modifier typed ("lt"), then
    those whose title has every word as the start of one of its words ("left"),
    the shortest title first, short descriptions where the file has them ("Left
    side" before "Left hand, thumb": LT's long title is a sentence)."""
    words = query_words(query)
    if not words:
        return []
    typed = query.strip().upper()
    exact, by_title = [], []
    for modifier in modifier_list(day=day):
        title = WORD.findall(modifier.long_title.lower())
        if modifier.code == typed:
            exact.append(modifier)
        elif all(any(t.startswith(w) for t in title) for w in words):
            by_title.append(modifier)
    by_title.sort(key=lambda m: (len(m.short_title or m.long_title), m.code))
    return (exact + by_title)[:limit]


def modifier_on(
    *, modifier: str, day: dt.date, system: str = System.HCPCS
) -> Code | None:
    """The modifier if it is valid on ``day`` (release in force and its own dates)."""
    found = code_on(system=system, code=modifier.strip().upper(), day=day)
    return found if found is not None and found.kind == Code.Kind.MODIFIER else None


# Table 5 rows of an active or retired release never change (a release is
# imported whole before it can be activated), so each process keeps the ones it
# has read: the live DRG on the coding form and the audit job look a weight up
# for every grouping. Keyed by release id; a new release is a new key.
_DRG_WEIGHTS: dict[int, dict[int, DrgWeight]] = {}
# Which Table 5 judges a discharge date is read again after this many seconds: an
# activation reaches every process within a minute, and a busy audit job does not
# ask the database once per encounter.
DRG_RELEASE_TTL = 60.0
# day -> ((release id, label) or None, expiry)
_DRG_RELEASE_ON: dict[dt.date, tuple[tuple[int, str] | None, float]] = {}


def drg_weight_cache_clear() -> None:
    """Forget what this process has read of Table 5 (tests; after a discard)."""
    _DRG_WEIGHTS.clear()
    _DRG_RELEASE_ON.clear()


def drg_weights_release_on(day: dt.date) -> tuple[int, str] | None:
    """(id, label) of the Table 5 release in force on ``day``, or None; read from
    the database at most once a minute per day and process (DRG_RELEASE_TTL)."""
    now = time.monotonic()
    cached = _DRG_RELEASE_ON.get(day)
    if cached is not None and cached[1] > now:
        return cached[0]
    row = (
        Release.objects.covering(Table.DRG_WEIGHTS, day)
        .values_list("id", "label")
        .first()
    )
    if len(_DRG_RELEASE_ON) > 5000:
        _DRG_RELEASE_ON.clear()
    _DRG_RELEASE_ON[day] = (row, now + DRG_RELEASE_TTL)
    return row


def drg_weight_on(*, drg: int, day: dt.date) -> DrgWeight | None:
    """The MS-DRG's weight and mean lengths of stay from the Table 5 in force on ``day``
    (the discharge date)."""
    table = drg_weight_table_on(day)
    return None if table is None else table.get(drg)


def drg_weight_table_on(day: dt.date) -> Mapping[int, DrgWeight] | None:
    """Every row of the Table 5 in force on ``day``, by MS-DRG number; read once per
    release and process. The same mapping object comes back until the release in
    force changes (or the cache is cleared): callers may key what they derive from
    it (the what-if's DRG families) on its identity. Read-only."""
    release = drg_weights_release_on(day)
    if release is None:
        return None
    release_id = release[0]
    table = _DRG_WEIGHTS.get(release_id)
    if table is None:
        table = {
            w.drg: w
            for w in DrgWeight.objects.filter(release_id=release_id).select_related(
                "release"
            )
        }
        if len(_DRG_WEIGHTS) >= 8:
            _DRG_WEIGHTS.clear()
        _DRG_WEIGHTS[release_id] = table
    return table


# A facility's rates, read on every live DRG of the coding form: each process keeps
# what it read for PAYMENT_RATE_TTL seconds (a change made elsewhere shows within
# that time; the process that made it clears its own copy at once), so a save costs
# no query for them most of the time and one small indexed one otherwise.
PAYMENT_RATE_TTL = 30.0
# (facility, fiscal year) -> (rates or None, expiry)
_PAYMENT_RATES: dict[tuple[str, int], tuple[PaymentRate | None, float]] = {}


def payment_rate_cache_clear() -> None:
    _PAYMENT_RATES.clear()


def payment_rate_for(*, facility: str, fiscal_year: int) -> PaymentRate | None:
    """The facility's IPPS rates for the fiscal year, or None when none are set."""
    key = (facility, fiscal_year)
    now = time.monotonic()
    cached = _PAYMENT_RATES.get(key)
    if cached is not None and cached[1] > now:
        return cached[0]
    rate = PaymentRate.objects.for_stay(facility, fiscal_year).first()
    if len(_PAYMENT_RATES) > 5000:
        _PAYMENT_RATES.clear()
    _PAYMENT_RATES[key] = (rate, now + PAYMENT_RATE_TTL)
    return rate


def stay_pricing_prime(stays: Iterable[tuple[str, dt.date]]) -> None:
    """Fill the caches ``drg_weights_release_on`` and ``payment_rate_for`` read, for
    many (facility, discharge date) pairs at once: two queries for a page of
    encounters instead of up to two per encounter (the billing feed)."""
    now = time.monotonic()
    stays = list(stays)
    days = {
        day
        for _, day in stays
        if (cached := _DRG_RELEASE_ON.get(day)) is None or cached[1] <= now
    }
    if days:
        releases = list(
            Release.objects.in_force()
            .filter(system=Table.DRG_WEIGHTS, effective_from__lte=max(days))
            .filter(Q(effective_to__isnull=True) | Q(effective_to__gte=min(days)))
            .values_list("id", "label", "effective_from", "effective_to")
        )
        for day in days:
            row = next(
                (
                    (release_id, label)
                    for release_id, label, start, end in releases
                    if start is not None
                    and start <= day
                    and (end is None or end >= day)
                ),
                None,
            )
            _DRG_RELEASE_ON[day] = (row, now + DRG_RELEASE_TTL)
    keys = {
        (facility, day.year + (day.month >= 10))
        for facility, day in stays
        if (hit := _PAYMENT_RATES.get((facility, day.year + (day.month >= 10)))) is None
        or hit[1] <= now
    }
    if keys:
        found = {
            (rate.facility, rate.fiscal_year): rate
            for rate in PaymentRate.objects.filter(
                facility__in={f for f, _ in keys},
                fiscal_year__in={y for _, y in keys},
            )
        }
        for key in keys:
            _PAYMENT_RATES[key] = (found.get(key), now + PAYMENT_RATE_TTL)


def payment_rate_list() -> QuerySet[PaymentRate]:
    return PaymentRate.objects.select_related("updated_by").prefetch_related(
        "changes__changed_by"
    )


def drg_weight_page(
    *, release: Release, query: str = "", offset: int = 0, limit: int = 100
) -> tuple[list[DrgWeight], int]:
    rows = DrgWeight.objects.filter(release=release)
    query = query.strip()
    if query.isdigit():
        rows = rows.filter(drg=int(query))
    elif query:
        for word in query.split():
            rows = rows.filter(title__icontains=word)
    return list(rows[offset : offset + limit]), rows.count()


@dataclass(frozen=True)
class CodeVerdict:
    """What the release in force on a date of service says of one entered code."""

    system: str
    code: str  # normalised, as stored
    display: str
    exists: bool  # in some loaded release of the system
    valid: bool  # billable in the release in force on the date
    billable: bool
    title: str
    message: str  # empty when valid; otherwise what a coder needs to fix


def codes_check(
    *, system: str, codes: list[str], day: dt.date
) -> dict[str, CodeVerdict]:
    """Check many codes of one system at once (two or three queries, whatever the
    number): used by the coding form on every edit and by the encounter API."""
    wanted = {normalize_code(c) for c in codes if c.strip()}
    label = System(system).label if system in System.values else system
    release = release_in_force(system=system, day=day)
    found: dict[str, Code] = {}
    if release is not None and wanted:
        found = {
            c.code: c
            for c in Code.objects.filter(
                system=system, code__in=wanted, release_ids__contains=[release.id]
            ).only(
                "code",
                "long_title",
                "billable",
                "system",
                "kind",
                "valid_from",
                "valid_to",
            )
        }
    elsewhere: dict[str, tuple[str, list[int]]] = {}
    missing = wanted - set(found)
    if missing:
        for code, title, release_ids in (
            Code.objects.filter(system=system, code__in=missing)
            .exclude(release_ids=[])
            .order_by("code", "-id")
            .values_list("code", "long_title", "release_ids")
        ):
            elsewhere.setdefault(code, (title, release_ids))
    starts: dict[int, dt.date | None] = {}
    if elsewhere:
        starts = dict(
            Release.objects.in_force()
            .filter(system=system)
            .values_list("id", "effective_from")
        )
    out: dict[str, CodeVerdict] = {}
    for code in wanted:
        shown = display_code(system, code)
        if code in found:
            row = found[code]
            message = (
                ""
                if row.billable
                else f"{shown} is a header, not a billable code: pick a more specific "
                "code below it."
            )
            if row.kind == Code.Kind.MODIFIER:
                message = f"{shown} is a modifier, not a procedure code."
            elif not row.in_validity_range(day):
                message = (
                    f"{shown} is not valid on {day:%Y-%m-%d}: its dates of service run "
                    f"{row.valid_from or '…'} to {row.valid_to or '…'}."
                )
            valid = row.billable and not message
            out[code] = CodeVerdict(
                system, code, shown, True, valid, row.billable, row.long_title, message
            )
            continue
        if code not in elsewhere:
            message = f"{shown} is not an {label} code in any loaded release."
            if release is None:
                message = f"{shown} is not in any loaded {label} release."
            out[code] = CodeVerdict(
                system, code, shown, False, False, False, "", message
            )
            continue
        title, release_ids = elsewhere[code]
        if release is None:
            message = f"No {label} release covers {day:%Y-%m-%d}: {shown} cannot be checked for that date."
        else:
            dates = [start for r in release_ids if (start := starts.get(r))]
            if dates and min(dates) > day:
                message = f"{shown} is not valid until {min(dates):%Y-%m-%d}; {release.label} (in force on {day:%Y-%m-%d}) does not have it yet."
            else:
                message = f"{shown} is not valid on {day:%Y-%m-%d}: {release.label}, in force on that date, no longer has it (deleted)."
        out[code] = CodeVerdict(system, code, shown, True, False, False, title, message)
    return out


# --- edit tables: read by the audit rules ncci-ptp and mue-units (issue 7) -----------


class _ReleaseId(TypedDict):
    id: int


def _table_release_on(
    kind: str, variant: str, day: dt.date
) -> QuerySet[Release, _ReleaseId]:
    if variant not in TABLE_VARIANTS[kind]:
        raise ValueError(
            f"{variant!r} is not a variant of {kind}: use one of {', '.join(TABLE_VARIANTS[kind])}."
        )
    return Release.objects.covering(kind, day).filter(variant=variant).values("id")


def ptp_pairs_on(
    *, codes: Iterable[str], day: dt.date, variant: str
) -> QuerySet[PtpEdit]:
    """The NCCI PTP edits between any two of ``codes`` (procedures billed on one date of
    service) that apply on ``day``, from the PTP release of ``variant`` ("practitioner"
    or "hospital") in force that day. One query on the index (release, column 1,
    column 2).

    An edit applies from its effective date up to the day *before* its deletion date:
    CMS deletes an edit "back to its start" with a deletion date equal to the
    effective date (it never applied), and replaces an edit by deleting it on the
    day its successor takes effect (97110/97530 in tests/fixtures/ncci)."""
    wanted = sorted({normalize_code(c) for c in codes if c.strip()})
    return (
        PtpEdit.objects.filter(
            release__in=_table_release_on(Table.NCCI_PTP, variant, day),
            column1__in=wanted,
            column2__in=wanted,
            effective__lte=day,
        )
        .filter(Q(deletion__isnull=True) | Q(deletion__gt=day))
        .order_by("column1", "column2")
    )


def mue_on(*, code: str, day: dt.date, variant: str) -> MueEdit | None:
    """The MUE of ``code`` in the MUE table of ``variant`` ("practitioner",
    "facility" or "dme") in force on ``day``; None when the table has no MUE for it
    or no table covers the day."""
    return MueEdit.objects.filter(
        release__in=_table_release_on(Table.MUE, variant, day),
        code=normalize_code(code),
    ).first()


def mues_on(*, codes: Iterable[str], day: dt.date, variant: str) -> dict[str, MueEdit]:
    """``mue_on`` for many codes at once (one query): code -> its MUE."""
    wanted = sorted({normalize_code(c) for c in codes if c.strip()})
    out: dict[str, MueEdit] = {}
    for row in MueEdit.objects.filter(
        release__in=_table_release_on(Table.MUE, variant, day), code__in=wanted
    ).order_by("code", "id"):
        out.setdefault(row.code, row)
    return out


def table_rows_page(
    *, release: Release, query: str = "", offset: int = 0, limit: int = 100
) -> tuple[list, int]:
    """One page of a table release's rows, filtered by code (or words, where the
    table has words): the release page of DRG weights, PTP edits, MUEs, index terms."""
    if release.system == Table.DRG_WEIGHTS:
        return drg_weight_page(release=release, query=query, offset=offset, limit=limit)
    query = query.strip()
    plain = normalize_code(query)
    rows: QuerySet
    if release.system == Table.NCCI_PTP:
        rows = PtpEdit.objects.filter(release=release)
        if len(plain) == 5:
            rows = rows.filter(Q(column1=plain) | Q(column2=plain))
        elif plain:
            rows = rows.filter(
                Q(column1__startswith=plain) | Q(column2__startswith=plain)
            )
    elif release.system == Table.MUE:
        rows = MueEdit.objects.filter(release=release)
        if plain:
            rows = rows.filter(code__startswith=plain)
    elif release.system == Table.POA_EXEMPT:
        rows = PoaExemptCode.objects.filter(release=release)
        if query and any(ch.isdigit() for ch in query) and " " not in query:
            rows = rows.filter(code__startswith=plain)
        else:
            for word in query.split():
                rows = rows.filter(title__icontains=word)
    elif release.system == Table.ICD10CM_INDEX:
        rows = IndexTerm.objects.filter(release=release)
        if query and any(ch.isdigit() for ch in query) and " " not in query:
            rows = rows.filter(code__startswith=plain)
        else:
            for word in query.split():
                rows = rows.filter(path__icontains=word)
    elif release.system == Table.ICD10PCS_INDEX:
        rows = PcsIndexTerm.objects.filter(release=release)
        if query and any(ch.isdigit() for ch in query) and " " not in query:
            rows = rows.filter(code__startswith=plain)
        else:
            for word in query.split():
                rows = rows.filter(
                    Q(path__icontains=word)
                    | Q(see__icontains=word)
                    | Q(use__icontains=word)
                )
    elif release.system == Table.ICD10PCS_DEFINITIONS:
        # Titles and keys are arrays: their text joined is what the admin reads.
        rows = PcsDefinition.objects.filter(release=release).annotate(
            title_text=_joined("titles"), key_text=_joined("includes")
        )
        for word in query.split():
            rows = rows.filter(
                Q(title_text__icontains=word)
                | Q(key_text__icontains=word)
                | Q(definition__icontains=word)
            )
    else:
        raise ValueError(f"{release.system} is not a table")
    total = release.code_count if not query else rows.count()
    return list(rows[offset : offset + limit]), total


@dataclass(frozen=True)
class PoaExemptList:
    """The POA-exempt list judging a discharge date, with the asked codes it holds."""

    release_id: int
    label: str
    # False: no list covers the day; the newest list that started before it stands
    # in (the audit says so in its reference).
    covers: bool
    exempt: frozenset[str]  # undotted


POA_EXEMPT_SQL = """
WITH days(day) AS (SELECT DISTINCT unnest(%(days)s::date[])),
pick AS MATERIALIZED (
    SELECT d.day, r.id, r.label,
           (r.effective_to IS NULL OR r.effective_to >= d.day) AS covers
    FROM days d
    JOIN LATERAL (
        SELECT id, label, effective_to FROM codesets_release
        WHERE system = %(system)s AND state IN ('active', 'retired')
          AND effective_from <= d.day
        ORDER BY (effective_to IS NULL OR effective_to >= d.day) DESC,
                 effective_from DESC
        LIMIT 1
    ) r ON true
)
SELECT day, id, label, covers, NULL FROM pick
UNION ALL
SELECT NULL, e.release_id, NULL, NULL, e.code
FROM codesets_poaexemptcode e
WHERE e.release_id IN (SELECT id FROM pick WHERE id <> ALL(%(cached)s::bigint[]))
"""
# The codes of each POA-exempt release this process has read. A release's rows never
# change once imported (like the code sets in encounters/audit/knowledge.py), so a
# list is read once per process, whole (38,154 codes for FY2025, ~3 MB), in the
# same query as the first dates it judges; after that the query returns only which
# list judges each date. A new release is a new key.
_POA_LISTS: dict[int, frozenset[str]] = {}
_POA_LISTS_KEPT = 6


def poa_exempt_cache_clear() -> None:
    """Forget the POA-exempt lists this process has read (tests; after a discard)."""
    _POA_LISTS.clear()


def poa_exempt_by_day(
    *, codes_by_day: dict[dt.date, set[str]]
) -> dict[dt.date, PoaExemptList | None]:
    """For each discharge date, the POA-exempt list that judges it and which of that
    date's codes (any form) it lists; None for a date no list judges. One query for
    all the dates (the audit asks once per chunk of encounters): a row per date with
    its list, and the codes of any list this process has not read yet.

    The list judging a date is the release in force on it; when none covers it, the
    newest release in force that started before it stands in (``covers`` False: CMS
    changes a few dozen codes a year, a closer guess than none). A date before every
    loaded list, or no list loaded at all, gets None."""
    if not codes_by_day:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            POA_EXEMPT_SQL,
            {
                "days": list(codes_by_day),
                "cached": list(_POA_LISTS),
                "system": Table.POA_EXEMPT,
            },
        )
        rows = cursor.fetchall()
    read: dict[int, set[str]] = {}
    picks = []
    for day, release_id, label, covers, code in rows:
        if day is None:
            read.setdefault(release_id, set()).add(code)
        else:
            picks.append((day, release_id, label, covers))
    if read and len(_POA_LISTS) + len(read) > _POA_LISTS_KEPT:
        in_use = {pick[1] for pick in picks}
        for release_id in [r for r in _POA_LISTS if r not in in_use]:
            del _POA_LISTS[release_id]
    for release_id, codes in read.items():
        _POA_LISTS[release_id] = frozenset(codes)
    out: dict[dt.date, PoaExemptList | None] = dict.fromkeys(codes_by_day)
    for day, release_id, label, covers in picks:
        listed = _POA_LISTS.get(release_id, frozenset())
        out[day] = PoaExemptList(
            release_id=release_id,
            label=label,
            covers=covers,
            exempt=frozenset(
                code
                for code in map(normalize_code, codes_by_day[day])
                if code in listed
            ),
        )
    return out


def poa_exempt_on(*, codes: Iterable[str], day: dt.date) -> PoaExemptList | None:
    """Which of ``codes`` are exempt from POA reporting on the discharge date ``day``
    (``poa_exempt_by_day`` for one date: one query)."""
    return poa_exempt_by_day(codes_by_day={day: set(codes)})[day]
