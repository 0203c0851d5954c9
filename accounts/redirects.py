"""Where a redirect after signing in may go."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.urls import Resolver404, resolve


def page_answering_get(url: str) -> str:
    """``url`` if its path resolves to a view that answers GET, else the nearest
    parent path that does, else "". ``url`` is already checked to be same-site."""
    parts = urlsplit(url)
    path, query = parts.path, parts.query
    while path.startswith("/") and path != "/":
        try:
            match = resolve(path)
        except Resolver404:
            match = None
        if match is not None and _answers_get(match.func):
            return f"{path}?{query}" if query else path
        path = path.rstrip("/").rsplit("/", 1)[0] + "/"
        query = ""  # the parameters were the other page's
    return ""


def _answers_get(view: Callable[..., Any]) -> bool:
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return hasattr(view_class, "get")
    # Function views: the methods given to require_http_methods (require_POST…),
    # found in the closures along the decorators' __wrapped__ chain.
    func: Any = view
    while func is not None:
        methods = inspect.getclosurevars(func).nonlocals.get("request_method_list")
        if methods is not None:
            return "GET" in methods
        func = getattr(func, "__wrapped__", None)
    return True
