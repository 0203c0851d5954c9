"""The what-if of an inpatient stay (encounters.whatif): other principal diagnoses,
the DRG's tier in its Table 5 family, hospital-acquired conditions; its API and its
section of the coding form. Read-only: nothing it does changes an encounter.

Weights are those of the FY2026 Table 5 excerpt (tests/fixtures/ms-drg)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from codesets.services import payment_rate_set, release_import_now
from encounters.drg import drg_group
from encounters.models import CodingChange, Encounter
from encounters.services import encounter_claim
from encounters.whatif import GUIDELINE_NOTE, drg_families, drg_what_if
from tests.encounters.conftest import FY2026, pneumonia_payload

pytestmark = pytest.mark.django_db

TABLE5 = (
    Path(__file__).resolve().parent.parent / "fixtures/ms-drg/table5_fy2026_excerpt.txt"
)


@pytest.fixture
def table5(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return release_import_now(path=TABLE5, activate=True, effective_from=FY2026)


def what_if(*diagnoses: tuple[str, str], procedures=(), price=None):
    """A 70-year-old woman, four days in hospital, discharged home."""
    stay = {
        "discharge_date": dt.date(2026, 5, 14),
        "admit_date": dt.date(2026, 5, 10),
        "birth_date": dt.date(1956, 2, 1),
        "sex": "F",
        "discharge_status": "01",
        "diagnoses": list(diagnoses),
        "procedures": list(procedures),
    }
    return drg_what_if(**stay, current=drg_group(**stay), price=price)


def by_code(result) -> dict[str, tuple[int, Decimal | None]]:
    return {a.code: (a.option.drg, a.option.weight) for a in result.alternatives}


# ------------------------------------------------------------ alternative principals


def test_each_secondary_as_principal_is_grouped_heaviest_first(table5):
    result = what_if(("J18.9", "Y"), ("N17.9", "Y"), ("A41.9", "Y"), ("E87.1", "Y"))

    assert (result.current.drg, result.current.weight) == (193, Decimal("1.3144"))
    # Sepsis first: 871 (the pneumonia, now secondary, is its MCC), then renal
    # failure 682; hyponatremia groups to 640, which the excerpt has no weight for.
    assert [(a.code, a.option.drg) for a in result.alternatives] == [
        ("A41.9", 871),
        ("N17.9", 682),
        ("E87.1", 640),
    ]
    sepsis, renal, electrolytes = result.alternatives
    assert sepsis.option.weight == Decimal("1.9425")
    assert sepsis.option.weight_delta == Decimal("0.6281")  # 1.9425 - 1.3144
    assert "Septicemia" in sepsis.option.title
    assert renal.option.weight_delta == Decimal("0.1666")  # 1.4810 - 1.3144
    assert electrolytes.option.weight is None
    assert electrolytes.option.weight_delta is None
    assert result.skipped == ()
    assert result.guideline == GUIDELINE_NOTE
    assert "Section II" in GUIDELINE_NOTE and "never" in GUIDELINE_NOTE


def test_the_others_keep_their_order_behind_the_new_principal(table5):
    # A41.9 first, then J18.9 (the old principal) and E87.1: the pneumonia is the
    # MCC of 871. Without it (J18.9 last and not counted) the DRG would be 872.
    result = what_if(("J18.9", "Y"), ("E87.1", "Y"), ("A41.9", "Y"))
    assert by_code(result)["A41.9"] == (871, Decimal("1.9425"))


def test_codes_that_cannot_be_principal_are_skipped_with_the_reason(table5):
    result = what_if(
        ("J18.9", "Y"),
        ("Y92.009", ""),  # place of occurrence: the grouper refuses it as principal
        ("Z87.891", "Y"),  # history of nicotine dependence: MCE unacceptable
        ("R65.20", "Y"),  # severe sepsis: MCE unacceptable (the grouper gives 872)
        ("L89.153", "N"),  # arose in hospital: cannot have occasioned the admission
        ("J18.9", "Y"),  # the principal again
        ("N17.9", "Y"),
    )
    assert [a.code for a in result.alternatives] == ["N17.9"]
    assert [(s.code, s.reason) for s in result.skipped] == [
        ("Y92.009", "cannot be principal diagnosis (grouper)"),
        ("Z87.891", "unacceptable as principal diagnosis (MCE)"),
        ("R65.20", "unacceptable as principal diagnosis (MCE)"),
        ("L89.153", "not present on admission (POA N)"),
        ("J18.9", "listed twice"),
    ]


def test_a_manifestation_is_skipped_as_the_editor_says(table5):
    result = what_if(("J18.9", "Y"), ("D63.1", "Y"))  # anemia in CKD: code first
    assert result.alternatives == ()
    assert [(s.code, s.reason) for s in result.skipped] == [
        ("D63.1", "a manifestation: its underlying condition comes first (MCE)")
    ]


def test_an_ungroupable_principal_still_gets_its_alternatives(table5):
    result = what_if(("Y92.009", ""), ("J18.9", "Y"))
    assert result.current.drg == 999 and result.current.weight is None
    (pneumonia,) = result.alternatives
    assert (pneumonia.option.drg, pneumonia.option.weight) == (195, Decimal("0.6285"))
    assert pneumonia.option.weight_delta is None  # no weight to compare with


def test_payment_comes_from_the_price_callable_each_drg_priced_once(table5):
    asked = []

    def price(drg, weight):
        asked.append(drg)
        amount = None if weight is None else f"{weight * 6000:.2f}"
        return {"amount": amount, "transfer": False, "explanation": "test rates"}

    result = what_if(("J18.9", "Y"), ("A41.9", "Y"), ("E87.1", "Y"), price=price)
    assert result.priced
    assert result.current.payment["amount"] == "7886.40"  # 1.3144 x 6000
    sepsis = result.alternatives[0]
    assert sepsis.option.payment["amount"] == "11655.00"  # 1.9425 x 6000
    assert sepsis.option.amount_delta == Decimal("3768.60")
    assert sepsis.as_dict()["amount_delta"] == "3768.60"
    assert len(asked) == len(set(asked))
    # Without a price: weights only.
    unpriced = what_if(("J18.9", "Y"), ("A41.9", "Y"))
    assert not unpriced.priced
    assert unpriced.alternatives[0].option.payment is None


# --------------------------------------------------------------------------- tiers


@pytest.mark.parametrize(
    ("diagnoses", "procedures", "statement"),
    [
        (
            [("J18.9", "Y")],
            [],
            "MS-DRG 195 is the “without CC/MCC” tier of 193/194/195: a documented CC "
            "would make it 194 (weight 0.8059), an MCC 193 (weight 1.3144).",
        ),
        (
            [("J18.9", "Y"), ("E87.1", "Y")],
            [],
            "MS-DRG 194 is the “with CC” tier of 193/194/195: a documented MCC would "
            "make it 193 (weight 1.3144).",
        ),
        (
            [("J18.9", "Y"), ("A41.9", "Y")],
            [],
            "MS-DRG 193 is the “with MCC” tier of 193/194/195: the highest tier of "
            "its family.",
        ),
        (
            [("I50.22", "Y")],
            [],
            "MS-DRG 293 is the “without CC/MCC” tier of 291/292/293: a documented CC "
            "would make it 292 (weight 0.8490), an MCC 291 (weight 1.2838).",
        ),
        (
            [("N17.9", "Y"), ("E87.1", "Y")],
            [],
            "MS-DRG 683 is the “with CC” tier of 682/683/684: a documented MCC would "
            "make it 682 (weight 1.4810).",
        ),
        (
            [("I63.9", "Y")],  # the middle tier is "with CC or tPA in 24 hours"
            [],
            "MS-DRG 066 is the “without CC/MCC” tier of 064/065/066: a documented CC "
            "would make it 065 (weight 1.0103), an MCC 064 (weight 2.0110).",
        ),
        # Two tiers: with / without MCC. A CC changes nothing.
        (
            [("A41.9", "Y"), ("E87.1", "Y")],
            [],
            "MS-DRG 872 is the “without MCC” tier of 871/872: a documented MCC would "
            "make it 871 (weight 1.9425), a CC would not change it.",
        ),
        # A family split by a procedure as well: 469 is "with MCC or total ankle
        # replacement".
        (
            [("M16.11", "Y"), ("E87.1", "Y")],
            ["0SR9019"],
            "MS-DRG 470 is the “without MCC” tier of 469/470: a documented MCC would "
            "make it 469 (weight 3.0332), a CC would not change it.",
        ),
        (
            [("M16.11", "Y"), ("J96.01", "Y")],
            ["0SR9019"],
            "MS-DRG 469 is the “with MCC” tier of 469/470: the highest tier of its "
            "family.",
        ),
        # A total ankle replacement takes the stay to 469 without any MCC.
        (
            [("M19.071", "Y")],
            ["0SRF0JZ"],
            "MS-DRG 469 is the “with MCC” tier of 469/470 (reached here by total "
            "ankle replacement, not by a CC or MCC): the highest tier of its family.",
        ),
        # A hip replacement unrelated to pneumonia: the surgical 981-983 family.
        (
            [("J18.9", "Y")],
            ["0SR9019"],
            "MS-DRG 983 is the “without CC/MCC” tier of 981/982/983: a documented CC "
            "would make it 982 (weight 2.4585), an MCC 981 (weight 4.6918).",
        ),
    ],
)
def test_the_tier_says_what_a_documented_cc_or_mcc_would_make_it(
    table5, diagnoses, procedures, statement
):
    result = what_if(*diagnoses, procedures=procedures)
    assert result.tier.statement == statement


def test_the_tier_lists_the_family_with_weights_and_the_steps(table5):
    tier = what_if(("J18.9", "Y")).tier
    assert [(o.drg, phrase, o.weight) for o, phrase in tier.rows] == [
        (193, "with MCC", Decimal("1.3144")),
        (194, "with CC", Decimal("0.8059")),
        (195, "without CC/MCC", Decimal("0.6285")),
    ]
    data = tier.as_dict()
    assert data["tier"] == "without CC/MCC"
    assert (data["with_cc"]["drg"], data["with_cc"]["weight_delta"]) == (194, 0.1774)
    assert (data["with_mcc"]["drg"], data["with_mcc"]["weight_delta"]) == (193, 0.6859)


def test_a_with_cc_mcc_tier_is_one_step_for_a_cc_or_an_mcc(settings, tmp_path):
    # The excerpt has no "with CC/MCC" family: a Table 5 of its header and the two
    # rows of 600/601 (verbatim from the FY2026 final rule).
    settings.MEDIA_ROOT = tmp_path / "media"
    head = b"".join(TABLE5.read_bytes().splitlines(keepends=True)[:3])
    rows = (
        b"600\tNo\tNo\t09\tMED\tNON-MALIGNANT BREAST DISORDERS WITH CC/MCC\t"
        b"1.0416\t1.0416\t3.2\t4.0\r\n"
        b"601\tNo\tNo\t09\tMED\tNON-MALIGNANT BREAST DISORDERS WITHOUT CC/MCC\t"
        b"0.6050\t0.6050\t2.3\t2.6\r\n"
    )
    table = tmp_path / "table5_breast.txt"
    table.write_bytes(head + rows)
    release_import_now(path=table, activate=True, effective_from=FY2026)

    cyst = what_if(("N60.01", "Y"))  # solitary cyst of the right breast
    assert cyst.tier.statement == (
        "MS-DRG 601 is the “without CC/MCC” tier of 600/601: a documented CC or MCC "
        "would make it 600 (weight 1.0416)."
    )
    assert cyst.tier.as_dict()["with_cc"]["drg"] == 600
    assert cyst.tier.as_dict()["with_mcc"]["drg"] == 600
    assert what_if(("N60.01", "Y"), ("E87.1", "Y")).tier.statement == (
        "MS-DRG 600 is the “with CC/MCC” tier of 600/601: the highest tier of its "
        "family."
    )


def test_a_drg_without_tiers_says_so(table5):
    # Z99.11 (dependence on respirator) groups to 951, a DRG with no CC/MCC split.
    tier = what_if(("Z99.11", "Y"), ("E87.1", "Y")).tier
    assert tier.statement == (
        "MS-DRG 951 has no CC/MCC tiers: a documented CC or MCC would not change it."
    )
    assert tier.steps == ()


def test_families_are_read_from_the_table5_titles():
    titles = {
        # Table 5 FY2026, verbatim
        193: "SIMPLE PNEUMONIA AND PLEURISY WITH MCC",
        194: "SIMPLE PNEUMONIA AND PLEURISY WITH CC",
        195: "SIMPLE PNEUMONIA AND PLEURISY WITHOUT CC/MCC",
        207: "RESPIRATORY SYSTEM DIAGNOSIS WITH VENTILATOR SUPPORT >96 HOURS",
        275: "CARDIAC DEFIBRILLATOR IMPLANT WITH CARDIAC CATHETERIZATION AND MCC",
        276: "CARDIAC DEFIBRILLATOR IMPLANT WITH MCC OR CAROTID SINUS NEUROSTIMULATOR",
        277: "CARDIAC DEFIBRILLATOR IMPLANT WITHOUT MCC",
        321: "PERCUTANEOUS CARDIOVASCULAR PROCEDURES WITH INTRALUMINAL DEVICE WITH "
        "MCC OR 4+ ARTERIES/INTRALUMINAL DEVICES",
        322: "PERCUTANEOUS CARDIOVASCULAR PROCEDURES WITH INTRALUMINAL DEVICE "
        "WITHOUT MCC",
        513: "HAND OR WRIST PROCEDURES, EXCEPT MAJOR THUMB OR JOINT PROCEDURES WITH "
        "CC/MCC",
        514: "HAND OR WRIST PROCEDURES, EXCEPT MAJOR THUMB OR JOINT PROCEDURES "
        "WITHOUT CC/MCC",
        837: "CHEMOTHERAPY WITH ACUTE LEUKEMIA AS SECONDARY DIAGNOSIS OR WITH HIGH "
        "DOSE CHEMOTHERAPY AGENT WITH MCC",
        838: "CHEMOTHERAPY WITH ACUTE LEUKEMIA AS SECONDARY DIAGNOSIS WITH CC OR HIGH "
        "DOSE CHEMOTHERAPY AGENT",
        839: "CHEMOTHERAPY WITH ACUTE LEUKEMIA AS SECONDARY DIAGNOSIS WITHOUT CC/MCC",
        871: "SEPTICEMIA OR SEVERE SEPSIS WITHOUT MV >96 HOURS WITH MCC",
        872: "SEPTICEMIA OR SEVERE SEPSIS WITHOUT MV >96 HOURS WITHOUT MCC",
    }
    families = drg_families(titles)

    def shape(drg):
        return [(m.drg, m.phrase, m.also) for m in families[drg]]

    assert shape(194) == [
        (193, "WITH MCC", ""),
        (194, "WITH CC", ""),
        (195, "WITHOUT CC/MCC", ""),
    ]
    assert 207 not in families
    # "with cardiac catheterization and MCC" is a subgroup of its own.
    assert shape(275) == [(275, "AND MCC", "")]
    assert shape(277) == [
        (276, "WITH MCC", "CAROTID SINUS NEUROSTIMULATOR"),
        (277, "WITHOUT MCC", ""),
    ]
    assert shape(322) == [
        (321, "WITH MCC", "4+ ARTERIES/INTRALUMINAL DEVICES"),
        (322, "WITHOUT MCC", ""),
    ]
    assert shape(514) == [(513, "WITH CC/MCC", ""), (514, "WITHOUT CC/MCC", "")]
    assert shape(839) == [
        (837, "WITH MCC", ""),
        (838, "WITH CC", "HIGH DOSE CHEMOTHERAPY AGENT"),
        (839, "WITHOUT CC/MCC", ""),
    ]
    # "WITHOUT MV >96 HOURS" is part of the name, not a tier.
    assert shape(871) == [(871, "WITH MCC", ""), (872, "WITHOUT MCC", "")]


# ---------------------------------------------------------------------------- HACs


def test_a_hospital_acquired_condition_shows_the_drg_before_and_after(table5):
    result = what_if(
        ("J18.9", "Y"),
        ("L89.153", "N"),
        price=lambda drg, weight: {"amount": f"{weight * 6000:.2f}"},
    )
    # The stage 3 pressure ulcer (an MCC) arose in hospital: HAC 04 takes its MCC
    # away, 193 -> 195.
    assert result.current.drg == 195
    (hac,) = result.hacs
    assert (hac.code, hac.poa, hac.hac, hac.level) == ("L89.153", "N", "HAC 04", "MCC")
    assert "Pressure Ulcer" in hac.description
    assert (hac.initial.drg, hac.initial.weight) == (193, Decimal("1.3144"))
    assert (hac.final.drg, hac.final.weight) == (195, Decimal("0.6285"))
    assert hac.final.weight_delta == Decimal("-0.6859")
    assert hac.final.amount_delta == Decimal("-4115.40")  # (0.6285 - 1.3144) x 6000
    assert what_if(("J18.9", "Y"), ("L89.153", "Y")).hacs == ()


def test_a_hac_with_another_mcc_does_not_change_the_drg(table5):
    (hac,) = what_if(("J18.9", "Y"), ("L89.153", "N"), ("A41.9", "Y")).hacs
    assert hac.initial.drg == hac.final.drg == 193
    assert hac.final.weight_delta == Decimal("0")


# ----------------------------------------------------------------------------- cost


def test_it_asks_the_database_nothing_once_table5_is_read(table5):
    diagnoses = [
        ("J18.9", "Y"),
        ("A41.9", "Y"),
        ("N17.9", "Y"),
        ("E87.1", "Y"),
        ("I50.22", "Y"),
        ("E11.9", "Y"),
        ("I10", "Y"),
        ("Z87.891", "Y"),
        ("D64.9", "Y"),
        ("E78.5", "Y"),
    ]
    what_if(*diagnoses)
    with CaptureQueriesContext(connection) as queries:
        result = what_if(*diagnoses)
    assert len(queries.captured_queries) == 0
    assert len(result.alternatives) + len(result.skipped) == 9


# ------------------------------------------------------------------- API and pages


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _create(user, **overrides) -> Encounter:
    response = _api(user).post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert response.status_code == 201, response.json()
    return Encounter.objects.get(id=response.json()["id"])


SEPSIS_CASE = [
    {"code": "J18.9", "poa": "Y"},
    {"code": "A41.9", "poa": "Y"},
    {"code": "N17.9", "poa": "Y"},
    {"code": "Z87.891", "poa": "Y"},
]


def test_the_api_gives_the_what_if_of_the_saved_codes(code_sets, supervisor, coder):
    encounter = _create(supervisor, diagnoses=SEPSIS_CASE)
    encounter_claim(user=coder, encounter_id=encounter.id)

    response = _api(coder).get(f"/api/v1/encounters/{encounter.id}/what-if/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"current", "alternatives", "tier", "hacs", "skipped"}
    assert body["current"]["principal"] == "J18.9"
    assert (body["current"]["drg"], body["current"]["weight"]) == (193, 1.3144)
    assert [(a["principal"], a["drg"], a["weight"]) for a in body["alternatives"]] == [
        ("A41.9", 871, 1.9425),
        ("N17.9", 682, 1.481),
    ]
    assert body["alternatives"][0]["diagnosis"].startswith("Sepsis")
    assert body["alternatives"][0]["weight_delta"] == 0.6281
    # No IPPS rates for the facility: no amount, and the payment says why.
    assert body["alternatives"][0]["payment"]["amount"] is None
    assert "no IPPS rates" in body["alternatives"][0]["payment"]["explanation"]
    assert body["skipped"] == [
        {"code": "Z87.891", "reason": "unacceptable as principal diagnosis (MCE)"}
    ]
    assert body["tier"]["tier"] == "with MCC"
    assert [m["drg"] for m in body["tier"]["family"]] == [193, 194, 195]
    assert body["hacs"] == []
    # Supervisors see every encounter.
    assert (
        _api(supervisor).get(f"/api/v1/encounters/{encounter.id}/what-if/").status_code
        == 200
    )


def test_the_api_shows_a_hac(code_sets, supervisor):
    encounter = _create(
        supervisor,
        diagnoses=[{"code": "J18.9", "poa": "Y"}, {"code": "L89.153", "poa": "N"}],
    )
    body = _api(supervisor).get(f"/api/v1/encounters/{encounter.id}/what-if/").json()
    (hac,) = body["hacs"]
    assert (hac["code"], hac["hac"]) == ("L89.153", "HAC 04")
    assert (hac["initial"]["drg"], hac["final"]["drg"]) == (193, 195)
    assert hac["final"]["weight_delta"] == -0.6859


def test_the_api_refuses_those_who_may_not_see_the_encounter(
    code_sets, supervisor, coder, other_coder, outsider
):
    encounter = _create(supervisor, diagnoses=SEPSIS_CASE)
    encounter_claim(user=other_coder, encounter_id=encounter.id)
    url = f"/api/v1/encounters/{encounter.id}/what-if/"
    # Exactly as the encounter itself: 404 for a coder it is not assigned to,
    # 403 for a user with no coding role, 401/403 signed out.
    assert _api(coder).get(url).status_code == 404
    assert _api(coder).get(f"/api/v1/encounters/{encounter.id}/").status_code == 404
    assert _api(outsider).get(url).status_code == 403
    assert APIClient().get(url).status_code in (401, 403)
    assert _api(coder).get("/api/v1/encounters/999999/what-if/").status_code == 404


def test_the_api_says_400_for_an_outpatient_or_an_uncoded_encounter(
    code_sets, supervisor
):
    outpatient = _create(
        supervisor,
        type="outpatient",
        discharge_date=None,
        discharge_status="",
        diagnoses=[{"code": "J18.9"}],
    )
    response = _api(supervisor).get(f"/api/v1/encounters/{outpatient.id}/what-if/")
    assert response.status_code == 400
    assert "inpatient" in response.json()["detail"]
    uncoded = _create(
        supervisor,
        diagnoses=[],
        patient={**pneumonia_payload()["patient"], "mrn": "B2"},
    )
    response = _api(supervisor).get(f"/api/v1/encounters/{uncoded.id}/what-if/")
    assert response.status_code == 400
    assert "principal diagnosis" in response.json()["detail"]


def test_the_api_is_in_the_openapi_schema(supervisor):
    client = _api(supervisor)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/encounters/{encounter_id}/what-if/"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]
    name = ref["$ref"].rsplit("/", 1)[1]
    properties = schema["components"]["schemas"][name]["properties"]
    assert {"current", "alternatives", "tier", "hacs", "skipped"} <= set(properties)
    assert "400" in operation["responses"] and "404" in operation["responses"]


def test_the_what_if_never_changes_the_encounter(
    code_sets, supervisor, coder, coder_client
):
    encounter = _create(supervisor, diagnoses=SEPSIS_CASE)
    encounter_claim(user=coder, encounter_id=encounter.id)
    encounter.refresh_from_db()
    version, drg = encounter.version, encounter.drg
    changes = CodingChange.objects.filter(encounter=encounter).count()

    what_if_url = f"/api/v1/encounters/{encounter.id}/what-if/"
    assert _api(coder).get(what_if_url).status_code == 200
    assert coder_client.get(f"/encounters/{encounter.id}/").status_code == 200
    # A recheck of the form (no save) shows the what-if of the rows as entered.
    assert (
        coder_client.post(
            f"/encounters/{encounter.id}/coding/",
            _form(encounter, [("A41.9", "Y"), ("J18.9", "Y")], action="check"),
        ).status_code
        == 200
    )

    encounter.refresh_from_db()
    assert encounter.version == version
    assert encounter.drg == drg
    assert [d.display for d in encounter.diagnoses.all()] == [
        "J18.9",
        "A41.9",
        "N17.9",
        "Z87.891",
    ]
    assert CodingChange.objects.filter(encounter=encounter).count() == changes


def _form(encounter: Encounter, dx: list[tuple[str, str]], **extra) -> dict:
    data = {"version": encounter.version, "dx-count": len(dx), "px-count": 0}
    for n, (code, poa) in enumerate(dx):
        data[f"dx-{n}-code"] = code
        data[f"dx-{n}-poa"] = poa
    data.update(extra)
    return data


def test_the_coding_form_shows_the_what_if_of_the_rows_as_entered(
    code_sets, supervisor, coder, coder_client
):
    encounter = _create(supervisor, diagnoses=SEPSIS_CASE)
    encounter_claim(user=coder, encounter_id=encounter.id)

    page = coder_client.get(f"/encounters/{encounter.id}/").content.decode()
    assert 'data-testid="whatif"' in page
    assert "Each secondary diagnosis as principal" in page
    assert 'data-code="A41.9" data-drg="871"' in page
    assert "Z87.891</span>: unacceptable as principal diagnosis (MCE)" in page
    assert "Not for resequencing." in page
    assert "MS-DRG 193 is the “with MCC” tier of 193/194/195" in page
    assert '<details class="whatif" id="drg-whatif" data-testid="whatif">' in page

    # Typed, not saved: sepsis first. The what-if follows, and stays open.
    response = coder_client.post(
        f"/encounters/{encounter.id}/coding/",
        _form(
            encounter,
            [("A41.9", "Y"), ("J18.9", "Y")],
            action="check",
            **{"whatif-open": "1"},
        ),
        HTTP_HX_REQUEST="true",
    )
    panel = response.content.decode()
    assert 'data-code="J18.9" data-drg="193"' in panel
    assert "MS-DRG 871 is the “with MCC” tier of 871/872" in panel
    assert 'data-testid="whatif" open>' in panel


def test_the_supervisors_case_shows_the_what_if_and_a_hac(
    code_sets, supervisor, supervisor_client
):
    encounter = _create(
        supervisor,
        diagnoses=[{"code": "J18.9", "poa": "Y"}, {"code": "L89.153", "poa": "N"}],
    )
    page = supervisor_client.get(f"/encounters/{encounter.id}/").content.decode()
    assert 'data-testid="whatif-hac" data-code="L89.153"' in page
    assert "HAC 04" in page
    assert "Had it been present on admission: DRG <span" in page
    assert "L89.153</span>: not present on admission (POA N)" in page


def test_the_section_shows_payment_once_the_what_if_is_priced(table5):
    def price(drg, weight):
        return {"amount": None if weight is None else f"{weight * 6000:.2f}"}

    html = render_to_string(
        "encounters/_drg_whatif.html",
        {
            "what_if": what_if(("J18.9", "Y"), ("A41.9", "Y"), price=price),
            "whatif_open": True,
        },
    )
    assert '<th scope="col" class="num">Payment</th>' in html
    assert "$7886.40" in html  # 193 as coded
    assert "$11655.00" in html and "+$3768.60" in html  # 871, and the difference
    unpriced = render_to_string(
        "encounters/_drg_whatif.html",
        {"what_if": what_if(("J18.9", "Y"), ("A41.9", "Y")), "whatif_open": True},
    )
    assert "Payment" not in unpriced and "$" not in unpriced
    assert "1.9425" in unpriced


def test_an_outpatient_form_has_no_what_if(code_sets, supervisor, supervisor_client):
    outpatient = _create(
        supervisor,
        type="outpatient",
        discharge_date=None,
        discharge_status="",
        diagnoses=[{"code": "J18.9"}],
    )
    page = supervisor_client.get(f"/encounters/{outpatient.id}/").content.decode()
    assert 'data-testid="whatif"' not in page


def test_the_api_prices_each_alternative_with_the_facilitys_rates(
    code_sets, supervisor
):
    payment_rate_set(
        facility="General",
        fiscal_year=2026,
        operating=Decimal("6800.00"),
        capital=Decimal("510.00"),
        wage_index=Decimal("1.05"),
        labor_share=Decimal("0.676"),
        gaf=Decimal("1.034"),
    )
    encounter = _create(supervisor, diagnoses=SEPSIS_CASE)
    body = _api(supervisor).get(f"/api/v1/encounters/{encounter.id}/what-if/").json()
    # Base: 6800 x (0.676 x 1.05 + 1 - 0.676) + 510 x 1.034 = 7029.84 + 527.34
    # = 7557.18 per unit of weight. Current DRG 193, weight 1.3144:
    # 1.3144 x 7557.18 = 9933.157392 -> 9933.16.
    assert body["current"]["payment"]["amount"] == "9933.16"
    sepsis = body["alternatives"][0]
    # DRG 871, weight 1.9425: 1.9425 x 7557.18 = 14679.82215 -> 14679.82; the
    # change against the current DRG: 14679.82 - 9933.16 = 4746.66.
    assert (sepsis["drg"], sepsis["payment"]["amount"]) == (871, "14679.82")
    assert sepsis["amount_delta"] == "4746.66"
