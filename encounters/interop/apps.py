from django.apps import AppConfig


class InteropConfig(AppConfig):
    """FHIR in, FHIR Claim and X12 837 out, batch claim exports (issue 17)."""

    name = "encounters.interop"
    label = "interop"
    verbose_name = "Interoperability (FHIR, X12)"
