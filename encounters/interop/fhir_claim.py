"""The FHIR R4 ``Claim`` of one encounter (built and checked with fhir.resources,
R4B models, whose Claim is R4's).

Self-contained: the patient, the billing organization and the coverage are
``contained`` resources (the project holds no payer or coverage records; the
payer comes from facility settings). Institutional for facility encounters,
professional for professional ones; charges are not sent (no charge master).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.claim import Claim

from codesets.models import display_code
from encounters.interop.claims import ClaimEncounter

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
MS_DRG = "https://www.cms.gov/Medicare/Medicare-Fee-for-Service-Payment/AcuteInpatientPPS/MS-DRG-Classifications-and-Software"
NPI = "http://hl7.org/fhir/sid/us-npi"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
DIAGNOSIS_TYPE = "http://terminology.hl7.org/CodeSystem/ex-diagnosistype"
ON_ADMISSION = "http://terminology.hl7.org/CodeSystem/ex-diagnosis-on-admission"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
NUBC_STATUS = "https://www.nubc.org/CodeSystem/PatDischargeStatus"
LINE_SYSTEMS = {"cpt": CPT, "hcpcs": HCPCS}
GENDER = {"M": "male", "F": "female", "U": "unknown"}


def _concept(system: str, code: str, display: str = "") -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


def claim_resource(claim: ClaimEncounter, *, created: dt.datetime) -> dict[str, Any]:
    """The Claim as JSON (a dict), validated by the R4B Claim model."""
    encounter = claim.encounter
    patient = encounter.patient
    parties = claim.parties
    kind = "professional" if claim.is_professional else "institutional"
    diagnoses = []
    for n, d in enumerate(claim.diagnoses, start=1):
        row: dict[str, Any] = {
            "sequence": n,
            "diagnosisCodeableConcept": _concept(
                ICD10CM, display_code("icd10cm", d.code), d.title
            ),
            "type": [_concept(DIAGNOSIS_TYPE, "principal" if n == 1 else "clinical")],
        }
        if encounter.is_inpatient and d.poa in ("Y", "N", "U", "W"):
            row["onAdmission"] = _concept(ON_ADMISSION, d.poa.lower())
        if n == 1 and claim.drg is not None:
            row["packageCode"] = _concept(MS_DRG, f"{claim.drg:03d}")
        diagnoses.append(row)
    procedures = [
        {
            "sequence": n,
            "type": [
                _concept(
                    "http://terminology.hl7.org/CodeSystem/ex-procedure-type",
                    "primary" if n == 1 else "secondary",
                )
            ],
            "date": (p.date or encounter.admit_date).isoformat(),
            "procedureCodeableConcept": _concept(ICD10PCS, p.code, p.title),
        }
        for n, p in enumerate(claim.pcs, start=1)
    ]
    pointers = list(range(1, min(4, len(claim.diagnoses)) + 1))
    items = [
        {
            "sequence": n,
            "diagnosisSequence": pointers,
            "productOrService": _concept(LINE_SYSTEMS[p.system], p.code, p.title),
            **(
                {"modifier": [_concept(LINE_SYSTEMS[p.system], m) for m in p.modifiers]}
                if p.modifiers
                else {}
            ),
            "quantity": {"value": p.units},
            "servicedDate": (p.date or encounter.admit_date).isoformat(),
        }
        for n, p in enumerate(claim.lines, start=1)
    ]
    data: dict[str, Any] = {
        "resourceType": "Claim",
        "id": f"encounter-{encounter.id}",
        "contained": [
            {
                "resourceType": "Patient",
                "id": "patient",
                "identifier": [
                    {
                        "type": _concept(V2_0203, "MR"),
                        "system": "urn:coding-workbench:mrn",
                        "value": patient.mrn,
                    }
                ],
                "name": [{"family": patient.last_name, "given": [patient.first_name]}],
                "gender": GENDER.get(patient.sex, "unknown"),
                "birthDate": patient.birth_date.isoformat(),
            },
            {
                "resourceType": "Organization",
                "id": "provider",
                "identifier": [{"system": NPI, "value": parties.provider_npi}],
                "name": parties.provider_name,
            },
            {
                "resourceType": "Coverage",
                "id": "coverage",
                "status": "active",
                "beneficiary": {"reference": "#patient"},
                "payor": [
                    {
                        "identifier": {"value": parties.payer_id},
                        "display": parties.payer_name,
                    }
                ],
            },
        ],
        "identifier": [
            {"system": "urn:coding-workbench:encounter", "value": str(encounter.id)}
        ],
        "status": "active",
        "type": _concept(CLAIM_TYPE, kind),
        "use": "claim",
        "patient": {"reference": "#patient"},
        "billablePeriod": {
            "start": encounter.admit_date.isoformat(),
            "end": claim.end_date.isoformat(),
        },
        "created": created.isoformat(),
        "provider": {"reference": "#provider"},
        "priority": _concept(
            "http://terminology.hl7.org/CodeSystem/processpriority", "normal"
        ),
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": "#coverage"}}
        ],
    }
    if encounter.discharge_status:
        data["supportingInfo"] = [
            {
                "sequence": 1,
                "category": _concept(
                    "http://terminology.hl7.org/CodeSystem/claiminformationcategory",
                    "discharge",
                ),
                "code": _concept(NUBC_STATUS, encounter.discharge_status),
            }
        ]
    if diagnoses:
        data["diagnosis"] = diagnoses
    if procedures:
        data["procedure"] = procedures
    if items:
        data["item"] = items
    # The model is the check: a Claim that does not validate is a bug here.
    Claim.model_validate(data)
    return data
