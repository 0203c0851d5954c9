from django.apps import AppConfig


class CodesetsConfig(AppConfig):
    name = "codesets"
    verbose_name = "Code sets"
