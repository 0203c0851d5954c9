from django.urls import path

from encounters.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:name>/", views.report, name="report"),
]
