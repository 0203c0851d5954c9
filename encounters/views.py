from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import User
from accounts.permissions import CODE_ENCOUNTERS, REVIEW_AUDITS, permission_required
from accounts.types import AuthenticatedHttpRequest
from codesets.models import System, display_code
from encounters import services
from encounters.audit.rules import Draft
from encounters.audit.selectors import (
    DxLine,
    PxLine,
    encounter_checks,
    encounter_live_checks,
)
from encounters.audit.services import encounter_review_correct
from encounters.drg import DrgResult, encounter_drg
from encounters.forms import (
    CodingPost,
    DiagnosisRow,
    MalformedPost,
    ProcedureRow,
    QueueFilterForm,
    coding_post_parse,
)
from encounters.models import PROCEDURE_SYSTEMS, CodingChange, Diagnosis, Encounter
from encounters.payment import drg_money, drg_pricer, shift_display
from encounters.selectors import (
    HistoryEntry,
    encounter_code_suggestions,
    encounter_drg_shift,
    encounter_get_for_user,
    encounter_history,
    encounter_may_edit,
    encounter_next_returned,
    encounter_queue,
    facility_list,
    sees_all_encounters,
)
from encounters.whatif import Price, WhatIf, encounter_what_if
from jobs.services import QUEUED_LATER, sends_reported


@permission_required(CODE_ENCOUNTERS)
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The coder's home: encounters assigned to them and unassigned ones."""
    form = QueueFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {
            "type": data["type"],
            "facility": data["facility"],
            "min_age": data["min_age"],
            "max_age": data["max_age"],
            "mine_only": data["mine"],
            "search": data["q"],
            "sort": data["sort"] or "age",
        }
    rows = encounter_queue(user=request.user, **filters)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for encounter in page.object_list:
        encounter.age_days = encounter.age_in_days(today)
    return render(
        request,
        "encounters/queue.html",
        {
            "form": form,
            "page": page,
            "encounters": page.object_list,
            "facilities": facility_list(),
            "sees_all": sees_all_encounters(request.user),
            "query": request.GET.urlencode(),
        },
    )


@require_POST
@permission_required(CODE_ENCOUNTERS)
def claim_next(request: AuthenticatedHttpRequest) -> HttpResponse:
    encounter = services.encounter_claim_next(
        user=request.user,
        type=request.POST.get("type", ""),
        facility=request.POST.get("facility", ""),
    )
    if encounter is None:
        messages.info(request, "No unassigned encounter is waiting for these filters.")
        return redirect("encounters:queue")
    return redirect("encounters:detail", encounter.id)


@require_POST
@permission_required(CODE_ENCOUNTERS)
def claim(request: AuthenticatedHttpRequest, encounter_id: int) -> HttpResponse:
    try:
        services.encounter_claim(user=request.user, encounter_id=encounter_id)
    except services.NotEditable as exc:
        messages.error(request, str(exc))
        return redirect("encounters:queue")
    except Encounter.DoesNotExist:
        messages.error(request, "No such encounter.")
        return redirect("encounters:queue")
    return redirect("encounters:detail", encounter_id)


@require_GET
@permission_required(CODE_ENCOUNTERS)
def detail(request: AuthenticatedHttpRequest, encounter_id: int) -> HttpResponse:
    """The coding page: documents on one side, codes and the live DRG on the other."""
    encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    services.chart_access_log(user=request.user, encounter=encounter)
    context = _page_context(request, encounter)
    context.update(_panel_context(request, encounter, post=None))
    return render(request, "encounters/detail.html", context)


