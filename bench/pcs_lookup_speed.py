"""Time the PCS search through the Index (``codesets.pcs_lookup.pcs_lookup``) and the
code search for ICD-10-PCS (``codesets.search.code_search``, which calls it), against
the ``pcs_lookup.py`` of another revision, interleaved in one process under the same
load.

    .venv/bin/python bench/check_pcs_index.py --search \\
        --db-url postgres://postgres@127.0.0.1:5432/coding_explain_bench   # loads
    .venv/bin/python bench/pcs_lookup_speed.py --load-fy2026 \\
        --db-url postgres://postgres@127.0.0.1:5432/coding_explain_bench \\
        --against b6f5097 --day 2026-03-01

``--load-fy2026`` imports and activates the FY2026 tables and Definitions (once) and
keeps the FY2025 Index in force after FY2025 (``data/`` has no FY2026 Index): the
search on a FY2026 date then reads the FY2026 tables, the FY2025 Index and the FY2026
Definitions, with FY2025 stored beside them.

For each round (one warm-up, then ``--rounds``) and each query of
``check_pcs_index.SEARCH_QUERIES``, the revision's module and this tree's run one
after the other (which goes first alternates per round); p50 and p95 of each, and
whether they gave the same codes, titles and Index entries for every query. Without
``--against``, this tree alone. The database name must contain "bench".
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from check_pcs_index import (  # noqa: E402
    ROOT,
    SEARCH_QUERIES,
    configure,
    percentiles,
)


def load_fy2026(data: Path) -> None:
    from django.db import connection

    from codesets.models import Release, System, Table
    from codesets.services import release_import_now

    folder = data / "icd10pcs" / "fy2026"
    for name, system in (
        ("icd10pcs_tables_2026.xml", System.ICD10PCS),
        ("icd10pcs_definitions_2026.xml", Table.ICD10PCS_DEFINITIONS),
    ):
        if not Release.objects.filter(
            system=system, version__startswith="2026"
        ).exists():
            started = time.perf_counter()
            release = release_import_now(path=folder / name, activate=True)
            print(f"{release.label}: imported in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        # The last Index stays in force until a later one is imported.
        cursor.execute(
            "UPDATE codesets_release SET effective_to = NULL WHERE id = ("
            "SELECT max(id) FROM codesets_release WHERE system = %s AND state = %s)",
            [Table.ICD10PCS_INDEX, Release.State.ACTIVE],
        )


def module_of(revision: str) -> ModuleType:
    """``codesets/pcs_lookup.py`` as it is at ``revision``, imported on its own."""
    source = subprocess.run(
        ["git", "show", f"{revision}:codesets/pcs_lookup.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "pcs_lookup_then.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("pcs_lookup_then", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["pcs_lookup_then"] = module
    spec.loader.exec_module(module)
    return module


def runs(module: ModuleType, day: dt.date) -> dict[str, Callable[[str], tuple]]:
    import codesets.pcs_lookup as ours
    from codesets.search import code_search

    def lookup(query: str) -> tuple:
        found = module.pcs_lookup(query=query, day=day, limit=20)
        return (
            [(h.code, h.title) for h in found.hits],
            [(e.path, e.see, e.use, e.code) for e in found.entries],
            found.approach_definition,
        )

    def search(query: str) -> tuple:
        # code_search imports the hook from codesets.pcs_lookup when it runs.
        kept = ours.lead_with_index_hits
        ours.lead_with_index_hits = module.lead_with_index_hits
        try:
            hits = code_search(query=query, day=day, systems=["icd10pcs"], limit=20)
        finally:
            ours.lead_with_index_hits = kept
        return ([(h.code, h.title) for h in hits.hits],)

    return {"pcs_lookup": lookup, "code_search icd10pcs": search}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db-url")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument(
        "--day", type=dt.date.fromisoformat, default=dt.date(2026, 3, 1)
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--against", help="a git revision to compare with")
    parser.add_argument("--load-fy2026", action="store_true")
    args = parser.parse_args()
    configure(args.db_url)
    import django

    django.setup()
    import codesets.pcs_lookup as ours

    if args.load_fy2026:
        load_fy2026(args.data)
    versions = {"this tree": ours}
    if args.against:
        versions = {args.against: module_of(args.against), "this tree": ours}
    differ = 0
    for name in ("pcs_lookup", "code_search icd10pcs"):
        timed = {v: runs(m, args.day)[name] for v, m in versions.items()}
        times: dict[str, list[float]] = {v: [] for v in versions}
        for round_ in range(args.rounds + 1):
            order = list(versions) if round_ % 2 else list(reversed(versions))
            for query in SEARCH_QUERIES:
                got = {}
                for version in order:
                    begun = time.perf_counter()
                    got[version] = timed[version](query)
                    if round_:
                        times[version].append((time.perf_counter() - begun) * 1000)
                if len({repr(g) for g in got.values()}) > 1:
                    differ += 1
                    print(f"    DIFFERS on {query!r} ({name})")
        for version in versions:
            print(f"{name} [{version}]: {percentiles(times[version])}")
    print(f"{args.day}: {len(SEARCH_QUERIES)} queries x {args.rounds} rounds")
    if args.against:
        print("same results" if not differ else f"{differ} differing results")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
