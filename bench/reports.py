"""Benchmark: the report pages and APIs of issue 16 over many encounters (not a test).

    createdb -h 127.0.0.1 -U postgres coding_bench_reports   # once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_reports \\
    REDIS_URL=redis://127.0.0.1:6379/7 DEV_MODE=1 \\
    .venv/bin/python bench/reports.py [--encounters 100000] [--runs 20]

Loads into its own database (name must contain "bench"; migrated here) a year of
encounters with their history, written by set-based SQL (generate_series, one
INSERT ... SELECT per table, not seed_demo one by one): patients, encounters (60%
final, a stored MS-DRG with weight and CC/MCC on inpatient ones), claims and
submits, returns, audits at submit, findings (a quarter of the audited, decided
by a supervisor), DRG shifts, IPPS rates. Loading is incremental: first to a
tenth of the size, where the number of queries of every page and API call is
counted, then to the full size, where they are counted again (they must be the
same: no N+1) and each is timed ``--runs`` times (p50/p95/max, budget p95 <= 300
ms). The EXPLAIN (ANALYZE, BUFFERS) of the slowest query of the slowest call is
printed. Figures go to stdout and bench/results/reports.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")
os.environ.setdefault("DEV_MODE", "1")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from accounts.services import user_create  # noqa: E402

BUDGET_MS = 300.0
CODERS = 20
PASSWORD = "bench-password-not-secret-42"
REPORTS = ["productivity", "backlog", "case-mix", "accuracy", "audit-impact"]

# (MS-DRG, weight, CC/MCC acting) drawn for the inpatient stays.
DRGS = [
    (195, 0.7131, "[]"),
    (194, 0.9588, '[{"code": "E871", "level": "CC"}]'),
    (193, 1.3275, '[{"code": "J9601", "level": "MCC"}]'),
    (871, 1.9826, '[{"code": "R6521", "level": "MCC"}]'),
    (872, 1.0232, "[]"),
    (291, 1.3454, '[{"code": "N179", "level": "MCC"}]'),
    (292, 0.8820, '[{"code": "E871", "level": "CC"}]'),
    (470, 1.9158, "[]"),
    (690, 0.7941, "[]"),
    (392, 0.7523, "[]"),
]
RULES = [
    "poa-missing",
    "excludes1",
    "code-first",
    "use-additional-code",
    "duplicate-code",
    "ncci-ptp",
    "mue-units",
    "hac",
]

PATIENTS_SQL = """
INSERT INTO encounters_patient (mrn, first_name, last_name, birth_date, sex, created_at)
SELECT 'B' || g, 'First' || g, 'Last' || g, date '1930-01-01' + (g %% 25000),
       CASE WHEN g %% 2 = 0 THEN 'F' ELSE 'M' END, now()
FROM generate_series(%(lo)s, %(hi)s) g
"""

# g: the patient's number, one encounter each. Status by g % 20: 0-1 ready,
# 2-3 in progress, 4 submitted, 5 returned, 6-7 in review, 8-19 final.
ENCOUNTERS_SQL = """
INSERT INTO encounters_encounter (patient_id, type, facility, admit_date, discharge_date,
    discharge_status, attending_provider, status, assigned_to_id, version, drg,
    submitted_at, created_at, updated_at)
SELECT p.id, t.type, (ARRAY['General', 'North', 'South'])[1 + p.g %% 3],
       d.day - (p.g %% 6), CASE WHEN t.type = 'inpatient' THEN d.day END, '01', '',
       s.status,
       CASE WHEN s.status <> 'ready' THEN (%(coders)s::bigint[])[1 + p.g %% %(ncoders)s] END,
       1,
       CASE WHEN t.type = 'inpatient' AND s.status IN ('submitted', 'returned',
            'in_review', 'final') THEN jsonb_build_object('drg', r.drg, 'title',
            'DRG ' || r.drg, 'mdc', 4, 'weight', r.weight, 'grouper_version', 431,
            'cc_mcc', r.cc_mcc::jsonb, 'return_code', 'OK') END,
       CASE WHEN s.status IN ('submitted', 'returned', 'in_review', 'final')
            THEN d.day + interval '1 day 09:00' + (p.g %% 60) * interval '1 minute'
                 + (5 + p.g %% 55) * interval '1 minute' END,
       now(), now()
FROM (SELECT id, substring(mrn FROM 2)::int AS g FROM encounters_patient
      WHERE mrn LIKE 'B%%' AND substring(mrn FROM 2)::int BETWEEN %(lo)s AND %(hi)s) p
CROSS JOIN LATERAL (SELECT (ARRAY['inpatient', 'inpatient', 'outpatient', 'emergency',
    'professional'])[1 + p.g %% 5] AS type) t
