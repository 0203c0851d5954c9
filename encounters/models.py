"""Patients, encounters, their documents, the codes assigned, and the coding history.

Codes are stored as the official files carry them (no dot, upper case), with the
verdict of the check made against the release in force on the date of service:
a code a feed sends that is not valid on that date is kept and flagged, never
dropped (the audit decides what blocks billing).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from codesets.models import display_code

if TYPE_CHECKING:
    from accounts.models import User


class Patient(models.Model):
    class Sex(models.TextChoices):
        MALE = "M", "Male"
        FEMALE = "F", "Female"
        UNKNOWN = "U", "Unknown"

    mrn = models.CharField("MRN", max_length=40, unique=True)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    birth_date = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Patient {self.id}"  # never PHI in logs or admin titles

    @property
    def name(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    def age_on(self, day: dt.date) -> int:
        years = day.year - self.birth_date.year
        if (day.month, day.day) < (self.birth_date.month, self.birth_date.day):
            years -= 1
        return years


# The code systems a procedure line may use, and which of them a claim type takes.
PROCEDURE_SYSTEMS = [("icd10pcs", "ICD-10-PCS"), ("cpt", "CPT"), ("hcpcs", "HCPCS")]


def procedure_systems_for(encounter_type: str) -> list[str]:
    """ICD-10-PCS for an inpatient facility claim; CPT/HCPCS otherwise."""
    return ["icd10pcs"] if encounter_type == "inpatient" else ["cpt", "hcpcs"]


class EncounterQuerySet(models.QuerySet["Encounter"]):
    def open(self) -> EncounterQuerySet:
        """Still with a coder: not yet submitted, or sent back."""
        return self.filter(
            status__in=[
                Encounter.Status.READY,
                Encounter.Status.IN_PROGRESS,
                Encounter.Status.RETURNED,
            ]
        )

    def for_coder_queue(self, user: User) -> EncounterQuerySet:
        """A coder's queue: their own open encounters and the unassigned ready ones."""
        return self.open().filter(
            Q(assigned_to=user) | Q(assigned_to__isnull=True, status="ready")
        )

    def locked(self, encounter_id: int) -> Encounter:
        """The encounter under a row lock (``SELECT ... FOR UPDATE``) until the
        transaction ends: every change of coding or status starts here."""
        return self.select_for_update().get(id=encounter_id)


class Encounter(models.Model):
    """One patient visit or stay, and its coding."""

    class Type(models.TextChoices):
        INPATIENT = "inpatient", "Inpatient"
        OUTPATIENT = "outpatient", "Outpatient"
        EMERGENCY = "emergency", "Emergency"
        PROFESSIONAL = "professional", "Professional"

    class Status(models.TextChoices):
        READY = "ready", "Ready to code"
        IN_PROGRESS = "in_progress", "In progress"
        SUBMITTED = "submitted", "Submitted (auditing)"
        RETURNED = "returned", "Returned to coder"
        IN_REVIEW = "in_review", "In supervisor review"
        FINAL = "final", "Final"

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="encounters"
    )
    type = models.CharField(max_length=12, choices=Type.choices)
    facility = models.CharField(max_length=100)
    admit_date = models.DateField(help_text="Admission, or the date of service.")
    discharge_date = models.DateField(
        null=True,
        blank=True,
        help_text="Inpatient discharge; empty for one-day visits.",
    )
    discharge_status = models.CharField(
        max_length=2, blank=True, help_text="UB-04 patient discharge status, e.g. 01."
    )
    attending_provider = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.READY
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assigned_encounters",
    )
    # Optimistic locking: every change of coding or status bumps it; a save that
    # carries an older version is refused (HTTP 409) instead of overwriting.
    version = models.PositiveIntegerField(default=1)
    # The MS-DRG stored on submit (encounters.drg.DrgResult.as_dict()); the live
    # figure on the coding form is recomputed, not read from here.
    drg = models.JSONField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = EncounterQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["status", "assigned_to"]),
            models.Index(fields=["discharge_date"]),
            # The facility filters of the queue, audit and report pages list the
            # facilities by skipping through this index (selectors.facility_list).
            models.Index(fields=["facility"], name="encounter_facility"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(discharge_date__isnull=True)
                | Q(discharge_date__gte=models.F("admit_date")),
                name="encounter_discharge_after_admit",
            )
        ]

    def __str__(self) -> str:
        return f"Encounter {self.id}"

    @property
    def date_of_service(self) -> dt.date:
        """The date codes are judged on: the discharge date for a stay."""
        return self.discharge_date or self.admit_date

    @property
    def length_of_stay(self) -> int | None:
        """Days from admission to discharge (a same-day stay is 0); None before
        discharge and for visits without one."""
        if self.discharge_date is None:
            return None
        return (self.discharge_date - self.admit_date).days

    @property
    def discharge_status_label(self) -> str:
        """ "03 — Discharged/transferred to a skilled nursing facility ..." (UB-04)."""
        from encounters.ub04 import discharge_status_label

        return discharge_status_label(self.discharge_status)

    @property
    def is_inpatient(self) -> bool:
        return self.type == self.Type.INPATIENT

    @property
    def procedure_systems(self) -> list[str]:
        return procedure_systems_for(self.type)

    def age_in_days(self, today: dt.date) -> int:
        return (today - self.date_of_service).days

    def bump(self, **fields: Any) -> None:
        """Set ``fields`` and move to the next version (optimistic locking), in one
        UPDATE. Call it on a row from ``Encounter.objects.locked``."""
        for name, value in fields.items():
            setattr(self, name, value)
        self.version += 1
        self.updated_at = timezone.now()
        self.save(update_fields=[*fields, "version", "updated_at"])

    @property
    def is_editable(self) -> bool:
        return self.status in (
            self.Status.READY,
            self.Status.IN_PROGRESS,
            self.Status.RETURNED,
        )


