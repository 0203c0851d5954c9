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
from django.db.models import Case, Func, Q, Value, When
from django.db.models.functions import Cast, Concat, Least, Length, Lower, LPad
from django.utils import timezone


class System(models.TextChoices):
    ICD10CM = "icd10cm", "ICD-10-CM"
    ICD10PCS = "icd10pcs", "ICD-10-PCS"
    HCPCS = "hcpcs", "HCPCS Level II"
    CPT = "cpt", "CPT"


class Table(models.TextChoices):
    """Official tables released like code sets (versioned by effective date), not codes."""

    DRG_WEIGHTS = "drg_weights", "MS-DRG weights (IPPS Table 5)"
    NCCI_PTP = "ncci_ptp", "NCCI PTP edits"
    MUE = "mue", "NCCI MUE table"
    # Imported "under icd10cm" (DESIGN.md) but a kind of its own: an index table never
    # replaces the tabular release, and code search and coverage leave it out.
    ICD10CM_INDEX = "icd10cm_index", "ICD-10-CM index table"
    # CMS's list of ICD-10-CM codes exempt from present-on-admission reporting, one
    # release per fiscal year (PoaExemptCode; selectors.poa_exempt_on).
    POA_EXEMPT = "poa_exempt", "POA-exempt codes (CMS)"
    # The ICD-10-PCS Index and Definitions: they help the PCS search (codesets/
    # pcs_lookup.py) find and explain codes of the tables release; they judge nothing.
    ICD10PCS_INDEX = "icd10pcs_index", "ICD-10-PCS Index"
    ICD10PCS_DEFINITIONS = "icd10pcs_definitions", "ICD-10-PCS Definitions"


RELEASE_KINDS = [*System.choices, *Table.choices]

# Tables CMS/CDC publish in several variants that are in force side by side (the
# practitioner and the hospital PTP edits). Releases of one kind *and* variant
# succeed each other: activation, the base release and "in force on a day" go by both.
TABLE_VARIANTS: dict[str, dict[str, str]] = {
    Table.NCCI_PTP: {"practitioner": "practitioner", "hospital": "hospital outpatient"},
    Table.MUE: {
        "practitioner": "practitioner services",
        "facility": "outpatient hospital services",
        "dme": "DME supplier services",
    },
    Table.ICD10CM_INDEX: {
        "drug": "Table of Drugs and Chemicals",
        "neoplasm": "Neoplasm Table",
        "external_cause": "External Cause Index",
        "disease": "Index to Diseases and Injuries",
    },
}


def release_kind_label(value: str) -> str:
    return dict(RELEASE_KINDS)[value]


def is_cpt_modifier(modifier: str) -> bool:
    """Two digits (25, 59, 76...): a CPT (Level I) modifier, part of the AMA's code
    set, not of the HCPCS Level II modifier list; judged only where a CPT file with
    modifiers is loaded, never against the HCPCS list."""
    return len(modifier) == 2 and modifier.isdigit()


def display_code(system: str, code: str) -> str:
    """A code as coders write it: ICD-10-CM gets its dot after the category."""
    if system == System.ICD10CM and len(code) > 3 and "-" not in code:
        return f"{code[:3]}.{code[3:]}"
    return code


def display_index_code(code: str) -> str:
    """An ICD-10-CM index code as the index prints it: C34.9-, T39.1X5, T36-T50."""
    if not code:
        return ""
    if "-" in code.rstrip("-"):
        return "-".join(display_code(System.ICD10CM, part) for part in code.split("-"))
    plain = code.rstrip("-")
    return display_code(System.ICD10CM, plain) + code[len(plain) :]


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

    system = models.CharField(max_length=24, choices=RELEASE_KINDS)
    variant = models.CharField(
        max_length=20,
        blank=True,
        help_text="Which table of its kind (TABLE_VARIANTS), e.g. practitioner PTP edits; empty for code systems.",
    )
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
    # How many times an import job started on this release (a worker that died
    # mid-import counts; jobs.services fails the release after JOB_MAX_ATTEMPTS).
    attempts = models.PositiveSmallIntegerField(default=0)
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
    def variant_label(self) -> str:
        return TABLE_VARIANTS.get(self.system, {}).get(self.variant, self.variant)

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

    @property
    def standing(self) -> str:
        """What the release does for dates of service, in words. The state alone
        misleads: a "retired" release (a later one was activated) still judges every
        date of service in its range, so it is called retired only when it covers
        none."""
        if not self.is_in_force:
            return self.get_state_display()
        start, end = self.effective_from, self.effective_to
        if start is None or (end is not None and end < start):
            return "Retired"
        today = timezone.localdate()
        if start > today:
            return f"Takes effect {start:%Y-%m-%d}"
        if self.covers(today):
            return "In force"
        span = f"In force for dates of service {start:%Y-%m-%d} to {end:%Y-%m-%d}"
        if self.state == self.State.RETIRED:
            return f"{span}; superseded for new dates"
        return span


