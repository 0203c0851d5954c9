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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from codesets.models import Release, display_code, normalize_code
from codesets.selectors import CodeVerdict, codes_check, poa_exempt_by_day
from encounters.models import (
    CodingChange,
    Diagnosis,
    Document,
    Encounter,
    Patient,
    Procedure,
)
from encounters.services import coding_snapshot


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
MISTAKE_RATE = 0.12
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


def _verdicts(
    releases: list[Release], codes: dict[str, set[str]]
) -> dict[int, dict[str, CodeVerdict]]:
    """Each scenario code checked once per release in force (not once per encounter)."""
    out = {}
    for r in releases:
        if r.system not in codes:
            continue
        if r.effective_from is None:  # the release_in_force_has_start constraint
            raise ValueError(f"Release {r.id} is in force but has no start date.")
        out[r.id] = codes_check(
            system=r.system, codes=sorted(codes[r.system]), day=r.effective_from
        )
    return out


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
    """Create ``count`` encounters discharged between the two dates, in bulk.

    Every scenario code is checked against each release in force (once per
    release); an encounter stores the verdict of the release judging its date of
    service, exactly as the coding services would. Returns (created, problems):
    problems name scenario codes a release does not have as valid (kept, flagged).
    """
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    releases = list(
        Release.objects.in_force().filter(system__in=["icd10cm", "icd10pcs"])
    )
    codes: dict[str, set[str]] = {"icd10cm": set(), "icd10pcs": set()}
    for scenario in (*INPATIENT, *OUTPATIENT):
        codes["icd10cm"].update(
            normalize_code(c) for c in (scenario.principal, *dict(scenario.secondaries))
        )
        codes["icd10pcs"].update(normalize_code(c) for c in scenario.procedures)
    codes["icd10cm"].update(normalize_code(c) for c in COMBINED)
    scenario_codes = codes["icd10cm"] | codes["icd10pcs"]
    # The headers the deliberate mistakes use (E87.1 -> E87).
    codes["icd10cm"].update(
        normalize_code(c.split(".")[0])
        for c in (
            *COMBINED,
            *(c for s in (*INPATIENT, *OUTPATIENT) for c in dict(s.secondaries)),
        )
    )
    verdicts = _verdicts(releases, codes)
    problems = {
        v.message
        for by_code in verdicts.values()
        for code, v in by_code.items()
        if v.message and code in scenario_codes
    }

    def verdict(system: str, code: str, day: dt.date) -> CodeVerdict | None:
        for release in releases:
            if release.system == system and release.covers(day):
                return verdicts[release.id][normalize_code(code)]
        problems.add(f"No {system} release covers {day:%Y-%m-%d}.")
        return None

    start_mrn = (Patient.objects.aggregate(last=Max("id"))["last"] or 0) + 1
    span = (last_discharge - first_discharge).days
    created = 0
    for chunk_start in range(0, count, 1000):
        batch = []
        for n in range(chunk_start, min(count, chunk_start + 1000)):
            batch.append(
                _one(
                    rng,
                    n + start_mrn,
                    first_discharge,
                    span,
                    inpatient_share,
                    coded_share,
                )
            )
        with transaction.atomic():
            patients = Patient.objects.bulk_create(b["patient"] for b in batch)
            encounters = []
            for item, patient in zip(batch, patients, strict=True):
                item["encounter"].patient = patient
                encounters.append(item["encounter"])
            Encounter.objects.bulk_create(encounters)
            _blank_poa_on_exempt_codes(batch, encounters)
            documents, diagnoses, procedures, changes = [], [], [], []
            for item, encounter in zip(batch, encounters, strict=True):
                day = encounter.date_of_service
                titles = {}
                for code, _poa in item["all_diagnoses"]:
                    v = verdict("icd10cm", code, day)
                    titles[code] = v.title if v else ""
                for seq, (code, poa) in enumerate(item["diagnoses"], start=1):
                    v = verdict("icd10cm", code, day)
                    diagnoses.append(
                        Diagnosis(
                            encounter=encounter,
                            sequence=seq,
                            code=normalize_code(code),
                            poa=poa,
                            valid=bool(v and v.valid),
                            message=(v.message if v else "")[:300],
                            title=(v.title if v else "")[:400],
                        )
                    )
                for seq, code in enumerate(item["procedures"], start=1):
                    v = verdict("icd10pcs", code, day)
                    procedures.append(
                        Procedure(
                            encounter=encounter,
                            sequence=seq,
                            system="icd10pcs",
                            code=normalize_code(code),
                            date=encounter.admit_date + dt.timedelta(days=1)
                            if encounter.discharge_date
                            and encounter.discharge_date > encounter.admit_date
                            else encounter.admit_date,
                            valid=bool(v and v.valid),
                            message=(v.message if v else "")[:300],
                            title=(v.title if v else "")[:400],
                        )
                    )
                scenario = item["scenario"]
                for kind, text in _documents(scenario, item, titles):
                    documents.append(
                        Document(encounter=encounter, kind=kind, text=text)
                    )
                changes.append(
                    CodingChange(
                        encounter=encounter,
                        action=CodingChange.Action.CREATED,
                        changed_by=created_by,
                        changed_at=_arrival(encounter),
                        version=1,
                        after={
                            "diagnoses": [
                                {
                                    "code": display_code("icd10cm", normalize_code(c)),
                                    "poa": p,
                                }
                                for c, p in item["diagnoses"]
                            ],
                            "procedures": [],
                        },
                    )
                )
            Document.objects.bulk_create(documents)
            Diagnosis.objects.bulk_create(diagnoses)
            Procedure.objects.bulk_create(procedures)
            CodingChange.objects.bulk_create(changes)
        created += len(batch)
        if progress:
            progress(created)
    return created, sorted(problems)


