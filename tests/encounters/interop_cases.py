"""FHIR Bundles and encounters for the interoperability tests."""

from __future__ import annotations

import base64
import copy
import io
from typing import Any

import pyx12.params
import pyx12.x12n_document

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
POA = "urn:coding-workbench:fhir:present-on-admission"
# Encounter API payloads (overrides of pneumonia_payload) of the three claim kinds.
INPATIENT = {
    "diagnoses": [{"code": "J18.9", "poa": "Y"}, {"code": "E87.1", "poa": "N"}],
    "procedures": [{"system": "icd10pcs", "code": "0DTJ4ZZ", "date": "2026-05-11"}],
}
OUTPATIENT = {
    "type": "outpatient",
    "admit_date": "2026-05-10",
    "discharge_date": None,
    "discharge_status": "01",
    "diagnoses": [{"code": "J18.9"}, {"code": "E87.1"}],
    "procedures": [
        {"system": "cpt", "code": "99214", "modifiers": ["25"], "units": 1},
        {"system": "hcpcs", "code": "J1100", "units": 2, "date": "2026-05-10"},
    ],
}
PROFESSIONAL = {**OUTPATIENT, "type": "professional", "discharge_status": ""}


NOTE = (
    "Community-acquired pneumonia. Sodium 128 on admission. Laparoscopic appendectomy."
)


def _condition(n: int, code: str, poa: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": f"dx{n}",
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "code": {"coding": [{"system": ICD10CM, "code": code}]},
    }
    if poa:
        resource["extension"] = [
            {
                "url": POA,
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/ex-diagnosis-on-admission",
                            "code": poa.lower(),
                        }
                    ]
                },
            }
        ]
    return resource


def inpatient_bundle(
    *, identifier: str = "V-1001", mrn: str = "A123", diagnoses=None, procedures=None
) -> dict[str, Any]:
    """Ann Lee's pneumonia stay (the DESIGN.md example) with an appendectomy, as an
    EHR would send it. Conditions listed out of order; Encounter.diagnosis.rank
    says which is principal."""
    diagnoses = diagnoses if diagnoses is not None else [("J18.9", "Y"), ("E87.1", "N")]
    procedures = (
        procedures
        if procedures is not None
        else [{"system": PCS, "code": "0DTJ4ZZ", "date": "2026-05-11"}]
    )
    conditions = [
        _condition(n, code, poa) for n, (code, poa) in enumerate(diagnoses, 1)
    ]
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "urn:uuid:org-1",
            "resource": {
                "resourceType": "Organization",
                "id": "org1",
                "name": "General",
            },
        },
        {
            "fullUrl": "urn:uuid:pat-1",
            "resource": {
                "resourceType": "Patient",
                "id": "p1",
                "identifier": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                    "code": "MR",
                                }
                            ]
                        },
                        "system": "urn:oid:1.2.3.4",
                        "value": mrn,
                    }
                ],
                "name": [{"family": "Lee", "given": ["Ann"]}],
                "gender": "female",
                "birthDate": "1956-02-01",
            },
        },
        {
            "fullUrl": "urn:uuid:enc-1",
            "resource": {
                "resourceType": "Encounter",
                "id": "e1",
                "identifier": [{"system": "urn:oid:1.2.3.5", "value": identifier}],
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "subject": {"reference": "Patient/p1"},
                "period": {
                    "start": "2026-05-10T08:00:00Z",
                    "end": "2026-05-14T11:00:00Z",
                },
                "hospitalization": {
                    "dischargeDisposition": {
                        "coding": [
                            {
                                "system": "https://www.nubc.org/CodeSystem/PatDischargeStatus",
                                "code": "01",
                            }
                        ]
                    }
                },
                "serviceProvider": {"reference": "Organization/org1"},
                "participant": [
                    {
                        "type": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                        "code": "ATND",
                                    }
                                ]
                            }
                        ],
                        "individual": {"display": "Dr. Rivera"},
                    }
                ],
                "diagnosis": [
                    {"condition": {"reference": f"Condition/dx{n}"}, "rank": n}
                    for n in range(1, len(conditions) + 1)
                ],
            },
        },
        # The secondary diagnosis first: the rank, not the order, makes the principal.
        *({"resource": c} for c in reversed(conditions)),
        *(
            {
                "resource": {
                    "resourceType": "Procedure",
                    "status": "completed",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"coding": [{"system": p["system"], "code": p["code"]}]},
                    "performedDateTime": p["date"],
                    **({"extension": p["extension"]} if "extension" in p else {}),
                }
            }
            for p in procedures
        ),
        {
            "resource": {
                "resourceType": "DocumentReference",
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]},
                "description": "Discharge summary",
                "subject": {"reference": "Patient/p1"},
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain",
                            "data": base64.b64encode(NOTE.encode()).decode(),
                        }
                    }
                ],
            }
        },
    ]
    for entry in entries:
        resource = entry["resource"]
        entry["request"] = {"method": "POST", "url": resource["resourceType"]}
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def without(bundle: dict[str, Any], resource_type: str) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    out["entry"] = [
        e for e in out["entry"] if e["resource"]["resourceType"] != resource_type
    ]
    return out


def x12_valid(text: str) -> tuple[bool, str]:
    """pyx12's validator (what x12valid runs) on one 837: passes, and its report."""
    report = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        pyx12.params.params(), io.StringIO(text), io.StringIO(), report, None
    )
    return bool(ok), report.getvalue()
