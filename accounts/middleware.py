from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.cache import add_never_cache_headers

from accounts.sessions import session_expires_in, session_is_idle, session_touch


class HtmxLoginRedirectMiddleware:
    """After the idle logoff an HTMX fragment request would get the login page
    swapped into a panel; tell htmx to load the login page as a whole page instead,
    coming back afterwards to the page the user was on (HX-Current-URL), not to the
    fragment's URL (a typeahead, a POST-only recheck)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if htmx and response.status_code == 302:
            login_url = resolve_url(settings.LOGIN_URL)
            if response["Location"].startswith(login_url):
                location = response["Location"]
                page = htmx.current_url_abs_path
                if page:
                    location = f"{login_url}?{urlencode({REDIRECT_FIELD_NAME: page})}"
                redirect = HttpResponse(status=204)
                redirect["HX-Redirect"] = location
                return redirect
        return response


class SessionIdleMiddleware:
    """The idle logoff, kept by the server (accounts.sessions).

    A session idle for SESSION_IDLE_SECONDS is ended here, whatever its cookie age;
    every view (except those marked ``keeps_idle_clock``: the page's own "how long
    is left?" question) slides it forward, at most once a minute. Responses to a
    signed-in user say how long is left (X-Session-Expires-In), which the page's
    countdown (static/js/session.js) follows.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._signed_in(request) and session_is_idle(request.session):
            logout(request)
        response = self.get_response(request)
        if self._signed_in(request):
            response["X-Session-Expires-In"] = str(session_expires_in(request.session))
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> None:
        if self._signed_in(request) and not getattr(
            view_func, "keeps_idle_clock", False
        ):
            session_touch(request.session)

    @staticmethod
    def _signed_in(request: HttpRequest) -> bool:
        session = getattr(request, "session", None)
        user = getattr(request, "user", None)
        return bool(
            session is not None
            and session.session_key
            and user is not None
            and user.is_authenticated
        )


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
