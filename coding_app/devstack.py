"""The developer stack behind `make run` and `make test`.

``python -m coding_app.devstack run``: take the run lock, start (or use) the
database and Redis, migrate, create the demo users, load the bundled code sets,
then run the web server, a Celery worker per queue (interactive, bulk) and Celery
beat until Ctrl-C.

``python -m coding_app.devstack test [pytest args]``: the same services, then
the whole test suite.

When ``DATABASE_URL`` / ``REDIS_URL`` are set they are used as they are;
otherwise the embedded servers of ``coding_app.embedded`` start under ./var/
and this process keeps them alive for its children.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from coding_app import queues

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable


def say(message: str) -> None:
    print(f"[make] {message}", flush=True)


def prepare_environment() -> None:
    """Point DATABASE_URL / REDIS_URL at real servers, starting embedded ones if unset."""
    os.environ["DEV_MODE"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")
    from coding_app import embedded

    if not os.environ.get("DATABASE_URL"):
        say(
            "DATABASE_URL is unset: starting the embedded PostgreSQL under ./var/pgdata"
        )
        os.environ["DATABASE_URL"] = embedded.embedded_database_url()
    else:
        say("Using DATABASE_URL from the environment")
    if not os.environ.get("REDIS_URL"):
        say("REDIS_URL is unset: starting the embedded Redis under ./var/")
        os.environ["REDIS_URL"] = embedded.embedded_redis_url()
    else:
        say("Using REDIS_URL from the environment")


def take_run_lock() -> IO[str]:
    """One `make run` per checkout: a second one is told so and stops before touching anything."""
    VAR_DIR.mkdir(exist_ok=True)
    lock = open(VAR_DIR / "run.lock", "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        say(
            f"Another `make run` is already running from this folder ({holder}). Stop it first (Ctrl-C in its terminal)."
        )
        sys.exit(1)
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}")
    lock.flush()
    return lock


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def ready_banner(url: str, credentials_file: Path) -> list[str]:
    """The lines `make run` ends its start-up with: the address and, beside it, the
    demo users' passwords (seed_demo prints them first, but the servers' start-up
    logs scroll them away)."""
    lines = [f"The workbench is running at {url}  (Ctrl-C stops web, workers and beat)"]
    try:
        passwords = json.loads(credentials_file.read_text())
    except (OSError, ValueError):
        return lines
    lines.append("Sign in as (demo users, development only):")
    lines.extend(
        f"  {username:<11} password: {password}"
        for username, password in passwords.items()
    )
    return lines


def wait_for_port(host: str, port: int, seconds: float) -> None:
    """Until the web server accepts connections (or ``seconds`` pass)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.25)


def _celery_worker(*queues: str) -> list[str]:
    """This project's Celery worker on the given queues (this venv's Python)."""
    return [
        PYTHON,
        "-m",
        "celery",
        "-A",
        "coding_app",
        "worker",
        "-Q",
        ",".join(queues),
    ]