CROSS JOIN LATERAL (SELECT current_date - ((p.g * 7919) %% 365) AS day) d
CROSS JOIN LATERAL (SELECT (ARRAY['ready', 'ready', 'in_progress', 'in_progress',
    'submitted', 'returned', 'in_review', 'in_review', 'final', 'final', 'final',
    'final', 'final', 'final', 'final', 'final', 'final', 'final', 'final',
    'final'])[1 + p.g %% 20] AS status) s
CROSS JOIN LATERAL (SELECT * FROM (VALUES {drgs}) v(drg, weight, cc_mcc)
    OFFSET (p.g / 5) %% {ndrgs} LIMIT 1) r
"""

# The new encounters (those of patients lo..hi) with their number g.
NEW = """
SELECT e.id, e.status, e.type, e.assigned_to_id, e.discharge_date, e.admit_date,
       e.submitted_at, e.drg, substring(p.mrn FROM 2)::int AS g,
       coalesce(e.discharge_date, e.admit_date) + interval '1 day 09:00'
           + (substring(p.mrn FROM 2)::int %% 60) * interval '1 minute' AS claimed_at
FROM encounters_encounter e JOIN encounters_patient p ON p.id = e.patient_id
WHERE p.mrn LIKE 'B%%' AND substring(p.mrn FROM 2)::int BETWEEN %(lo)s AND %(hi)s
"""

# The history as the site writes it: the feed's create, the claim, three saves of the
# codes (each with the codes before and after, as encounter_save_coding stores them),
# the submit, the audit, a return or the final; ~7 rows per encounter, most of them
# saves, so the reports read the submits and returns among many other rows.
CODES_JSON = (
    '{"diagnoses": [{"code": "J189", "poa": "Y"}, {"code": "I10", "poa": "Y"},'
    ' {"code": "E119", "poa": "Y"}, {"code": "N179", "poa": "N"}],'
    ' "procedures": [{"code": "0DTJ4ZZ", "date": "2026-01-02"}]}'
)
CHANGES_SQL = """
WITH n AS ({new})
INSERT INTO encounters_codingchange (encounter_id, action, changed_by_id, changed_at,
    version, before, after, comment, started_at, encounter_type)
SELECT id, 'created', NULL::bigint, claimed_at - interval '1 day', 1, '{{}}'::jsonb,
       '{{}}'::jsonb, '', NULL::timestamptz, ''
FROM n
UNION ALL
SELECT id, 'claimed', assigned_to_id, claimed_at, 2, '{{}}'::jsonb, '{{}}'::jsonb, '', NULL, ''
FROM n WHERE status <> 'ready'
UNION ALL
SELECT id, 'saved', assigned_to_id, claimed_at + k * interval '1 minute', 2,
       '{codes}'::jsonb, '{codes}'::jsonb, '', NULL, ''
FROM n CROSS JOIN generate_series(1, 3) k WHERE status <> 'ready'
UNION ALL
SELECT id, 'audited', NULL, submitted_at + interval '1 minute', 3, '{{}}'::jsonb,
       '{{}}'::jsonb, '', NULL, ''
FROM n WHERE submitted_at IS NOT NULL
UNION ALL
SELECT id, 'finalized', NULL, submitted_at + interval '2 minutes', 3, '{{}}'::jsonb,
       '{{}}'::jsonb, '', NULL, ''
FROM n WHERE status = 'final'
UNION ALL
-- The submit carries the start of its pass and the type, as encounters.services
-- writes it.
SELECT id, 'submitted', assigned_to_id, submitted_at, 3, '{{}}'::jsonb, '{{}}'::jsonb, '',
       claimed_at, type
FROM n WHERE submitted_at IS NOT NULL
UNION ALL
SELECT id, 'returned', NULL, submitted_at + interval '2 minutes', 4, '{{}}'::jsonb,
       '{{}}'::jsonb, '', NULL, ''
FROM n WHERE status = 'returned'
"""

AUDITS_SQL = """
WITH n AS ({new})
INSERT INTO encounters_auditrun (encounter_id, encounter_version, trigger, sampled,
    routed_to, created_at)
SELECT id, 3, 'submit', false, '', submitted_at + interval '1 minute'
FROM n WHERE submitted_at IS NOT NULL
"""

FINDINGS_SQL = """
WITH n AS ({new})
INSERT INTO encounters_finding (encounter_id, run_id, rule, severity, message, codes,
    reference, status, resolved_by_id, resolved_at, resolution, coding, created_at)
SELECT n.id, a.id, (%(rules)s::text[])[1 + (n.g / 4) %% %(nrules)s], 'error', 'bench',
       ARRAY['X' || n.g], '', st.status,
       CASE WHEN st.status <> 'open' THEN %(supervisor)s::bigint END,
       CASE WHEN st.status <> 'open' THEN a.created_at + interval '1 day' END,
       '', '', a.created_at
