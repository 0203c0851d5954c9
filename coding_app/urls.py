from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from codesets import api as codesets_api

api_v1 = [
    path("me/", accounts_api.MeApi.as_view(), name="me"),
    path("ping/", accounts_api.WorkerPingApi.as_view(), name="worker-ping"),
    path("codes/search/", codesets_api.CodeSearchApi.as_view(), name="code-search"),
    path(
        "codes/<str:system>/<str:code>/",
        codesets_api.CodeDetailApi.as_view(),
        name="code-detail",
    ),
]

urlpatterns = [
    path("", include("accounts.urls")),
    path("codesets/", include("codesets.urls")),
    path("encounters/", include("encounters.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
]
