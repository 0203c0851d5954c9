"""One SQL aggregate per report: the number of queries a report makes does not
grow with the number of encounters (tests/encounters/test_reports.py counts them).

Every report takes the same ``ReportFilters`` (date range, facility, coder,
encounter type) and returns a ``Report``: the main table (columns and rows, the
CSV export and the API's ``rows``), an optional ``total`` row, the chart's data and
further tables (``sections``) such as the oldest cases or the top DRGs.

What the date range means differs by report, and each report says so in
``Report.basis``: the day of the submit (productivity), the discharge or service
date (backlog, case mix), the day of the audit at submit (accuracy), the day a
finding was raised or a DRG shifted (audit impact).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from encounters.models import Encounter

Z95 = 1.96  # the 95% two-sided normal quantile
ENCOUNTER_TYPES = [value for value, _ in Encounter.Type.choices]
AGE_BUCKETS: list[tuple[str, int, int | None]] = [
    ("0-3", 0, 3),
    ("4-7", 4, 7),
    ("8-14", 8, 14),
    ("15-30", 15, 30),
    (">30", 31, None),
]
OLDEST_SHOWN = 20
TOP_DRGS = 15
CHART_DAYS_MAX = 731  # the productivity chart's day axis: two years at most
PERIODS = ("week", "month")


@dataclass(frozen=True)
class ReportFilters:
    date_from: dt.date
    date_to: dt.date
    facility: str = ""
    coder_id: int | None = None
    type: str = ""
    precision: Decimal = Decimal("0.05")  # accuracy: the half-width wanted
    period: str = "month"  # audit impact: week or month
    today: dt.date | None = None  # backlog ages are counted to this day

    def day_of_age(self) -> dt.date:
        return self.today or timezone.localdate()

    def start(self) -> dt.datetime:
        """The first instant of ``date_from`` in the site's time zone."""
        return _aware(self.date_from)

    def end(self) -> dt.datetime:
        """The first instant after ``date_to``."""
        return _aware(self.date_to + dt.timedelta(days=1))


def _aware(day: dt.date) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(settings.TIME_ZONE))


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, int, number, percent, money, date, link


@dataclass
class Table:
    name: str  # the CSV's ?table= (the main table is "rows")
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: dict[str, Any] | None = None


@dataclass
class Chart:
    kind: str  # stacked-bars, lines, intervals
    title: str
    categories: list[str]
    series: list[tuple[str, list[float | None]]]
    # intervals: (low, high) per category, drawn as whiskers around the point
    bounds: list[tuple[float, float] | None] = field(default_factory=list)
    y_label: str = ""


@dataclass
class Report:
    name: str
    title: str
    basis: str  # what the date range selects
    table: Table
    chart: Chart
    sections: list[Table] = field(default_factory=list)

    def tables(self) -> dict[str, Table]:
        return {"rows": self.table, **{t.name: t for t in self.sections}}


def _where(
    filters: ReportFilters,
    *,
    coder_column: str = "e.assigned_to_id",
    type_column: str = "e.type",
    facility_clause: str = "e.facility = %s",
) -> tuple[str, list[Any]]:
    """The facility, coder and type filters, on the encounter ``e`` unless a report
    reads them elsewhere (productivity: the submit's history row ``c``)."""
    sql: list[str] = []
    params: list[Any] = []
    if filters.facility:
        sql.append(facility_clause)
        params.append(filters.facility)
    if filters.coder_id is not None:
        sql.append(f"{coder_column} = %s")
        params.append(filters.coder_id)
    if filters.type:
        sql.append(f"{type_column} = %s")
        params.append(filters.type)
    return "".join(f" AND {s}" for s in sql), params


def _rows(sql: str, params: Mapping[str, Any] | Sequence[Any]) -> list[dict[str, Any]]:
    # (No JIT: settings.DATABASES turns it off; this report's correlated subquery
    # would otherwise be compiled, ~150 ms, for a query of ~100 ms.)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _usernames(ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(User.objects.filter(id__in=wanted).values_list("id", "username"))


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: Any, places: int) -> float | None:
    return None if value is None else round(float(value), places)


# --- Productivity -------------------------------------------------------------

