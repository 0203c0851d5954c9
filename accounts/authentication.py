"""API token authentication with an expiry and the account's lockout honoured.

DRF's tokens never expire and keep working while django-axes locks the account
out after failed sign-ins. Here a token is refused (401, saying why) when it was
idle longer than API_TOKEN_IDLE_SECONDS, is older than API_TOKEN_MAX_AGE_SECONDS,
or belongs to a deactivated or locked-out account. A new token comes from
``python manage.py drf_create_token -r USER``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.models import TokenUse
from accounts.selectors import user_locked_usernames

# The last use is written at most this often: not a database write per request.
TOUCH_EVERY = dt.timedelta(seconds=60)


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)  # inactive users: 401
        now = timezone.now()
        max_age = dt.timedelta(seconds=settings.API_TOKEN_MAX_AGE_SECONDS)
        if now - token.created > max_age:
            raise exceptions.AuthenticationFailed(
                "Token expired: it is older than "
                f"{max_age.days or max_age} days. Ask for a new token."
            )
        use = TokenUse.objects.filter(token=token).first()
        last = use.last_used_at if use else token.created
        idle = dt.timedelta(seconds=settings.API_TOKEN_IDLE_SECONDS)
        if now - last > idle:
            raise exceptions.AuthenticationFailed(
                f"Token expired: unused for more than {idle}. Ask for a new token."
            )
        if user_locked_usernames([user.get_username()]):
            raise exceptions.AuthenticationFailed(
                "The account is locked out after failed sign-ins; its tokens work "
                "again once an administrator unlocks it or the lockout ends."
            )
        if use is None or now - use.last_used_at >= TOUCH_EVERY:
            TokenUse.objects.update_or_create(
                token=token, defaults={"last_used_at": now}
            )
        return user, token
