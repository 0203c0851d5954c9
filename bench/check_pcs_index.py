"""Import the full ICD-10-PCS Index and Definitions and check the stored counts
against an independent parse of the XML.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_pcsidx_bench \\
        .venv/bin/python bench/check_pcs_index.py [--db-url URL] [--data DIR]

Steps, on a database of its own (the name must contain "bench": the code-set tables
are emptied first; pending migrations are applied):

1. **Ours, through the product**: ``codesets.services.release_import_now`` on the
   FY2023 Index and Definitions (activated), then FY2025 (diffed against FY2023 at
   import). Read back from the database, per release: index entries (rows), main
   terms, "see" and "use" references, full codes (7 characters), code starts (4-6)
   and tables (3); definitions per section and axis (entries, values, keys) and the
   device aggregation rows.
2. **Independent, plain ElementTree** (no code shared with ``codesets/``): the same
   figures counted from the elements: ``<mainTerm>``, ``<term>``, ``<see>``,
   ``<use>``, ``<code>``, ``<codes>``, ``<tab>``; ``<terms>`` / ``<title>`` /
   ``<includes>`` under each ``<section code>`` / ``<axis pos>``; ``<aggregate>``.

With ``--search``, the FY2025 tables are imported too (activated) and the PCS
search through the Index (``codesets.pcs_lookup.pcs_lookup``) and the code search
for ICD-10-PCS (``codesets.search.code_search``, which calls it) are timed over
SEARCH_QUERIES on 2025-06-01 (the FY2025 Index activated for it): p50 and p95 of
five rounds after one warm-up round, with each query's first code.

Exit status 1 when any figure differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import xml.etree.ElementTree as ET  # the official CMS files, read-only, no DTD
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
YEARS = (2023, 2025)
TABLES = (
    "codesets_release",
    "codesets_pcsindexterm",
    "codesets_pcsdefinition",
    "codesets_code",
    "codesets_note",
    "codesets_pcstable",
)
SEARCH_QUERIES = (
    "appendectomy",
    "laparoscopic appendectomy",
    "laparoscopic cholecystectomy",
    "lap chole",
    "total knee replacement",
    "total hip replacement",
    "hemodialysis",
    "cesarean section",
    "mechanical ventilation 24-96 hours",
    "lumbar puncture",
    "thoracentesis",
    "paracentesis",
    "mastectomy",
    "tonsillectomy",
    "colonoscopy",
    "circumcision",
    "hysterectomy laparoscopic",
    "right hemicolectomy",
    "liver biopsy",
    "pacemaker insertion",
)


# --- independent counts (plain ElementTree) ----------------------------------------


def independent_index(path: Path) -> Counter:
    root = ET.parse(path).getroot()
    counts: Counter = Counter()
    counts["main terms"] = len(root.findall("./letter/mainTerm"))
    counts["entries"] = counts["main terms"] + len(root.findall(".//term"))
    for tag, name in (
        ("see", "see references"),
        ("use", "use references"),
        ("code", "full codes"),
        ("codes", "code starts"),
        ("tab", "tables"),
    ):
        counts[name] = len(root.findall(f".//{tag}"))
    return counts


def independent_definitions(path: Path) -> Counter:
    root = ET.parse(path).getroot()
    counts: Counter = Counter()
    for section in root.findall("section"):
        for axis in section.findall("axis"):
            key = f"section {section.get('code')} axis {axis.get('pos')}"
            terms = axis.findall("terms")
            counts[f"{key} entries"] += len(terms)
            counts[f"{key} values"] += sum(len(t.findall("title")) for t in terms)
            counts[f"{key} keys"] += sum(len(t.findall("includes")) for t in terms)
    counts["device aggregation rows"] = len(
        root.findall("./deviceAggregation/aggregate")
    )
    return counts


# --- ours, through the product -----------------------------------------------------


def configure(db_url: str | None) -> str:
    url = db_url or os.environ.get("DATABASE_URL", "")
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(
            f"Refusing database {name!r}: this check empties the code-set tables, so the "
            "database name must contain 'bench' (give --db-url)."
        )
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "coding_app.settings"
    os.environ.setdefault("DEV_MODE", "1")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="bench-media-")
    sys.path.insert(0, str(ROOT))
    return name


def stored_index(release_id: int) -> Counter:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*),
                      count(*) FILTER (WHERE level = 0 AND title <> ''),
                      count(*) FILTER (WHERE see <> ''),
                      count(*) FILTER (WHERE use <> ''),
                      count(*) FILTER (WHERE length(code) = 7),
                      count(*) FILTER (WHERE length(code) BETWEEN 4 AND 6),
                      count(*) FILTER (WHERE length(code) = 3)
               FROM codesets_pcsindexterm WHERE release_id = %s""",
            [release_id],
        )
        row = cursor.fetchone()
    names = (
        "entries",
        "main terms",
        "see references",
        "use references",
        "full codes",
        "code starts",
        "tables",
    )
    return Counter(dict(zip(names, row, strict=True)))