# The minutes of each submit: from the start of its pass of coding (the latest claim,
# reassignment or return before it), stored on the submit's history row when it was
# written (CodingChange.started_at); and the encounter's type, stored there too
# (CodingChange.encounter_type), so a year's submits are counted without reading the
# encounters (their join was a quarter of this report's time). Rows written before
# those columns existed find the start in the history and the type on the encounter,
# one index probe each (COALESCE evaluates the subquery only for them; no JIT, see
# _rows); the facility filter alone reads the encounters. The submits are read once
# (MATERIALIZED) and grouped three ways: counts per coder and type and per day and
# type by hashing, and the medians only where the report shows them, per coder and
# overall (the medians sort the minutes of each group: over a year ~80,000 of them,
# so no grouping set is sorted for a median nobody reads).
SUBMIT_TYPE_SQL = """coalesce(nullif(c.encounter_type, ''), (
    SELECT e.type FROM encounters_encounter e WHERE e.id = c.encounter_id
))"""

PRODUCTIVITY_SQL = """
WITH timed AS MATERIALIZED (
    SELECT c.changed_by_id AS coder_id, {type} AS type,
           (c.changed_at AT TIME ZONE %(tz)s)::date AS day,
           extract(epoch FROM c.changed_at - coalesce(c.started_at, (
               SELECT max(k.changed_at) FROM encounters_codingchange k
               WHERE k.encounter_id = c.encounter_id
                 AND k.action IN ('claimed', 'reassigned', 'returned')
                 AND k.changed_at <= c.changed_at
           )))::float8 / 60 AS minutes
    FROM encounters_codingchange c
    WHERE c.action = 'submitted' AND c.changed_at >= %(start)s
      AND c.changed_at < %(end)s {where}
)
SELECT coder_id, NULL::date AS day, type, count(*) AS coded,
       NULL::float8 AS median_minutes, 0 AS no_coder, 1 AS no_day, 0 AS no_type
FROM timed GROUP BY coder_id, type
UNION ALL
SELECT NULL, day, type, count(*), NULL, 1, 0, 0
FROM timed GROUP BY day, type
UNION ALL
SELECT coder_id, NULL, NULL, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes),
       GROUPING(coder_id), 1, 1
FROM timed GROUP BY GROUPING SETS ((coder_id), ())
"""


# The returns of the period with the coder of each encounter: an index probe per
# return (a few thousand a year; OFFSET 0 keeps the planner from hashing every
# encounter to join them, which cost ~50 ms at 100,000 encounters).
RETURNED_SQL = """
SELECT e.assigned_to_id AS coder_id, count(*) AS returned
FROM encounters_codingchange c
CROSS JOIN LATERAL (
    SELECT e.assigned_to_id FROM encounters_encounter e
    WHERE e.id = c.encounter_id {where}
    OFFSET 0
) e
WHERE c.action = 'returned' AND c.changed_at >= %(start)s AND c.changed_at < %(end)s
GROUP BY GROUPING SETS ((e.assigned_to_id), ())
"""


