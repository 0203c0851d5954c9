from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.permissions import MANAGE_CODESETS, VIEW_CODES, permission_required
from accounts.types import AuthenticatedHttpRequest
from codesets import selectors, services, table_releases
from codesets.forms import (
    CHANGES,
    DiffFilterForm,
    EncoderSearchForm,
    PaymentRateForm,
    PcsBuilderForm,
    ReleaseActivateForm,
    ReleaseUploadForm,
    SuggestionAcceptForm,
)
from codesets.importers.base import ImportFormatError
from codesets.index_search import index_search
from codesets.models import Release, System, display_code, normalize_code
from codesets.pcs_builder import pcs_builder_step
from codesets.pcs_lookup import pcs_lookup
from codesets.search import code_detail, code_search
from jobs.services import QUEUED_LATER, sends_reported

DIFF_PAGE_SIZE = 100
# What a table release's rows are called on its page: (one, several, filter hint).
TABLE_ROWS = {
    "drg_weights": ("MS-DRG", "MS-DRGs", "MS-DRG number or words of its title"),
    "ncci_ptp": ("PTP edit", "PTP edits", "Column 1 or column 2 code"),
    "mue": ("MUE", "MUEs", "HCPCS/CPT code"),
    "poa_exempt": (
        "exempt code",
        "exempt codes",
        "Code (Z3A.00) or words of its title",
    ),
    "icd10cm_index": (
        "index entry",
        "index entries",
        "Words of the term or a code (T39.1)",
    ),
    "icd10pcs_index": (
        "index entry",
        "index entries",
        "Words of the term or a code (0DTJ)",
    ),
    "icd10pcs_definitions": ("definition", "definitions", "Words of a value or a key"),
}


