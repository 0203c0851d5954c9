"""The encounter API of DESIGN.md: create (single, bulk), read, update coding, submit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import CODE_ENCOUNTERS, IMPORT_ENCOUNTERS, api_permission
from accounts.types import AuthenticatedRequest
from codesets.models import System
from codesets.selectors import stay_pricing_prime
from encounters import services
from encounters.audit.selectors import encounter_checks
from encounters.drg import DrgResult, encounter_drg
from encounters.models import (
    PROCEDURE_SYSTEMS,
    Document,
    Encounter,
    Finding,
    Patient,
)
from encounters.payment import drg_pricer, encounter_payment, encounter_stay
from encounters.selectors import (
    encounter_drg_shift,
    encounter_get_for_user,
    encounter_list,
)
from encounters.whatif import encounter_what_if
from jobs.services import QUEUED_LATER, sends_reported


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them (a feed's typo is not ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}
                )
        return super().to_internal_value(data)


class DiagnosisSerializer(StrictSerializer):
    code = serializers.CharField(max_length=12)
    poa = serializers.CharField(max_length=1, required=False, allow_blank=True)


class ProcedureSerializer(StrictSerializer):
    system = serializers.ChoiceField(choices=[value for value, _ in PROCEDURE_SYSTEMS])
    code = serializers.CharField(max_length=12)
    date = serializers.DateField(required=False, allow_null=True)
    modifiers = serializers.ListField(
        child=serializers.CharField(max_length=2), max_length=4, required=False
    )
    units = serializers.IntegerField(min_value=1, max_value=9999, required=False)


class PatientSerializer(StrictSerializer):
    mrn = serializers.CharField(max_length=40)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    birth_date = serializers.DateField()
    sex = serializers.ChoiceField(choices=Patient.Sex.values)


class DocumentSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=Document.Kind.values)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    text = serializers.CharField()


class EncounterInputSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=Encounter.Type.values)
    facility = serializers.CharField(max_length=100)
    admit_date = serializers.DateField()
    discharge_date = serializers.DateField(required=False, allow_null=True)
    discharge_status = serializers.RegexField(
        r"^\d\d$", required=False, allow_blank=True
    )
    attending_provider = serializers.CharField(
        max_length=100, required=False, allow_blank=True
    )
    patient = PatientSerializer()
    documents = DocumentSerializer(many=True, required=False)
    diagnoses = DiagnosisSerializer(many=True, required=False)
    procedures = ProcedureSerializer(many=True, required=False)


def _diagnoses(rows: list[dict]) -> list[services.DiagnosisInput]:
    return [services.DiagnosisInput(r["code"], r.get("poa", "")) for r in rows]


def _procedures(rows: list[dict]) -> list[services.ProcedureInput]:
    return [
        services.ProcedureInput(
            system=r["system"],
            code=r["code"],
            date=r.get("date"),
            modifiers=r.get("modifiers", []),
            units=r.get("units", 1),
        )
        for r in rows
    ]


def _encounter_input(data: dict) -> services.EncounterInput:
    return services.EncounterInput(
        type=data["type"],
        facility=data["facility"],
        admit_date=data["admit_date"],
        discharge_date=data.get("discharge_date"),
        discharge_status=data.get("discharge_status", ""),
        attending_provider=data.get("attending_provider", ""),
        patient=services.PatientInput(**data["patient"]),
        documents=[services.DocumentInput(**d) for d in data.get("documents", [])],
        diagnoses=_diagnoses(data.get("diagnoses", [])),
        procedures=_procedures(data.get("procedures", [])),
    )


def _nested(errors: dict[str, list[str]]) -> dict[str, Any]:
    """``{"diagnoses.1.code": [...]}`` → ``{"diagnoses": {"1": {"code": [...]}}}``,
    the shape DRF gives its own nested errors."""
    out: dict[str, Any] = {}
    for key, messages in errors.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if isinstance(child, list):
                # "diagnoses" has messages of its own (too many) and rows with
                # errors: its own go under non_field_errors, as DRF puts them.
                child = node[part] = {"non_field_errors": child}
            node = child
        if isinstance(node.get(parts[-1]), dict):
            node[parts[-1]]["non_field_errors"] = messages
        else:
            node[parts[-1]] = messages
    return out


def _conflict_response(exc: services.CodingConflict) -> Response:
    return Response(
        {
            "detail": str(exc),
            "version": exc.encounter.version,
            "current": exc.current,
        },
        status=status.HTTP_409_CONFLICT,
    )


def _invalid(exc: ValidationError) -> Response:
    return Response(
        {"detail": "The request is not valid.", "errors": _nested(exc.message_dict)},
        status=status.HTTP_400_BAD_REQUEST,
    )


def _change(service: Any, **kwargs: Any) -> tuple[Any, Response | None]:
    """Call a service that changes an encounter; map its refusals to responses:
    a stale version is 409 with the current codes, bad input 400, a state or role
    that does not allow it 403."""
    try:
        return service(**kwargs), None
    except services.CodingConflict as exc:
        return None, _conflict_response(exc)
    except services.NotEditable as exc:
        raise PermissionDenied(str(exc)) from exc
    except ValidationError as exc:
        return None, _invalid(exc)


def encounter_output(encounter: Encounter) -> dict[str, Any]:
    patient = encounter.patient
    diagnoses = list(encounter.diagnoses.all())
    procedures = list(encounter.procedures.all())
    drg = encounter.drg
    if drg is None and encounter.is_inpatient:
        # The rows just read, not read again by the grouping.
        live = encounter_drg(
            encounter,
            diagnoses=[(d.code, d.poa) for d in diagnoses],
            procedures=[p.code for p in procedures if p.system == System.ICD10PCS],
        )
        drg = live.as_dict() if isinstance(live, DrgResult) else None
    if drg is not None:
        drg = _with_money(encounter, drg)
    return {
        "id": encounter.id,
        "status": encounter.status,
        "version": encounter.version,
        "assigned_to": encounter.assigned_to.username
        if encounter.assigned_to
        else None,
        "type": encounter.type,
        "facility": encounter.facility,
        "admit_date": encounter.admit_date,
        "discharge_date": encounter.discharge_date,
        "discharge_status": encounter.discharge_status,
        "discharge_status_label": encounter.discharge_status_label,
        "attending_provider": encounter.attending_provider,
        "patient": {
            "mrn": patient.mrn,
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "birth_date": patient.birth_date,
            "sex": patient.sex,
        },
        "documents": [
            {"kind": d.kind, "title": d.title, "text": d.text}
            for d in encounter.documents.all()
        ],
        "diagnoses": [
            {
                "code": d.display,
                "poa": d.poa,
                "title": d.title,
                "valid": d.valid,
                "message": d.message,
            }
            for d in diagnoses
        ],
        "procedures": [
            {
                "system": p.system,
                "code": p.display,
                "date": p.date,
                "modifiers": p.modifiers,
                "units": p.units,
                "title": p.title,
                "valid": p.valid,
                "message": p.message,
            }
            for p in procedures
        ],
        "drg": drg,
        "drg_shift": encounter_drg_shift(encounter=encounter)
        if encounter.is_inpatient
        else None,
        "findings": _findings(encounter),
    }


def _with_money(encounter: Encounter, drg: dict[str, Any]) -> dict[str, Any]:
    """The stored DRG with its payment estimate and the stay against its means
    (computed on read: the rates may be set after the DRG was stored)."""
    payment = encounter_payment(encounter, drg)
    stay = encounter_stay(encounter, drg)
    return {
        **drg,
        "payment": payment.as_dict() if payment is not None else None,
        "stay": stay.as_dict() if stay is not None else None,
    }


def _findings(encounter: Encounter) -> list[dict[str, Any]]:
    findings = getattr(encounter, "findings", None)
    if findings is None:
        return []
    return [
        {
            "rule": f.rule,
            "severity": f.severity,
            "message": f.message,
            "codes": f.codes,
            "reference": f.reference,
            "status": f.status,
        }
        for f in findings.all()
    ]


class PaymentSerializer(serializers.Serializer):
    """The payment estimate of one MS-DRG (DESIGN.md ``drg.payment``)."""

    amount = serializers.CharField(allow_null=True)
    full_amount = serializers.CharField(allow_null=True, required=False)
    per_diem = serializers.CharField(allow_null=True, required=False)
    transfer = serializers.BooleanField(required=False)
    explanation = serializers.CharField(required=False, allow_blank=True)


class StaySerializer(serializers.Serializer):
    """The stay against its DRG's means: LOS in days, GMLOS/AMLOS as decimal text."""

    los = serializers.IntegerField()
    gmlos = serializers.CharField(allow_null=True)
    amlos = serializers.CharField(allow_null=True)
    long_stay = serializers.BooleanField()


