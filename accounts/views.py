from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.permissions import MANAGE_CODESETS, permission_required
from accounts.redirects import page_answering_get
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
