from __future__ import annotations

from django import forms
from django.conf import settings

from codesets.models import System

CHANGES = [
    ("added", "Added"),
    ("deleted", "Deleted"),
    ("revised", "Revised titles"),
    ("billable_changed", "Billable changes"),
    ("moved", "Moved in the hierarchy"),
]


class EffectiveRangeForm(forms.Form):
    """A release's effective_from / effective_to: the end may not come before the start."""

    def clean(self):
        data = super().clean()
        start, end = data.get("effective_from"), data.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", "The release cannot end before it starts.")
        return data


class ReleaseUploadForm(EffectiveRangeForm):
    file = forms.FileField(
        help_text="The official file exactly as CMS publishes it (XML or text; .gz accepted)."
    )
    system = forms.ChoiceField(
        choices=[("", "Detect from the file")] + [(s.value, s.label) for s in System],
        required=False,
    )
    label = forms.CharField(
        max_length=100,
        required=False,
        help_text="Leave empty to name it from the file (e.g. ICD-10-CM FY2026).",
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
        upload = self.cleaned_data["file"]
        if upload.size > settings.CODESET_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {settings.CODESET_UPLOAD_MAX_BYTES:,} bytes."
            )
        return upload


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
