"""What a claim of one encounter carries, read once for both the FHIR Claim and the
X12 837: the codes in sequence, the MS-DRG, and who bills whom (facility settings).

Facility identifiers come from ``settings.CLAIM_PARTIES`` (env ``CLAIM_*``), with
per-facility overrides in ``settings.CLAIM_FACILITIES`` (env ``CLAIM_FACILITIES_JSON``,
keyed by the encounter's facility name): the project has no Facility model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from encounters.drg import DrgResult, encounter_drg
from encounters.models import Diagnosis, Encounter, Procedure


@dataclass(frozen=True)
class Parties:
    """Sender, receiver, billing provider and payer of a claim."""

    sender_id: str
    sender_name: str
    sender_phone: str
    receiver_id: str
    receiver_name: str
    provider_name: str
    provider_npi: str
    provider_tax_id: str
    provider_taxonomy: str
    provider_street: str
    provider_city: str
    provider_state: str
    provider_zip: str
    payer_name: str
    payer_id: str
    claim_filing: str  # SBR09: MA Medicare Part A, MB Part B, CI commercial ...
    usage: str  # ISA15: P production, T test


def parties_for(facility: str) -> Parties:
    values: dict[str, Any] = dict(settings.CLAIM_PARTIES)
    values.update(settings.CLAIM_FACILITIES.get(facility, {}))
    if not values.get("provider_name"):
        values["provider_name"] = facility
    return Parties(**values)


@dataclass(frozen=True)
class ClaimEncounter:
    encounter: Encounter
    diagnoses: list[Diagnosis]
    procedures: list[Procedure]
    drg: int | None
    parties: Parties

    @property
    def is_professional(self) -> bool:
        return self.encounter.type == Encounter.Type.PROFESSIONAL

    @property
    def pcs(self) -> list[Procedure]:
        return [p for p in self.procedures if p.system == "icd10pcs"]

    @property
    def lines(self) -> list[Procedure]:
        """The CPT/HCPCS service lines."""
        return [p for p in self.procedures if p.system in ("cpt", "hcpcs")]

    @property
    def end_date(self) -> dt.date:
        return self.encounter.discharge_date or self.encounter.admit_date


def _drg_of(
    encounter: Encounter, diagnoses: list[Diagnosis], pcs: list[str]
) -> int | None:
    """The stored MS-DRG (set on submit), else grouped now from the codes."""
    if not encounter.is_inpatient:
        return None
    if encounter.drg and encounter.drg.get("drg"):
        return int(encounter.drg["drg"])
    live = encounter_drg(
        encounter, diagnoses=[(d.code, d.poa) for d in diagnoses], procedures=pcs
    )
    return live.drg if isinstance(live, DrgResult) else None


def claim_encounter(encounter: Encounter) -> ClaimEncounter:
    """The claim view of one encounter (its codes read with the prefetch if any)."""
    diagnoses = list(encounter.diagnoses.all())
    procedures = list(encounter.procedures.all())
    drg = _drg_of(
        encounter, diagnoses, [p.code for p in procedures if p.system == "icd10pcs"]
    )
    return ClaimEncounter(
        encounter=encounter,
        diagnoses=diagnoses,
        procedures=procedures,
        drg=drg,
        parties=parties_for(encounter.facility),
    )


def final_encounters(
    *, date_from: dt.date, date_to: dt.date, facility: str = ""
) -> QuerySet[Encounter]:
    """Final encounters whose date of service (discharge, else admission) falls in
    the period: billing's batch."""
    from django.db.models import Q

    rows = Encounter.objects.filter(status=Encounter.Status.FINAL).filter(
        Q(discharge_date__range=(date_from, date_to))
        | Q(discharge_date__isnull=True, admit_date__range=(date_from, date_to))
    )
    if facility:
        rows = rows.filter(facility=facility)
    return rows.select_related("patient").prefetch_related("diagnoses", "procedures")


def claim_encounters_iter(
    rows: QuerySet[Encounter], chunk_size: int = 500
) -> Iterator[ClaimEncounter]:
    """The claims of ``rows`` a chunk at a time (prefetch per chunk): a batch of any
    size is never all in memory."""
    for encounter in rows.order_by("id").iterator(chunk_size=chunk_size):
        yield claim_encounter(encounter)
        # Each prefetched code points back at its encounter: a reference cycle
        # only the garbage collector frees, late in a long-lived worker. Broken
        # here, a claim is freed as soon as it is written.
        encounter._prefetched_objects_cache.clear()  # type: ignore[attr-defined]
