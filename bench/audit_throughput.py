"""Audit throughput of one worker process on 10,000 demo encounters, DRG included.

    createdb -h 127.0.0.1 -U postgres coding_bench_audit
    DEV_MODE=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_audit \\
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/audit_throughput.py \\
        [--encounters 10000] [--repeat 2]

Set-up (skipped when done): migrate, the bundled code sets, 10,000 coded demo
encounters (seed_demo's generator; 70% inpatient) set to "submitted".

Measured, each from a cold process cache where it says so:

1. ``worker``: a real Celery worker process (``celery worker --pool solo``, one
   process) runs an audit batch of all the encounters; time from the task being
   picked up (batch state "running") to "done", read from the database. This is
   the figure for the budget (>= 500 encounters/s per worker process).
2. ``in-process``: the same engine called directly, ``--repeat`` times on fresh
   audit keys, to show the spread.

Every audit runs all rules, the MCE and the MS-DRG grouping (plus its weight) for
each inpatient encounter, and writes the AuditRun, the findings and the routing in
one transaction per chunk (AUDIT_CHUNK, default 500). Results: bench/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds: robust to a
    machine shared with other work, unlike the wall clock."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encounters", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import Count

    from coding_app.devstack import solo_worker_command
    from encounters.audit import knowledge
    from encounters.audit.engine import audit_encounters
    from encounters.demo import demo_encounters_create
    from encounters.models import AuditBatch, AuditRun, Encounter, Finding

    call_command("migrate", verbosity=0)
    call_command("load_default_codesets", verbosity=0)
    have = Encounter.objects.filter(status="submitted").count()
    if have < args.encounters:
        demo_encounters_create(
            count=args.encounters - have,
            first_discharge=dt.date(2026, 4, 1),
            last_discharge=dt.date(2026, 9, 30),
            coded_share=1.0,
            seed=11,
        )
        Encounter.objects.filter(status="ready").update(status="submitted")
    ids = list(
        Encounter.objects.filter(status="submitted")
        .order_by("id")
        .values_list("id", flat=True)[: args.encounters]
    )
    inpatient = Encounter.objects.filter(id__in=ids, type="inpatient").count()
    print(f"{len(ids)} encounters ({inpatient} inpatient)")

    # 1. A real worker process.
    batch = AuditBatch.objects.create(reason="benchmark", encounter_ids=ids)
    from encounters.tasks import audit_batch_task

    queue = f"bench-audit-{os.getpid()}"
    audit_batch_task.apply_async(kwargs={"batch_id": batch.id}, queue=queue)
    worker = subprocess.Popen(  # our own venv's celery
        solo_worker_command(queue),
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = None
        cpu_at_start = 0.0
        while True:
            state = AuditBatch.objects.values_list("state", flat=True).get(id=batch.id)
            if state == "running" and started is None:
                started = time.perf_counter()
                cpu_at_start = _cpu_seconds(worker.pid)
            if state in ("done", "failed"):
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - (started or time.perf_counter())
        worker_cpu = _cpu_seconds(worker.pid) - cpu_at_start
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    batch.refresh_from_db()
    worker_rate = len(ids) / elapsed
    findings = dict(
        Finding.objects.filter(run__batch=batch)
        .values_list("rule")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    info = Finding.objects.filter(run__batch=batch, severity="info").count()
    drgs = AuditRun.objects.filter(batch=batch, drg__drg__isnull=False).count()
    print(
        f"worker: {len(ids)} in {elapsed:.2f} s = {worker_rate:.0f} encounters/s "
        f"({batch.state}); {worker_cpu:.2f} s of worker CPU = "
        f"{len(ids) / max(worker_cpu, 1e-9):.0f} encounters per CPU second; "
        f"{batch.findings} findings ({info} info = {info / len(ids):.3f} per "
        f"encounter); {drgs} DRGs"
    )

    # 2. In process, fresh keys each time (a new batch row = a new audit run).
    runs, cpu_runs = [], []
    for n in range(args.repeat):
        knowledge.cache_clear()
        fresh = AuditBatch.objects.create(reason=f"benchmark in-process {n}")
        t, cpu = time.perf_counter(), time.process_time()
        stats = audit_encounters(encounter_ids=ids, trigger="batch", batch=fresh)
        runs.append(len(ids) / (time.perf_counter() - t))
        cpu_runs.append(len(ids) / (time.process_time() - cpu))
        print(
            f"in-process run {n + 1}: {runs[-1]:.0f} encounters/s, "
            f"{cpu_runs[-1]:.0f} per CPU second of this process "
            f"({stats.findings} findings)"
        )

    result = {
        "encounters": len(ids),
        "inpatient": inpatient,
        "worker_seconds": round(elapsed, 2),
        "worker_encounters_per_second": round(worker_rate),
        "worker_cpu_seconds": round(worker_cpu, 2),
        "worker_encounters_per_cpu_second": round(len(ids) / max(worker_cpu, 1e-9)),
        "in_process_encounters_per_second": [round(r) for r in runs],
        "in_process_encounters_per_cpu_second": [round(r) for r in cpu_runs],
        "findings_by_rule": findings,
        "info_findings_per_encounter": round(info / len(ids), 3),
        "load_average": os.getloadavg(),
        "drgs": drgs,
        "chunk": settings.AUDIT_CHUNK,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "audit_throughput.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
