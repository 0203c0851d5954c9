"""The reports of issue 16 on small fixtures whose right figures are worked out by
hand in each test; their CSV exports; who may see them; and that the number of
queries does not grow with the number of encounters."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from codesets.services import payment_rate_set
from tests.encounters.report_fixtures import (
    at,
    audited,
    change,
    drg,
    encounter,
    finding,
    shift,
)

pytestmark = pytest.mark.django_db

MAY = {"from": "2026-05-01", "to": "2026-05-31"}


def api(client, name: str, **params) -> dict:
    response = client.get(f"/api/v1/reports/{name}/", params)
    assert response.status_code == 200, response.content
    return response.json()


def csv_rows(client, url: str, **params) -> list[list[str]]:
    response = client.get(url, {**params, "format": "csv"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def by(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


# --- Productivity -------------------------------------------------------------


@pytest.fixture
def submissions(coder, other_coder):
    """casey: four submits in May, after 30, 10, 60 and (rework, from the return)
    20 minutes; one return. cole: one at North after 45 minutes, one in June."""
    e1 = encounter(coder=coder, discharge=dt.date(2026, 5, 3))
    change(e1, "claimed", at("2026-05-04", "09:00"), coder)
    change(e1, "submitted", at("2026-05-04", "09:30"), coder)
    e2 = encounter(type="outpatient", coder=coder, admit=dt.date(2026, 5, 3))
    change(e2, "claimed", at("2026-05-04", "10:00"), coder)
    change(e2, "submitted", at("2026-05-04", "10:10"), coder)
    e3 = encounter(coder=coder, discharge=dt.date(2026, 5, 3))
    change(e3, "claimed", at("2026-05-05", "08:00"), coder)
    change(e3, "submitted", at("2026-05-05", "09:00"), coder)
    change(e3, "returned", at("2026-05-06", "08:00"), None)
    change(e3, "submitted", at("2026-05-06", "08:20"), coder)
    e4 = encounter(type="emergency", facility="North", coder=other_coder)
    change(e4, "claimed", at("2026-05-05", "12:00"), other_coder)
    change(e4, "submitted", at("2026-05-05", "12:45"), other_coder)
    e5 = encounter(coder=other_coder)
    change(e5, "claimed", at("2026-06-02", "12:00"), other_coder)
    change(e5, "submitted", at("2026-06-02", "12:30"), other_coder)


def test_productivity_counts_submits_per_coder_and_type_with_median_minutes(
    supervisor_client, submissions
):
    data = api(supervisor_client, "productivity", **MAY)
    rows = by(data["rows"], "coder")
    assert set(rows) == {"casey", "cole"}  # cole's June submit is outside
    casey = rows["casey"]
    assert (casey["coded"], casey["inpatient"], casey["outpatient"]) == (4, 3, 1)
    assert casey["median_minutes"] == 25.0  # of 10, 20, 30, 60
    assert casey["returned"] == 1
    assert (rows["cole"]["coded"], rows["cole"]["emergency"]) == (1, 1)
    assert rows["cole"]["median_minutes"] == 45.0
    assert data["total"]["coded"] == 5
    assert data["total"]["median_minutes"] == 30.0  # of 10, 20, 30, 45, 60
    daily = by(data["sections"][0]["rows"], "day")
    assert daily["2026-05-04"]["total"] == 2
    assert (daily["2026-05-05"]["inpatient"], daily["2026-05-05"]["emergency"]) == (
        1,
        1,
    )
    assert daily["2026-05-06"]["inpatient"] == 1
    assert "2026-05-01" not in daily  # the table: days with submits
    # The chart's axis is every day of May, the days without a submit at zero.
    chart = data["chart"]
    assert chart["categories"][0] == "2026-05-01" and len(chart["categories"]) == 31
    per_day = [sum(s["values"][i] for s in chart["series"]) for i in range(31)]
    assert per_day[0] == 0 and per_day[3] == 2  # 1 May none, 4 May two
    assert sum(per_day) == 5


def test_productivity_reads_the_start_and_type_stored_on_the_submit(
    supervisor_client, coder, code_sets, supervisor
):
    """A submit written since 2026-12-03 carries the start of its pass and the
    encounter's type: the report takes both from there (here no claim is left in the
    history to find, and the encounter became outpatient after its inpatient submit),
    and a submit through the service stores the latest claim, reassignment or return
    before it and the type."""
    from encounters.models import CodingChange, Encounter
    from tests.encounters.test_audit_jobs import _submitted

    e1 = encounter(type="outpatient", coder=coder, admit=dt.date(2026, 5, 3))
    CodingChange.objects.create(
        encounter=e1,
        action="submitted",
        changed_at=at("2026-05-04", "09:40"),
        changed_by=coder,
        version=1,
        started_at=at("2026-05-04", "09:00"),
        encounter_type="inpatient",
    )
    data = api(supervisor_client, "productivity", **MAY)
    assert data["total"]["coded"] == 1
    assert (data["total"]["inpatient"], data["total"]["outpatient"]) == (1, 0)
    assert data["total"]["median_minutes"] == 40.0
    assert by(data["sections"][0]["rows"], "day")["2026-05-04"]["inpatient"] == 1
    # The type filter reads the same stored type as the columns.
    for type_, coded in [("inpatient", 1), ("outpatient", 0)]:
        only = api(supervisor_client, "productivity", type=type_, **MAY)
        assert only["total"]["coded"] == coded

    submitted = _submitted(supervisor, coder)
    changes = CodingChange.objects.filter(encounter=submitted)
    claimed = changes.get(action="claimed")
    submit = changes.get(action="submitted")
    assert submit.started_at == claimed.changed_at
    assert submit.encounter_type == Encounter.objects.get(id=submitted.id).type


def test_the_facility_filter_lists_each_facility_once_in_order(supervisor_client):
    for facility in ["North", "General", "North", "South", "General"]:
        encounter(facility=facility)
    response = supervisor_client.get("/reports/productivity/")
    assert response.status_code == 200
    options = re.findall(r'<option value="([^"]*)"', response.content.decode())
    start = options.index("")  # "All facilities"
    assert options[start : start + 4] == ["", "General", "North", "South"]


def test_productivity_filters_by_facility_coder_and_type(
    supervisor_client, submissions
):
    general = api(supervisor_client, "productivity", facility="General", **MAY)
    assert [r["coder"] for r in general["rows"]] == ["casey"]
    only_cole = api(supervisor_client, "productivity", coder="cole", **MAY)
    assert [r["coder"] for r in only_cole["rows"]] == ["cole"]
    outpatient = api(supervisor_client, "productivity", type="outpatient", **MAY)
    assert [(r["coder"], r["coded"]) for r in outpatient["rows"]] == [("casey", 1)]


def test_productivity_csv_is_the_table_shown(supervisor_client, submissions):
    rows = csv_rows(supervisor_client, "/reports/productivity/", **MAY)
    assert rows[0][:2] == ["Coder", "Submitted"]
    assert rows[1][:3] == ["casey", "4", "3"]
    assert rows[1][-2:] == ["25", "1"]
    assert rows[-1][:2] == ["All coders", "5"]
    page = supervisor_client.get("/reports/productivity/", MAY).content.decode()
    assert "<td>casey</td>" in page and '<td class="num">25</td>' in page
    daily = csv_rows(supervisor_client, "/reports/productivity/", table="daily", **MAY)
    assert [r[0] for r in daily[1:]] == ["2026-05-04", "2026-05-05", "2026-05-06"]


# --- Backlog ------------------------------------------------------------------


@pytest.fixture
def backlog_cases(coder):
    """Not final, discharged 0, 3, 4, 14, 15, 30 and 31 days ago, a visit 5 days
    ago; left out: a stay not yet discharged and a final one."""
    today = timezone.localdate()
    ago = {
        days: today - dt.timedelta(days=days)
        for days in (0, 3, 4, 5, 14, 15, 30, 31, 40)
    }
    encounter(status="ready", discharge=ago[0])
    encounter(status="in_progress", discharge=ago[3], coder=coder)
    encounter(status="submitted", discharge=ago[4], coder=coder)
    encounter(status="ready", type="outpatient", admit=ago[5])
    encounter(status="returned", discharge=ago[14], coder=coder)
    encounter(status="in_review", discharge=ago[15], coder=coder)
    encounter(status="in_review", discharge=ago[30], coder=coder)
    oldest = encounter(status="ready", discharge=ago[31])
    encounter(status="in_progress", admit=ago[40], coder=coder)  # still in hospital
    encounter(status="final", discharge=ago[40], coder=coder)
    return oldest


def test_backlog_buckets_by_age_and_status_with_the_oldest_linked(
    supervisor_client, backlog_cases
):
    year = {"from": (timezone.localdate() - dt.timedelta(days=365)).isoformat()}
    data = api(supervisor_client, "backlog", **year)
    total = data["total"]
    assert [total[b] for b in ("0-3", "4-7", "8-14", "15-30", ">30")] == [2, 2, 1, 2, 1]
    assert total["total"] == 8
    statuses = by(data["rows"], "status")
    assert statuses["Ready to code"]["0-3"] == 1
    assert statuses["Ready to code"]["4-7"] == 1  # the visit
    assert statuses["Ready to code"][">30"] == 1
    assert statuses["In supervisor review"]["15-30"] == 2
    oldest = data["sections"][0]["rows"]
    assert oldest[0]["encounter"] == backlog_cases.id and oldest[0]["age"] == 31
    assert oldest[0]["url"] == f"/encounters/{backlog_cases.id}/"
    page = supervisor_client.get("/reports/backlog/", year).content.decode()
    assert f'href="/encounters/{backlog_cases.id}/"' in page
    rows = csv_rows(supervisor_client, "/reports/backlog/", **year)
    assert rows[0] == [
        "Status",
        "0-3 days",
        "4-7 days",
        "8-14 days",
        "15-30 days",
        ">30 days",
        "Total",
    ]
    assert rows[-1] == ["All", "2", "2", "1", "2", "1", "8"]
    # Coder filter: only casey's five.
    mine = api(supervisor_client, "backlog", coder="casey", **year)
    assert mine["total"]["total"] == 5


# --- Case mix -----------------------------------------------------------------


@pytest.fixture
def final_stays(coder):
    """May at General: weights 1.0 (no CC), 2.0 (a CC), 1.5 (an MCC); June at
    General 3.0 (MCC); May at North 0.8. Left out: not final, outpatient."""
    payment_rate_set(
        facility="General",
        fiscal_year=2026,
        operating=Decimal("6800.00"),
        capital=Decimal("510.00"),
        wage_index=Decimal("1.05"),
        labor_share=Decimal("0.676"),
        gaf=Decimal("1.034"),
    )  # the full payment is weight x 7557.18
    may = dt.date(2026, 5, 20)
    for number, weight, levels in (
        (195, "1.0", ()),
        (194, "2.0", ("CC",)),
        (193, "1.5", ("MCC", "CC")),
    ):
        encounter(
            status="final",
            discharge=may,
            coder=coder,
            drg_dict=drg(number, weight, *levels),
        )
    encounter(
        status="final",
        discharge=dt.date(2026, 6, 3),
        coder=coder,
        drg_dict=drg(871, "3.0", "MCC"),
    )
    encounter(status="final", facility="North", discharge=may, drg_dict=drg(195, "0.8"))
    encounter(
        status="in_review", discharge=may, coder=coder, drg_dict=drg(871, "3.0", "MCC")
    )
    encounter(status="final", type="outpatient", admit=may)


def test_case_mix_gives_cmi_capture_and_expected_payment_by_month_and_facility(
    supervisor_client, final_stays
):
    data = api(
        supervisor_client, "case-mix", **{"from": "2026-05-01", "to": "2026-06-30"}
    )
    rows = {(r["month"], r["facility"]): r for r in data["rows"]}
    assert set(rows) == {
        ("2026-05", "General"),
        ("2026-05", "North"),
        ("2026-06", "General"),
    }
    may = rows["2026-05", "General"]
    assert may["encounters"] == 3
    assert may["cmi"] == 1.5  # (1.0 + 2.0 + 1.5) / 3
    assert may["cc_mcc_rate"] == 0.6667 and may["mcc_rate"] == 0.3333
    # 7557.18 + 15114.36 + 11335.77
    assert may["expected_payment"] == "34007.31"
    assert rows["2026-05", "North"]["expected_payment"] is None  # no rates
    assert rows["2026-06", "General"]["expected_payment"] == "22671.54"
    total = data["total"]
    assert total["encounters"] == 5
    assert total["cmi"] == 1.66  # 8.3 / 5
    assert total["cc_mcc_rate"] == 0.6  # 3 of 5
    assert total["expected_payment"] == "56678.85" and total["priced"] == 4
    top = data["sections"][0]["rows"]
    assert (top[0]["drg"], top[0]["encounters"], top[0]["weight"]) == ("195", 2, 0.9)
    north = api(supervisor_client, "case-mix", facility="North", **MAY)
    assert north["total"]["cmi"] == 0.8


def test_case_mix_csv(supervisor_client, final_stays):
    rows = csv_rows(supervisor_client, "/api/v1/reports/case-mix/", **MAY)
    assert rows[0][:4] == ["Discharge month", "Facility", "Encounters", "CMI"]
    assert rows[1] == [
        "2026-05",
        "General",
        "3",
        "1.5",
        "66.7%",
        "33.3%",
        "34007.31",
        "3",
    ]
    assert rows[-1][:4] == ["All", "All", "4", "1.325"]  # (4.5 + 0.8) / 4


def test_case_mix_page_escapes_what_a_feed_wrote_in_table_and_chart(
    supervisor_client,
):
    """A facility name is whatever the admission feed sent: on the page it is text,
    in the table and in the chart's labels and tooltips, never markup."""
    facility = '<img src=x onerror="alert(1)">North & Co'
    encounter(
        facility=facility,
        status="final",
        discharge=dt.date(2026, 5, 3),
        drg_dict=drg(194, "1.0", "CC"),
    )
    page = supervisor_client.get("/reports/case-mix/", MAY).content.decode()
    assert "<img src=x" not in page
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;North &amp; Co"
    assert f"<td>{escaped}</td>" in page  # the table
    chart = page[page.index('data-testid="chart"') :]
    assert escaped in chart[: chart.index("</svg>")]  # the chart


