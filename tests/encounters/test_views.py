"""The coder's pages: work queue, claim, coding form with live checks and DRG."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from encounters.models import ChartAccess, CodingChange, Encounter
from encounters.services import DiagnosisInput, encounter_claim, encounter_save_coding
from tests.encounters.conftest import pneumonia_payload

pytestmark = pytest.mark.django_db


def _create(user, **overrides) -> int:
    client = APIClient()
    client.force_authenticate(user)
    response = client.post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def _form(encounter: Encounter, dx: list[tuple[str, str]], **extra) -> dict:
    data = {"version": encounter.version, "dx-count": len(dx), "px-count": 0}
    for n, (code, poa) in enumerate(dx):
        data[f"dx-{n}-code"] = code
        data[f"dx-{n}-poa"] = poa
    data.update(extra)
    return data


def test_the_queue_shows_my_encounters_and_unassigned_ones_without_patient_names(
    code_sets, supervisor, coder, other_coder, coder_client
):
    mine = _create(supervisor)
    waiting = _create(
        supervisor, patient={**pneumonia_payload()["patient"], "mrn": "B2"}
    )
    theirs = _create(
        supervisor, patient={**pneumonia_payload()["patient"], "mrn": "C3"}
    )
    encounter_claim(user=coder, encounter_id=mine)
    encounter_claim(user=other_coder, encounter_id=theirs)

    page = coder_client.get("/encounters/queue/").content.decode()
    assert f"#{mine}" in page
    assert f"#{waiting}" in page
    assert f"#{theirs}" not in page
    # The patient's name shows on my own encounter only.
    assert page.count("Lee, Ann") == 1
    assert "claim to see" in page


def test_the_queue_filters_by_type_facility_and_discharge_age(
    code_sets, supervisor, coder_client
):
    old = _create(supervisor)
    recent = _create(
        supervisor,
        type="outpatient",
        facility="North Clinic",
        admit_date="2026-09-20",
        discharge_date=None,
        diagnoses=[{"code": "M54.50"}],
        patient={**pneumonia_payload()["patient"], "mrn": "B2"},
    )
    today = timezone.localdate()
    age_old = (today - dt.date(2026, 5, 14)).days
    page = coder_client.get("/encounters/queue/?type=outpatient").content.decode()
    assert f"#{recent}" in page and f"#{old}" not in page
    page = coder_client.get("/encounters/queue/?facility=General").content.decode()
    assert f"#{old}" in page and f"#{recent}" not in page
    page = coder_client.get(f"/encounters/queue/?min_age={age_old}").content.decode()
    assert f"#{old}" in page and f"#{recent}" not in page
    page = coder_client.get(
        f"/encounters/queue/?max_age={age_old - 1}"
    ).content.decode()
    assert f"#{recent}" in page and f"#{old}" not in page
    bad = coder_client.get("/encounters/queue/?min_age=-4")
    assert bad.status_code == 200
    assert "min_age" in bad.content.decode()


def test_claim_next_takes_the_oldest_unassigned_encounter(
    code_sets, supervisor, coder, other_coder, coder_client
):
    newer = _create(supervisor, admit_date="2026-06-01", discharge_date="2026-06-03")
    older = _create(supervisor, patient={**pneumonia_payload()["patient"], "mrn": "B2"})
    response = coder_client.post("/encounters/queue/next/")
    assert response.status_code == 302
    assert response.url == f"/encounters/{older}/"
    assert Encounter.objects.get(id=older).assigned_to == coder
    response = coder_client.post("/encounters/queue/next/")
    assert response.url == f"/encounters/{newer}/"
    response = coder_client.post("/encounters/queue/next/", follow=True)
    assert "No unassigned encounter is waiting" in response.content.decode()


def test_a_coder_cannot_open_or_claim_an_encounter_of_another_coder(
    code_sets, supervisor, other_coder, coder_client
):
    encounter_id = _create(supervisor)
    assert coder_client.get(f"/encounters/{encounter_id}/").status_code == 404
    encounter_claim(user=other_coder, encounter_id=encounter_id)
    assert coder_client.get(f"/encounters/{encounter_id}/").status_code == 404
    response = coder_client.post(f"/encounters/{encounter_id}/claim/", follow=True)
    assert "already claimed" in response.content.decode()
    assert Encounter.objects.get(id=encounter_id).assigned_to == other_coder
    response = coder_client.post(
        f"/encounters/{encounter_id}/coding/", {"version": 1, "action": "save"}
    )
    assert response.status_code == 404


def test_other_roles_are_refused(code_sets, supervisor, admin_client_, client):
    encounter_id = _create(supervisor)
    assert admin_client_.get("/encounters/queue/").status_code == 403
    assert admin_client_.get(f"/encounters/{encounter_id}/").status_code == 403
    response = client.get(f"/encounters/{encounter_id}/")
    assert response.status_code == 302
    assert "/login" in response.url


def test_opening_a_chart_shows_documents_codes_drg_and_is_logged(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter_claim(user=coder, encounter_id=encounter_id)
    page = coder_client.get(f"/encounters/{encounter_id}/").content.decode()
    assert "Community-acquired pneumonia" in page
    assert 'value="J18.9"' in page
    assert "DRG 194" in page
    # Discharged 2026-05-14: the April update of MS-DRG v43, named as CMS names it.
    assert "MS-DRG grouper v43.1" in page
    assert "E87.1 CC" in page
    assert "Lee, Ann" in page
    assert (
        ChartAccess.objects.filter(user=coder, encounter_id=encounter_id).count() == 1
    )
    # The supervisor may open it too; that opening is logged as theirs.
    client = APIClient()
    client.force_login(supervisor)
    assert client.get(f"/encounters/{encounter_id}/").status_code == 200
    # (The feed that created it is logged too, as an API read.)
    assert ChartAccess.objects.filter(encounter_id=encounter_id, via="web").count() == 2


def test_checking_the_form_shows_messages_and_the_drg_without_saving(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    response = coder_client.post(
        f"/encounters/{encounter_id}/coding/",
        _form(
            encounter, [("J18.9", "Y"), ("J96.01", "Y"), ("E87.99", "Y"), ("J18", "")]
        ),
        HTTP_HX_REQUEST="true",
    )
    panel = response.content.decode()
    assert response.status_code == 200
    assert 'id="coding-panel"' in panel and "<html" not in panel
    assert "E87.99 is not an ICD-10-CM code" in panel
    assert "J18 is a header" in panel
    assert "DRG 193" in panel  # acute respiratory failure is an MCC
    assert "J96.01 MCC" in panel
    assert "Changed from DRG 194" in panel
    encounter.refresh_from_db()
    assert [d.code for d in encounter.diagnoses.all()] == ["J189", "E871"]


def test_rows_are_added_moved_and_removed(code_sets, supervisor, coder, coder_client):
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    url = f"/encounters/{encounter_id}/coding/"
    panel = coder_client.post(
        url,
        _form(encounter, [("J18.9", "Y"), ("E87.1", "Y")], action="up:dx:1"),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert panel.index('value="E87.1"') < panel.index('value="J18.9"')
    assert 'id="dx-0-code" name="dx-0-code" value="E87.1"' in panel
    panel = coder_client.post(
        url, _form(encounter, [("J18.9", "Y")], action="add:dx"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'name="dx-count" value="2"' in panel
    assert 'id="dx-1-code" name="dx-1-code" value=""' in panel
    panel = coder_client.post(
        url,
        _form(encounter, [("J18.9", "Y"), ("E87.1", "Y")], action="remove:dx:0"),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'value="J18.9"' not in panel and 'value="E87.1"' in panel


def test_save_draft_then_a_stale_save_is_refused_showing_what_changed(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    url = f"/encounters/{encounter_id}/coding/"
    stale_version = encounter.version
    panel = coder_client.post(
        url, _form(encounter, [("J18.9", "Y")], action="save"), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Draft saved" in panel
    encounter.refresh_from_db()
    assert encounter.version == stale_version + 1

    # Meanwhile a supervisor changes it; the coder's next save carries the old version.
    encounter_save_coding(
        user=supervisor,
        encounter_id=encounter_id,
        version=encounter.version,
        diagnoses=[DiagnosisInput("J18.9", "Y"), DiagnosisInput("J90", "N")],
    )
    encounter.version = stale_version + 1
    panel = coder_client.post(
        url,
        _form(encounter, [("J18.9", "Y"), ("E87.1", "Y")], action="save"),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "was changed by" in panel
    assert 'data-testid="conflict"' in panel
    assert "J90" in panel  # what they saved
    assert 'value="E87.1"' in panel  # what I typed is still in the form
    encounter.refresh_from_db()
    assert [d.code for d in encounter.diagnoses.all()] == ["J189", "J90"]


def test_submit_from_the_form_stores_the_drg_and_goes_back_to_the_queue(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    response = coder_client.post(
        f"/encounters/{encounter_id}/coding/",
        _form(encounter, [("J18.9", "Y"), ("J96.01", "Y")], action="submit"),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/encounters/queue/"
    encounter.refresh_from_db()
    assert encounter.status == "submitted"
    assert encounter.drg["drg"] == 193
    assert list(
        CodingChange.objects.filter(encounter=encounter).values_list(
            "action", flat=True
        )
    ) == ["created", "claimed", "saved", "submitted"]
    page = coder_client.get(f"/encounters/{encounter_id}/").content.decode()
    assert "Read only" in page
    assert "+ J96.01" in page  # the history shows what was added


def test_the_typeahead_suggests_codes_valid_on_the_date_of_service(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter_claim(user=coder, encounter_id=encounter_id)
    response = coder_client.get(
        f"/encounters/{encounter_id}/suggest/",
        {"field": "dx-1-code", "dx-1-code": "hyponatr"},
    )
    assert 'data-code="E87.1"' in response.content.decode()
    response = coder_client.get(
        f"/encounters/{encounter_id}/suggest/",
        {"field": "px-0-code", "px-0-code": "0DTJ4", "px-0-system": "icd10pcs"},
    )
    assert 'data-code="0DTJ4ZZ"' in response.content.decode()


def test_seed_demo_creates_realistic_encounters_that_open_and_group(
    code_sets, supervisor, supervisor_client, settings, tmp_path
):
    from django.core.management import call_command

    call_command(
        "seed_demo",
        "--encounters",
        "40",
        "--coded-share",
        "1",
        "--credentials-file",
        str(tmp_path / "creds.json"),
    )
    assert Encounter.objects.count() == 40
    inpatient = Encounter.objects.filter(type="inpatient").first()
    assert inpatient.discharge_date >= inpatient.admit_date
    assert inpatient.documents.filter(kind="discharge_summary").exists()
    principal = inpatient.diagnoses.get(sequence=1)
    assert principal.code and principal.poa == "Y"
    page = supervisor_client.get(f"/encounters/{inpatient.id}/").content.decode()
    assert "DRG " in page
    assert "Import (no user account)" in page  # created by no user: the history says so
    # The demo facilities get illustrative rates (recorded as demo, never CMS's),
    # so that the demo shows payment estimates.
    from codesets.models import PaymentRateChange

    assert set(
        PaymentRateChange.objects.filter(via="demo").values_list("note", flat=True)
    ) == {
        "Illustrative demo figures, not CMS's: replace with the facility's own "
        "from the IPPS final rule (docs/payment.md)."
    }
    assert 'data-testid="drg-amount"' in page


def test_make_runs_demo_has_about_a_third_of_its_encounters_submitted(
    code_sets, tmp_path
):
    """The README: "300 demo encounters ... about a third already submitted by the
    demo coder and audited". The run asks seed_demo for a share of 0.33 with half the
    encounters arriving coded."""
    from django.core.management import call_command

    call_command(
        "seed_demo",
        "--encounters",
        "30",
        "--submitted-share",
        "0.33",
        "--credentials-file",
        str(tmp_path / "creds.json"),
    )
    submitted = Encounter.objects.filter(submitted_at__isnull=False)
    assert submitted.count() == 10
    assert set(submitted.values_list("assigned_to__username", flat=True)) == {"coder"}
    # Each with the history a coder leaves: claimed, then submitted 5-45 minutes
    # later; so a supervisor's productivity report shows the demo coder's work.
    for encounter in submitted:
        actions = list(
            encounter.changes.order_by("changed_at").values_list("action", flat=True)
        )
        assert actions[:3] == ["created", "claimed", "submitted"]
        submit = encounter.changes.get(action="submitted")
        assert submit.changed_at == encounter.submitted_at
        assert (
            5 * 60 <= (submit.changed_at - submit.started_at).total_seconds() <= 45 * 60
        )
    supervisor = User.objects.get(username="supervisor")
    client = APIClient()
    client.force_authenticate(supervisor)
    report = client.get("/api/v1/reports/productivity/").json()
    coder_row = next(r for r in report["rows"] if r["coder"] == "coder")
    assert coder_row["coded"] == 10
    assert 5 <= coder_row["median_minutes"] <= 45


def test_an_empty_principal_row_is_not_silently_replaced(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor, diagnoses=[])
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    panel = coder_client.post(
        f"/encounters/{encounter_id}/coding/",
        _form(encounter, [("", ""), ("E87.1", "Y")], action="save"),
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Enter the principal diagnosis here" in panel
    assert "DRG 641" not in panel  # E87.1 is not grouped as the principal
    assert "Draft saved" not in panel
    encounter.refresh_from_db()
    assert not encounter.diagnoses.exists()


def test_opening_a_chart_checks_saved_procedure_dates(
    code_sets, supervisor, coder, coder_client
):
    # The saved rows carry their parsed date: the first page view says what a
    # check of the same rows says.
    encounter_id = _create(
        supervisor,
        procedures=[{"system": "icd10pcs", "code": "0DTJ4ZZ", "date": "2026-05-20"}],
    )
    encounter_claim(user=coder, encounter_id=encounter_id)
    page = coder_client.get(f"/encounters/{encounter_id}/").content.decode()
    assert "Procedure date 2026-05-20 is outside the encounter&#x27;s dates." in page


def test_each_row_shows_its_own_message_when_a_row_before_it_is_refused(
    code_sets, supervisor, coder, coder_client
):
    # "." is no code at all (refused before any lookup): the rows after it still
    # get their own verdicts, not their neighbour's.
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    response = coder_client.post(
        f"/encounters/{encounter_id}/coding/",
        _form(encounter, [("J18.9", "Y"), (".", "Y"), ("E87.1", "Y"), ("J18", "")]),
        HTTP_HX_REQUEST="true",
    )
    panel = response.content.decode()
    rows = panel.split('data-testid="dx-row"')[1:]
    assert len(rows) == 4
    assert "Pneumonia, unspecified organism" in rows[0]
    assert "Enter a code." in rows[1]
    assert "Hypo-osmolality and hyponatremia" in rows[2]
    assert "J18 is a header" in rows[3]


@pytest.mark.parametrize(
    ("sex", "note"),
    [
        ("M", "maternity code; the patient is male"),
        ("F", "maternity code (ages 9-64); the patient is 70"),
    ],
)
def test_codes_of_a_population_the_patient_is_not_in_are_suggested_last(
    supervisor, coder, coder_client, sex, note
):
    # The golden cut holds O08.2 "Embolism following ectopic and molar pregnancy",
    # the shortest title matching "embolism": first in the encoder, last here.
    from codesets.services import release_import_now
    from encounters.models import Patient
    from tests.encounters.conftest import FIXTURES, FY2026

    release_import_now(
        path=FIXTURES / "encounters" / "icd10cm_tabular_fy2026_april_golden.xml",
        activate=True,
        effective_from=FY2026,
    )
    encounter_id = _create(supervisor)
    Patient.objects.filter(encounters__id=encounter_id).update(sex=sex)
    encounter_claim(user=coder, encounter_id=encounter_id)

    def suggested(text: str) -> str:
        return coder_client.get(
            f"/encounters/{encounter_id}/suggest/",
            {"field": "dx-1-code", "dx-1-code": text},
        ).content.decode()

    # Enough other codes match "embolism" (T85.81-, I26.94): O08.2 falls below the
    # eight.
    page = suggested("embolism")
    codes = [part.split('"', 1)[0] for part in page.split('data-code="')[1:]]
    assert len(codes) == 8 and all(code[0] in "TI" for code in codes)
    assert "O08.2" not in codes
    # Asked for more precisely, it is there, saying why it would come last.
    page = suggested("embolism ectopic")
    assert 'data-code="O08.2"' in page
    assert note in page.split('data-code="O08.2"', 1)[1]
    # Typed as a code, it keeps its place (the coder means it).
    assert 'data-code="O08.2"' in suggested("O08.2").split("</li>", 1)[0]


@pytest.mark.parametrize(
    ("sex", "first", "last_note"),
    [
        ("M", "Z87.438", "code for a female patient; the patient is male"),
        ("F", "Z87.42", "code for a male patient; the patient is female"),
    ],
)
@pytest.mark.usefixtures("code_sets")
def test_codes_for_the_other_sex_are_suggested_last(
    supervisor, coder, coder_client, sex, first, last_note
):
    # Issue 12: Z87.42 "... of the female genital tract" for a man, Z87.43x "... male
    # genital organs" for a woman come after the others, saying why.
    from encounters.models import Patient

    encounter_id = _create(supervisor)
    Patient.objects.filter(encounters__id=encounter_id).update(sex=sex)
    encounter_claim(user=coder, encounter_id=encounter_id)
    page = coder_client.get(
        f"/encounters/{encounter_id}/suggest/",
        {"field": "dx-1-code", "dx-1-code": "history genital"},
    ).content.decode()
    items = page.split('data-code="')[1:]
    codes = [item.split('"', 1)[0] for item in items]
    assert first in codes
    other = [i for i, item in enumerate(items) if last_note in item]
    assert other, codes
    assert all(i > codes.index(first) for i in other)
    assert all(last_note in item for item in items[min(other) :])


def _panel(client, encounter_id: int, data: dict) -> str:
    response = client.post(
        f"/encounters/{encounter_id}/coding/", data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return response.content.decode()


def _row(panel: str, index: int) -> str:
    """The HTML of diagnosis row ``index`` of the panel."""
    start = panel.rindex(
        '<li class="code-row', 0, panel.index(f'data-kind="dx" data-index="{index}"')
    )
    end = panel.find('<li class="code-row', start + 1)
    return panel[start : end if end > 0 else None]


def test_every_recheck_shows_the_audit_findings_beside_their_rows(
    code_sets, supervisor, coder, coder_client
):
    """Unsaved rows: diabetic polyneuropathy coded twice (G63 says Excludes1
    "E08-E13 with .42") and hypertension without POA."""
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    panel = _panel(
        coder_client,
        encounter_id,
        _form(encounter, [("J18.9", "Y"), ("E11.42", "Y"), ("G63", "Y"), ("I10", "")]),
    )
    assert 'data-rule="excludes1"' not in _row(panel, 0)
    assert 'data-rule="excludes1"' in _row(panel, 1)
    assert 'data-rule="excludes1"' in _row(panel, 2)
    assert 'data-rule="poa-missing"' in _row(panel, 3)
    assert 'data-rule="poa-missing"' not in _row(panel, 0)
    assert "level-ok" in _row(panel, 0)
    assert "level-warn" in _row(panel, 1)  # the row's colour follows its findings
    assert "level-error" in _row(panel, 3)
    assert 'data-testid="checks-summary"' in panel
    # E11 asks for the insulin/oral drug codes: the prompt shows when it is picked.
    assert "Use additional code" in _row(panel, 1)
    encounter.refresh_from_db()
    assert encounter.version == 2  # a recheck writes nothing
    assert not encounter.findings.exists()


def test_submit_with_open_warnings_asks_first_and_submit_anyway_sends_it(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    rows = [("J18.9", "Y"), ("E11.42", "Y"), ("G63", "Y")]
    panel = _panel(coder_client, encounter_id, _form(encounter, rows, action="submit"))
    assert 'data-testid="confirm-submit"' in panel
    assert 'data-testid="submit-anyway"' in panel
    confirm = panel[panel.index('data-testid="confirm-submit"') :]
    assert 'data-rule="excludes1"' in confirm
    encounter.refresh_from_db()
    assert encounter.status == "in_progress"  # held, but the codes are saved
    assert [d.code for d in encounter.diagnoses.all()] == ["J189", "E1142", "G63"]

    response = coder_client.post(
        f"/encounters/{encounter_id}/coding/",
        _form(encounter, rows, action="submit-anyway"),
        HTTP_HX_REQUEST="true",
    )
    assert response.headers["HX-Redirect"] == "/encounters/queue/"
    encounter.refresh_from_db()
    assert encounter.status == "submitted"


def test_submit_with_an_open_error_is_held_without_submit_anyway(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    rows = [("J18.9", "Y"), ("E87.1", "Y"), ("E87.1", "Y")]  # duplicate-code: error
    for action in ("submit", "submit-anyway"):
        panel = _panel(
            coder_client, encounter_id, _form(encounter, rows, action=action)
        )
        assert 'data-testid="confirm-submit"' in panel
        assert 'data-testid="submit-anyway"' not in panel
        assert 'data-rule="duplicate-code"' in panel
        encounter.refresh_from_db()
        assert encounter.status == "in_progress"


# The coding page's form asks for the computed parts only (hx-target #coding-form).
PARTS = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "coding-form"}


def test_a_recheck_from_the_page_sends_back_only_what_the_server_computes(
    code_sets, supervisor, coder, coder_client
):
    """The verdicts, the DRG panel, the checks, the banner and the version, each an
    out-of-band swap; no input the coder types in, no panel."""
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    response = coder_client.post(
        f"/encounters/{encounter_id}/coding/",
        _form(
            encounter, [("J18.9", "Y"), ("J96.01", "Y"), ("E87.99", "Y"), ("J18", "")]
        ),
        **PARTS,
    )
    parts = response.content.decode()
    assert response.status_code == 200
    assert "HX-Retarget" not in response.headers
    for part in ("drg-panel", "live-checks", "coding-banner", "confirm-slot"):
        assert f'id="{part}"' in parts
    assert parts.count('hx-swap-oob="true"') == 9  # 5 above, version, 4 rows
    assert (
        f'<input type="hidden" id="coding-version" name="version" '
        f'value="{encounter.version}" hx-swap-oob="true">'
    ) in parts
    verdicts = parts.split('class="row-verdict"')[1:]
    assert [v.split('id="', 1)[1].split('"', 1)[0] for v in verdicts] == [
        f"dx-{n}-verdict" for n in range(4)
    ]
    assert "Pneumonia, unspecified organism" in verdicts[0]
    assert 'data-level="error"' in verdicts[2]
    assert "E87.99 is not an ICD-10-CM code" in verdicts[2]
    assert "J18 is a header" in verdicts[3]
    assert "DRG 193" in parts and "Changed from DRG 194" in parts
    # Nothing typed in comes back: the boxes stay in the page as typed.
    assert 'id="dx-0-code"' not in parts and 'name="dx-count"' not in parts
    assert 'id="coding-panel"' not in parts and 'id="history"' not in parts
    encounter.refresh_from_db()
    assert [d.code for d in encounter.diagnoses.all()] == ["J189", "E871"]


def test_a_save_from_the_page_refreshes_the_history_status_and_version(
    code_sets, supervisor, coder, coder_client
):
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    response = coder_client.post(
        f"/encounters/{encounter_id}/coding/",
        _form(encounter, [("J18.9", "Y"), ("J96.01", "Y")], action="save"),
        **PARTS,
    )
    parts = response.content.decode()
    assert "Draft saved" in parts
    assert (
        f'value="{encounter.version + 1}" hx-swap-oob="true" data-saved="1">' in parts
    )
    history = parts.split('id="history"', 1)[1].split("</section>", 1)[0]
    assert 'hx-swap-oob="true"' in history.split(">", 1)[0]
    first = history.split('data-testid="history-row"')[1]
    assert "Codes saved" in first and "+ J96.01" in first
    assert 'id="encounter-status"' in parts
    assert 'id="dx-0-code"' not in parts


def test_a_row_action_or_a_form_no_longer_editable_gets_the_whole_panel(
    code_sets, supervisor, coder, coder_client
):
    """The page adds, moves and removes rows itself; a row action posted anyway, or
    an encounter taken away meanwhile, changes the form's shape: the whole panel
    comes back, retargeted."""
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    url = f"/encounters/{encounter_id}/coding/"
    response = coder_client.post(
        url, _form(encounter, [("J18.9", "Y")], action="add:dx"), **PARTS
    )
    assert response.headers["HX-Retarget"] == "#coding-panel"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert 'id="dx-1-code" name="dx-1-code" value=""' in response.content.decode()

    # Submitted from another tab meanwhile: read only now.
    from encounters.services import encounter_submit

    encounter_submit(user=coder, encounter_id=encounter_id, version=encounter.version)
    response = coder_client.post(url, _form(encounter, [("J18.9", "Y")]), **PARTS)
    assert response.headers["HX-Retarget"] == "#coding-panel"
    assert "Read only" in response.content.decode()


def test_a_returned_encounter_shows_the_supervisors_comment_to_its_coder(
    code_sets, supervisor, coder, coder_client, settings
):
    from encounters.audit.services import encounter_audit, encounter_review_return
    from encounters.services import encounter_submit

    settings.AUDIT_SAMPLE_RATE = 1.0
    encounter_id = _create(supervisor)
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    encounter = encounter_submit(
        user=coder, encounter_id=encounter_id, version=encounter.version
    )
    encounter_audit(encounter_id=encounter_id)
    encounter.refresh_from_db()
    assert encounter.status == "in_review"
    page = coder_client.get(f"/encounters/{encounter_id}/").content.decode()
    assert 'data-testid="return-note"' not in page
    # A reminder the supervisor did not mean (the return confirms it all the same).
    from encounters.models import Finding

    Finding.objects.create(
        encounter=encounter,
        run=encounter.audit_runs.latest("id"),
        rule="use-additional-code",
        severity="info",
        message="N39.0: use additional code to identify infectious agent.",
        codes=["N39.0"],
    )
    encounter_review_return(
        user=supervisor,
        encounter_id=encounter_id,
        version=encounter.version,
        comment="Sequence the respiratory failure first.",
    )
    page = coder_client.get(f"/encounters/{encounter_id}/").content.decode()
    note = page.split('data-testid="return-note"', 1)[1].split("</div>", 1)[0]
    assert "Returned by" in note
    assert "Sequence the respiratory failure first." in note
    # Said once, to the coder: not as the resolution of each finding confirmed.
    findings = page.split('data-testid="finding"')[1:]
    assert findings
    assert not any("Sequence the respiratory" in f.split("</li>")[0] for f in findings)
    # Above the codes, in the coding form.
    assert page.index('data-testid="return-note"') < page.index('id="dx-0-code"')
    assert page.index('id="coding-form"') < page.index('data-testid="return-note"')
