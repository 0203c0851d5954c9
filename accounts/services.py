from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from pathlib import Path

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from accounts.models import Role, User
from accounts.permissions import ROLE_PERMISSIONS


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
) -> User:
    """Create a user in the given role groups; the password must pass the validators."""
    user = User(
        username=username, first_name=first_name, last_name=last_name, email=email
    )
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    user.save()
    user.groups.set(Group.objects.filter(name__in=[Role(r).value for r in roles]))
    return user


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
