"""Store HCPCS 2019 and 2020 as releases and check the stored diff against CMS.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench \\
        .venv/bin/python bench/check_hcpcs_storage.py [--db-url URL] [--data DIR]

Steps, on a database of its own (the name must contain "bench": the code-set tables
are emptied first; pending migrations are applied):

1. **Ours, through the product**: ``codesets.services.release_import_now`` on the
   real 2019 annual file (activated from 2019-01-01), then the 2020 file (diffed
   against 2019 at import, then activated from 2020-01-01). Read back from the
   database: the releases' counts and stored diff, the codes and modifiers valid on
   2020-01-01 (release in force on the day, then the per-code dates: the SQL of
   ``selectors.code_on``), and the added/deleted codes of ``release_diff_rows``.
2. **Independent, plain Python** (no code shared with ``codesets/``): the raw 320-byte
   records read by column (1-5 code, 11 record id 3/7, 269-276 added date, 285-292
   termination date). A code is valid on a day when added <= day <= termination (no
   termination: open). Added = valid on 2020-01-01 in the 2020 file and not in the
   2019 file; deleted = the other way round. This is the rule the product's diff
   applies (both releases judged on the new release's first day), so the sets must
   be equal, code by code.
3. **CMS's own change report** for 2020 (``Changes_by_ActionCode.prn`` and
   ``Changes_by_HCPC.prn``, the same lines in two orders: checked equal), counted
   per "ACTION CD"; its ADD and Discontinued lines are compared code by code with
   our added/deleted, and every difference is put in a named category computed from
   the raw files (and the 2019 corrections files). A difference that fits no
   category fails the check.

Exit status 1 when ours and the independent count differ, the two CMS reports
disagree, or a difference with the report is unexplained.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

# The CMS change report and corrections readers are the ones of the change-report
# check (this folder is on sys.path when a bench script runs).
from check_hcpcs_changes import read_corrections, read_report

ROOT = Path(__file__).resolve().parent.parent
FILE_2019 = "hcpcs/2019/HCPC2019_CONTR_ANWEB.txt"
FILE_2020 = "hcpcs/2020/HCPC2020_ANWEB_w_disclaimer.txt"
REPORTS = ("hcpcs/2020/Changes_by_ActionCode.prn", "hcpcs/2020/Changes_by_HCPC.prn")
CORRECTIONS_2019 = (
    "hcpcs/2019/HCPC2019_Corrections_ALPHA.prn",
    "hcpcs/2019/HCPC2019_Corrections_ALPHA_v2.prn",
)
DAY_2019 = dt.date(2019, 1, 1)
DAY_2020 = dt.date(2020, 1, 1)
TABLES = ("codesets_release", "codesets_code", "codesets_note", "codesets_pcstable")


# --- independent reading of the raw files (plain Python) --------------------------


def raw_records(path: Path) -> dict[str, tuple[dt.date, dt.date | None]]:
    """code or modifier -> (added, terminated), from the first line of each record."""
    out = {}
    for line in path.read_bytes().decode("cp1252").splitlines():
        if len(line) < 293 or not line[5:11].isdigit() or line[10] not in "37":
            continue
        key = line[:5].strip()
        added = dt.datetime.strptime(line[268:276], "%Y%m%d").date()  # noqa: DTZ007
        term = line[284:292].strip()
        out[key] = (
            added,
            dt.datetime.strptime(term, "%Y%m%d").date() if term else None,  # noqa: DTZ007
        )
    return out


def raw_valid(records: dict, day: dt.date) -> set[str]:
    return {
        k
        for k, (start, end) in records.items()
        if start <= day and (not end or day <= end)
    }


def show(codes: set[str], limit: int = 14) -> str:
    ordered = sorted(codes)
    text = " ".join(ordered[:limit])
    return text + (f" ... (+{len(ordered) - limit})" if len(ordered) > limit else "")


# --- the product -------------------------------------------------------------------


def configure(db_url: str | None) -> str:
    url = db_url or os.environ.get("DATABASE_URL", "")
    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        sys.exit(
            f"Refusing database {name!r}: this check empties the code-set tables, so the "
            "database name must contain 'bench' (give --db-url)."
        )
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "coding_app.settings"
    os.environ.setdefault("DEV_MODE", "1")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/2")
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="bench-media-")
    sys.path.insert(0, str(ROOT))
    return name


def prepare_database() -> None:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, skip_checks=True)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")


VALID_SQL = """
SELECT c.code, c.kind FROM codesets_code c
WHERE c.system = 'hcpcs' AND c.release_ids @> ARRAY[(
      SELECT r.id FROM codesets_release r
      WHERE r.system = 'hcpcs' AND r.state IN ('active', 'retired')
        AND r.effective_from <= %(day)s AND (r.effective_to IS NULL OR r.effective_to >= %(day)s)
      LIMIT 1)]
  AND (c.valid_from IS NULL OR c.valid_from <= %(day)s)
  AND (c.valid_to IS NULL OR c.valid_to >= %(day)s)
