"""Benchmark: encoder search latency (not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_search \\
    REDIS_URL=redis://127.0.0.1:6379/2 DEV_MODE=1 .venv/bin/python bench/search_codes.py

Loads, into its own database (name must contain "bench"), the full ICD-10-CM FY2026
April tabular and ICD-10-PCS FY2026 tables from ../shared/data (about 178k codes in
force on the date used), then runs 200 realistic queries (codes, code prefixes, and
word queries as coders type them) through
  1. ``codesets.search.code_search`` (the selector the API and the typeahead use),
  2. the API view ``GET /api/v1/codes/search/`` through Django's test client,
  3. a naive ``icontains`` search over the same rows (same filters, same limit),
and reports p50/p95/max in milliseconds and the naive/our ratio.
Figures go to stdout and bench/results/search_codes.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
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
from django.db import connection  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Role  # noqa: E402
from accounts.services import user_create  # noqa: E402
from codesets.models import Code, Release  # noqa: E402
from codesets.search import code_search, looks_like_code, releases_on  # noqa: E402
from codesets.services import release_import_now  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CM = DATA / "icd10cm" / "fy2026_april" / "icd10c-tabular-April-1-2026.xml"
PCS = DATA / "icd10pcs" / "fy2026" / "icd10pcs_tables_2026.xml"
DOS = dt.date(2026, 5, 1)
LIMIT = 20

HANDWRITTEN = [
    # codes as coders type them
    "E11.65",
    "e1165",
    "E11.9",
    "i10",
    "J18.9",
    "j189",
    "N17.9",
    "E87.1",
    "I50.23",
    "i5023",
    "S72.001A",
    "s72001a",
    "T36.0X1A",
    "Z79.4",
    "F32.A",
    "R07.9",
    "K35.80",
    "A41.9",
    "N39.0",
    "J44.1",
    "0DTJ4ZZ",
    "0dtj4zz",
    "02HV33Z",
    "0SRB0J9",
    "5A1955Z",
    "3E0234Z",
    "0W9G3ZZ",
    "BW28ZZZ",
    "10E0XZZ",
    "30233N1",
    # prefixes
    "e11",
    "E11.6",
    "s72",
    "S72.0",
    "i50",
    "j18",
    "n18",
    "c50",
    "m17",
    "z51",
    "0dt",
    "02h",
    "0sr",
    "5a1",
    "3e0",
    "0ht",
    "b2",
    "0f",
    "10d",
    "xw0",
    # words, in any order, abbreviated
    "diab mel type 2 hyperglyc",
    "type 2 diabetes hyperglycemia",
    "pneumonia unspecified organism",
    "acute kidney failure",
    "chf acute on chronic systolic",
    "heart failure systolic acute chronic",
    "chest pain",
    "sepsis unspecified organism",
    "severe sepsis septic shock",
    "hyponatremia",
    "hip fracture",
    "fracture neck femur right initial",
    "copd exacerbation",
    "urinary tract infection",
    "atrial fibrillation",
    "essential hypertension",
    "hypertensive heart chronic kidney",
    "major depressive single",
    "alcohol dependence withdrawal",
    "opioid use disorder",
    "morbid obesity bmi",
    "long term insulin",
    "appendicitis acute peritonitis",
    "cholecystitis calculus",
    "pressure ulcer sacral stage 3",
    "cellulitis left lower limb",
    "dehydration",
    "hypokalemia",
    "anemia chronic kidney",
    "acute respiratory failure hypoxia",
    "resection appendix percutaneous endoscopic",
    "replacement hip joint",
    "coronary artery bypass",
    "insertion pacemaker",
    "drainage pleural cavity",
    "excision colon",
    "mechanical ventilation hours",
    "transfusion red blood cells",
    "hemodialysis",
    "cesarean",
    "delivery vaginal",
    "knee replacement left",
    "fluoroscopy",
    "ct head",
    "mri brain",
    "ultrasound abdomen",
    "endoscopy stomach biopsy",
    "colonoscopy",
    "gastrostomy",
    "tracheostomy",
    "intubation",
    "lumbar puncture",
    "spinal fusion lumbar",
    "diab",
    "fract",
    "pneum",
    "sepsi",
    "hypert",
    "resect",
    "bypass",
    "insert",
    "remov",
    "drain",
]


def ensure_data() -> None:
    name = settings.DATABASES["default"]["NAME"]
    if "bench" not in name:
        sys.exit(
            f"Refusing to run: the database {name!r} is not a bench database (its name must contain 'bench')."
        )
    for path, start in ((CM, dt.date(2026, 4, 1)), (PCS, dt.date(2025, 10, 1))):
        if not Release.objects.filter(
            source_file_name=path.name, state__in=["active", "retired"]
        ).exists():
            print(f"loading {path.name} ...", flush=True)
            release_import_now(
                path=path,
                activate=True,
                effective_from=start,
                effective_to=dt.date(2026, 9, 30),
            )


def generated_queries(count: int, seed: int = 7) -> list[str]:
    """Coder-like queries cut from real titles: 2-3 words, each shortened to 4-7 letters."""
    rng = random.Random(seed)
    releases, _ = releases_on(DOS)
    titles = list(
        Code.objects.filter(
            release_ids__overlap=[r.id for r in releases.values()], billable=True
        )
        .order_by("id")
        .values_list("long_title", flat=True)[:200000]
    )
    queries = []
    while len(queries) < count:
        words = [
            w
            for w in re.findall(r"[A-Za-z]{4,}", rng.choice(titles))
            if w.lower() not in {"with", "without", "other", "unspecified"}
        ]
        if len(words) < 2:
            continue
        picked = rng.sample(words, k=min(len(words), rng.choice([2, 2, 3])))
        queries.append(" ".join(w[: rng.randint(4, 7)].lower() for w in picked))
    return queries


def naive_search(query: str, release_ids: list[int]) -> list[tuple]:
    """What one writes without thinking: icontains on every word, same filters and limit."""
    rows = Code.objects.filter(release_ids__overlap=release_ids).exclude(
        kind__in=["chapter", "block"]
    )
    if looks_like_code(query):
        plain = query.replace(".", "").strip().upper()
        found = list(
            rows.filter(code__istartswith=plain)
            .order_by("code")
            .values_list("system", "code")[:LIMIT]
        )
        if found:
            return found
    condition = Q()
    for word in query.split():
        condition &= Q(long_title__icontains=word) | Q(search_terms__icontains=word)
    return list(
        rows.filter(condition)
        .order_by("-billable", "code")
        .values_list("system", "code")[:LIMIT]
    )


def timed(fn, queries: list[str]) -> list[float]:
    out = []
    for query in queries:
        started = time.perf_counter()
        fn(query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def speed() -> dict:
    """The speed figures (selector, API, naive icontains) over the codes in force on
    DOS; bench/lookup_accuracy.py reports them in its own run."""
    releases, _ = releases_on(DOS)
    release_ids = [r.id for r in releases.values()]
    in_force = (
        Code.objects.filter(release_ids__overlap=release_ids)
        .exclude(kind__in=["chapter", "block"])
        .count()
    )
    queries = HANDWRITTEN + generated_queries(200 - len(HANDWRITTEN))
    assert len(queries) == 200
    user = user_create(
        username=f"bench{time.time_ns()}",
        password="bench-password-not-secret-42",
        roles=[Role.CODER],
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)

    def ours(q: str) -> None:
        code_search(query=q, day=DOS, limit=LIMIT)

    def api(q: str) -> None:
        response = client.get(
            "/api/v1/codes/search/", {"q": q, "dos": DOS.isoformat(), "limit": LIMIT}
        )
        assert response.status_code == 200, response.content

    def naive(q: str) -> None:
        naive_search(q, release_ids)

    # Warm the caches the same way for each (one pass each, not measured).
    for fn in (ours, naive):
        for q in queries:
            fn(q)
    results = {
        "date": timezone.localdate().isoformat(),
        "machine": f"{os.cpu_count()} cores",
        "codes_in_force": in_force,
        "queries": len(queries),
        "selector": summary(timed(ours, queries)),
        "api": summary(timed(api, queries)),
        "naive_icontains": summary(timed(naive, queries)),
    }
    # The same figures for the hand-written queries alone (codes, prefixes, clinical
    # phrases) and for the ones cut from titles (often two very common words).
    results["selector_handwritten"] = summary(timed(ours, HANDWRITTEN))
    results["selector_generated"] = summary(timed(ours, queries[len(HANDWRITTEN) :]))
    results["ratio_naive_over_ours_p50"] = round(
        results["naive_icontains"]["p50_ms"] / results["selector"]["p50_ms"], 1
    )
    results["ratio_naive_over_ours_p95"] = round(
        results["naive_icontains"]["p95_ms"] / results["selector"]["p95_ms"], 1
    )
    slowest = sorted(
        ((t, q) for t, q in zip(timed(ours, queries), queries, strict=True)),
        reverse=True,
    )[:5]
    results["slowest_queries"] = [{"query": q, "ms": round(t, 1)} for t, q in slowest]
    empty = [q for q in queries if not code_search(query=q, day=DOS, limit=LIMIT).hits]
    results["queries_without_results"] = empty
    return results


def main() -> None:
    ensure_data()
    results = speed()
    print(json.dumps(results, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "search_codes.json").write_text(json.dumps(results, indent=2))
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


if __name__ == "__main__":
    main()
