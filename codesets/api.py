from __future__ import annotations

import datetime as dt

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
from codesets.pcs_builder import pcs_builder_step
from codesets.pcs_lookup import pcs_lookup
from codesets.search import code_detail, code_search
from codesets.selectors import DayOfService, day_of_service_default, modifier_list


def _day_of_service(given: dt.date | None, systems: list[str]) -> DayOfService:
    """The date asked for, or (none asked) today unless no release of ``systems``
    covers today: then the latest date they cover, with a note saying so (as the
    encoder pages do), so that a lookup without a date finds the codes that exist."""
    if given is not None:
        return DayOfService(given)
    return day_of_service_default(systems=systems, today=timezone.localdate())


DOS_NOTE_HELP = (
    "Why dos is not the date asked for: empty unless no dos was given and no release "
    "covers today, when dos is the latest date the releases cover."
)


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
        dos = serializers.DateField(help_text="The date of service searched.")
        dos_note = serializers.CharField(help_text=DOS_NOTE_HELP)
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
        systems = [data["system"]] if data.get("system") else list(System.values)
        when = _day_of_service(data.get("dos"), systems)
        day = when.day
        result = code_search(
            query=data["q"],
            day=day,
            systems=[data["system"]] if data.get("system") else None,
            limit=data["limit"],
        )
        body = {
            "dos": day.isoformat(),
            "dos_note": when.note,
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
        dos_note = serializers.CharField(help_text=DOS_NOTE_HELP)
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
        when = _day_of_service(params.validated_data.get("dos"), [system])
        day = when.day
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
                "dos_note": when.note,
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
        dos_note = serializers.CharField(help_text=DOS_NOTE_HELP)
        results = serializers.ListField()

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        when = _day_of_service(params.validated_data.get("dos"), [System.HCPCS])
        day = when.day
        modifiers = modifier_list(day=day)
        return Response(
            {
                "dos": day.isoformat(),
                "dos_note": when.note,
                "results": self.ModifierSerializer(modifiers, many=True).data,
            }
        )


class PcsBuilderApi(APIView):
    """The ICD-10-PCS table builder: for the characters chosen so far (0 to 7), the
    values the next character may take in the tables in force on the date of
    service, with their labels and explanations; at seven characters, the code's
    title and validity. A character the tables do not allow is not taken: ``prefix``
    stops before it and ``message`` says why."""

    permission_classes = [api_permission(VIEW_CODES)]

    class InputSerializer(serializers.Serializer):
        prefix = serializers.CharField(
            max_length=20,
            required=False,
            allow_blank=True,
            default="",
            help_text="The characters chosen so far, e.g. 0SR (any case; dots and "
            "spaces ignored).",
        )
        dos = serializers.DateField(required=False)

    class OutputSerializer(serializers.Serializer):
        class PcsChoiceSerializer(serializers.Serializer):
            position = serializers.IntegerField()
            axis = serializers.CharField(
                help_text="Section, Body System, Operation, Body Part, ..."
            )
            character = serializers.CharField()
            # The stubs type Field.label (a field's own label); this is the output key.
            label = serializers.CharField()  # type: ignore[assignment]

        class PcsValueSerializer(serializers.Serializer):
            class PcsNoteSerializer(serializers.Serializer):
                kind = serializers.CharField(
                    help_text="Definition, Explanation, Includes, ..."
                )
                text = serializers.CharField()

            character = serializers.CharField()
            # The stubs type Field.label (a field's own label); this is the output key.
            label = serializers.CharField()  # type: ignore[assignment]
            prefix = serializers.CharField(help_text="The code so far with this value.")
            notes = PcsNoteSerializer(many=True)

        dos = serializers.DateField(source="day")
        dos_note = serializers.CharField(
            help_text=DOS_NOTE_HELP, read_only=True, default=""
        )
        release = serializers.CharField(source="release_label", allow_null=True)
        typed = serializers.CharField(help_text="The prefix asked, normalised.")
        prefix = serializers.CharField(
            help_text="The characters the tables allow: the longest valid start of typed."
        )
        path = PcsChoiceSerializer(many=True)
        position = serializers.IntegerField(
            help_text="The position (1-7) of the next character; 0 when complete."
        )
        axis = serializers.CharField(help_text="The next character's axis.")
        values = PcsValueSerializer(
            many=True, help_text="The values the next character may take."
        )
        message = serializers.CharField(
            help_text="Why typed went no further than prefix, or why nothing is offered."
        )
        complete = serializers.BooleanField()
        code = serializers.CharField(
            allow_null=True, help_text="The finished code (seven valid characters)."
        )
        title = serializers.CharField(help_text="The finished code's official title.")
        valid = serializers.BooleanField()

    @extend_schema(parameters=[InputSerializer], responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        when = _day_of_service(data.get("dos"), [System.ICD10PCS])
        step = pcs_builder_step(prefix=data["prefix"], day=when.day)
        return Response({**self.OutputSerializer(step).data, "dos_note": when.note})
