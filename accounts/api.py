from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import MANAGE_CODESETS, api_permission
from accounts.types import AuthenticatedRequest


class MeApi(APIView):
    """Who the caller is and what their roles allow."""

    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        roles = serializers.ListField(child=serializers.CharField())
        permissions = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=OutputSerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        user = request.user
        data = {
            "username": user.get_username(),
            "roles": user.roles,
            "permissions": sorted(
                p for p in user.get_all_permissions() if p.startswith("accounts.")
            ),
        }
        return Response(self.OutputSerializer(data).data)


class WorkerPingApi(APIView):
    """Round trip to the Celery worker: the web process sends a task and waits."""

    permission_classes = [api_permission(MANAGE_CODESETS)]

    class OutputSerializer(serializers.Serializer):
        worker = serializers.CharField()
        round_trip_ms = serializers.FloatField()

    @extend_schema(responses=OutputSerializer)
    def get(self, request: Request) -> Response:
        from accounts.selectors import worker_ping

        try:
            host, ms = worker_ping(timeout=5.0)
        except Exception as exc:  # broker down or no worker: say so, don't 500
            return Response(
                {
                    "detail": f"The background worker did not answer: {type(exc).__name__}."
                },
                status=503,
            )
        return Response(
            self.OutputSerializer({"worker": host, "round_trip_ms": round(ms, 1)}).data
        )