# --- Accuracy -----------------------------------------------------------------


@pytest.fixture
def audits(coder, other_coder, supervisor):
    """casey: 10 encounters audited in May; 2 with findings a supervisor upheld
    (one with two), 1 with a finding dismissed, 1 with one still open; one DRG
    change. cole: 1 audited, clean."""
    when = at("2026-05-10")
    for n in range(10):
        enc = encounter(coder=coder, status="final", discharge=dt.date(2026, 5, 9))
        run = audited(enc, when)
        if n == 0:
            finding(enc, run, status="confirmed", decided_by=supervisor)
            finding(enc, run, status="corrected", decided_by=supervisor)
            shift(
                enc,
                by=supervisor,
                when=when,
                before=drg(195, "1.0"),
                after=drg(194, "2.0"),
                paid_before=None,
                paid_after=None,
            )
        elif n == 1:
            finding(enc, run, status="confirmed", decided_by=supervisor)
        elif n == 2:
            finding(enc, run, status="dismissed", decided_by=supervisor)
        elif n == 3:
            finding(enc, run, status="open")
    audited(encounter(coder=other_coder, status="final"), when)


def test_accuracy_gives_the_wilson_interval_and_the_audits_still_needed(
    supervisor_client, audits
):
    data = api(supervisor_client, "accuracy", **MAY)
    rows = by(data["rows"], "coder")
    casey = rows["casey"]
    assert (casey["audited"], casey["with_errors"], casey["upheld"]) == (10, 2, 3)
    assert casey["drg_changes"] == 1
    assert casey["accuracy"] == 0.8
    # Wilson, 8 of 10, z = 1.96: centre (0.8 + 1.9208/10) / 1.38416 = 0.71674,
    # half 1.41602 x sqrt(0.016 + 0.009604) = 0.22658.
    assert (casey["low"], casey["high"]) == (0.4902, 0.9433)
    # 1.96² x 0.8 x 0.2 / 0.05² = 245.9 -> 246
    assert (casey["needed"], casey["more_needed"]) == (246, 236)
    cole = rows["cole"]
    # 1 of 1: (1 + 1.9208) / 4.8416 = 0.603272, half 0.404825 x 0.98 = 0.396729
    assert (cole["accuracy"], cole["low"], cole["high"]) == (1.0, 0.2065, 1.0)
    assert cole["needed"] == 385  # p = 1 tells nothing: planned with 0.5
    assert data["total"]["audited"] == 11 and data["total"]["accuracy"] == 0.8182
    wider = api(supervisor_client, "accuracy", precision="0.1", **MAY)
    assert by(wider["rows"], "coder")["casey"]["needed"] == 62  # 61.47


