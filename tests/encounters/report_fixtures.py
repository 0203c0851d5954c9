"""Encounters and their history written straight into the tables, with the dates
the reports count by, so every figure a report gives can be worked out by hand
(tests/encounters/test_reports.py says how)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from django.utils import timezone

from encounters.models import (
    AuditRun,
    CodingChange,
    DrgShift,
    Encounter,
    Finding,
    Patient,
)

_numbers = itertools.count(1)
UTC = dt.UTC


def at(day: str, hhmm: str = "12:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hhmm}:00").replace(tzinfo=UTC)


def drg(number: int, weight: str | None, *levels: str) -> dict[str, Any]:
    return {
        "drg": number,
        "title": f"DRG {number}",
        "mdc": 4,
        "weight": None if weight is None else float(weight),
        "grouper_version": 431,
        "cc_mcc": [{"code": f"X{i}", "level": lv} for i, lv in enumerate(levels)],
        "return_code": "OK",
    }


def encounter(
    *,
    type: str = "inpatient",
    facility: str = "General",
    status: str = "ready",
    admit: dt.date | None = None,
    discharge: dt.date | None = None,
    coder: Any = None,
    drg_dict: dict[str, Any] | None = None,
) -> Encounter:
    n = next(_numbers)
    patient = Patient.objects.create(
        mrn=f"R{n}",
        first_name="Pat",
        last_name=f"Number{n}",
        birth_date=dt.date(1950, 1, 1),
        sex="F",
    )
    discharge_date = discharge
    admit_date = admit or discharge or dt.date(2026, 5, 1)
    return Encounter.objects.create(
        patient=patient,
        type=type,
        facility=facility,
        status=status,
        admit_date=admit_date,
        discharge_date=discharge_date,
        assigned_to=coder,
        drg=drg_dict,
    )


def change(enc: Encounter, action: str, when: dt.datetime, by: Any) -> CodingChange:
    return CodingChange.objects.create(
        encounter=enc, action=action, changed_at=when, changed_by=by, version=1
    )


def audited(enc: Encounter, when: dt.datetime) -> AuditRun:
    return AuditRun.objects.create(
        encounter=enc,
        encounter_version=enc.version,
        trigger="submit",
        created_at=when,
    )


def finding(
    enc: Encounter,
    run: AuditRun,
    *,
    rule: str = "poa-missing",
    status: str = "open",
    decided_by: Any = None,
    when: dt.datetime | None = None,
) -> Finding:
    return Finding.objects.create(
        encounter=enc,
        run=run,
        rule=rule,
        severity="error",
        message="test",
        codes=[f"C{next(_numbers)}"],
        status=status,
        resolved_by=decided_by,
        resolved_at=timezone.now() if decided_by else None,
        created_at=when or run.created_at,
    )


def shift(
    enc: Encounter,
    *,
    by: Any,
    when: dt.datetime,
    before: dict[str, Any],
    after: dict[str, Any],
    paid_before: str | None,
    paid_after: str | None,
) -> DrgShift:
    corrected = change(enc, "corrected", when, by)
    return DrgShift.objects.create(
        encounter=enc,
        change=corrected,
        from_drg=before,
        to_drg=after,
        from_payment=None if paid_before is None else Decimal(paid_before),
        to_payment=None if paid_after is None else Decimal(paid_after),
        changed_by=by,
        changed_at=when,
    )