def _blank_poa_on_exempt_codes(batch: list[dict], encounters: list[Encounter]) -> None:
    """As a coder would: no POA indicator on a code CMS's POA-exempt list (in force
    on the discharge date) exempts. One query for the batch; nothing changes when no
    list is loaded."""
    wanted: dict[dt.date, set[str]] = {}
    for item, encounter in zip(batch, encounters, strict=True):
        if encounter.is_inpatient:
            wanted.setdefault(encounter.date_of_service, set()).update(
                normalize_code(c) for c, _p in item["diagnoses"]
            )
    lists = poa_exempt_by_day(codes_by_day=wanted)
    for item, encounter in zip(batch, encounters, strict=True):
        listed = (
            lists.get(encounter.date_of_service) if encounter.is_inpatient else None
        )
        if listed is not None:
            item["diagnoses"] = [
                (c, "" if normalize_code(c) in listed.exempt else p)
                for c, p in item["diagnoses"]
            ]


# Combination codes the guidelines presume (I.C.9.a hypertension with heart failure
# or CKD, I.A.15 diabetes "with" CKD): drawn secondaries are combined the way a coder
# must, so the demo's only mistakes are the deliberate ones (MISTAKE_RATE).
COMBINED = ("I12.9", "I13.0")


def _combined(diagnoses: list[tuple[str, str]]) -> list[tuple[str, str]]:
    codes = {c for c, _ in diagnoses}
    ckd = any(c.startswith("N18") for c in codes)
    failure = any(c.startswith("I50") for c in codes)
    replace = {}
    if ckd:
        replace = {"I10": "I13.0" if failure else "I12.9", "I11.0": "I13.0"}
    elif failure:
        replace = {"I10": "I11.0"}
    out = [(replace.get(c, c), poa) for c, poa in diagnoses]
    if "E11.22" in codes and not ckd:
        out.append(("N18.30", out[0][1]))
    return list(dict.fromkeys(out))


def _one(
    rng: random.Random,
    number: int,
    first_discharge: dt.date,
    span: int,
    inpatient_share: float,
    coded_share: float,
) -> dict:
    scenario = rng.choice(INPATIENT if rng.random() < inpatient_share else OUTPATIENT)
    sex = scenario.sex or rng.choice("FM")
    age = rng.randint(*scenario.ages)
    discharge = first_discharge + dt.timedelta(days=rng.randint(0, span))
    inpatient = scenario.type == "inpatient"
    stay = rng.randint(*scenario.stay_days) if inpatient else 0
    admit = discharge - dt.timedelta(days=stay)
    birth = discharge - dt.timedelta(days=age * 365 + rng.randint(0, 364))
    coded = rng.random() < coded_share
    poa = "Y" if inpatient else ""
    diagnoses = _combined(
        [(scenario.principal, poa)]
        + [(c, poa) for c, p in scenario.secondaries if rng.random() < p]
    )
    # Proposed codes carry the mistakes real ones do, now and then: a missing POA,
    # a category header instead of the code, a code entered twice.
    if len(diagnoses) > 1 and rng.random() < MISTAKE_RATE:
        n = rng.randrange(1, len(diagnoses))
        code, _poa = diagnoses[n]
        mistake = rng.choice(
            ("poa", "header", "duplicate") if inpatient else ("header", "duplicate")
        )
        if mistake == "poa":
            diagnoses[n] = (code, "")
        elif mistake == "header":
            diagnoses[n] = (code.split(".")[0], _poa)
        else:
            diagnoses.append((code, _poa))
    return {
        "scenario": scenario,
        "age": age,
        "sex": sex,
        "all_diagnoses": diagnoses,
        "diagnoses": diagnoses if coded else [],
        "procedures": list(scenario.procedures) if coded else [],
        "patient": Patient(
            mrn=f"D{number:07d}",
            first_name=rng.choice(FIRST[sex]),
            last_name=rng.choice(LAST),
            birth_date=birth,
            sex=sex,
        ),
        "encounter": Encounter(
            type=scenario.type,
            facility=rng.choice(FACILITIES),
            admit_date=admit,
            discharge_date=discharge if inpatient else None,
            discharge_status=rng.choice(STATUSES) if inpatient else "01",
            attending_provider=rng.choice(PROVIDERS),
        ),
    }