@permission_required(MANAGE_CODESETS)
def release_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The code-set admin's home: what judges today's dates, and every release."""
    today = timezone.localdate()
    return render(
        request,
        "codesets/release_list.html",
        {
            "releases": selectors.release_list(),
            "coverage": selectors.coverage_on(today),
            "today": today,
        },
    )


@permission_required(MANAGE_CODESETS)
def release_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ReleaseUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        uploads = form.cleaned_data["file"]
        with tempfile.TemporaryDirectory() as tmp:
            files = []
            for n, upload in enumerate(uploads):
                path = Path(tmp) / f"upload-{n}"
                with open(path, "wb") as fh:
                    for chunk in upload.chunks():
                        fh.write(chunk)
                files.append((path, upload.name))
            try:
                # Several files are the parts of one release: one zip of them.
                path, file_name = files[0]
                if len(files) > 1:
                    path = table_releases.bundle_parts(files=files, folder=Path(tmp))
                    file_name = path.name
                with sends_reported() as sends:
                    release = services.release_receive_file(
                        path=path,
                        file_name=file_name,
                        user_id=request.user.id,
                        system=form.cleaned_data["system"] or None,
                        label=form.cleaned_data["label"],
                        effective_from=form.cleaned_data["effective_from"],
                        effective_to=form.cleaned_data["effective_to"],
                    )
            except services.DuplicateRelease as exc:
                messages.warning(request, str(exc))
                return redirect("codesets:release_detail", release_id=exc.existing.id)
            except (ImportFormatError, services.ReleaseError) as exc:
                form.add_error("file", str(exc))
            else:
                if sends.broker_down:
                    messages.warning(
                        request,
                        f"“{release.source_file_name}” received. Its import is {QUEUED_LATER}.",
                    )
                else:
                    messages.success(
                        request,
                        f"“{release.source_file_name}” received; the import runs in the background.",
                    )
                return redirect("codesets:release_detail", release_id=release.id)
    return render(request, "codesets/release_upload.html", {"form": form})


@permission_required(MANAGE_CODESETS)
def release_detail(request: AuthenticatedHttpRequest, release_id: int) -> HttpResponse:
    release = get_object_or_404(selectors.release_list(), id=release_id)
    stalled = services.release_import_stalled(release)
    if request.htmx and request.GET.get("fragment") == "progress":
        response = render(
            request,
            "codesets/release_detail.html#progress",
            {"release": release, "stalled": stalled},
        )
        if release.state != Release.State.IMPORTING:
            response["HX-Refresh"] = (
                "true"  # the job ended: show the whole staged release
            )
        return response
    filters = DiffFilterForm(request.GET or None)
    change, query, page = "added", "", 1
    if filters.is_valid():
        change = filters.cleaned_data["change"] or "added"
        query = filters.cleaned_data["q"] or ""
        page = filters.cleaned_data["page"] or 1
    rows: Sequence[object] = []
    total = 0
    if release.state in (
        Release.State.STAGED,
        Release.State.ACTIVE,
        Release.State.RETIRED,
    ):
        if release.is_table:
            rows, total = selectors.table_rows_page(
                release=release,
                query=query,
                offset=(page - 1) * DIFF_PAGE_SIZE,
                limit=DIFF_PAGE_SIZE,
            )
        else:
            rows, total = selectors.release_diff_page(
                release=release,
                change=change,
                query=query,
                offset=(page - 1) * DIFF_PAGE_SIZE,
                limit=DIFF_PAGE_SIZE,
            )
    row_singular, row_plural, filter_hint = TABLE_ROWS.get(release.system, ("", "", ""))
    context = {
        "release": release,
        "stalled": stalled,
        "row_singular": row_singular,
        "row_plural": row_plural,
        "filter_hint": filter_hint,
        "changes": [(key, label, release.diff.get(key, 0)) for key, label in CHANGES],
        "change": change,
        "query": query,
        "page": page,
        "rows": rows,
        "total": total,
        "has_next": page * DIFF_PAGE_SIZE < total,
        "activate_form": ReleaseActivateForm(
            initial={
                "effective_from": release.effective_from,
                "effective_to": release.effective_to,
            }
        ),
    }
    if request.htmx and request.GET.get("fragment") == "diff":
        return render(request, "codesets/release_detail.html#diff", context)
    return render(request, "codesets/release_detail.html", context)


@require_POST
@permission_required(MANAGE_CODESETS)
def release_activate(
    request: AuthenticatedHttpRequest, release_id: int
) -> HttpResponse:
    release = get_object_or_404(Release, id=release_id)
    form = ReleaseActivateForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                # ErrorList.__getitem__ yields each message as a str; the stubs type
                # the items as the stored ValidationError | str.
                messages.error(request, error)  # type: ignore[arg-type]
        return redirect("codesets:release_detail", release_id=release.id)
    try:
        release = services.release_activate(
            release_id=release.id,
            user_id=request.user.id,
            effective_from=form.cleaned_data["effective_from"],
            effective_to=form.cleaned_data["effective_to"],
        )
    except services.ReleaseError as exc:
        messages.error(request, str(exc))
    else:
        until = f" to {release.effective_to:%Y-%m-%d}" if release.effective_to else ""
        messages.success(
            request,
            f"“{release.label}” is now in force from {release.effective_from:%Y-%m-%d}{until}.",
        )
    return redirect("codesets:release_detail", release_id=release.id)


@require_POST
@permission_required(MANAGE_CODESETS)
def release_discard(request: AuthenticatedHttpRequest, release_id: int) -> HttpResponse:
    release = get_object_or_404(Release, id=release_id)
    try:
        services.release_discard(release_id=release.id)
    except services.ReleaseError as exc:
        messages.error(request, str(exc))
        return redirect("codesets:release_detail", release_id=release.id)
    messages.success(
        request, f"“{release.label or release.source_file_name}” was discarded."
    )
    return redirect("codesets:release_list")


@require_POST
@permission_required(MANAGE_CODESETS)
def release_retry(request: AuthenticatedHttpRequest, release_id: int) -> HttpResponse:
    """Start a failed import, or one whose worker stopped, again."""
    release = get_object_or_404(Release, id=release_id)
    try:
        with sends_reported() as sends:
            services.release_import_retry(release_id=release.id)
    except services.ReleaseError as exc:
        messages.error(request, str(exc))
    else:
        if sends.broker_down:
            messages.warning(request, f"The import is {QUEUED_LATER}.")
        else:
            messages.success(request, "The import starts again.")
    return redirect("codesets:release_detail", release_id=release.id)


@require_POST
@permission_required(VIEW_CODES)
def suggestion_accept(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A coder took a code from the suggestions (the encoder, the coding form's code
    boxes): counted for the learned prior of the code search. 204, or 400."""
    form = SuggestionAcceptForm(request.POST)
    if not form.is_valid():
        return HttpResponse(status=400)
    services.suggestion_accept(
        query=form.cleaned_data["q"],
        system=form.cleaned_data["system"],
        code=form.cleaned_data["code"],
    )
    return HttpResponse(status=204)