FROM n JOIN encounters_auditrun a ON a.encounter_id = n.id
CROSS JOIN LATERAL (SELECT (ARRAY['open', 'confirmed', 'dismissed', 'corrected',
    'confirmed'])[1 + (n.g / 4) %% 5] AS status) st
WHERE n.g %% 4 = 0
"""

CORRECTED_SQL = """
WITH n AS ({new})
INSERT INTO encounters_codingchange (encounter_id, action, changed_by_id, changed_at,
    version, before, after, comment)
SELECT id, 'corrected', %(supervisor)s, submitted_at + interval '1 day', 5, '{{}}'::jsonb,
       '{{}}'::jsonb, 'bench'
-- g mod 40 = 10: final (g mod 20 = 10) and inpatient (g mod 5 = 0), one in 40 of
-- each (before 2026-12-03 g mod 40 = 0, never final: no corrections were loaded).
FROM n WHERE status = 'final' AND type = 'inpatient' AND g %% 40 = 10
"""

SHIFTS_SQL = """
WITH n AS ({new})
INSERT INTO encounters_drgshift (encounter_id, change_id, from_drg, to_drg,
    from_payment, to_payment, reason, changed_by_id, changed_at)
SELECT n.id, c.id, n.drg || jsonb_build_object('drg', 195, 'weight', 0.7131), n.drg,
       round(0.7131 * 7557.18, 2),
       round((n.drg->>'weight')::numeric * 7557.18, 2), 'bench', c.changed_by_id,
       c.changed_at
FROM n JOIN encounters_codingchange c ON c.encounter_id = n.id AND c.action = 'corrected'
"""


def ensure_database() -> None:
    name = settings.DATABASES["default"]["NAME"]
    if "bench" not in name:
        sys.exit(
            f"Refusing to run: the database {name!r} is not a bench database "
            "(its name must contain 'bench')."
        )
    call_command("migrate", verbosity=0)


def cast() -> tuple[list[int], User]:
    coders = []
    for n in range(CODERS):
        user = User.objects.filter(username=f"benchcoder{n}").first() or user_create(
            username=f"benchcoder{n}", password=PASSWORD, roles=[Role.CODER]
        )
        coders.append(user.id)
    supervisor = User.objects.filter(username="benchsupervisor").first() or user_create(
        username="benchsupervisor", password=PASSWORD, roles=[Role.SUPERVISOR]
    )
    return coders, supervisor


def rates() -> None:
    from decimal import Decimal

    from codesets.models import PaymentRate
    from codesets.services import payment_rate_set

    today = timezone.localdate()
    for year in (today.year, today.year + 1):
        for facility in ("General", "North"):  # South has none: unpriced
            if not PaymentRate.objects.filter(
                facility=facility, fiscal_year=year
            ).exists():
                payment_rate_set(
                    facility=facility,
                    fiscal_year=year,
                    operating=Decimal("6800.00"),
                    capital=Decimal("510.00"),
                )


def load(size: int, coders: list[int], supervisor: User) -> float:
    """Add encounters until there are ``size`` of the bench's; seconds taken."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM encounters_patient WHERE mrn LIKE 'B%%'")
        have = cursor.fetchone()[0]
    if have >= size:
        return 0.0
    started = time.perf_counter()
    params = {
        "lo": have + 1,
        "hi": size,
        "coders": coders,
        "ncoders": len(coders),
        "supervisor": supervisor.id,
        "rules": RULES,
        "nrules": len(RULES),
    }
    drgs = ", ".join(f"({d}, {w}, '{c}')" for d, w, c in DRGS)
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in (
            PATIENTS_SQL,
            ENCOUNTERS_SQL,
            CHANGES_SQL,
            AUDITS_SQL,
            FINDINGS_SQL,
            CORRECTED_SQL,
            SHIFTS_SQL,
        ):
            cursor.execute(
                sql.format(new=NEW, drgs=drgs, ndrgs=len(DRGS), codes=CODES_JSON),
                params,
            )
    # VACUUM as well as ANALYZE: otherwise autovacuum takes up the freshly written
    # tables (~700,000 history rows) while the calls are timed, and the index scans
    # visit the heap for lack of a visibility map. A site's tables are in that steady
    # state.
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM ANALYZE encounters_patient, encounters_encounter,"
            " encounters_codingchange, encounters_auditrun, encounters_finding,"
            " encounters_drgshift"
        )
    return time.perf_counter() - started


