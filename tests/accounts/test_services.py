from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from accounts.models import Role, User
from accounts.services import demo_users_ensure, user_create

pytestmark = pytest.mark.django_db


def test_weak_passwords_are_refused():
    with pytest.raises(ValidationError) as error:
        user_create(username="weak", password="password", roles=[Role.CODER])
    assert "too short" in str(error.value) or "too common" in str(error.value)


def test_user_create_puts_the_user_in_the_role_group():
    user = user_create(
        username="dana", password="a-long-passphrase-42", roles=[Role.SUPERVISOR]
    )
    assert user.roles == ["supervisor"]
    assert user.has_perm("accounts.review_audits")
    assert not user.has_perm("accounts.manage_codesets")


def test_roles_grant_the_expected_permissions():
    coder = user_create(
        username="c1", password="a-long-passphrase-42", roles=[Role.CODER]
    )
    admin = user_create(
        username="a1", password="a-long-passphrase-42", roles=[Role.CODESET_ADMIN]
    )
    assert coder.has_perm("accounts.code_encounters")
    assert not coder.has_perm("accounts.review_audits")
    assert admin.has_perm("accounts.manage_codesets")
    assert not admin.has_perm("accounts.code_encounters")


def test_demo_users_keep_their_passwords_across_runs(tmp_path):
    credentials = tmp_path / "demo.json"
    first = demo_users_ensure(credentials_file=credentials)
    second = demo_users_ensure(credentials_file=credentials)
    assert first == second
    assert set(first) == {"coder", "supervisor", "admin"}
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    assert json.loads(credentials.read_text()) == first
    user = User.objects.get(username="coder")
    assert user.check_password(first["coder"])
    assert user.roles == ["coder"]


def test_seed_demo_refuses_outside_dev_mode(settings):
    settings.DEBUG = False
    settings.DEV_MODE = False
    with pytest.raises(Exception, match="only runs with DEBUG or DEV_MODE"):
        call_command("seed_demo")
