"""The Users page: code-set admins create users, change roles, deactivate, reset
passwords, unlock locked-out accounts and set coders' audit sample rates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User, UserChange
from encounters.audit.engine import audit_encounters
from encounters.models import AuditRun, AuditSampleRate, Encounter
from encounters.services import encounter_claim
from tests.encounters.conftest import code_sets  # noqa: F401 - the fixture
from tests.encounters.test_views import _create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "plum-orchard-ledger-42"


def _login(client: Client, username: str, password: str):
    return client.post(
        reverse("accounts:login"), {"username": username, "password": password}
    )


def _lock_out(client: Client, username: str) -> None:
    for _ in range(5):
        _login(client, username, "wrong-password")
    assert _login(client, username, "wrong-password").status_code == 429


def test_the_users_page_lists_role_state_last_sign_in_and_lockout(
    admin_client_, coder, supervisor, password
):
    User.objects.filter(id=supervisor.id).update(is_active=False)
    _lock_out(Client(), coder.username)
    page = admin_client_.get(reverse("accounts:users")).content.decode()
    row = page.split(f'data-username="{coder.username}"', 1)[1].split("</tr>", 1)[0]
    assert "Coder" in row and "locked out" in row and "never" in row
    row = page.split(f'data-username="{supervisor.username}"', 1)[1].split("</tr>")[0]
    assert "Supervisor" in row and "deactivated" in row


@pytest.mark.parametrize(
    "url", ["accounts:users", "accounts:user_new", "accounts:user"]
)
def test_coders_and_supervisors_get_403(coder_client, supervisor_client, coder, url):
    kwargs = {"user_id": coder.id} if url == "accounts:user" else {}
    assert coder_client.get(reverse(url, kwargs=kwargs)).status_code == 403
    assert supervisor_client.get(reverse(url, kwargs=kwargs)).status_code == 403


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("accounts:user_role", {"role": "codeset_admin"}),
        ("accounts:user_active", {}),
        ("accounts:user_password", {"password": NEW_PASSWORD}),
        ("accounts:user_unlock", {}),
        ("accounts:user_sample_rate", {"rate": "0"}),
    ],
)
def test_a_coder_cannot_post_any_change(coder_client, coder, other_coder, url, data):
    response = coder_client.post(reverse(url, args=[other_coder.id]), data)
    assert response.status_code == 403
    other_coder.refresh_from_db()
    assert other_coder.is_active and other_coder.roles == ["coder"]
    assert not UserChange.objects.exists()


def test_the_nav_shows_users_only_to_those_who_manage_them(admin_client_, coder_client):
    assert b">Users</a>" in admin_client_.get(reverse("codesets:release_list")).content
    assert b">Users</a>" not in coder_client.get(reverse("encounters:queue")).content


def test_an_admin_creates_a_user_with_a_typed_password(admin_client_, codeset_admin):
    response = admin_client_.post(
        reverse("accounts:user_new"),
        {
            "username": "nina",
            "first_name": "Nina",
            "last_name": "Nguyen",
            "email": "nina@example.org",
            "role": "coder",
            "password": NEW_PASSWORD,
        },
        follow=True,
    )
    nina = User.objects.get(username="nina")
    assert response.redirect_chain[-1][0] == reverse("accounts:user", args=[nina.id])
    assert b"User nina created." in response.content
    assert nina.roles == ["coder"] and nina.is_active
    assert _login(Client(), "nina", NEW_PASSWORD).status_code == 302
    change = UserChange.objects.get(user=nina)
    assert (change.action, change.changed_by, change.after) == (
        "created",
        codeset_admin,
        "Coder",
    )
    assert NEW_PASSWORD not in response.content.decode()


def test_a_generated_password_is_shown_once(admin_client_):
    response = admin_client_.post(
        reverse("accounts:user_new"), {"username": "gus", "role": "supervisor"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    shown = response.content.decode().split('data-testid="new-password"', 1)[1]
    password = shown.split(">", 1)[1].split("<", 1)[0]
    assert len(password) >= 20
    assert _login(Client(), "gus", password).status_code == 302
    # Not on the user's page afterwards.
    gus = User.objects.get(username="gus")
    page = admin_client_.get(reverse("accounts:user", args=[gus.id])).content.decode()
    assert password not in page


def test_a_weak_password_or_a_taken_username_is_refused_with_the_reason(
    admin_client_, coder
):
    response = admin_client_.post(
        reverse("accounts:user_new"),
        {"username": "pat", "role": "coder", "password": "12345"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "This password is too short" in page
    assert "This password is entirely numeric" in page
    assert not User.objects.filter(username="pat").exists()

    response = admin_client_.post(
        reverse("accounts:user_new"),
        {"username": coder.username, "role": "coder", "password": NEW_PASSWORD},
    )
    assert response.status_code == 400
    assert "A user with that username already exists." in response.content.decode()


def test_an_admin_changes_a_role_and_it_is_recorded(admin_client_, coder):
    response = admin_client_.post(
        reverse("accounts:user_role", args=[coder.id]),
        {"role": "supervisor"},
        follow=True,
    )
    assert b"Role of casey: Supervisor." in response.content
    coder = User.objects.get(id=coder.id)
    assert coder.roles == ["supervisor"]
    assert coder.has_perm("accounts.review_audits")
    change = UserChange.objects.get(user=coder)
    assert (change.action, change.before, change.after) == (
        "role",
        "Coder",
        "Supervisor",
    )
    assert "Coder → Supervisor" in response.content.decode()


def test_an_admin_deactivates_and_reactivates_an_account(
    admin_client_, coder, password
):
    coder_client = Client()
    assert _login(coder_client, coder.username, password).status_code == 302
    response = admin_client_.post(
        reverse("accounts:user_active", args=[coder.id]), follow=True
    )
    assert b"casey deactivated." in response.content
    coder.refresh_from_db()
    assert not coder.is_active
    # Signed out at the next request, and cannot sign in again.
    assert coder_client.get(reverse("encounters:queue")).status_code == 302
    assert _login(Client(), coder.username, password).status_code == 200

    admin_client_.post(
        reverse("accounts:user_active", args=[coder.id]), {"active": "on"}
    )
    coder.refresh_from_db()
    assert coder.is_active
    assert _login(Client(), coder.username, password).status_code == 302
    assert list(
        UserChange.objects.filter(user=coder).values_list("action", flat=True)
    ) == ["reactivated", "deactivated"]


def test_an_admin_cannot_deactivate_themself_or_drop_their_own_role(
    admin_client_, codeset_admin
):
    response = admin_client_.post(
        reverse("accounts:user_active", args=[codeset_admin.id])
    )
    assert response.status_code == 400
    assert b"You cannot deactivate your own account." in response.content
    response = admin_client_.post(
        reverse("accounts:user_role", args=[codeset_admin.id]), {"role": "coder"}
    )
    assert response.status_code == 400
    assert b"You cannot remove your own permission to manage users" in (
        response.content
    )
    codeset_admin.refresh_from_db()
    assert codeset_admin.is_active and codeset_admin.roles == ["codeset_admin"]
    assert not UserChange.objects.exists()


def test_only_a_superuser_changes_a_superuser(admin_client_):
    root = UserFactory(username="root", is_superuser=True)
    response = admin_client_.post(
        reverse("accounts:user_password", args=[root.id]), {"password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert b"Only a superuser can change" in response.content
    root.refresh_from_db()
    assert not root.check_password(NEW_PASSWORD)


def test_an_admin_resets_a_password(admin_client_, coder, password):
    signed_in = Client()
    assert _login(signed_in, coder.username, password).status_code == 302
    response = admin_client_.post(
        reverse("accounts:user_password", args=[coder.id]),
        {"password": "short"},
    )
    assert response.status_code == 400
    assert b"This password is too short" in response.content
    coder.refresh_from_db()
    assert coder.check_password(password)

    response = admin_client_.post(
        reverse("accounts:user_password", args=[coder.id]),
        {"password": NEW_PASSWORD},
        follow=True,
    )
    assert b"Password of casey reset." in response.content
    # The coder's session from before the reset has ended.
    assert signed_in.get(reverse("encounters:queue")).status_code == 302
    assert _login(Client(), "casey", NEW_PASSWORD).status_code == 302
    assert _login(Client(), "casey", password).status_code == 200
    change = UserChange.objects.get(user=coder)
    assert change.action == "password"
    assert NEW_PASSWORD not in (change.before + change.after)


def test_a_generated_reset_password_is_shown_once_and_works(admin_client_, coder):
    response = admin_client_.post(reverse("accounts:user_password", args=[coder.id]))
    assert response.status_code == 200
    shown = response.content.decode().split('data-testid="new-password"', 1)[1]
    password = shown.split(">", 1)[1].split("<", 1)[0]
    assert _login(Client(), "casey", password).status_code == 302


def test_unlocking_clears_the_lockout_so_the_user_signs_in(
    admin_client_, coder, password
):
    browser = Client()
    _lock_out(browser, coder.username)
    page = admin_client_.get(reverse("accounts:user", args=[coder.id])).content
    assert b"Locked out after too many failed sign-ins" in page

    response = admin_client_.post(
        reverse("accounts:user_unlock", args=[coder.id]), follow=True
    )
    assert b"casey can sign in again." in response.content
    assert b"Locked out after" not in response.content
    assert _login(browser, coder.username, password).status_code == 302
    change = UserChange.objects.get(user=coder)
    assert change.action == "unlocked"
    assert change.after == "1 failed sign-in record(s) cleared"


def test_the_lockout_page_names_who_unlocks_and_the_duration_in_words(client, coder):
    for _ in range(5):
        _login(client, coder.username, "wrong-password")
    page = _login(client, coder.username, "wrong-password").content.decode()
    assert "paused for 15 minutes." in page
    assert "PT15M" not in page
    assert "ask a code-set admin" in page and "<b>Users</b> page" in page


def test_an_admin_sets_and_clears_a_coders_sample_rate(admin_client_, coder):
    url = reverse("accounts:user_sample_rate", args=[coder.id])
    for bad in ("1.5", "-0.1", "abc"):
        assert admin_client_.post(url, {"rate": bad}).status_code == 400
    assert not AuditSampleRate.objects.exists()

    response = admin_client_.post(url, {"rate": "0.25"}, follow=True)
    assert b"Audit sample rate of casey saved." in response.content
    assert AuditSampleRate.objects.get(coder=coder).rate == Decimal("0.250")
    users = admin_client_.get(reverse("accounts:users")).content.decode()
    assert "0.250" in users.split(f'data-username="{coder.username}"', 1)[1]

    admin_client_.post(url, {"rate": ""})
    assert not AuditSampleRate.objects.exists()
    assert [
        (c.before, c.after)
        for c in UserChange.objects.filter(user=coder, action="sample_rate")
    ] == [("0.250", "default"), ("default", "0.250")]


def test_a_sample_rate_of_1_sends_every_clean_encounter_to_a_supervisor(
    code_sets,  # noqa: F811
    admin_client_,
    supervisor,
    coder,
    other_coder,
    settings,
):
    settings.AUDIT_SAMPLE_RATE = 0
    admin_client_.post(
        reverse("accounts:user_sample_rate", args=[coder.id]), {"rate": "1"}
    )
    ids = {}
    for who, mrn in ((coder, "S1"), (other_coder, "S2")):
        encounter_id = _create(
            supervisor, patient={**_patient(), "mrn": mrn}, diagnoses=_clean()
        )
        encounter_claim(user=who, encounter_id=encounter_id)
        Encounter.objects.filter(id=encounter_id).update(
            status="submitted", submitted_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
        )
        ids[who.username] = encounter_id
    audit_encounters(encounter_ids=list(ids.values()), trigger="submit")
    sampled = Encounter.objects.get(id=ids["casey"])
    assert sampled.status == "in_review"
    assert AuditRun.objects.get(encounter=sampled).sampled
    assert Encounter.objects.get(id=ids["cole"]).status == "final"


def _patient() -> dict:
    from tests.encounters.conftest import pneumonia_payload

    return pneumonia_payload()["patient"]


def _clean() -> list[dict]:
    return [{"code": "J18.9", "poa": "Y"}, {"code": "E87.1", "poa": "Y"}]


def test_a_superuser_without_a_role_lands_on_the_users_page(client):
    root = UserFactory(username="root", is_superuser=True)
    client.force_login(root)
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:users")
    assert client.get(response["Location"]).status_code == 200


def test_the_history_cannot_be_changed_or_deleted(admin_client_, coder):
    admin_client_.post(reverse("accounts:user_unlock", args=[coder.id]))
    change = UserChange.objects.get(user=coder)
    for attempt in (
        lambda: UserChange.objects.filter(id=change.id).update(after="edited"),
        lambda: UserChange.objects.filter(id=change.id).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert UserChange.objects.get(id=change.id).action == "unlocked"


def test_an_unknown_user_is_404(admin_client_):
    assert admin_client_.get(reverse("accounts:user", args=[999999])).status_code == 404
    response = admin_client_.post(reverse("accounts:user_unlock", args=[999999]))
    assert response.status_code == 404


def test_the_users_page_reads_a_fixed_number_of_queries(admin_client_):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client_.get(reverse("accounts:users")).status_code == 200
        return len(captured)

    UserFactory.create_batch(2, role="coder")
    queries()  # the first request also touches the session
    few = queries()
    UserFactory.create_batch(8, role="supervisor")
    assert queries() == few
