"""The one place that says which role may do what, for views and the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission

CODE_ENCOUNTERS = "accounts.code_encounters"
REVIEW_AUDITS = "accounts.review_audits"
MANAGE_CODESETS = "accounts.manage_codesets"
VIEW_CODES = "accounts.view_codes"
IMPORT_ENCOUNTERS = "accounts.import_encounters"
MANAGE_USERS = "accounts.manage_users"

# What each role group grants; accounts.services.role_groups_sync applies it after
# every migrate.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "coder": ("code_encounters", "view_codes"),
    "supervisor": (
        "review_audits",
        "code_encounters",
        "view_codes",
        "import_encounters",
    ),
    # The code-set admin is the site's administrator: the Users page is theirs too
    # (docs/architecture.md, "Who manages users").
    "codeset_admin": ("manage_codesets", "manage_users", "view_codes"),
}


def role_grants(role: str, perm: str) -> bool:
    """Whether the role group ``role`` holds ``perm`` ("accounts.codename")."""
    return perm.split(".", 1)[1] in ROLE_PERMISSIONS.get(role, ())


def permission_required(
    perm: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Sign-in required (redirect to login), then 403 when the role lacks ``perm``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def api_permission(perm: str) -> type[BasePermission]:
    """A DRF permission class granting access to signed-in users whose role has ``perm``."""

    class HasRolePermission(BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request: Any, view: Any) -> bool:
            user = request.user
            return bool(user and user.is_authenticated and user.has_perm(perm))

    HasRolePermission.__name__ = f"Has_{perm.split('.')[-1]}"
    return HasRolePermission