def productivity(filters: ReportFilters) -> Report:
    """Encounters submitted per coder (who pressed Submit), per day and type; the
    median minutes from the claim (or the return, for rework) to the submit; how
    many of the coder's encounters the audit or a supervisor sent back."""
    period = {"start": filters.start(), "end": filters.end()}
    # The submit's coder (who pressed Submit) and stored type; the facility is the
    # one filter that reads the encounters.
    where, named = _named(
        filters,
        {**period, "tz": settings.TIME_ZONE},
        coder_column="c.changed_by_id",
        type_column=SUBMIT_TYPE_SQL,
        facility_clause="c.encounter_id IN (SELECT e.id FROM encounters_encounter e"
        " WHERE e.facility = %s)",
    )
    rows = _rows(PRODUCTIVITY_SQL.format(where=where, type=SUBMIT_TYPE_SQL), named)
    r_where, r_named = _named(filters, period)
    returned = {
        r["coder_id"]: r["returned"]
        for r in _rows(RETURNED_SQL.format(where=r_where), r_named)
    }
    names = _usernames({r["coder_id"] for r in rows} | set(returned) - {None})
    per_coder: dict[int | None, dict[str, Any]] = {}
    daily: dict[tuple[dt.date, str], int] = {}
    total: dict[str, Any] = {"coder": "All coders", "coded": 0, "returned": 0}
    # Four groupings, told apart by the no_* flags: per coder and type, per coder
    # (with the median), per day and type, everything (with the median).
    for row in rows:
        if not row["no_coder"] and not row["no_type"]:
            line = per_coder.setdefault(row["coder_id"], {})
            line[row["type"]] = row["coded"]
        elif not row["no_coder"]:
            per_coder.setdefault(row["coder_id"], {}).update(
                coded=row["coded"],
                median_minutes=_round(row["median_minutes"], 1),
            )
        elif not row["no_day"]:
            daily[row["day"], row["type"]] = row["coded"]
        else:
            total.update(
                coded=row["coded"],
                median_minutes=_round(row["median_minutes"], 1),
            )
    for coder_id in returned:
        if coder_id is not None:
            per_coder.setdefault(coder_id, {})
    table_rows = []
    for coder_id, line in per_coder.items():
        table_rows.append(
            {
                "coder": names.get(coder_id, "(unknown)") if coder_id else "(none)",
                "coded": line.get("coded", 0),
                **{t: line.get(t, 0) for t in ENCOUNTER_TYPES},
                "median_minutes": line.get("median_minutes"),
                "returned": returned.get(coder_id, 0),
            }
        )
    table_rows.sort(key=lambda r: (-r["coded"], r["coder"]))
    total.update({t: sum(r[t] for r in table_rows) for t in ENCOUNTER_TYPES})
    total["returned"] = returned.get(None, 0)
    total.setdefault("median_minutes", None)
    days = sorted({day for day, _ in daily})
    # The chart's axis is time: every day of the period, those without a submit at
    # zero (a weekend is a gap in the work, not in the axis); the table lists the
    # days with submits. Past CHART_DAYS_MAX days (a range of years) the axis keeps
    # the days with submits only.
    span = (filters.date_to - filters.date_from).days + 1
    axis = (
        [filters.date_from + dt.timedelta(days=i) for i in range(span)]
        if 0 < span <= CHART_DAYS_MAX
        else days
    )
    day_rows = [
        {
            "day": day,
            **{t: daily.get((day, t), 0) for t in ENCOUNTER_TYPES},
            "total": sum(daily.get((day, t), 0) for t in ENCOUNTER_TYPES),
        }
        for day in days
    ]
    type_columns = [Column(t, Encounter.Type(t).label, "int") for t in ENCOUNTER_TYPES]
    return Report(
        name="productivity",
        title="Productivity",
        basis="Encounters submitted in the period (day of the submit).",
        table=Table(
            "rows",
            "Per coder",
            [
                Column("coder", "Coder"),
                Column("coded", "Submitted", "int"),
                *type_columns,
                Column("median_minutes", "Median minutes claim → submit", "number"),
                Column("returned", "Returned", "int"),
            ],
            table_rows,
            total,
        ),
        chart=Chart(
            "stacked-bars",
            "Submitted per day, by type",
            [d.isoformat() for d in axis],
            [
                (Encounter.Type(t).label, [float(daily.get((d, t), 0)) for d in axis])
                for t in ENCOUNTER_TYPES
            ],
            y_label="encounters",
        ),
        sections=[
            Table(
                "daily",
                "Per day",
                [
                    Column("day", "Day", "date"),
                    *type_columns,
                    Column("total", "Total", "int"),
                ],
                day_rows,
            )
        ],
    )


def _numbered(where: str, count: int) -> str:
    """``_where``'s positional %s as the %(pN)s a dict of parameters needs."""
    for i in range(count):
        where = where.replace("%s", f"%(p{i})s", 1)
    return where


def _named(
    filters: ReportFilters, extra: dict[str, Any], **columns: str
) -> tuple[str, dict[str, Any]]:
    """``_where`` (``columns`` as its keywords) with named parameters, ``extra``
    among them."""
    where, params = _where(filters, **columns)
    named = dict(extra)
    named.update({f"p{i}": p for i, p in enumerate(params)})
    return _numbered(where, len(params)), named


# --- Backlog (DNFB) -----------------------------------------------------------