def solo_worker_command(*queues: str) -> list[str]:
    """A real Celery worker process of this project on the given queues, one task at
    a time (`--pool solo`), quiet: what the audit benchmark and the worker-kill tests
    start."""
    return [
        *_celery_worker(*queues),
        "--pool",
        "solo",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


# The bulk worker (imports, batch audits, release re-audits, claim exports) runs one
# job at a time at a lower CPU priority: when the machine is busy the coders' pages
# and the audits of their submits get the CPU first, and bulk work takes what is
# left; an idle machine still gives it a core. Measured on two cores with 50 coders
# saving beside a 20,000-encounter batch and a full ICD-10-CM import (issue 15,
# bench/floor_load.py): save p95 563-662 ms with two bulk processes, 451 ms with one
# under `nice`. docker-compose.yml and docs/deployment.md start it the same way.
WORKER_CONCURRENCY = {queues.INTERACTIVE: 2, queues.BULK: 1}
BULK_NICENESS = 10


def worker_command(queue: str, *, name: str, loglevel: str = "INFO") -> list[str]:
    """The worker of one queue as `make run` starts it (docker-compose.yml has the same)."""
    lower = ["nice", "-n", str(BULK_NICENESS)] if queue == queues.BULK else []
    return [
        *lower,
        *_celery_worker(queue),
        "-l",
        loglevel,
        "--concurrency",
        str(WORKER_CONCURRENCY.get(queue, 2)),
        "-n",
        f"{name}-{os.getpid()}@%h",
        # Nobody to synchronise with at start-up, and a second sooner ready.
        "--without-mingle",
    ]


def manage(*args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, check=True)


def run(host: str, port: int, load_codesets: bool) -> int:
    lock = take_run_lock()
    if not port_is_free(host, port):
        say(
            f"Port {port} on {host} is in use by another program. Use `make run PORT=8001` or stop that program."
        )
        return 1
    os.environ.setdefault("DEBUG", "1")
    prepare_environment()
    say("Applying database migrations")
    manage("migrate", "--noinput", "-v", "0")
    manage("seed_demo")
    if load_codesets:
        say(
            "Loading the bundled code sets (first run only; later runs skip what is loaded)"
        )
        manage("load_default_codesets")
        # Demo encounters for the work queue and the audit queue: created once (the
        # command only adds when asked, so later runs keep what was coded).
        manage(
            "seed_demo",
            "--skip-users",
            "--encounters-if-none",
            "300",
            "--submitted-share",
            # README: "about a third already submitted by the demo coder".
            "0.33",
        )
    VAR_DIR.mkdir(exist_ok=True)
    children = {
        "web": [PYTHON, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
        # A worker per queue (coding_app.queues): a coder's submit audit never waits
        # behind an import or a batch audit.
        "worker": worker_command(queues.INTERACTIVE, name="interactive"),
        "bulk worker": worker_command(queues.BULK, name="bulk"),
        "beat": [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "coding_app",
            "beat",
            "-l",
            "INFO",
            "--schedule",
            str(VAR_DIR / "celerybeat-schedule"),
        ],
    }
    # Each child in its own session: Ctrl-C reaches only us, and we stop them in order.
    procs = {
        name: subprocess.Popen(cmd, cwd=BASE_DIR, start_new_session=True)
        for name, cmd in children.items()
    }
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    # Once the servers have logged their start-up, so that this is the last thing on
    # screen (the worker and beat log their banners within a second or two).
    wait_for_port(host, port, seconds=30)
    time.sleep(5)
    if not stopping:
        for line in ready_banner(
            f"http://{host}:{port}/", VAR_DIR / "demo_credentials.json"
        ):
            say(line)
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                say(
                    f"The {name} process stopped unexpectedly (exit code {proc.returncode}); stopping the others."
                )
                exit_code = 1
                stopping = True
                break
        time.sleep(0.5)
    say("Stopping web, workers and beat ...")
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"The {name} process did not stop in time; killing it.")
            proc.kill()
            proc.wait()
    lock.close()
    say("Stopped.")
    return exit_code


def test(pytest_args: list[str]) -> int:
    prepare_environment()
    result = subprocess.run(
        [PYTHON, "-m", "pytest", *pytest_args], cwd=BASE_DIR, check=False
    )
    return result.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="set up and start web, workers and beat")
    run_parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    run_parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PORT", "8000"))
    )
    run_parser.add_argument(
        "--no-codesets", action="store_true", help="skip loading the bundled code sets"
    )
    test_parser = sub.add_parser("test", help="run the whole test suite")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    # pytest's own options (`make test PYTEST_ARGS="--create-db -k lookup"`) are not
    # ours: argparse would refuse a leading one, so they are passed on as they come.
    args, unknown = parser.parse_known_args(argv)
    if args.command == "run":
        if unknown:
            parser.error(f"unrecognized arguments: {' '.join(unknown)}")
        return run(args.host, args.port, load_codesets=not args.no_codesets)
    return test([*unknown, *args.pytest_args])


if __name__ == "__main__":
    sys.exit(main())
