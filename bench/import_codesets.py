"""Benchmark: parsing vs importing the full official ICD-10-CM and ICD-10-PCS files.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench \\
        .venv/bin/python bench/import_codesets.py [--db-url URL] [--data DIR] [--repeat N]

For each pair of releases (ICD-10-CM tabular XML FY2025 April then FY2026 April;
ICD-10-PCS tables XML FY2025 then FY2026), in one run:

(a) parse: ``importer.parse(path)`` alone (the importer ``detect_importer`` picks);
(b) import: ``codesets.services.release_import_now(path=...)``: receive the file,
    parse it, write the staged release (codes, notes, PCS tables) and compute the
    diff against the release in force. The first release of each pair is then
    activated (timed apart, not part of (b)) so that the second one is diffed
    against it: the second import is the one with a real diff.

Reported per file: seconds, rows/s (rows = codes + notes of the release, chapters
and blocks included: what the import writes), the ratio import/parse, and the
rows physically inserted (rows shared with the previous release are not copied).
The DESIGN budget is checked: a full ICD-10-CM tabular import, diff included,
≤ 60 s on the 2-core machine. Exit status 1 when over budget.

Every run starts from empty code-set tables: the script TRUNCATEs codesets_release,
codesets_code, codesets_note and codesets_pcstable (CASCADE), so it refuses a
database whose name does not contain "bench". It applies pending migrations to that
database. Results: a table on stdout and bench/results/import_codesets.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "import_codesets.json"
BUDGET_CM_IMPORT_S = 60.0

PAIRS = {
    "icd10cm": [
        ("icd10cm FY2025 April", "icd10cm/fy2025_april/icd10cm-tabular-April-2025.xml"),
        (
            "icd10cm FY2026 April",
            "icd10cm/fy2026_april/icd10c-tabular-April-1-2026.xml",
        ),
    ],
    "icd10pcs": [
        ("icd10pcs FY2025", "icd10pcs/fy2025/icd10pcs_tables_2025.xml"),
        ("icd10pcs FY2026", "icd10pcs/fy2026/icd10pcs_tables_2026.xml"),
    ],
}
TABLES = ("codesets_release", "codesets_code", "codesets_note", "codesets_pcstable")


def configure(db_url: str | None) -> str:
    """Point Django at the bench database; returns its name. Must run before django.setup()."""
    url = db_url or os.environ.get("DATABASE_URL", "")
    if not url:
        sys.exit(
            "Give --db-url or set DATABASE_URL (a database of your own whose name contains 'bench')."
        )
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(
            f"Refusing to run on database {name!r}: this benchmark empties the code-set tables, "
            "so the database name must contain 'bench'."
        )
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "coding_app.settings"
    os.environ.setdefault("DEV_MODE", "1")
    # Imports run in this process (no queue); a Redis URL keeps the settings from
    # starting the embedded Redis.
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
    # The receive step copies each file under MEDIA_ROOT/imports: keep ours private.
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="bench-media-")
    sys.path.insert(0, str(ROOT))
    return name


def prepare_database(expected_name: str) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    actual = connection.settings_dict["NAME"]
    if actual != expected_name or "bench" not in actual:
        sys.exit(f"Refusing to run: connected to {actual!r}.")
    if MigrationExecutor(connection).migration_plan(
        MigrationExecutor(connection).loader.graph.leaf_nodes()
    ):
        print(f"Applying migrations to {actual} ...")
        call_command("migrate", verbosity=0)


def empty_codesets() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
        cursor.execute(f"ANALYZE {', '.join(TABLES)}")


def table_rows() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM codesets_code) + (SELECT count(*) FROM codesets_note)"
        )
        return cursor.fetchone()[0]


def measure_file(name: str, path: Path, *, activate: bool) -> dict:
    from codesets import importers
    from codesets.selectors import release_diff_rows
    from codesets.services import release_activate, release_import_now

    importer = importers.detect_importer(path)
    gc.collect()
    start = time.perf_counter()
    parsed = importer.parse(path)
    parse_s = time.perf_counter() - start
    codes, notes, pcs_tables = (
        len(parsed.codes),
        len(parsed.notes),
        len(parsed.pcs_tables),
    )
    del parsed
    gc.collect()

    before = table_rows()
    start = time.perf_counter()
    release = release_import_now(path=path)
    import_s = time.perf_counter() - start
    new_rows = table_rows() - before

    diff_s = None
    if release.base_release_id:
        start = time.perf_counter()
        release_diff_rows(release=release, base=release.base_release)
        diff_s = time.perf_counter() - start
    activate_s = None
    staged_state = release.state
    if activate:
        start = time.perf_counter()
        release = release_activate(
            release_id=release.id,
            user_id=None,
            effective_from=release.effective_from,
            effective_to=release.effective_to,
        )
        activate_s = time.perf_counter() - start

    rows = codes + notes
    return {
        "name": name,
        "system": importer.system,
        "format": importer.name,
        "file": str(path),
        "size_bytes": path.stat().st_size,
        "parse_s": round(parse_s, 3),
        "import_s": round(import_s, 3),
        "ratio_import_parse": round(import_s / parse_s, 2),
        "codes": codes,
        "notes": notes,
        "pcs_tables": pcs_tables,
        "rows": rows,
        "parse_rows_per_s": round(rows / parse_s),
        "import_rows_per_s": round(rows / import_s),
        "new_rows_inserted": new_rows,
        "diff_rerun_s": None if diff_s is None else round(diff_s, 3),
        "activate_s": None if activate_s is None else round(activate_s, 3),
        "release": {
            "label": release.label,
            "state": staged_state,
            "state_after_run": release.state,
            "effective_from": str(release.effective_from),
            "base": release.base_release.label if release.base_release_id else None,
            "code_count": release.code_count,
            "billable_count": release.billable_count,
            "note_count": release.note_count,
            "diff": release.diff,
            "warnings": release.warnings,
            "progress_message": release.progress_message,
        },
    }


def one_run(data: Path) -> list[dict]:
    empty_codesets()
    out = []
    for pair in PAIRS.values():
        for i, (name, rel) in enumerate(pair):
            result = measure_file(name, data / rel, activate=i < len(pair) - 1)
            out.append(result)
            print(
                f"  {name}: parse {result['parse_s']:.2f} s, import {result['import_s']:.2f} s",
                flush=True,
            )
    return out


def git_head() -> str:
    """The commit measured, with a mark when the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (+ uncommitted changes)" if dirty else "")


