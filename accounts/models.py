from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    """The three kinds of people who use the site; each is a Group of the same name."""

    CODER = "coder", "Coder"
    SUPERVISOR = "supervisor", "Supervisor"
    CODESET_ADMIN = "codeset_admin", "Code-set admin"


class User(AbstractUser):
    """A person who signs in. What they may do comes from their role groups."""

    # django-stubs 5.2.9 does not declare AbstractUser.Meta, which Django has at
    # runtime (typeddjango/django-stubs#2112, fixed by #3200).
    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        swappable = "AUTH_USER_MODEL"
        permissions = [
            ("code_encounters", "Can claim and code encounters"),
            ("review_audits", "Can review the audit queue and correct coding"),
            ("manage_codesets", "Can import, review and activate code-set releases"),
            ("view_codes", "Can look up codes in the encoder"),
            (
                "import_encounters",
                "Can create encounters through the API (EHR feeds; grant to a feed's account)",
            ),
        ]

    @property
    def roles(self) -> list[str]:
        # Ordered by Role so the "primary" role is stable; uses the prefetch cache when present.
        names = {group.name for group in self.groups.all()}
        return [role.value for role in Role if role.value in names]

    @property
    def primary_role(self) -> str:
        roles = self.roles
        return roles[0] if roles else ""

    @property
    def role_labels(self) -> str:
        return ", ".join(Role(role).label for role in self.roles)
