"""Writes of interoperability: a FHIR Bundle in (through the encounter services, so
validation, history and permissions are those of the JSON API), and batch claim
exports streamed to a file."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from codesets.models import normalize_code
from encounters import services as encounter_services
from encounters.interop.claims import (
    claim_encounters_iter,
    final_encounters,
    parties_for,
)
from encounters.interop.fhir_claim import claim_resource
from encounters.interop.fhir_in import BundleInvalid, Issue, ParsedBundle, bundle_parse
from encounters.interop.models import ClaimExport, SourceEncounter
from encounters.interop.x12_837 import INSTITUTIONAL, PROFESSIONAL, interchange
from encounters.models import Document, Encounter

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 200


class BundleConflict(Exception):
    """The Bundle is valid but disagrees with what is on file in a way a feed may
    not change (dates, type, a coded encounter): HTTP 409, nothing written."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__(f"{len(issues)} conflict(s)")


@dataclass
class BundleResult:
    encounter: Encounter
    created: bool
    changed: bool


def _issues_from(exc: ValidationError, parsed: ParsedBundle) -> list[Issue]:
    """The service's refusals ("diagnoses.1.code") named as FHIR elements."""
    encounter_path = parsed.paths.get("__encounter__", "Bundle")
    return [
        Issue(
            "invalid",
            " ".join(messages),
            parsed.paths.get(key, f"{encounter_path}"),
        )
        for key, messages in exc.message_dict.items()
    ]


def _source_key(parsed: ParsedBundle) -> tuple[str, str]:
    if parsed.source_value:
        return parsed.source_system, parsed.source_value
    data = parsed.data
    return parsed.source_system, f"{data.patient.mrn}|{data.admit_date.isoformat()}"


HEADER_FIELDS = (
    "type",
    "facility",
    "admit_date",
    "discharge_date",
    "discharge_status",
    "attending_provider",
)


def _codes_of(data: encounter_services.EncounterInput) -> dict[str, Any]:
    return {
        "diagnoses": [
            (normalize_code(d.code), (d.poa or "").upper()) for d in data.diagnoses
        ],
        "procedures": [
            (
                p.system,
                normalize_code(p.code),
                p.date,
                [normalize_code(m) for m in p.modifiers],
                p.units,
            )
            for p in data.procedures
        ],
    }


def _codes_on_file(encounter: Encounter) -> dict[str, Any]:
    return {
        "diagnoses": [(d.code, d.poa) for d in encounter.diagnoses.all()],
        "procedures": [
            (p.system, p.code, p.date, list(p.modifiers), p.units)
            for p in encounter.procedures.all()
        ],
    }


@transaction.atomic
def fhir_bundle_import(*, body: Any, user: User) -> BundleResult:
    """Create the encounter a transaction Bundle describes, or bring the one it
    created before up to date: the same Bundle twice is one encounter, unchanged.

    Raises BundleInvalid (400) or BundleConflict (409); nothing is written then.
    A resent Bundle may change the codes of an encounter still open (as a coding
    save by the feed's user, in the history) and add notes; it may not change the
    patient, the type or the dates of an encounter on file.
    """
    parsed = bundle_parse(body)
    system, value = _source_key(parsed)
    # Two deliveries of one Bundle at once: the second waits here for the first to
    # commit, then finds its encounter (no duplicate, no unique-constraint error).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"fhir:{system}|{value}"]
        )
    source = (
        SourceEncounter.objects.select_for_update()
        .filter(system=system, value=value)
        .first()
    )
    if source is None:
        try:
            encounter = encounter_services.encounter_create(
                data=parsed.data, created_by=user
            )
        except ValidationError as exc:
            raise BundleInvalid(_issues_from(exc, parsed)) from None
        SourceEncounter.objects.create(system=system, value=value, encounter=encounter)
        return BundleResult(encounter=encounter, created=True, changed=True)
    return _bundle_update(parsed, Encounter.objects.locked(source.encounter_id), user)


def _bundle_update(
    parsed: ParsedBundle, encounter: Encounter, user: User
) -> BundleResult:
    data = parsed.data
    path = parsed.paths.get("__encounter__", "Bundle")
    conflicts = [
        Issue(
            "conflict",
            f"The encounter is on file (id {encounter.id}) with a different "
            f"{name.replace('_', ' ')}; correct it in the workbench.",
            parsed.paths.get(name, path),
        )
        for name in HEADER_FIELDS
        if getattr(encounter, name) != getattr(data, name)
    ]
    if encounter.patient.mrn != data.patient.mrn:
        conflicts.append(
            Issue(
                "conflict",
                "The encounter is on file for another patient.",
                parsed.paths["patient.mrn"],
            )
        )
    if conflicts:
        raise BundleConflict(conflicts)
    changed = False
    if _codes_of(data) != _codes_on_file(encounter):
        try:
            encounter = encounter_services.encounter_save_coding(
                user=user,
                encounter_id=encounter.id,
                version=encounter.version,
                diagnoses=data.diagnoses,
                procedures=data.procedures,
                comment="Codes resent by the EHR (FHIR Bundle)",
            )
        except encounter_services.NotEditable as exc:
            raise BundleConflict([Issue("conflict", str(exc), path)]) from None
        except ValidationError as exc:
            raise BundleInvalid(_issues_from(exc, parsed)) from None
        changed = True
    on_file = {(d.kind, d.text) for d in encounter.documents.all()}
    new = [d for d in data.documents if (d.kind, d.text) not in on_file]
    if new:
        Document.objects.bulk_create(
            Document(encounter=encounter, kind=d.kind, title=d.title, text=d.text)
            for d in new
        )
        changed = True
    return BundleResult(encounter=encounter, created=False, changed=changed)