class DrgSerializer(serializers.Serializer):
    """An inpatient stay's MS-DRG (DESIGN.md ``drg``), priced when read. Results stored
    by older versions may lack the keys marked not required."""

    class CcMccSerializer(serializers.Serializer):
        code = serializers.CharField()
        level = serializers.CharField(help_text="CC or MCC")

    drg = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(allow_blank=True, required=False)
    mdc = serializers.IntegerField(allow_null=True, required=False)
    mdc_title = serializers.CharField(allow_blank=True, required=False)
    weight = serializers.FloatField(allow_null=True, required=False)
    gmlos = serializers.FloatField(allow_null=True, required=False)
    alos = serializers.FloatField(allow_null=True, required=False)
    grouper_version = serializers.IntegerField(required=False, help_text="431 is v43.1")
    cc_mcc = CcMccSerializer(many=True, required=False)
    return_code = serializers.CharField(required=False)
    message = serializers.CharField(allow_blank=True, required=False)
    payment = PaymentSerializer(allow_null=True, required=False)
    stay = StaySerializer(allow_null=True, required=False)


@extend_schema_field(DrgSerializer(allow_null=True))
class StoredDrgField(serializers.JSONField):
    """The DRG stored with the encounter, passed through as stored (older results
    keep their keys), described in the schema as a ``Drg``."""


