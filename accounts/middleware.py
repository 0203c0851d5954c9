from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers


class HtmxLoginRedirectMiddleware:
    """After the idle logoff an HTMX fragment request would get the login page
    swapped into a panel; tell htmx to load the login page as a whole page instead."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "htmx", False) and response.status_code == 302:
            login_url = resolve_url(settings.LOGIN_URL)
            if response["Location"].startswith(login_url):
                redirect = HttpResponse(status=204)
                redirect["HX-Redirect"] = response["Location"]
                return redirect
        return response


class SessionIdleMiddleware:
    """Slide the idle logoff forward while the user is active, at most once a minute.

    Saving the session on every request would cost a database write per keystroke
    of the encoder's typeahead; a session touched within the last minute is left
    alone, so the logoff comes between SESSION_IDLE_SECONDS and that plus a minute
    after the last request.
    """

    TOUCH_EVERY_SECONDS = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.session_key
            and request.user.is_authenticated
        ):
            now = int(time.time())
            if now - int(session.get("_touched", 0)) >= self.TOUCH_EVERY_SECONDS:
                session["_touched"] = (
                    now  # marks the session modified: saved with a new expiry
                )
        return self.get_response(request)


class NoStoreMiddleware:
    """Pages and API answers may carry patient data: no browser or proxy keeps them.

    The rule is simple on purpose: every page answered to a signed-in user and
    every /api/ answer (token callers are known only inside DRF) is sent
    ``Cache-Control: no-store, private``. Static files and the anonymous login page
    are left cacheable."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.path.startswith("/api/") or (user and user.is_authenticated):
            add_never_cache_headers(response)
        return response
