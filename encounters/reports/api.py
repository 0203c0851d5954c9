"""``GET /api/v1/reports/<name>/`` (JSON, or CSV with ``format=csv``) and
``GET /api/v1/findings/`` (DESIGN.md "Interfaces others call")."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import CODE_ENCOUNTERS, api_permission
from accounts.types import AuthenticatedRequest
from encounters.models import Finding
from encounters.reports.forms import ReportFilterForm, may_view_reports
from encounters.reports.render import csv_response
from encounters.reports.selectors import REPORTS, Table
from encounters.selectors import sees_all_encounters


class CsvRenderer(BaseRenderer):
    """Lets ``?format=csv`` through DRF's content negotiation; the view itself
    answers with the CSV."""

    media_type = "text/csv"
    format = "csv"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> bytes:
        return b""


class MayViewReports(BasePermission):
    message = "Reports are for supervisors and admins."

    def has_permission(self, request: Any, view: Any) -> bool:
        return may_view_reports(request.user)


class _ColumnSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.ChoiceField(
        choices=["text", "int", "number", "percent", "money", "date", "link"]
    )


class _TableSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    columns = _ColumnSerializer(many=True)
    rows = serializers.ListField(child=serializers.DictField())
    total = serializers.DictField(allow_null=True)


class ReportApi(APIView):
    """One report: its main table (``rows``, ``total``), the chart's series and
    further tables (``sections``). ``format=csv`` (with ``table=`` a section's
    name) gives the CSV the page exports."""

    permission_classes = [MayViewReports]
    renderer_classes = [JSONRenderer, CsvRenderer]

    class OutputSerializer(serializers.Serializer):
        class FiltersSerializer(serializers.Serializer):
            date_from = serializers.DateField(source="from")
            date_to = serializers.DateField(source="to")
            facility = serializers.CharField()
            coder = serializers.CharField(allow_null=True)
            type = serializers.CharField()

        class ChartSerializer(serializers.Serializer):
            class SeriesSerializer(serializers.Serializer):
                name = serializers.CharField()
                values = serializers.ListField(
                    child=serializers.FloatField(allow_null=True)
                )

            kind = serializers.CharField()
            title = serializers.CharField()
            categories = serializers.ListField(child=serializers.CharField())
            series = SeriesSerializer(many=True)

        report = serializers.CharField()
        title = serializers.CharField()
        basis = serializers.CharField()
        filters = FiltersSerializer()
        columns = _ColumnSerializer(many=True)
        rows = serializers.ListField(child=serializers.DictField())
        total = serializers.DictField(allow_null=True)
        chart = ChartSerializer()
        sections = _TableSerializer(many=True)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE),
            OpenApiParameter("to", OpenApiTypes.DATE),
            OpenApiParameter("facility", str),
            OpenApiParameter("coder", str, description="A username."),
            OpenApiParameter(
                "type",
                str,
                enum=["inpatient", "outpatient", "emergency", "professional"],
            ),
            OpenApiParameter("precision", float, description="accuracy: the ± wanted"),
            OpenApiParameter("period", str, enum=["week", "month"]),
            OpenApiParameter("format", str, enum=["json", "csv"]),
            OpenApiParameter("table", str, description="format=csv: a section's name"),
        ],
        responses={200: OutputSerializer},
    )
    def get(self, request: AuthenticatedRequest, name: str) -> Response | HttpResponse:
        if name not in REPORTS:
            raise Http404("No such report.")
        form = ReportFilterForm(request.query_params)
        if not form.is_valid():
            return Response(
                {"detail": "The request is not valid.", "errors": form.errors},
                status=400,
            )
        filters = form.filters()
        report = REPORTS[name](filters)
        if request.query_params.get("format") == "csv":
            table = report.tables().get(request.query_params.get("table", "rows"))
            if table is None:
                raise Http404("No such table.")
            return csv_response(report, table, filters)
        coder = form.cleaned_data.get("coder")
        data = {
            "report": report.name,
            "title": report.title,
            "basis": report.basis,
            "filters": {
                "from": filters.date_from,
                "to": filters.date_to,
                "facility": filters.facility,
                "coder": coder.username if coder else None,
                "type": filters.type,
            },
            "columns": report.table.columns,
            "rows": _jsonable(report.table.rows),
            "total": _jsonable([report.table.total])[0] if report.table.total else None,
            "chart": {
                "kind": report.chart.kind,
                "title": report.chart.title,
                "categories": report.chart.categories,
                "series": [{"name": n, "values": v} for n, v in report.chart.series],
            },
            "sections": [_section(t) for t in report.sections],
        }
        return Response(self.OutputSerializer(data).data)


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Money as strings with cents (DESIGN.md's payment convention), dates ISO."""
    from decimal import Decimal

    out = []
    for row in rows:
        line = {}
        for key, value in row.items():
            if isinstance(value, Decimal):
                value = f"{value:.2f}"
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            line[key] = value
        out.append(line)
    return out


