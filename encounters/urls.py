from django.urls import path

from encounters import views

app_name = "encounters"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/next/", views.claim_next, name="claim_next"),
    path("<int:encounter_id>/", views.detail, name="detail"),
    path("<int:encounter_id>/claim/", views.claim, name="claim"),
    path("<int:encounter_id>/coding/", views.coding, name="coding"),
    path("<int:encounter_id>/suggest/", views.typeahead, name="typeahead"),
    path("audit/", views.audit_queue, name="audit_queue"),
]
