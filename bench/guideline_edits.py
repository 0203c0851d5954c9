"""Benchmark: what the guideline-edit rules cost the audit (not a test).

    export DEV_MODE=1 REDIS_URL=redis://127.0.0.1:6379/3 \\
           DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_guide
    .venv/bin/python bench/guideline_edits.py [--cases 10000] [--seed 1]

Builds encounters the way ``seed_demo`` codes them (``encounters.demo`` scenarios:
principal plus each secondary at its probability; no mistakes added), and times, per
encounter, in process:

* the three rules' table matching (``combination-code``, ``symptom-principal``,
  ``symptom-integral`` through ``encounters.audit.rules.RULES``) without the MS-DRG
  part, on every encounter: the cost every audit pays;
* ``guideline_edits.drg_change`` (two ``drg_group`` calls) on the encounters a row
  fires on: the extra cost of those only.

Prints how often each row fires on the demo coding. The database only serves the
Table 5 weight lookup inside ``drg_group`` (a migrated database; no data needed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")

import django

django.setup()

from codesets.models import display_code, normalize_code  # noqa: E402
from encounters.audit import guideline_edits  # noqa: E402
from encounters.audit.rules import Case, Dx  # noqa: E402
from encounters.demo import INPATIENT, OUTPATIENT  # noqa: E402

DOS = dt.date(2026, 5, 14)


def demo_cases(n: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    scenarios = [*INPATIENT, *OUTPATIENT]
    out = []
    for i in range(n):
        s = rng.choice(scenarios)
        codes = [s.principal] + [c for c, p in s.secondaries if rng.random() < p]
        inpatient = s.type == "inpatient"
        out.append(
            Case(
                encounter_id=i,
                type=s.type,
                dos=DOS,
                age=rng.randint(*s.ages),
                sex=rng.choice("MF"),
                discharge_status="01",
                diagnoses=[
                    Dx(
                        normalize_code(c),
                        display_code("icd10cm", normalize_code(c)),
                        "Y" if inpatient else "",
                        n,
                    )
                    for n, c in enumerate(codes, start=1)
                ],
                procedures=[],
                releases={},
                loaded=set(),
                length_of_stay=rng.randint(*s.stay_days) if inpatient else None,
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cases = demo_cases(args.cases, args.seed)

    fired: Counter[str] = Counter()
    hits = []
    for rep in (1, 2):
        start = time.perf_counter()
        for case in cases:
            found = [
                *guideline_edits.combinations(case.diagnoses),
                *filter(
                    None,
                    [
                        guideline_edits.symptom_principal(
                            case.diagnoses, inpatient=case.inpatient
                        )
                    ],
                ),
                *guideline_edits.symptoms_integral(
                    case.diagnoses, inpatient=case.inpatient
                ),
            ]
            if rep == 1:
                fired.update(h.key for h in found)
                hits.extend((case, h) for h in found)
        took = time.perf_counter() - start
        print(
            f"table matching, run {rep}: {took / len(cases) * 1e6:.1f} µs per "
            f"encounter ({len(cases):,} encounters)"
        )
    drg = []
    for case, hit in hits:
        start = time.perf_counter()
        guideline_edits.drg_change(case, case.diagnoses, hit)
        drg.append(time.perf_counter() - start)
    drg = drg[1:] or drg  # the first call opens the grouper
    if drg:
        print(
            f"drg_change on the {len(hits):,} hits: median "
            f"{statistics.median(drg) * 1e6:.0f} µs, i.e. "
            f"{sum(drg) / len(cases) * 1e6:.1f} µs per encounter on average"
        )
    print(f"encounters with a hit: {len({id(c) for c, _h in hits}):,}")
    for key, count in fired.most_common():
        print(f"  {key}: {count:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
