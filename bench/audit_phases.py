"""Where the audit engine's time goes: wall and CPU per phase, in process.

    DEV_MODE=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_audit \\
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/audit_phases.py [N]

Runs on a database audit_throughput.py has set up: wraps the engine's functions
(reading lines, rules, MCE, DRG, findings) and every bulk_create with timers, audits
500 encounters to warm the caches, then N (default 5,000) as one batch and prints the
wall and CPU seconds of each phase. CPU time is the figure to compare on a shared
machine.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")

PHASES = (
    "_lines",
    "_load_knowledge",
    "_edit_tables",
    "_case",
    "run_rules",
    "mce_edits",
    "_drg",
    "coding_key",
    "_findings_of",
    "_findings_store",
    "_runs_insert",
)


def main() -> None:
    import django

    django.setup()
    from django.db.models import QuerySet

    from encounters.audit import engine
    from encounters.models import AuditBatch, Encounter

    spent: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])

    def timed(label, func):
        def wrapper(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                row = spent[label]
                row[0] += time.perf_counter() - wall
                row[1] += time.process_time() - cpu
                row[2] += 1

        return wrapper

    for name in PHASES:
        if hasattr(engine, name):
            setattr(engine, name, timed(name, getattr(engine, name)))
    bulk_create = QuerySet.bulk_create

    def bulk_create_timed(self, objs, *args, **kwargs):
        return timed(f"bulk_create {self.model.__name__}", bulk_create)(
            self, objs, *args, **kwargs
        )

    QuerySet.bulk_create = bulk_create_timed  # type: ignore[method-assign]

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    ids = list(Encounter.objects.order_by("id").values_list("id", flat=True)[:count])
    warm = AuditBatch.objects.create(reason="phases: warm-up")
    engine.audit_encounters(encounter_ids=ids[:500], trigger="batch", batch=warm)
    spent.clear()
    batch = AuditBatch.objects.create(reason="phases")
    wall, cpu = time.perf_counter(), time.process_time()
    engine.audit_encounters(encounter_ids=ids, trigger="batch", batch=batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{len(ids)} encounters: wall {wall:.2f} s = {len(ids) / wall:.0f}/s; "
        f"CPU {cpu:.2f} s = {len(ids) / cpu:.0f}/s (load {os.getloadavg()[0]:.1f})"
    )
    for label, (w, c, n) in sorted(spent.items(), key=lambda kv: -kv[1][1]):
        print(f"  {label:28s} wall {w:6.2f} s  CPU {c:6.2f} s  calls {n}")


if __name__ == "__main__":
    main()