def test_accuracy_csv_and_page(supervisor_client, audits):
    rows = csv_rows(supervisor_client, "/reports/accuracy/", **MAY)
    assert rows[1][:2] == ["casey", "10"]
    assert rows[1][5:8] == ["80.0%", "49.0%", "94.3%"]
    page = supervisor_client.get("/reports/accuracy/", MAY).content.decode()
    assert 'data-testid="chart"' in page and "<td>casey</td>" in page


# --- Audit impact -------------------------------------------------------------


@pytest.fixture
def impact(coder, supervisor):
    """May: three poa-missing findings (upheld, dismissed, open); June: one
    excludes1. A May DRG change 195 -> 194 priced both sides, a June one
    193 -> 194 without rates."""
    enc = encounter(coder=coder, status="final", discharge=dt.date(2026, 5, 1))
    run = audited(enc, at("2026-05-02"))
    finding(enc, run, status="confirmed", decided_by=supervisor, when=at("2026-05-02"))
    finding(enc, run, status="dismissed", decided_by=supervisor, when=at("2026-05-12"))
    finding(enc, run, status="open", when=at("2026-05-30"))
    finding(enc, run, rule="excludes1", when=at("2026-06-05"))
    shift(
        enc,
        by=supervisor,
        when=at("2026-05-03"),
        before=drg(195, "1.0"),
        after=drg(194, "2.0"),
        paid_before="7557.18",
        paid_after="15114.36",
    )
    shift(
        enc,
        by=supervisor,
        when=at("2026-06-04"),
        before=drg(193, "1.5"),
        after=drg(194, "2.0"),
        paid_before=None,
        paid_after=None,
    )


