"""The sane bounds of an encounter's dates: one check for every entry (API create
and bulk, the coding form's procedure dates, feeds) and for the audit job, which
must not hand the grouper or the Medicare Code Editor a date they refuse.

The MS-DRG grouper and the MCE take discharge dates from 2000-01-01 to 2100-12-31
only; a stay is coded after it happened, so no date may lie more than a few days
ahead (clocks and time zones differ between the sender and us); and no patient alive
was born before 1880.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

EARLIEST_BIRTH = dt.date(1880, 1, 1)
EARLIEST_SERVICE = dt.date(2000, 1, 1)
LATEST_SERVICE = dt.date(2100, 12, 31)
FUTURE_MARGIN = dt.timedelta(days=7)


def latest_allowed(today: dt.date | None = None) -> dt.date:
    """The latest date of service an entry may carry now."""
    return min((today or timezone.localdate()) + FUTURE_MARGIN, LATEST_SERVICE)


def service_date_problem(day: dt.date, *, latest: dt.date | None = None) -> str:
    """What is wrong with a date of service (admission, discharge, procedure), or
    ''. ``latest``: the last date accepted, by default ``latest_allowed()``."""
    latest = latest or latest_allowed()
    if day < EARLIEST_SERVICE:
        return (
            f"{day.isoformat()} is before {EARLIEST_SERVICE:%Y-%m-%d}, the earliest "
            "date of service accepted."
        )
    if day > latest:
        return (
            f"{day.isoformat()} is in the future: dates of service may not be after "
            f"{latest:%Y-%m-%d}."
        )
    return ""


def encounter_date_errors(
    *,
    admit_date: dt.date,
    discharge_date: dt.date | None,
    birth_date: dt.date | None,
    latest: dt.date | None = None,
) -> dict[str, list[str]]:
    """The impossible dates of an encounter, keyed by field (``admit_date``,
    ``discharge_date``, ``patient.birth_date``); empty when all are plausible:
    1880 ≤ birth ≤ admission ≤ discharge, dates of service from 2000 to ``latest``
    (by default a few days from today; the audit, which judges stays already stored,
    passes LATEST_SERVICE: what the grouper and the MCE take)."""
    latest = latest or latest_allowed()
    errors: dict[str, list[str]] = {}
    for name, day in (("admit_date", admit_date), ("discharge_date", discharge_date)):
        if day is not None and (problem := service_date_problem(day, latest=latest)):
            errors[name] = [problem]
    if discharge_date is not None and discharge_date < admit_date:
        errors.setdefault("discharge_date", []).append(
            "The discharge date is before the admit date."
        )
    if birth_date is not None:
        if birth_date < EARLIEST_BIRTH:
            errors["patient.birth_date"] = [
                f"{birth_date.isoformat()} is before {EARLIEST_BIRTH:%Y-%m-%d}: check "
                "the birth date."
            ]
        elif birth_date > admit_date:
            errors["patient.birth_date"] = [
                "The birth date is after the admit date: check both."
            ]
    return errors


def encounter_date_summary(errors: dict[str, list[str]]) -> str:
    """The errors of ``encounter_date_errors`` as one sentence per field, for the
    audit's finding."""
    labels = {
        "admit_date": "Admit date",
        "discharge_date": "Discharge date",
        "patient.birth_date": "Birth date",
    }
    return " ".join(
        f"{labels.get(name, name)}: {' '.join(messages)}"
        for name, messages in errors.items()
    )