BACKLOG_SQL = """
SELECT e.status,
       CASE WHEN age <= 3 THEN '0-3' WHEN age <= 7 THEN '4-7'
            WHEN age <= 14 THEN '8-14' WHEN age <= 30 THEN '15-30'
            ELSE '>30' END AS bucket,
       count(*) AS n
FROM encounters_encounter e,
     LATERAL (SELECT %(today)s::date - coalesce(e.discharge_date, e.admit_date) AS age) a
WHERE e.status <> 'final'
  AND (e.discharge_date IS NOT NULL OR e.type <> 'inpatient')
  AND coalesce(e.discharge_date, e.admit_date) BETWEEN %(start)s AND %(end)s
  AND coalesce(e.discharge_date, e.admit_date) <= %(today)s {where}
GROUP BY 1, 2
"""


def backlog(filters: ReportFilters) -> Report:
    """Discharged (or seen, for visits) and not final: how many by status and by
    days since the discharge or service date, and the oldest cases."""
    today = filters.day_of_age()
    extra = {"today": today, "start": filters.date_from, "end": filters.date_to}
    where, named = _named(filters, extra)
    counts = {
        (r["status"], r["bucket"]): r["n"]
        for r in _rows(BACKLOG_SQL.format(where=where), named)
    }
    statuses = [s for s, _ in Encounter.Status.choices if s != "final"]
    buckets = [label for label, _, _ in AGE_BUCKETS]
    rows = []
    for status in statuses:
        line = {b: counts.get((status, b), 0) for b in buckets}
        rows.append(
            {
                "status": Encounter.Status(status).label,
                **line,
                "total": sum(line.values()),
            }
        )
    total = {
        "status": "All",
        **{b: sum(r[b] for r in rows) for b in buckets},
        "total": sum(r["total"] for r in rows),
    }
    oldest = _oldest(filters, today)
    return Report(
        name="backlog",
        title="Backlog (DNFB)",
        basis=(
            "Discharged (or seen) in the period and not final; age in days since the "
            f"discharge or service date, counted to {today.isoformat()}."
        ),
        table=Table(
            "rows",
            "By status and age (days)",
            [
                Column("status", "Status"),
                *[Column(b, f"{b} days", "int") for b in buckets],
                Column("total", "Total", "int"),
            ],
            rows,
            total,
        ),
        chart=Chart(
            "stacked-bars",
            "Not final, by age in days",
            buckets,
            [
                (
                    Encounter.Status(s).label,
                    [float(counts.get((s, b), 0)) for b in buckets],
                )
                for s in statuses
            ],
            y_label="encounters",
        ),
        sections=[
            Table(
                "oldest",
                f"Oldest {OLDEST_SHOWN}",
                [
                    Column("encounter", "Encounter", "link"),
                    Column("type", "Type"),
                    Column("facility", "Facility"),
                    Column("status", "Status"),
                    Column("date", "Discharge / service", "date"),
                    Column("age", "Age (days)", "int"),
                    Column("coder", "Coder"),
                ],
                oldest,
            )
        ],
    )


def _oldest(filters: ReportFilters, today: dt.date) -> list[dict[str, Any]]:
    sql = """
    SELECT e.id, e.type, e.facility, e.status,
           coalesce(e.discharge_date, e.admit_date) AS day, u.username
    FROM encounters_encounter e
    LEFT JOIN accounts_user u ON u.id = e.assigned_to_id
    WHERE e.status <> 'final'
      AND (e.discharge_date IS NOT NULL OR e.type <> 'inpatient')
      AND coalesce(e.discharge_date, e.admit_date) BETWEEN %(start)s AND %(end)s
      AND coalesce(e.discharge_date, e.admit_date) <= %(today)s {where}
    ORDER BY coalesce(e.discharge_date, e.admit_date), e.id
    LIMIT %(limit)s
    """
    extra = {
        "today": today,
        "start": filters.date_from,
        "end": filters.date_to,
        "limit": OLDEST_SHOWN,
    }
    where, named = _named(filters, extra)
    return [
        {
            "encounter": r["id"],
            "url": reverse("encounters:detail", args=[r["id"]]),
            "type": Encounter.Type(r["type"]).label,
            "facility": r["facility"],
            "status": Encounter.Status(r["status"]).label,
            "date": r["day"],
            "age": (today - r["day"]).days,
            "coder": r["username"] or "",
        }
        for r in _rows(sql.format(where=where), named)
    ]


# --- Case mix -----------------------------------------------------------------

