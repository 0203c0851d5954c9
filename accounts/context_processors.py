from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse

from accounts import permissions as perms
from accounts.sessions import idle_seconds, session_expires_in, warning_seconds


def navigation(request: HttpRequest) -> dict[str, object]:
    """The navigation bar: only the places the signed-in user's role may go."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    if user.has_perm(perms.CODE_ENCOUNTERS):
        items.append(("Work queue", reverse("encounters:queue")))
    if user.has_perm(perms.VIEW_CODES):
        items.append(("Encoder", reverse("codesets:encoder")))
    if user.has_perm(perms.REVIEW_AUDITS):
        items.append(("Audit queue", reverse("encounters:audit_queue")))
    if user.has_perm(perms.REVIEW_AUDITS) or user.has_perm(perms.MANAGE_USERS):
        items.append(("Reports", reverse("reports:index")))
    if user.has_perm(perms.MANAGE_CODESETS):
        items.append(("Code sets", reverse("codesets:release_list")))
        items.append(("System status", reverse("accounts:status")))
    if user.has_perm(perms.MANAGE_USERS):
        items.append(("Users", reverse("accounts:users")))
    items.append(("API docs", reverse("api-docs")))
    path = request.path
    return {"nav_items": [(label, url, path.startswith(url)) for label, url in items]}


def session_timer(request: HttpRequest) -> dict[str, object]:
    """What the page's idle countdown starts from (templates/base.html,
    static/js/session.js), and the sign-in page's "sessions end after" line."""
    user = getattr(request, "user", None)
    session = getattr(request, "session", None)
    timer: dict[str, object] = {"idle_minutes": max(1, round(idle_seconds() / 60))}
    if user is not None and user.is_authenticated and session is not None:
        timer["session_timer"] = {
            "user": user.pk,
            "expires_in": session_expires_in(session),
            "warning": warning_seconds(),
            "idle": idle_seconds(),
        }
    return timer
