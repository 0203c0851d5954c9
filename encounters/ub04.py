"""UB-04 patient discharge status codes (form locator 17) with their NUBC labels,
and which of them make an IPPS stay a transfer (42 CFR 412.4(b) and (c)).

Labels as the NUBC publishes them (Official UB-04 Data Specifications Manual; the
Medicare contractors' lists, e.g. Noridian JF Part A "Patient Discharge Status
Codes", carry the same wording). Encounters keep the two-digit code; pages and the
API show ``discharge_status_label`` beside it.
"""

from __future__ import annotations

_READMIT = " with a planned acute care hospital inpatient readmission"

DISCHARGE_STATUSES: dict[str, str] = {
    "01": "Discharged to home or self-care (routine discharge)",
    "02": "Discharged/transferred to a short-term general hospital for inpatient care",
    "03": "Discharged/transferred to a skilled nursing facility (SNF) with Medicare "
    "certification in anticipation of skilled care",
    "04": "Discharged/transferred to a facility that provides custodial or "
    "supportive care",
    "05": "Discharged/transferred to a designated cancer center or children's hospital",
    "06": "Discharged/transferred to home under care of organized home health service "
    "organization in anticipation of covered skilled care",
    "07": "Left against medical advice or discontinued care",
    "09": "Admitted as an inpatient to this hospital",
    "20": "Expired",
    "21": "Discharged/transferred to court/law enforcement",
    "30": "Still patient",
    "40": "Expired at home",
    "41": "Expired in a medical facility (e.g. hospital, SNF, ICF, or free-standing "
    "hospice)",
    "42": "Expired - place unknown",
    "43": "Discharged/transferred to a federal health care facility",
    "50": "Hospice - home",
    "51": "Hospice - medical facility (certified) providing hospice level of care",
    "61": "Discharged/transferred to a hospital-based Medicare approved swing bed",
    "62": "Discharged/transferred to an inpatient rehabilitation facility (IRF) "
    "including rehabilitation distinct part units of a hospital",
    "63": "Discharged/transferred to a Medicare certified long term care hospital "
    "(LTCH)",
    "64": "Discharged/transferred to a nursing facility certified under Medicaid but "
    "not certified under Medicare",
    "65": "Discharged/transferred to a psychiatric hospital or psychiatric distinct "
    "part unit of a hospital",
    "66": "Discharged/transferred to a critical access hospital (CAH)",
    "69": "Discharged/transferred to a designated disaster alternative care site",
    "70": "Discharged/transferred to another type of health care institution not "
    "defined elsewhere in this code list",
    "81": "Discharged to home or self-care" + _READMIT,
    "82": "Discharged/transferred to a short-term general hospital for inpatient care"
    + _READMIT,
    "83": "Discharged/transferred to a skilled nursing facility (SNF) with Medicare "
    "certification" + _READMIT,
    "84": "Discharged/transferred to a facility that provides custodial or supportive "
    "care" + _READMIT,
    "85": "Discharged/transferred to a designated cancer center or children's hospital"
    + _READMIT,
    "86": "Discharged/transferred to home under care of organized home health service "
    "organization" + _READMIT,
    "87": "Discharged/transferred to court/law enforcement" + _READMIT,
    "88": "Discharged/transferred to a federal health care facility" + _READMIT,
    "89": "Discharged/transferred to a hospital-based Medicare approved swing bed"
    + _READMIT,
    "90": "Discharged/transferred to an inpatient rehabilitation facility (IRF) "
    "including rehabilitation distinct part units of a hospital" + _READMIT,
    "91": "Discharged/transferred to a Medicare certified long term care hospital "
    "(LTCH)" + _READMIT,
    "92": "Discharged/transferred to a nursing facility certified under Medicaid but "
    "not certified under Medicare" + _READMIT,
    "93": "Discharged/transferred to a psychiatric hospital or psychiatric distinct "
    "part unit of a hospital" + _READMIT,
    "94": "Discharged/transferred to a critical access hospital (CAH)" + _READMIT,
    "95": "Discharged/transferred to another type of health care institution not "
    "defined elsewhere in this code list" + _READMIT,
}

# 42 CFR 412.4(b): readmitted the same day to another IPPS hospital (or one outside
# the IPPS only by a state cost-control program, or not participating in Medicare),
# or to a critical access hospital (since FY2011). CMS Pub. 100-04 ch. 3 section
# 40.2.4 (Transmittal 11189) names the statuses: 02 / 82 and, for a CAH, 66 / 94.
# Any MS-DRG. (07, left against advice and admitted elsewhere the same day, is an
# acute transfer too, but nothing on the claim says so: the hospital recodes it 02.)
ACUTE_TRANSFER_STATUSES = frozenset({"02", "82", "66", "94"})

# 42 CFR 412.4(c): to a hospital or unit excluded from the IPPS (IRF 62/90, LTCH
# 63/91, psychiatric 65/93, cancer or children's hospital 05/85), to a SNF (03/83,
# or a swing bed 61/89), to home health (06/86, when it starts within 3 days), or,
# from FY2019, to hospice (50, 51). Only for the MS-DRGs Table 5 marks post-acute.
POST_ACUTE_TRANSFER_STATUSES = frozenset(
    {"03", "83", "05", "85", "06", "86", "50", "51", "61", "89", "62", "90"}
    | {"63", "91", "65", "93"}
)


def discharge_status_label(code: str) -> str:
    """``"03 — Discharged/transferred to a skilled nursing facility ..."``; the code
    alone when it is not a UB-04 status, "" when empty."""
    code = (code or "").strip()
    if not code:
        return ""
    label = DISCHARGE_STATUSES.get(code)
    return f"{code} — {label}" if label else f"{code} (not a UB-04 status code)"
