from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from pathlib import Path

from axes.utils import reset as axes_reset
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Role, User, UserChange
from accounts.permissions import MANAGE_USERS, ROLE_PERMISSIONS, role_grants


def role_groups_sync(*, using: str = "default") -> None:
    """Make each role group hold exactly the permissions ROLE_PERMISSIONS gives it."""
    user_type = ContentType.objects.db_manager(using).get_for_model(User)
    names = dict(User._meta.permissions)
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        permissions = [
            Permission.objects.using(using).get_or_create(
                content_type=user_type,
                codename=codename,
                defaults={"name": names[codename]},
            )[0]
            for codename in codenames
        ]
        group.permissions.set(permissions)


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    created_by: User | None = None,
) -> User:
    """Create a user in the given role groups; the password must pass the validators.

    ``created_by`` (the Users page) records the creation in the user's history.
    """
    user = User(
        username=username, first_name=first_name, last_name=last_name, email=email
    )
    _password_validate(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    roles = [Role(r).value for r in roles]
    user.groups.set(Group.objects.filter(name__in=roles))
    if created_by is not None:
        user_change_record(
            user=user,
            changed_by=created_by,
            action=UserChange.Action.CREATED,
            after=_roles_label(roles),
        )
    return user


def _password_validate(password: str, user: User) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None


def user_change_record(
    *,
    user: User,
    changed_by: User | None,
    action: str,
    before: str = "",
    after: str = "",
) -> UserChange:
    """Append one line to the user's history (the Users page shows it). Never holds
    a password: ``before``/``after`` are roles, states and rates."""
    return UserChange.objects.create(
        user=user, changed_by=changed_by, action=action, before=before, after=after
    )


def _roles_label(roles: Iterable[str]) -> str:
    return ", ".join(Role(r).label for r in roles) or "no role"


def _may_change(*, user: User, changed_by: User) -> None:
    # Whoever resets a superuser's password becomes that superuser: only a superuser may.
    if user.is_superuser and not changed_by.is_superuser:
        raise ValidationError("Only a superuser can change a superuser's account.")


def _locked_user(user_id: int) -> User:
    return User.objects.select_for_update().get(id=user_id)


@transaction.atomic
def user_role_set(*, user: User, role: str, changed_by: User) -> User:
    """Give the user exactly one role. Admins cannot take user management from
    themselves (nobody would be left to give it back)."""
    user = _locked_user(user.id)
    _may_change(user=user, changed_by=changed_by)
    role = Role(role).value
    keeps_users = role_grants(role, MANAGE_USERS)
    if user.id == changed_by.id and not (user.is_superuser or keeps_users):
        raise ValidationError(
            "You cannot remove your own permission to manage users; "
            "ask another administrator."
        )
    before = user.roles
    if before == [role]:
        return user
    user.groups.set(Group.objects.filter(name=role))
    user_change_record(
        user=user,
        changed_by=changed_by,
        action=UserChange.Action.ROLE,
        before=_roles_label(before),
        after=_roles_label([role]),
    )
    return user


@transaction.atomic
def user_active_set(*, user: User, active: bool, changed_by: User) -> User:
    """Deactivate (sign-in refused, sessions and API tokens stop working at the next
    request) or reactivate. Users are never deleted: histories refer to them."""
    user = _locked_user(user.id)
    _may_change(user=user, changed_by=changed_by)
    if user.id == changed_by.id and not active:
        raise ValidationError("You cannot deactivate your own account.")
    if user.is_active == active:
        return user
    user.is_active = active
    user.save(update_fields=["is_active"])
    user_change_record(
        user=user,
        changed_by=changed_by,
        action=(
            UserChange.Action.REACTIVATED if active else UserChange.Action.DEACTIVATED
        ),
    )
    return user


def password_generate() -> str:
    """A password the validators accept, for an administrator to hand over once."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


@transaction.atomic
def user_password_set(*, user: User, password: str, changed_by: User) -> User:
    """Set a new password (validated); the user's other sessions end with it."""
    user = _locked_user(user.id)
    _may_change(user=user, changed_by=changed_by)
    _password_validate(password, user)
    user.set_password(password)
    user.save(update_fields=["password"])
    user_change_record(
        user=user, changed_by=changed_by, action=UserChange.Action.PASSWORD
    )
    return user


@transaction.atomic
def user_unlock(*, user: User, changed_by: User) -> int:
    """Clear django-axes' failed sign-ins of this username from every address, so
    the user can sign in again now; returns how many records were cleared."""
    cleared = axes_reset(username=user.username)
    user_change_record(
        user=user,
        changed_by=changed_by,
        action=UserChange.Action.UNLOCKED,
        after=f"{cleared} failed sign-in record(s) cleared" if cleared else "",
    )
    return cleared


DEMO_USERS = (
    ("coder", Role.CODER, "Casey", "Coder"),
    ("supervisor", Role.SUPERVISOR, "Sam", "Supervisor"),
    ("admin", Role.CODESET_ADMIN, "Alex", "Admin"),
)


@transaction.atomic
def demo_users_ensure(*, credentials_file: Path) -> dict[str, str]:
    """Create (or reset) one demo user per role, for `make run` on a developer machine.

    Passwords are random, kept in ``credentials_file`` (mode 0600) so they stay
    the same across restarts, and returned so the caller can print them.
    """
    known: dict[str, str] = {}
    if credentials_file.exists():
        known = json.loads(credentials_file.read_text())
    for username, role, first, last in DEMO_USERS:
        password = known.get(username) or f"{username}-{secrets.token_urlsafe(9)}"
        known[username] = password
        user = User.objects.filter(username=username).first()
        if user is None:
            user_create(
                username=username,
                password=password,
                roles=[role],
                first_name=first,
                last_name=last,
            )
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
            user.groups.set(Group.objects.filter(name=role.value))
    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    credentials_file.touch(mode=0o600)
    credentials_file.chmod(0o600)
    credentials_file.write_text(json.dumps(known, indent=2))
    return known
