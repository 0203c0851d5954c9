"""Turn the code references inside instructional notes into links to those codes."""

from __future__ import annotations

import re

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# E11.65, T36.0X1A, E08.-, A00-A09, K70.3- ... as the tabular writes them.
CODE_REFERENCE = re.compile(r"\b([A-TV-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(\.?-)?")


@register.filter
def link_codes(text: str, dos: object = None) -> SafeString:
    escaped = str(escape(text))
    query = f"?dos={dos}" if dos else ""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        url = (
            reverse("codesets:code_panel", args=["icd10cm", code.replace(".", "")])
            + query
        )
        return (
            f'<a href="{url}" hx-get="{url}" hx-target="#code-panel" class="code-ref">'
            f"{code}{match.group(2) or ''}</a>"
        )

    return mark_safe(CODE_REFERENCE.sub(replace, escaped))  # noqa: S308 - built from escaped text
