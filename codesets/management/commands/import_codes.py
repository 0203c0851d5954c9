"""Import an official code-set file into a staged (or, with --activate, active) release.

    python manage.py import_codes FILE [FILE ...] [--system S] [--label L] [--effective YYYY-MM-DD]
                                       [--until YYYY-MM-DD] [--activate] [--json] [--dry-run]

The format is detected from the file's content. Several files are the part files of
one release (NCCI PTP edits come as several parts a quarter): they import together
into one release, as a zip of them would (codesets/table_releases.py). With --json one JSON object is
printed: {"release", "system", "label", "status", "codes", "billable", "diff"}.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from codesets import table_releases
from codesets.importers.base import ImportFormatError
from codesets.models import System, Table
from codesets.services import ReleaseError, release_import_now


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Import an official code-set file (format detected from its content)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file", nargs="+", help="the file, or the part files of one release"
        )
        parser.add_argument(
            "--system", choices=[s.value for s in System] + [t.value for t in Table]
        )
        parser.add_argument("--label", default="")
        parser.add_argument(
            "--effective", type=_date, help="first date of service the release judges"
        )
        parser.add_argument(
            "--until",
            type=_date,
            help="last date of service (default: end of its fiscal year; HCPCS and CPT: "
            "end of its calendar year)",
        )
        parser.add_argument(
            "--activate", action="store_true", help="activate the release once staged"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--dry-run", action="store_true", help="parse and report; write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = [Path(name) for name in options["file"]]
        for path in paths:
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
        system = options["system"]
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = (
                    table_releases.bundle_parts(
                        files=[(p, p.name) for p in paths], folder=Path(tmp)
                    )
                    if len(paths) > 1
                    else paths[0]
                )
            except ImportFormatError as exc:
                raise CommandError(str(exc)) from exc
            self._import(path, system, options)

    def _import(self, path: Path, system: str | None, options: dict[str, Any]) -> None:
        try:
            if options["dry_run"]:
                self._dry_run(path, system, as_json=options["json"])
                return
            started = time.perf_counter()
            release = release_import_now(
                path=path,
                system=system,
                label=options["label"],
                effective_from=options["effective"],
                effective_to=options["until"],
                activate=options["activate"],
            )
        except (ImportFormatError, ReleaseError) as exc:
            raise CommandError(str(exc)) from exc
        diff = release.diff
        diff_counts = {
            "added": diff.get("added", 0),
            "deleted": diff.get("deleted", 0),
            "revised": diff.get("revised", 0),
        }
        result = {
            "release": release.id,
            "system": release.system,
            "label": release.label,
            "status": release.state,
            "codes": release.code_count,
            "billable": release.billable_count,
            "diff": diff_counts,
        }
        if options["json"]:
            diff_counts["billable_changed"] = diff.get("billable_changed", 0)
            self.stdout.write(json.dumps(result))
            return
        if release.is_table:
            self.stdout.write(
                f"{release.label}: {release.state}, {release.code_count:,} rows; compared with "
                f"{release.base_release.label if release.base_release else 'nothing'}: {diff}"
            )
            for warning in release.warnings:
                self.stdout.write(self.style.WARNING(f"warning: {warning}"))
            return
        self.stdout.write(
            f"{release.label}: {release.state}, {release.code_count:,} codes ({release.billable_count:,} billable), "
            f"{release.note_count:,} notes, in {time.perf_counter() - started:.1f} s"
        )
        base = (
            release.base_release.label
            if release.base_release
            else "nothing (first release)"
        )
        self.stdout.write(
            f"Compared with {base}: {diff.get('added', 0):,} added, {diff.get('deleted', 0):,} deleted, "
            f"{diff.get('revised', 0):,} revised titles, {diff.get('billable_changed', 0):,} billable changes"
        )
        if release.effective_from:
            self.stdout.write(
                f"Effective {release.effective_from} to {release.effective_to or 'open-ended'}"
            )
        for warning in release.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))

    def _dry_run(self, path: Path, system: str | None, *, as_json: bool) -> None:
        importer = table_releases.detect_importer(path, system=system)
        parsed = table_releases.parse_source(importer, path)
        counted = [c for c in parsed.codes if c.kind not in ("chapter", "block")]
        summary = {
            "format": importer.name,
            "system": table_releases.release_kind(importer),
            "version": parsed.version,
            "codes": len(counted),
            "billable": sum(c.billable for c in counted),
            "notes": len(parsed.notes),
            "changes": len(parsed.changes),
            "table_rows": len(parsed.ptp_edits)
            + len(parsed.mues)
            + len(parsed.index_terms)
            + len(parsed.pcs_index_terms)
            + len(parsed.pcs_definitions)
            + len(parsed.drg_weights),
        }
        self.stdout.write(
            json.dumps(summary)
            if as_json
            else ", ".join(f"{k}: {v}" for k, v in summary.items())
        )
