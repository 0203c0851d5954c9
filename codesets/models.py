"""Code systems, their releases, and the codes, notes and tables releases contain.

Rows are shared between releases: a code whose content (titles, billable flag,
place in the hierarchy) is the same in FY2025 and FY2026 is one row whose
``release_ids`` holds both releases. A yearly update therefore writes only what
changed, and "is this code valid on this date" is one indexed query: the
release in force on the date, then ``code = X AND release_ids @> ARRAY[release]``.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Cast, Concat, Least, Length
from django.utils import timezone


class System(models.TextChoices):
    ICD10CM = "icd10cm", "ICD-10-CM"
    ICD10PCS = "icd10pcs", "ICD-10-PCS"
    HCPCS = "hcpcs", "HCPCS Level II"
    CPT = "cpt", "CPT"


class Table(models.TextChoices):
    """Official tables released like code sets (versioned by effective date), not codes."""

    DRG_WEIGHTS = "drg_weights", "MS-DRG weights (IPPS Table 5)"


RELEASE_KINDS = [*System.choices, *Table.choices]


def release_kind_label(value: str) -> str:
    return dict(RELEASE_KINDS)[value]


def display_code(system: str, code: str) -> str:
    """A code as coders write it: ICD-10-CM gets its dot after the category."""
    if system == System.ICD10CM and len(code) > 3 and "-" not in code:
        return f"{code[:3]}.{code[3:]}"
    return code


def normalize_code(code: str) -> str:
    """What the official files store: no dot, no spaces, upper case."""
    return code.replace(".", "").replace(" ", "").strip().upper()


class ReleaseQuerySet(models.QuerySet["Release"]):
    def in_force(self) -> ReleaseQuerySet:
        return self.filter(state__in=[Release.State.ACTIVE, Release.State.RETIRED])

    def on(self, day: dt.date) -> ReleaseQuerySet:
        """The releases in force on ``day``: at most one per system."""
        return self.in_force().filter(
            Q(effective_to__isnull=True) | Q(effective_to__gte=day),
            effective_from__lte=day,
        )

    def covering(self, system: str, day: dt.date) -> ReleaseQuerySet:
        """The release of ``system`` in force on ``day`` (at most one)."""
        return self.on(day).filter(system=system)


class Release(models.Model):
    """One official edition of one code system, e.g. ICD-10-CM FY2026."""

    class State(models.TextChoices):
        IMPORTING = "importing", "Importing"
        FAILED = "failed", "Failed"
        STAGED = "staged", "Staged"
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"
        DISCARDED = "discarded", "Discarded"

    system = models.CharField(max_length=12, choices=RELEASE_KINDS)
    label = models.CharField(max_length=100)
    version = models.CharField(
        max_length=40, blank=True, help_text="What the file says of itself."
    )
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.IMPORTING
    )
    # Dates of service this release judges, both ends inclusive; a later release cuts
    # effective_to short when it is activated. Null effective_to: open-ended.
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True)
    base_release = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The release this one is compared with (and, for addenda, built from).",
    )
    source_file_name = models.CharField(max_length=255)
    source_sha256 = models.CharField(max_length=64)
    source_size = models.BigIntegerField(default=0)
    source_format = models.CharField(max_length=40, blank=True)
    source_path = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where the uploaded file is kept until imported.",
    )
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    imported_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    # Progress of the import job, written from its own connection while it runs.
    progress = models.PositiveSmallIntegerField(default=0)
    progress_message = models.CharField(max_length=200, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    code_count = models.IntegerField(default=0)
    billable_count = models.IntegerField(default=0)
    note_count = models.IntegerField(default=0)
    diff = models.JSONField(default=dict, blank=True)
    stated_counts = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)

    objects = ReleaseQuerySet.as_manager()

    class Meta:
        ordering = ["system", "-effective_from", "-created_at"]
        constraints = [
            # The same file imported twice is one release (failed/discarded attempts aside).
            models.UniqueConstraint(
                fields=["system", "source_sha256"],
                condition=~Q(state__in=["failed", "discarded"]),
                name="release_unique_file_per_system",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_from__isnull=False)
                & Q(effective_to__gte=models.F("effective_from")),
                name="release_effective_range_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(state__in=["active", "retired"])
                | Q(effective_from__isnull=False),
                name="release_in_force_has_start",
            ),
        ]
        indexes = [models.Index(fields=["system", "state", "effective_from"])]

    def __str__(self) -> str:
        return self.label

    @property
    def system_label(self) -> str:
        return release_kind_label(self.system)

    @property
    def is_table(self) -> bool:
        return self.system in Table.values

    @property
    def stalled_minutes(self) -> int:
        """Minutes an import has shown no progress (0 while it moves or is done)."""
        if self.state != self.State.IMPORTING:
            return 0
        last = self.progress_at or self.created_at
        idle = (timezone.now() - last).total_seconds() if last else 0
        return int(idle // 60) if idle >= 120 else 0

    @property
    def is_in_force(self) -> bool:
        return self.state in (self.State.ACTIVE, self.State.RETIRED)

    def covers(self, day: dt.date) -> bool:
        return (
            self.is_in_force
            and self.effective_from is not None
            and self.effective_from <= day
            and (self.effective_to is None or day <= self.effective_to)
        )


class ReleasedRow(models.Model):
    """A row that belongs to every release listed in ``release_ids``.

    ``content_hash`` identifies the content; a new release that carries the same
    content adds its id to the existing row instead of copying it.
    """

    system = models.CharField(max_length=10, choices=System.choices)
    code = models.CharField(max_length=16)
    content_hash = models.UUIDField()
    release_ids = ArrayField(models.BigIntegerField(), default=list)

    class Meta:
        abstract = True


# One rank marker per code: "xbN" for a billable code, "xhN" for a header, N = title
# length // 20 (at most 9). codesets/search.py asks the GIN index for short billable
# titles first when a query matches too many codes to sort them all.
RANK_MARKERS = Concat(
    Case(When(billable=True, then=Value("xb")), default=Value("xh")),
    Cast(Least(Length("long_title") / Value(20), Value(9)), models.TextField()),
    output_field=models.TextField(),
)


class Code(ReleasedRow):
    class Kind(models.TextChoices):
        CHAPTER = "chapter", "Chapter"
        BLOCK = "block", "Block"
        CATEGORY = "category", "Category"
        CODE = "code", "Code"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    billable = models.BooleanField()
    short_title = models.TextField()
    long_title = models.TextField()
    parent = models.CharField(max_length=16, blank=True)
    chapter = models.CharField(max_length=4, blank=True)
    block = models.CharField(max_length=16, blank=True)
    # Inclusion terms standing on the code, joined: searched with the title.
    search_terms = models.TextField(blank=True, default="")
    # English stems (diabetes ~ diabetic) and the plain words (so that a typed prefix
    # longer than the stem, "excisio", still matches "excision").
    # English stems, plain words (a typed prefix longer than the stem still matches)
    # and the rank marker (RANK_MARKERS).
    search_vector = models.GeneratedField(
        expression=SearchVector("long_title", weight="A", config="english")
        + SearchVector("search_terms", weight="B", config="english")
        + SearchVector("long_title", weight="A", config="simple")
        + SearchVector("search_terms", weight="B", config="simple")
        + SearchVector(RANK_MARKERS, weight="D", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "code", "content_hash"], name="code_unique_content"
            ),
        ]
        indexes = [
            models.Index(fields=["system", "code"], name="code_system_code"),
            # Code-prefix search ("E11", "e116") without depending on the collation.
            models.Index(
                OpClass("code", name="varchar_pattern_ops"), name="code_code_prefix"
            ),
            # No GIN index on release_ids here: release membership is dense (every
            # row is in one release or more), and such an index made the planner build
            # a 180k-row bitmap for every search. Whole-release reads scan the table.
            GinIndex(fields=["search_vector"], name="code_search_vector"),
        ]

    def __str__(self) -> str:
        return f"{self.display} {self.long_title}"

    @property
    def display(self) -> str:
        return display_code(self.system, self.code)


class Note(ReleasedRow):
    """An instructional note standing on one node (applies to all below it)."""

    kind = models.CharField(max_length=30)
    seq = models.IntegerField()
    text = models.TextField()
    character = models.CharField(max_length=1, blank=True)

    class Meta:
        ordering = ["code", "kind", "seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "code", "content_hash"], name="note_unique_content"
            ),
        ]
        indexes = [
            models.Index(fields=["system", "code"], name="note_system_code"),
            GinIndex(fields=["release_ids"], name="note_release_ids"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.kind}: {self.text[:60]}"


class PcsTable(ReleasedRow):
    """An ICD-10-PCS table: axes 1-3 and its rows of axes 4-7, as the tables file has them."""

    data = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "code", "content_hash"],
                name="pcstable_unique_content",
            ),
        ]
        indexes = [
            models.Index(fields=["system", "code"], name="pcstable_system_code"),
            GinIndex(fields=["release_ids"], name="pcstable_release_ids"),
        ]

    def __str__(self) -> str:
        return f"PCS table {self.code}"


class DrgWeight(models.Model):
    """One MS-DRG of an IPPS Table 5 release: relative weight and mean lengths of stay."""

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="drg_weights"
    )
    drg = models.PositiveSmallIntegerField()
    mdc = models.CharField(max_length=4, blank=True)
    type = models.CharField(max_length=4, blank=True)
    title = models.TextField()
    weight = models.DecimalField(
        max_digits=8, decimal_places=4, help_text="Relative weight, 10% cap applied."
    )
    gmlos = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    amlos = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    post_acute = models.BooleanField(default=False)
    special_pay = models.BooleanField(default=False)

    class Meta:
        ordering = ["drg"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "drg"], name="drgweight_unique_drg"
            )
        ]

    def __str__(self) -> str:
        return f"MS-DRG {self.drg:03d} {self.weight}"