def stored_definitions(release_id: int) -> Counter:
    from django.db import connection

    counts: Counter = Counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT section, axis, count(*), sum(cardinality(titles)),
                      sum(cardinality(includes))
               FROM codesets_pcsdefinition WHERE release_id = %s
               GROUP BY section, axis""",
            [release_id],
        )
        for section, axis, entries, values, keys in cursor.fetchall():
            if axis == 0:
                counts["device aggregation rows"] = entries
                continue
            key = f"section {section} axis {axis}"
            counts[f"{key} entries"] = entries
            counts[f"{key} values"] = values
            counts[f"{key} keys"] = keys
    return counts


def totals(counts: Counter) -> Counter:
    """Per-section/axis figures summed by kind ("entries", "values", "keys")."""
    out: Counter = Counter()
    for name, value in counts.items():
        kind = name.rsplit(" ", 1)[-1] if name.startswith("section ") else name
        out[f"all sections: {kind}" if name.startswith("section ") else name] += value
    return out


def compare(ours: Counter, theirs: Counter) -> int:
    """Every figure compared; the totals printed, and every figure that differs."""
    names = sorted(set(ours) | set(theirs))
    differ = [n for n in names if ours[n] != theirs[n]]
    groups = {n.rsplit(" ", 1)[0] for n in names if n.startswith("section ")}
    mine, xml = totals(ours), totals(theirs)
    for name in sorted(set(mine) | set(xml)):
        print(f"    {name:<34} {mine[name]:>8,} {xml[name]:>8,}")
    if groups:
        print(f"    ({len(groups)} section/axis groups compared one by one)")
    for name in differ:
        print(f"    DIFFERS: {name}: ours {ours[name]:,}, XML {theirs[name]:,}")
    return len(differ)


def percentiles(times: list[float]) -> str:
    ordered = sorted(times)
    p50 = ordered[len(ordered) // 2]
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (n={len(ordered)})"


def time_search(data: Path) -> None:
    import datetime as dt

    from codesets.models import Release
    from codesets.pcs_lookup import pcs_lookup
    from codesets.search import code_search
    from codesets.services import release_activate, release_import_now

    day = dt.date(2025, 6, 1)
    started = time.perf_counter()
    tables = release_import_now(
        path=data / "icd10pcs" / "fy2025" / "icd10pcs_tables_2025.xml", activate=True
    )
    print(f"{tables.label}: imported in {time.perf_counter() - started:.1f} s")
    for staged in Release.objects.filter(state=Release.State.STAGED):
        release_activate(
            release_id=staged.id,
            user_id=None,
            effective_from=staged.effective_from or day,
            effective_to=staged.effective_to,
        )
    runs = {
        "pcs_lookup": lambda q: pcs_lookup(query=q, day=day, limit=20).hits,
        "code_search icd10pcs": lambda q: (
            code_search(query=q, day=day, systems=["icd10pcs"], limit=20).hits
        ),
    }
    first: dict[str, str] = {}
    for name, run in runs.items():
        times: list[float] = []
        for round_ in range(6):
            for query in SEARCH_QUERIES:
                begun = time.perf_counter()
                hits = run(query)
                if round_:
                    times.append((time.perf_counter() - begun) * 1000)
                first[query] = hits[0].code if hits else "-"
        print(f"{name}: {percentiles(times)}")
    for query, code in first.items():
        print(f"    {query:<40} {code}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument(
        "--search", action="store_true", help="also time the PCS search (see above)"
    )
    args = parser.parse_args()
    configure(args.db_url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from codesets.services import release_import_now

    call_command("migrate", verbosity=0, skip_checks=True)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")

    problems = 0
    print(f"    {'figure':<34} {'ours':>8} {'XML':>8}")
    for year in YEARS:
        folder = args.data / "icd10pcs" / f"fy{year}"
        for kind, stored, independent in (
            ("index", stored_index, independent_index),
            ("definitions", stored_definitions, independent_definitions),
        ):
            path = folder / f"icd10pcs_{kind}_{year}.xml"
            started = time.perf_counter()
            release = release_import_now(path=path, activate=year == YEARS[0])
            seconds = time.perf_counter() - started
            print(
                f"{release.label}: {release.code_count:,} rows, {release.state}, "
                f"imported in {seconds:.1f} s; diff vs "
                f"{release.base_release.label if release.base_release else 'nothing'}: "
                f"{release.diff}"
            )
            problems += compare(stored(release.id), independent(path))
    print(
        "OK: every figure matches" if not problems else f"{problems} figure(s) differ"
    )
    if args.search:
        time_search(args.data)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
