"""API tokens expire and stop with the account; passwords that repeat are refused."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts.models import User

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def _token_client(user) -> tuple[Client, Token]:
    token = Token.objects.create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}"), token


def _lock_out(username: str) -> None:
    client = Client()
    for _ in range(6):
        client.post(
            reverse("accounts:login"), {"username": username, "password": "wrong"}
        )


def test_a_fresh_token_works(coder):
    client, _token = _token_client(coder)
    assert client.get(ME).json()["username"] == coder.username


def test_a_token_older_than_the_absolute_limit_is_refused(coder, settings):
    client, token = _token_client(coder)
    Token.objects.filter(key=token.key).update(
        created=timezone.now()
        - dt.timedelta(seconds=settings.API_TOKEN_MAX_AGE_SECONDS + 60)
    )
    response = client.get(ME)
    assert response.status_code == 401
    assert "Token expired" in response.json()["detail"]


def test_a_token_unused_past_the_idle_limit_is_refused(coder, settings):
    settings.API_TOKEN_IDLE_SECONDS = 3600
    client, token = _token_client(coder)
    assert client.get(ME).status_code == 200
    token.use.last_used_at = timezone.now() - dt.timedelta(hours=2)
    token.use.save(update_fields=["last_used_at"])
    response = client.get(ME)
    assert response.status_code == 401
    assert "unused for more than 1:00:00" in response.json()["detail"]


def test_a_token_in_use_stays_valid_past_the_idle_limit(coder, settings):
    settings.API_TOKEN_IDLE_SECONDS = 3600
    client, token = _token_client(coder)
    Token.objects.filter(key=token.key).update(
        created=timezone.now() - dt.timedelta(minutes=50)
    )
    assert client.get(ME).status_code == 200  # used at minute 50: the clock restarts
    token.use.last_used_at = timezone.now() - dt.timedelta(minutes=50)
    token.use.save(update_fields=["last_used_at"])
    assert client.get(ME).status_code == 200  # 100 minutes old, never idle an hour


def test_a_locked_out_accounts_token_is_refused_until_unlocked(coder, admin_client_):
    client, _token = _token_client(coder)
    _lock_out(coder.username)
    response = client.get(ME)
    assert response.status_code == 401
    assert "locked out" in response.json()["detail"]
    admin_client_.post(reverse("accounts:user_unlock", args=[coder.id]))
    assert client.get(ME).status_code == 200


def test_a_deactivated_accounts_token_is_refused(coder):
    client, _token = _token_client(coder)
    User.objects.filter(id=coder.id).update(is_active=False)
    response = client.get(ME)
    assert response.status_code == 401
    assert "inactive" in response.json()["detail"]


@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [
        ("pat", "aaaaaaaaaaaa", "fewer than 5 different characters"),
        ("coderb", "coderbcoderb", "mostly your username"),
        ("pat", "plum42-plum42-", "one piece repeated"),
    ],
)
def test_the_users_page_refuses_repetitive_passwords(
    admin_client_, username, password, reason
):
    response = admin_client_.post(
        reverse("accounts:user_new"),
        {"username": username, "role": "coder", "password": password},
    )
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not User.objects.filter(username=username).exists()


def test_a_password_reset_refuses_the_username_repeated(admin_client_, coder):
    response = admin_client_.post(
        reverse("accounts:user_password", args=[coder.id]),
        {"password": coder.username * 3},
    )
    assert response.status_code == 400
    assert "mostly your username" in response.content.decode()


def test_the_admin_sites_own_password_change_applies_the_rules(codeset_admin):
    codeset_admin.is_staff = True
    codeset_admin.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(codeset_admin)
    response = client.post(
        "/admin/password_change/",
        {
            "old_password": "correct-horse-battery-staple",
            "new_password1": "alexalexalexalex",
            "new_password2": "alexalexalexalex",
        },
    )
    assert response.status_code == 200  # the form again, with the reason
    assert "mostly your username" in response.content.decode()


def test_a_generated_password_passes_the_new_rules(admin_client_):
    response = admin_client_.post(
        reverse("accounts:user_new"), {"username": "gus", "role": "supervisor"}
    )
    assert response.status_code == 200
    assert User.objects.filter(username="gus").exists()
