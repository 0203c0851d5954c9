"""20 concurrent coders saving codes with the live MS-DRG, the payment estimate, the
what-if DRGs and the live audit checks: latency of each save.

    createdb -h 127.0.0.1 -U postgres coding_bench_coding
    DEV_MODE=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_coding \\
    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/coding_save.py \\
        [--users 20] [--seconds 60] [--workers 4] [--threads 4] [--port 8020]

Set-up (skipped when already done): migrate, the bundled code sets (full ICD-10-CM,
ICD-10-PCS, Table 5), enough demo inpatient encounters, one coder account per
simulated user, each with three claimed encounters.

Each simulated coder pauses ``--think`` seconds on average between saves (default
1 s: a coder saving codes every second is far busier than a real one); ``--think 0``
saves again as soon as the answer arrives, which measures saturation, not latency.

Then gunicorn serves the project (the production server, ``--workers`` processes x
``--threads`` threads) and each simulated coder, in a thread of this script with its
own session, loops: change the codes of one of their encounters (add or remove a
secondary diagnosis, alternately a CC and a non-CC) and save through the coding form
exactly as the browser does (HTMX POST, CSRF token, ``action=save``). Every response
is the re-rendered panel with the messages, the live DRG and the live checks (the
audit rules run on the rows, encounters.audit.selectors); the new version is read
from it for the next save. Also measured: the same through the API
(``PATCH /api/v1/encounters/<id>/`` with a token), every fourth iteration.

Latency is measured by the client (request sent to last byte), so it includes HTTP
and gunicorn: an upper bound of the server-side time. Results: bench/results/.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")
PASSWORD = "bench-coder-password-1"

# Secondary diagnoses the coders toggle: a CC (changes the DRG) and a non-CC.
TOGGLES = ("E87.1", "E78.5", "N17.9", "I10")


def setup(users: int) -> list[tuple[str, str, list[int]]]:
    import django

    django.setup()
    import datetime as dt

    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from encounters.demo import demo_encounters_create, demo_payment_rates_ensure
    from encounters.models import Encounter
    from encounters.services import encounter_claim

    call_command("migrate", verbosity=0)
    call_command("load_default_codesets", verbosity=0)
    needed = users * 3
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
            seed=7,
        )
    # The demo facilities' illustrative IPPS rates: every save prices the DRG and
    # the what-if alternatives (issue 13).
    demo_payment_rates_ensure([2026])
    coders = []
    group = Group.objects.get(name="coder")
    for n in range(users):
        user, created = User.objects.get_or_create(username=f"bench-coder-{n}")
        if created:
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
            user.groups.add(group)
        token, _ = Token.objects.get_or_create(user=user)
        mine = list(
            Encounter.objects.filter(
                assigned_to=user, status__in=["in_progress", "ready"]
            ).values_list("id", flat=True)[:3]
        )
        for encounter_id in Encounter.objects.filter(
            type="inpatient", status="ready", assigned_to__isnull=True
        ).values_list("id", flat=True)[: 3 - len(mine)]:
            encounter_claim(user=user, encounter_id=encounter_id)
            mine.append(encounter_id)
        coders.append((user.username, token.key, mine))
    return coders


class Coder(threading.Thread):
    def __init__(
        self,
        base: str,
        username: str,
        token: str,
        encounters: list[int],
        stop_at: float,
        out: dict,
        think: float = 0.0,
        measure_from: float = 0.0,
        ready: threading.Barrier | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.username, self.token = base, username, token
        self.encounters, self.stop_at, self.out = encounters, stop_at, out
        self.think = think
        # Saves started before this moment warm the server's processes up and are
        # not counted (see main).
        self.measure_from = measure_from
        self.ready = ready
        self.random = random.Random(username)
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar)
        )

    def _csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def login(self) -> None:
        self.opener.open(f"{self.base}/login/").read()
        body = urllib.parse.urlencode(
            {
                "username": self.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self._csrf(),
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.base}/login/", data=body, headers={"Referer": f"{self.base}/login/"}
        )
        self.opener.open(request).read()

    def api(self, method: str, path: str, payload: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(payload).encode() if payload is not None else None,
            method=method,
            headers={
                "Authorization": f"Token {self.token}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    def form_save(self, encounter_id: int, version: int, dx: list[dict]) -> int:
        fields = {
            "version": version,
            "dx-count": len(dx),
            "px-count": 0,
            "action": "save",
        }
        for n, d in enumerate(dx):
            fields[f"dx-{n}-code"] = d["code"]
            fields[f"dx-{n}-poa"] = d["poa"]
        request = urllib.request.Request(
            f"{self.base}/encounters/{encounter_id}/coding/",
            data=urllib.parse.urlencode(fields).encode(),
            headers={
                "HX-Request": "true",
                "X-CSRFToken": self._csrf(),
                "Referer": f"{self.base}/encounters/{encounter_id}/",
            },
        )
        started = time.perf_counter()
        with self.opener.open(request) as response:
            html = response.read().decode()
        if started >= self.measure_from:
            self.out["form"].append(time.perf_counter() - started)
            self.out.setdefault("when", []).append(
                (time.perf_counter() - started, started - self.measure_from, "form")
            )
        if "Draft saved" not in html or "DRG " not in html:
            self.out["errors"].append(f"{encounter_id}: no save/DRG in the panel")
        if 'data-testid="checks-summary"' not in html:
            self.out["errors"].append(f"{encounter_id}: no live checks in the panel")
        return int(re.search(r'name="version" value="(\d+)"', html).group(1))

    def run(self) -> None:
        try:
            self.login()
        except Exception as exc:
            self.out["errors"].append(f"login {self.username}: {exc}")
            return
        state = {}
        for encounter_id in self.encounters:
            body = self.api("GET", f"/api/v1/encounters/{encounter_id}/")
            state[encounter_id] = (body["version"], body["diagnoses"])
        if self.ready is not None:
            self.ready.wait()  # every coder signed in (password hashing) first
        n = 0
        while time.perf_counter() < self.stop_at:
            encounter_id = self.encounters[n % len(self.encounters)]
            version, dx = state[encounter_id]
            codes = [d["code"] for d in dx]
            toggle = TOGGLES[n % len(TOGGLES)]
            if toggle in codes[1:]:
                dx = [d for d in dx if d["code"] != toggle or d is dx[0]]
            else:
                dx = [*dx, {"code": toggle, "poa": "Y"}]
            dx = [{"code": d["code"], "poa": d.get("poa") or "Y"} for d in dx]
            try:
                if n % 4 == 3:
                    started = time.perf_counter()
                    body = self.api(
                        "PATCH",
                        f"/api/v1/encounters/{encounter_id}/",
                        {"version": version, "diagnoses": dx},
                    )
                    if started >= self.measure_from:
                        self.out["api"].append(time.perf_counter() - started)
                    if not body.get("drg"):
                        self.out["errors"].append(f"{encounter_id}: API without DRG")
                    version = body["version"]
                else:
                    version = self.form_save(encounter_id, version, dx)
            except urllib.error.HTTPError as exc:
                self.out["errors"].append(f"{encounter_id}: HTTP {exc.code}")
                body = self.api("GET", f"/api/v1/encounters/{encounter_id}/")
                version, dx = body["version"], body["diagnoses"]
            state[encounter_id] = (version, dx)
            n += 1
            if self.think:
                time.sleep(self.think * self.random.uniform(0.5, 1.5))


def cpu_reference_ms() -> float:
    """A pure-Python loop's best time: how fast this (virtual) machine's CPU is right
    now. On the shared 2-core VM it varied 1.5x within minutes (120 vs 180 ms), and
    the save latency with it: compare runs only at a similar reference."""
    import timeit

    return round(
        min(timeit.repeat("sum(range(100000))", number=100, repeat=5)) * 1000, 1
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=8020)
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="Seconds of saves before the measured ones, not counted: each gunicorn "
        "worker opens the grouper and reads its per-process tables (POA-exempt list, "
        "Table 5, DRG families) on its first saves, once per process start.",
    )
    parser.add_argument(
        "--think",
        type=float,
        default=1.0,
        help="Mean seconds a coder pauses between saves (uniform 0.5x-1.5x); "
        "0 = save again as soon as the answer arrives (a saturation test).",
    )
    args = parser.parse_args()

    coders = setup(args.users)
    reference_before = cpu_reference_ms()
    base = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    server = subprocess.Popen(
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
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/login/").read()
                break
            except OSError:
                time.sleep(0.2)
        out: dict[str, list] = {"form": [], "api": [], "errors": []}
        ready = threading.Barrier(len(coders) + 1)
        never = float("inf")
        threads = [
            Coder(base, u, t, e, never, out, args.think, never, ready)
            for u, t, e in coders
        ]
        for thread in threads:
            thread.start()
        ready.wait()  # all signed in; the warm-up starts now
        measure_from = time.perf_counter() + args.warmup
        for thread in threads:
            thread.measure_from = measure_from
            thread.stop_at = measure_from + args.seconds
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - measure_from
    finally:
        server.terminate()
        server.wait(timeout=30)

    def summary(values: list[float]) -> dict:
        return {
            "n": len(values),
            "p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
        }

    result = {
        "users": args.users,
        "seconds": round(elapsed, 1),
        "gunicorn": f"{args.workers} workers x {args.threads} threads",
        "think_seconds": args.think,
        "warmup_seconds": args.warmup,
        "cpu_reference_ms": [reference_before, cpu_reference_ms()],
        "cpus": os.cpu_count(),
        "form_save": summary(out["form"]),
        "api_patch": summary(out["api"]) if out["api"] else None,
        "all_saves": summary(out["form"] + out["api"]),
        "saves_per_second": round((len(out["form"]) + len(out["api"])) / elapsed, 1),
        "errors": len(out["errors"]),
        "first_errors": out["errors"][:5],
        "slowest": [
            {"ms": round(t * 1000, 1), "at_s": round(at, 1), "kind": kind}
            for t, at, kind in sorted(out.get("when", []), reverse=True)[:8]
        ],
    }
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "coding_save.json").write_text(
        json.dumps(result, indent=2)
    )


if __name__ == "__main__":
    main()