@require_POST
@permission_required(CODE_ENCOUNTERS)
def coding(request: AuthenticatedHttpRequest, encounter_id: int) -> HttpResponse:
    """Every edit of the coding form comes here: check (live messages and DRG), add,
    remove or move a row, save the draft, submit. HTMX gets the panel back."""
    encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    try:
        post = coding_post_parse(request.POST, encounter)
    except MalformedPost as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain")
    outcome: dict[str, Any] = {}
    # The rows a save checked are shown checked without a second look-up.
    with services.coding_check_memo():
        if post.action in ("save", *SUBMITS) and _editable(request, encounter):
            done = _save(request, encounter, post, outcome)
            if done is not None:
                return done
        context = _panel_context(
            request, encounter, post=post, keep=outcome, refresh=bool(outcome)
        )
    if request.htmx:
        return _htmx_reply(request, encounter, post, context)
    # Without HTMX the whole chart (patient, documents) comes back: an access.
    services.chart_access_log(user=request.user, encounter=encounter)
    page = _page_context(request, encounter)
    page.update(context)
    return render(request, "encounters/detail.html", page)


# The page's form asks for the computed parts only (its hx-target): see _htmx_reply.
PARTS_TARGET = "coding-form"
ROW_ACTION = re.compile(r"^(add|up|down|remove):(dx|px)")


def _htmx_reply(
    request: AuthenticatedHttpRequest,
    encounter: Encounter,
    post: CodingPost,
    context: dict[str, Any],
) -> HttpResponse:
    """What htmx gets back. The coding page's form (hx-target #coding-form, hx-swap
    none) gets only what the server computes, as out-of-band swaps (the version, the
    banner, the DRG panel, the checks, each row's verdict, the submit dialog, and
    after a save the history and the status): the inputs stay in the page as typed.
    A request that changes the form's shape (a row added, moved or removed on the
    server, or the encounter no longer editable by this user) gets the whole panel,
    retargeted, as does any other htmx caller."""
    wants_parts = request.htmx.target == PARTS_TARGET
    shaped = bool(ROW_ACTION.match(request.POST.get("action", "")))
    if wants_parts and context["editable"] and not shaped:
        if context["codes_saved"]:
            context["history_refresh"] = True
            context["history"] = encounter_history(encounter=encounter)
        return render(request, "encounters/detail.html#coding-parts", context)
    response = render(request, "encounters/detail.html#coding-panel", context)
    if wants_parts:
        response["HX-Retarget"] = "#coding-panel"
        response["HX-Reswap"] = "outerHTML"
    return response


def _save(
    request: AuthenticatedHttpRequest,
    encounter: Encounter,
    post: CodingPost,
    context: dict[str, Any],
) -> HttpResponse | None:
    if post.errors:
        context["banner"] = ("error", "Fix the fields marked below, then save again.")
        return None
    try:
        if encounter.status == Encounter.Status.IN_REVIEW:
            saved = encounter_review_correct(
                user=request.user,
                encounter_id=encounter.id,
                version=post.version,
                diagnoses=post.diagnoses(),
                procedures=post.procedures(),
                comment=request.POST.get("comment", ""),
            )
            post.version = saved.version
            context["saved"] = True
            context["banner"] = (
                "ok",
                f"Correction saved (version {saved.version}); the DRG is recomputed. "
                "Accept or return the encounter below.",
            )
            return None
        saved = services.encounter_save_coding(
            user=request.user,
            encounter_id=encounter.id,
            version=post.version,
            diagnoses=post.diagnoses(),
            procedures=post.procedures(),
        )
        if post.action in SUBMITS and _submit_held(saved, post, context):
            post.version = saved.version
            return None
        if post.action in SUBMITS:
            with sends_reported() as sends:
                services.encounter_submit(
                    user=request.user, encounter_id=encounter.id, version=saved.version
                )
            if sends.broker_down:
                messages.warning(
                    request,
                    f"Encounter {encounter.id} submitted. Its audit is {QUEUED_LATER}.",
                )
            else:
                messages.success(
                    request,
                    f"Encounter {encounter.id} submitted: the audit checks run now.",
                )
            url = reverse("encounters:queue")
            if post.action.endswith("-next"):
                url = _next_url(request) or url
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    except services.CodingConflict as exc:
        context["banner"] = ("error", str(exc))
        context["conflict"] = exc.current
        post.version = exc.encounter.version
        return None
    except services.NotEditable as exc:
        context["banner"] = ("error", str(exc))
        return None
    except ValidationError as exc:
        context["banner"] = ("error", " ".join(_flat(exc)))
        context["save_errors"] = exc.message_dict
        return None
    post.version = saved.version
    context["saved"] = True
    context["encounter"] = saved
    context["banner"] = (
        "ok",
        f"Draft saved at {timezone.localtime():%H:%M:%S} (version {saved.version}).",
    )
    return None


