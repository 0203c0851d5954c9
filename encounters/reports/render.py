"""How a report's cells read, the same on the page and in the CSV export (the CSV
is exactly what the page shows), and the CSV itself."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

from encounters.reports.selectors import Column, Report, ReportFilters, Table


def cell_text(value: Any, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if kind == "money":
        return f"{Decimal(value):.2f}"
    if kind == "number":
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def table_cells(table: Table) -> dict[str, Any]:
    """The table as text rows for the template: ``rows`` (cells, link) and ``total``."""

    def cells(row: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "text": cell_text(row.get(c.key), c.kind),
                "numeric": c.kind in ("int", "number", "percent", "money"),
                "url": row.get("url") if c.kind == "link" else None,
            }
            for c in table.columns
        ]

    return {
        "name": table.name,
        "title": table.title,
        "columns": table.columns,
        "rows": [cells(r) for r in table.rows],
        "total": cells(table.total) if table.total else None,
    }


def csv_response(report: Report, table: Table, filters: ReportFilters) -> HttpResponse:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns: list[Column] = table.columns
    writer.writerow([c.label for c in columns])
    for row in table.rows:
        writer.writerow([cell_text(row.get(c.key), c.kind) for c in columns])
    if table.total:
        writer.writerow([cell_text(table.total.get(c.key), c.kind) for c in columns])
    suffix = "" if table.name == "rows" else f"-{table.name}"
    filename = (
        f"{report.name}{suffix}-{filters.date_from.isoformat()}-"
        f"{filters.date_to.isoformat()}.csv"
    )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
