from django.apps import AppConfig


class CodesetsConfig(AppConfig):
    name = "codesets"
    verbose_name = "Code sets"

    def ready(self) -> None:
        # The ICD-10-PCS Definitions explain the values the table builder offers.
        from codesets.pcs_builder import explainer_register
        from codesets.pcs_explain import pcs_definitions_notes

        explainer_register(pcs_definitions_notes)