SUBMITS = ("submit", "submit-anyway", "submit-next", "submit-anyway-next")


def _next_url(request: AuthenticatedHttpRequest) -> str:
    """Submit and next: the coder's oldest returned case, else the next unassigned
    one claimed; "" (with a message) when nothing is waiting."""
    encounter = encounter_next_returned(
        user=request.user
    ) or services.encounter_claim_next(user=request.user)
    if encounter is None:
        messages.info(request, "No encounter is waiting: your queue is done.")
        return ""
    return reverse("encounters:detail", args=[encounter.id])


def _submit_held(
    encounter: Encounter, post: CodingPost, context: dict[str, Any]
) -> bool:
    """Submit first shows what is still open: errors hold it (the audit would
    return the encounter at once), warnings until the coder says "submit anyway".
    The codes are saved either way."""
    still_open = [
        f for f in encounter_checks(encounter=encounter) if f.severity in BLOCKING
    ]
    errors = any(f.severity == "error" for f in still_open)
    anyway = post.action.startswith("submit-anyway")
    if not still_open or (anyway and not errors):
        return False
    context["saved"] = True
    context["confirm"] = {
        "findings": still_open,
        "errors": errors,
        "next": post.action.endswith("-next"),
    }
    return True


def _editable(request: AuthenticatedHttpRequest, encounter: Encounter) -> bool:
    return encounter_may_edit(encounter=encounter, user=request.user)


def _flat(exc: ValidationError) -> list[str]:
    return [m for messages_ in exc.message_dict.values() for m in messages_]


def _page_context(
    request: AuthenticatedHttpRequest, encounter: Encounter
) -> dict[str, Any]:
    history = encounter_history(encounter=encounter)
    return {
        "encounter": encounter,
        "return_note": _return_note(encounter, history),
        "patient": encounter.patient,
        "age": encounter.patient.age_on(encounter.admit_date),
        "documents": list(encounter.documents.all()),
        "history": history,
        "coders": list(User.objects.filter(groups__name="coder").order_by("username"))
        if request.user.has_perm(REVIEW_AUDITS) and encounter.is_editable
        else [],
        "findings": list(
            encounter.findings.select_related("resolved_by").order_by(
                "status", "severity", "id"
            )
        ),
    }


def _return_note(
    encounter: Encounter, history: list[HistoryEntry]
) -> dict[str, Any] | None:
    """A returned encounter: the supervisor's comment of the last return (the history,
    newest first, is already read for the page: no query of its own)."""
    if encounter.status != Encounter.Status.RETURNED:
        return None
    for entry in history:
        change = entry.change
        if change.action == CodingChange.Action.SUBMITTED:
            return None
        if change.action == CodingChange.Action.RETURNED:
            by = change.changed_by
            return {
                "by": (by.get_full_name() or by.username) if by else "a supervisor",
                "at": change.changed_at,
                "comment": change.comment,
            }
    return None


def _saved_rows(
    encounter: Encounter,
) -> tuple[list[DiagnosisRow], list[ProcedureRow]]:
    dx = [DiagnosisRow(code=d.display, poa=d.poa) for d in encounter.diagnoses.all()]
    px = [
        ProcedureRow(
            system=p.system,
            code=p.display,
            date=p.date.isoformat() if p.date else "",
            modifiers=" ".join(p.modifiers),
            units=str(p.units),
            date_value=p.date,
            units_value=p.units,
        )
        for p in encounter.procedures.all()
    ]
    return dx, px


# What a save changes on the encounter (attnames, as refreshed below).
REFRESHED = ["status", "version", "assigned_to_id", "drg", "submitted_at"]