# The IPPS full payment of DESIGN.md ("Payment estimate") per encounter, in SQL:
# weight x (operating x (labor share x wage index + 1 - labor share) + capital x GAF),
# rounded to the cent, with the rates of the facility's fiscal year of discharge.
CASE_MIX_SQL = """
SELECT date_trunc('month', e.discharge_date)::date AS month, e.facility,
       count(*) AS encounters,
       avg((e.drg->>'weight')::numeric) AS cmi,
       sum((e.drg->>'weight')::numeric) AS weights,
       count(*) FILTER (WHERE jsonb_array_length(coalesce(e.drg->'cc_mcc', '[]')) > 0)
           AS with_cc_mcc,
       count(*) FILTER (WHERE e.drg->'cc_mcc' @> '[{{"level": "MCC"}}]') AS with_mcc,
       sum(round((e.drg->>'weight')::numeric * (r.operating * (r.labor_share
           * r.wage_index + 1 - r.labor_share) + r.capital * r.gaf), 2)) AS expected,
       count(r.id) AS priced,
       GROUPING(date_trunc('month', e.discharge_date), e.facility) AS level
FROM encounters_encounter e
LEFT JOIN codesets_paymentrate r ON r.facility = e.facility
     AND r.fiscal_year = extract(year FROM e.discharge_date)::int
                         + (extract(month FROM e.discharge_date) >= 10)::int
WHERE e.status = 'final' AND e.type = 'inpatient'
  AND e.discharge_date BETWEEN %(start)s AND %(end)s
  AND e.drg->>'weight' IS NOT NULL {where}
GROUP BY GROUPING SETS ((date_trunc('month', e.discharge_date), e.facility), ())
ORDER BY 1, 2
"""

TOP_DRG_SQL = """
SELECT (e.drg->>'drg')::int AS drg, max(e.drg->>'title') AS title,
       count(*) AS encounters, avg((e.drg->>'weight')::numeric) AS weight
FROM encounters_encounter e
WHERE e.status = 'final' AND e.type = 'inpatient'
  AND e.discharge_date BETWEEN %(start)s AND %(end)s
  AND e.drg->>'weight' IS NOT NULL {where}
GROUP BY 1
ORDER BY 3 DESC, 1
LIMIT %(limit)s
"""


def case_mix(filters: ReportFilters) -> Report:
    """Final inpatient encounters discharged in the period with a weighted DRG:
    per discharge month and facility the case-mix index (mean relative weight of
    the final DRG, as stored when it was last grouped), the share with at least
    one CC or MCC acting, and the expected full IPPS payment where rates are set;
    then the most frequent DRGs."""
    extra = {"start": filters.date_from, "end": filters.date_to}
    where, named = _named(filters, extra)
    rows, total = [], None
    for r in _rows(CASE_MIX_SQL.format(where=where), named):
        line = {
            "month": r["month"].strftime("%Y-%m") if r["month"] else "All",
            "facility": r["facility"] or "All",
            "encounters": r["encounters"],
            "cmi": _round(r["cmi"], 4),
            "cc_mcc_rate": _share(r["with_cc_mcc"], r["encounters"]),
            "mcc_rate": _share(r["with_mcc"], r["encounters"]),
            "expected_payment": None
            if r["expected"] is None
            else Decimal(r["expected"]),
            "priced": r["priced"],
        }
        if r["level"]:
            total = line
        else:
            rows.append(line)
    whole = total["encounters"] if total else 0
    top = [
        {
            "drg": f"{r['drg']:03d}",
            "title": r["title"],
            "encounters": r["encounters"],
            "share": _share(r["encounters"], whole),
            "weight": _round(r["weight"], 4),
        }
        for r in _rows(TOP_DRG_SQL.format(where=where), {**named, "limit": TOP_DRGS})
    ]
    months = sorted({r["month"] for r in rows})
    facilities = sorted({r["facility"] for r in rows})
    cmi = {(r["month"], r["facility"]): r["cmi"] for r in rows}
    return Report(
        name="case-mix",
        title="Case mix",
        basis=(
            "Final inpatient encounters discharged in the period with a weighted "
            "MS-DRG. Expected payment: the full IPPS payment (no transfer reduction, "
            "outliers or add-ons) where the facility's rates for the fiscal year are set."
        ),
        table=Table(
            "rows",
            "By discharge month and facility",
            [
                Column("month", "Discharge month"),
                Column("facility", "Facility"),
                Column("encounters", "Encounters", "int"),
                Column("cmi", "CMI", "number"),
                Column("cc_mcc_rate", "CC/MCC capture", "percent"),
                Column("mcc_rate", "MCC capture", "percent"),
                Column("expected_payment", "Expected payment", "money"),
                Column("priced", "Priced", "int"),
            ],
            rows,
            total,
        ),
        chart=Chart(
            "lines",
            "Case-mix index by discharge month",
            months,
            [(f, [cmi.get((m, f)) for m in months]) for f in facilities],
            y_label="CMI",
        ),
        sections=[
            Table(
                "top-drgs",
                f"Top {TOP_DRGS} MS-DRGs",
                [
                    Column("drg", "MS-DRG"),
                    Column("title", "Title"),
                    Column("encounters", "Encounters", "int"),
                    Column("share", "Share", "percent"),
                    Column("weight", "Weight", "number"),
                ],
                top,
            )
        ],
    )


