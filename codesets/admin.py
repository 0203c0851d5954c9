"""Django admin for the code sets: everything imported is read-only here.

Imported content changes only through a new release (Code sets → Import a file), so
that every change has its official source file and its diff.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.permissions import MANAGE_CODESETS
from codesets.models import (
    Code,
    IndexTerm,
    MueEdit,
    Note,
    PaymentRate,
    PaymentRateChange,
    PcsTable,
    PtpEdit,
    Release,
)
from codesets.services import payment_rate_set


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Release)
class ReleaseAdmin(ReadOnlyAdmin):
    list_display = (
        "label",
        "system",
        "state",
        "effective_from",
        "effective_to",
        "code_count",
        "billable_count",
        "created_at",
    )
    list_filter = ("system", "state")
    search_fields = ("label", "source_file_name", "source_sha256")


@admin.register(Code)
class CodeAdmin(ReadOnlyAdmin):
    list_display = ("system", "display", "long_title", "billable", "kind")
    list_filter = ("system", "kind", "billable")
    search_fields = ("code", "long_title")
    show_full_result_count = False


@admin.register(Note)
class NoteAdmin(ReadOnlyAdmin):
    list_display = ("system", "code", "kind", "seq", "text")
    list_filter = ("system", "kind")
    search_fields = ("code",)
    show_full_result_count = False


@admin.register(PcsTable)
class PcsTableAdmin(ReadOnlyAdmin):
    list_display = ("code",)
    search_fields = ("code",)


@admin.register(PtpEdit)
class PtpEditAdmin(ReadOnlyAdmin):
    list_display = (
        "release",
        "column1",
        "column2",
        "effective",
        "deletion",
        "modifier_indicator",
    )
    search_fields = ("column1", "column2")
    show_full_result_count = False


@admin.register(MueEdit)
class MueEditAdmin(ReadOnlyAdmin):
    list_display = ("release", "code", "max_units", "adjudication_indicator")
    search_fields = ("code",)
    show_full_result_count = False


@admin.register(IndexTerm)
class IndexTermAdmin(ReadOnlyAdmin):
    list_display = ("release", "path", "column", "code")
    search_fields = ("path", "code")
    show_full_result_count = False


class PaymentRateForm(forms.ModelForm):
    class Meta:
        model = PaymentRate
        fields = [
            "facility",
            "fiscal_year",
            "operating",
            "capital",
            "wage_index",
            "labor_share",
            "gaf",
        ]
        help_texts = {
            "labor_share": "Leave empty for the rule's default: 0.676, or 0.62 "
            "where the wage index is 1.0 or less.",
            "gaf": "Leave empty for wage index ^ 0.6848 (42 CFR 412.316(a)).",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["labor_share"].required = False
        self.fields["gaf"].required = False
        self.fields["wage_index"].required = False


@admin.register(PaymentRate)
class PaymentRateAdmin(admin.ModelAdmin):
    """Code-set admins set a facility's rates here (or with ``manage.py
    payment_rates``); every save goes through the service that keeps the history."""

    form = PaymentRateForm
    list_display = (
        "facility",
        "fiscal_year",
        "operating",
        "capital",
        "wage_index",
        "labor_share",
        "gaf",
        "updated_at",
        "updated_by",
    )
    list_filter = ("fiscal_year",)
    search_fields = ("facility",)

    def _allowed(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGE_CODESETS)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the history keeps its rows; set new figures instead

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("facility", "fiscal_year") if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: PaymentRate, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        payment_rate_set(
            facility=obj.facility,
            fiscal_year=obj.fiscal_year,
            operating=data["operating"],
            capital=data["capital"],
            wage_index=data.get("wage_index"),
            labor_share=data.get("labor_share"),
            gaf=data.get("gaf"),
            user=request.user,  # type: ignore[arg-type]
            via="admin",
        )


@admin.register(PaymentRateChange)
class PaymentRateChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "rate",
        "changed_at",
        "changed_by",
        "via",
        "before",
        "after",
        "note",
    )
    list_filter = ("via",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm(MANAGE_CODESETS)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(MANAGE_CODESETS)