class ReleasedRow(models.Model):
    """A row that belongs to every release listed in ``release_ids``.

    ``content_hash`` identifies the content; a new release that carries the same
    content adds its id to the existing row instead of copying it.
    """

    system = models.CharField(max_length=10, choices=System)
    code = models.CharField(max_length=16)
    content_hash = models.UUIDField()
    release_ids = ArrayField(models.BigIntegerField(), default=list)

    class Meta:
        abstract = True


# One rank marker per code: "xbN" for a billable code, "xhN" for a header, N = title
# length // 20 (at most 9). No longer asked by codesets/search.py (search_ranked
# replaced them, issue 5); still part of search_vector until a migration drops them.
RANK_MARKERS = Concat(
    Case(When(billable=True, then=Value("xb")), default=Value("xh")),
    Cast(Least(Length("long_title") / Value(20), Value(9)), models.TextField()),
    output_field=models.TextField(),
)


# The rank tag of a code in Code.search_ranked: "bNN" for a billable code, NN = title
# length // RANK_TAG_WIDTH (at most RANK_TAG_LAST), "h" for every other row. The code
# search asks the tags in this order (codesets/search.py: RANK_TAGS), which is the
# order of its results: billable first, shortest title first.
RANK_TAG_WIDTH = 4
RANK_TAG_LAST = 30
RANK_TAG = Case(
    When(
        billable=True,
        then=Concat(
            Value("b"),
            LPad(
                Cast(
                    Least(
                        Length("long_title") / Value(RANK_TAG_WIDTH),
                        Value(RANK_TAG_LAST),
                    ),
                    models.TextField(),
                ),
                2,
                Value("0"),
            ),
        ),
    ),
    default=Value("h"),
    output_field=models.TextField(),
)
# Every lexeme of search_vector's words (title and inclusion terms, english and
# simple), prefixed with the row's rank tag: 'diabet' of a billable title of 43
# characters is 'b10diabet'. A typed prefix asked with a tag ('b10diab':*) finds the
# codes of that tag only, so the GIN index reads the posting lists of one slice of
# the order instead of every match of a common word. Positions and weights are
# stripped (not used by the search); the text round trip is immutable, as a
# generated column needs.
RANKED_WORDS = Cast(
    Func(
        Cast(
            Func(
                SearchVector("long_title", config="english")
                + SearchVector("search_terms", config="english")
                + SearchVector("long_title", config="simple")
                + SearchVector("search_terms", config="simple"),
                function="strip",
                output_field=SearchVectorField(),
            ),
            models.TextField(),
        ),
        Value("(^| )'"),
        Concat(Value("\\1'"), RANK_TAG, output_field=models.TextField()),
        Value("g"),
        function="regexp_replace",
        output_field=models.TextField(),
    ),
    SearchVectorField(),
)