def median_of(runs: list[list[dict]]) -> list[dict]:
    """Per file: the last run's figures with seconds replaced by the median over runs."""
    merged = []
    for i, last in enumerate(runs[-1]):
        row = dict(last)
        for key in ("parse_s", "import_s", "diff_rerun_s", "activate_s"):
            values = [run[i][key] for run in runs if run[i][key] is not None]
            row[key] = round(statistics.median(values), 3) if values else None
        row["ratio_import_parse"] = round(row["import_s"] / row["parse_s"], 2)
        row["parse_rows_per_s"] = round(row["rows"] / row["parse_s"])
        row["import_rows_per_s"] = round(row["rows"] / row["import_s"])
        row["runs"] = [
            {"parse_s": run[i]["parse_s"], "import_s": run[i]["import_s"]}
            for run in runs
        ]
        merged.append(row)
    return merged


def print_table(rows: list[dict]) -> None:
    head = (
        f"{'file':<22}{'codes':>8}{'notes':>8}{'rows':>8}{'parse s':>9}{'rows/s':>9}"
        f"{'import s':>10}{'rows/s':>9}{'import/parse':>13}{'new rows':>10}  diff vs base"
    )
    print(f"{'':<46}{'-- parse only --':>18}{'-- full import + diff --':>19}")
    print(head)
    print("-" * (len(head) + 30))
    for r in rows:
        d = r["release"]["diff"]
        diff = (
            f"+{d.get('added', 0):,} -{d.get('deleted', 0):,} ~{d.get('revised', 0):,} "
            f"billable {d.get('billable_changed', 0):,}"
            if r["release"]["base"]
            else f"(first release: {d.get('added', 0):,} added)"
        )
        print(
            f"{r['name']:<22}{r['codes']:>8,}{r['notes']:>8,}{r['rows']:>8,}{r['parse_s']:>9.2f}"
            f"{r['parse_rows_per_s']:>9,}{r['import_s']:>10.2f}{r['import_rows_per_s']:>9,}"
            f"{r['ratio_import_parse']:>13.1f}{r['new_rows_inserted']:>10,}  {diff}"
        )
    print()
    for r in rows:
        rel = r["release"]
        extra = (
            f"; diff alone (re-run) {r['diff_rerun_s']:.2f} s"
            if r["diff_rerun_s"] is not None
            else ""
        )
        if r["activate_s"] is not None:
            extra += (
                f"; then activated ({r['activate_s']:.2f} s) as the base of the next"
            )
        print(
            f"{r['name']}: release '{rel['label']}' {rel['state']}, {rel['code_count']:,} codes "
            f"({rel['billable_count']:,} billable), {rel['note_count']:,} notes, {r['pcs_tables']:,} PCS tables{extra}"
        )
        for warning in rel["warnings"]:
            print(f"    warning: {warning}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--db-url", help="PostgreSQL URL of the bench database (default: $DATABASE_URL)"
    )
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs (seconds reported: the median)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    db_name = configure(args.db_url)
    import django

    django.setup()
    from django.db import connection

    prepare_database(db_name)
    media_root = os.environ["MEDIA_ROOT"]
    # The machine is shared: note how busy it was, since it moves the figures.
    load_before = os.getloadavg()
    runs = []
    try:
        for n in range(args.repeat):
            print(f"Run {n + 1}/{args.repeat} on database {db_name}", flush=True)
            runs.append(one_run(args.data))
    finally:
        shutil.rmtree(media_root, ignore_errors=True)
    load_after = os.getloadavg()
    rows = median_of(runs)
    print()
    print_table(rows)

    cm = [r for r in rows if r["system"] == "icd10cm"]
    worst = max(r["import_s"] for r in cm)
    within = worst <= BUDGET_CM_IMPORT_S
    print(
        f"\nBudget (DESIGN): full ICD-10-CM tabular import incl. diff ≤ {BUDGET_CM_IMPORT_S:.0f} s: "
        f"slowest {worst:.1f} s -> {'WITHIN BUDGET' if within else 'OVER BUDGET'}"
    )

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    result = {
        "benchmark": "import_codesets",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "postgres": pg_version,
            "database": db_name,
            "load_avg_1_5_15_before": [round(x, 2) for x in load_before],
            "load_avg_1_5_15_after": [round(x, 2) for x in load_after],
        },
        "git_head": git_head(),
        "repeat": args.repeat,
        "budget": {
            "cm_import_max_s": BUDGET_CM_IMPORT_S,
            "cm_import_worst_s": worst,
            "within": within,
        },
        "imports": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"Load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/"
        f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(f"Written {args.output}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
