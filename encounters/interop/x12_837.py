"""X12 5010 837 claims of encounters: 837I (005010X223A2) for facility encounters,
837P (005010X222A1) for professional ones.

Written segment by segment (generators), so a batch of any size streams to a file.
What the project does not hold is sent as the neutral value the guides allow and
said here once: charges are 0.00 (no charge master), the subscriber is the patient
(SBR02 18) with the MRN as member id, the payer comes from facility settings,
admission type and source are 9 (information not available), the admitting
diagnosis is the principal one, and revenue codes are defaults by encounter type
(inpatient: one 0100 all-inclusive room and board line counted in days).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from encounters.interop.claims import ClaimEncounter, Parties
from encounters.models import Encounter

INSTITUTIONAL = "005010X223A2"
PROFESSIONAL = "005010X222A1"
MAX_OTHER_DX_837I = 24  # two HI segments of 12
MAX_DX_837P = 12
MAX_PROCEDURES_837I = 25  # BBR + two HI of 12 BBQ
X12_POA = {"Y", "N", "U", "W"}  # "1" (exempt) is reported as blank
_UNSAFE = re.compile(r"[~*:^\r\n]")


class ClaimIncomplete(Exception):
    """The encounter cannot be billed as coded (no principal diagnosis, no lines)."""


def version_for(claim: ClaimEncounter) -> str:
    return PROFESSIONAL if claim.is_professional else INSTITUTIONAL


def _clean(value: str, limit: int = 60) -> str:
    return _UNSAFE.sub(" ", value).strip().upper()[:limit]


def _seg(*elements: str) -> str:
    """One segment: trailing empty elements dropped, as the standard requires."""
    items = list(elements)
    while items and items[-1] == "":
        items.pop()
    return "*".join(items)


def _composite(*components: str) -> str:
    items = list(components)
    while items and items[-1] == "":
        items.pop()
    return ":".join(items)


def _d8(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _provider_name(name: str) -> tuple[str, str]:
    """("RIVERA", "ANA") from "Dr. Ana Rivera" (last word is the family name)."""
    words = [w for w in re.split(r"\s+", name.replace(",", " ")) if w]
    words = [w for w in words if w.lower().rstrip(".") not in ("dr", "md", "do")]
    if not words:
        return "", ""
    return _clean(words[-1], 60), _clean(" ".join(words[:-1]), 35)


@dataclass
class Envelope:
    control_number: int
    now: dt.datetime


def interchange_header(parties: Parties, env: Envelope) -> str:
    return "*".join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            _clean(parties.sender_id, 15).ljust(15),
            "ZZ",
            _clean(parties.receiver_id, 15).ljust(15),
            env.now.strftime("%y%m%d"),
            env.now.strftime("%H%M"),
            "^",
            "00501",
            f"{env.control_number % 10**9:09d}",
            "0",
            parties.usage,
            ":",
        ]
    )


def group_header(parties: Parties, env: Envelope, version: str) -> str:
    return _seg(
        "GS",
        "HC",
        _clean(parties.sender_id, 15),
        _clean(parties.receiver_id, 15),
        env.now.strftime("%Y%m%d"),
        env.now.strftime("%H%M"),
        str(env.control_number % 10**9),
        "X",
        version,
    )


def transaction(claim: ClaimEncounter, *, st_number: int, env: Envelope) -> list[str]:
    """ST through SE of one claim; raises ClaimIncomplete."""
    encounter = claim.encounter
    parties = claim.parties
    version = version_for(claim)
    if not claim.diagnoses:
        raise ClaimIncomplete(f"Encounter {encounter.id} has no principal diagnosis.")
    control = f"{st_number:04d}"
    out = [
        _seg("ST", "837", control, version),
        _seg(
            "BHT",
            "0019",
            "00",
            f"E{encounter.id}",
            env.now.strftime("%Y%m%d"),
            env.now.strftime("%H%M"),
            "CH",
        ),
        _seg(
            "NM1",
            "41",
            "2",
            _clean(parties.sender_name),
            "",
            "",
            "",
            "",
            "46",
            _clean(parties.sender_id, 80),
        ),
        _seg("PER", "IC", _clean(parties.sender_name), "TE", parties.sender_phone),
        _seg(
            "NM1",
            "40",
            "2",
            _clean(parties.receiver_name),
            "",
            "",
            "",
            "",
            "46",
            _clean(parties.receiver_id, 80),
        ),
        _seg("HL", "1", "", "20", "1"),
        _seg("PRV", "BI", "PXC", parties.provider_taxonomy),
        _seg(
            "NM1",
            "85",
            "2",
            _clean(parties.provider_name),
            "",
            "",
            "",
            "",
            "XX",
            parties.provider_npi,
        ),
        _seg("N3", _clean(parties.provider_street, 55)),
        _seg(
            "N4",
            _clean(parties.provider_city, 30),
            parties.provider_state,
            parties.provider_zip,
        ),
        _seg("REF", "EI", parties.provider_tax_id),
        _seg("HL", "2", "1", "22", "0"),
        _seg("SBR", "P", "18", "", "", "", "", "", "", parties.claim_filing),
    ]
    patient = encounter.patient
    out += [
        _seg(
            "NM1",
            "IL",
            "1",
            _clean(patient.last_name),
            _clean(patient.first_name, 35),
            "",
            "",
            "",
            "MI",
            _clean(patient.mrn, 80),
        ),
        _seg("DMG", "D8", _d8(patient.birth_date), patient.sex),
        _seg(
            "NM1",
            "PR",
            "2",
            _clean(parties.payer_name),
            "",
            "",
            "",
            "",
            "PI",
            _clean(parties.payer_id, 80),
        ),
    ]
    if claim.is_professional:
        out += _professional_claim(claim)
    else:
        out += _institutional_claim(claim)
    out.append(_seg("SE", str(len(out) + 1), control))
    return out


def _institutional_claim(claim: ClaimEncounter) -> list[str]:
    encounter = claim.encounter
    inpatient = encounter.is_inpatient
    others = claim.diagnoses[1:]
    if len(others) > MAX_OTHER_DX_837I:
        raise ClaimIncomplete(
            f"Encounter {encounter.id}: at most {MAX_OTHER_DX_837I} other diagnoses."
        )
    lines = claim.lines
    if not inpatient and not lines:
        raise ClaimIncomplete(
            f"Encounter {encounter.id} has no CPT/HCPCS line to bill."
        )
    bill_type = "11" if inpatient else "13"
    out = [
        _seg(
            "CLM",
            f"E{encounter.id}",
            "0",
            "",
            "",
            _composite(bill_type, "A", "1"),
            "",
            "A",
            "Y",
            "Y",
        ),
        _seg("DTP", "434", "RD8", f"{_d8(encounter.admit_date)}-{_d8(claim.end_date)}"),
    ]
    if inpatient:
        out.append(_seg("DTP", "435", "D8", _d8(encounter.admit_date)))
    out.append(
        _seg(
            "CL1",
            "9" if inpatient else "",
            "9" if inpatient else "",
            encounter.discharge_status or "01",
        )
    )
    out.append(_seg("REF", "EA", _clean(encounter.patient.mrn, 50)))

    def dx(qualifier: str, d: object) -> str:
        code = d.code  # type: ignore[attr-defined]
        poa = d.poa if inpatient and d.poa in X12_POA else ""  # type: ignore[attr-defined]
        return _composite(qualifier, code, "", "", "", "", "", "", poa)

    principal = claim.diagnoses[0]
    out.append(_seg("HI", dx("ABK", principal)))
    if inpatient:
        out.append(_seg("HI", _composite("ABJ", principal.code)))
    if claim.drg is not None:
        out.append(_seg("HI", _composite("DR", f"{claim.drg:03d}")))
    for chunk in _chunks(others, 12):
        out.append(_seg("HI", *(dx("ABF", d) for d in chunk)))
    pcs = claim.pcs if inpatient else []
    if len(pcs) > MAX_PROCEDURES_837I:
        raise ClaimIncomplete(f"Encounter {encounter.id}: too many ICD-10-PCS codes.")
    for n, chunk in enumerate(_chunks(pcs, 12) if pcs else []):
        first = 1 if n == 0 else 0
        if first:
            p = chunk[0]
            out.append(_seg("HI", _pcs("BBR", p.code, p.date or encounter.admit_date)))
            chunk = chunk[1:]
        if chunk:
            out.append(
                _seg(
                    "HI",
                    *(
                        _pcs("BBQ", p.code, p.date or encounter.admit_date)
                        for p in chunk
                    ),
                )
            )
    last, first_name = _provider_name(encounter.attending_provider)
    if last:
        out.append(_seg("NM1", "71", "1", last, first_name))
    if inpatient and not lines:
        days = max(1, encounter.length_of_stay or 0)
        out += [_seg("LX", "1"), _seg("SV2", "0100", "", "0", "DA", str(days))]
    revenue = "0450" if encounter.type == Encounter.Type.EMERGENCY else "0510"
    for n, p in enumerate(lines, start=1):
        out += [
            _seg("LX", str(n)),
            _seg(
                "SV2",
                "0100" if inpatient else revenue,
                _composite("HC", p.code, *p.modifiers),
                "0",
                "UN",
                str(p.units),
            ),
            _seg("DTP", "472", "D8", _d8(p.date or encounter.admit_date)),
        ]
    return out


def _pcs(qualifier: str, code: str, day: dt.date) -> str:
    return _composite(qualifier, code, "D8", _d8(day))


def _professional_claim(claim: ClaimEncounter) -> list[str]:
    encounter = claim.encounter
    if len(claim.diagnoses) > MAX_DX_837P:
        raise ClaimIncomplete(
            f"Encounter {encounter.id}: an 837P carries at most {MAX_DX_837P} diagnoses."
        )
    lines = claim.lines
    if not lines:
        raise ClaimIncomplete(
            f"Encounter {encounter.id} has no CPT/HCPCS line to bill."
        )
    pointers = _composite(*(str(n) for n in range(1, min(4, len(claim.diagnoses)) + 1)))
    out = [
        _seg(
            "CLM",
            f"E{encounter.id}",
            "0",
            "",
            "",
            _composite("11", "B", "1"),
            "Y",
            "A",
            "Y",
            "Y",
        ),
        _seg("REF", "EA", _clean(encounter.patient.mrn, 50)),
        _seg(
            "HI",
            *(
                _composite("ABK" if n == 0 else "ABF", d.code)
                for n, d in enumerate(claim.diagnoses)
            ),
        ),
    ]
    last, first_name = _provider_name(encounter.attending_provider)
    if last:
        out.append(_seg("NM1", "82", "1", last, first_name))
    for n, p in enumerate(lines, start=1):
        out += [
            _seg("LX", str(n)),
            _seg(
                "SV1",
                _composite("HC", p.code, *p.modifiers),
                "0",
                "UN",
                str(p.units),
                "",
                "",
                pointers,
            ),
            _seg("DTP", "472", "D8", _d8(p.date or encounter.admit_date)),
        ]
    return out


def _chunks(rows: list, size: int) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def claim_837(claim: ClaimEncounter, *, control_number: int, now: dt.datetime) -> str:
    """One interchange holding the claim of one encounter."""
    return "".join(
        f"{segment}~\n"
        for segment in interchange(
            [claim], control_number=control_number, now=now, version=version_for(claim)
        )
    )


def interchange(
    claims: Iterable[ClaimEncounter],
    *,
    control_number: int,
    now: dt.datetime,
    version: str,
    parties: Parties | None = None,
    skipped: list[tuple[int, str]] | None = None,
) -> Iterator[str]:
    """The segments of one interchange with one functional group of ``version``:
    one transaction per claim, streamed. A claim that cannot be billed is left
    out and noted in ``skipped`` (encounter id, reason) when given, else raised."""
    env = Envelope(control_number=control_number, now=now)
    header_sent = False
    count = 0
    first_parties = parties
    for claim in claims:
        try:
            segments = transaction(claim, st_number=count + 1, env=env)
        except ClaimIncomplete as exc:
            if skipped is None:
                raise
            skipped.append((claim.encounter.id, str(exc)))
            continue
        if not header_sent:
            first_parties = first_parties or claim.parties
            yield interchange_header(first_parties, env)
            yield group_header(first_parties, env, version)
            header_sent = True
        count += 1
        yield from segments
    if not header_sent:
        if first_parties is None:
            return
        yield interchange_header(first_parties, env)
        yield group_header(first_parties, env, version)
    yield _seg("GE", str(count), str(control_number % 10**9))
    yield _seg("IEA", "1", f"{control_number % 10**9:09d}")
