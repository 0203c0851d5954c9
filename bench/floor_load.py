"""The coding floor under load (issue 15): N coders saving and submitting while a
large batch audit and a full code-set import run on the same workers.

    createdb -h 127.0.0.1 -U postgres coding_bench_floor
    DEV_MODE=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_floor \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/floor_load.py \\
        [--users 50] [--seconds 120] [--batch 20000] [--import-file FILE] [--port 8021]

Set-up as bench/coding_save.py (migrate, bundled code sets, demo encounters, one coder
account per simulated user with three claimed encounters), plus ``--batch`` final
encounters for the batch audit and a few spare encounters per coder to submit.

Then gunicorn (``--workers`` x ``--threads``) and the two Celery workers `make run`
starts (interactive: ``--concurrency 2``; bulk: ``--concurrency 1`` under ``nice``), and at once: a batch audit of ``--batch`` encounters, the
import of ``--import-file`` (default: the full ICD-10-CM tabular in ../shared/data, a
byte appended so it is a new file each run), and the coders. Each coder loops like
coding_save.py (HTMX form saves, every fourth an API PATCH, ``--think`` s apart) and
every ``--submit-every`` iterations submits one of its spare encounters through the
API; a poller in this script records when each submitted encounter leaves
"submitted" (the audit job ran: its findings are stored).

Measured: save p50/p95/p99 (client side, as coding_save.py), submit-to-finding
p50/p95 and the submit request itself, and "nothing lost": every submitted
encounter audited, the batch done with one run per encounter, the import staged.
Do not run it at full size on a shared machine; ``--users 5 --seconds 20 --batch 300``
is a smoke run. Results: bench/results/floor_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")

from coding_save import Coder, cpu_reference_ms, percentile, setup  # noqa: E402

DEFAULT_IMPORT = (
    ROOT.parent
    / "shared"
    / "data"
    / "icd10cm"
    / "fy2026_april"
    / "icd10c-tabular-April-1-2026.xml"
)


def spare_encounters(usernames: list[str], per_coder: int) -> dict[str, list[int]]:
    """Claimed, coded encounters each coder will submit."""
    import datetime as dt

    from accounts.models import User
    from encounters.demo import demo_encounters_create
    from encounters.models import Encounter
    from encounters.services import encounter_claim

    needed = len(usernames) * per_coder
    ready = Encounter.objects.filter(
        type="inpatient", status="ready", assigned_to__isnull=True
    ).count()
    if ready < needed:
        demo_encounters_create(
            count=(needed - ready) * 2,
            first_discharge=dt.date(2026, 4, 1),
            last_discharge=dt.date(2026, 9, 30),
            inpatient_share=1.0,
            coded_share=1.0,
            seed=11,
        )
    free = iter(
        Encounter.objects.filter(
            type="inpatient", status="ready", assigned_to__isnull=True
        )
        .filter(diagnoses__isnull=False)
        .distinct()
        .values_list("id", flat=True)[:needed]
    )
    spares: dict[str, list[int]] = {}
    for username in usernames:
        user = User.objects.get(username=username)
        spares[username] = [
            encounter_claim(user=user, encounter_id=next(free)).id
            for _ in range(per_coder)
        ]
    return spares


def batch_encounters(count: int, keep: set[int]) -> list[int]:
    """``count`` encounters for the batch audit (demo ones created as needed), none of
    the coders' own."""
    import datetime as dt

    from encounters.demo import demo_encounters_create
    from encounters.models import Encounter

    have = Encounter.objects.exclude(id__in=keep).count()
    if have < count:
        demo_encounters_create(
            count=count - have,
            first_discharge=dt.date(2026, 4, 1),
            last_discharge=dt.date(2026, 9, 30),
            inpatient_share=0.7,
            coded_share=1.0,
            seed=13,
        )
    return list(
        Encounter.objects.exclude(id__in=keep)
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )


