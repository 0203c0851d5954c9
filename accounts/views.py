from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import permissions as perms
from accounts.forms import (
    SampleRateForm,
    UserActiveForm,
    UserCreateForm,
    UserPasswordForm,
    UserRoleForm,
)
from accounts.models import Role, User
from accounts.permissions import MANAGE_CODESETS, MANAGE_USERS, permission_required
from accounts.redirects import page_answering_get
from accounts.selectors import user_change_list, user_list, user_locked_usernames
from accounts.services import (
    password_generate,
    user_active_set,
    user_create,
    user_password_set,
    user_role_set,
    user_unlock,
)
from accounts.sessions import (
    idle_seconds,
    session_expires_in,
    session_touch,
    warning_seconds,
)
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


# Where someone with permissions but no role lands (a superuser, an account given
# permissions one by one): the first page they may open.
PERMISSION_HOME = (
    (perms.MANAGE_USERS, "accounts:users"),
    (perms.REVIEW_AUDITS, "encounters:audit_queue"),
    (perms.CODE_ENCOUNTERS, "encounters:queue"),
    (perms.MANAGE_CODESETS, "codesets:release_list"),
    (perms.VIEW_CODES, "codesets:encoder"),
)


@login_required
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    role = request.user.primary_role
    if role:
        return redirect(ROLE_HOME[Role(role)])
    for perm, url_name in PERMISSION_HOME:
        if request.user.has_perm(perm):
            return redirect(url_name)
    return render(request, "accounts/no_role.html", status=403)


@never_cache
@require_http_methods(["GET", "POST"])
def session(request: HttpRequest) -> JsonResponse:
    """The page's idle countdown (static/js/session.js): GET asks how long is left
    without counting as activity; POST ("Stay signed in", a key pressed in the page)
    slides the idle logoff. A session that has ended answers 401."""
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False}, status=401)
    if request.method == "POST":
        session_touch(request.session, force=True)
    return JsonResponse(
        {
            "signed_in": True,
            "expires_in": session_expires_in(request.session),
            "idle": idle_seconds(),
            "warning": warning_seconds(),
        }
    )


# Asking how long is left is not activity (accounts.middleware.SessionIdleMiddleware).
session.keeps_idle_clock = True  # type: ignore[attr-defined]


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


def _codes(user: User) -> bool:
    """Whether the user's role codes encounters (and so has an audit sample rate)."""
    return any(perms.role_grants(role, perms.CODE_ENCOUNTERS) for role in user.roles)


@permission_required(MANAGE_USERS)
def users(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Everyone who may sign in: role, state, last sign-in, lockout, sample rate."""
    from encounters.selectors import audit_sample_rates

    people = list(user_list())
    locked = user_locked_usernames([u.username for u in people])
    rates = audit_sample_rates(coder_ids=[u.id for u in people])
    rows = [
        (u, u.username in locked, rates.get(u.id) if _codes(u) else None, _codes(u))
        for u in people
    ]
    return render(
        request,
        "accounts/users.html",
        {
            "rows": rows,
            "default_rate": settings.AUDIT_SAMPLE_RATE,
            "changes": user_change_list(limit=20),
        },
    )


def _password_shown(
    request: AuthenticatedHttpRequest, user: User, password: str
) -> HttpResponse:
    """The generated password, once: rendered (not redirected to), never stored
    (the views showing it are never_cache: no-store)."""
    return render(
        request, "accounts/password_shown.html", {"person": user, "password": password}
    )


@never_cache
@permission_required(MANAGE_USERS)
def user_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        password = data["password"] or password_generate()
        try:
            user = user_create(
                username=data["username"],
                password=password,
                roles=[data["role"]],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                created_by=request.user,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if not data["password"]:
                return _password_shown(request, user, password)
            messages.success(request, f"User {user.username} created.")
            return redirect("accounts:user", user_id=user.id)
    status = 400 if form.errors else 200
    return render(request, "accounts/user_new.html", {"form": form}, status=status)


def _detail(
    request: AuthenticatedHttpRequest, person: User, status: int = 200, **forms: Form
) -> HttpResponse:
    from encounters.selectors import audit_sample_rates

    rate = audit_sample_rates(coder_ids=[person.id]).get(person.id)
    context: dict[str, Any] = {
        "person": person,
        "locked": bool(user_locked_usernames([person.username])),
        "codes": _codes(person),
        "rate": rate,
        "default_rate": settings.AUDIT_SAMPLE_RATE,
        "changes": user_change_list(user=person, limit=50),
        "role_form": UserRoleForm(initial={"role": person.primary_role}),
        "password_form": UserPasswordForm(),
        "rate_form": SampleRateForm(initial={"rate": rate}),
        "active_form": UserActiveForm(),
    }
    context.update(forms)
    return render(request, "accounts/user_detail.html", context, status=status)


@permission_required(MANAGE_USERS)
def user_detail(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    return _detail(request, get_object_or_404(User, id=user_id))


def _apply(
    request: AuthenticatedHttpRequest,
    person: User,
    form: Form,
    name: str,
    change: Callable[[dict[str, Any]], object],
    done: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """Validate ``form``, call the service ``change(data)``, then back to the user's
    page with ``done``; a refused change shows the page again with the reason."""
    if form.is_valid():
        try:
            change(form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, done(form.cleaned_data))
            return redirect("accounts:user", user_id=person.id)
    return _detail(request, person, status=400, **{name: form})


@require_POST
@permission_required(MANAGE_USERS)
def user_role(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, id=user_id)
    return _apply(
        request,
        person,
        UserRoleForm(request.POST),
        "role_form",
        lambda data: user_role_set(
            user=person, role=data["role"], changed_by=request.user
        ),
        lambda data: f"Role of {person.username}: {Role(data['role']).label}.",
    )


@require_POST
@permission_required(MANAGE_USERS)
def user_active(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, id=user_id)
    return _apply(
        request,
        person,
        UserActiveForm(request.POST),
        "active_form",
        lambda data: user_active_set(
            user=person, active=data["active"], changed_by=request.user
        ),
        lambda data: (
            f"{person.username} {'reactivated' if data['active'] else 'deactivated'}."
        ),
    )


@never_cache
@require_POST
@permission_required(MANAGE_USERS)
def user_password(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, id=user_id)
    form = UserPasswordForm(request.POST)
    if form.is_valid():
        password = form.cleaned_data["password"] or password_generate()
        try:
            user_password_set(user=person, password=password, changed_by=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if person.id == request.user.id:
                update_session_auth_hash(request, person)
            if not form.cleaned_data["password"]:
                return _password_shown(request, person, password)
            messages.success(request, f"Password of {person.username} reset.")
            return redirect("accounts:user", user_id=person.id)
    return _detail(request, person, status=400, password_form=form)


@require_POST
@permission_required(MANAGE_USERS)
def user_unlock_view(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, id=user_id)
    user_unlock(user=person, changed_by=request.user)
    messages.success(request, f"{person.username} can sign in again.")
    return redirect("accounts:user", user_id=person.id)


@require_POST
@permission_required(MANAGE_USERS)
def user_sample_rate(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    from encounters.audit.services import audit_sample_rate_set

    person = get_object_or_404(User, id=user_id)
    return _apply(
        request,
        person,
        SampleRateForm(request.POST),
        "rate_form",
        lambda data: audit_sample_rate_set(
            coder=person, rate=data["rate"], changed_by=request.user
        ),
        lambda data: f"Audit sample rate of {person.username} saved.",
    )