class Code(ReleasedRow):
    class Kind(models.TextChoices):
        CHAPTER = "chapter", "Chapter"
        BLOCK = "block", "Block"
        CATEGORY = "category", "Category"
        CODE = "code", "Code"
        # HCPCS modifiers (two characters, e.g. "LT"): a list of their own, never a
        # claim line's code; code search leaves them out, selectors.modifier_list
        # lists them.
        MODIFIER = "modifier", "Modifier"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    billable = models.BooleanField()
    # Per-code validity where the file carries it (HCPCS: added and termination
    # dates; CPT: the simple CSV's columns), both ends inclusive, null = unbounded.
    # A code is valid on a date of service only if the release in force has it and
    # the date falls in this range (selectors.code_on, the search SQL, code_detail).
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
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
    # The same words prefixed with the rank tag (RANKED_WORDS): what the code search
    # asks, one tag after another, best first.
    search_ranked = models.GeneratedField(
        expression=RANKED_WORDS, output_field=SearchVectorField(), db_persist=True
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
            # No pending list (fastupdate off): an import writes these entries into
            # the index itself, so no search ever scans a long pending list (the
            # import cleans only code_search_vector's).
            GinIndex(
                fields=["search_ranked"], name="code_search_ranked", fastupdate=False
            ),
            # A term's default code (issue 12, codesets/search.py: HEAD_SQL): titles
            # that read as the term ("pneumonia, ...", "unspecified appendicitis").
            models.Index(
                OpClass(Lower("long_title"), name="text_pattern_ops"),
                name="code_title_lower_prefix",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display} {self.long_title}"

    @property
    def display(self) -> str:
        return display_code(self.system, self.code)

    def in_validity_range(self, day: dt.date) -> bool:
        """The per-code dates allow ``day`` (release membership is checked apart)."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


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
            # Inclusion terms that read as the term typed ("hypertension (arterial)
            # ...", "diabetes NOS"): codesets/search.py, HEAD_SQL.
            models.Index(
                OpClass(Lower("text"), name="text_pattern_ops"),
                name="note_term_lower_prefix",
                condition=Q(kind__in=["includes", "inclusion_term"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.kind}: {self.text[:60]}"


class AcceptedSuggestion(models.Model):
    """A code a coder took from the suggestions for a query (issue 12), counted per
    normalized query (query_words.normalized_query) and code: the code search reads
    the counts as a learned prior, so what this site's coders pick comes up first."""

    system = models.CharField(max_length=10, choices=System.choices)
    query = models.CharField(max_length=200)
    code = models.CharField(max_length=16)  # undotted
    count = models.PositiveIntegerField(default=0)
    last_accepted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["query", "system", "code"], name="accepted_suggestion_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query!r} -> {self.system} {self.code} ({self.count})"


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


class PtpEdit(models.Model):
    """One NCCI procedure-to-procedure edit of a PTP release (practitioner or hospital).

    Billed together on one date of service, the column 2 code is denied unless the
    modifier indicator allows an NCCI-associated modifier. The edit applies to dates
    of service from ``effective`` up to the day before ``deletion``
    (``selectors.ptp_pairs_on``).
    """

    class ModifierIndicator(models.TextChoices):
        NOT_ALLOWED = "0", "0: never bypassed"
        ALLOWED = "1", "1: an NCCI-associated modifier may bypass"
        NOT_APPLICABLE = "9", "9: not applicable (deleted back to its start)"

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="ptp_edits"
    )
    column1 = models.CharField(max_length=5)
    column2 = models.CharField(max_length=5)
    effective = models.DateField()
    deletion = models.DateField(null=True, blank=True)
    modifier_indicator = models.CharField(
        max_length=1, choices=ModifierIndicator.choices
    )
    existed_before_1996 = models.BooleanField(default=False)
    rationale = models.TextField(blank=True)

    class Meta:
        ordering = ["column1", "column2", "effective"]
        constraints = [
            # Also the index of ptp_pairs_on: release, then both codes of the pair.
            models.UniqueConstraint(
                fields=["release", "column1", "column2", "effective"],
                name="ptpedit_unique_key",
            )
        ]
        # The release page filters by either column.
        indexes = [models.Index(fields=["release", "column2"], name="ptpedit_column2")]

    def __str__(self) -> str:
        return f"{self.column1}/{self.column2} from {self.effective}"


