"""The supervisor's pages: the audit queue, decisions on a case, batch audits."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.permissions import REVIEW_AUDITS, permission_required
from accounts.types import AuthenticatedHttpRequest
from encounters.audit import services as audit
from encounters.audit.mce import EDITS as MCE_EDITS
from encounters.audit.rules import RULES
from encounters.models import AuditBatch, Encounter, Finding
from encounters.selectors import (
    coder_accuracy,
    encounter_get_for_user,
    facility_list,
    finding_rule_summary,
    review_queue,
    review_queue_stats,
)
from encounters.services import CodingConflict, NotEditable
from encounters.services import encounter_reassign as reassign_encounter
from jobs.services import QUEUED_LATER, sends_reported

# The period of the "findings by rule" table of the audit queue.
RULE_SUMMARY_DAYS = 90

# Every rule id a finding can carry: the rules, and the MCE's one id per edit.
RULE_IDS = sorted(
    {r for r in RULES if r != "mce"}
    | {rule for rule, _severity, _text in MCE_EDITS.values()}
    | {"mce-other"}
)


class ReviewFilterForm(forms.Form):
    rule = forms.ChoiceField(
        choices=[("", "All rules"), *((r, r) for r in RULE_IDS)], required=False
    )
    severity = forms.ChoiceField(
        choices=[("", "Any severity"), *Finding.Severity.choices], required=False
    )
    coder = forms.ModelChoiceField(
        queryset=User.objects.filter(groups__name="coder").order_by("username"),
        required=False,
        empty_label="All coders",
    )
    facility = forms.CharField(max_length=100, required=False)
    min_age = forms.IntegerField(min_value=0, max_value=3650, required=False)
    sort = forms.ChoiceField(
        choices=[
            ("age", "Oldest first"),
            ("-age", "Newest first"),
            ("severity", "Most errors first"),
            ("coder", "Coder"),
            ("facility", "Facility"),
        ],
        required=False,
    )


@permission_required(REVIEW_AUDITS)
def audit_queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The supervisor's home: encounters the audit sent for a human decision."""
    form = ReviewFilterForm(request.GET or None)
    filters = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "rule": data["rule"],
            "severity": data["severity"],
            "coder_id": data["coder"].id if data["coder"] else None,
            "facility": data["facility"],
            "min_age": data["min_age"],
            "sort": data["sort"] or "age",
        }
    page = Paginator(review_queue(**filters), 50).get_page(request.GET.get("page"))
    now = timezone.now()
    for encounter in page.object_list:
        encounter.review_age = (
            (now - encounter.submitted_at).days if encounter.submitted_at else 0
        )
        encounter.open_rules = sorted(
            {f.rule for f in encounter.findings.all() if f.status == "open"}
        )
    return render(
        request,
        "encounters/audit_queue.html",
        {
            "form": form,
            "page": page,
            "cases": page.object_list,
            "stats": review_queue_stats(now),
            "accuracy": coder_accuracy(),
            "rule_summary": finding_rule_summary(days=RULE_SUMMARY_DAYS),
            "rule_summary_days": RULE_SUMMARY_DAYS,
            "facilities": facility_list(),
            "batches": AuditBatch.objects.order_by("-created_at")[:5],
            "query": request.GET.urlencode(),
        },
    )


@require_POST
@permission_required(REVIEW_AUDITS)
def finding_decide(request: AuthenticatedHttpRequest, finding_id: int) -> HttpResponse:
    finding = get_object_or_404(Finding, id=finding_id)
    encounter_get_for_user(user=request.user, encounter_id=finding.encounter_id)
    status = request.POST.get("status", "")
    try:
        audit.finding_resolve(
            user=request.user,
            finding_id=finding.id,
            status=status,
            reason=request.POST.get("reason", ""),
        )
    except (ValidationError, NotEditable) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, f"Finding {finding.rule} {status}.")
    return redirect("encounters:detail", finding.encounter_id)


