"""Password rules beyond Django's own (settings.AUTH_PASSWORD_VALIDATORS): a long
password made of one character or one repeated word, or of the username repeated,
passes the length rule and Django's similarity check but is guessed at once."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError


class CharacterVarietyValidator:
    """At least ``min_distinct`` different characters, and not one shorter piece
    repeated (``aaaaaaaaaaaa``, ``abc123abc123``)."""

    def __init__(self, min_distinct: int = 5) -> None:
        self.min_distinct = min_distinct

    def validate(self, password: str, user: Any = None) -> None:
        if len(set(password.lower())) < self.min_distinct:
            raise ValidationError(
                f"This password uses fewer than {self.min_distinct} different "
                "characters.",
                code="password_low_variety",
            )
        if _repeated_unit(password.lower()):
            raise ValidationError(
                "This password is one piece repeated.", code="password_repeated"
            )

    def get_help_text(self) -> str:
        return (
            f"Your password must use at least {self.min_distinct} different "
            "characters and must not be one piece repeated."
        )


class UsernameRepeatValidator:
    """What is left once the username is taken out must still be ``min_rest``
    characters long (``coderbcoderb`` for user coderb leaves nothing)."""

    def __init__(self, min_rest: int = 8) -> None:
        self.min_rest = min_rest

    def validate(self, password: str, user: Any = None) -> None:
        username = (getattr(user, "username", "") or "").lower()
        if len(username) < 3:
            return
        rest = password.lower().replace(username, "")
        if len(rest) < self.min_rest:
            raise ValidationError(
                "This password is mostly your username.",
                code="password_username_repeated",
            )

    def get_help_text(self) -> str:
        return (
            "Your password must not be mostly your username: without it, at least "
            f"{self.min_rest} characters must remain."
        )


def _repeated_unit(text: str) -> bool:
    """Whether ``text`` is a shorter string repeated two or more times."""
    return len(text) > 1 and text in (text + text)[1:-1]