def test_audit_impact_trends_findings_per_rule_and_sums_drg_shifts(
    supervisor_client, impact
):
    spring = {"from": "2026-05-01", "to": "2026-06-30"}
    data = api(supervisor_client, "audit-impact", **spring)
    assert [
        (r["period"], r["rule"], r["findings"], r["upheld"], r["dismissed"], r["open"])
        for r in data["rows"]
    ] == [
        ("2026-05-01", "poa-missing", 3, 1, 1, 1),
        ("2026-06-01", "excludes1", 1, 0, 0, 1),
    ]
    per_month, pairs = data["sections"]
    assert [
        (r["period"], r["shifts"], r["weight_effect"], r["dollar_effect"])
        for r in per_month["rows"]
    ] == [
        ("2026-05-01", 1, 1.0, "7557.18"),
        ("2026-06-01", 1, 0.5, None),
    ]
    assert per_month["total"]["weight_effect"] == 1.5
    assert per_month["total"]["priced"] == 1
    assert {(r["from_drg"], r["to_drg"]) for r in pairs["rows"]} == {
        ("195", "194"),
        ("193", "194"),
    }
    weekly = api(supervisor_client, "audit-impact", period="week", **spring)
    # 2026-05-02 and -12 and -30 fall in three ISO weeks (Mondays 04-27, 05-11, 05-25)
    assert [r["period"] for r in weekly["rows"]][:3] == [
        "2026-04-27",
        "2026-05-11",
        "2026-05-25",
    ]
    # The trend has every week from 04-27 to 06-29, the empty ones at zero.
    chart = weekly["chart"]
    assert len(chart["categories"]) == 10 and chart["categories"][1] == "2026-05-04"
    poa = {s["name"]: s["values"] for s in chart["series"]}["poa-missing"]
    assert poa[:5] == [1, 0, 1, 0, 1]
    rows = csv_rows(
        supervisor_client, "/reports/audit-impact/", table="drg-shifts", **spring
    )
    assert rows[1] == ["2026-05-01", "1", "1", "7557.18", "1"]
    assert rows[-1] == ["All", "2", "1.5", "7557.18", "1"]


