"""Check the ICD-10-CM importers on the full official files and time them.

    .venv/bin/python bench/check_icd10cm_counts.py [--data /work/shared/data]

Prints, for the FY2025-April and FY2026-April tabular files, the number of code
nodes (chapters and blocks excluded), billable codes and headers, and the parse
time; checks the FY2026 counts against the FY2027 addenda footer (which counts
the FY2026 order file) by applying the addenda; compares the FY2021 tabular's
expanded codes with the FY2021 order file (codes, billable flags, long titles,
parents).
"""

from __future__ import annotations

import argparse
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from codesets.importers.icd10cm_addenda import IMPORTER as ADDENDA
from codesets.importers.icd10cm_codes import IMPORTER as CODES
from codesets.importers.icd10cm_order import IMPORTER as ORDER
from codesets.importers.icd10cm_tabular import IMPORTER as TABULAR


def timed(importer, path: Path):
    start = time.perf_counter()
    result = importer.parse(path)
    return result, time.perf_counter() - start


def fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    data = parser.parse_args().data / "icd10cm"

    tabular = {}
    for label, rel in (
        ("FY2021 Jan", "fy2021_jan/icd10cm_tabular_2021.xml"),
        ("FY2025 April", "fy2025_april/icd10cm-tabular-April-2025.xml"),
        ("FY2026 April", "fy2026_april/icd10c-tabular-April-1-2026.xml"),
    ):
        result, seconds = timed(TABULAR, data / rel)
        tabular[label] = result
        nodes = [c for c in result.codes if c.kind in ("category", "code")]
        billable = sum(c.billable for c in nodes)
        print(
            f"{label} tabular (version {result.version}): {len(nodes):,} codes excl. "
            f"chapters/blocks ({billable:,} billable, {len(nodes) - billable:,} headers), "
            f"{sum(c.kind == 'chapter' for c in result.codes)} chapters, "
            f"{sum(c.kind == 'block' for c in result.codes)} blocks, "
            f"{len(result.notes):,} notes; parsed in {seconds:.2f} s"
        )
        for warning in result.warnings:
            print(f"    warning: {warning}")

    addenda, seconds = timed(ADDENDA, data / "fy2027/icd10cm_order_addenda_2027.txt")
    print(
        f"FY2027 addenda: {len(addenda.changes)} changes, stated {addenda.stated_counts}, {seconds:.2f} s"
    )
    current = {
        c.code: c.billable
        for c in tabular["FY2026 April"].codes
        if c.kind in ("category", "code")
    }
    print(
        f"  FY2026 April tabular: {sum(current.values()):,} billable, "
        f"{sum(not v for v in current.values()):,} headers "
        "(footer: 74,719 codes and 23,467 headers in icd10cm_order_2026.txt)"
    )
    problems = []
    for change in addenda.changes:
        if change.action == "delete":
            if current.pop(change.code, None) is None:
                problems.append(f"delete of missing {change.code}")
        elif change.action == "add":
            if change.code in current:
                problems.append(f"add of existing {change.code}")
            current[change.code] = change.billable
        else:
            if change.code not in current:
                problems.append(f"revise of missing {change.code}")
            current[change.code] = change.billable
    print(
        f"  after applying the addenda: {sum(current.values()):,} billable, "
        f"{sum(not v for v in current.values()):,} headers "
        f"(footer: {addenda.stated_counts['codes']:,} codes); problems: {problems or 'none'}"
    )

    order, seconds = timed(ORDER, data / "fy2021_jan/icd10cm-order-Jan-2021.txt")
    print(
        f"FY2021 order file: {len(order.codes):,} records, {sum(c.billable for c in order.codes):,} billable; {seconds:.2f} s"
    )
    ours = {
        c.code: c for c in tabular["FY2021 Jan"].codes if c.kind in ("category", "code")
    }
    theirs = {c.code: c for c in order.codes}
    common = ours.keys() & theirs.keys()
    titles = [k for k in common if ours[k].long_title != theirs[k].long_title]
    print(
        f"  codes only in tabular: {sorted(ours.keys() - theirs.keys())[:10]}, only in order file: "
        f"{sorted(theirs.keys() - ours.keys())[:10]}; same order: {list(ours) == list(theirs)}"
    )
    print(
        f"  billable flag mismatches: {sum(ours[k].billable != theirs[k].billable for k in common)}"
    )
    print(
        f"  long titles equal: {len(common) - len(titles):,}/{len(common):,} "
        f"({100 * (len(common) - len(titles)) / len(common):.2f} %); "
        f"equal after folding diacritics: {sum(fold(ours[k].long_title) == theirs[k].long_title for k in common):,}"
    )
    for k in sorted(titles)[:5]:
        print(f"    {k}: {ours[k].long_title!r} vs {theirs[k].long_title!r}")
    parents = [
        k
        for k in common
        if ours[k].kind == "code" and ours[k].parent != theirs[k].parent
    ]
    print(
        f"  parent differences (tabular nesting vs longest prefix): {[(k, ours[k].parent, theirs[k].parent) for k in parents]}"
    )

    codes, seconds = timed(CODES, data / "fy2024/icd10cm-codes-2024.txt")
    print(f"FY2024 codes file: {len(codes.codes):,} codes; {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