class Document(models.Model):
    class Kind(models.TextChoices):
        DISCHARGE_SUMMARY = "discharge_summary", "Discharge summary"
        HISTORY_PHYSICAL = "history_physical", "History and physical"
        OPERATIVE_NOTE = "operative_note", "Operative note"
        PROGRESS_NOTE = "progress_note", "Progress note"
        CONSULTATION = "consultation", "Consultation"
        EMERGENCY_NOTE = "emergency_note", "Emergency department note"
        OTHER = "other", "Other"

    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    title = models.CharField(max_length=200, blank=True)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of encounter {self.encounter_id}"


class CodeCheck(models.Model):
    """What the check against the release in force on the date of service said."""

    valid = models.BooleanField(default=True)
    message = models.CharField(max_length=300, blank=True)
    title = models.CharField(max_length=400, blank=True)

    class Meta:
        abstract = True


class Diagnosis(CodeCheck):
    class Poa(models.TextChoices):
        YES = "Y", "Y: present at admission"
        NO = "N", "N: not present at admission"
        UNKNOWN = "U", "U: documentation insufficient"
        CLINICALLY_UNDETERMINED = "W", "W: clinically undetermined"
        EXEMPT = "1", "1: exempt from POA reporting"

    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="diagnoses"
    )
    sequence = models.PositiveSmallIntegerField(
        help_text="1 = principal / first-listed"
    )
    code = models.CharField(max_length=8)
    poa = models.CharField(max_length=1, choices=Poa.choices, blank=True)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "sequence"], name="diagnosis_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        return display_code("icd10cm", self.code)


class Procedure(CodeCheck):
    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="procedures"
    )
    sequence = models.PositiveSmallIntegerField()
    system = models.CharField(max_length=8)
    code = models.CharField(max_length=8)
    date = models.DateField(null=True, blank=True)
    modifiers = ArrayField(models.CharField(max_length=2), size=4, default=list)
    units = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "sequence"], name="procedure_sequence_unique"
            )
        ]

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        return display_code(self.system, self.code)


class CodingChange(models.Model):
    """One change of an encounter's codes or status: who, when, before and after.

    Rows are only ever inserted: a database trigger (migration 0002) refuses
    UPDATE and DELETE, so not even a superuser with a SQL prompt through Django
    can rewrite the history by accident.
    """

    class Action(models.TextChoices):
        CREATED = "created", "Created"
        CLAIMED = "claimed", "Claimed"
        SAVED = "saved", "Codes saved"
        SUBMITTED = "submitted", "Submitted"
        RETURNED = "returned", "Returned to coder"
        CORRECTED = "corrected", "Corrected by supervisor"
        FINALIZED = "finalized", "Final"
        REASSIGNED = "reassigned", "Reassigned"
        AUDITED = "audited", "Audited"
        ACCEPTED = "accepted", "Accepted by supervisor"
        FINDING = "finding", "Finding reviewed"

    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, related_name="changes"
    )
    action = models.CharField(max_length=12, choices=Action.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(help_text="The encounter's version after.")
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    comment = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A submit: when this pass of coding began (the latest claim, "
        "reassignment or return before it), written with the row. Empty on rows "
        "written before 2026-12-03, whose start the productivity report finds in "
        "the history instead.",
    )
    encounter_type = models.CharField(
        max_length=12,
        choices=Encounter.Type.choices,
        blank=True,
        default="",
        # In the table too: the coding save's history insert (BUMP_AND_RECORD_SQL)
        # and other SQL writers name only the columns they fill.
        db_default="",
        help_text="A submit: the encounter's type when it was submitted, written with "
        "the row, so the productivity report counts submits by type without reading "
        "the encounters. Empty on rows written before 2026-12-03, whose type the "
        "report reads from the encounter instead.",
    )

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["encounter", "changed_at"]),
            # The reports read the submits or returns of a period among the whole
            # history (mostly saves): by action and time, not by a scan of every row.
            models.Index(
                fields=["action", "changed_at"], name="codingchange_action_at"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} (encounter {self.encounter_id}, v{self.version})"