# --- Who may see them, bad input, query counts ----------------------------------


@pytest.mark.parametrize(
    "name", ["productivity", "backlog", "case-mix", "accuracy", "audit-impact"]
)
def test_reports_are_for_supervisors_and_admins_not_coders(
    name, supervisor_client, admin_client_, coder_client, client
):
    assert supervisor_client.get(f"/reports/{name}/").status_code == 200
    assert admin_client_.get(f"/reports/{name}/").status_code == 200
    assert coder_client.get(f"/reports/{name}/").status_code == 403
    assert coder_client.get(f"/api/v1/reports/{name}/").status_code == 403
    assert coder_client.get(f"/reports/{name}/", {"format": "csv"}).status_code == 403
    assert admin_client_.get(f"/api/v1/reports/{name}/").status_code == 200
    assert client.get(f"/reports/{name}/").status_code == 302  # to sign in
    assert client.get(f"/api/v1/reports/{name}/").status_code in (401, 403)


def test_unknown_report_is_404_and_bad_filters_400(supervisor_client):
    assert supervisor_client.get("/reports/nope/").status_code == 404
    assert supervisor_client.get("/api/v1/reports/nope/").status_code == 404
    bad = supervisor_client.get("/api/v1/reports/backlog/", {"from": "2026-13-01"})
    assert bad.status_code == 400 and "from" in bad.json()["errors"]
    backwards = supervisor_client.get(
        "/api/v1/reports/backlog/", {"from": "2026-06-01", "to": "2026-05-01"}
    )
    assert backwards.status_code == 400