class MueEdit(models.Model):
    """One Medically Unlikely Edit of an MUE release: the most units of a code."""

    class AdjudicationIndicator(models.IntegerChoices):
        LINE = 1, "1 Line Edit"
        DOS_POLICY = 2, "2 Date of Service Edit: Policy"
        DOS_CLINICAL = 3, "3 Date of Service Edit: Clinical"

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="mue_edits"
    )
    code = models.CharField(max_length=5)
    max_units = models.PositiveIntegerField()
    adjudication_indicator = models.PositiveSmallIntegerField(
        choices=AdjudicationIndicator.choices
    )
    rationale = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "code"], name="mueedit_unique_code"
            )
        ]

    def __str__(self) -> str:
        return f"MUE {self.code} {self.max_units}"


class IndexTerm(models.Model):
    """One code of one term of an ICD-10-CM index table, or the term itself when it
    has no code (a heading, a "see" reference).

    A drug-table term has one row per column (poisoning accidental ... underdosing),
    so that "acetaminophen adverse effect" matches the adverse-effect row only:
    ``search_vector`` holds the term's path *and* its column (codesets/index_search.py).
    """

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="index_terms"
    )
    # Place in the file: terms in document order, a term's columns in table order.
    seq = models.PositiveIntegerField()
    path = models.TextField(help_text='Main term down to this subterm: "A > b > c".')
    level = models.PositiveSmallIntegerField(help_text="0 for a main term.")
    column = models.CharField(max_length=80, blank=True)
    code = models.CharField(
        max_length=20, blank=True, help_text="Undotted; a trailing '-' needs more."
    )
    nemod = models.TextField(blank=True)
    see = models.TextField(blank=True)
    see_also = models.TextField(blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("path", weight="A", config="english")
        + SearchVector("column", weight="B", config="english")
        + SearchVector("nemod", weight="C", config="english")
        + SearchVector("path", weight="A", config="simple")
        + SearchVector("column", weight="B", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "seq"], name="indexterm_unique_seq"
            )
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="indexterm_search_vector"),
        ]

    def __str__(self) -> str:
        return f"{self.path} [{self.column}] {self.code}"

    @property
    def display(self) -> str:
        return display_index_code(self.code)


class PoaExemptCode(models.Model):
    """One ICD-10-CM code of a release of CMS's POA-exempt list: on an inpatient
    claim it needs no present-on-admission indicator (blank or "1")."""

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="poa_exempt_codes"
    )
    code = models.CharField(max_length=8, help_text="Undotted, as Code.code.")
    title = models.TextField(help_text="The long title as the list gives it.")
    order = models.CharField(
        max_length=8, blank=True, help_text="CMS's order number (tabular order)."
    )

    class Meta:
        ordering = ["order", "code"]
        constraints = [
            # Also the index of poa_exempt_on: release, then code.
            models.UniqueConstraint(
                fields=["release", "code"], name="poaexemptcode_unique_code"
            )
        ]

    def __str__(self) -> str:
        return f"POA exempt {self.display}"

    @property
    def display(self) -> str:
        return display_code(System.ICD10CM, self.code)


class PcsIndexTerm(models.Model):
    """One main term or subterm of an ICD-10-PCS Index release, with its reference:
    "see" an operation and body part, "use" a body-part or device value, or a code
    (a full code, a code start such as 0DTJ, or a table such as 0DT)."""

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="pcs_index_terms"
    )
    seq = models.PositiveIntegerField()
    path = models.TextField(help_text='Main term down to this subterm: "A > b > c".')
    level = models.PositiveSmallIntegerField(help_text="0 for a main term.")
    title = models.TextField(
        blank=True, help_text="Empty for a bare reference under its parent."
    )
    see = models.TextField(blank=True)
    use = models.TextField(blank=True)
    code = models.CharField(
        max_length=7, blank=True, help_text="Full code, code start or table."
    )
    search_vector = models.GeneratedField(
        expression=SearchVector("path", config="english")
        + SearchVector("path", config="simple"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "seq"], name="pcsindexterm_unique_seq"
            )
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="pcsindexterm_search_vector"),
        ]

    def __str__(self) -> str:
        return f"{self.path} {self.see or self.use} {self.code}".strip()