# --- batch export ------------------------------------------------------------


def claim_export_create(
    *,
    user: User | None,
    format: str,
    date_from: dt.date,
    date_to: dt.date,
    facility: str = "",
) -> ClaimExport:
    from encounters.interop.tasks import claim_export_run_task

    if format not in ClaimExport.Format.values:
        raise ValidationError({"format": [f"{format!r} is not an export format."]})
    if date_to < date_from:
        raise ValidationError({"date_to": ["The end is before the start."]})
    export = ClaimExport.objects.create(
        requested_by=user,
        format=format,
        date_from=date_from,
        date_to=date_to,
        facility=facility,
    )
    claim_export_run_task.delay_on_commit(export_id=export.id)
    return export


def claim_export_path(export: ClaimExport) -> Path:
    return Path(settings.CLAIM_EXPORT_DIR) / export.file_name


def claim_export_run(*, export_id: int) -> None:
    """Write the export's file (again from the start if a worker died midway: the
    file is written under a temporary name and renamed when complete)."""
    with transaction.atomic():
        export = ClaimExport.objects.select_for_update().get(id=export_id)
        if export.state == ClaimExport.State.DONE:
            return
        export.state = ClaimExport.State.RUNNING
        export.started_at = timezone.now()
        export.done = 0
        export.error = ""
        export.save(update_fields=["state", "started_at", "done", "error"])
    rows = final_encounters(
        date_from=export.date_from, date_to=export.date_to, facility=export.facility
    )
    total = rows.count()
    ClaimExport.objects.filter(id=export_id).update(total=total)
    suffix = "837" if export.format == ClaimExport.Format.X12 else "ndjson"
    file_name = (
        f"claims-{export.id}-{export.date_from:%Y%m%d}-{export.date_to:%Y%m%d}.{suffix}"
    )
    directory = Path(settings.CLAIM_EXPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{file_name}.part"
    skipped: list[tuple[int, str]] = []
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            if export.format == ClaimExport.Format.X12:
                _write_x12(out, rows, export, skipped)
            else:
                _write_fhir(out, rows, export, skipped)
        os.replace(partial, directory / file_name)
    except Exception as exc:
        partial.unlink(missing_ok=True)
        ClaimExport.objects.filter(id=export_id).update(
            state=ClaimExport.State.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    ClaimExport.objects.filter(id=export_id).update(
        state=ClaimExport.State.DONE,
        done=total,
        skipped=[list(s) for s in skipped],
        file_name=file_name,
        size=(directory / file_name).stat().st_size,
        finished_at=timezone.now(),
    )


class _Progress:
    def __init__(self, export_id: int) -> None:
        self.export_id = export_id
        self.count = 0

    def tick(self) -> None:
        self.count += 1
        if self.count % PROGRESS_EVERY == 0:
            ClaimExport.objects.filter(id=self.export_id).update(done=self.count)


def _counted(claims: Any, progress: _Progress) -> Any:
    for claim in claims:
        progress.tick()
        yield claim


def _write_x12(out: Any, rows: Any, export: ClaimExport, skipped: list) -> None:
    """One interchange per claim type (837I, then 837P), each a functional group of
    one transaction per claim; segments go to the file as they are made."""
    now = timezone.now()
    progress = _Progress(export.id)
    parties = parties_for(export.facility)
    for n, (version, selection) in enumerate(
        (
            (INSTITUTIONAL, rows.exclude(type=Encounter.Type.PROFESSIONAL)),
            (PROFESSIONAL, rows.filter(type=Encounter.Type.PROFESSIONAL)),
        )
    ):
        if not selection.exists():
            continue
        for segment in interchange(
            _counted(claim_encounters_iter(selection), progress),
            control_number=export.id * 10 + n,
            now=now,
            version=version,
            parties=parties,
            skipped=skipped,
        ):
            out.write(segment)
            out.write("~\n")


def _write_fhir(out: Any, rows: Any, export: ClaimExport, skipped: list) -> None:
    """One Claim per line (NDJSON, the FHIR bulk data format)."""
    now = timezone.now()
    progress = _Progress(export.id)
    for claim in _counted(claim_encounters_iter(rows), progress):
        out.write(json.dumps(claim_resource(claim, created=now), separators=(",", ":")))
        out.write("\n")
