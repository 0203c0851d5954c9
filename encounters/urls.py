from django.urls import path

from encounters import audit_views, views

app_name = "encounters"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/next/", views.claim_next, name="claim_next"),
    path("<int:encounter_id>/", views.detail, name="detail"),
    path("<int:encounter_id>/claim/", views.claim, name="claim"),
    path("<int:encounter_id>/coding/", views.coding, name="coding"),
    path("<int:encounter_id>/suggest/", views.typeahead, name="typeahead"),
    path("audit/", audit_views.audit_queue, name="audit_queue"),
    path("audit/batches/new/", audit_views.batch_new, name="batch_new"),
    path(
        "audit/batches/<int:batch_id>/", audit_views.batch_detail, name="batch_detail"
    ),
    path(
        "audit/batches/<int:batch_id>/retry/",
        audit_views.batch_retry,
        name="batch_retry",
    ),
    path(
        "audit/batches/<int:batch_id>/stop/",
        audit_views.batch_stop,
        name="batch_stop",
    ),
    path(
        "findings/<int:finding_id>/decide/",
        audit_views.finding_decide,
        name="finding_decide",
    ),
    path("<int:encounter_id>/review/", audit_views.review_decide, name="review_decide"),
    path("<int:encounter_id>/reassign/", audit_views.reassign, name="reassign"),
]
