"""Request guards that hold for every URL."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

NUL_MESSAGE = (
    "The request contains a NUL character (0x00), which no field accepts: "
    "remove it and send the request again."
)
# A \u0000 escape in a JSON body (not an escaped backslash followed by "u0000").
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_FORM_NUL = re.compile(rb"%00|\x00")


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or _FORM_NUL.search(
        request.META.get("QUERY_STRING", "").encode()
    ):
        return True
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        # The form fields only: uploaded files are binary and may hold any byte.
        return any(
            "\x00" in value for _, values in request.POST.lists() for value in values
        )
    if content_type == "application/x-www-form-urlencoded":
        return bool(_FORM_NUL.search(request.body))
    if content_type.endswith("json") and not _over_memory_limit(request):
        return b"\x00" in request.body or bool(_JSON_NUL.search(request.body))
    return False


def _over_memory_limit(request: HttpRequest) -> bool:
    """A body ``request.body`` would refuse (RequestDataTooBig): DRF reads JSON from
    the stream with no such limit (a bulk create may be larger), so it is left to
    DRF, whose CharFields refuse NUL characters themselves."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return limit is not None and length > limit


class RejectNulMiddleware:
    """HTTP 400 for a NUL character in the path, the query string or a form or JSON
    field. PostgreSQL refuses NUL in text, so such a value would otherwise reach the
    database as a server error (issue 15): a code in the URL, a filter, a code typed
    into the coding form."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain")
        return self.get_response(request)
