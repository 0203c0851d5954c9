from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import VIEW_CODES, api_permission
from codesets.models import System, display_code
from codesets.search import code_detail, code_search


class CodeSearchApi(APIView):
    """Codes valid on the date of service that match a code, a code prefix or words."""

    permission_classes = [api_permission(VIEW_CODES)]

    class InputSerializer(serializers.Serializer):
        q = serializers.CharField(max_length=200)
        system = serializers.ChoiceField(choices=System.choices, required=False)
        dos = serializers.DateField(required=False)
        limit = serializers.IntegerField(min_value=1, max_value=100, default=20)

    class ResultSerializer(serializers.Serializer):
        system = serializers.CharField()
        code = serializers.CharField(source="display")
        title = serializers.CharField()
        billable = serializers.BooleanField()

    class OutputSerializer(serializers.Serializer):
        results = serializers.ListField()
        uncovered = serializers.ListField(
            child=serializers.CharField(), help_text="Systems no release covers on dos."
        )

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        result = code_search(
            query=data["q"],
            day=data.get("dos") or timezone.localdate(),
            systems=[data["system"]] if data.get("system") else None,
            limit=data["limit"],
        )
        return Response(
            {
                "results": self.ResultSerializer(result.hits, many=True).data,
                "uncovered": result.uncovered,
            }
        )


class CodeDetailApi(APIView):
    """One code as the release in force on the date of service has it."""

    permission_classes = [api_permission(VIEW_CODES)]

    class InputSerializer(serializers.Serializer):
        dos = serializers.DateField(required=False)

    class OutputSerializer(serializers.Serializer):
        system = serializers.CharField()
        code = serializers.CharField()
        title = serializers.CharField()
        short_title = serializers.CharField()
        billable = serializers.BooleanField()
        valid = serializers.BooleanField(
            help_text="Billable and in the release in force on dos."
        )
        dos = serializers.DateField()
        release = serializers.CharField(allow_null=True)
        message = serializers.CharField()
        ancestors = serializers.ListField(child=serializers.DictField())
        notes = serializers.DictField(
            child=serializers.ListField(child=serializers.DictField())
        )
        seventh_characters = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        parameters=[
            InputSerializer,
            OpenApiParameter(
                "system", str, OpenApiParameter.PATH, enum=[s.value for s in System]
            ),
        ],
        responses=OutputSerializer,
    )
    def get(self, request: Request, system: str, code: str) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        if system not in System.values:
            raise NotFound(
                f"Unknown code system {system!r}; use one of {', '.join(System.values)}."
            )
        day = params.validated_data.get("dos") or timezone.localdate()
        detail = code_detail(system=system, code=code, day=day)
        if detail is None:
            raise NotFound(
                f"{code} is not a {System(system).label} code in any loaded release."
            )
        notes: dict[str, list[dict[str, object]]] = {}
        for kind, _label, lines in detail.notes_by_kind():
            notes[kind] = [
                {"text": n.text, "from": n.source, "inherited": n.inherited}
                for n in lines
            ]
        return Response(
            {
                "system": system,
                "code": detail.code.display,
                "title": detail.code.long_title,
                "short_title": detail.code.short_title,
                "billable": detail.code.billable,
                "valid": detail.valid,
                "dos": day.isoformat(),
                "release": detail.release.label if detail.release else None,
                "message": detail.message,
                "ancestors": [
                    {"code": a.display, "title": a.long_title, "kind": a.kind}
                    for a in detail.ancestors
                ],
                "notes": notes,
                "seventh_characters": [
                    {
                        "character": s.character,
                        "title": s.text,
                        "code": display_code(system, s.code),
                        "valid": s.exists,
                    }
                    for s in detail.seventh
                ],
            }
        )