def _panel_context(
    request: AuthenticatedHttpRequest,
    encounter: Encounter,
    *,
    post: CodingPost | None,
    keep: dict[str, Any] | None = None,
    refresh: bool = False,
) -> dict[str, Any]:
    """Rows with their check messages, and the DRG for these rows and the saved ones."""
    saved = keep.get("encounter") if keep else None
    if refresh and saved is not None:
        # Just saved: the row the save locked and wrote is the current one.
        for name in REFRESHED:
            setattr(encounter, name, getattr(saved, name))
    elif refresh:
        # What a save or submit changes; the patient (cached, needed by the DRG and
        # the live checks) never changes, so it is not read again.
        encounter.refresh_from_db(
            fields=["status", "version", "assigned_to", "drg", "submitted_at"]
        )
    if post is None:
        dx_rows, px_rows = _saved_rows(encounter)
        post = CodingPost(version=encounter.version, dx_rows=dx_rows, px_rows=px_rows)
        if not dx_rows:
            post.dx_rows.append(DiagnosisRow(code="", poa=""))
        # Opening a chart to code: the cursor starts where the work does.
        if _editable(request, encounter):
            empty = [n for n, r in enumerate(post.dx_rows) if not r["code"]]
            post.focus = f"dx-{empty[0] if empty else 0}-code"
    entered_dx = post.entered_dx_rows()
    entered_px = post.entered_px_rows()
    checked_dx, checked_px, errors = services.coding_check(
        encounter_type=encounter.type,
        admit_date=encounter.admit_date,
        discharge_date=encounter.discharge_date,
        diagnoses=post.diagnoses(),
        procedures=post.procedures(),
    )
    row_errors = dict(post.errors)
    for key, msgs in errors.items():
        parts = key.split(".")
        if len(parts) == 3:
            source = entered_dx if parts[0] == "diagnoses" else entered_px
            prefix = "dx" if parts[0] == "diagnoses" else "px"
            index = int(parts[1])
            if index < len(source):
                row_errors[f"{prefix}.{source[index]}.{parts[2]}"] = msgs
    # Verdicts by form row: a row the check refused (no code, bad POA…) has none, so
    # they are matched by position in what was checked, never by counting.
    dx_verdicts = {entered_dx[c.index]: c for c in checked_dx}
    px_verdicts = {entered_px[c.index]: c for c in checked_px}
    dx_view = []
    for n, dx_row in enumerate(post.dx_rows):
        item: dict[str, Any] = {
            "n": str(n),  # a string: rendered ~15 times a row, never localized
            "kind": "dx",
            "counter": str(n + 1),
            "first": n == 0,
            **dx_row,
            "title": "",
            "message": "",
            "level": "",
            "focus": post.focus == f"dx-{n}-code",
        }
        dx_checked = dx_verdicts.get(n)
        if dx_checked is not None and f"dx.{n}.code" not in row_errors:
            item.update(
                title=dx_checked.verdict.title,
                message=dx_checked.verdict.message,
                level="ok" if dx_checked.verdict.valid else "warn",
            )
        item["errors"] = {
            k.split(".")[2]: v
            for k, v in row_errors.items()
            if k.startswith(f"dx.{n}.")
        }
        if item["errors"]:
            item["level"] = "error"
        dx_view.append(item)
    px_view = []
    for n, px_row in enumerate(post.px_rows):
        item = {
            "n": str(n),  # a string: rendered ~15 times a row, never localized
            "kind": "px",
            "counter": str(n + 1),
            "first": n == 0,
            **px_row,
            "title": "",
            "message": "",
            "level": "",
            "focus": post.focus == f"px-{n}-code",
        }
        errs = {
            k.split(".")[2]: v
            for k, v in row_errors.items()
            if k.startswith(f"px.{n}.")
        }
        px_checked = px_verdicts.get(n)
        if px_checked is not None and "code" not in errs:
            item.update(
                title=px_checked.verdict.title,
                message=px_checked.message,
                level="ok"
                if px_checked.verdict.valid and not px_checked.message
                else "warn",
            )
        item["errors"] = errs
        if errs:
            item["level"] = "error"
        px_view.append(item)

    principal_missing = "dx.0.code" in post.errors
    live_general = _live_findings(
        encounter,
        dx_view,
        px_view,
        {n: c for n, c in dx_verdicts.items() if f"dx.{n}.code" not in row_errors},
        {n: c for n, c in px_verdicts.items() if f"px.{n}.code" not in row_errors},
        skip=principal_missing,
    )

    drg = saved_drg = None
    if encounter.is_inpatient and not principal_missing:
        drg = encounter_drg(
            encounter,
            diagnoses=[(d.code, d.poa) for d in checked_dx],
            procedures=[p.code for p in checked_px if p.system == System.ICD10PCS],
        )
        # Just saved: the saved codes are these, no second grouping.
        saved_drg = drg if keep and keep.get("saved") else encounter_drg(encounter)
    editable = _editable(request, encounter)
    live = drg if isinstance(drg, DrgResult) else None
    saved_result = saved_drg if isinstance(saved_drg, DrgResult) else None
    context: dict[str, Any] = {
        "money": drg_money(encounter, live, saved=saved_result) if live else None,
        # One query, and only once the encounter was submitted (a shift needs a
        # supervisor's correction): the coder's saves don't pay for it.
        "drg_shift": shift_display(encounter_drg_shift(encounter=encounter))
        if encounter.is_inpatient and encounter.submitted_at is not None
        else None,
        "reviewing": encounter.status == Encounter.Status.IN_REVIEW
        and request.user.has_perm(REVIEW_AUDITS),
        "encounter": encounter,
        "post": post,
        "dx_rows": dx_view,
        "px_rows": px_view,
        "dx_count": len(post.dx_rows),
        "px_count": len(post.px_rows),
        "drg": live,
        "drg_message": drg if isinstance(drg, str) else "",
        "saved_drg": saved_result,
        "editable": editable,
        "poa_choices": [("", "—"), *Diagnosis.Poa.choices],
        "all_px_systems": PROCEDURE_SYSTEMS,
        # Every code box asks for suggestions here: reversed once, not once a row.
        "typeahead_url": reverse("encounters:typeahead", args=[encounter.id]),
        "dos": encounter.date_of_service,
        "banner": None,
        "conflict": None,
        "has_errors": bool(row_errors),
        "live_findings": live_general,
        "live_counts": _counts(
            [f for r in (*dx_view, *px_view) for f in r["findings"]] + live_general
        ),
        "confirm": None,
        # The rows coding.js adds in the page, from a <template> of each kind.
        "blank_dx": _blank_row("dx", code="", poa=""),
        "blank_px": _blank_row(
            "px",
            system=encounter.procedure_systems[0],
            code="",
            date="",
            modifiers="",
            units="1",
        ),
        # The rows shown are the saved ones (opened, or just saved): what the page's
        # "unsaved changes" prompt (coding.js) compares the typed codes with.
        "codes_saved": keep is None or bool(keep.get("saved")),
    }
    context.update(
        _what_if_context(
            request,
            encounter,
            drg,
            checked_dx,
            checked_px,
            price=drg_pricer(encounter),
        )
    )
    # The supervisor's reason, kept across the panel's refreshes until it is saved.
    context["correction_comment"] = (
        "" if keep and keep.get("saved") else request.POST.get("comment", "")
    )
    if keep:
        context["banner"] = keep.get("banner")
        context["conflict"] = keep.get("conflict")
        context["confirm"] = keep.get("confirm")
    return context