def calls() -> dict[str, tuple[str, dict[str, str]]]:
    today = timezone.localdate()
    year = {
        "from": (today - dt.timedelta(days=364)).isoformat(),
        "to": today.isoformat(),
    }
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for name in REPORTS:  # as opened (the last 90 days), and over a year
        out[f"page {name}"] = (f"/reports/{name}/", {})
        out[f"api {name}"] = (f"/api/v1/reports/{name}/", {})
        out[f"page {name}, a year"] = (f"/reports/{name}/", year)
        out[f"api {name}, a year"] = (f"/api/v1/reports/{name}/", year)
    out["page case-mix, one facility"] = (
        "/reports/case-mix/",
        {**year, "facility": "North"},
    )
    out["api productivity, one coder"] = (
        "/api/v1/reports/productivity/",
        {**year, "coder": "benchcoder3"},
    )
    out["csv backlog"] = ("/reports/backlog/", {**year, "format": "csv"})
    since = (timezone.now() - dt.timedelta(days=2)).isoformat()
    out["api billing feed"] = (
        "/api/v1/encounters/",
        {"status": "final", "updated_since": since},
    )
    out["api findings"] = ("/api/v1/findings/", {"status": "confirmed"})
    return out


def client_for(user: User) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    return client


def query_counts(client: Client) -> dict[str, int]:
    out = {}
    for label, (url, params) in calls().items():
        client.get(url, params)  # process caches filled
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200, (label, response.status_code)
        out[label] = len(queries)
    return out


def timings(client: Client, runs: int) -> tuple[dict[str, dict[str, float]], dict]:
    """p50/p95/max per call; then the slowest call by p95 once more, and the
    slowest query it made."""
    results: dict[str, dict[str, float]] = {}
    for label, (url, params) in calls().items():
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url, params)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        ordered = sorted(samples)
        results[label] = {
            "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
            "max_ms": round(ordered[-1], 1),
        }
    label = max(results, key=lambda k: results[k]["p95_ms"])
    url, params = calls()[label]
    with CaptureQueriesContext(connection) as queries:
        client.get(url, params)
    worst = max(queries.captured_queries, key=lambda q: float(q["time"]))
    slowest = {
        "call": label,
        "ms": results[label]["p95_ms"],
        "sql": worst["sql"],
        "sql_s": worst["time"],
    }
    return results, slowest


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encounters", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    ensure_database()
    coders, supervisor = cast()
    rates()
    client = client_for(supervisor)
    small = max(1000, args.encounters // 10)
    load_small = load(small, coders, supervisor)
    counts_small = query_counts(client)
    load_full = load(args.encounters, coders, supervisor)
    counts_full = query_counts(client)
    grown = {
        k: (counts_small[k], counts_full[k])
        for k in counts_full
        if counts_small[k] != counts_full[k]
    }
    sys.path.insert(0, str(ROOT / "bench"))
    from coding_save import cpu_reference_ms

    cpu_before = cpu_reference_ms()
    results, slowest = timings(client, args.runs)
    cpu_after = cpu_reference_ms()
    over = {k: v["p95_ms"] for k, v in results.items() if v["p95_ms"] > BUDGET_MS}
    width = max(len(k) for k in results)
    print(
        f"encounters {args.encounters} (load {load_small:.1f} s + {load_full:.1f} s), runs {args.runs}, "
        f"CPU reference {cpu_before} -> {cpu_after} ms (bench/coding_save.py: the VM's speed varies 1.5x)"
    )
    print(
        f"{'call':{width}}  p50 ms  p95 ms  max ms  queries@{small}  queries@{args.encounters}"
    )
    for label, r in results.items():
        print(
            f"{label:{width}}  {r['p50_ms']:6.1f}  {r['p95_ms']:6.1f}  {r['max_ms']:6.1f}"
            f"  {counts_small[label]:>9}  {counts_full[label]:>9}"
        )
    print(
        f"\nslowest call: {slowest['call']}, p95 {slowest['ms']:.1f} ms; its slowest query "
        f"({float(slowest['sql_s']) * 1000:.1f} ms):\n{slowest['sql']}\n"
    )
    print(explain(slowest["sql"]))
    print("\nquery counts constant in rows:", "yes" if not grown else f"NO {grown}")
    print(f"p95 <= {BUDGET_MS:.0f} ms:", "yes" if not over else f"NO {over}")
    out = ROOT / "bench" / "results" / "reports.json"
    out.write_text(
        json.dumps(
            {
                "date": timezone.localdate().isoformat(),
                "encounters": args.encounters,
                "runs": args.runs,
                "cpu_reference_ms": [cpu_before, cpu_after],
                "results": results,
                "queries": {
                    "small": small,
                    "at_small": counts_small,
                    "at_full": counts_full,
                },
                "slowest": {k: slowest[k] for k in ("call", "ms")},
            },
            indent=2,
        )
        + "\n"
    )
    if grown or over:
        sys.exit(1)


if __name__ == "__main__":
    main()
