"""CPU of one coding-form save in process (no HTTP, no gunicorn): the same HTMX
POST as bench/coding_save.py (``action=save``, alternately adding and removing a
secondary diagnosis), through Django's test Client, against the database that
bench/coding_save.py set up (run that once first).

    DEV_MODE=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_coding \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/coding_save_cpu.py \\
        [--saves 200] [--profile 30]

Prints the process CPU time per save (``time.process_time``: this process only, not
PostgreSQL's), the wall time, and the queries per save; ``--profile N`` prints the
top N functions of a cProfile run by cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")

TOGGLES = ("E87.1", "E78.5")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args()
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from accounts.models import User
    from encounters.models import Encounter

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = User.objects.get(username="bench-coder-0")
    encounter = Encounter.objects.filter(
        assigned_to=user, status__in=["in_progress", "ready"]
    ).first()
    assert encounter is not None, "run bench/coding_save.py once first"
    client = Client()
    client.force_login(user)
    base = [(d.display, d.poa) for d in encounter.diagnoses.all()]
    base = [d for d in base if d[0] not in TOGGLES]
    state = {"version": encounter.version, "n": 0}

    def save() -> None:
        state["n"] += 1
        extra = [(TOGGLES[state["n"] % 2], "Y")] if state["n"] % 3 else []
        rows = base + extra
        fields = {
            "version": state["version"],
            "dx-count": len(rows),
            "px-count": 0,
            "action": "save",
        }
        for n, (code, poa) in enumerate(rows):
            fields[f"dx-{n}-code"] = code
            fields[f"dx-{n}-poa"] = poa
        response = client.post(
            f"/encounters/{encounter.id}/coding/", fields, HTTP_HX_REQUEST="true"
        )
        html = response.content.decode()
        assert "Draft saved" in html, html[:2000]
        assert "DRG " in html, html[:2000]
        found = re.search(r'name="version" value="(\d+)"', html)
        assert found is not None
        state["version"] = int(found.group(1))

    for _ in range(10):  # warm the caches of the process
        save()
    queries: list[str] = []

    def record(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        # Where each query comes from: the innermost frame of the project's code.
        site = next(
            (
                f"{f.filename.removeprefix(str(ROOT) + '/')}:{f.lineno} {f.name}"
                for f in reversed(traceback.extract_stack()[:-1])
                if f.filename.startswith(str(ROOT))
                and "/.venv/" not in f.filename
                and not f.filename.endswith("coding_save_cpu.py")
            ),
            "?",
        )
        queries.append(f"[{site}] {sql}")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        save()
    cpu, wall = [], []
    for _ in range(args.saves):
        c0, w0 = time.process_time(), time.perf_counter()
        save()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
    print(
        f"{args.saves} saves of encounter {encounter.id} "
        f"({len(base)}-{len(base) + 1} diagnoses): "
        f"CPU per save mean {statistics.mean(cpu):.1f} ms, "
        f"median {statistics.median(cpu):.1f} ms; "
        f"wall median {statistics.median(wall):.1f} ms; "
        f"{len(queries)} queries per save"
    )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(30):
            save()
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(args.profile)
        stats.sort_stats("tottime").print_stats(args.profile)
    if os.environ.get("SHOW_QUERIES"):
        for sql in queries:
            print(sql[:400])


if __name__ == "__main__":
    main()