@pytest.mark.parametrize(
    "name", ["productivity", "backlog", "case-mix", "accuracy", "audit-impact"]
)
def test_report_queries_do_not_grow_with_the_encounters(
    name, supervisor_client, submissions, backlog_cases, final_stays, audits, impact
):
    params = {"from": "2025-06-01", "to": "2026-12-31"}

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            api(supervisor_client, name, **params)
        return len(queries)

    count()  # the first request of the process fills caches (site settings, ...)
    before = count()
    from tests.encounters.report_fixtures import encounter as more

    for n in range(30):
        more(
            status="final",
            discharge=dt.date(2026, 5, 1 + n % 28),
            drg_dict=drg(195, "1.0"),
        )
        more(status="ready", discharge=dt.date(2026, 5, 1 + n % 28))
    assert count() == before


# --- Findings API ---------------------------------------------------------------


def test_findings_api_filters_and_pages(
    supervisor_client, coder_client, impact, audits, other_coder
):
    from encounters.reports.api import FindingListApi

    everything = supervisor_client.get("/api/v1/findings/").json()
    assert len(everything["results"]) == 9 and everything["next"] is None
    dismissed = supervisor_client.get(
        "/api/v1/findings/", {"status": "dismissed"}
    ).json()
    assert len(dismissed["results"]) == 2
    rule = supervisor_client.get("/api/v1/findings/", {"rule": "excludes1"}).json()[
        "results"
    ]
    assert [f["rule"] for f in rule] == ["excludes1"] and rule[0]["coder"] == "casey"
    since = supervisor_client.get(
        "/api/v1/findings/", {"since": "2026-05-20T00:00:00Z"}
    ).json()
    assert len(since["results"]) == 2
    one = rule[0]["encounter"]
    assert (
        len(
            supervisor_client.get("/api/v1/findings/", {"encounter": one}).json()[
                "results"
            ]
        )
        == 4
    )
    FindingListApi.PAGE = 4
    try:
        first = supervisor_client.get("/api/v1/findings/").json()
        assert len(first["results"]) == 4 and "after=" in first["next"]
        second = supervisor_client.get(first["next"]).json()
        assert second["results"][0]["id"] > first["results"][-1]["id"]
    finally:
        FindingListApi.PAGE = 100
    # casey sees the findings on his own encounters (all of them here), cole none.
    assert len(coder_client.get("/api/v1/findings/").json()["results"]) == 9
    from django.test import Client

    cole = Client()
    cole.force_login(other_coder)
    assert cole.get("/api/v1/findings/").json()["results"] == []


