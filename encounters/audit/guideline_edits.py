"""Guideline edits as data: the combination codes the classification presumes, and
the symptoms that give way to a definitive diagnosis (DESIGN.md rule ids
``combination-code``, ``symptom-principal``, ``symptom-integral``).

Each row cites the ICD-10-CM Official Guidelines for Coding and Reporting FY2026 and
names its codes the way the tabular writes them (``I50.-``, ``I51.4-I51.7``,
``E08-E13 with .9``). The three rules in ``rules.py`` read these tables; a new edit is
a new row with its own test case in ``tests/encounters/test_guideline_edits.py``,
never a new ``if``. ``docs/audit_rules.md`` lists the rows and what they cannot see.

Rows are deliberately few and conservative (a false alarm costs a supervisor as much
as a miss costs the hospital): a pair the tabular's own Excludes1 notes already
catch (R06/R09 with J96, A09 or K52.9 with R19.7, R31 with cystitis "with
hematuria", R00.0 with I47, G44 with R51.9, I20 with I25.1-, R73 with diabetes)
is left to the ``excludes1`` rule, and pairs Coding Clinic treats as separately
reportable (ascites with cirrhosis, hypoxemia with pneumonia, aphasia or dysphagia
after a stroke) are not rows at all.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from codesets.models import display_code, normalize_code
from encounters.audit import knowledge

if TYPE_CHECKING:  # rules.py imports this module
    from encounters.audit.rules import Case, Dx

GUIDELINES = "ICD-10-CM Official Guidelines for Coding and Reporting FY2026"


# --- code sets written as the tabular writes them ------------------------------------


@dataclass(frozen=True)
class Codes:
    """``"I51.4-I51.7, I51.89, I51.9"``: codes, ranges, ``.-`` (and below) and the
    tabular's ``E08-E13 with .9`` (those categories with that 4th character); ``E08-E13
    alone`` is the category codes themselves, as a coder may enter a header."""

    text: str
    specs: tuple[knowledge.Spec, ...]
    index: int  # position in _ALL, for the per-code membership cache
    alone: tuple[knowledge.Spec, ...] = ()

    def matches(self, code: str) -> bool:
        return any(spec.matches(code) for spec in self.specs) or (
            len(code) == 3 and any(spec.matches(code) for spec in self.alone)
        )

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.index in _member_of(code)


_ALL: list[Codes] = []
_BY_TEXT: dict[str, Codes] = {}


def codes(text: str) -> Codes:
    found = _BY_TEXT.get(text)
    if found is None:
        items = [item.strip() for item in text.split(",")]
        specs, alone = (
            tuple(
                spec
                for item in items
                if item.endswith(" alone") == headers
                for spec in knowledge.note_specs(f"({item.removesuffix(' alone')})")
            )
            for headers in (False, True)
        )
        if not specs and not alone:
            raise ValueError(f"no codes in {text!r}")
        found = Codes(text=text, specs=specs, index=len(_ALL), alone=alone)
        _ALL.append(found)
        _BY_TEXT[text] = found
        _member_of.cache_clear()
    return found


@functools.lru_cache(maxsize=20_000)
def _member_of(code: str) -> frozenset[int]:
    """The code sets of the tables a code belongs to (codes repeat across
    encounters, so each is matched against the tables once per process)."""
    return frozenset(c.index for c in _ALL if c.matches(code))


def _cm(code: str) -> str:
    return display_code("icd10cm", code)


# --- combination codes -------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """When one code of each of ``coded`` is assigned, the combination code of the
    first ``becomes`` entry whose conditions are all coded replaces the ``replaces``
    ones (by position in ``coded``); "" means the replaced code is simply dropped, no
    ``replaces`` that the combination code is added (just before the code of the last
    group). A row does not fire when its combination code is already coded, when a
    code of ``unless`` is, on a code an earlier row already replaces, or when an
    earlier row already suggests the same combination code."""

    key: str
    coded: tuple[Codes, ...]
    replaces: tuple[int, ...]
    becomes: tuple[tuple[tuple[Codes, ...], str], ...]
    what: str
    reference: str
    unless: Codes | None = None
    same_category: bool = False  # the coded codes share their category (E11.9/E11.65)
    presumed: bool = True  # a presumed link the provider may document away

    @functools.cached_property
    def needs(self) -> frozenset[int]:
        """The code sets a case must touch for the row to be worth a look."""
        return frozenset(group.index for group in self.coded)

    def target(self, codes_coded: Sequence[str], category: str) -> str:
        for conditions, code in self.becomes:
            if all(any(c in cond for c in codes_coded) for cond in conditions):
                return normalize_code(code.format(category=category))
        return ""


def combination(
    key: str,
    coded: Sequence[str],
    *,
    replaces: Sequence[str],
    becomes: str | Sequence[tuple[Sequence[str], str]],
    what: str,
    reference: str,
    unless: str = "",
    same_category: bool = False,
    presumed: bool = True,
) -> Combination:
    choices = [((), becomes)] if isinstance(becomes, str) else becomes
    return Combination(
        key=key,
        coded=tuple(codes(c) for c in coded),
        replaces=tuple(list(coded).index(r) for r in replaces),
        becomes=tuple((tuple(codes(c) for c in when), code) for when, code in choices),
        what=what,
        reference=reference,
        unless=codes(unless) if unless else None,
        same_category=same_category,
        presumed=presumed,
    )


HTN = f"{GUIDELINES}, I.C.9.a Hypertension"
HTN_HEART = f"{GUIDELINES}, I.C.9.a.1 Hypertension with heart disease"
HTN_CKD = f"{GUIDELINES}, I.C.9.a.2 Hypertensive chronic kidney disease"
HTN_HEART_CKD = f"{GUIDELINES}, I.C.9.a.3 Hypertensive heart and chronic kidney disease"
DM_WITH = (
    f'{GUIDELINES}, I.A.15 "With" (presumed causal relationship); I.C.4.a Diabetes '
    "mellitus"
)
# The heart conditions I11 includes ("any condition in I50.- or I51.4-I51.7, I51.89,
# I51.9 due to hypertension"): heart failure is coded in addition (use additional
# code), these are not. I51.5 and I51.7 beside I11/I13 are Excludes1 pairs already.
HEART = "I51.4-I51.7, I51.89, I51.9"
HEART_NO_EXCLUDES1 = "I51.4, I51.6, I51.89, I51.9"
STAGE5 = "N18.5, N18.6"
FAILING = "I11.0, I13.0, I13.2, I50.-"  # heart failure, coded alone or combined
DIABETES_UNSPECIFIED = "E08-E13 with .9, E08-E13 with .8, E08-E13 alone"
DIABETES_OTHER_COMPLICATION = (  # "as many codes as needed" (I.C.4.a): kidney aside
    "E08-E13 with .0, E08-E13 with .1, E08-E13 with .3, E08-E13 with .4, "
    "E08-E13 with .5, E08-E13 with .6"
)

# Checked in this order; the most specific rows come first because a code replaced
# by one row is not offered to the next.
COMBINATIONS: tuple[Combination, ...] = (
    combination(
        "hypertension-included",
        ["I10", "I11.-, I12.-, I13.-"],
        replaces=["I10"],
        becomes="",
        what="the hypertensive heart/kidney code already includes the hypertension",
        reference=HTN,
        presumed=False,
    ),
    combination(
        "hypertensive-heart-or-kidney-with-both",
        ["I11.-, I12.-", "I13.-"],
        replaces=["I11.-, I12.-"],
        becomes="",
        what="I13 includes the conditions of I11 and I12 together",
        reference=HTN_HEART_CKD,
        presumed=False,
    ),
    combination(
        "hypertension-heart-failure-ckd",
        ["I10", "I50.-", "N18.-"],
        replaces=["I10"],
        becomes=[([STAGE5], "I13.2"), ([], "I13.0")],
        what="hypertension with heart failure and chronic kidney disease",
        reference=HTN_HEART_CKD,
    ),
    combination(
        "hypertension-heart-disease-ckd",
        ["I10", HEART, "N18.-"],
        replaces=["I10", HEART],
        becomes=[([STAGE5], "I13.11"), ([], "I13.10")],
        what="hypertension with heart disease and chronic kidney disease",
        reference=HTN_HEART_CKD,
    ),
    combination(
        "hypertensive-heart-and-kidney",
        ["I11.-", "I12.-"],
        replaces=["I11.-", "I12.-"],
        becomes=[
            ([FAILING, f"I12.0, {STAGE5}"], "I13.2"),
            ([FAILING], "I13.0"),
            ([f"I12.0, {STAGE5}"], "I13.11"),
            ([], "I13.10"),
        ],
        what="hypertensive heart disease with hypertensive chronic kidney disease",
        reference=HTN_HEART_CKD,
        presumed=False,
    ),
    combination(
        "hypertensive-heart-disease-ckd",
        ["I11.-", "N18.-"],
        replaces=["I11.-"],
        becomes=[
            ([FAILING, STAGE5], "I13.2"),
            ([FAILING], "I13.0"),
            ([STAGE5], "I13.11"),
            ([], "I13.10"),
        ],
        what="hypertensive heart disease with chronic kidney disease",
        reference=HTN_HEART_CKD,
    ),
    combination(
        "hypertensive-ckd-heart-failure",
        ["I12.-", "I50.-"],
        replaces=["I12.-"],
        becomes=[([f"I12.0, {STAGE5}"], "I13.2"), ([], "I13.0")],
        what="hypertensive chronic kidney disease with heart failure",
        reference=HTN_HEART_CKD,
    ),
    combination(
        "hypertensive-ckd-heart-disease",
        ["I12.-", HEART],
        replaces=["I12.-", HEART],
        becomes=[([f"I12.0, {STAGE5}"], "I13.11"), ([], "I13.10")],
        what="hypertensive chronic kidney disease with heart disease",
        reference=HTN_HEART_CKD,
    ),
    combination(
        "hypertension-heart-failure",
        ["I10", "I50.-"],
        replaces=["I10"],
        becomes="I11.0",
        what="hypertension with heart failure",
        reference=HTN_HEART,
    ),
    combination(
        "hypertension-heart-disease",
        ["I10", HEART],
        replaces=["I10", HEART],
        becomes="I11.9",
        what="hypertension with heart disease",
        reference=HTN_HEART,
    ),
    combination(
        "hypertension-ckd",
        ["I10", "N18.-"],
        replaces=["I10"],
        becomes=[([STAGE5], "I12.0"), ([], "I12.9")],
        what="hypertension with chronic kidney disease",
        reference=HTN_CKD,
    ),
    combination(
        "hypertensive-heart-disease-included",
        ["I11.-, I13.-", HEART_NO_EXCLUDES1],
        replaces=[HEART_NO_EXCLUDES1],
        becomes="",
        what="I11 and I13 include heart disease due to hypertension",
        reference=HTN_HEART,
    ),
    combination(
        "hypertensive-heart-disease-heart-failure",
        ["I11.9", "I50.-"],
        replaces=["I11.9"],
        becomes="I11.0",
        what="hypertensive heart disease with heart failure (I11.9 is without it)",
        reference=HTN_HEART,
    ),
    combination(
        "hypertensive-ckd-stage",
        ["I12.-", "N18.-"],
        replaces=["I12.-"],
        becomes=[([STAGE5], "I12.0"), ([], "I12.9")],
        what="the I12 code follows the stage of chronic kidney disease (I12.0 stage 5 "
        "or end stage, I12.9 stage 1-4 or unspecified)",
        reference=HTN_CKD,
        presumed=False,
    ),
    combination(
        "hypertensive-heart-ckd-stage",
        ["I13.-", "N18.-"],
        replaces=["I13.-"],
        becomes=[
            ([FAILING, STAGE5], "I13.2"),
            ([FAILING], "I13.0"),
            ([STAGE5], "I13.11"),
            ([], "I13.10"),
        ],
        what="the I13 code follows heart failure and the stage of chronic kidney "
        "disease",
        reference=HTN_HEART_CKD,
    ),
    combination(
        "diabetes-ckd",
        [DIABETES_UNSPECIFIED, "N18.-"],
        replaces=[DIABETES_UNSPECIFIED],
        becomes="{category}.22",
        what="diabetes with chronic kidney disease",
        reference=DM_WITH,
    ),
    combination(
        "diabetes-complication-ckd",
        [DIABETES_OTHER_COMPLICATION, "N18.-"],
        replaces=[],
        becomes="{category}.22",
        what="diabetes with chronic kidney disease, besides its other complications",
        reference=DM_WITH,
        # Any diabetic kidney code already says how the kidneys are involved.
        unless="E08-E13 with .2",
    ),
    combination(
        "diabetes-polyneuropathy",
        [DIABETES_UNSPECIFIED, "G62.9"],
        replaces=[DIABETES_UNSPECIFIED, "G62.9"],
        becomes="{category}.42",
        what="diabetes with polyneuropathy (or {category}.40 if documented only as "
        "neuropathy)",
        reference=DM_WITH,
    ),
    combination(
        "diabetes-gastroparesis",
        [DIABETES_UNSPECIFIED, "K31.84"],
        replaces=[DIABETES_UNSPECIFIED],
        becomes="{category}.43",
        what="diabetes with gastroparesis (diabetic autonomic neuropathy)",
        reference=DM_WITH,
    ),
    combination(
        "diabetes-peripheral-angiopathy",
        [DIABETES_UNSPECIFIED, "I73.9"],
        replaces=[DIABETES_UNSPECIFIED, "I73.9"],
        becomes="{category}.51",
        what="diabetes with peripheral vascular disease (diabetic peripheral "
        "angiopathy)",
        reference=DM_WITH,
    ),
    combination(
        "diabetes-foot-ulcer",
        [DIABETES_UNSPECIFIED, "L97.4-, L97.5-"],
        replaces=[DIABETES_UNSPECIFIED],
        becomes="{category}.621",
        what="diabetes with a foot ulcer",
        reference=DM_WITH,
        # An ulcer coded with arterial or venous disease may be due to it: not
        # decidable from the codes.
        unless="I70.2-I70.7, I83.-, I87.-",
    ),
    combination(
        "diabetes-hypoglycemia",
        [DIABETES_UNSPECIFIED, "E16.2"],
        replaces=[DIABETES_UNSPECIFIED, "E16.2"],
        becomes="{category}.649",
        what="diabetes with hypoglycemia",
        reference=DM_WITH,
    ),
    combination(
        "diabetes-without-complications",
        ["E08-E13 with .9", "E08-E13 with .0, E08-E13 with .1, E08-E13 with .2, "
         "E08-E13 with .3, E08-E13 with .4, E08-E13 with .5, E08-E13 with .6"],
        replaces=["E08-E13 with .9"],
        becomes="",
        what='"without complications" contradicts a diabetes code with one',
        reference=f"{GUIDELINES}, I.C.4.a Diabetes mellitus",
        same_category=True,
        presumed=False,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class Hit:
    """One row firing on a case: what the rule says, and the codes as they should be
    (in order, with POA) so the rule can say what it does to the MS-DRG."""

    key: str
    codes: tuple[str, ...]  # display form, in the coder's order
    message: str
    reference: str
    corrected: tuple[tuple[str, str], ...]  # (stored code, POA)


def _combined_poa(poas: Sequence[str]) -> str:
    """Appendix I: N if any part was not present on admission, Y if all were."""
    if "N" in poas:
        return "N"
    if poas and all(p == "Y" for p in poas):
        return "Y"
    return poas[0] if poas else ""


def _pick(row: Combination, diagnoses: Sequence[Dx]) -> list[Dx] | None:
    """One distinct diagnosis per coded group (the first in the coder's order)."""
    candidates = [[d for d in diagnoses if d.code in group] for group in row.coded]
    if not all(candidates):
        return None
    for first in candidates[0]:
        chosen = [first]
        for group in candidates[1:]:
            pick = next(
                (
                    d
                    for d in group
                    if all(d is not c for c in chosen)
                    and (not row.same_category or d.code[:3] == first.code[:3])
                ),
                None,
            )
            if pick is None:
                break
            chosen.append(pick)
        else:
            return chosen
    return None


def _among(d: Dx, group: Sequence[Dx]) -> bool:
    return any(d is g for g in group)


def combinations(diagnoses: Sequence[Dx]) -> Iterator[Hit]:
    """The combination-code rows that fire on the diagnoses (in the coder's order)."""
    present = [d.code for d in diagnoses]
    touched = frozenset().union(*(_member_of(c) for c in present))
    if not touched:  # most encounters: no code of any row
        return
    replaced: set[str] = set()
    suggested: set[str] = set()
    for row in COMBINATIONS:
        if not row.needs <= touched:
            continue
        chosen = _pick(row, diagnoses)
        if chosen is None:
            continue
        gone = [chosen[i] for i in row.replaces]
        if any(d.code in replaced for d in gone):
            continue
        if row.unless is not None and any(c in row.unless for c in present):
            continue
        category = (gone or chosen)[0].code[:3]
        target = row.target(present, category)
        if target and (target in present or target in suggested):
            continue
        replaced.update(d.code for d in gone)
        suggested.add(target)
        yield _combination_hit(row, diagnoses, chosen, gone, target, category)


def _combination_hit(
    row: Combination,
    diagnoses: Sequence[Dx],
    chosen: list[Dx],
    gone: list[Dx],
    target: str,
    category: str,
) -> Hit:
    kept = [d for d in chosen if not _among(d, gone)]
    coded = " with ".join(d.display for d in chosen)
    what = row.what.format(category=category)
    if target and not gone:
        action = f"add {_cm(target)}, sequenced before {chosen[-1].display}"
    elif target:
        action = (
            f"code {_cm(target)} in place of {' and '.join(d.display for d in gone)}"
        )
        if kept:
            action += (
                f", sequenced before {', '.join(d.display for d in kept)} "
                "(kept to identify " + ("them" if len(kept) > 1 else "it") + ")"
            )
    else:
        action = f"remove {' and '.join(d.display for d in gone)}"
    message = f"{coded}: {what}. Per the guidelines, {action}"
    if row.presumed:
        message += ", unless the provider documents that the conditions are unrelated"
    # The corrected codes: the combination code takes the place of the first code
    # the row matched (an added one goes before the last group's code), the codes it
    # replaces go.
    first = min(
        n for n, d in enumerate(diagnoses) if _among(d, chosen if gone else chosen[-1:])
    )
    corrected: list[tuple[str, str]] = []
    for n, d in enumerate(diagnoses):
        if n == first and target:
            corrected.append((target, _combined_poa([c.poa for c in chosen])))
        if not _among(d, gone):
            corrected.append((d.code, d.poa))
    return Hit(
        key=row.key,
        codes=tuple(d.display for d in chosen),
        message=message,
        reference=row.reference,
        corrected=tuple(corrected),
    )


# --- symptoms ------------------------------------------------------------------------


@dataclass(frozen=True)
class Symptom:
    """A sign or symptom (chapter 18) and coded conditions it belongs to.
    ``integral``: the condition routinely includes it, so it is not coded beside it
    (I.B.5, I.C.18.b): a symptom-integral finding as a secondary code. ``principal``:
    the condition explains the symptom that brought the patient in, so the symptom is
    not the principal diagnosis beside it (II.A): a symptom-principal finding."""

    key: str
    symptom: Codes
    condition: Codes
    what: str
    integral: bool
    principal: bool
    reference: str


INTEGRAL = (
    f"{GUIDELINES}, I.B.5 Conditions that are an integral part of a disease process; "
    "I.C.18.b Use of a symptom code with a definitive diagnosis code"
)


def symptom(
    key: str,
    symptoms: str,
    conditions: str,
    what: str,
    *,
    integral: bool = True,
    principal: bool = True,
    reference: str = INTEGRAL,
) -> Symptom:
    return Symptom(
        key, codes(symptoms), codes(conditions), what, integral, principal, reference
    )


CHEST_PAIN = "R07.2, R07.89, R07.9"
ABDOMINAL_PAIN = "R10.0, R10.1-, R10.3-, R10.8-, R10.9"
UPPER_ABDOMINAL_PAIN = "R10.0, R10.1-, R10.8-, R10.9"
NAUSEA_VOMITING = "R11.0, R11.10, R11.11, R11.2"
DYSPNEA = "R06.00, R06.01, R06.02, R06.09"
PNEUMONIA = "J12-J18"

SYMPTOMS: tuple[Symptom, ...] = (
    symptom("chest-pain-acute-coronary", CHEST_PAIN, "I20.-, I21.-, I22.-, I24.-, "
            "I25.11-", "chest pain in angina or myocardial infarction"),
    # Reflux is the commonest non-cardiac cause of chest pain, but chest pain is not
    # part of every reflux: only the principal-diagnosis edit. As its own row it also
    # keeps "chest pain, GERD versus angina" quiet (two rows: Section II.D).
    symptom("chest-pain-reflux", CHEST_PAIN, "K21.-", "chest pain in "
            "gastro-oesophageal reflux", integral=False),
    symptom("abdominal-pain-appendicitis", ABDOMINAL_PAIN, "K35.-",
            "abdominal pain in appendicitis"),
    symptom("abdominal-pain-pancreatitis", UPPER_ABDOMINAL_PAIN, "K85.-",
            "abdominal pain in acute pancreatitis"),
    symptom("abdominal-pain-cholecystitis", UPPER_ABDOMINAL_PAIN,
            "K80.0-, K80.1-, K80.4-, K80.6-, K81.-",
            "abdominal pain in cholecystitis"),
    symptom("nausea-vomiting-abdominal", NAUSEA_VOMITING, "K35.-, K85.-",
            "nausea and vomiting in appendicitis or acute pancreatitis"),
    symptom("nausea-vomiting-gastroenteritis", NAUSEA_VOMITING, "A08.-, A09",
            "nausea and vomiting in gastroenteritis"),
    symptom("diarrhea-intestinal-infection", "R19.7", "A00-A08",
            "diarrhea in an intestinal infection"),
    symptom("fever-pneumonia-influenza", "R50.9", f"J09-J11, {PNEUMONIA}",
            "fever in pneumonia or influenza"),
    symptom("fever-sepsis", "R50.9", "A40.-, A41.-", "fever in sepsis"),
    symptom("cough-respiratory-infection", "R05.1, R05.9", f"J09-J11, {PNEUMONIA}, "
            "J20-J22", "acute cough in a lower respiratory infection"),
    symptom("dyspnea-heart-failure", DYSPNEA, "I50.1, I50.20, I50.21, I50.23, "
            "I50.30, I50.31, I50.33, I50.40, I50.41, I50.43, I50.810, I50.811, "
            "I50.813, I50.814, I50.82-I50.9", "dyspnea in heart failure"),
    # Chronic heart failure is breathless, but a stable chronic failure does not
    # explain the breathlessness that brought the patient in: integral only.
    symptom("dyspnea-chronic-heart-failure", DYSPNEA, "I50.22, I50.32, I50.42, "
            "I50.812", "dyspnea in chronic heart failure", principal=False),
    symptom("dyspnea-copd-asthma-exacerbation", DYSPNEA, "J44.1, J45.21, J45.22, "
            "J45.31, J45.32, J45.41, J45.42, J45.51, J45.52, J45.901, J45.902",
            "dyspnea in an exacerbation of COPD or asthma"),
    symptom("dyspnea-pulmonary-embolism", DYSPNEA, "I26.-",
            "dyspnea in pulmonary embolism"),
    # Pneumonia explains the breathlessness that brought the patient in, but is not
    # always breathless: only the principal-diagnosis edit.
    symptom("dyspnea-pneumonia", DYSPNEA, PNEUMONIA, "dyspnea in pneumonia",
            integral=False),
    symptom("dysuria-cystitis", "R30.0, R30.9", "N30.-, N39.0",
            "dysuria in cystitis or urinary tract infection"),
    symptom("altered-mental-status-encephalopathy", "R41.82", "G92.8, G93.4-",
            "altered mental status in encephalopathy (R41.82 Excludes1: altered "
            "mental status due to known condition - code to condition)"),
)  # fmt: skip

PRINCIPAL_INPATIENT = (
    f"{GUIDELINES}, Section II.A Codes for symptoms, signs, and ill-defined conditions"
)
PRINCIPAL_OUTPATIENT = (
    f"{GUIDELINES}, Section IV.D Codes that describe symptoms and signs"
)


def _explains(symptom: Dx, condition: Dx, inpatient: bool) -> bool:
    """A condition that arose after admission did not bring the symptom present on
    admission."""
    return not (inpatient and condition.poa == "N" and symptom.poa != "N")


def _related(
    sx: Dx, diagnoses: Sequence[Dx], inpatient: bool, as_principal: bool
) -> list[tuple[Symptom, Dx]]:
    return [
        (row, d)
        for row in SYMPTOMS
        if sx.code in row.symptom and (row.principal if as_principal else row.integral)
        for d in diagnoses
        if d is not sx and d.code in row.condition and _explains(sx, d, inpatient)
    ]


def symptom_principal(diagnoses: Sequence[Dx], *, inpatient: bool) -> Hit | None:
    """A symptom as principal (first-listed) beside the one definitive diagnosis that
    explains it (one row of the table). Diagnoses of two or more rows may be
    contrasting or comparative ones (Section II.E: then the symptom is sequenced
    first): not judged."""
    if not diagnoses or not diagnoses[0].code.startswith("R"):  # chapter 18
        return None
    sx = diagnoses[0]
    related = _related(sx, diagnoses, inpatient, as_principal=True)
    if len({row.key for row, _d in related}) != 1:
        return None
    row, definitive = related[0]
    integral = any(r.integral for r, _d in related)
    message = (
        f"{sx.display} is a symptom ({row.what}) and is "
        f"{'the principal' if inpatient else 'the first-listed'} diagnosis while "
        f"{definitive.display}, a related definitive diagnosis, is coded: sequence "
        f"{definitive.display} first"
        + (
            f" and remove {sx.display}, routinely part of it"
            if integral
            else f", {sx.display} after it"
        )
        + ", unless the provider documents that the symptom is not due to it"
    )
    corrected = [(definitive.code, definitive.poa)] + [
        (d.code, d.poa)
        for d in diagnoses
        if d is not definitive and not (d is sx and integral)
    ]
    return Hit(
        key=row.key,
        codes=(sx.display, definitive.display),
        message=message,
        reference=PRINCIPAL_INPATIENT if inpatient else PRINCIPAL_OUTPATIENT,
        corrected=tuple(corrected),
    )


def symptoms_integral(diagnoses: Sequence[Dx], *, inpatient: bool) -> Iterator[Hit]:
    """Secondary symptom codes routinely part of a coded condition."""
    for sx in diagnoses[1:]:
        if not sx.code.startswith("R"):  # chapter 18
            continue
        related = _related(sx, diagnoses, inpatient, as_principal=False)
        if not related:
            continue
        row = related[0][0]
        conditions = list(dict.fromkeys(d.display for _row, d in related))
        yield Hit(
            key=row.key,
            codes=(sx.display, *conditions),
            message=(
                f"{sx.display} is routinely part of {' and '.join(conditions)} "
                f"({row.what}): it is not coded in addition. Remove it unless the "
                "record shows it is not due to that condition"
            ),
            reference=row.reference,
            corrected=(),
        )


# --- what a correction does to the MS-DRG ----------------------------------------


def drg_change(case: Case, original: Sequence[Dx], hit: Hit) -> str:
    """ " MS-DRG 293 as coded, 291 once corrected." for an inpatient stay whose DRG the
    correction changes; "" when it does not or cannot be computed here. Two grouper
    calls, only on an encounter a row fires on."""
    if case.type != "inpatient" or not hit.corrected or case.length_of_stay is None:
        return ""
    from encounters.drg import DrgUnavailable, drg_group

    admit = case.dos - dt.timedelta(days=case.length_of_stay)
    try:
        birth = admit.replace(year=admit.year - case.age)
    except ValueError:  # 29 February
        birth = admit.replace(year=admit.year - case.age, day=28)
    procedures = [p.code for p in case.procedures if p.system == "icd10pcs"]

    def group(diagnoses: Sequence[tuple[str, str]]) -> int | None:
        try:
            result = drg_group(
                discharge_date=case.dos,
                birth_date=birth,
                admit_date=admit,
                sex=case.sex,
                discharge_status=case.discharge_status,
                diagnoses=diagnoses,
                procedures=procedures,
            )
        except (DrgUnavailable, ValueError):
            return None
        return result.drg if result.return_code == "OK" else None

    before = group([(d.code, d.poa) for d in original])
    after = group(hit.corrected) if before is not None else None
    if before is None or after is None or before == after:
        return ""
    return f" MS-DRG {before:03d} as coded, {after:03d} once corrected."