class DrgShiftSerializer(serializers.Serializer):
    """What the supervisor's corrections since the last submit did to the MS-DRG."""

    class SideSerializer(serializers.Serializer):
        drg = serializers.IntegerField(allow_null=True)
        title = serializers.CharField(allow_blank=True)
        weight = serializers.CharField(allow_null=True)
        payment = serializers.CharField(allow_null=True)

    to = SideSerializer()
    weight_delta = serializers.CharField(allow_null=True)
    payment_delta = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    by = serializers.CharField(allow_null=True)
    by_name = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()
    corrections = serializers.IntegerField()

    def get_fields(self) -> dict[str, serializers.Field]:
        # "from" is a Python keyword, so it cannot be declared as an attribute.
        return {"from": self.SideSerializer(), **super().get_fields()}


class PatientOutputSerializer(serializers.Serializer):
    """The patient of an encounter, in every answer that carries one."""

    mrn = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    birth_date = serializers.DateField()
    sex = serializers.CharField()


class EncounterOutputSerializer(serializers.Serializer):
    """An encounter as the API answers it (``encounter_output``): its stay, patient,
    documents, codes with their verdicts, MS-DRG with payment and findings."""

    class DocumentOutSerializer(serializers.Serializer):
        kind = serializers.CharField()
        title = serializers.CharField(allow_blank=True)
        text = serializers.CharField(allow_blank=True)

    class DiagnosisOutSerializer(serializers.Serializer):
        code = serializers.CharField(help_text="dotted, as printed: J18.9")
        poa = serializers.CharField(allow_blank=True)
        title = serializers.CharField(allow_blank=True)
        valid = serializers.BooleanField()
        message = serializers.CharField(allow_blank=True)

    class ProcedureOutSerializer(serializers.Serializer):
        system = serializers.CharField()
        code = serializers.CharField()
        date = serializers.DateField(allow_null=True)
        modifiers = serializers.ListField(child=serializers.CharField())
        units = serializers.IntegerField()
        title = serializers.CharField(allow_blank=True)
        valid = serializers.BooleanField()
        message = serializers.CharField(allow_blank=True)

    class FindingOutSerializer(serializers.Serializer):
        rule = serializers.CharField()
        severity = serializers.CharField()
        message = serializers.CharField()
        codes = serializers.ListField(child=serializers.CharField())
        reference = serializers.CharField(allow_blank=True)
        status = serializers.CharField()

    id = serializers.IntegerField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    assigned_to = serializers.CharField(allow_null=True)
    type = serializers.CharField()
    facility = serializers.CharField()
    admit_date = serializers.DateField()
    discharge_date = serializers.DateField(allow_null=True)
    discharge_status = serializers.CharField(allow_blank=True)
    discharge_status_label = serializers.CharField(allow_blank=True)
    attending_provider = serializers.CharField(allow_blank=True)
    patient = PatientOutputSerializer()
    documents = DocumentOutSerializer(many=True)
    diagnoses = DiagnosisOutSerializer(many=True)
    procedures = ProcedureOutSerializer(many=True)
    drg = DrgSerializer(allow_null=True)
    drg_shift = DrgShiftSerializer(allow_null=True)
    findings = FindingOutSerializer(many=True)


