from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


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
            (
                "manage_users",
                "Can create users, assign roles, reset passwords, unlock accounts "
                "and set audit sample rates",
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


class UserChange(models.Model):
    """One change an administrator made to a user on the Users page: who, when, what.

    Only ever inserted (accounts.services.user_change_record); the Users page shows
    them as the account's history.
    """

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        ROLE = "role", "Role changed"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        PASSWORD = "password", "Password reset"
        UNLOCKED = "unlocked", "Unlocked"
        SAMPLE_RATE = "sample_rate", "Audit sample rate set"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="changes"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    before = models.CharField(max_length=200, blank=True)
    after = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of user {self.user_id}"


class TokenUse(models.Model):
    """When an API token was last used: the idle expiry of accounts.authentication
    reads it (DRF's Token has only its creation time). Written at most once a
    minute per token."""

    token = models.OneToOneField(
        "authtoken.Token",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="use",
    )
    last_used_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Token of user {self.token.user_id} last used {self.last_used_at}"