def _documents(
    scenario: Scenario, item: dict, titles: dict[str, str]
) -> list[tuple[str, str]]:
    """The clinical documents of the case: they describe every condition of the
    stay, coded or not (the coder reads them to code)."""
    named = {
        code: titles[code] for code, _ in item["all_diagnoses"] if titles.get(code)
    }
    kind = (
        "discharge_summary"
        if scenario.type == "inpatient"
        else "emergency_note"
        if scenario.type == "emergency"
        else "progress_note"
    )
    out = [(kind, _document_text(scenario, named, item["age"], item["sex"]))]
    if scenario.procedures:
        out.append(
            (
                "operative_note",
                f"PROCEDURE: {scenario.name} surgery as planned. Findings as expected; "
                "no complications. Estimated blood loss 50 mL.",
            )
        )
    return out


def _arrival(encounter: Encounter) -> dt.datetime:
    """When the demo's feed brought the encounter: the morning after discharge (or
    the visit), never later than now."""
    day = encounter.discharge_date or encounter.admit_date
    morning = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8), tzinfo=dt.UTC)
    return min(morning, timezone.now())


def demo_encounters_submit(*, share: float, seed: int = 1) -> dict[str, int]:
    """Have the demo coder submit ``share`` of all the encounters (picked among the
    coded, unassigned ones, as many as there are), and audit them now (as the job
    would): the audit queue, the returned encounters and the accuracy table then
    have something to show."""
    from encounters.audit.engine import audit_encounters

    coder = User.objects.filter(username="coder").first()
    if coder is None:
        return {}
    rng = random.Random(seed)  # noqa: S311 - demo data, not secrets
    ids = list(
        Encounter.objects.filter(
            assigned_to__isnull=True, status="ready", diagnoses__isnull=False
        )
        .distinct()
        .values_list("id", flat=True)
    )
    wanted = round(share * Encounter.objects.count())
    chosen = sorted(rng.sample(ids, min(wanted, len(ids))))
    now = timezone.now()
    window = dt.timedelta(days=20)
    changes = []
    for encounter in Encounter.objects.filter(id__in=chosen).order_by("id"):
        # The history a coder leaves (encounter_claim, encounter_submit): the claim,
        # then the submit 5 to 45 minutes later carrying the start of its pass, so
        # that the history, the productivity report and the accuracy table read the
        # demo as they read a real floor. The submit: in the last 20 days, an hour at
        # least after the feed brought the encounter.
        earliest = max(_arrival(encounter) + dt.timedelta(hours=1), now - window)
        earliest = min(earliest, now)
        submitted_at = earliest + (now - earliest) * rng.random()
        claimed_at = submitted_at - dt.timedelta(minutes=rng.randint(5, 45))
        snapshot = coding_snapshot(encounter)
        changes += [
            CodingChange(
                encounter=encounter,
                action=CodingChange.Action.CLAIMED,
                changed_by=coder,
                changed_at=claimed_at,
                version=2,
            ),
            CodingChange(
                encounter=encounter,
                action=CodingChange.Action.SUBMITTED,
                changed_by=coder,
                changed_at=submitted_at,
                version=3,
                before=snapshot,
                after=snapshot,
                started_at=claimed_at,
                encounter_type=encounter.type,
            ),
        ]
        Encounter.objects.filter(id=encounter.id).update(
            assigned_to=coder,
            status="submitted",
            submitted_at=submitted_at,
            version=3,
        )
    CodingChange.objects.bulk_create(changes)
    stats = audit_encounters(encounter_ids=chosen, trigger="submit", seed=seed)
    return {str(k): v for k, v in stats.routed.items()}


# Illustrative IPPS figures for the demo facilities, so that the demo shows payment
# estimates: NOT CMS's figures. A site sets its own from the IPPS final rule
# (docs/payment.md); the rate history records these as "demo".
DEMO_RATES = {
    "General": ("6700.00", "510.00", "1.0500"),
    "North Campus": ("6700.00", "510.00", "0.9200"),
    "Riverside": ("6700.00", "510.00", "1.1800"),
}


def demo_payment_rates_ensure(fiscal_years: Iterable[int]) -> list[str]:
    """Set the demo facilities' illustrative rates for the fiscal years where they
    have none (never replaces a site's own); the facility-years set."""
    from codesets.selectors import payment_rate_for
    from codesets.services import payment_rate_set

    done = []
    for year in sorted(set(fiscal_years)):
        for facility, (operating, capital, wage_index) in DEMO_RATES.items():
            if payment_rate_for(facility=facility, fiscal_year=year) is not None:
                continue
            payment_rate_set(
                facility=facility,
                fiscal_year=year,
                operating=Decimal(operating),
                capital=Decimal(capital),
                wage_index=Decimal(wage_index),
                via="demo",
                note="Illustrative demo figures, not CMS's: replace with the "
                "facility's own from the IPPS final rule (docs/payment.md).",
            )
            done.append(f"{facility} FY{year}")
    return done
