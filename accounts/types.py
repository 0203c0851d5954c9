from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view that requires sign-in (``permission_required``).

    ``htmx`` is set on every request by ``django_htmx``'s middleware.
    """

    user: User
    htmx: HtmxDetails


class AuthenticatedRequest(Request):
    """The DRF request of an API whose permission classes require sign-in
    (``IsAuthenticated``, the default, or ``api_permission``)."""

    user: User