@require_POST
@permission_required(REVIEW_AUDITS)
def review_decide(request: AuthenticatedHttpRequest, encounter_id: int) -> HttpResponse:
    """Return to the coder (with a comment) or accept as final."""
    encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    action = request.POST.get("action")
    try:
        version = int(request.POST.get("version", "0"))
        if action == "return":
            audit.encounter_review_return(
                user=request.user,
                encounter_id=encounter.id,
                version=version,
                comment=request.POST.get("comment", ""),
            )
            messages.success(
                request, f"Encounter {encounter.id} returned to its coder."
            )
        elif action == "accept":
            audit.encounter_review_accept(
                user=request.user,
                encounter_id=encounter.id,
                version=version,
                comment=request.POST.get("comment", ""),
            )
            messages.success(request, f"Encounter {encounter.id} accepted: final.")
        else:
            messages.error(request, "Choose return or accept.")
            return redirect("encounters:detail", encounter.id)
    except (ValidationError, NotEditable, CodingConflict, ValueError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        return redirect("encounters:detail", encounter.id)
    return redirect("encounters:audit_queue")


class BatchForm(forms.Form):
    status = forms.MultipleChoiceField(
        choices=Encounter.Status.choices,
        initial=[Encounter.Status.FINAL],
        widget=forms.CheckboxSelectMultiple,
    )
    facility = forms.CharField(max_length=100, required=False)
    coder = forms.ModelChoiceField(
        queryset=User.objects.filter(groups__name="coder").order_by("username"),
        required=False,
        empty_label="All coders",
    )
    discharged_from = forms.DateField(required=False)
    discharged_to = forms.DateField(required=False)
    reason = forms.CharField(max_length=300)


@permission_required(REVIEW_AUDITS)
def batch_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Audit a selection of encounters in the background."""
    form = BatchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        rows = Encounter.objects.filter(status__in=data["status"])
        if data["facility"]:
            rows = rows.filter(facility=data["facility"])
        if data["coder"]:
            rows = rows.filter(assigned_to=data["coder"])
        if data["discharged_from"]:
            rows = rows.filter(discharge_date__gte=data["discharged_from"])
        if data["discharged_to"]:
            rows = rows.filter(discharge_date__lte=data["discharged_to"])
        try:
            with sends_reported() as sends:
                batch = audit.audit_batch_create(
                    user=request.user,
                    encounter_ids=list(rows.values_list("id", flat=True)[:100_000]),
                    reason=data["reason"],
                )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if sends.broker_down:
                messages.warning(request, f"Batch audit {batch.id} {QUEUED_LATER}.")
            return redirect("encounters:batch_detail", batch.id)
    return render(
        request,
        "encounters/batch_new.html",
        {"form": form, "facilities": facility_list()},
    )


@permission_required(REVIEW_AUDITS)
def batch_detail(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    batch = get_object_or_404(AuditBatch, id=batch_id)
    template = "encounters/batch_detail.html"
    if request.htmx:
        template += "#progress"
    return render(
        request,
        template,
        {"batch": batch, "stalled": audit.audit_batch_stalled(batch)},
    )


@require_POST
@permission_required(REVIEW_AUDITS)
def batch_retry(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """Go on with a failed batch, or one whose worker stopped, from where it stopped."""
    batch = get_object_or_404(AuditBatch, id=batch_id)
    try:
        with sends_reported() as sends:
            audit.audit_batch_retry(batch_id=batch.id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if sends.broker_down:
            messages.warning(request, f"Batch audit {batch.id} {QUEUED_LATER}.")
        else:
            messages.success(request, f"Batch audit {batch.id} goes on.")
    return redirect("encounters:batch_detail", batch.id)


@require_POST
@permission_required(REVIEW_AUDITS)
def batch_stop(request: AuthenticatedHttpRequest, batch_id: int) -> HttpResponse:
    """Give up a batch whose worker stopped (what was audited stands)."""
    batch = get_object_or_404(AuditBatch, id=batch_id)
    try:
        audit.audit_batch_stop(batch_id=batch.id, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Batch audit {batch.id} was stopped.")
    return redirect("encounters:batch_detail", batch.id)


@require_POST
@permission_required(REVIEW_AUDITS)
def reassign(request: AuthenticatedHttpRequest, encounter_id: int) -> HttpResponse:
    """Give an open encounter to another coder, or back to the pool."""
    encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    coder_id = request.POST.get("coder", "")
    coder = User.objects.filter(id=coder_id).first() if coder_id.isdigit() else None
    version = request.POST.get("version", "")
    if not (version.isascii() and version.isdigit()):
        return HttpResponseBadRequest(
            f"version must be the encounter's version number, not {version!r}.",
            content_type="text/plain",
        )
    try:
        reassign_encounter(
            user=request.user,
            encounter_id=encounter.id,
            version=int(version),
            coder=coder,
        )
    except (ValidationError, NotEditable, CodingConflict) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(
            request,
            f"Encounter {encounter.id} "
            + (
                f"assigned to {coder.get_full_name() or coder.username}."
                if coder
                else "returned to the unassigned pool."
            ),
        )
    return redirect("encounters:detail", encounter.id)
