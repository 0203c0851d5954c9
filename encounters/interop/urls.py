from django.urls import path

from encounters.interop import views

app_name = "interop"

urlpatterns = [
    path("", views.export_list, name="exports"),
    path("<int:export_id>/", views.export_detail, name="export_detail"),
    path("<int:export_id>/download/", views.export_download, name="export_download"),
]