# --- Accuracy -----------------------------------------------------------------

# The encounters audited at submit in the period, each once however many times it
# was resubmitted: a semi-join (the encounters probe a hash of the period's audits,
# duplicates and all, instead of the audits being made distinct first); with their
# coder, and the upheld findings and DRG changes of each, counted per encounter over
# the two tables whole and joined by hashing. Both tables grow at the pace of
# supervisors deciding by hand (thousands a year, against ~80,000 audits and
# ~550,000 history rows), so counting them whole costs less than matching them to
# the period's audited encounters first (bench/README.md, 2026-12-03 third session).
ACCURACY_SQL = """
SELECT e.assigned_to_id AS coder_id, count(*) AS audited,
       count(u.encounter_id) AS with_errors, coalesce(sum(u.n), 0)::int AS upheld,
       coalesce(sum(sh.n), 0)::int AS drg_changes,
       GROUPING(e.assigned_to_id) AS everyone
FROM encounters_encounter e
LEFT JOIN (
    SELECT f.encounter_id, count(*) AS n FROM encounters_finding f
    WHERE f.status IN ('confirmed', 'corrected') AND f.resolved_by_id IS NOT NULL
    GROUP BY 1
) u ON u.encounter_id = e.id
LEFT JOIN (
    SELECT s.encounter_id, count(*) AS n FROM encounters_drgshift s GROUP BY 1
) sh ON sh.encounter_id = e.id
WHERE e.assigned_to_id IS NOT NULL AND e.id IN (
    SELECT a.encounter_id FROM encounters_auditrun a
    WHERE a.trigger = 'submit' AND a.created_at >= %(start)s AND a.created_at < %(end)s
) {where}
GROUP BY GROUPING SETS ((e.assigned_to_id), ())
"""


