from __future__ import annotations

import os
import socket
import time

from celery import shared_task


@shared_task(acks_late=True, time_limit=10, soft_time_limit=8)
def worker_ping_task(*, sent_at: float) -> dict[str, object]:
    """Answer the web process's health check: which worker answered, how late."""
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "delay_s": time.time() - sent_at,
    }
