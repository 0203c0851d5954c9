"""The idle logoff as the server keeps it, and the page's view of it (/session/)."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _signed_in(client: Client, user, password: str) -> Client:
    client.post(
        reverse("accounts:login"), {"username": user.username, "password": password}
    )
    client.get(reverse("encounters:queue"))  # the first page slides the clock
    return client


def _idle_for(client: Client, seconds: int) -> None:
    session = client.session
    session["_touched"] = int(time.time()) - seconds
    session.save()


def test_session_status_says_how_long_is_left(client: Client, coder, password):
    _signed_in(client, coder, password)
    _idle_for(client, 100)
    body = client.get(reverse("accounts:session")).json()
    assert body["signed_in"] is True
    assert 15 * 60 - 102 <= body["expires_in"] <= 15 * 60 - 100
    assert body["warning"] == 120
    assert body["idle"] == 15 * 60


def test_asking_how_long_is_left_is_not_activity(client: Client, coder, password):
    _signed_in(client, coder, password)
    _idle_for(client, 300)
    client.get(reverse("accounts:session"))
    body = client.get(reverse("accounts:session")).json()
    assert body["expires_in"] <= 15 * 60 - 300


def test_stay_signed_in_slides_the_logoff_to_the_whole_idle_time(
    client: Client, coder, password
):
    _signed_in(client, coder, password)
    _idle_for(client, 30)  # within the minute a page view would not slide it
    body = client.post(reverse("accounts:session")).json()
    assert body["expires_in"] >= 15 * 60 - 1
    assert client.get(reverse("accounts:session")).json()["expires_in"] >= 15 * 60 - 1


def test_an_idle_session_is_ended_by_the_server_whatever_its_cookie_age(
    client: Client, coder, password, settings
):
    settings.SESSION_COOKIE_AGE = 24 * 3600  # the cookie would still be good
    _signed_in(client, coder, password)
    _idle_for(client, 15 * 60 + 1)
    response = client.get(reverse("accounts:session"))
    assert response.status_code == 401
    assert response.json() == {"signed_in": False}
    # Gone for good, not just for that one request.
    assert client.get(reverse("encounters:queue")).status_code == 302


def test_keepalive_after_the_session_ended_is_refused(client: Client):
    assert client.post(reverse("accounts:session")).status_code == 401


def test_pages_say_how_long_the_session_has_left(client: Client, coder, password):
    _signed_in(client, coder, password)
    response = client.get(reverse("encounters:queue"))
    assert int(response["X-Session-Expires-In"]) >= 15 * 60 - 60
    html = response.content.decode()
    assert 'name="session-timer"' in html
    assert f'data-user="{coder.pk}"' in html
    assert 'data-warning="120"' in html


def test_the_idle_timeout_comes_from_settings(
    client: Client, coder, password, settings
):
    settings.SESSION_IDLE_SECONDS = 6
    settings.SESSION_IDLE_WARNING_SECONDS = 3
    _signed_in(client, coder, password)
    body = client.get(reverse("accounts:session")).json()
    assert body == {
        "signed_in": True,
        "expires_in": body["expires_in"],
        "idle": 6,
        "warning": 3,
    }
    assert 5 <= body["expires_in"] <= 6
    _idle_for(client, 7)
    assert client.get(reverse("accounts:session")).status_code == 401


def test_htmx_after_the_logoff_returns_to_the_page_not_the_fragment(client: Client):
    response = client.get(
        "/encounters/7/suggest/?dx-0-code=J18&field=dx-0-code",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/encounters/7/",
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/login/?next=%2Fencounters%2F7%2F"


def test_the_sign_in_page_says_why_after_an_idle_logoff(client: Client):
    page = client.get(reverse("accounts:login") + "?next=/encounters/7/&idle=1")
    assert b"signed out after 15 minutes without activity" in page.content
    assert b"without activity" not in client.get(reverse("accounts:login")).content
