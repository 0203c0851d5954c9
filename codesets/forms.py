from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from codesets.models import System

CHANGES = [
    ("added", "Added"),
    ("deleted", "Deleted"),
    ("revised", "Revised titles"),
    ("billable_changed", "Billable changes"),
    ("moved", "Moved in the hierarchy"),
    ("dates_changed", "Validity dates changed"),
]


class EffectiveRangeForm(forms.Form):
    """A release's effective_from / effective_to: the end may not come before the start."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("effective_from"), data.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", "The release cannot end before it starts.")
        return data


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """One file, or several: the part files of one release (NCCI PTP edits)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data]
        if not files:  # posted with no file at all: "required", like one empty file
            files = [None]
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class ReleaseUploadForm(EffectiveRangeForm):
    file = MultipleFileField(
        help_text="The official file exactly as CMS publishes it, or your AMA-licensed CPT file (XML or text; .gz accepted)."
    )
    system = forms.ChoiceField(
        choices=[("", "Detect from the file")] + [(s.value, s.label) for s in System],
        required=False,
    )
    label = forms.CharField(
        max_length=100,
        required=False,
        help_text="Leave empty to name it from the file (e.g. ICD-10-CM FY2026, HCPCS Level II 2020).",
    )
    effective_from = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Proposed from the file when empty; you confirm it when activating.",
    )
    effective_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_file(self):
        uploads = self.cleaned_data["file"]
        size = sum(upload.size for upload in uploads)
        if size > settings.CODESET_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {size:,} bytes; the limit is {settings.CODESET_UPLOAD_MAX_BYTES:,} bytes."
            )
        return uploads


class ReleaseActivateForm(EffectiveRangeForm):
    effective_from = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="First date of service this release judges.",
    )
    effective_to = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Last date of service (empty: until a later release).",
    )


class DiffFilterForm(forms.Form):
    change = forms.ChoiceField(choices=CHANGES, required=False)
    q = forms.CharField(max_length=100, required=False)
    page = forms.IntegerField(min_value=1, required=False)


class SuggestionAcceptForm(forms.Form):
    """A code taken from the suggestions for words (codesets.services.suggestion_accept)."""

    q = forms.CharField(max_length=200)
    system = forms.ChoiceField(choices=System.choices)
    code = forms.CharField(max_length=16)


class EncoderSearchForm(forms.Form):
    q = forms.CharField(max_length=200, required=False)
    system = forms.ChoiceField(
        choices=[("", "All code systems")] + [(s.value, s.label) for s in System],
        required=False,
    )
    dos = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Date of service",
    )


class PcsBuilderForm(forms.Form):
    """The GET parameters of the ICD-10-PCS table builder."""

    # The characters chosen so far ("prefix" in the API; a form's own attribute).
    code = forms.CharField(max_length=20, required=False, strip=False)
    dos = forms.DateField(required=False, label="Date of service")
    fragment = forms.ChoiceField(
        choices=[("", "whole page"), ("panel", "panel"), ("step", "step")],
        required=False,
    )


class PaymentRateForm(forms.Form):
    """A facility's IPPS rates for a fiscal year (the page of codesets.views)."""

    facility = forms.CharField(max_length=100, help_text="As on the encounters.")
    fiscal_year = forms.IntegerField(
        min_value=2000, max_value=2100, help_text="Federal fiscal year, e.g. 2026."
    )
    operating = forms.DecimalField(
        max_digits=10,
        decimal_places=2,
        label="Operating standardized amount ($)",
        help_text="IPPS final rule Tables 1A-1C (the row for your hospital).",
    )
    capital = forms.DecimalField(
        max_digits=10,
        decimal_places=2,
        label="Capital federal rate ($)",
        help_text="IPPS final rule Table 1D.",
    )
    wage_index = forms.DecimalField(
        max_digits=6,
        decimal_places=4,
        required=False,
        help_text="Your CBSA's wage index (Tables 2/3). Empty: 1.0.",
    )
    labor_share = forms.DecimalField(
        max_digits=5,
        decimal_places=4,
        required=False,
        help_text="Empty: 0.676, or 0.62 where the wage index is 1.0 or less.",
    )
    gaf = forms.DecimalField(
        label="GAF",
        max_digits=6,
        decimal_places=4,
        required=False,
        help_text="Capital geographic adjustment factor. Empty: wage index ^ 0.6848.",
    )
