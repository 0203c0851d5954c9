from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar

from django import forms
from django.http import QueryDict

from encounters.models import PROCEDURE_SYSTEMS, Diagnosis, Encounter
from encounters.selectors import QUEUE_SORTS
from encounters.services import DiagnosisInput, ProcedureInput


class QueueFilterForm(forms.Form):
    type = forms.ChoiceField(
        choices=[("", "All types"), *Encounter.Type.choices], required=False
    )
    facility = forms.CharField(max_length=100, required=False)
    min_age = forms.IntegerField(min_value=0, max_value=3650, required=False)
    max_age = forms.IntegerField(min_value=0, max_value=3650, required=False)
    mine = forms.BooleanField(required=False)
    q = forms.CharField(max_length=100, required=False, strip=True)
    sort = forms.ChoiceField(
        choices=[
            ("age", "Oldest first"),
            ("-age", "Newest first"),
            ("facility", "Facility"),
            ("type", "Type"),
            ("status", "Status (returned first)"),
        ],
        required=False,
    )

    def clean_sort(self) -> str:
        return (
            self.cleaned_data["sort"]
            if self.cleaned_data["sort"] in QUEUE_SORTS
            else "age"
        )


class DiagnosisRowForm(forms.Form):
    code = forms.CharField(max_length=12, required=False)
    poa = forms.ChoiceField(choices=[("", "—"), *Diagnosis.Poa.choices], required=False)


class ProcedureRowForm(forms.Form):
    system = forms.ChoiceField(choices=PROCEDURE_SYSTEMS)
    code = forms.CharField(max_length=12, required=False)
    date = forms.DateField(required=False)
    modifiers = forms.CharField(max_length=20, required=False)
    units = forms.IntegerField(min_value=1, max_value=9999, required=False)


ACTION_RE = re.compile(r"^(add|remove|up|down):(dx|px)(?::(\d+))?$")


class DiagnosisRow(TypedDict):
    """A diagnosis row of the coding form, as posted."""

    code: str
    poa: str


class ProcedureRow(TypedDict):
    """A procedure row of the coding form, as posted, with the date and units
    parsed (None while the row is not valid)."""

    system: str
    code: str
    date: str
    modifiers: str
    units: str
    date_value: dt.date | None
    units_value: int | None


Row = TypeVar("Row", DiagnosisRow, ProcedureRow)


class MalformedPost(ValueError):
    """The coding form's own fields (row counts) are not what the page sends: a
    tampered or truncated post, answered with HTTP 400."""


@dataclass
class CodingPost:
    """The coding form as posted: rows in the order shown, plus the action asked."""

    version: int
    dx_rows: list[DiagnosisRow] = field(default_factory=list)
    px_rows: list[ProcedureRow] = field(default_factory=list)
    action: str = "check"
    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: str = ""

    def entered_dx_rows(self) -> list[int]:
        """Positions of the diagnosis rows with a code: what ``diagnoses`` sends, in
        order (the check's ``index`` is a position in that list)."""
        return [n for n, r in enumerate(self.dx_rows) if r["code"].strip()]

    def entered_px_rows(self) -> list[int]:
        """Positions of the procedure rows with a code, as ``entered_dx_rows``."""
        return [n for n, r in enumerate(self.px_rows) if r["code"].strip()]

    def diagnoses(self) -> list[DiagnosisInput]:
        return [
            DiagnosisInput(code=self.dx_rows[n]["code"], poa=self.dx_rows[n]["poa"])
            for n in self.entered_dx_rows()
        ]

    def procedures(self) -> list[ProcedureInput]:
        out = []
        for n in self.entered_px_rows():
            r = self.px_rows[n]
            out.append(
                ProcedureInput(
                    system=r["system"],
                    code=r["code"],
                    date=r["date_value"],
                    modifiers=[m for m in re.split(r"[\s,\-]+", r["modifiers"]) if m],
                    units=r["units_value"] or 1,
                )
            )
        return out


