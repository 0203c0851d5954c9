"""Django admin for the code sets: everything imported is read-only here.

Imported content changes only through a new release (Code sets → Import a file), so
that every change has its official source file and its diff.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from codesets.models import Code, IndexTerm, MueEdit, Note, PcsTable, PtpEdit, Release


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