class ChartAccess(models.Model):
    """Each opening of a chart: who, when, which encounter (HIPAA access log)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, related_name="accesses"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    via = models.CharField(max_length=10, default="web")

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["encounter", "opened_at"])]

    def __str__(self) -> str:
        return f"Encounter {self.encounter_id} opened by user {self.user_id}"


class Finding(models.Model):
    """One result of one audit rule on one encounter (DESIGN.md "Audit rule ids")."""

    class Severity(models.TextChoices):
        ERROR = "error", "Error"
        WARNING = "warning", "Warning"
        INFO = "info", "Info"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"
        CORRECTED = "corrected", "Corrected"

    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="findings"
    )
    run = models.ForeignKey(
        "AuditRun", on_delete=models.CASCADE, related_name="findings"
    )
    rule = models.CharField(max_length=40)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    message = models.CharField(max_length=500)
    codes = ArrayField(models.CharField(max_length=10), default=list)
    reference = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=500, blank=True)
    # Fingerprint of the coding the finding was last raised on (engine.coding_key):
    # a decision stands while it is the same.
    coding = models.CharField(max_length=16, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)  # first raised

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "severity"]),
            models.Index(fields=["rule", "status"]),
        ]
        constraints = [
            # One finding per encounter, rule and codes: a re-audit refreshes it
            # (run = the audit that raised it last), never adds a copy.
            models.UniqueConstraint(
                fields=["encounter", "rule", "codes"], name="finding_once_per_encounter"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} on encounter {self.encounter_id}"


class AuditRun(models.Model):
    """One audit of one encounter at one version: the idempotency key of the job."""

    class Trigger(models.TextChoices):
        SUBMIT = "submit", "Submitted"
        BATCH = "batch", "Batch audit"
        RELEASE = "release", "New code-set release"

    encounter = models.ForeignKey(
        Encounter, on_delete=models.CASCADE, related_name="audit_runs"
    )
    encounter_version = models.PositiveIntegerField()
    trigger = models.CharField(max_length=8, choices=Trigger.choices)
    batch = models.ForeignKey(
        "AuditBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sampled = models.BooleanField(default=False)
    routed_to = models.CharField(max_length=12, blank=True)
    drg = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "encounter_version", "trigger", "batch"],
                name="auditrun_once",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"Audit of encounter {self.encounter_id} v{self.encounter_version}"


class AuditBatch(models.Model):
    """Audit many encounters in one background job, with progress."""

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
    reason = models.CharField(max_length=300)
    trigger = models.CharField(
        max_length=8, choices=AuditRun.Trigger.choices, default=AuditRun.Trigger.BATCH
    )
    encounter_ids = ArrayField(models.BigIntegerField(), default=list)
    done = models.PositiveIntegerField(default=0)
    findings = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written by the running job after every chunk (and when queued): the sweep of
    # jobs.services restarts a batch whose worker died (its claim is gone and this
    # is older than JOB_STALE_SECONDS), and fails it after JOB_MAX_ATTEMPTS deaths.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Audit batch {self.id}"

    @property
    def total(self) -> int:
        return len(self.encounter_ids)

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(self.done * 100 / self.total)


class AuditSampleRate(models.Model):
    """How often a clean encounter of this coder still goes to a supervisor."""

    coder = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    rate = models.DecimalField(max_digits=4, decimal_places=3)

    def __str__(self) -> str:
        return f"Sample rate {self.rate} for user {self.coder_id}"


class DrgShift(models.Model):
    """A supervisor's correction that changed the MS-DRG: from the DRG the encounter
    had (the coder's, at the first correction after a submit) to the corrected one,
    with the weights and estimated payments of both as they stood at that moment.

    Only ever inserted (``encounter_review_correct``); a database trigger (migration
    0005) refuses UPDATE and DELETE, as for the coding history.
    """

    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, related_name="drg_shifts"
    )
    change = models.OneToOneField(
        CodingChange, on_delete=models.PROTECT, related_name="drg_shift"
    )
    from_drg = models.JSONField(help_text="DrgResult.as_dict() before")
    to_drg = models.JSONField(help_text="DrgResult.as_dict() after")
    from_payment = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    to_payment = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True
    )
    reason = models.CharField(max_length=500, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"DRG shift of encounter {self.encounter_id}"
