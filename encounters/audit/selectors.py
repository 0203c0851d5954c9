"""Reads of the audit: the live checks of the coding form and of
``GET /api/v1/encounters/<id>/checks/``.

The same rules as the audit job (engine.cases_prepare + rules.run_rules), run now on
the encounter's codes; nothing is routed or stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from codesets.models import display_code
from encounters.audit import knowledge
from encounters.audit.engine import cases_prepare
from encounters.audit.rules import Draft, Dx, Px, run_rules
from encounters.models import Encounter

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class DxLine:
    """A diagnosis to judge that is not (yet) saved: the coding form's row."""

    code: str  # stored form, E1122
    poa: str = ""


@dataclass(frozen=True)
class PxLine:
    system: str
    code: str  # stored form
    date: dt.date | None = None
    modifiers: tuple[str, ...] = ()
    units: int = 1


@dataclass(frozen=True)
class Prompt:
    """A "use additional code" or "code also" note of a code the coder picked."""

    kind: str  # use_additional_code | code_also
    label: str  # "Use additional code" | "Code also"
    text: str
    where: str  # display form of the code or category that carries the note


PROMPT_KINDS = {"use_additional_code": "Use additional code", "code_also": "Code also"}


@dataclass(frozen=True)
class LiveChecks:
    findings: list[Draft]  # errors first, then warnings, then info
    prompts: dict[str, list[Prompt]]  # by diagnosis code (stored form)


def encounter_live_checks(
    *,
    encounter: Encounter,
    diagnoses: list[DxLine] | None = None,
    procedures: list[PxLine] | None = None,
) -> LiveChecks:
    """The findings the audit would raise now, and the notes to prompt for.

    On the saved codes, or on ``diagnoses``/``procedures`` when both are given (the
    unsaved rows of the coding form). Call it with an encounter from the access
    choke point (``encounter_get_for_user``); nothing is written.
    """
    lines = None  # the saved codes: cases_prepare reads them
    if diagnoses is not None and procedures is not None:
        lines = [
            (
                [
                    Dx(d.code, display_code("icd10cm", d.code), d.poa, n)
                    for n, d in enumerate(diagnoses, start=1)
                ],
                [
                    Px(
                        p.system,
                        p.code,
                        display_code(p.system, p.code),
                        p.date,
                        list(p.modifiers),
                        p.units,
                    )
                    for p in procedures
                ],
            )
        ]
    (case,) = cases_prepare([encounter], lines=lines)
    findings = sorted(run_rules(case), key=lambda d: SEVERITY_ORDER.get(d.severity, 3))
    release = case.release("icd10cm")
    prompts = (
        {d.code: _prompts(release, d.code) for d in case.diagnoses}
        if release is not None
        else {}
    )
    return LiveChecks(
        findings=findings, prompts={code: p for code, p in prompts.items() if p}
    )


def _prompts(release: int, code: str) -> list[Prompt]:
    """One prompt per note kind and carrier: the tabular splits a note into a lead
    line ("code to identify control using:") and its items; shown as one line."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for kind in PROMPT_KINDS:
        for text, where in knowledge.notes_of(release, code, kind):
            # Chapter- and block-wide notes would prompt on every code.
            if getattr(knowledge.node(release, where), "kind", "") in (
                "category",
                "code",
            ):
                grouped.setdefault((kind, where), []).append(text.strip(" ,"))
    prompts = []
    for (kind, where), texts in grouped.items():
        lead, items = (texts[0], texts[1:]) if texts[0].endswith(":") else ("", texts)
        prompts.append(
            Prompt(
                kind,
                PROMPT_KINDS[kind],
                " ".join(filter(None, [lead, "; ".join(items)])),
                display_code("icd10cm", where),
            )
        )
    return prompts


def encounter_checks(*, encounter: Encounter) -> list[Draft]:
    """The audit rules run now on the saved codes, errors first: what
    ``GET /api/v1/encounters/<id>/checks/`` returns. Nothing is routed or stored."""
    return encounter_live_checks(encounter=encounter).findings
