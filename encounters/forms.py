from __future__ import annotations

import re
from dataclasses import dataclass, field

from django import forms

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
    sort = forms.ChoiceField(
        choices=[
            ("age", "Oldest first"),
            ("-age", "Newest first"),
            ("facility", "Facility"),
            ("type", "Type"),
            ("status", "Status"),
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


@dataclass
class CodingPost:
    """The coding form as posted: rows in the order shown, plus the action asked."""

    version: int
    dx_rows: list[dict[str, str]] = field(default_factory=list)
    px_rows: list[dict[str, str]] = field(default_factory=list)
    action: str = "check"
    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: str = ""

    def diagnoses(self) -> list[DiagnosisInput]:
        return [
            DiagnosisInput(code=r["code"], poa=r["poa"])
            for r in self.dx_rows
            if r["code"].strip()
        ]

    def procedures(self) -> list[ProcedureInput]:
        out = []
        for r in self.px_rows:
            if not r["code"].strip():
                continue
            out.append(
                ProcedureInput(
                    system=r["system"],
                    code=r["code"],
                    date=r.get("date_value"),
                    modifiers=[m for m in re.split(r"[\s,\-]+", r["modifiers"]) if m],
                    units=r.get("units_value") or 1,
                )
            )
        return out


def _rows(data, prefix: str, form_class: type[forms.Form], errors) -> list[dict]:
    rows = []
    count = min(int(data.get(f"{prefix}-count", 0) or 0), 40)
    for n in range(count):
        form = form_class(data, prefix=f"{prefix}-{n}")
        raw = {name: data.get(f"{prefix}-{n}-{name}", "") for name in form.fields}
        if form.is_valid():
            raw["date_value"] = form.cleaned_data.get("date")
            raw["units_value"] = form.cleaned_data.get("units")
        else:
            for name, messages in form.errors.items():
                errors[f"{prefix}.{n}.{name}"] = list(messages)
        rows.append(raw)
    return rows


def coding_post_parse(data, encounter: Encounter) -> CodingPost:
    """Read the coding form, then apply the row action (add / remove / move)."""
    try:
        version = int(data.get("version", ""))
    except ValueError:
        version = 0
    post = CodingPost(version=version)
    post.dx_rows = _rows(data, "dx", DiagnosisRowForm, post.errors)
    post.px_rows = _rows(data, "px", ProcedureRowForm, post.errors)
    action = data.get("action", "check")
    match = ACTION_RE.match(action)
    if action in ("save", "submit"):
        post.action = action
    elif match:
        verb, kind, index = match.group(1), match.group(2), match.group(3)
        rows = post.dx_rows if kind == "dx" else post.px_rows
        n = int(index) if index is not None else -1
        if verb == "add":
            if kind == "dx":
                rows.append({"code": "", "poa": ""})
            else:
                rows.append(
                    {
                        "system": encounter.procedure_systems[0],
                        "code": "",
                        "date": "",
                        "modifiers": "",
                        "units": "1",
                    }
                )
            post.focus = f"{kind}-{len(rows) - 1}-code"
        elif 0 <= n < len(rows):
            if verb == "remove":
                rows.pop(n)
                post.focus = f"{kind}-{min(n, len(rows) - 1)}-code" if rows else ""
            elif verb == "up" and n > 0:
                rows[n - 1], rows[n] = rows[n], rows[n - 1]
                post.focus = f"{kind}-{n - 1}-code"
            elif verb == "down" and n < len(rows) - 1:
                rows[n + 1], rows[n] = rows[n], rows[n + 1]
                post.focus = f"{kind}-{n + 1}-code"
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