class EncounterBulkOutputSerializer(serializers.Serializer):
    class CreatedSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        version = serializers.IntegerField()

    created = CreatedSerializer(many=True)


class EncounterSubmitOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    drg = StoredDrgField(
        allow_null=True, help_text="The MS-DRG stored with the submit (inpatient)."
    )
    audit_queued = serializers.BooleanField(
        help_text="False when the job service was down: the audit runs once it is back."
    )
    message = serializers.CharField()


class EncounterCreateApi(APIView):
    """Create one encounter with its patient, documents and codes (EHR feeds)."""

    permission_classes = [api_permission(IMPORT_ENCOUNTERS)]

    @extend_schema(
        request=EncounterInputSerializer, responses={201: EncounterOutputSerializer}
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = EncounterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            encounter = services.encounter_create(
                data=_encounter_input(data.validated_data), created_by=request.user
            )
        except ValidationError as exc:
            return _invalid(exc)
        services.chart_access_log(user=request.user, encounter=encounter, via="api")
        return Response(encounter_output(encounter), status=status.HTTP_201_CREATED)


class EncounterListApi(APIView):
    """Encounters the caller may read, filtered, by id, a page at a time: ``q`` is
    an MRN, a patient's name or an encounter number; ``status=final`` with
    ``updated_since`` is billing's feed of final codes."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]
    PAGE = 100

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(max_length=100, required=False, default="")
        status = serializers.ChoiceField(
            choices=Encounter.Status.choices, required=False, default=""
        )
        facility = serializers.CharField(max_length=100, required=False, default="")
        updated_since = serializers.DateTimeField(required=False, default=None)
        after = serializers.IntegerField(min_value=0, required=False, default=0)

    class OutputSerializer(serializers.Serializer):
        class ItemSerializer(serializers.Serializer):
            class DiagnosisSerializer(serializers.Serializer):
                code = serializers.CharField(source="display")
                poa = serializers.CharField()

            class ProcedureSerializer(serializers.Serializer):
                system = serializers.CharField()
                code = serializers.CharField(source="display")
                date = serializers.DateField(allow_null=True)
                modifiers = serializers.ListField(child=serializers.CharField())
                units = serializers.IntegerField()

            id = serializers.IntegerField()
            status = serializers.CharField()
            version = serializers.IntegerField()
            assigned_to = serializers.CharField(
                source="assigned_to.username", allow_null=True, default=None
            )
            type = serializers.CharField()
            facility = serializers.CharField()
            admit_date = serializers.DateField()
            discharge_date = serializers.DateField(allow_null=True)
            discharge_status = serializers.CharField()
            updated_at = serializers.DateTimeField()
            patient = PatientOutputSerializer()
            diagnoses = DiagnosisSerializer(many=True)
            procedures = ProcedureSerializer(many=True)
            drg = StoredDrgField(allow_null=True)
            payment = serializers.SerializerMethodField()

            @extend_schema_field(PaymentSerializer(allow_null=True))
            def get_payment(self, encounter: Encounter) -> dict[str, Any] | None:
                """The stored DRG's payment estimate (inpatient, discharged)."""
                payment = encounter_payment(encounter, encounter.drg)
                return payment.as_dict() if payment is not None else None

        results = ItemSerializer(many=True)
        next = serializers.URLField(allow_null=True)

    @extend_schema(
        operation_id="v1_encounters_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer},
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        values = dict(filters.validated_data)
        after = values.pop("after")
        rows = list(
            encounter_list(user=request.user, **values).filter(id__gt=after)[
                : self.PAGE + 1
            ]
        )
        more = len(rows) > self.PAGE
        rows = rows[: self.PAGE]
        stay_pricing_prime(
            (e.facility, e.discharge_date)
            for e in rows
            if e.is_inpatient and e.discharge_date is not None
        )
        next_url = None
        if more:
            query = request.query_params.copy()
            query["after"] = str(rows[-1].id)
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(self.OutputSerializer({"results": rows, "next": next_url}).data)


class EncounterCollectionApi(EncounterListApi, EncounterCreateApi):
    """``/api/v1/encounters/``: GET lists (EncounterListApi), POST creates
    (EncounterCreateApi), each with its own permission."""

    def get_permissions(self) -> list[Any]:
        api = EncounterListApi if self.request.method == "GET" else EncounterCreateApi
        return [permission() for permission in api.permission_classes]


class EncounterBulkCreateApi(APIView):
    """Create many encounters at once: all of them, or none (errors by position)."""

    permission_classes = [api_permission(IMPORT_ENCOUNTERS)]

    @extend_schema(
        request=EncounterInputSerializer(many=True),
        responses={201: EncounterBulkOutputSerializer},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        if not isinstance(request.data, list) or not request.data:
            return Response(
                {"detail": "Send a non-empty JSON list of encounters."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if len(request.data) > 1000:
            return Response(
                {"detail": "At most 1000 encounters per request."},
                status=status.HTTP_400_BAD_REQUEST,
            )
        data = EncounterInputSerializer(data=request.data, many=True)
        if not data.is_valid():
            invalid = {str(n): e for n, e in enumerate(data.errors) if e}
            return Response(
                {
                    "detail": "The request is not valid; nothing was created.",
                    "errors": invalid,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        created: list[Encounter] = []
        errors: dict[str, Any] = {}
        try:
            with transaction.atomic():
                for n, item in enumerate(data.validated_data):
                    try:
                        with transaction.atomic():
                            created.append(
                                services.encounter_create(
                                    data=_encounter_input(item), created_by=request.user
                                )
                            )
                    except ValidationError as exc:
                        errors[str(n)] = _nested(exc.message_dict)
                if errors:
                    raise _Rollback
        except _Rollback:
            return Response(
                {
                    "detail": "The request is not valid; nothing was created.",
                    "errors": errors,
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            {"created": [{"id": e.id, "version": e.version} for e in created]},
            status=status.HTTP_201_CREATED,
        )


class _Rollback(Exception):
    pass


class CodingUpdateSerializer(StrictSerializer):
    version = serializers.IntegerField(min_value=1)
    diagnoses = DiagnosisSerializer(many=True, required=False)
    procedures = ProcedureSerializer(many=True, required=False)


class SubmitSerializer(StrictSerializer):
    version = serializers.IntegerField(min_value=1)


class EncounterDetailApi(APIView):
    """Read an encounter; PATCH its codes with the version you read (409 if stale)."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]

    @extend_schema(responses=EncounterOutputSerializer)
    def get(self, request: AuthenticatedRequest, encounter_id: int) -> Response:
        encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
        services.chart_access_log(user=request.user, encounter=encounter, via="api")
        return Response(encounter_output(encounter))

    @extend_schema(request=CodingUpdateSerializer, responses=EncounterOutputSerializer)
    def patch(self, request: AuthenticatedRequest, encounter_id: int) -> Response:
        encounter = encounter_get_for_user(
            user=request.user, encounter_id=encounter_id, write=True
        )
        data = CodingUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        encounter, refused = _change(
            services.encounter_save_coding,
            user=request.user,
            encounter_id=encounter.id,
            version=values["version"],
            diagnoses=_diagnoses(values["diagnoses"])
            if "diagnoses" in values
            else None,
            procedures=_procedures(values["procedures"])
            if "procedures" in values
            else None,
        )
        if refused is not None:
            return refused
        # Read again as saved, with its patient and coder in the same query.
        encounter = Encounter.objects.select_related("patient", "assigned_to").get(
            id=encounter.id
        )
        # The answer carries the chart (patient, documents): an access like a GET.
        services.chart_access_log(user=request.user, encounter=encounter, via="api")
        return Response(encounter_output(encounter))


class EncounterSubmitApi(APIView):
    """Submit the coding for audit: 202, the audit job runs in the background."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]

    @extend_schema(
        request=SubmitSerializer, responses={202: EncounterSubmitOutputSerializer}
    )
    def post(self, request: AuthenticatedRequest, encounter_id: int) -> Response:
        encounter = encounter_get_for_user(
            user=request.user, encounter_id=encounter_id, write=True
        )
        data = SubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with sends_reported() as sends:
            encounter, refused = _change(
                services.encounter_submit,
                user=request.user,
                encounter_id=encounter.id,
                version=data.validated_data["version"],
            )
        if refused is not None:
            return refused
        return Response(
            {
                "id": encounter.id,
                "status": encounter.status,
                "version": encounter.version,
                "drg": encounter.drg,
                # False when the job service was down: the audit waits in the
                # outbox and runs once it is back.
                "audit_queued": not sends.broker_down,
                "message": f"The audit is {QUEUED_LATER}."
                if sends.broker_down
                else "The audit job has started.",
            },
            status=status.HTTP_202_ACCEPTED,
        )


class EncounterChecksApi(APIView):
    """The audit rules run now on the saved codes: what the coding form shows live.
    Nothing is routed or stored; every finding is ``open``."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]

    class OutputSerializer(serializers.Serializer):
        class FindingSerializer(serializers.Serializer):
            rule = serializers.CharField()
            severity = serializers.ChoiceField(choices=Finding.Severity.values)
            message = serializers.CharField()
            codes = serializers.ListField(child=serializers.CharField())
            reference = serializers.CharField()
            status = serializers.ChoiceField(choices=Finding.Status.values)

        findings = FindingSerializer(many=True)

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest, encounter_id: int) -> Response:
        encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
        services.chart_access_log(user=request.user, encounter=encounter, via="api")
        findings = [
            {
                "rule": d.rule,
                "severity": d.severity,
                "message": d.message,
                "codes": list(d.codes),
                "reference": d.reference,
                "status": Finding.Status.OPEN,
            }
            for d in encounter_checks(encounter=encounter)
        ]
        return Response(self.OutputSerializer({"findings": findings}).data)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class WhatIfDrgSerializer(serializers.Serializer):
    drg = serializers.IntegerField(allow_null=True)
    title = serializers.CharField(allow_blank=True)
    weight = serializers.FloatField(allow_null=True)
    weight_delta = serializers.FloatField(
        allow_null=True, help_text="Against the current DRG (HAC: the initial DRG)."
    )
    payment = PaymentSerializer(allow_null=True)
    amount_delta = serializers.CharField(allow_null=True)


class EncounterWhatIfApi(APIView):
    """What-if analysis of an inpatient encounter's saved codes, read-only: each
    secondary diagnosis sequenced as principal (those the grouper or the Medicare
    Code Editor refuses as principal are listed in ``skipped``), the DRG's tier in
    its MS-DRG family with what a documented CC or MCC would make it, and the
    hospital-acquired conditions with the DRG before and after the HAC logic.

    The principal diagnosis is chosen by the Official Guidelines, Section II, never
    by weight: the alternatives are for query and documentation review. 400 for an
    encounter that is not inpatient or has no principal diagnosis or no grouper for
    its discharge date; 404 for one you may not see."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]

    class OutputSerializer(serializers.Serializer):
        class CurrentSerializer(WhatIfDrgSerializer):
            principal = serializers.CharField()

        class AlternativeSerializer(WhatIfDrgSerializer):
            principal = serializers.CharField()
            poa = serializers.CharField(allow_blank=True)
            diagnosis = serializers.CharField(allow_blank=True)
            mdc = serializers.IntegerField(allow_null=True)
            note = serializers.CharField(allow_blank=True)

        class SkippedSerializer(serializers.Serializer):
            code = serializers.CharField()
            reason = serializers.CharField()

        class TierSerializer(serializers.Serializer):
            class MemberSerializer(serializers.Serializer):
                drg = serializers.IntegerField()
                tier = serializers.CharField(allow_blank=True)
                title = serializers.CharField(allow_blank=True)
                weight = serializers.FloatField(allow_null=True)

            class StepSerializer(WhatIfDrgSerializer):
                level = serializers.ChoiceField(choices=["CC", "MCC"])
                tier = serializers.CharField()
                also = serializers.CharField(
                    allow_blank=True,
                    help_text="Another way into that DRG (a procedure), if any.",
                )

            drg = serializers.IntegerField()
            tier = serializers.CharField(allow_blank=True)
            family = MemberSerializer(many=True)
            with_cc = StepSerializer(allow_null=True)
            with_mcc = StepSerializer(allow_null=True)
            statement = serializers.CharField()

        class HacSerializer(serializers.Serializer):
            code = serializers.CharField()
            poa = serializers.CharField(allow_blank=True)
            hac = serializers.CharField()
            description = serializers.CharField(allow_blank=True)
            level = serializers.CharField(allow_blank=True)
            initial = WhatIfDrgSerializer()
            final = WhatIfDrgSerializer()

        current = CurrentSerializer()
        alternatives = AlternativeSerializer(many=True)
        skipped = SkippedSerializer(many=True)
        tier = TierSerializer(allow_null=True)
        hacs = HacSerializer(many=True)
        guideline = serializers.CharField()

    @extend_schema(
        responses={200: OutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer}
    )
    def get(self, request: AuthenticatedRequest, encounter_id: int) -> Response:
        encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
        services.chart_access_log(user=request.user, encounter=encounter, via="api")
        if not encounter.is_inpatient:
            return _bad_request(
                "The what-if is for inpatient encounters: others have no MS-DRG."
            )
        what_if = encounter_what_if(encounter, price=drg_pricer(encounter))
        if what_if is None:
            return _bad_request(
                "The encounter has no principal diagnosis (or no discharge date) "
                "to group."
            )
        if isinstance(what_if, str):
            return _bad_request(what_if)
        return Response(self.OutputSerializer(what_if.as_dict()).data)


def _bad_request(detail: str) -> Response:
    return Response({"detail": detail}, status=status.HTTP_400_BAD_REQUEST)
