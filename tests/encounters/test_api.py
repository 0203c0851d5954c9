"""The encounter API of DESIGN.md: feeds create, coders read/patch/submit."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import DatabaseError, transaction
from rest_framework.test import APIClient

from codesets.services import release_import_now
from encounters.models import ChartAccess, CodingChange, Encounter, Patient
from encounters.services import encounter_claim
from tests.encounters.conftest import FIXTURES, FY2026, pneumonia_payload

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _create(user, **overrides) -> dict:
    response = _api(user).post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_feed_creates_an_inpatient_encounter_that_carries_its_drg(
    code_sets, supervisor
):
    body = _create(supervisor)
    assert body["status"] == "ready"
    assert body["version"] == 1
    assert [d["code"] for d in body["diagnoses"]] == ["J18.9", "E87.1"]
    assert body["diagnoses"][0]["title"] == "Pneumonia, unspecified organism"
    drg = body["drg"]
    assert drg["drg"] == 194
    assert drg["mdc"] == 4
    assert drg["grouper_version"] == 431  # discharged 2026-05-14
    assert drg["weight"] == pytest.approx(0.8059)
    assert drg["cc_mcc"] == [{"code": "E87.1", "level": "CC"}]
    assert drg["return_code"] == "OK"
    assert body["findings"] == []


def test_codes_are_accepted_in_either_form_and_any_case(code_sets, supervisor):
    body = _create(
        supervisor,
        diagnoses=[{"code": "j189", "poa": "y"}, {"code": "e87.1", "poa": "Y"}],
        procedures=[
            {"system": "icd10pcs", "code": "0dtj4zz", "date": "2026-05-11"},
        ],
    )
    assert [d["code"] for d in body["diagnoses"]] == ["J18.9", "E87.1"]
    assert body["diagnoses"][0]["poa"] == "Y"
    assert body["procedures"][0]["code"] == "0DTJ4ZZ"
    assert body["procedures"][0]["valid"] is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "inpatent"}, "type"),
        ({"admit_date": "2026-13-01"}, "admit_date"),
        ({"colour": "blue"}, "colour"),
        ({"discharge_status": "1"}, "discharge_status"),
    ],
)
def test_malformed_input_gets_400_naming_the_field(
    code_sets, supervisor, change, field
):
    response = _api(supervisor).post(
        "/api/v1/encounters/", pneumonia_payload(**change), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Encounter.objects.exists()


def test_a_nested_error_names_the_nested_field(code_sets, supervisor):
    payload = pneumonia_payload()
    payload["patient"]["sex"] = "X"
    payload["diagnoses"][1]["severity"] = "high"
    response = _api(supervisor).post("/api/v1/encounters/", payload, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "sex" in errors["patient"]
    assert "severity" in json.dumps(errors["diagnoses"])


def test_a_code_that_does_not_exist_is_refused_and_nothing_is_written(
    code_sets, supervisor
):
    response = _api(supervisor).post(
        "/api/v1/encounters/",
        pneumonia_payload(diagnoses=[{"code": "J18.9"}, {"code": "E87.99"}]),
        format="json",
    )
    assert response.status_code == 400
    message = response.json()["errors"]["diagnoses"]["1"]["code"][0]
    assert "E87.99 is not an ICD-10-CM code" in message
    assert not Encounter.objects.exists()
    assert not Patient.objects.exists()


def test_a_header_code_is_kept_and_flagged(code_sets, supervisor):
    body = _create(supervisor, diagnoses=[{"code": "J18", "poa": "Y"}])
    [dx] = body["diagnoses"]
    assert dx["code"] == "J18"
    assert dx["valid"] is False
    assert "header" in dx["message"]


def test_a_code_on_a_date_no_release_covers_is_kept_and_flagged(code_sets, supervisor):
    body = _create(
        supervisor,
        admit_date="2025-09-01",
        discharge_date="2025-09-03",
    )
    assert [d["valid"] for d in body["diagnoses"]] == [False, False]
    assert "No ICD-10-CM release covers 2025-09-03" in body["diagnoses"][0]["message"]


def test_a_code_not_yet_effective_is_kept_and_says_from_when(code_sets, supervisor):
    # A later ICD-10-CM release (from 2026-10-01) has A00.0; the one in force on the
    # discharge date (2026-05-14) does not.
    release_import_now(
        path=FIXTURES / "icd10cm" / "tabular_fy2026_april.xml",
        activate=True,
        effective_from=dt.date(2026, 10, 1),
    )
    body = _create(supervisor, diagnoses=[{"code": "A00.0", "poa": "Y"}])
    [dx] = body["diagnoses"]
    assert dx["valid"] is False
    assert "A00.0 is not valid until 2026-10-01" in dx["message"]


def test_an_existing_mrn_with_other_demographics_is_refused(code_sets, supervisor):
    _create(supervisor)
    payload = pneumonia_payload()
    payload["patient"]["birth_date"] = "1957-02-01"
    response = _api(supervisor).post("/api/v1/encounters/", payload, format="json")
    assert response.status_code == 400
    assert "different birth date" in json.dumps(response.json()["errors"])
    assert Patient.objects.get().birth_date == dt.date(1956, 2, 1)
    assert Encounter.objects.count() == 1


def test_bulk_creates_all_or_nothing(code_sets, supervisor):
    api = _api(supervisor)
    good = pneumonia_payload()
    other = pneumonia_payload(
        patient={**good["patient"], "mrn": "B7", "first_name": "Bo"}
    )
    response = api.post("/api/v1/encounters/bulk/", [good, other], format="json")
    assert response.status_code == 201
    assert len(response.json()["created"]) == 2

    bad = pneumonia_payload(diagnoses=[{"code": "ZZZ99"}])
    response = api.post("/api/v1/encounters/bulk/", [good, bad], format="json")
    assert response.status_code == 400
    assert "1" in response.json()["errors"]
    assert "0" not in response.json()["errors"]
    assert Encounter.objects.count() == 2


def test_coders_cannot_create_and_outsiders_cannot_read(
    code_sets, supervisor, coder, outsider, codeset_admin
):
    response = _api(coder).post(
        "/api/v1/encounters/", pneumonia_payload(), format="json"
    )
    assert response.status_code == 403
    encounter_id = _create(supervisor)["id"]
    for user in (outsider, codeset_admin):
        assert _api(user).get(f"/api/v1/encounters/{encounter_id}/").status_code == 403
    assert APIClient().get(f"/api/v1/encounters/{encounter_id}/").status_code in (
        401,
        403,
    )


def test_a_coder_cannot_open_an_encounter_not_assigned_to_them(
    code_sets, supervisor, coder, other_coder
):
    encounter_id = _create(supervisor)["id"]
    assert _api(coder).get(f"/api/v1/encounters/{encounter_id}/").status_code == 404
    encounter_claim(user=other_coder, encounter_id=encounter_id)
    assert _api(coder).get(f"/api/v1/encounters/{encounter_id}/").status_code == 404
    response = _api(other_coder).get(f"/api/v1/encounters/{encounter_id}/")
    assert response.status_code == 200
    assert response.json()["patient"]["mrn"] == "A123"
    assert response.json()["assigned_to"] == other_coder.username
    assert ChartAccess.objects.filter(
        user=other_coder, encounter_id=encounter_id, via="api"
    ).exists()
    assert not ChartAccess.objects.filter(user=coder).exists()


def test_patch_replaces_the_codes_and_a_stale_version_gets_409(
    code_sets, supervisor, coder
):
    encounter_id = _create(supervisor)["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    api = _api(coder)
    url = f"/api/v1/encounters/{encounter_id}/"
    version = api.get(url).json()["version"]

    response = api.patch(
        url,
        {"version": version, "diagnoses": [{"code": "J18.9", "poa": "Y"}]},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == version + 1
    assert [d["code"] for d in body["diagnoses"]] == ["J18.9"]
    assert body["drg"]["drg"] == 195  # the CC is gone

    # A second client still holding the old version is refused; nothing changes.
    stale = api.patch(
        url,
        {"version": version, "diagnoses": [{"code": "J18.9"}, {"code": "J96.01"}]},
        format="json",
    )
    assert stale.status_code == 409
    conflict = stale.json()
    assert conflict["version"] == version + 1
    assert conflict["current"]["diagnoses"] == [{"code": "J18.9", "poa": "Y"}]
    assert "changed by" in conflict["detail"]
    after = api.get(url).json()
    assert [d["code"] for d in after["diagnoses"]] == ["J18.9"]
    assert after["version"] == version + 1


def test_patch_without_version_or_with_bad_codes_gets_400(code_sets, supervisor, coder):
    encounter_id = _create(supervisor)["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    url = f"/api/v1/encounters/{encounter_id}/"
    api = _api(coder)
    response = api.patch(url, {"diagnoses": [{"code": "J18.9"}]}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["errors"]
    version = api.get(url).json()["version"]
    response = api.patch(
        url,
        {"version": version, "procedures": [{"system": "icd10pcs", "code": "0DTJ4ZQ"}]},
        format="json",
    )
    assert response.status_code == 400
    assert "0DTJ4ZQ" in json.dumps(response.json()["errors"]["procedures"])
    assert api.get(url).json()["version"] == version


def test_submit_stores_the_drg_and_records_history(code_sets, supervisor, coder):
    encounter_id = _create(supervisor)["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    api = _api(coder)
    url = f"/api/v1/encounters/{encounter_id}/"
    version = api.get(url).json()["version"]
    response = api.post(f"{url}submit/", {"version": version}, format="json")
    assert response.status_code == 202
    assert response.json()["status"] == "submitted"
    encounter = Encounter.objects.get(id=encounter_id)
    assert encounter.drg["drg"] == 194
    assert encounter.submitted_at is not None
    # Submitted: the coder can no longer change it.
    response = api.patch(
        url, {"version": encounter.version, "diagnoses": []}, format="json"
    )
    assert response.status_code == 404
    actions = list(
        CodingChange.objects.filter(encounter_id=encounter_id).values_list(
            "action", flat=True
        )
    )
    assert actions == ["created", "claimed", "submitted"]


def test_history_records_every_change_and_cannot_be_edited(
    code_sets, supervisor, coder
):
    encounter_id = _create(supervisor)["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    api = _api(coder)
    url = f"/api/v1/encounters/{encounter_id}/"
    for codes in (["J18.9"], ["J18.9", "J96.01"], ["J18.9", "J96.01", "E87.1"]):
        version = api.get(url).json()["version"]
        response = api.patch(
            url,
            {"version": version, "diagnoses": [{"code": c, "poa": "Y"} for c in codes]},
            format="json",
        )
        assert response.status_code == 200
    saved = CodingChange.objects.filter(encounter_id=encounter_id, action="saved")
    assert [len(c.after["diagnoses"]) for c in saved] == [1, 2, 3]
    assert saved[1].before["diagnoses"] == [{"code": "J18.9", "poa": "Y"}]
    assert all(c.changed_by == coder for c in saved)

    change = saved[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        CodingChange.objects.filter(id=change.id).update(comment="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        change.delete()
    assert CodingChange.objects.filter(encounter_id=encounter_id).count() == 5


GOLDEN = json.loads((FIXTURES / "ms-drg" / "cms_java_grouper_results.json").read_text())


@pytest.fixture
def golden_code_sets(db):
    return [
        release_import_now(
            path=FIXTURES / "encounters" / "icd10cm_tabular_fy2026_april_golden.xml",
            activate=True,
            effective_from=FY2026,
        ),
        release_import_now(
            path=FIXTURES / "encounters" / "icd10pcs_tables_fy2026_golden.xml",
            activate=True,
            effective_from=FY2026,
        ),
    ]


def test_encounters_created_through_the_api_carry_cms_grouper_drgs(
    golden_code_sets, supervisor
):
    """The first 20 FY2026 claims of CMS's own grouper results (the ones
    tests/fixtures/cut_encounters.py keeps the codes of), sent as encounters."""
    claims = [r for r in GOLDEN if r["version"] in (430, 431)][:20]
    api = _api(supervisor)
    for claim in claims:
        discharge = (
            dt.date(2026, 1, 15) if claim["version"] == 430 else dt.date(2026, 6, 15)
        )
        birth = dt.date(discharge.year - claim["age"] - 1, 12, 31)
        payload = {
            "type": "inpatient",
            "facility": "General",
            "admit_date": (discharge - dt.timedelta(days=3)).isoformat(),
            "discharge_date": discharge.isoformat(),
            "discharge_status": f"{claim['discharge_status']:02d}",
            "patient": {
                "mrn": f"G{claim['id']}-{claim['version']}",
                "first_name": "Golden",
                "last_name": f"Claim{claim['id']}",
                "birth_date": birth.isoformat(),
                "sex": "M" if claim["sex"] == 0 else "F",
            },
            # CMS ran these claims without POA indicators (a POA-exempt run); "Y"
            # is what gives the grouper the same input (see encounters/drg.py).
            "diagnoses": [
                {"code": c, "poa": "Y"} for c in [claim["pdx"], *claim["sdx"]]
            ],
            "procedures": [
                {"system": "icd10pcs", "code": c, "date": discharge.isoformat()}
                for c in claim["procs"]
            ],
        }
        response = api.post("/api/v1/encounters/", payload, format="json")
        assert response.status_code == 201, response.json()
        drg = response.json()["drg"]
        assert (drg["drg"], drg["mdc"], drg["return_code"]) == (
            claim["cms_final_drg"],
            claim["cms_mdc"],
            claim["cms_return_code"],
        ), claim["id"]


def test_checks_runs_the_audit_rules_now_without_storing_or_routing(
    code_sets, supervisor, coder
):
    """Diabetic polyneuropathy coded twice (G63 excludes "E08-E13 with .42") and
    hypertension without POA: the findings the audit would raise, while the
    encounter stays with its coder."""
    encounter_id = _create(
        supervisor,
        diagnoses=[
            {"code": "E11.42", "poa": "Y"},
            {"code": "G63", "poa": "Y"},
            {"code": "I10", "poa": ""},
        ],
    )["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    version = Encounter.objects.get(id=encounter_id).version

    response = _api(coder).get(f"/api/v1/encounters/{encounter_id}/checks/")

    assert response.status_code == 200
    findings = response.json()["findings"]
    by_rule = {f["rule"]: f for f in findings}
    assert sorted(by_rule["excludes1"]["codes"]) == ["E11.42", "G63"]
    assert by_rule["excludes1"]["severity"] == "warning"
    assert "Excludes1" in by_rule["excludes1"]["reference"]
    assert by_rule["poa-missing"]["codes"] == ["I10"]
    assert set(findings[0]) == {
        "rule",
        "severity",
        "message",
        "codes",
        "reference",
        "status",
    }
    assert {f["status"] for f in findings} == {"open"}
    severities = [f["severity"] for f in findings]
    assert severities == sorted(
        severities, key=["error", "warning", "info"].index
    )  # errors first
    encounter = Encounter.objects.get(id=encounter_id)
    assert (encounter.status, encounter.version) == ("in_progress", version)
    assert not encounter.findings.exists()
    assert not encounter.audit_runs.exists()
    assert ChartAccess.objects.filter(
        user=coder, encounter_id=encounter_id, via="api"
    ).exists()


def test_checks_of_a_clean_encounter_are_empty(code_sets, supervisor, coder):
    encounter_id = _create(supervisor)["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    response = _api(coder).get(f"/api/v1/encounters/{encounter_id}/checks/")
    assert response.json() == {"findings": []}


def test_checks_of_another_coders_encounter_are_404(
    code_sets, supervisor, coder, other_coder, outsider
):
    encounter_id = _create(supervisor)["id"]
    encounter_claim(user=other_coder, encounter_id=encounter_id)
    url = f"/api/v1/encounters/{encounter_id}/checks/"
    assert _api(coder).get(url).status_code == 404
    assert _api(coder).get("/api/v1/encounters/999999/checks/").status_code == 404
    assert _api(outsider).get(url).status_code == 403  # no coding role at all
    assert _api(other_coder).get(url).status_code == 200
    assert _api(supervisor).get(url).status_code == 200


def test_checks_cost_no_query_per_procedure_line(
    code_sets, supervisor, coder, outsider
):
    """NCCI and MUE rows are read in bulk, as the audit job reads them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for name in ("ptp_practitioner.txt", "mue_practitioner.csv"):
        release_import_now(
            path=FIXTURES / "ncci" / name,
            activate=True,
            effective_from=dt.date(1996, 1, 1),
        )
    counts = []
    for n, lines in enumerate(
        (["11042", "97597"], ["11042", "97597", "93000", "93005", "36415", "99213"])
    ):
        encounter_id = _create(
            supervisor,
            type="professional",
            admit_date="2026-05-10",
            discharge_date=None,
            patient={**pneumonia_payload()["patient"], "mrn": f"P{n}"},
            diagnoses=[{"code": "J18.9"}],
            procedures=[
                {"system": "cpt", "code": code, "date": "2026-05-10", "units": 2}
                for code in lines
            ],
        )["id"]
        encounter_claim(user=coder, encounter_id=encounter_id)
        client = _api(coder)
        client.get(f"/api/v1/encounters/{encounter_id}/checks/")  # warm caches
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/encounters/{encounter_id}/checks/")
        rules = {f["rule"] for f in response.json()["findings"]}
        assert {"ncci-ptp", "mue-units"} <= rules
        counts.append(len(queries))
    assert counts[0] == counts[1]
