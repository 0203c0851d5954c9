"""A FHIR R4 transaction Bundle from an EHR → the encounter input of our services.

Parsed and validated with fhir.resources (R4B models; the resources used here are
the same in R4). Every refusal is an :class:`Issue` naming the element as a FHIRPath
expression (``Bundle.entry[2].resource.code.coding[0].system``), the way a FHIR
``OperationOutcome`` reports it.

What the Bundle carries, and where it goes:

- Patient: the identifier whose type is v2-0203 ``MR`` → MRN; name, birthDate,
  gender.
- Encounter: ``identifier`` (the key of idempotency), ``class`` (v3-ActCode IMP,
  ACUTE, NONAC → inpatient; EMER → emergency; AMB and the rest → outpatient; a
  ``type`` coding claim-type ``professional`` → professional), ``period``,
  ``hospitalization.dischargeDisposition`` (NUBC patient status, or the FHIR
  discharge-disposition codes mapped to it), ``serviceProvider`` (an Organization
  in the Bundle, or its display) → facility, an ``ATND`` participant → attending.
  ``diagnosis.rank`` orders the Conditions (rank 1 = principal); without it, the
  Bundle's order.
- Condition: ``code`` in ICD-10-CM; POA as the extension ``POA_EXTENSION``
  (valueCodeableConcept in ex-diagnosis-on-admission: y, n, u, w) or the CMS POA
  code directly (Y, N, U, W, 1).
- Procedure: ``code`` in ICD-10-PCS, CPT or HCPCS; ``performedDateTime`` or
  ``performedPeriod.start``; modifiers and units as the extensions
  ``MODIFIER_EXTENSION`` (valueCoding, repeated) and ``UNITS_EXTENSION``
  (valueInteger).
- DocumentReference: the text of each ``content.attachment`` (base64 ``data``,
  text/plain); ``type`` LOINC → the document kind, ``description`` → title.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError as PydanticValidationError

from encounters import services
from encounters.models import Document, Encounter

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
PROCEDURE_SYSTEMS = {
    "http://www.cms.gov/Medicare/Coding/ICD10": "icd10pcs",
    "http://hl7.org/fhir/sid/icd-10-pcs": "icd10pcs",
    "http://www.ama-assn.org/go/cpt": "cpt",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "hcpcs",
    "urn:oid:2.16.840.1.113883.6.285": "hcpcs",
}
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CLASS_TYPES = {
    "IMP": Encounter.Type.INPATIENT,
    "ACUTE": Encounter.Type.INPATIENT,
    "NONAC": Encounter.Type.INPATIENT,
    "EMER": Encounter.Type.EMERGENCY,
    "AMB": Encounter.Type.OUTPATIENT,
    "OBSENC": Encounter.Type.OUTPATIENT,
    "SS": Encounter.Type.OUTPATIENT,
    "HH": Encounter.Type.OUTPATIENT,
    "VR": Encounter.Type.OUTPATIENT,
    "FLD": Encounter.Type.OUTPATIENT,
}
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
NUBC_STATUS = {
    "https://www.nubc.org/CodeSystem/PatDischargeStatus",
    "http://www.nubc.org/patient-discharge",
}
FHIR_DISPOSITION = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
# FHIR's example discharge dispositions as UB-04 patient status.
DISPOSITION_STATUS = {
    "home": "01",
    "alt-home": "01",
    "hosp": "02",
    "snf": "03",
    "other-hcf": "05",
    "aadvice": "07",
    "exp": "20",
    "rehab": "62",
    "long": "63",
    "psy": "65",
    "oth": "70",
}
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
ON_ADMISSION = "http://terminology.hl7.org/CodeSystem/ex-diagnosis-on-admission"
POA_EXTENSION = "urn:coding-workbench:fhir:present-on-admission"
MODIFIER_EXTENSION = "urn:coding-workbench:fhir:procedure-modifier"
UNITS_EXTENSION = "urn:coding-workbench:fhir:procedure-units"
LOINC = "http://loinc.org"
DOCUMENT_KINDS = {
    "18842-5": Document.Kind.DISCHARGE_SUMMARY,
    "34117-2": Document.Kind.HISTORY_PHYSICAL,
    "11504-8": Document.Kind.OPERATIVE_NOTE,
    "11506-3": Document.Kind.PROGRESS_NOTE,
    "11488-4": Document.Kind.CONSULTATION,
    "34111-5": Document.Kind.EMERGENCY_NOTE,
}
GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome issue: severity error, ``code`` from the FHIR
    issue-type value set (invalid, required, code-invalid, structure, ...)."""

    code: str
    diagnostics: str
    expression: str


