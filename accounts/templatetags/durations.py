from __future__ import annotations

import datetime as dt

from django import template

register = template.Library()


def _part(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


@register.filter
def duration_words(delta: dt.timedelta | None) -> str:
    """A timedelta in words: "15 minutes", "1 hour 30 minutes" (not "PT15M")."""
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = [
        _part(n, unit)
        for n, unit in (
            (days, "day"),
            (hours, "hour"),
            (minutes, "minute"),
            (seconds, "second"),
        )
        if n
    ]
    return " ".join(parts) or "0 minutes"