@permission_required(VIEW_CODES)
def encoder(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Code lookup: type a code or words; results update as you type (HTMX)."""
    form = EncoderSearchForm(request.GET or None)
    query, system, day = "", "", None
    if form.is_valid():
        query = form.cleaned_data["q"] or ""
        system = form.cleaned_data["system"] or ""
        day = form.cleaned_data["dos"]
    dos_note = ""
    if day is None:  # the page opened without a date (a search always sends one)
        default = selectors.day_of_service_default(
            systems=[system] if system else System.values, today=timezone.localdate()
        )
        day, dos_note = default.day, default.note
    result = code_search(
        query=query, day=day, systems=[system] if system else None, limit=25
    )
    context = {
        "form": form,
        "query": query,
        "system": system,
        "dos": day,
        "dos_note": dos_note,
        "result": result,
        "index_hits": index_search(q=query, dos=day, limit=10)
        if system in ("", System.ICD10CM)
        else [],
        "modifier_hits": selectors.modifier_search(query=query, day=day)
        if system in ("", System.HCPCS, System.CPT)
        else [],
        # The ICD-10-PCS Index terms behind the PCS codes, when PCS alone is searched.
        "pcs_entries": pcs_lookup(query=query, day=day, limit=25).entries
        if system == System.ICD10PCS and query and not result.by_code
        else [],
    }
    if request.htmx and request.GET.get("fragment") == "results":
        return render(request, "codesets/encoder.html#results", context)
    return render(request, "codesets/encoder.html", context)


@permission_required(VIEW_CODES)
def code_panel(
    request: AuthenticatedHttpRequest, system: str, code: str
) -> HttpResponse:
    """One code: path, notes (own and inherited), 7th characters, validity on the date."""
    if system not in System.values:
        raise Http404
    form = EncoderSearchForm(request.GET or None)
    day = (
        form.cleaned_data["dos"]
        if form.is_valid() and form.cleaned_data["dos"]
        else selectors.day_of_service_default(
            systems=[system], today=timezone.localdate()
        ).day
    )
    detail = code_detail(system=system, code=code, day=day)
    if detail is None:
        if not request.htmx:
            raise Http404
        # htmx swaps no 4xx reply: the panel says it (an index entry can name a code
        # that no loaded tabular release holds).
        return render(
            request,
            "codesets/code_panel_missing.html",
            {
                "system_label": System(system).label,
                "display": display_code(system, normalize_code(code)),
                "dos": day,
            },
        )
    template = "codesets/code_panel.html" if request.htmx else "codesets/code_page.html"
    return render(
        request, template, {"detail": detail, "dos": day, "dos_iso": day.isoformat()}
    )


@permission_required(VIEW_CODES)
def pcs_builder(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The ICD-10-PCS table builder, one character at a time. The encoder and the
    coding form open its panel in place (``fragment=panel``, Alt+B); each character
    typed or picked swaps the step below the code box (``fragment=step``)."""
    form = PcsBuilderForm(request.GET or None)
    prefix, day, fragment = "", None, ""
    if form.is_valid():
        prefix = form.cleaned_data["code"] or ""
        day = form.cleaned_data["dos"]
        fragment = form.cleaned_data["fragment"] or ""
    dos_note = ""
    if day is None:  # a step always sends the builder's date
        default = selectors.day_of_service_default(
            systems=[System.ICD10PCS], today=timezone.localdate()
        )
        day, dos_note = default.day, default.note
    context = {
        "step": pcs_builder_step(prefix=prefix, day=day),
        "dos": day,
        "dos_note": dos_note,
    }
    if request.htmx and fragment:
        return render(request, f"codesets/pcs_builder.html#{fragment}", context)
    return render(request, "codesets/pcs_builder.html", context)


@permission_required(MANAGE_CODESETS)
def payment_rates(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Each facility's IPPS rates per fiscal year, and a form to set them."""
    form = PaymentRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.payment_rate_set(
                **form.cleaned_data, user=request.user, via="page"
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(
                request,
                f"Rates of {result.rate} "
                + ("saved." if result.changed else "unchanged."),
            )
            return redirect("codesets:payment_rates")
    return render(
        request,
        "codesets/payment_rates.html",
        {"form": form, "rates": selectors.payment_rate_list()},
    )
