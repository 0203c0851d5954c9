"""Reads of the code sets: releases, what a release contains, what changed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from codesets.models import RELEASE_KINDS, Code, DrgWeight, Release, Table, display_code


def release_list() -> QuerySet[Release]:
    return Release.objects.select_related(
        "imported_by", "activated_by", "base_release"
    ).order_by("system", "-effective_from", "-created_at")


def release_in_force(*, system: str, day: dt.date) -> Release | None:
    return Release.objects.covering(system, day).first()


def coverage_on(day: dt.date) -> list[tuple[str, Release | None]]:
    """For each code system: the release judging ``day``, or None."""
    in_force = {r.system: r for r in Release.objects.on(day)}
    return [(label, in_force.get(value)) for value, label in RELEASE_KINDS]


CODE_ON_SQL = """
SELECT c.* FROM codesets_code c
WHERE c.system = %(system)s AND c.code = %(code)s
  AND c.release_ids @> ARRAY[(
      SELECT r.id FROM codesets_release r
      WHERE r.system = %(system)s AND r.state IN ('active', 'retired')
        AND r.effective_from <= %(day)s AND (r.effective_to IS NULL OR r.effective_to >= %(day)s)
      LIMIT 1)]
"""


def code_on(*, system: str, code: str, day: dt.date) -> Code | None:
    """The code as the release in force on ``day`` has it (None if it has none).

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
    ]  # of "added", "deleted", "revised", "billable_changed", "moved"


DIFF_SQL = """
WITH a AS (
    SELECT id, code, billable, long_title, short_title, parent, kind FROM codesets_code
    WHERE system = %(system)s AND release_ids @> ARRAY[%(base)s::bigint] AND kind NOT IN ('chapter', 'block')
), b AS (
    SELECT id, code, billable, long_title, short_title, parent, kind FROM codesets_code
    WHERE system = %(system)s AND release_ids @> ARRAY[%(release)s::bigint] AND kind NOT IN ('chapter', 'block')
)
SELECT coalesce(a.code, b.code) AS code, a.long_title, b.long_title, a.billable, b.billable,
       a.short_title, b.short_title, a.parent, b.parent, a.id IS NULL, b.id IS NULL
FROM a FULL OUTER JOIN b ON a.code = b.code
WHERE a.id IS DISTINCT FROM b.id
ORDER BY 1
"""


def release_diff_rows(*, release: Release, base: Release) -> list[DiffRow]:
    """Every code whose row differs between ``base`` and ``release``, classified."""
    with connection.cursor() as cursor:
        cursor.execute(
            DIFF_SQL, {"system": release.system, "base": base.id, "release": release.id}
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


def drg_weight_on(*, drg: int, day: dt.date) -> DrgWeight | None:
    """The MS-DRG's weight and mean lengths of stay from the Table 5 in force on ``day``
    (the discharge date)."""
    return (
        DrgWeight.objects.filter(
            drg=drg, release__in=Release.objects.covering(Table.DRG_WEIGHTS, day)
        )
        .select_related("release")
        .first()
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
