from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_api_refuses_anonymous_callers():
    response = APIClient().get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_token_from_drf_create_token_authenticates(coder, capsys):
    call_command("drf_create_token", coder.username)
    key = Token.objects.get(user=coder).key
    assert key in capsys.readouterr().out
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get("/api/v1/me/")
    assert response.status_code == 200
    assert response.json() == {
        "username": coder.username,
        "roles": ["coder"],
        "permissions": ["accounts.code_encounters", "accounts.view_codes"],
    }


def test_openapi_schema_and_docs_are_served_to_signed_in_users(coder_client):
    schema = coder_client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/me/" in schema.content
    docs = coder_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_openapi_schema_needs_sign_in(client):
    assert client.get("/api/schema/").status_code in (401, 403)


def test_coder_cannot_call_the_admin_worker_ping(coder):
    client = APIClient()
    client.force_authenticate(coder)
    response = client.get("/api/v1/ping/")
    assert response.status_code == 403
