"""Real Chromium against the live server: what each role sees, and the code-set workflow.

Screenshots land in ./screenshots/ for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from tests.codesets.conftest import CM_FY2025, CM_FY2026

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, live_server, username: str, password: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize(
    ("fixture", "heading", "nav"),
    [
        ("coder", "Work queue", ["Work queue", "Encoder"]),
        (
            "supervisor",
            "Audit queue",
            ["Work queue", "Encoder", "Audit queue", "Reports"],
        ),
        (
            "codeset_admin",
            "Code sets",
            ["Encoder", "Reports", "Code sets", "System status", "Users"],
        ),
    ],
)
def test_each_role_signs_in_to_its_home(
    request, page, live_server, screenshot, password, fixture, heading, nav
):
    user = request.getfixturevalue(fixture)
    page.goto(f"{live_server.url}/")
    assert "/login/" in page.url
    screenshot("login")
    _login(page, live_server, user.username, password)
    page.get_by_role("heading", name=heading, exact=True).wait_for()
    links = (
        page.get_by_role("navigation", name="Main")
        .get_by_role("link")
        .all_inner_texts()
    )
    assert links == [*nav, "API docs"]
    screenshot(f"home-{fixture}")


def test_coder_opening_an_admin_page_is_refused(
    page, live_server, screenshot, coder, password
):
    _login(page, live_server, coder.username, password)
    page.get_by_role("heading", name="Work queue").wait_for()
    response = page.goto(f"{live_server.url}/codesets/")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()
    screenshot("coder-403")


def test_admin_uploads_reviews_and_activates_a_release(
    page,
    live_server,
    screenshot,
    settings,
    tmp_path,
    celery_worker,
    codeset_admin,
    password,
):
    settings.MEDIA_ROOT = tmp_path
    _login(page, live_server, codeset_admin.username, password)
    page.get_by_role("heading", name="Code sets", exact=True).wait_for()
    screenshot("codesets-empty")

    for path, start in ((CM_FY2025, "2024-10-01"), (CM_FY2026, "2025-10-01")):
        page.get_by_role("link", name="Import a file").click()
        page.get_by_label("File").set_input_files(str(path))
        screenshot(f"upload-{path.stem}")
        page.get_by_role("button", name="Upload and import").click()
        # The progress panel polls until the worker has staged the release, then reloads.
        page.get_by_test_id("release-state").filter(has_text="Staged").wait_for(
            timeout=60000
        )
        screenshot(f"staged-{path.stem}")
        page.get_by_label("Effective from").fill(start)
        page.get_by_role("button", name="Activate release").click()
        page.get_by_test_id("release-state").filter(has_text="In force").wait_for()
        assert page.get_by_text(
            re.compile(f"is now in force from {start}")
        ).is_visible()
        if path == CM_FY2026:
            break
        page.get_by_role("link", name="← Code sets").click()

    # Review what changed: revised titles, filtered as the admin types.
    page.get_by_test_id("tab-revised").click()
    page.get_by_role("searchbox", name="Filter changes").fill("thigh")
    page.get_by_test_id("diff-total").filter(has_text="matching").wait_for()
    table = page.get_by_test_id("diff-table")
    assert "S74.21" in table.inner_text()
    screenshot("diff-revised-filtered")
    page.get_by_test_id("tab-deleted").click()
    assert "T78.07XA" in page.get_by_test_id("diff-table").inner_text()
    screenshot("diff-deleted")
    page.get_by_role("link", name="← Code sets").click()
    rows = page.get_by_test_id("releases").inner_text()
    # FY2025 still judges the dates it covers: superseded, not "Retired".
    assert "In force" in rows
    assert "superseded for new dates" in rows
    assert "Retired" not in rows
    screenshot("codesets-list")
