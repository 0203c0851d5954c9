"""Console logging: one line per refused request, tracebacks only for server errors."""

from __future__ import annotations

import logging


class OneLineBelow500(logging.Filter):
    """Drop the traceback of a 4xx record. Django logs "Forbidden (Permission
    denied)" with the PermissionDenied's traceback: on a coding floor that is a
    screenful of console for every 403, and the line alone says all there is."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
