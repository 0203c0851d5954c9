"""Benchmark: does the encoder's lookup put the code a coder would accept first?

    createdb -h 127.0.0.1 -U postgres coding_lookup_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_lookup_bench \\
    REDIS_URL=redis://127.0.0.1:6379/7 DEV_MODE=1 .venv/bin/python bench/lookup_accuracy.py

Loads into its own database (name must contain "bench"; first run only) the full
ICD-10-CM FY2026 April tabular and ICD-10-PCS FY2026 tables (in force 2025-10-01 ..
2026-09-30) and HCPCS 2020 (in force 2020-01-01 .. 2020-12-31) from ../shared/data,
plus the ICD-10-PCS Index and Definitions when an importer for them exists (skipped
otherwise). Then it reads bench/lookup_queries.tsv: queries written from chart
language (not from code titles) with the code(s) a coder would accept and whether
one of them must be first, and searches each with ``codesets.search.code_search``
restricted to its system (what a code box of the coding form does), on 2026-05-01
for ICD-10-CM/PCS and 2020-07-01 for HCPCS.

Reported per system: top-1 (an accepted code is the first hit; counted only for
queries marked "first") and top-5 (an accepted code is among the first five; every
query). Then, in the same run, the speed figures of bench/search_codes.py (selector,
API, naive icontains over the codes in force on 2026-05-01). ``--no-speed`` skips
them; ``--misses`` lists every query that fails; ``--queries PATH`` reads another
file in the same format (e.g. bench/lookup_heldout.tsv). Figures go to stdout and
bench/results/lookup_accuracy.json (lookup_accuracy_<file stem>.json for another file).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_codes

from codesets.models import Release
from codesets.search import code_search
from codesets.services import release_import_now

ROOT = search_codes.ROOT
DATA = search_codes.DATA
QUERIES = ROOT / "bench" / "lookup_queries.tsv"
HCPCS = DATA / "hcpcs" / "2020" / "HCPC2020_ANWEB_w_disclaimer.txt"
PCS_INDEX = DATA / "icd10pcs" / "fy2025" / "icd10pcs_index_2025.xml"
PCS_DEFINITIONS = DATA / "icd10pcs" / "fy2026" / "icd10pcs_definitions_2026.xml"
DAYS = {
    "icd10cm": dt.date(2026, 5, 1),
    "icd10pcs": dt.date(2026, 5, 1),
    "hcpcs": dt.date(2020, 7, 1),
}
SYSTEMS = ("icd10cm", "icd10pcs", "hcpcs")


def ensure_data() -> list[str]:
    """Load what the run needs (once); the names of the optional files skipped."""
    search_codes.ensure_data()
    if not Release.objects.filter(
        source_file_name=HCPCS.name, state__in=["active", "retired"]
    ).exists():
        print(f"loading {HCPCS.name} ...", flush=True)
        release_import_now(
            path=HCPCS,
            activate=True,
            effective_from=dt.date(2020, 1, 1),
            effective_to=dt.date(2020, 12, 31),
        )
    skipped = []
    for path in (PCS_INDEX, PCS_DEFINITIONS):
        tried = Release.objects.filter(source_file_name=path.name)
        if tried.filter(state__in=["active", "retired"]).exists():
            continue
        if tried.exists():  # failed before: no importer for it in this tree
            skipped.append(path.name)
            continue
        try:
            print(f"loading {path.name} ...", flush=True)
            release_import_now(path=path, activate=True)
        except Exception as error:  # no importer for it yet (issue 12, other part)
            print(f"  skipped: {error}", flush=True)
            skipped.append(path.name)
    return skipped


def read_queries(path: Path = QUERIES) -> list[dict]:
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(
            (line for line in handle if not line.startswith("#")), delimiter="\t"
        ):
            rows.append(
                {
                    "system": row["system"],
                    "query": row["query"],
                    "accept": [
                        c.strip().replace(".", "").upper()
                        for c in row["accept"].split(",")
                    ],
                    "first": row["first"] == "yes",
                    "source": row["source"],
                }
            )
    return rows


def evaluate(queries: list[dict]) -> tuple[dict, list[dict]]:
    tally = {s: {"n": 0, "n_first": 0, "top1": 0, "top5": 0} for s in SYSTEMS}
    misses = []
    for q in queries:
        hits = code_search(
            query=q["query"], day=DAYS[q["system"]], systems=[q["system"]], limit=20
        ).hits
        codes = [h.code for h in hits]
        accepted = set(q["accept"])
        top5 = any(c in accepted for c in codes[:5])
        top1 = bool(codes) and codes[0] in accepted
        t = tally[q["system"]]
        t["n"] += 1
        t["top5"] += top5
        if q["first"]:
            t["n_first"] += 1
            t["top1"] += top1
        if not top5 or (q["first"] and not top1):
            misses.append({**q, "got": codes[:5], "top1": top1, "top5": top5})
    for t in tally.values():
        t["top1_pct"] = (
            round(100 * t["top1"] / t["n_first"], 1) if t["n_first"] else None
        )
        t["top5_pct"] = round(100 * t["top5"] / t["n"], 1) if t["n"] else None
    return tally, misses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument(
        "--queries",
        type=Path,
        default=QUERIES,
        metavar="PATH",
        help="queries file in the lookup_queries.tsv format (default: %(default)s)",
    )
    args = parser.parse_args()
    skipped = ensure_data()
    queries = read_queries(args.queries)
    started = time.perf_counter()
    tally, misses = evaluate(queries)
    results: dict = {
        "queries_file": str(args.queries),
        "queries": len(queries),
        "skipped_files": skipped,
        "accuracy": tally,
        "accuracy_seconds": round(time.perf_counter() - started, 1),
    }
    if args.misses:
        for m in misses:
            mark = "top5-miss" if not m["top5"] else "top1-miss"
            print(
                f"{mark}\t{m['system']}\t{m['query']}\t{','.join(m['accept'])}\tgot {' '.join(m['got'])}"
            )
    print("system      n  top-1 (of 'first')  top-5")
    for s, t in tally.items():
        print(
            f"{s:9} {t['n']:4}  {t['top1']:3}/{t['n_first']:<3} {t['top1_pct']}%   {t['top5']:3}/{t['n']:<3} {t['top5_pct']}%"
        )
    if not args.no_speed:
        results["speed"] = search_codes.speed()
        print(json.dumps(results["speed"], indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    name = "lookup_accuracy"
    if args.queries.resolve() != QUERIES.resolve():  # keep the main figures apart
        name += "_" + args.queries.stem
    (out / f"{name}.json").write_text(
        json.dumps({**results, "misses": misses}, indent=2)
    )


if __name__ == "__main__":
    main()
