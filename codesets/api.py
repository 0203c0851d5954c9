from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import VIEW_CODES, api_permission
from codesets.index_search import index_search
from codesets.models import System, display_code
from codesets.pcs_lookup import pcs_lookup
from codesets.search import code_detail, code_search
from codesets.selectors import modifier_list


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
        index = serializers.ListField(
            child=serializers.DictField(),
            help_text="ICD-10-CM index table entries (drugs, neoplasms, external causes) "
            "matching the words: path, column, code, see. Absent when system is not icd10cm.",
            required=False,
        )
        pcs_index = serializers.ListField(
            child=serializers.DictField(),
            help_text="ICD-10-PCS Index terms that led to the results: path, see, use, "
            "code (a full code, a code start such as 0DTJ, or a table). Present when "
            "system is icd10pcs.",
            required=False,
        )

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        day = data.get("dos") or timezone.localdate()
        result = code_search(
            query=data["q"],
            day=day,
            systems=[data["system"]] if data.get("system") else None,
            limit=data["limit"],
        )
        body = {
            "results": self.ResultSerializer(result.hits, many=True).data,
            "uncovered": result.uncovered,
        }
        if data.get("system", System.ICD10CM) == System.ICD10CM:
            body["index"] = [
                {
                    "path": h.path,
                    "column": h.column_label,
                    "code": h.display,
                    "see": h.see,
                }
                for h in index_search(q=data["q"], dos=day, limit=data["limit"])
            ]
        if data.get("system") == System.ICD10PCS and not result.by_code:
            entries = pcs_lookup(query=data["q"], day=day, limit=data["limit"]).entries
            body["pcs_index"] = [
                {"path": e.path, "see": e.see, "use": e.use, "code": e.code}
                for e in entries
            ]
        return Response(body)


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
        kind = serializers.CharField(
            help_text="chapter, block, category, code or modifier (HCPCS)."
        )
        valid = serializers.BooleanField(
            help_text="Billable (a modifier: usable as a modifier), in the release in "
            "force on dos, and dos within the code's own valid_from/valid_to."
        )
        valid_from = serializers.DateField(allow_null=True)
        valid_to = serializers.DateField(
            allow_null=True,
            help_text="HCPCS termination date: the last date of service.",
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
                "kind": detail.code.kind,
                "valid": detail.valid,
                "valid_from": detail.code.valid_from,
                "valid_to": detail.code.valid_to,
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


class ModifierListApi(APIView):
    """HCPCS modifiers valid on the date of service: a list of their own, never
    returned by code search."""

    permission_classes = [api_permission(VIEW_CODES)]

    class InputSerializer(serializers.Serializer):
        dos = serializers.DateField(required=False)

    class ModifierSerializer(serializers.Serializer):
        modifier = serializers.CharField(source="code")
        title = serializers.CharField(source="long_title")
        short_title = serializers.CharField()
        valid_from = serializers.DateField(allow_null=True)
        valid_to = serializers.DateField(allow_null=True)

    class OutputSerializer(serializers.Serializer):
        dos = serializers.DateField()
        results = serializers.ListField()

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        day = params.validated_data.get("dos") or timezone.localdate()
        modifiers = modifier_list(day=day)
        return Response(
            {
                "dos": day.isoformat(),
                "results": self.ModifierSerializer(modifiers, many=True).data,
            }
        )