class Submitter(Coder):
    """A coder of coding_save.py who also submits a spare encounter now and then."""

    def __init__(self, *args, spares: list[int], every: int, submitted: dict, **kw):
        super().__init__(*args, **kw)
        self.spares = list(spares)
        self.every = every
        self.submitted = submitted

    def run(self) -> None:
        # Interleave: the parent loop saves; a side loop submits at its own pace.
        side = threading.Thread(target=self._submits, daemon=True)
        side.start()
        super().run()
        side.join()

    def _submits(self) -> None:
        period = max(1.0, self.every * max(self.think, 0.2))
        while self.spares and time.perf_counter() < self.stop_at:
            time.sleep(period * self.random.uniform(0.5, 1.5))
            if time.perf_counter() < self.measure_from:
                continue
            if time.perf_counter() >= self.stop_at:
                break
            encounter_id = self.spares.pop()
            try:
                body = self.api("GET", f"/api/v1/encounters/{encounter_id}/")
                started = time.perf_counter()
                answer = self.api(
                    "POST",
                    f"/api/v1/encounters/{encounter_id}/submit/",
                    {"version": body["version"]},
                )
                self.out["submit"].append(time.perf_counter() - started)
                self.submitted[encounter_id] = (time.time(), answer.get("audit_queued"))
            except urllib.error.HTTPError as exc:
                self.out["errors"].append(f"submit {encounter_id}: HTTP {exc.code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--batch", type=int, default=20000)
    parser.add_argument("--import-file", type=Path, default=DEFAULT_IMPORT)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--think", type=float, default=1.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--submit-every", type=int, default=10)
    parser.add_argument("--spares", type=int, default=4)
    parser.add_argument(
        "--drain", type=float, default=300, help="seconds to wait for the jobs after"
    )
    args = parser.parse_args()
    if not args.import_file.exists():
        parser.error(f"--import-file {args.import_file} does not exist")

    coders = setup(args.users)
    from django.db import connection
    from django.utils import timezone

    from codesets.models import Release
    from codesets.services import DuplicateRelease, release_receive_file
    from coding_app import queues
    from coding_app.devstack import worker_command
    from encounters.audit.services import audit_batch_create
    from encounters.models import AuditBatch, AuditRun, Encounter

    spares = spare_encounters([u for u, _t, _e in coders], args.spares)
    keep = {i for ids in spares.values() for i in ids} | {
        i for _u, _t, ids in coders for i in ids
    }
    batch_ids = batch_encounters(args.batch, keep)
    connection.close()

    base = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    procs = [
        subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "coding_app.wsgi:application",
                "--bind",
                f"127.0.0.1:{args.port}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        ),
        # The two workers of `make run` and compose (coding_app/queues.py).
        subprocess.Popen(
            worker_command(
                queues.INTERACTIVE, name="floor-interactive", loglevel="WARNING"
            ),
            cwd=ROOT,
            env=env,
        ),
        subprocess.Popen(
            worker_command(queues.BULK, name="floor-bulk", loglevel="WARNING"),
            cwd=ROOT,
            env=env,
        ),
    ]
    import urllib.request

    result: dict[str, object] = {}
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/login/").read()
                break
            except OSError:
                time.sleep(0.2)
        # The background load: a batch and an import, queued as the pages do.
        batch = audit_batch_create(
            user=None, encounter_ids=batch_ids, reason="floor load bench"
        )
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / args.import_file.name
            shutil.copyfile(args.import_file, copy)
            with open(copy, "a") as fh:
                fh.write(f"\n<!-- floor load {time.time()} -->\n")
            try:
                release = release_receive_file(
                    path=copy, file_name=copy.name, user_id=None
                )
            except DuplicateRelease as exc:
                release = exc.existing
        out: dict[str, list] = {"form": [], "api": [], "submit": [], "errors": []}
        submitted: dict[int, tuple[float, object]] = {}
        audited: dict[int, float] = {}
        ready = threading.Barrier(len(coders) + 1)
        never = float("inf")
        threads = [
            Submitter(
                base,
                u,
                t,
                e,
                never,
                out,
                args.think,
                never,
                ready,
                spares=spares[u],
                every=args.submit_every,
                submitted=submitted,
            )
            for u, t, e in coders
        ]
        for thread in threads:
            thread.start()
        ready.wait()
        measure_from = time.perf_counter() + args.warmup
        # The wall-clock time of measure_from, to place each save against the
        # batch's and the import's end (database timestamps).
        wall_of_measure = time.time() + (measure_from - time.perf_counter())
        for thread in threads:
            thread.measure_from = measure_from
            thread.stop_at = measure_from + args.seconds

        def poll() -> None:
            waiting = {
                i
                for i in list(submitted)
                if i not in audited
                and Encounter.objects.filter(id=i, status="submitted").exists() is False
            }
            for encounter_id in waiting:
                audited[encounter_id] = time.time()

        while any(t.is_alive() for t in threads):
            poll()
            time.sleep(0.5)
        elapsed = time.perf_counter() - measure_from
        drain_until = time.time() + args.drain
        while time.time() < drain_until:
            poll()
            batch.refresh_from_db()
            done = len(audited) == len(submitted) and batch.state in ("done", "failed")
            if release is not None:
                release.refresh_from_db()
                done = done and release.state != "importing"
            if done:
                break
            time.sleep(1)
        batch.refresh_from_db()
        to_finding = [audited[i] - submitted[i][0] for i in audited]

        def summary(values: list[float]) -> dict | None:
            if not values:
                return None
            return {
                "n": len(values),
                "p50_ms": round(statistics.median(values) * 1000, 1),
                "p95_ms": round(percentile(values, 95) * 1000, 1),
                "p99_ms": round(percentile(values, 99) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1),
            }

        # Form saves by what ran beside them: the batch and the import, the import
        # alone, then neither (the coders' steady state).
        release_end = (
            Release.objects.get(id=release.id).imported_at or timezone.now()
        ).timestamp()
        batch_end = (batch.finished_at or timezone.now()).timestamp()
        phases: dict[str, list[float]] = {}
        for took, at, _kind in out.get("when", []):
            wall = wall_of_measure + at
            running = [
                name
                for name, end in (("batch", batch_end), ("import", release_end))
                if wall < end
            ]
            phases.setdefault(" and ".join(running) or "neither", []).append(took)
        by_phase = {name: summary(values) for name, values in sorted(phases.items())}

        result = {
            "users": args.users,
            "seconds": round(elapsed, 1),
            "gunicorn": f"{args.workers} workers x {args.threads} threads",
            "celery": "interactive worker --concurrency 2, bulk worker --concurrency 1 under nice (as make run / compose)",
            "cpu_reference_ms": cpu_reference_ms(),
            "save": summary(out["form"] + out["api"]),
            "form_save": summary(out["form"]),
            "form_save_while": by_phase,
            "submit_request": summary(out["submit"]),
            "submit_to_finding": summary(to_finding),
            "submitted": len(submitted),
            "submitted_not_queued_at_once": sum(
                1 for _t, queued in submitted.values() if queued is False
            ),
            "audited": len(audited),
            "lost_submits": sorted(set(submitted) - set(audited))[:20],
            "batch": {
                "encounters": batch.total,
                "state": batch.state,
                "done": batch.done,
                "runs": AuditRun.objects.filter(batch=batch).count(),
            },
            "import": None
            if release is None
            else {
                "file": args.import_file.name,
                "state": Release.objects.get(id=release.id).state,
                "codes": Release.objects.get(id=release.id).code_count,
            },
            "errors": len(out["errors"]),
            "first_errors": out["errors"][:5],
        }
        batch_state = AuditBatch.objects.get(id=batch.id).state
        result["nothing_lost"] = (
            not result["lost_submits"]
            and batch_state == "done"
            and result["batch"]["runs"] == batch.total  # type: ignore[index]
            and (release is None or result["import"]["state"] == "staged")  # type: ignore[index]
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "floor_load.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
