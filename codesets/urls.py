from django.urls import path

from codesets import views

app_name = "codesets"

urlpatterns = [
    path("", views.release_list, name="release_list"),
]
