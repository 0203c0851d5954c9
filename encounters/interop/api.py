"""The FHIR and X12 endpoints (DESIGN.md "Interoperability").

- ``POST /api/v1/fhir/``: a transaction Bundle in (role: import_encounters, as
  ``POST /api/v1/encounters/``); 201 created, 200 already on file (updated or
  not); 400 / 409 with an OperationOutcome naming the elements; nothing written.
- ``GET /api/v1/encounters/<id>/fhir-claim/`` and ``.../x12-837/``: the claim of
  one encounter (role: code_encounters, through encounter_get_for_user, chart
  access recorded as for the encounter detail).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import CODE_ENCOUNTERS, IMPORT_ENCOUNTERS, api_permission
from accounts.types import AuthenticatedRequest
from encounters.interop.claims import claim_encounter
from encounters.interop.fhir_claim import claim_resource
from encounters.interop.fhir_in import BundleInvalid, Issue
from encounters.interop.services import BundleConflict, fhir_bundle_import
from encounters.interop.x12_837 import ClaimIncomplete, claim_837
from encounters.selectors import encounter_get_for_user
from encounters.services import chart_access_log

FHIR_JSON = "application/fhir+json"


class FhirJsonParser(JSONParser):
    media_type = FHIR_JSON


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    data = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": i.code,
                "diagnostics": i.diagnostics,
                "expression": [i.expression],
            }
            for i in issues
        ],
    }
    OperationOutcome.model_validate(data)
    return data


class FhirResourceSerializer(serializers.Serializer):
    """A FHIR resource (JSON); its shape is the FHIR R4 specification's."""

    resourceType = serializers.CharField()


class FhirBundleApi(APIView):
    """Create or update one encounter from a FHIR R4 transaction Bundle (Patient,
    Encounter, Condition, Procedure, DocumentReference): see
    ``encounters.interop.fhir_in`` for what each element maps to. The same Bundle
    twice is one encounter."""

    permission_classes = [api_permission(IMPORT_ENCOUNTERS)]
    parser_classes = [FhirJsonParser, JSONParser]

    @extend_schema(
        request=FhirResourceSerializer,
        responses={
            200: FhirResourceSerializer,
            201: FhirResourceSerializer,
            400: OpenApiResponse(FhirResourceSerializer, "OperationOutcome"),
            409: OpenApiResponse(FhirResourceSerializer, "OperationOutcome"),
        },
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        try:
            result = fhir_bundle_import(body=request.data, user=request.user)
        except BundleInvalid as exc:
            return Response(
                operation_outcome(exc.issues),
                status=status.HTTP_400_BAD_REQUEST,
                content_type=FHIR_JSON,
            )
        except BundleConflict as exc:
            return Response(
                operation_outcome(exc.issues),
                status=status.HTTP_409_CONFLICT,
                content_type=FHIR_JSON,
            )
        code = "201 Created" if result.created else "200 OK"
        location = f"/api/v1/encounters/{result.encounter.id}/"
        entries = request.data.get("entry") or []
        body = {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {
                    "response": {
                        "status": code,
                        **(
                            {"location": location}
                            if (e.get("resource") or {}).get("resourceType")
                            == "Encounter"
                            else {}
                        ),
                    }
                }
                for e in entries
            ],
        }
        Bundle.model_validate(body)
        response = Response(
            body,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
            content_type=FHIR_JSON,
        )
        response["Location"] = location
        return response


class EncounterFhirClaimApi(APIView):
    """The encounter's claim as a FHIR R4 Claim: institutional for facility
    encounters, professional for professional ones."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]

    @extend_schema(responses=FhirResourceSerializer)
    def get(self, request: AuthenticatedRequest, encounter_id: int) -> Response:
        encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
        chart_access_log(user=request.user, encounter=encounter, via="api")
        claim = claim_resource(claim_encounter(encounter), created=timezone.now())
        return Response(claim, content_type=FHIR_JSON)


class EncounterX12Api(APIView):
    """The encounter's claim as one X12 837 interchange: 837I (005010X223A2) for
    facility encounters, 837P (005010X222A1) for professional ones. 400 when it
    cannot be billed as coded (no principal diagnosis, no service line)."""

    permission_classes = [api_permission(CODE_ENCOUNTERS)]

    @extend_schema(
        responses={
            (200, "application/edi-x12"): OpenApiResponse(str, "The 837"),
            400: OpenApiResponse(description="Not billable as coded"),
        }
    )
    def get(self, request: AuthenticatedRequest, encounter_id: int) -> Any:
        encounter = encounter_get_for_user(user=request.user, encounter_id=encounter_id)
        chart_access_log(user=request.user, encounter=encounter, via="api")
        try:
            text = claim_837(
                claim_encounter(encounter),
                control_number=encounter.id,
                now=timezone.now(),
            )
        except ClaimIncomplete as exc:
            return Response(
                {"detail": f"The encounter cannot be billed as coded: {exc}"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        response = HttpResponse(text, content_type="application/edi-x12")
        response["Content-Disposition"] = (
            f'attachment; filename="encounter-{encounter.id}.837"'
        )
        return response
