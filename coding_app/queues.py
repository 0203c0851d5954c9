"""The two Celery queues, by how long their jobs run (issue 15).

``interactive``: what a person waits for (the audit of a coder's submit, the web
process's health ping, the job sweep); seconds at most. ``bulk``: imports, batch
audits, the re-audit after a release, claim exports; minutes to hours. Each queue
has a worker of its own (`make run`, docker-compose.yml, docs/deployment.md), so a
submit's audit never waits behind a 30-minute import. Read by the settings, the
router below and `coding_app.devstack` before Django is set up, hence plain
environment variables.
"""

from __future__ import annotations

import os
from typing import Any

INTERACTIVE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE") or "interactive"
BULK = os.environ.get("CELERY_BULK_QUEUE") or "bulk"

BULK_TASKS = frozenset(
    {
        "codesets.tasks.release_import_task",
        "encounters.tasks.audit_batch_task",
        "encounters.tasks.reaudit_after_release_task",
        "encounters.interop.tasks.claim_export_run_task",
    }
)


def route_task(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str] | None:
    """Celery router (``task_routes``): bulk jobs to the bulk queue, the rest to the
    default (interactive) queue. Reads the setting at each send, so a test run's own
    queue names apply."""
    if name in BULK_TASKS:
        from django.conf import settings

        return {"queue": settings.CELERY_BULK_QUEUE}
    return None