class BundleInvalid(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__(f"{len(issues)} issue(s) in the Bundle")


@dataclass
class ParsedBundle:
    source_system: str
    source_value: str
    data: services.EncounterInput
    # Where each field of the input came from, to name FHIR elements in the
    # service's refusals ("diagnoses.1.code" → the Condition's code).
    paths: dict[str, str] = field(default_factory=dict)


def _loc(loc: tuple[Any, ...]) -> str:
    out = "Bundle"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}"
    return out


def _ref_key(entry: Any) -> list[str]:
    """The references an entry answers to: its fullUrl and Type/id."""
    keys = []
    if entry.fullUrl:
        keys.append(entry.fullUrl)
    resource = entry.resource
    if resource.id:
        keys.append(f"{resource.get_resource_type()}/{resource.id}")
    return keys


def _codings(concept: Any) -> list[Any]:
    return list(concept.coding or []) if concept is not None else []


def _date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def bundle_parse(body: Any) -> ParsedBundle:
    """The encounter input of a transaction Bundle; raises BundleInvalid naming
    every element that is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise BundleInvalid(
            [Issue("structure", "Send a FHIR Bundle resource.", "Bundle")]
        )
    try:
        bundle = Bundle.model_validate(body)
    except PydanticValidationError as exc:
        raise BundleInvalid(
            [
                Issue(
                    "required" if e["type"] == "missing" else "invalid",
                    str(e["msg"]),
                    _loc(tuple(e["loc"])),
                )
                for e in exc.errors()
            ]
        ) from None
    if bundle.type != "transaction":
        raise BundleInvalid(
            [
                Issue(
                    "invalid",
                    f"Bundle.type is {bundle.type!r}; send a 'transaction' Bundle.",
                    "Bundle.type",
                )
            ]
        )
    return _BundleReader(bundle).read()


class _BundleReader:
    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.issues: list[Issue] = []
        self.by_type: dict[str, list[tuple[int, Any]]] = {}
        self.by_ref: dict[str, Any] = {}
        for n, entry in enumerate(bundle.entry or []):
            if entry.resource is None:
                continue
            kind = entry.resource.get_resource_type()
            self.by_type.setdefault(kind, []).append((n, entry.resource))
            for key in _ref_key(entry):
                self.by_ref[key] = entry.resource

    def issue(self, code: str, diagnostics: str, expression: str) -> None:
        self.issues.append(Issue(code, diagnostics, expression))

    def one(self, kind: str) -> tuple[int, Any] | None:
        rows = self.by_type.get(kind, [])
        if len(rows) != 1:
            self.issue(
                "required" if not rows else "invalid",
                f"The Bundle must hold exactly one {kind} (it holds {len(rows)}).",
                f"Bundle.entry.where(resource is {kind})",
            )
            return None
        return rows[0]

    def read(self) -> ParsedBundle:
        patient_row = self.one("Patient")
        encounter_row = self.one("Encounter")
        if patient_row is None or encounter_row is None:
            raise BundleInvalid(self.issues)
        patient = self._patient(*patient_row)
        head = self._encounter(*encounter_row)
        diagnoses, dx_paths = self._conditions(encounter_row[1])
        procedures, px_paths = self._procedures()
        documents = self._documents()
        if self.issues or patient is None or head is None:
            raise BundleInvalid(self.issues)
        system, value, fields, paths = head
        data = services.EncounterInput(
            patient=patient,
            diagnoses=diagnoses,
            procedures=procedures,
            documents=documents,
            **fields,
        )
        p = f"Bundle.entry[{patient_row[0]}].resource"
        paths.update(
            {
                "patient.mrn": f"{p}.identifier",
                "patient.first_name": f"{p}.name",
                "patient.last_name": f"{p}.name",
                "patient.birth_date": f"{p}.birthDate",
                "patient.sex": f"{p}.gender",
                **dx_paths,
                **px_paths,
            }
        )
        return ParsedBundle(system, value, data, paths)

    def _patient(self, n: int, resource: Any) -> services.PatientInput | None:
        path = f"Bundle.entry[{n}].resource"
        mrn = next(
            (
                i.value
                for i in resource.identifier or []
                if any(
                    c.code == "MR" and (c.system in (None, V2_0203))
                    for c in _codings(i.type)
                )
                and i.value
            ),
            None,
        )
        if mrn is None:
            self.issue(
                "required",
                "The Patient needs an identifier of type MR (medical record number).",
                f"{path}.identifier",
            )
        name = (resource.name or [None])[0]
        family = name.family if name is not None else None
        given = " ".join(name.given or []) if name is not None else ""
        if not family or not given:
            self.issue(
                "required",
                "The Patient needs a family and given name.",
                f"{path}.name[0]",
            )
        if resource.birthDate is None:
            self.issue(
                "required", "The Patient needs a birthDate.", f"{path}.birthDate"
            )
        if mrn is None or not family or not given or resource.birthDate is None:
            return None
        return services.PatientInput(
            mrn=mrn,
            first_name=given,
            last_name=family,
            birth_date=_date(resource.birthDate),  # type: ignore[arg-type]
            sex=GENDER.get(resource.gender or "unknown", "U"),
        )

    def _encounter(
        self, n: int, resource: Any
    ) -> tuple[str, str, dict[str, Any], dict[str, str]] | None:
        path = f"Bundle.entry[{n}].resource"
        ok = True
        klass = resource.class_fhir
        if klass.system not in (None, ACT_CODE) or klass.code not in CLASS_TYPES:
            self.issue(
                "code-invalid",
                f"Encounter.class {klass.system}|{klass.code} is not known here; use "
                f"{ACT_CODE} ({', '.join(CLASS_TYPES)}).",
                f"{path}.class",
            )
            ok = False
        kind = CLASS_TYPES.get(klass.code or "", Encounter.Type.OUTPATIENT)
        for concept in resource.type or []:
            if any(
                c.system == CLAIM_TYPE and c.code == "professional"
                for c in _codings(concept)
            ):
                kind = Encounter.Type.PROFESSIONAL
        period = resource.period
        start = _date(period.start) if period is not None else None
        end = _date(period.end) if period is not None else None
        if start is None:
            self.issue(
                "required", "The Encounter needs period.start.", f"{path}.period.start"
            )
            ok = False
        status = ""
        hosp = resource.hospitalization
        disposition = hosp.dischargeDisposition if hosp is not None else None
        for m, coding in enumerate(_codings(disposition)):
            where = f"{path}.hospitalization.dischargeDisposition.coding[{m}]"
            if coding.system in NUBC_STATUS:
                status = coding.code or ""
            elif (
                coding.system == FHIR_DISPOSITION and coding.code in DISPOSITION_STATUS
            ):
                status = DISPOSITION_STATUS[coding.code]
            else:
                self.issue(
                    "code-invalid",
                    f"Unknown discharge disposition {coding.system}|{coding.code}.",
                    f"{where}.system",
                )
                ok = False
        facility = self._provider(resource.serviceProvider)
        if not facility:
            self.issue(
                "required",
                "The Encounter needs a serviceProvider (an Organization with a name).",
                f"{path}.serviceProvider",
            )
            ok = False
        attending = ""
        for participant in resource.participant or []:
            if any(
                c.code == "ATND" for t in participant.type or [] for c in _codings(t)
            ):
                attending = self._provider(participant.individual)
        identifier = next((i for i in resource.identifier or [] if i.value), None)
        if not ok or start is None:
            return None
        if identifier is not None:
            system, value = identifier.system or "", identifier.value
        else:
            system, value = "urn:coding-workbench:mrn-period-start", ""
        fields = {
            "type": kind,
            "facility": facility[:100],
            "admit_date": start,
            "discharge_date": end,
            "discharge_status": status,
            "attending_provider": attending[:100],
        }
        paths = {
            "type": f"{path}.class",
            "facility": f"{path}.serviceProvider",
            "admit_date": f"{path}.period.start",
            "discharge_date": f"{path}.period.end",
            "discharge_status": f"{path}.hospitalization.dischargeDisposition",
            "__encounter__": path,
        }
        return system, value, fields, paths

    def _provider(self, reference: Any) -> str:
        if reference is None:
            return ""
        target = self.by_ref.get(reference.reference or "")
        if target is not None:
            name = getattr(target, "name", None)
            if isinstance(name, str):
                return name
            if isinstance(name, list) and name:
                human = name[0]
                return (
                    human.text
                    or " ".join([*(human.given or []), human.family or ""]).strip()
                )
        return reference.display or ""

    def _conditions(
        self, encounter: Any
    ) -> tuple[list[services.DiagnosisInput], dict[str, str]]:
        rows = self.by_type.get("Condition", [])
        ranks: dict[str, int] = {}
        for d in encounter.diagnosis or []:
            if d.condition is not None and d.condition.reference and d.rank:
                ranks[d.condition.reference] = d.rank
        rank_of = {}
        for n, _resource in rows:
            entry = (self.bundle.entry or [])[n]
            rank_of[n] = min(
                (ranks[k] for k in _ref_key(entry) if k in ranks), default=10**6 + n
            )
        ordered = sorted(rows, key=lambda row: (rank_of[row[0]], row[0]))
        out: list[services.DiagnosisInput] = []
        paths = {}
        for n, resource in ordered:
            path = f"Bundle.entry[{n}].resource"
            code = self._code(resource.code, {ICD10CM: "icd10cm"}, f"{path}.code")
            poa = self._poa(resource, path)
            if code is not None:
                out.append(services.DiagnosisInput(code[1], poa))
                paths[f"diagnoses.{len(out) - 1}.code"] = f"{path}.code"
                paths[f"diagnoses.{len(out) - 1}.poa"] = f"{path}.extension"
        return out, paths

    def _code(
        self, concept: Any, systems: dict[str, str], path: str
    ) -> tuple[str, str] | None:
        codings = _codings(concept)
        for coding in codings:
            if coding.system in systems and coding.code:
                return systems[coding.system], coding.code
        if not codings:
            self.issue("required", "A code is required.", f"{path}.coding")
        else:
            self.issue(
                "code-invalid",
                f"Code system {codings[0].system!r} is not known here; use "
                f"{', '.join(sorted(systems))}.",
                f"{path}.coding[0].system",
            )
        return None

    def _poa(self, resource: Any, path: str) -> str:
        for extension in resource.extension or []:
            if extension.url != POA_EXTENSION:
                continue
            for coding in _codings(extension.valueCodeableConcept):
                if coding.system == ON_ADMISSION and coding.code:
                    return coding.code.upper()
            if extension.valueCode:
                return extension.valueCode.upper()
            self.issue(
                "code-invalid",
                "POA: a coding of ex-diagnosis-on-admission.",
                f"{path}.extension",
            )
        return ""

    def _procedures(self) -> tuple[list[services.ProcedureInput], dict[str, str]]:
        out: list[services.ProcedureInput] = []
        paths = {}
        for n, resource in self.by_type.get("Procedure", []):
            path = f"Bundle.entry[{n}].resource"
            code = self._code(resource.code, PROCEDURE_SYSTEMS, f"{path}.code")
            day = _date(resource.performedDateTime)
            if day is None and resource.performedPeriod is not None:
                day = _date(resource.performedPeriod.start)
            modifiers = []
            units = 1
            for extension in resource.extension or []:
                if extension.url == MODIFIER_EXTENSION and extension.valueCoding:
                    modifiers.append(extension.valueCoding.code or "")
                elif extension.url == UNITS_EXTENSION and extension.valueInteger:
                    units = extension.valueInteger
            if code is not None:
                k = len(out)
                out.append(
                    services.ProcedureInput(
                        system=code[0],
                        code=code[1],
                        date=day,
                        modifiers=modifiers,
                        units=units,
                    )
                )
                for name, element in (
                    ("code", "code"),
                    ("system", "code"),
                    ("date", "performedDateTime"),
                    ("modifiers", "extension"),
                    ("units", "extension"),
                ):
                    paths[f"procedures.{k}.{name}"] = f"{path}.{element}"
        return out, paths

    def _documents(self) -> list[services.DocumentInput]:
        out: list[services.DocumentInput] = []
        for n, resource in self.by_type.get("DocumentReference", []):
            path = f"Bundle.entry[{n}].resource"
            kind = Document.Kind.OTHER
            for coding in _codings(resource.type):
                if coding.system == LOINC and coding.code in DOCUMENT_KINDS:
                    kind = DOCUMENT_KINDS[coding.code]
            for m, content in enumerate(resource.content or []):
                attachment = content.attachment
                where = f"{path}.content[{m}].attachment"
                if attachment.contentType and not attachment.contentType.startswith(
                    "text/"
                ):
                    self.issue(
                        "not-supported",
                        "Only text attachments are read (contentType text/plain).",
                        f"{where}.contentType",
                    )
                    continue
                if attachment.data is None:
                    self.issue(
                        "required",
                        "The note goes in attachment.data (base64).",
                        f"{where}.data",
                    )
                    continue
                try:
                    # The model checked and decoded the base64 (bytes here).
                    note = bytes(attachment.data).decode("utf-8")
                except UnicodeDecodeError:
                    self.issue(
                        "invalid",
                        "attachment.data is not UTF-8 text.",
                        f"{where}.data",
                    )
                    continue
                out.append(
                    services.DocumentInput(
                        kind=kind,
                        text=note,
                        title=(resource.description or attachment.title or "")[:200],
                    )
                )
        return out
