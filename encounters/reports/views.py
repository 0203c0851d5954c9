"""The report pages (supervisors and admins; coders get 403)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render

from accounts.types import AuthenticatedHttpRequest
from encounters.reports.charts import render as render_chart
from encounters.reports.forms import ReportFilterForm, coder_choices, may_view_reports
from encounters.reports.render import csv_response, table_html
from encounters.reports.selectors import REPORTS
from encounters.selectors import facility_list

TITLES = {
    "productivity": "Productivity",
    "backlog": "Backlog (DNFB)",
    "case-mix": "Case mix",
    "accuracy": "Accuracy",
    "audit-impact": "Audit impact",
}


@login_required
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not may_view_reports(request.user):
        raise PermissionDenied
    return render(request, "reports/index.html", {"reports": TITLES.items()})


@login_required
def report(request: AuthenticatedHttpRequest, name: str) -> HttpResponse:
    if name not in REPORTS:
        raise Http404("No such report.")
    if not may_view_reports(request.user):
        raise PermissionDenied
    form = ReportFilterForm(request.GET)
    if not form.is_valid():
        form.cleaned_data = {}  # the defaults, with the errors shown
    filters = form.filters()
    result = REPORTS[name](filters)
    if request.GET.get("format") == "csv":
        table = result.tables().get(request.GET.get("table", "rows"))
        if table is None:
            raise Http404("No such table.")
        return csv_response(result, table, filters)
    query = request.GET.copy()
    query.pop("table", None)
    query.pop("format", None)
    return render(
        request,
        "reports/report.html",
        {
            "report": result,
            "reports": TITLES.items(),
            "form": form,
            "filters": filters,
            "facilities": facility_list(),
            "coders": coder_choices(),
            "chart": render_chart(result.chart),
            "tables": [
                {
                    "name": t.name,
                    "title": t.title,
                    "rows": t.rows,
                    "html": table_html(t),
                }
                for t in [result.table, *result.sections]
            ],
            "query": query.urlencode(),
        },
    )