class PcsDefinition(models.Model):
    """One entry of an ICD-10-PCS Definitions release: the definition of values of
    one axis of one section (operations, approaches, body-part and device keys), or
    (axis 0) one row of the device aggregation table."""

    release = models.ForeignKey(
        Release, on_delete=models.CASCADE, related_name="pcs_definitions"
    )
    seq = models.PositiveIntegerField()
    section = models.CharField(max_length=1, blank=True)
    axis = models.PositiveSmallIntegerField(help_text="3-7; 0 for an aggregate.")
    axis_title = models.CharField(max_length=60)
    titles = ArrayField(models.TextField())
    definition = models.TextField(blank=True)
    explanation = models.TextField(blank=True)
    includes = ArrayField(models.TextField(), default=list, blank=True)
    body_systems = ArrayField(models.TextField(), default=list, blank=True)
    parent = models.TextField(blank=True)
    parent_value = models.CharField(max_length=1, blank=True)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["release", "seq"], name="pcsdefinition_unique_seq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.section} axis {self.axis}: {'; '.join(self.titles)}"


class PaymentRateQuerySet(models.QuerySet["PaymentRate"]):
    def for_stay(self, facility: str, fiscal_year: int) -> PaymentRateQuerySet:
        return self.filter(facility=facility, fiscal_year=fiscal_year)


class PaymentRate(models.Model):
    """One facility's IPPS rates for one federal fiscal year (October to September).

    The figures come from the IPPS final rule of that year (docs/payment.md says
    which table holds which); nothing here is a national default except the ones
    the rule itself fixes when a hospital has no figure of its own (wage index and
    GAF 1.0, the labor share by wage index: ``codesets.services``). Changed only
    through ``payment_rate_set``, which records every change in
    ``PaymentRateChange``.
    """

    facility = models.CharField(
        max_length=100, help_text="As on the encounters (Encounter.facility)."
    )
    fiscal_year = models.PositiveSmallIntegerField(
        help_text="Federal fiscal year: FY2026 is 2025-10-01 to 2026-09-30."
    )
    operating = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text="Operating standardized amount, $ (IPPS final rule Tables 1A-1D).",
    )
    capital = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        help_text="Capital federal rate, $ (IPPS final rule Table 1D).",
    )
    wage_index = models.DecimalField(max_digits=6, decimal_places=4, default=1)
    labor_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        help_text="Labor-related share of the operating amount (0.676, or 0.62 "
        "where the wage index is 1 or less).",
    )
    gaf = models.DecimalField(
        "GAF",
        max_digits=6,
        decimal_places=4,
        default=1,
        help_text="Capital geographic adjustment factor.",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = PaymentRateQuerySet.as_manager()

    class Meta:
        ordering = ["facility", "-fiscal_year"]
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "fiscal_year"], name="paymentrate_once_per_year"
            ),
            models.CheckConstraint(
                condition=Q(operating__gt=0) & Q(capital__gte=0),
                name="paymentrate_amounts_positive",
            ),
            models.CheckConstraint(
                condition=Q(wage_index__gt=0) & Q(gaf__gt=0),
                name="paymentrate_factors_positive",
            ),
            models.CheckConstraint(
                condition=Q(labor_share__gt=0) & Q(labor_share__lte=1),
                name="paymentrate_labor_share_fraction",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facility} FY{self.fiscal_year}"

    def values(self) -> dict[str, str]:
        """The figures as strings (the history's and the API's shape)."""
        return {
            name: str(getattr(self, name))
            for name in ("operating", "capital", "wage_index", "labor_share", "gaf")
        }


class PaymentRateChange(models.Model):
    """Every setting of a facility's rates: who, when, before and after, how.

    Only ever inserted (``payment_rate_set``); the admin shows it read-only, so
    the figures an estimate used on a given day can always be traced.
    """

    rate = models.ForeignKey(
        PaymentRate, on_delete=models.PROTECT, related_name="changes"
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    changed_at = models.DateTimeField(default=timezone.now)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    via = models.CharField(max_length=20, help_text="command, admin")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rate} changed at {self.changed_at:%Y-%m-%d %H:%M}"
