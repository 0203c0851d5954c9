"""Every abbreviation of codesets/query_words.py against the full official code sets.

    createdb -h 127.0.0.1 -U postgres coding_bench_search
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/coding_bench_search \\
    REDIS_URL=redis://127.0.0.1:6379/2 DEV_MODE=1 .venv/bin/python bench/check_abbreviations.py

Loads (once, like bench/search_codes.py, into a database whose name contains "bench")
ICD-10-CM FY2026 April and ICD-10-PCS FY2026, then searches each abbreviation alone
on 2026-05-01 and prints how many codes it finds (up to 50), the first three, and the
server-side time. Exit status 1 when an abbreviation finds nothing: its expansion
names words the code sets do not use.
"""

from __future__ import annotations

import sys
import time

from search_codes import DOS, ensure_data  # sets up Django (bench/ is on sys.path)

from codesets.query_words import ABBREVIATIONS
from codesets.search import code_search


def main() -> None:
    ensure_data()
    empty = []
    print(f"{'typed':<6} {'stands for':<38} {'found':>5} {'ms':>6}  first three")
    for abbreviation, words in sorted(ABBREVIATIONS.items()):
        start = time.perf_counter()
        hits = code_search(query=abbreviation, day=DOS, limit=50).hits
        ms = (time.perf_counter() - start) * 1000
        first = "; ".join(f"{h.display} {h.title[:38]}" for h in hits[:3])
        print(f"{abbreviation:<6} {words:<38} {len(hits):>5} {ms:>6.1f}  {first}")
        if not hits:
            empty.append(abbreviation)
    if empty:
        sys.exit(f"find nothing: {', '.join(empty)}")
    print(f"all {len(ABBREVIATIONS)} abbreviations find codes")


if __name__ == "__main__":
    main()
