from django.urls import path

from encounters import views

app_name = "encounters"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("audit/", views.audit_queue, name="audit_queue"),
]
