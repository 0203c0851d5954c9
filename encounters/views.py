from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from accounts.permissions import CODE_ENCOUNTERS, REVIEW_AUDITS, permission_required
from accounts.types import AuthenticatedHttpRequest


@permission_required(CODE_ENCOUNTERS)
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The coder's home: encounters assigned to them and unassigned ones."""
    return render(request, "encounters/queue.html", {"encounters": []})


@permission_required(REVIEW_AUDITS)
def audit_queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The supervisor's home: audit findings that need a human decision."""
    return render(request, "encounters/audit_queue.html", {"cases": []})
