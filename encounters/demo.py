"""Realistic demo encounters for `make run`, demos and benchmarks (`seed_demo --encounters N`).

Each scenario is a common inpatient or outpatient case with a plausible principal
diagnosis, secondary diagnoses drawn with the frequencies they have in practice,
the usual procedures, and documents that describe them. Codes are checked against
the releases in force on the date of service; a scenario code that is not valid
there is reported, not silently dropped.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max

from accounts.models import User
from encounters.models import Patient
from encounters.services import (
    DiagnosisInput,
    DocumentInput,
    EncounterInput,
    PatientInput,
    ProcedureInput,
    coding_check,
    encounter_create,
)


@dataclass(frozen=True)
class Scenario:
    name: str
    type: str
    principal: str
    secondaries: tuple[tuple[str, float], ...]  # (code, probability)
    procedures: tuple[str, ...] = ()
    story: str = ""
    stay_days: tuple[int, int] = (2, 6)
    ages: tuple[int, int] = (45, 90)
    sex: str = ""  # "" = either


INPATIENT = (
    Scenario(
        "pneumonia",
        "inpatient",
        "J18.9",
        (
            ("E87.1", 0.35),
            ("I10", 0.5),
            ("E11.9", 0.3),
            ("J44.9", 0.25),
            ("N17.9", 0.15),
            ("E78.5", 0.4),
            ("Z87.891", 0.3),
        ),
        story="presented with fever, productive cough and right lower lobe consolidation "
        "on chest X-ray. Treated with IV ceftriaxone and azithromycin.",
    ),
    Scenario(
        "heart failure",
        "inpatient",
        "I11.0",
        (
            ("I50.23", 0.9),
            ("I48.91", 0.35),
            ("N18.30", 0.3),
            ("E87.1", 0.2),
            ("Z79.01", 0.3),
            ("E78.5", 0.5),
        ),
        story="admitted with worsening dyspnoea, orthopnoea and leg oedema; BNP 1,840. "
        "Diuresed with IV furosemide. Echo: EF 30%.",
    ),
    Scenario(
        "sepsis",
        "inpatient",
        "A41.9",
        (
            ("R65.20", 0.5),
            ("N17.9", 0.4),
            ("J18.9", 0.3),
            ("N39.0", 0.3),
            ("E86.0", 0.4),
            ("E11.9", 0.25),
        ),
        story="arrived febrile 39.2 C, heart rate 118, lactate 3.1. Blood cultures drawn; "
        "broad-spectrum antibiotics and fluid resuscitation given.",
        stay_days=(4, 9),
    ),
    Scenario(
        "COPD exacerbation",
        "inpatient",
        "J44.1",
        (("J96.01", 0.3), ("F17.210", 0.5), ("I10", 0.5), ("E66.9", 0.2)),
        story="acute exacerbation of COPD with increased wheeze and sputum. Nebulisers, "
        "prednisolone and doxycycline.",
    ),
    Scenario(
        "acute appendicitis",
        "inpatient",
        "K35.80",
        (("E86.0", 0.2), ("I10", 0.2)),
        procedures=("0DTJ4ZZ",),
        story="right iliac fossa pain for 24 hours; CT confirmed acute appendicitis. "
        "Laparoscopic appendectomy on day 1.",
        stay_days=(1, 3),
        ages=(18, 70),
    ),
    Scenario(
        "hip fracture",
        "inpatient",
        "S72.001A",
        (
            ("W19.XXXA", 0.9),
            ("D64.9", 0.35),
            ("I10", 0.5),
            ("E03.9", 0.2),
            ("Z79.01", 0.15),
        ),
        procedures=("0SR9019",),
        story="fall at home with a shortened, externally rotated right leg. X-ray: "
        "displaced femoral neck fracture. Right total hip arthroplasty.",
        stay_days=(3, 7),
        ages=(65, 95),
    ),
    Scenario(
        "urinary tract infection",
        "inpatient",
        "N39.0",
        (("B96.20", 0.6), ("E86.0", 0.4), ("E87.1", 0.2), ("N18.30", 0.2)),
        story="dysuria, confusion and fever; urine culture grew E. coli. IV antibiotics.",
        ages=(60, 95),
    ),
    Scenario(
        "acute kidney injury",
        "inpatient",
        "N17.9",
        (("E86.0", 0.6), ("N18.30", 0.4), ("I10", 0.5), ("E11.22", 0.3)),
        story="creatinine 3.4 from a baseline of 1.2 after poor oral intake. IV fluids; "
        "nephrotoxic medicines held.",
    ),
    Scenario(
        "NSTEMI",
        "inpatient",
        "I21.4",
        (("I25.10", 0.8), ("E78.5", 0.7), ("I10", 0.6), ("F17.210", 0.3)),
        story="chest pressure with troponin rising to 2.4. Cardiology consulted; "
        "medical management with dual antiplatelet therapy.",
    ),
)

OUTPATIENT = (
    Scenario(
        "chest pain",
        "emergency",
        "R07.9",
        (("I10", 0.4), ("E78.5", 0.3)),
        story="chest pain at rest, ECG and troponins normal; discharged with follow-up.",
    ),
    Scenario(
        "low back pain",
        "outpatient",
        "M54.50",
        (("E66.9", 0.3),),
        story="mechanical low back pain for 3 weeks without red flags.",
        ages=(25, 70),
    ),
    Scenario(
        "diabetes follow-up",
        "professional",
        "E11.65",
        (("I10", 0.6), ("E78.5", 0.6), ("Z79.4", 0.4)),
        story="HbA1c 9.1%; insulin titrated, diet counselling.",
    ),
    Scenario(
        "depression review",
        "professional",
        "F32.A",
        (("F17.210", 0.3),),
        story="low mood for two months; sertraline started, safety plan discussed.",
        ages=(20, 70),
    ),
)

FIRST = {
    "F": [
        "Ann",
        "Maria",
        "Grace",
        "Lucy",
        "Rosa",
        "Nina",
        "Helen",
        "Ada",
        "Mei",
        "Sofia",
        "Priya",
        "Joan",
        "Carmen",
        "Ivy",
    ],
    "M": [
        "John",
        "Omar",
        "Luis",
        "Peter",
        "Ravi",
        "Tom",
        "Felix",
        "Hugo",
        "Sam",
        "Ken",
        "Victor",
        "Arjun",
        "Leo",
        "Paul",
    ],
}
LAST = [
    "Lee",
    "Garcia",
    "Novak",
    "Okafor",
    "Smith",
    "Tanaka",
    "Rossi",
    "Kowalski",
    "Haddad",
    "Jensen",
    "Murphy",
    "Silva",
    "Nguyen",
    "Brown",
    "Patel",
    "Fischer",
    "Costa",
    "Dubois",
    "Evans",
    "Kim",
]
FACILITIES = ("General", "North Campus", "Riverside")
PROVIDERS = ("Dr. Rivera", "Dr. Chen", "Dr. Okoye", "Dr. Lindqvist", "Dr. Haas")
STATUSES = ("01", "01", "01", "01", "06", "03", "62")


def _document_text(
    scenario: Scenario, titles: dict[str, str], age: int, sex: str
) -> str:
    who = f"{age}-year-old {'woman' if sex == 'F' else 'man'}"
    secondary = [titles[c] for c, _ in scenario.secondaries if c in titles]
    lines = [
        f"HISTORY: {who} {scenario.story}",
        f"ASSESSMENT: {titles.get(scenario.principal, scenario.name)}.",
    ]
    if secondary:
        lines.append("ALSO TREATED: " + "; ".join(secondary) + ".")
    lines.append("PLAN: follow-up with primary care in 7 days.")
    return "\n\n".join(lines)


def demo_encounters_create(
    *,
    count: int,
    first_discharge: dt.date,
    last_discharge: dt.date,
    seed: int = 1,
    created_by: User | None = None,
    inpatient_share: float = 0.7,
    coded_share: float = 0.5,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, list[str]]:
    """Create ``count`` encounters discharged between the two dates.

    Returns (created, problems): problems name scenario codes the loaded releases
    do not have as valid on the chosen date (the encounter keeps them, flagged).
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    problems: set[str] = set()
    start_mrn = (Patient.objects.aggregate(last=Max("id"))["last"] or 0) + 1
    span = (last_discharge - first_discharge).days
    created = 0
    for n in range(count):
        scenario = rng.choice(
            INPATIENT if rng.random() < inpatient_share else OUTPATIENT
        )
        sex = scenario.sex or rng.choice("FM")
        age = rng.randint(*scenario.ages)
        discharge = first_discharge + dt.timedelta(days=rng.randint(0, span))
        stay = rng.randint(*scenario.stay_days) if scenario.type == "inpatient" else 0
        admit = discharge - dt.timedelta(days=stay)
        birth = discharge - dt.timedelta(days=age * 365 + rng.randint(0, 364))
        codes = [scenario.principal] + [
            c for c, p in scenario.secondaries if rng.random() < p
        ]
        poa = "Y" if scenario.type == "inpatient" else ""
        diagnoses = [DiagnosisInput(c, poa) for c in codes]
        procedures = [
            ProcedureInput("icd10pcs", c, admit + dt.timedelta(days=min(1, stay)))
            for c in scenario.procedures
        ]
        checked_dx, _px, errors = coding_check(
            encounter_type=scenario.type,
            admit_date=admit,
            discharge_date=discharge if scenario.type == "inpatient" else None,
            diagnoses=diagnoses,
            procedures=procedures,
        )
        titles = {d.verdict.display: d.verdict.title for d in checked_dx}
        for d in checked_dx:
            if not d.verdict.valid:
                problems.add(d.verdict.message)
        if errors:
            problems.update(m for msgs in errors.values() for m in msgs)
            continue
        documents = [
            DocumentInput(
                kind="discharge_summary"
                if scenario.type == "inpatient"
                else "emergency_note"
                if scenario.type == "emergency"
                else "progress_note",
                text=_document_text(scenario, titles, age, sex),
            )
        ]
        if scenario.procedures:
            documents.append(
                DocumentInput(
                    kind="operative_note",
                    text=f"PROCEDURE: {scenario.name} surgery as planned. "
                    "Findings as expected; no complications. Estimated blood loss 50 mL.",
                )
            )
        coded = rng.random() < coded_share
        with transaction.atomic():
            encounter_create(
                data=EncounterInput(
                    type=scenario.type,
                    facility=rng.choice(FACILITIES),
                    admit_date=admit,
                    discharge_date=discharge if scenario.type == "inpatient" else None,
                    discharge_status=rng.choice(STATUSES)
                    if scenario.type == "inpatient"
                    else "01",
                    attending_provider=rng.choice(PROVIDERS),
                    patient=PatientInput(
                        mrn=f"D{start_mrn + n:07d}",
                        first_name=rng.choice(FIRST[sex]),
                        last_name=rng.choice(LAST),
                        birth_date=birth,
                        sex=sex,
                    ),
                    documents=documents,
                    # Feeds send the codes a CDI nurse or a prior coder proposed for
                    # some cases (coded_share); the rest arrive uncoded.
                    diagnoses=diagnoses if coded else [],
                    procedures=procedures if coded else [],
                ),
                created_by=created_by,
            )
        created += 1
        if progress and created % 500 == 0:
            progress(created)
    return created, sorted(problems)
