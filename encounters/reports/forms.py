"""The reports' filters, the same for the pages and the API: ``from``, ``to``
(YYYY-MM-DD), ``facility``, ``coder`` (a username), ``type``; ``precision``
(accuracy) and ``period`` (audit impact)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from accounts.models import User
from accounts.permissions import CODE_ENCOUNTERS, MANAGE_USERS, REVIEW_AUDITS
from encounters.models import Encounter
from encounters.reports.selectors import PERIODS, ReportFilters

DEFAULT_DAYS = 90


def may_view_reports(user: Any) -> bool:
    """Supervisors and admins (the code-set admin runs the site); not coders."""
    return bool(
        user.is_authenticated
        and (user.has_perm(REVIEW_AUDITS) or user.has_perm(MANAGE_USERS))
    )


def coder_choices() -> list[tuple[str, str]]:
    coders = (
        User.objects.filter(is_active=True)
        .filter(groups__permissions__codename=CODE_ENCOUNTERS.split(".")[1])
        .distinct()
        .order_by("username")
    )
    return [("", "All coders")] + [(u.username, u.username) for u in coders]


class ReportFilterForm(forms.Form):
    facility = forms.CharField(max_length=100, required=False)
    coder = forms.CharField(max_length=150, required=False)
    type = forms.ChoiceField(
        choices=[("", "All types"), *Encounter.Type.choices], required=False
    )
    precision = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_value=Decimal("0.5"),
        decimal_places=3,
        required=False,
        help_text="Accuracy: the ± wanted (0.05 = ±5 points).",
    )
    period = forms.ChoiceField(
        choices=[(p, p.capitalize()) for p in PERIODS], required=False
    )

    def __init__(self, *args: Any, today: dt.date | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.today = today or timezone.localdate()
        # "from" is a Python keyword: the fields are added by name.
        self.fields["from"] = forms.DateField(
            required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
        self.fields["to"] = forms.DateField(
            required=False, widget=forms.DateInput(attrs={"type": "date"})
        )
        self.order_fields(["from", "to", "facility", "coder", "type"])

    def clean_coder(self) -> User | None:
        name = self.cleaned_data["coder"].strip()
        if not name:
            return None
        user = User.objects.filter(username=name).first()
        if user is None:
            raise forms.ValidationError(f"No user {name}.")
        return user

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            raise forms.ValidationError("The period starts after it ends.")
        return data

    def filters(self) -> ReportFilters:
        """The filters asked for; the last ``DEFAULT_DAYS`` days by default. Call
        after ``is_valid()``."""
        data = self.cleaned_data
        end = data.get("to") or self.today
        start = data.get("from") or end - dt.timedelta(days=DEFAULT_DAYS - 1)
        coder = data.get("coder")
        return ReportFilters(
            date_from=start,
            date_to=end,
            facility=data.get("facility") or "",
            coder_id=coder.id if coder else None,
            type=data.get("type") or "",
            precision=data.get("precision") or Decimal("0.05"),
            period=data.get("period") or "month",
            today=self.today,
        )
