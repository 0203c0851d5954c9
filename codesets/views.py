from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from accounts.permissions import MANAGE_CODESETS, permission_required
from accounts.types import AuthenticatedHttpRequest


@permission_required(MANAGE_CODESETS)
def release_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The code-set admin's home: every release of every system, newest first."""
    return render(request, "codesets/release_list.html", {"releases": []})
