"""Batch claim exports for billing (supervisors): start one, watch it, download it."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.permissions import REVIEW_AUDITS, permission_required
from accounts.types import AuthenticatedHttpRequest
from encounters.interop.models import ClaimExport
from encounters.interop.services import claim_export_create, claim_export_path
from encounters.selectors import facility_list


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=ClaimExport.Format.choices)
    date_from = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    facility = forms.CharField(max_length=100, required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            raise ValidationError("The end of the period is before its start.")
        if start and end and end - start > dt.timedelta(days=366):
            raise ValidationError("Export at most a year at a time.")
        return data


@permission_required(REVIEW_AUDITS)
def export_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The claims of the final encounters of a period, as X12 837 or FHIR."""
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        export = claim_export_create(user=request.user, **form.cleaned_data)
        return redirect("interop:export_detail", export.id)
    return render(
        request,
        "interop/exports.html",
        {
            "form": form,
            "facilities": facility_list(),
            "exports": ClaimExport.objects.select_related("requested_by")[:50],
        },
    )


@permission_required(REVIEW_AUDITS)
def export_detail(request: AuthenticatedHttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(ClaimExport, id=export_id)
    template = "interop/export_detail.html"
    if request.htmx:
        template += "#progress"
    return render(request, template, {"export": export})


@permission_required(REVIEW_AUDITS)
def export_download(request: AuthenticatedHttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(ClaimExport, id=export_id, state=ClaimExport.State.DONE)
    path = claim_export_path(export)
    if not path.is_file():
        raise Http404("The file of this export is no longer on the server.")
    content_type = (
        "application/edi-x12"
        if export.format == ClaimExport.Format.X12
        else "application/fhir+ndjson"
    )
    # FileResponse streams the file in blocks (a StreamingHttpResponse: the
    # decorator's HttpResponse type does not know it).
    return FileResponse(  # type: ignore[return-value]
        path.open("rb"),
        as_attachment=True,
        filename=export.file_name,
        content_type=content_type,
    )