def wilson_interval(
    successes: int, n: int, z: float = Z95
) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None without observations)."""
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def sample_size(p: float | None, precision: float, z: float = Z95) -> int:
    """Audits needed to estimate a proportion to ±``precision`` (95%): z²·p(1-p)/E²,
    with p = 0.5 (the most audits) while the observed rate is unknown, 0 or 1."""
    if p is None or p <= 0 or p >= 1:
        p = 0.5
    return math.ceil(z * z * p * (1 - p) / (precision * precision))


def accuracy(filters: ReportFilters) -> Report:
    """Per coder, the encounters audited at submit in the period, how many of them
    had at least one finding a supervisor upheld (confirmed or corrected), the
    findings upheld and the DRG changes; the accuracy rate (audited encounters
    without an upheld finding) with its 95% Wilson interval and the audits needed
    for the chosen precision."""
    extra = {"start": filters.start(), "end": filters.end()}
    where, named = _named(filters, extra)
    found = _rows(ACCURACY_SQL.format(where=where), named)
    names = _usernames({r["coder_id"] for r in found})
    precision = float(filters.precision)
    rows, total = [], None
    for r in found:
        audited, errors = r["audited"], r["with_errors"]
        rate = (audited - errors) / audited if audited else None
        bounds = wilson_interval(audited - errors, audited)
        needed = sample_size(rate, precision)
        line = {
            "coder": "All coders" if r["everyone"] else names.get(r["coder_id"], "?"),
            "audited": audited,
            "with_errors": errors,
            "upheld": r["upheld"],
            "drg_changes": r["drg_changes"],
            "accuracy": None if rate is None else round(rate, 4),
            "low": None if bounds is None else round(bounds[0], 4),
            "high": None if bounds is None else round(bounds[1], 4),
            "needed": needed,
            "more_needed": max(0, needed - audited),
        }
        if r["everyone"]:
            total = line
        else:
            rows.append(line)
    rows.sort(key=lambda r: r["coder"])
    return Report(
        name="accuracy",
        title="Accuracy",
        basis=(
            "Encounters audited at submit in the period. Accuracy: audited encounters "
            "without a finding a supervisor upheld; 95% Wilson interval; audits "
            f"needed for ±{precision:.0%} at 95%."
        ),
        table=Table(
            "rows",
            "Per coder",
            [
                Column("coder", "Coder"),
                Column("audited", "Audited", "int"),
                Column("with_errors", "With upheld findings", "int"),
                Column("upheld", "Findings upheld", "int"),
                Column("drg_changes", "DRG changes", "int"),
                Column("accuracy", "Accuracy", "percent"),
                Column("low", "95% low", "percent"),
                Column("high", "95% high", "percent"),
                Column("needed", f"Audits for ±{precision:.0%}", "int"),
                Column("more_needed", "More audits needed", "int"),
            ],
            rows,
            total,
        ),
        chart=Chart(
            "intervals",
            "Accuracy per coder with 95% Wilson interval",
            [r["coder"] for r in rows],
            [("Accuracy", [r["accuracy"] for r in rows])],
            bounds=[None if r["low"] is None else (r["low"], r["high"]) for r in rows],
            y_label="accuracy",
        ),
    )


# --- Audit impact -------------------------------------------------------------

FINDING_TREND_SQL = """
SELECT date_trunc(%(period)s, f.created_at AT TIME ZONE %(tz)s)::date AS period,
       f.rule, count(*) AS findings,
       count(*) FILTER (WHERE f.status IN ('confirmed', 'corrected')
                        AND f.resolved_by_id IS NOT NULL) AS upheld,
       count(*) FILTER (WHERE f.status = 'dismissed'
                        AND f.resolved_by_id IS NOT NULL) AS dismissed,
       count(*) FILTER (WHERE f.status = 'open') AS open
FROM encounters_finding f
JOIN encounters_encounter e ON e.id = f.encounter_id
WHERE f.created_at >= %(start)s AND f.created_at < %(end)s {where}
GROUP BY 1, 2
ORDER BY 1, 2
"""

SHIFT_SQL = """
SELECT date_trunc(%(period)s, s.changed_at AT TIME ZONE %(tz)s)::date AS period,
       count(*) AS shifts,
       sum((s.to_drg->>'weight')::numeric - (s.from_drg->>'weight')::numeric)
           AS weight_effect,
       sum(s.to_payment - s.from_payment) AS dollar_effect,
       count(*) FILTER (WHERE s.to_payment IS NOT NULL
                        AND s.from_payment IS NOT NULL) AS priced
FROM encounters_drgshift s
JOIN encounters_encounter e ON e.id = s.encounter_id
WHERE s.changed_at >= %(start)s AND s.changed_at < %(end)s {where}
GROUP BY 1
ORDER BY 1
"""

SHIFT_PAIRS_SQL = """
SELECT (s.from_drg->>'drg')::int AS from_drg, (s.to_drg->>'drg')::int AS to_drg,
       count(*) AS shifts,
       sum((s.to_drg->>'weight')::numeric - (s.from_drg->>'weight')::numeric)
           AS weight_effect,
       sum(s.to_payment - s.from_payment) AS dollar_effect