# --- Billing feed -----------------------------------------------------------------


def _cold_caches() -> None:
    from codesets.selectors import drg_weight_cache_clear, payment_rate_cache_clear

    drg_weight_cache_clear()
    payment_rate_cache_clear()


def test_billing_feed_pages_final_encounters_with_codes_drg_and_payment_in_constant_queries(
    supervisor_client, final_stays
):
    from encounters.models import Diagnosis, Encounter

    for enc in Encounter.objects.filter(status="final", type="inpatient"):
        Diagnosis.objects.create(encounter=enc, sequence=1, code="J189", poa="Y")
        Diagnosis.objects.create(encounter=enc, sequence=2, code="E871", poa="N")
    since = "2020-01-01T00:00:00Z"

    def feed() -> tuple[dict, int]:
        _cold_caches()
        with CaptureQueriesContext(connection) as queries:
            response = supervisor_client.get(
                "/api/v1/encounters/", {"status": "final", "updated_since": since}
            )
        assert response.status_code == 200
        return response.json(), len(queries)

    feed()
    data, before = feed()
    assert len(data["results"]) == 6  # five stays and the outpatient visit
    stay = next(r for r in data["results"] if r["drg"] and r["drg"]["drg"] == 194)
    assert [(d["code"], d["poa"]) for d in stay["diagnoses"]] == [
        ("J18.9", "Y"),
        ("E87.1", "N"),
    ]
    assert stay["payment"]["amount"] == "15114.36"  # weight 2.0 x 7557.18
    north = next(r for r in data["results"] if r["facility"] == "North")
    assert north["payment"]["amount"] is None  # no rates for North
    visit = next(r for r in data["results"] if r["type"] == "outpatient")
    assert visit["payment"] is None
    for day in range(1, 29):  # more stays on other days and at another facility
        encounter(
            status="final",
            facility="South" if day % 2 else "General",
            discharge=dt.date(2026, 4, day),
            drg_dict=drg(195, "1.0"),
        )
    data, after = feed()
    assert len(data["results"]) == 34
    assert after == before


def test_the_reports_index_and_the_findings_api_by_role(
    supervisor_client, admin_client_, coder_client, outsider, client
):
    from django.test import Client

    assert supervisor_client.get("/reports/").status_code == 200
    assert admin_client_.get("/reports/").status_code == 200
    assert coder_client.get("/reports/").status_code == 403
    nobody = Client()
    nobody.force_login(outsider)
    assert nobody.get("/reports/").status_code == 403
    assert nobody.get("/api/v1/reports/backlog/").status_code == 403
    assert "Reports" in supervisor_client.get("/reports/").content.decode()
    # Findings: coders (their own) and supervisors; not the code-set admin.
    assert supervisor_client.get("/api/v1/findings/").status_code == 200
    assert coder_client.get("/api/v1/findings/").status_code == 200
    assert admin_client_.get("/api/v1/findings/").status_code == 403
    assert client.get("/api/v1/findings/").status_code in (401, 403)