def _blank_row(kind: str, **fields: str) -> dict[str, Any]:
    """A new row for the page's <template>: coding.js numbers it where it lands."""
    return {
        "n": "__n__",
        "kind": kind,
        "counter": "__c__",
        "first": False,
        **fields,
        "title": "",
        "message": "",
        "level": "",
        "focus": False,
        "errors": {},
        "findings": [],
        "prompts": [],
    }


def _what_if_context(
    request: AuthenticatedHttpRequest,
    encounter: Encounter,
    drg: DrgResult | str | None,
    checked_dx: list[services.CheckedDiagnosis],
    checked_px: list[services.CheckedProcedure],
    price: Price | None = None,
) -> dict[str, Any]:
    """The what-if section of the DRG panel (encounters/_drg_whatif.html) for the
    rows as entered; payment shows in it once ``price`` is given. Its open state
    rides with the form (``whatif-open``) so a recheck's new panel keeps it."""
    what_if = None
    if isinstance(drg, DrgResult):
        what_if = encounter_what_if(
            encounter,
            diagnoses=[(d.code, d.poa) for d in checked_dx],
            procedures=[p.code for p in checked_px if p.system == System.ICD10PCS],
            current=drg,
            price=price,
            titles={d.code: d.verdict.title for d in checked_dx},
        )
    return {
        "what_if": what_if if isinstance(what_if, WhatIf) else None,
        "whatif_open": request.POST.get("whatif-open") == "1",
    }


