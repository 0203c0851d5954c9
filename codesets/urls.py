from django.urls import path

from codesets import views

app_name = "codesets"

urlpatterns = [
    path("", views.release_list, name="release_list"),
    path("encoder/", views.encoder, name="encoder"),
    path("encoder/pcs-builder/", views.pcs_builder, name="pcs_builder"),
    path("encoder/accept/", views.suggestion_accept, name="suggestion_accept"),
    path("encoder/<str:system>/<str:code>/", views.code_panel, name="code_panel"),
    path("import/", views.release_upload, name="release_upload"),
    path("payment-rates/", views.payment_rates, name="payment_rates"),
    path("releases/<int:release_id>/", views.release_detail, name="release_detail"),
    path(
        "releases/<int:release_id>/activate/",
        views.release_activate,
        name="release_activate",
    ),
    path(
        "releases/<int:release_id>/retry/",
        views.release_retry,
        name="release_retry",
    ),
    path(
        "releases/<int:release_id>/discard/",
        views.release_discard,
        name="release_discard",
    ),
]