def _section(table: Table) -> dict[str, Any]:
    return {
        "name": table.name,
        "title": table.title,
        "columns": table.columns,
        "rows": _jsonable(table.rows),
        "total": _jsonable([table.total])[0] if table.total else None,
    }


class FindingListApi(APIView):
    """Findings, oldest first, a page at a time (``next`` carries ``after``):
    supervisors see all, coders those on their own encounters."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]
    PAGE = 100

    class FilterSerializer(serializers.Serializer):
        rule = serializers.CharField(max_length=40, required=False, default="")
        status = serializers.ChoiceField(
            choices=Finding.Status.choices, required=False, default=""
        )
        severity = serializers.ChoiceField(
            choices=Finding.Severity.choices, required=False, default=""
        )
        coder = serializers.CharField(max_length=150, required=False, default="")
        encounter = serializers.IntegerField(min_value=1, required=False, default=None)
        since = serializers.DateTimeField(required=False, default=None)
        after = serializers.IntegerField(min_value=0, required=False, default=0)

    class OutputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            encounter = serializers.IntegerField(source="encounter_id")
            coder = serializers.CharField(
                source="encounter.assigned_to.username", allow_null=True, default=None
            )
            rule = serializers.CharField()
            severity = serializers.CharField()
            message = serializers.CharField()
            codes = serializers.ListField(child=serializers.CharField())
            reference = serializers.CharField()
            status = serializers.CharField()
            resolved_by = serializers.CharField(
                source="resolved_by.username", allow_null=True, default=None
            )
            resolved_at = serializers.DateTimeField(allow_null=True)
            resolution = serializers.CharField()
            created_at = serializers.DateTimeField()

        results = ItemSerializer(many=True)
        next = serializers.URLField(allow_null=True)

    @extend_schema(
        operation_id="v1_findings_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        f = filters.validated_data
        rows = Finding.objects.select_related("encounter__assigned_to", "resolved_by")
        if not sees_all_encounters(request.user):
            rows = rows.filter(encounter__assigned_to=request.user)
        if f["rule"]:
            rows = rows.filter(rule=f["rule"])
        if f["status"]:
            rows = rows.filter(status=f["status"])
        if f["severity"]:
            rows = rows.filter(severity=f["severity"])
        if f["coder"]:
            rows = rows.filter(encounter__assigned_to__username=f["coder"])
        if f["encounter"] is not None:
            rows = rows.filter(encounter_id=f["encounter"])
        if f["since"] is not None:
            rows = rows.filter(created_at__gte=f["since"])
        page = list(rows.filter(id__gt=f["after"]).order_by("id")[: self.PAGE + 1])
        next_url = None
        if len(page) > self.PAGE:
            page = page[: self.PAGE]
            query = request.query_params.copy()
            query["after"] = str(page[-1].id)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(self.OutputSerializer({"results": page, "next": next_url}).data)
