from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import MANAGE_CODESETS, permission_required
from accounts.types import AuthenticatedHttpRequest

# Where each role lands after signing in.
ROLE_HOME = {
    Role.CODER: "encounters:queue",
    Role.SUPERVISOR: "encounters:audit_queue",
    Role.CODESET_ADMIN: "codesets:release_list",
}


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_redirect_url(self) -> str:
        """``next``, when it is a same-site page that answers GET. A session that
        ran out during a POST (a save of the coding form) sends its POST-only URL as
        ``next``: the nearest page above it takes its place (``/encounters/7/coding/``
        → ``/encounters/7/``); a URL with no such page gives "" (the home page)."""
        return page_answering_get(super().get_redirect_url())


def page_answering_get(url: str) -> str:
    """``url`` if its path resolves to a view that answers GET, else the nearest
    parent path that does, else "". ``url`` is already checked to be same-site."""
    parts = urlsplit(url)
    path, query = parts.path, parts.query
    while path.startswith("/") and path != "/":
        try:
            match = resolve(path)
        except Resolver404:
            match = None
        if match is not None and _answers_get(match.func):
            return f"{path}?{query}" if query else path
        path = path.rstrip("/").rsplit("/", 1)[0] + "/"
        query = ""  # the parameters were the other page's
    return ""


def _answers_get(view: Callable[..., Any]) -> bool:
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return hasattr(view_class, "get")
    # Function views: the methods given to require_http_methods (require_POST…),
    # found in the closures along the decorators' __wrapped__ chain.
    func: Any = view
    while func is not None:
        methods = inspect.getclosurevars(func).nonlocals.get("request_method_list")
        if methods is not None:
            return "GET" in methods
        func = getattr(func, "__wrapped__", None)
    return True


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    role = request.user.primary_role
    if role:
        return redirect(ROLE_HOME[Role(role)])
    return render(request, "accounts/no_role.html", status=403)


@permission_required(MANAGE_CODESETS)
def system_status(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Database and background-worker health, for the code-set admin."""
    from accounts.selectors import system_health
    from encounters.selectors import grouper_coverage

    return render(
        request,
        "accounts/status.html",
        {
            "health": system_health(),
            "ping_url": reverse("api:worker-ping"),
            "grouper": grouper_coverage(today=timezone.localdate()),
        },
    )