FROM encounters_drgshift s
JOIN encounters_encounter e ON e.id = s.encounter_id
WHERE s.changed_at >= %(start)s AND s.changed_at < %(end)s {where}
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
LIMIT 20
"""

TREND_RULES = 6  # rules drawn in the chart (the most frequent)


def period_starts(filters: ReportFilters, period: str) -> list[dt.date]:
    """Every week (from its Monday) or month touching the date range, empty ones
    included: a trend shows the weeks without findings as zero, not as a gap."""
    if period == "week":
        day = filters.date_from - dt.timedelta(days=filters.date_from.weekday())
        out = []
        while day <= filters.date_to:
            out.append(day)
            day += dt.timedelta(days=7)
        return out
    day = filters.date_from.replace(day=1)
    out = []
    while day <= filters.date_to:
        out.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return out


def _drg_text(number: int | None) -> str:
    return "—" if number is None else f"{number:03d}"


def audit_impact(filters: ReportFilters) -> Report:
    """Findings per rule per week or month (raised in the period) and what became
    of them; the supervisors' DRG changes (``DrgShift``) per period with their
    effect on the relative weight and on the estimated payment (shifts priced on
    both sides only), and the most frequent from → to pairs."""
    period = filters.period if filters.period in PERIODS else "month"
    extra = {
        "period": period,
        "tz": settings.TIME_ZONE,
        "start": filters.start(),
        "end": filters.end(),
    }
    where, named = _named(filters, extra)
    trend = _rows(FINDING_TREND_SQL.format(where=where), named)
    rows = [{**r, "period": r["period"].isoformat()} for r in trend]
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["rule"]] = totals.get(r["rule"], 0) + r["findings"]
    total = {
        "period": "All",
        "rule": "All",
        **{
            k: sum(r[k] for r in rows)
            for k in ("findings", "upheld", "dismissed", "open")
        },
    }
    periods = [day.isoformat() for day in period_starts(filters, period)]
    top_rules = sorted(totals, key=lambda rule: (-totals[rule], rule))[:TREND_RULES]
    counts = {(r["period"], r["rule"]): r["findings"] for r in rows}
    shifts = _rows(SHIFT_SQL.format(where=where), named)
    shift_rows = [
        {
            "period": r["period"].isoformat(),
            "shifts": r["shifts"],
            "weight_effect": _round(r["weight_effect"], 4),
            "dollar_effect": r["dollar_effect"],
            "priced": r["priced"],
        }
        for r in shifts
    ]
    dollars = [r["dollar_effect"] for r in shifts if r["dollar_effect"] is not None]
    shift_total = {
        "period": "All",
        "shifts": sum(r["shifts"] for r in shifts),
        "weight_effect": _round(sum((r["weight_effect"] or 0) for r in shifts), 4),
        "dollar_effect": sum(dollars) if dollars else None,
        "priced": sum(r["priced"] for r in shifts),
    }
    pairs = [
        {
            "from_drg": _drg_text(r["from_drg"]),
            "to_drg": _drg_text(r["to_drg"]),
            "shifts": r["shifts"],
            "weight_effect": _round(r["weight_effect"], 4),
            "dollar_effect": r["dollar_effect"],
        }
        for r in _rows(SHIFT_PAIRS_SQL.format(where=where), named)
    ]
    effect_columns = [
        Column("weight_effect", "Weight effect", "number"),
        Column("dollar_effect", "Payment effect", "money"),
    ]
    return Report(
        name="audit-impact",
        title="Audit impact",
        basis=(
            f"Findings raised and DRG changes made in the period, per {period}. "
            "Upheld/dismissed: a supervisor's decision. Payment effect: the shifts "
            "priced on both sides."
        ),
        table=Table(
            "rows",
            f"Findings by rule per {period}",
            [
                Column("period", period.capitalize()),
                Column("rule", "Rule"),
                Column("findings", "Findings", "int"),
                Column("upheld", "Upheld", "int"),
                Column("dismissed", "Dismissed", "int"),
                Column("open", "Open", "int"),
            ],
            rows,
            total,
        ),
        chart=Chart(
            "lines",
            f"Findings per {period}, {len(top_rules)} most frequent rules",
            periods,
            [
                (rule, [float(counts.get((p, rule), 0)) for p in periods])
                for rule in top_rules
            ],
            y_label="findings",
        ),
        sections=[
            Table(
                "drg-shifts",
                f"DRG changes per {period}",
                [
                    Column("period", period.capitalize()),
                    Column("shifts", "DRG changes", "int"),
                    *effect_columns,
                    Column("priced", "Priced", "int"),
                ],
                shift_rows,
                shift_total,
            ),
            Table(
                "drg-pairs",
                "Most frequent DRG changes",
                [
                    Column("from_drg", "From MS-DRG"),
                    Column("to_drg", "To MS-DRG"),
                    Column("shifts", "Changes", "int"),
                    *effect_columns,
                ],
                pairs,
            ),
        ],
    )


REPORTS = {
    "productivity": productivity,
    "backlog": backlog,
    "case-mix": case_mix,
    "accuracy": accuracy,
    "audit-impact": audit_impact,
}