# Already said on the row by the entry check (its verdict message).
SAID_BY_THE_ROW = {"code-invalid-on-dos", "code-not-billable"}
BLOCKING = ("error", "warning")


def _live_findings(
    encounter: Encounter,
    dx_view: list[dict[str, Any]],
    px_view: list[dict[str, Any]],
    dx_checked: dict[int, services.CheckedDiagnosis],
    px_checked: dict[int, services.CheckedProcedure],
    *,
    skip: bool,
) -> list[Draft]:
    """Run the audit rules on the rows as entered; put each finding beside the rows
    whose code it names (and the "use additional code" / "code also" notes beside
    each diagnosis). Returns the findings that name no row: the encounter's own."""
    for item in (*dx_view, *px_view):
        item["findings"], item["prompts"] = [], []
    if skip or not dx_checked:
        return []
    dx_order = sorted(dx_checked)
    px_order = sorted(px_checked)
    live = encounter_live_checks(
        encounter=encounter,
        diagnoses=[DxLine(dx_checked[n].code, dx_checked[n].poa) for n in dx_order],
        procedures=[
            PxLine(
                px_checked[n].system,
                px_checked[n].code,
                px_checked[n].date,
                tuple(px_checked[n].modifiers),
                px_checked[n].units,
            )
            for n in px_order
        ],
    )
    rows = [
        (dx_view[n], display_code(System.ICD10CM, dx_checked[n].code)) for n in dx_order
    ] + [
        (px_view[n], display_code(px_checked[n].system, px_checked[n].code))
        for n in px_order
    ]
    general = []
    for finding in live.findings:
        beside = [item for item, code in rows if code in finding.codes]
        for item in beside:
            if not (finding.rule in SAID_BY_THE_ROW and item["message"]):
                item["findings"].append(finding)
        if not beside:
            general.append(finding)
    for n in dx_order:
        dx_view[n]["prompts"] = live.prompts.get(dx_checked[n].code, [])
    for item, _code in rows:
        # The row's colour says the worst of its entry check and its findings.
        severities = {f.severity for f in item["findings"]}
        if "error" in severities and item["level"] != "error":
            item["level"] = "error"
        elif "warning" in severities and item["level"] in ("", "ok"):
            item["level"] = "warn"
    return general


def _counts(findings: list[Draft]) -> dict[str, int]:
    distinct = set(findings)
    return {
        severity: sum(1 for f in distinct if f.severity == severity)
        for severity in ("error", "warning", "info")
    }


@require_GET
@permission_required(CODE_ENCOUNTERS)
def typeahead(request: AuthenticatedHttpRequest, encounter_id: int) -> HttpResponse:
    """Suggestions under one code box of the coding form (HTMX fragment)."""
    encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
    field = request.GET.get("field", "")
    prefix = field.rsplit("-", 1)[0]
    query = request.GET.get(field, "").strip()
    system: str
    if field.startswith("dx-"):
        system = System.ICD10CM
    else:
        system = request.GET.get(f"{prefix}-system", "")
    hits = []
    if query and system in System.values:
        hits = encounter_code_suggestions(
            encounter=encounter, query=query, system=system
        )
    return render(
        request,
        "encounters/detail.html#suggestions",
        {
            "hits": hits,
            "field": field,
            "query": query,
            "prefix": prefix,
            "system": system,
        },
    )
