"""The report pages in Chromium: a supervisor sees each report's chart, filters
it, exports the CSV it shows; a coder is refused (403)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.encounters.test_reports import (  # noqa: F401  (fixtures)
    audits,
    backlog_cases,
    final_stays,
    impact,
    submissions,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPRING = "from=2026-05-01&to=2026-06-30"


def sign_in(page, live_server, user, password) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(password)
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def exported(page) -> list[list[str]]:
    section = page.get_by_test_id("table-rows")
    with page.expect_download() as download:
        section.get_by_role("link", name="Export CSV").click()
    path = download.value.path()
    return list(csv.reader(io.StringIO(Path(path).read_text())))


def test_a_supervisor_reads_filters_and_exports_every_report(
    page,
    live_server,
    screenshot,
    supervisor,
    password,
    submissions,  # noqa: F811
    backlog_cases,  # noqa: F811
    final_stays,  # noqa: F811
    audits,  # noqa: F811
    impact,  # noqa: F811
):
    sign_in(page, live_server, supervisor, password)
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_test_id("report-list")).to_contain_text("Case mix")
    year = (timezone.localdate() - dt.timedelta(days=365)).isoformat()
    cases = [
        # report, query, filter (label, value), a text of the filtered table, CSV header
        ("productivity", SPRING, ("Coder", "casey"), "casey", "Coder"),
        (
            "backlog",
            f"from={year}",
            ("Coder", "casey"),
            "In supervisor review",
            "Status",
        ),
        ("case-mix", SPRING, ("Facility", "General"), "2026-06", "Discharge month"),
        ("accuracy", SPRING, ("Coder", "casey"), "72.7%", "Coder"),  # 8 of 11
        ("audit-impact", SPRING, ("Per", "week"), "2026-05-11", "Week"),
    ]
    for n, (name, query, (label, value), text, header) in enumerate(cases, start=1):
        page.goto(f"{live_server.url}/reports/{name}/?{query}")
        chart = page.get_by_test_id("chart")
        expect(chart).to_be_visible()
        assert chart.bounding_box()["height"] > 100
        page.get_by_label(label, exact=True).select_option(value)
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(f"**{value}**")
        table = page.get_by_test_id("table-rows")
        expect(table).to_contain_text(text)
        expect(page.get_by_test_id("chart")).to_be_visible()
        screenshot(f"reports-{n:02d}-{name}")
        rows = exported(page)
        assert rows[0][0] == header
        shown = table.locator("tbody tr").first.locator("td").all_inner_texts()
        assert rows[1] == [cell.strip().lstrip("#") for cell in shown]


def test_a_coder_gets_403_on_the_reports(page, live_server, coder, password):
    sign_in(page, live_server, coder, password)
    expect(page.get_by_role("link", name="Reports")).to_have_count(0)
    response = page.goto(f"{live_server.url}/reports/productivity/")
    assert response.status == 403
    response = page.goto(f"{live_server.url}/api/v1/reports/backlog/")
    assert response.status == 403
