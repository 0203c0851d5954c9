"""Batch claim export (issue 17): N final encounters written as X12 837 in one job,
with the time and the peak memory.

    createdb -h 127.0.0.1 -U postgres coding_bench_export
    DEV_MODE=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_export \\
    REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python bench/export_837.py \\
        [--encounters 10000] [--format x12|fhir] [--validate]

Set-up (skipped when done): migrate, the bundled code sets, N coded demo
encounters (seed_demo's generator; 70% inpatient) set to "final" with the MS-DRG
stored as a submit stores it; the outpatient and professional ones get a CPT line
(99214), which the demo generator does not code, so that every one is billable.

Measured, each on the same job service the Celery task calls
(``claim_export_run``):

1. ``plain``: wall and CPU time of the job, and the process's peak RSS
   (``resource.getrusage``) before and after it;
2. ``traced``: the same job again under ``tracemalloc``: the peak of Python
   allocations during the job, the figure that shows the file is streamed (it
   stays flat as N grows, where building the file in memory would not).
3. ``--validate``: pyx12's validator (what ``x12valid`` runs) over the file.

Results: bench/results/export_837.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encounters", type=int, default=10_000)
    parser.add_argument("--format", choices=["x12", "fhir"], default="x12")
    parser.add_argument("--validate", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    if "bench" not in connection.settings_dict["NAME"]:
        raise SystemExit("Use a database of its own whose name contains 'bench'.")

    from encounters.demo import demo_encounters_create
    from encounters.drg import encounter_drg_stored
    from encounters.interop.models import ClaimExport
    from encounters.interop.services import claim_export_path, claim_export_run
    from encounters.models import Encounter, Procedure

    call_command("migrate", verbosity=0)
    call_command("load_default_codesets", verbosity=0)
    first, last = dt.date(2026, 4, 1), dt.date(2026, 9, 30)
    have = Encounter.objects.filter(status="final").count()
    if have < args.encounters:
        print(f"setting up {args.encounters - have} final encounters ...", flush=True)
        start_id = (
            Encounter.objects.order_by("-id").values_list("id", flat=True).first() or 0
        )
        demo_encounters_create(
            count=args.encounters - have,
            first_discharge=first,
            last_discharge=last,
            coded_share=1.0,
            seed=17,
        )
        new = Encounter.objects.filter(id__gt=start_id).prefetch_related(
            "diagnoses", "procedures"
        )
        for encounter in new.filter(type="inpatient").iterator(chunk_size=500):
            Encounter.objects.filter(id=encounter.id).update(
                drg=encounter_drg_stored(encounter)
            )
        Procedure.objects.bulk_create(
            Procedure(
                encounter_id=e.id,
                sequence=1,
                system="cpt",
                code="99214",
                date=e.admit_date,
                units=1,
            )
            for e in new.exclude(type="inpatient").filter(procedures__isnull=True)
        )
        new.update(status="final")
    total = Encounter.objects.filter(status="final").count()
    settings.CLAIM_EXPORT_DIR = ROOT / "var" / "bench-exports"

    def job() -> ClaimExport:
        export = ClaimExport.objects.create(
            format=args.format, date_from=first, date_to=last
        )
        claim_export_run(export_id=export.id)
        export.refresh_from_db()
        return export

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    export = job()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    tracemalloc.start()
    traced_wall = time.perf_counter()
    traced = job()
    traced_wall = time.perf_counter() - traced_wall
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    result = {
        "encounters_final": total,
        "claims": export.done - len(export.skipped),
        "skipped": len(export.skipped),
        "format": args.format,
        "file_mib": round(export.size / 2**20, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "claims_per_s": round(export.done / wall, 1) if wall else None,
        "peak_rss_mib_before": round(rss_before / 1024, 1),
        "peak_rss_mib_after": round(rss_after / 1024, 1),
        "traced_wall_s": round(traced_wall, 2),
        "tracemalloc_peak_mib": round(peak / 2**20, 2),
    }
    if args.validate and args.format == "x12":
        import pyx12.params
        import pyx12.x12n_document

        started = time.perf_counter()
        with claim_export_path(traced).open() as src:
            ok = pyx12.x12n_document.x12n_document(
                pyx12.params.params(), src, io.StringIO(), None, None
            )
        result["pyx12_valid"] = bool(ok)
        result["pyx12_s"] = round(time.perf_counter() - started, 1)
    for key, value in result.items():
        print(f"{key:24} {value}")
    out = ROOT / "bench" / "results" / "export_837.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
