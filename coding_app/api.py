"""Project-wide API conventions."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi as drf_spectacular_openapi
from drf_spectacular.utils import Direction
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with every error body carrying a top-level ``detail``.

    Validation errors keep DRF's per-field messages under ``errors`` so a feed
    sees which field is wrong and why.
    """
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        return response
    response.data = {"detail": "The request is not valid.", "errors": data}
    return response


class AutoSchema(drf_spectacular_openapi.AutoSchema):
    """Names schema components after their API class: ``MeApi.OutputSerializer`` →
    ``MeApiOutput``. Every API nests serializers of the same names (STYLE §3), so the
    class name alone would collide."""

    def get_serializer_name(
        self, serializer: serializers.Serializer, direction: Direction
    ) -> str:
        qualname = type(serializer).__qualname__
        if "." in qualname:
            return qualname.replace(".", "").removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
