from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from codesets import api as codesets_api
from encounters import api as encounters_api
from encounters.interop import api as interop_api
from encounters.reports import api as reports_api

api_v1 = [
    path(
        "encounters/",
        encounters_api.EncounterCollectionApi.as_view(),
        name="encounter-create",
    ),
    path(
        "encounters/bulk/",
        encounters_api.EncounterBulkCreateApi.as_view(),
        name="encounter-bulk-create",
    ),
    path(
        "encounters/<int:encounter_id>/",
        encounters_api.EncounterDetailApi.as_view(),
        name="encounter-detail",
    ),
    path(
        "encounters/<int:encounter_id>/submit/",
        encounters_api.EncounterSubmitApi.as_view(),
        name="encounter-submit",
    ),
    path(
        "encounters/<int:encounter_id>/checks/",
        encounters_api.EncounterChecksApi.as_view(),
        name="encounter-checks",
    ),
    path(
        "encounters/<int:encounter_id>/what-if/",
        encounters_api.EncounterWhatIfApi.as_view(),
        name="encounter-what-if",
    ),
    path("findings/", reports_api.FindingListApi.as_view(), name="finding-list"),
    path("reports/<slug:name>/", reports_api.ReportApi.as_view(), name="report"),
    path(
        "encounters/<int:encounter_id>/fhir-claim/",
        interop_api.EncounterFhirClaimApi.as_view(),
        name="encounter-fhir-claim",
    ),
    path(
        "encounters/<int:encounter_id>/x12-837/",
        interop_api.EncounterX12Api.as_view(),
        name="encounter-x12-837",
    ),
    path("fhir/", interop_api.FhirBundleApi.as_view(), name="fhir-bundle"),
    path("me/", accounts_api.MeApi.as_view(), name="me"),
    path("ping/", accounts_api.WorkerPingApi.as_view(), name="worker-ping"),
    path("codes/search/", codesets_api.CodeSearchApi.as_view(), name="code-search"),
    path(
        "codes/modifiers/",
        codesets_api.ModifierListApi.as_view(),
        name="modifier-list",
    ),
    # Before codes/<system>/<code>/, which would read "builder" as a code.
    path(
        "codes/icd10pcs/builder/",
        codesets_api.PcsBuilderApi.as_view(),
        name="pcs-builder",
    ),
    path(
        "codes/<str:system>/<str:code>/",
        codesets_api.CodeDetailApi.as_view(),
        name="code-detail",
    ),
]


def _favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Resolved per request: the static manifest may not exist when urls are imported.
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page says: no 404 in every log.
    path("favicon.ico", _favicon),
    path("", include("accounts.urls")),
    path("codesets/", include("codesets.urls")),
    path("encounters/", include("encounters.urls")),
    path("reports/", include("encounters.reports.urls")),
    path("claims/exports/", include("encounters.interop.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
]
