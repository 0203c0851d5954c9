"""The ICD-10-PCS table builder on the full official tables: right, and how fast.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_builder_bench \\
        .venv/bin/python bench/pcs_builder.py [--db-url URL] [--data DIR] [--sample N]

Imports the FY2025 and FY2026 ICD-10-PCS tables XML (``../shared/data/icd10pcs``) as
two releases in force one after the other (the script empties the code-set tables
first, so the database name must contain "bench"), then, for a date of service in
each fiscal year:

* **right**: the codes of each file are read again here with ElementTree, without
  ``codesets`` (every combination of a row's labels, axes 1-3 from the table). For
  every prefix of 0-3 characters that begins a code, and a fixed random sample of
  longer prefixes, the values ``pcs_builder_step`` offers must be exactly the next
  characters of the codes that start with the prefix; each sampled code, typed
  whole, must be complete and valid; a prefix followed by a character no code has
  there must stop before it and say why.
* **fast**: the wall time of ``pcs_builder_step`` per prefix length (p50, p95, max)
  and the queries each step sends.

Results: a table on stdout and ``bench/results/pcs_builder.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "pcs_builder.json"
YEARS = [
    (
        "FY2025",
        "icd10pcs/fy2025/icd10pcs_tables_2025.xml",
        dt.date(2024, 10, 1),
        dt.date(2025, 9, 30),
        dt.date(2025, 5, 1),
    ),
    (
        "FY2026",
        "icd10pcs/fy2026/icd10pcs_tables_2026.xml",
        dt.date(2025, 10, 1),
        dt.date(2026, 9, 30),
        dt.date(2026, 5, 1),
    ),
]
TABLES = ("codesets_release", "codesets_code", "codesets_note", "codesets_pcstable")
PCS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def configure(db_url: str | None) -> str:
    url = db_url or os.environ.get("DATABASE_URL", "")
    name = urlsplit(url).path.lstrip("/")
    if not url or "bench" not in name:
        sys.exit(
            "Give --db-url or DATABASE_URL: a database of your own whose name contains "
            "'bench' (this script empties the code-set tables)."
        )
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "coding_app.settings"
    os.environ.setdefault("DEV_MODE", "1")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="bench-media-")
    sys.path.insert(0, str(ROOT))
    return name


def independent_codes(path: Path) -> set[str]:
    """Every code of a tables XML, read without codesets."""
    codes: set[str] = set()
    for table in ET.parse(path).getroot().iter("pcsTable"):
        head = "".join(a.find("label").get("code") for a in table.findall("axis"))
        for row in table.findall("pcsRow"):
            combos = [""]
            for axis in row.findall("axis"):
                chars = [label.get("code") for label in axis.findall("label")]
                combos = [c + ch for c in combos for ch in chars]
            codes.update(head + c for c in combos)
    return codes


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db-url")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--sample", type=int, default=1500, help="longer prefixes per year"
    )
    args = parser.parse_args()
    name = configure(args.db_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from codesets.pcs_builder import pcs_builder_step
    from codesets.services import release_import_now

    if connection.settings_dict["NAME"] != name:
        sys.exit(f"Refusing to run: connected to {connection.settings_dict['NAME']!r}.")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")

    rng = random.Random(12)
    report: dict = {"years": {}}
    for label, rel, start, end, day in YEARS:
        path = args.data / rel
        began = time.perf_counter()
        release_import_now(
            path=path, activate=True, effective_from=start, effective_to=end
        )
        imported = time.perf_counter() - began
        codes = independent_codes(path)
        nexts: dict[str, set[str]] = defaultdict(set)
        for code in codes:
            for n in range(7):
                nexts[code[:n]].add(code[n])
        short = sorted(p for p in nexts if len(p) <= 3)
        longer = rng.sample(sorted(p for p in nexts if len(p) > 3), args.sample)
        whole = rng.sample(sorted(codes), 300)
        wrong = []
        for prefix in rng.sample(sorted(nexts), 300):
            refused = [ch for ch in PCS if ch not in nexts[prefix]]
            if refused:
                wrong.append((prefix, rng.choice(refused)))

        timings: dict[int, list[float]] = defaultdict(list)
        queries: dict[int, set[int]] = defaultdict(set)
        failures: list[str] = []
        for prefix in short + longer:
            reset_queries()
            with CaptureQueriesContext(connection) as asked:
                t0 = time.perf_counter()
                step = pcs_builder_step(prefix=prefix, day=day)
                timings[len(prefix)].append(time.perf_counter() - t0)
            queries[len(prefix)].add(len(asked))
            offered = {v.character for v in step.values}
            if step.prefix != prefix or offered != nexts[prefix]:
                failures.append(
                    f"{prefix}: offered {''.join(sorted(offered))}, "
                    f"tables {''.join(sorted(nexts[prefix]))}"
                )
        for code in whole:
            reset_queries()
            with CaptureQueriesContext(connection) as asked:
                t0 = time.perf_counter()
                step = pcs_builder_step(prefix=code, day=day)
                timings[7].append(time.perf_counter() - t0)
            queries[7].add(len(asked))
            if not (step.complete and step.title):
                failures.append(f"{code}: not complete ({step.message})")
        for prefix, ch in wrong:
            step = pcs_builder_step(prefix=prefix + ch, day=day)
            if step.prefix != prefix or not step.message:
                failures.append(f"{prefix}+{ch}: kept {step.prefix!r}")

        rows = {
            n: {
                "steps": len(timings[n]),
                "p50_ms": round(statistics.median(timings[n]) * 1000, 2),
                "p95_ms": round(percentile(timings[n], 0.95) * 1000, 2),
                "max_ms": round(max(timings[n]) * 1000, 2),
                "queries": sorted(queries[n]),
            }
            for n in sorted(timings)
        }
        report["years"][label] = {
            "codes": len(codes),
            "import_s": round(imported, 1),
            "dos": day.isoformat(),
            "checked_prefixes": len(short) + len(longer),
            "checked_codes": len(whole),
            "checked_refusals": len(wrong),
            "failures": failures[:20],
            "failure_count": len(failures),
            "by_length": rows,
        }
        print(
            f"\n{label} ({len(codes):,} codes, imported in {imported:.1f} s), "
            f"date of service {day}: {len(short) + len(longer):,} prefixes, "
            f"{len(whole)} whole codes, {len(wrong)} refused characters checked "
            f"against an independent parse: {len(failures)} differences"
        )
        for line in failures[:10]:
            print("   ", line)
        print(
            f"  {'chars':>5} {'steps':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  queries"
        )
        for n, row in rows.items():
            print(
                f"  {n:>5} {row['steps']:>6} {row['p50_ms']:>8} {row['p95_ms']:>8} "
                f"{row['max_ms']:>8}  {row['queries']}"
            )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
