"""Check the HCPCS record importer year over year against CMS's own change reports.

    .venv/bin/python bench/check_hcpcs_changes.py [--data /work/shared/data]

For each pair of annual files (2018 -> 2019 and 2019 -> 2020) it prints:

* codes and modifiers in each file (as parsed by ``codesets.importers.hcpcs_record``)
  and how many are valid on January 1 of the file's year (valid_from <= day and
  no valid_to or day <= valid_to);
* the codes added and deleted by our parse, judged by the dates: added = valid on
  January 1 of the new year (new file) and not valid on January 1 of the old year
  (old file); deleted = the other way round;
* CMS's change report of the new year (``Changes_by_ActionCode.prn``: one line per
  code and modifier of the new file, with its "type of change") counted per
  action, each action matched to the action code of column 293 (ADD = A,
  Discontinued = D, No Change = N, Payment Change = P, Long Description Change = C,
  Short Description Change = S, Coverage Change = F, Coverage and Long
  Description = B) and compared code by code with our parse of the new file;
* our date-based adds/deletes against the report's ADD/Discontinued lines, with
  every difference put in a named category that explains it.

Exit status 1 when the report and the file's action codes disagree for any code
or a difference falls in no category.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codesets.importers.hcpcs_record import IMPORTER as HCPCS

FILES = {
    2018: "2018/HCPC2018_CONTR_ANWEB_disc.txt",
    2019: "2019/HCPC2019_CONTR_ANWEB.txt",
    2020: "2020/HCPC2020_ANWEB_w_disclaimer.txt",
}
REPORTS = {
    2019: "2019/Changes_by_ActionCode.prn",
    2020: "2020/Changes_by_ActionCode.prn",
}
CORRECTIONS = {
    2019: [
        "2019/HCPC2019_Corrections_ALPHA.prn",
        "2019/HCPC2019_Corrections_ALPHA_v2.prn",
    ]
}

# Report label (its column is cut to ~20 characters) -> action code of column 293.
LABELS = (
    ("ADD", "A"),
    ("Discontinued", "D"),
    ("No Change", "N"),
    ("Payment Change", "P"),
    ("Long Description Chang", "C"),
    ("Short Description Chan", "S"),
    ("Coverage and Long Desc", "B"),
    ("Coverage Change", "F"),
)


def label_code(label: str) -> str:
    for prefix, code in LABELS:
        if label.startswith(prefix):
            return code
    return "?"


def read_report(path: Path) -> dict[str, str]:
    """code or modifier -> type-of-change label, from a fixed-width .prn change report."""
    lines = path.read_bytes().decode("cp1252").splitlines()
    header = next(i for i, line in enumerate(lines) if "SHORT DESCRIPTION" in line)
    short_col = lines[header].index("SHORT DESCRIPTION")
    report = {}
    for line in lines[header + 1 :]:
        if not line.strip():
            continue
        match = re.match(r"\s*([A-Z0-9]{2}|[A-Z][0-9]{4})\s", line)
        if not match:
            raise SystemExit(f"{path}: unexpected line {line[:60]!r}")
        report[match.group(1)] = line[match.end() : short_col].strip()
    return report


def read_corrections(paths: list[Path]) -> set[str]:
    codes = set()
    for path in paths:
        for line in path.read_bytes().decode("cp1252").splitlines():
            match = re.match(r"\s{0,3}([A-Z][0-9]{4}|[A-Z0-9]{2})\s", line)
            if match and not line.lstrip().startswith("CODE"):
                codes.add(match.group(1))
    return codes


def entries(result, modifier_action: dict[str, str]) -> dict[str, tuple]:
    """code or modifier -> (valid_from, valid_to, action code)."""
    out = {
        c.code: (c.valid_from, c.valid_to, dict(c.extra)["action_code"])
        for c in result.codes
    }
    for modifier, _short, _long, start, end in result.modifiers:
        out[modifier] = (start, end, modifier_action.get(modifier, ""))
    return out


def modifier_actions(path: Path) -> dict[str, str]:
    """Modifiers carry no extra in the importer contract: their action code
    (column 293) is read back from the file for this comparison only."""
    actions = {}
    for line in path.read_bytes().decode("cp1252").splitlines():
        if len(line) >= 293 and line[10] == "7" and line[5:10].isdigit():
            actions[line[3:5]] = line[292]
    return actions


def valid_on(items: dict[str, tuple], day: dt.date) -> set[str]:
    return {
        k
        for k, (start, end, _a) in items.items()
        if start <= day and (end is None or day <= end)
    }


def show(codes, limit: int = 20) -> str:
    codes = sorted(codes)
    text = " ".join(codes[:limit])
    return text + (f" ... (+{len(codes) - limit})" if len(codes) > limit else "")


def compare(data: Path, old_year: int, new_year: int, parsed: dict) -> bool:
    ok = True
    old, new = parsed[old_year], parsed[new_year]
    old_day, new_day = dt.date(old_year, 1, 1), dt.date(new_year, 1, 1)
    old_items = entries(old, modifier_actions(data / FILES[old_year]))
    new_items = entries(new, modifier_actions(data / FILES[new_year]))
    old_valid, new_valid = valid_on(old_items, old_day), valid_on(new_items, new_day)
    added, deleted = new_valid - old_valid, old_valid - new_valid
    mods_old = {m[0] for m in old.modifiers}
    mods_new = {m[0] for m in new.modifiers}

    print(f"\n=== {old_year} -> {new_year}")
    for year, result, valid, mods, day in (
        (old_year, old, old_valid, mods_old, old_day),
        (new_year, new, new_valid, mods_new, new_day),
    ):
        print(
            f"{year} file (version {result.version}): {len(result.codes):,} codes, {len(result.modifiers)} modifiers; "
            f"valid on {day}: {len(valid - mods):,} codes, {len(valid & mods)} modifiers"
        )
    print(
        f"our parse, by dates: added {len(added)} ({len(added - mods_new)} codes, {len(added & mods_new)} modifiers), "
        f"deleted {len(deleted)} ({len(deleted - mods_old)} codes, {len(deleted & mods_old)} modifiers)"
    )

    report = read_report(data / REPORTS[new_year])
    counts = Counter(report.values())
    by_code = Counter()
    for label, n in counts.items():
        by_code[label_code(label)] += n
    ours = Counter(action for _s, _e, action in new_items.values())
    print(f"CMS change report {REPORTS[new_year]}: {len(report):,} lines")
    for code in sorted(set(by_code) | set(ours)):
        labels = sorted(
            {(label_code(lbl) == code and lbl[:22]) or "" for lbl in counts} - {""}
        )
        shown = (
            labels[0]
            if len(labels) == 1
            else f"{labels[0]} ... ({len(labels)} labels)"
            if labels
            else "-"
        )
        flag = "agree" if by_code[code] == ours[code] else "DIFFER"
        print(
            f"  {code} {shown:<40} report {by_code[code]:>5}  our action codes {ours[code]:>5}  {flag}"
        )
        ok &= by_code[code] == ours[code]
    mismatch = [
        k
        for k in set(report) | set(new_items)
        if label_code(report.get(k, "")) != (new_items[k][2] if k in new_items else "")
    ]
    print(
        f"  code by code: {len(report) - len(mismatch):,} agree, {len(mismatch)} differ {show(mismatch)}"
    )
    ok &= not mismatch

    report_add = {k for k, v in report.items() if label_code(v) == "A"}
    report_del = {k for k, v in report.items() if label_code(v) == "D"}
    corrections = set()
    if old_year in CORRECTIONS:
        corrections = read_corrections([data / p for p in CORRECTIONS[old_year]])
    print(
        f"date-based vs report: added {len(added)} vs ADD {len(report_add)} (common {len(added & report_add)}); "
        f"deleted {len(deleted)} vs Discontinued {len(report_del)} (common {len(deleted & report_del)})"
    )

    def explain(codes, reasons) -> None:
        nonlocal ok
        rest = set(codes)
        for title, test in reasons:
            hit = {k for k in rest if test(k)}
            if hit:
                print(f"    {len(hit):>3} {title}: {show(hit)}")
            rest -= hit
        if rest:
            ok = False
            print(f"    {len(rest):>3} UNEXPLAINED: {show(rest)}")

    def in_old(k):
        return k in old_items

    if added - report_add:
        print(f"  added by dates, not ADD in the report ({len(added - report_add)}):")
        explain(
            added - report_add,
            [
                (
                    f"missing from the {old_year} file though added by {old_day} and listed in the {old_year} corrections files",
                    lambda k: (
                        not in_old(k)
                        and new_items[k][0] <= old_day
                        and k in corrections
                    ),
                ),
                (
                    f"missing from the {old_year} file though added by {old_day} (added after the annual file was cut; "
                    "not in the corrections we hold)",
                    lambda k: not in_old(k) and new_items[k][0] <= old_day,
                ),
                (
                    f"missing from the {old_year} file, added during {old_year}; the report gives another action",
                    lambda k: not in_old(k),
                ),
            ],
        )
    if report_add - added:
        print(f"  ADD in the report, not added by dates ({len(report_add - added)}):")
        explain(
            report_add - added,
            [
                (
                    f"in the {old_year} file and valid on {old_day}: the {new_year} file re-dates them (added date moved)",
                    lambda k: k in old_valid and k in new_valid,
                ),
                (
                    f"added and terminated between {old_day} and {new_day}",
                    lambda k: k not in new_valid,
                ),
            ],
        )
    if report_del - deleted:
        print(
            f"  Discontinued in the report, not deleted by dates ({len(report_del - deleted)}):"
        )
        explain(
            report_del - deleted,
            [
                (
                    f"added after {old_day} and terminated before {new_day} (quarterly codes valid on neither day)",
                    lambda k: (
                        new_items[k][0] > old_day
                        and new_items[k][1] is not None
                        and new_items[k][1] < new_day
                    ),
                ),
                (
                    f"not valid on {old_day} in the {old_year} file",
                    lambda k: k not in old_valid,
                ),
            ],
        )
    if deleted - report_del:
        print(
            f"  deleted by dates, not Discontinued in the report ({len(deleted - report_del)}):"
        )
        explain(
            deleted - report_del,
            [
                (
                    f"dropped from the {new_year} file without a termination record",
                    lambda k: k not in new_items,
                ),
                (
                    f"terminated retroactively (termination date before {old_day}) with another action code; "
                    f"listed in the {old_year} corrections",
                    lambda k: (
                        new_items[k][1] is not None
                        and new_items[k][1] < old_day
                        and k in corrections
                    ),
                ),
                (
                    f"terminated retroactively (termination date before {old_day}) with another action code",
                    lambda k: new_items[k][1] is not None and new_items[k][1] < old_day,
                ),
            ],
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    data = parser.parse_args().data / "hcpcs"
    parsed = {}
    for year, rel in FILES.items():
        start = time.perf_counter()
        parsed[year] = HCPCS.parse(data / rel)
        print(
            f"parsed {rel} in {time.perf_counter() - start:.2f} s; warnings: {parsed[year].warnings}"
        )
    ok = True
    for old_year, new_year in ((2018, 2019), (2019, 2020)):
        ok &= compare(data, old_year, new_year, parsed)
    print(
        "\nall differences explained, action codes agree"
        if ok
        else "\nSOME DIFFERENCES ARE NOT EXPLAINED"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
