"""Check (not a test): the POA-exempt importer on CMS's real FY2025 files.

    createdb -h 127.0.0.1 -U postgres coding_bench_poa
    export DEV_MODE=1 REDIS_URL=redis://127.0.0.1:6379/2 \\
           DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_poa
    .venv/bin/python bench/check_poa_exempt.py [--data ../shared/data/icd10cm/fy2025_poa_exempt]

1. Reads ``POAexemptCodesFY25.txt`` with plain Python (split on tabs, strip the
   quotes a spreadsheet puts around titles holding commas; nothing of the importer)
   and compares with what ``import_codes`` stored: the number of codes (the ReadMe
   says 38,154), every code and its title.
2. Checks the list against CMS's change files: every added code is in it, no
   deleted code is, and each revised code carries its "Revise to:" title.
3. Rebuilds the FY2024 list from the FY2025 one and the change files (added codes
   out, deleted ones back, titles before revision), imports both years as releases
   and checks the FY2025 release's diff: added / deleted / revised = 49 / 5 / 2, the
   change files' counts.
4. Times ``poa_exempt_by_day`` for a chunk of 500 encounters (one query; the first
   also reads the whole list, kept per process).

Imports into the database, so its name must contain "bench". Exit 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "icd10cm" / "fy2025_poa_exempt"


def configure() -> str:
    name = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/")
    if "bench" not in name:
        sys.exit(
            f"Refusing to run on database {name!r}: the name must contain 'bench'."
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coding_app.settings")
    os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="bench-media-")
    return name


def plain_rows(path: Path) -> list[list[str]]:
    """Tab-separated rows after the header; a quoted cell loses its quotes."""
    rows = []
    for line in path.read_text(encoding="ascii").splitlines()[1:]:
        if not line.strip():
            continue
        cells = line.split("\t")
        rows.append(
            [c[1:-1] if c.startswith('"') and c.endswith('"') else c for c in cells]
        )
    return rows


def undot(code: str) -> str:
    return code.replace(".", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    db = configure()
    import django

    django.setup()
    from django.core.management import call_command

    from codesets.models import PoaExemptCode, Release
    from codesets.selectors import poa_exempt_by_day
    from codesets.services import release_discard, release_import_now

    call_command("migrate", verbosity=0)
    for old in Release.objects.filter(
        system="poa_exempt", state__in=["staged", "failed"]
    ):
        release_discard(release_id=old.id)
    Release.objects.filter(system="poa_exempt", state__in=["active", "retired"]).update(
        state="discarded"
    )

    problems: list[str] = []
    listed = plain_rows(args.data / "POAexemptCodesFY25.txt")
    added = plain_rows(args.data / "POAexemptAddCodesFY25.txt")
    deleted = plain_rows(args.data / "POAexemptDeleteCodesFY25.txt")
    revised = plain_rows(args.data / "POAexemptReviseCodesFY25.txt")
    expected = {undot(code): title for _order, code, title in listed}
    print(f"POA-exempt FY2025 on database {db}")
    print(f"plain parse: {len(listed):,} rows, {len(expected):,} distinct codes")

    # 3 first: FY2024 rebuilt, imported and activated before FY2025.
    titles_before = {
        undot(r[2]): r[3] for r in revised if r[1].startswith("Revise from")
    }
    added_codes = {undot(r[1]) for r in added}
    fy24 = {
        c: titles_before.get(c, t) for c, t in expected.items() if c not in added_codes
    }
    fy24.update({undot(code): title for code, title in deleted})
    with tempfile.TemporaryDirectory() as tmp:
        fy24_path = Path(tmp) / "POAexemptCodesFY24_rebuilt.txt"
        fy24_path.write_text(
            "OrdFY24\tPOAexemptCode\tDescription\n"
            + "".join(
                f"{n:05d}\t{c[:3]}.{c[3:]}\t{t}\n"
                if len(c) > 3
                else f"{n:05d}\t{c}\t{t}\n"
                for n, (c, t) in enumerate(sorted(fy24.items()), start=1)
            )
        )
        started = time.perf_counter()
        release_import_now(path=fy24_path, activate=True)
        fy24_s = time.perf_counter() - started
    started = time.perf_counter()
    release = release_import_now(
        path=args.data / "POAexemptCodesFY25.txt", activate=True
    )
    fy25_s = time.perf_counter() - started

    # 1. Stored = plain parse.
    stored = dict(
        PoaExemptCode.objects.filter(release=release).values_list("code", "title")
    )
    print(
        f"imported: {release.code_count:,} codes in {fy25_s:.1f} s ({release.label}, "
        f"{release.effective_from} to {release.effective_to}); FY2024 rebuilt in {fy24_s:.1f} s"
    )
    if release.code_count != len(listed) or len(stored) != len(expected):
        problems.append(
            f"count: stored {release.code_count} / {len(stored)}, file {len(listed)}"
        )
    if len(listed) != 38154:
        problems.append(f"the ReadMe says 38,154 codes; the file has {len(listed):,}")
    wrong = [c for c, t in expected.items() if stored.get(c) != t]
    if wrong:
        problems.append(f"{len(wrong)} codes missing or retitled, e.g. {wrong[:5]}")

    # 2. The change files against the list.
    missing_adds = sorted(added_codes - stored.keys())
    kept_deletes = sorted({undot(code) for code, _t in deleted} & stored.keys())
    bad_revisions = [
        r[2]
        for r in revised
        if r[1].startswith("Revise to") and stored.get(undot(r[2])) != r[3]
    ]
    print(
        f"change files: {len(added)} added, {len(deleted)} deleted, "
        f"{len(revised) // 2} revised; added but not listed: {len(missing_adds)}, deleted "
        f"but listed: {len(kept_deletes)}, revised title not applied: {len(bad_revisions)}"
    )
    if missing_adds or kept_deletes or bad_revisions:
        problems.append(f"change files: {missing_adds} {kept_deletes} {bad_revisions}")
    want_diff = {
        "added": len(added),
        "deleted": len(deleted),
        "revised": len(revised) // 2,
    }
    print(
        f"release diff against FY2024 (rebuilt): {release.diff}; change files: {want_diff}"
    )
    if release.diff != want_diff:
        problems.append(f"diff {release.diff} != {want_diff}")

    # 4. The selector the audit asks once per chunk.
    rng = random.Random(11)
    pool = [*sorted(expected)[::40], "J189", "I10", "E1122", "N186", "I5023", "Z794"]
    days = [
        dt.date(2024, 10, 1) + dt.timedelta(days=rng.randrange(600)) for _ in range(500)
    ]
    chunks = []
    for _ in range(20):
        by_day: dict[dt.date, set[str]] = {}
        for day in days:
            by_day.setdefault(day, set()).update(rng.sample(pool, 8))
        started = time.perf_counter()
        answers = poa_exempt_by_day(codes_by_day=by_day)
        chunks.append((time.perf_counter() - started) * 1000)
    stand_ins = sum(1 for a in answers.values() if a is not None and not a.covers)
    print(
        f"poa_exempt_by_day, 500 encounters x 8 codes over {len(answers)} dates "
        f"({stand_ins} after FY2025, judged by it as the newest list): "
        f"first (reads the list: {len(expected):,} codes) {chunks[0]:.1f} ms, then median "
        f"{statistics.median(chunks[1:]):.1f} ms, max {max(chunks[1:]):.1f} ms per chunk"
    )
    print(f"load average {os.getloadavg()[0]:.1f} (2 CPUs)")
    for p in problems:
        print("MISMATCH:", p)
    print("OK" if not problems else "FAILED")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