def _rows(
    data: QueryDict,
    prefix: str,
    form_class: type[forms.Form],
    errors: dict[str, list[str]],
) -> list[tuple[dict[str, str], dict[str, Any]]]:
    """Each row's posted values, with its cleaned values ({} when not valid)."""
    rows = []
    posted = data.get(f"{prefix}-count", "") or "0"
    if not (posted.isascii() and posted.isdigit()):
        raise MalformedPost(f"{prefix}-count must be a whole number, not {posted!r}.")
    count = min(int(posted), 40)
    for n in range(count):
        form = form_class(data, prefix=f"{prefix}-{n}")
        raw = {name: data.get(f"{prefix}-{n}-{name}", "") for name in form.fields}
        cleaned: dict[str, Any] = {}
        if form.is_valid():
            cleaned = form.cleaned_data
        else:
            for name, messages in form.errors.items():
                errors[f"{prefix}.{n}.{name}"] = [str(m) for m in messages]
        rows.append((raw, cleaned))
    return rows


def _row_action(
    rows: list[Row], verb: str, n: int, kind: str, blank: Callable[[], Row]
) -> str:
    """Add, remove or move a row; returns the code box to focus ('' = none)."""
    if verb == "add":
        rows.append(blank())
        return f"{kind}-{len(rows) - 1}-code"
    if not 0 <= n < len(rows):
        return ""
    if verb == "remove":
        rows.pop(n)
        return f"{kind}-{min(n, len(rows) - 1)}-code" if rows else ""
    if verb == "up" and n > 0:
        rows[n - 1], rows[n] = rows[n], rows[n - 1]
        return f"{kind}-{n - 1}-code"
    if verb == "down" and n < len(rows) - 1:
        rows[n + 1], rows[n] = rows[n], rows[n + 1]
        return f"{kind}-{n + 1}-code"
    return ""


def coding_post_parse(data: QueryDict, encounter: Encounter) -> CodingPost:
    """Read the coding form, then apply the row action (add / remove / move)."""
    try:
        version = int(data.get("version", ""))
    except ValueError:
        version = 0
    post = CodingPost(version=version)
    post.dx_rows = [
        DiagnosisRow(code=raw["code"], poa=raw["poa"])
        for raw, _cleaned in _rows(data, "dx", DiagnosisRowForm, post.errors)
    ]
    post.px_rows = [
        ProcedureRow(
            system=raw["system"],
            code=raw["code"],
            date=raw["date"],
            modifiers=raw["modifiers"],
            units=raw["units"],
            date_value=cleaned.get("date"),
            units_value=cleaned.get("units"),
        )
        for raw, cleaned in _rows(data, "px", ProcedureRowForm, post.errors)
    ]
    action = data.get("action", "check")
    match = ACTION_RE.match(action)
    if action in (
        "save",
        "submit",
        "submit-anyway",
        "submit-next",
        "submit-anyway-next",
    ):
        post.action = action
    elif match:
        verb, kind, index = match.group(1), match.group(2), match.group(3)
        n = int(index) if index is not None else -1
        if kind == "dx":
            post.focus = _row_action(
                post.dx_rows, verb, n, kind, lambda: DiagnosisRow(code="", poa="")
            )
        else:
            post.focus = _row_action(
                post.px_rows,
                verb,
                n,
                kind,
                lambda: ProcedureRow(
                    system=encounter.procedure_systems[0],
                    code="",
                    date="",
                    modifiers="",
                    units="1",
                    date_value=None,
                    units_value=None,
                ),
            )
        # Row errors were keyed by the old positions; after a move they would
        # point at the wrong row, and the next check recomputes them anyway.
        post.errors = {}
    rows = post.dx_rows
    if (
        rows
        and not rows[0]["code"].strip()
        and any(r["code"].strip() for r in rows[1:])
    ):
        # Saving would silently make the next code the principal diagnosis.
        post.errors["dx.0.code"] = [
            "Enter the principal diagnosis here, or move a diagnosis up (Alt+↑)."
        ]
    return post
