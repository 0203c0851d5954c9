"""What interoperability keeps: which EHR encounter each of ours came from (the key
that makes a resent FHIR Bundle an update, not a copy), and the batch exports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from encounters.models import Encounter


class SourceEncounter(models.Model):
    """The EHR's identifier of an encounter that arrived as FHIR: the
    ``Encounter.identifier`` (system, value) of the Bundle, or the MRN and the
    start of the period when the EHR sent no identifier."""

    system = models.CharField(max_length=255)
    value = models.CharField(max_length=255)
    encounter = models.OneToOneField(
        Encounter, on_delete=models.CASCADE, related_name="source"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "value"], name="source_encounter_once"
            )
        ]

    def __str__(self) -> str:
        return f"Source of encounter {self.encounter_id}"


class ClaimExport(models.Model):
    """A batch of claims of the final encounters of a period, written to a file by a
    background job with progress, then downloaded."""

    class Format(models.TextChoices):
        X12 = "x12", "X12 837 (837I and 837P)"
        FHIR = "fhir", "FHIR Claim (NDJSON)"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    format = models.CharField(max_length=4, choices=Format.choices)
    date_from = models.DateField()
    date_to = models.DateField()
    facility = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(
        default=list, help_text="[[encounter id, reason], ...] not billable as coded"
    )
    file_name = models.CharField(max_length=200, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Claim export {self.id}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.done * 100 / self.total)