"""


def product(data: Path) -> dict:
    from django.db import connection

    from codesets.selectors import code_on, release_diff_rows
    from codesets.services import release_activate, release_import_now

    out: dict = {}
    for year, rel in ((2019, FILE_2019), (2020, FILE_2020)):
        start = time.perf_counter()
        release = release_import_now(path=data / rel)
        seconds = time.perf_counter() - start
        release = release_activate(
            release_id=release.id,
            user_id=None,
            effective_from=dt.date(year, 1, 1),
            effective_to=dt.date(year, 12, 31),
        )
        out[year] = {"release": release, "seconds": seconds}
    new = out[2020]["release"]
    rows = release_diff_rows(release=new, base=out[2019]["release"])
    out["added"] = {r.code for r in rows if "added" in r.changes}
    out["deleted"] = {r.code for r in rows if "deleted" in r.changes}
    out["revised"] = {r.code for r in rows if "revised" in r.changes}
    for day in (DAY_2019, DAY_2020):
        with connection.cursor() as cursor:
            cursor.execute(VALID_SQL, {"day": day})
            out[day] = dict(cursor.fetchall())
    # Spot checks through the selector the audit will use.
    out["spot"] = {
        code: (
            code_on(system="hcpcs", code=code, day=dt.date(2019, 12, 31)) is not None,
            code_on(system="hcpcs", code=code, day=DAY_2020) is not None,
        )
        for code in sorted(out["deleted"])[:3] + sorted(out["added"])[:3]
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db-url")
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    args = parser.parse_args()
    name = configure(args.db_url)
    import django

    django.setup()
    prepare_database()
    print(f"database {name}")
    ok = True

    ours = product(args.data)
    r19, r20 = ours[2019]["release"], ours[2020]["release"]
    valid20 = ours[DAY_2020]
    print("\n1. ours (stored releases, read back from the database)")
    for year, r in ((2019, r19), (2020, r20)):
        print(
            f"  {r.label}: {r.code_count:,} rows = {r.billable_count:,} codes + "
            f"{r.code_count - r.billable_count} modifiers, imported in {ours[year]['seconds']:.1f} s, "
            f"effective {r.effective_from} to {r.effective_to}"
        )
    for day in (DAY_2019, DAY_2020):
        kinds = Counter(ours[day].values())
        print(
            f"  valid on {day}: {kinds['code']:,} codes, {kinds['modifier']} modifiers"
        )
    diff = r20.diff
    print(
        f"  stored diff {r20.label} vs {r19.label}: added {diff['added']}, deleted {diff['deleted']}, "
        f"revised {diff['revised']}, dates changed {diff.get('dates_changed', 0)}"
    )
    print(
        "  code_on spot checks (valid 2019-12-31, valid 2020-01-01): "
        + ", ".join(f"{c} {a}/{b}" for c, (a, b) in ours["spot"].items())
    )

    print("\n2. independent (plain Python over the raw records)")
    raw19 = raw_records(args.data / FILE_2019)
    raw20 = raw_records(args.data / FILE_2020)
    v19_on20, v20_on20 = raw_valid(raw19, DAY_2020), raw_valid(raw20, DAY_2020)
    added, deleted = v20_on20 - v19_on20, v19_on20 - v20_on20
    for year, raw in ((2019, raw19), (2020, raw20)):
        mods = sum(len(k) == 2 for k in raw)
        print(f"  {year} file: {len(raw) - mods:,} codes + {mods} modifiers")
    print(
        f"  valid on {DAY_2020} (2020 file): {sum(len(k) == 5 for k in v20_on20):,} codes, "
        f"{sum(len(k) == 2 for k in v20_on20)} modifiers"
    )
    print(
        f"  added {len(added)} ({sum(len(k) == 5 for k in added)} codes, {sum(len(k) == 2 for k in added)} modifiers), "
        f"deleted {len(deleted)} ({sum(len(k) == 5 for k in deleted)} codes, {sum(len(k) == 2 for k in deleted)} modifiers)"
    )
    checks = [
        ("valid on 2020-01-01", set(valid20), v20_on20),
        ("added", ours["added"], added),
        ("deleted", ours["deleted"], deleted),
    ]
    for what, mine, theirs in checks:
        same = mine == theirs
        ok &= same
        print(
            f"  ours vs independent, {what}: {len(mine)} vs {len(theirs)}, "
            + ("same codes" if same else f"DIFFER: {show(mine ^ theirs)}")
        )
    same = diff["added"] == len(added) and diff["deleted"] == len(deleted)
    ok &= same
    print(
        f"  stored release.diff counts vs independent: {'agree' if same else 'DIFFER'}"
    )

    print("\n3. CMS change report 2020")
    by_action, by_code = (read_report(args.data / p) for p in REPORTS)
    agree = by_action == by_code
    ok &= agree
    print(
        f"  {REPORTS[0]}: {len(by_action):,} lines; {REPORTS[1]}: {len(by_code):,} lines; "
        + ("same code -> action" if agree else "THE TWO REPORTS DIFFER")
    )
    counts = Counter(by_action.values())
    print("  " + ", ".join(f"{label} {n:,}" for label, n in counts.most_common()))
    report_add = {k for k, v in by_action.items() if v == "ADD"}
    report_del = {k for k, v in by_action.items() if v.startswith("Discontinued")}
    print(
        f"  report ADD {len(report_add)} vs our added {len(ours['added'])} (common {len(report_add & ours['added'])}); "
        f"report Discontinued {len(report_del)} vs our deleted {len(ours['deleted'])} "
        f"(common {len(report_del & ours['deleted'])})"
    )
    report_rev = {k for k, v in by_action.items() if "Description Chan" in v}
    same = report_rev == ours["revised"]
    ok &= same
    print(
        f"  report Long/Short Description Change {len(report_rev)} vs our revised titles "
        f"{len(ours['revised'])}: "
        + ("same codes" if same else f"DIFFER: {show(report_rev ^ ours['revised'])}")
    )
    corrections = read_corrections([args.data / p for p in CORRECTIONS_2019])

    def explain(title: str, codes: set[str], reasons: list) -> None:
        nonlocal ok
        if not codes:
            return
        print(f"  {title} ({len(codes)}):")
        rest = set(codes)
        for label, test in reasons:
            hit = {k for k in rest if test(k)}
            if hit:
                print(f"    {len(hit):>3} {label}: {show(hit)}")
            rest -= hit
        if rest:
            ok = False
            print(f"    {len(rest):>3} UNEXPLAINED: {show(rest)}")

    explain(
        "our added, not ADD in the report",
        ours["added"] - report_add,
        [
            (
                "absent from the 2019 annual file, added by 2019-01-01, in the 2019 corrections files",
                lambda k: (
                    k not in raw19 and raw20[k][0] <= DAY_2019 and k in corrections
                ),
            ),
            (
                "absent from the 2019 annual file though dated by 2019-01-01 (added after the annual file "
                "was cut; not in the corrections files we hold)",
                lambda k: k not in raw19 and raw20[k][0] <= DAY_2019,
            ),
            (
                "absent from the 2019 annual file, added during 2019 (a quarterly update)",
                lambda k: k not in raw19,
            ),
        ],
    )
    explain(
        "ADD in the report, not our added",
        report_add - ours["added"],
        [
            (
                "added and terminated before 2020-01-01 (never valid in 2020)",
                lambda k: k in raw20 and k not in v20_on20,
            ),
            ("valid in both files on 2020-01-01 (re-dated)", lambda k: k in v19_on20),
        ],
    )
    explain(
        "Discontinued in the report, not our deleted",
        report_del - ours["deleted"],
        [
            (
                "added after 2019-01-01 and terminated before 2020-01-01: quarterly codes, in neither annual "
                "file's valid set",
                lambda k: k not in v19_on20 and raw20[k][0] > DAY_2019,
            ),
            ("not valid under the 2019 file", lambda k: k not in v19_on20),
        ],
    )
    explain(
        "our deleted, not Discontinued in the report",
        ours["deleted"] - report_del,
        [
            (
                "dropped from the 2020 file without a termination record",
                lambda k: k not in raw20,
            ),
            (
                "terminated retroactively before 2019-01-01 in the 2020 file; in the 2019 corrections",
                lambda k: (raw20[k][1] or DAY_2020) < DAY_2019 and k in corrections,
            ),
            (
                "terminated retroactively before 2019-01-01 in the 2020 file",
                lambda k: (raw20[k][1] or DAY_2020) < DAY_2019,
            ),
        ],
    )
    print(
        "\nHow compared: sets of codes and modifiers, code by code (not only counts). "
        "Ours = rows of the stored releases; independent = raw columns of the files; "
        "CMS = the ACTION CD of each report line."
    )
    print(
        "all checks pass; every difference with CMS's report is explained"
        if ok
        else "SOME CHECKS FAIL"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
