"""The supervisor's side of the audit: queue, decisions, batches, re-audit after a
release. (The jobs on a real worker: test_audit_jobs.py.)"""

from __future__ import annotations

import datetime as dt

import pytest

from codesets.services import release_import_now
from encounters.audit.engine import audit_encounters
from encounters.audit.services import reaudit_after_release
from encounters.models import AuditBatch, Diagnosis, Encounter, Finding
from encounters.services import DiagnosisInput, encounter_claim, encounter_save_coding
from tests.codesets.conftest import CM_FY2025, CM_FY2026
from tests.encounters.test_views import _create

pytestmark = pytest.mark.django_db


@pytest.fixture
def in_review(code_sets, supervisor, coder, settings):
    """J18.9 then G63 without its underlying condition: a code-first warning."""
    settings.AUDIT_SAMPLE_RATE = 0
    encounter_id = _create(
        supervisor,
        diagnoses=[{"code": "J18.9", "poa": "Y"}, {"code": "G63", "poa": "Y"}],
    )
    encounter = encounter_claim(user=coder, encounter_id=encounter_id)
    Encounter.objects.filter(id=encounter.id).update(
        status="submitted", submitted_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    )
    audit_encounters(encounter_ids=[encounter.id], trigger="submit")
    encounter.refresh_from_db()
    assert encounter.status == "in_review"
    return encounter


def test_the_audit_queue_lists_and_filters_cases(in_review, supervisor_client):
    page = supervisor_client.get("/encounters/audit/").content.decode()
    assert f"#{in_review.id}" in page
    assert "code-first" in page
    assert "Lee, Ann" in page
    page = supervisor_client.get("/encounters/audit/?rule=poa-missing").content.decode()
    assert f"#{in_review.id}" not in page
    page = supervisor_client.get(
        "/encounters/audit/?severity=warning&min_age=3"
    ).content
    assert f"#{in_review.id}".encode() in page


def test_coders_and_admins_cannot_reach_the_audit_pages(
    in_review, coder_client, admin_client_
):
    finding = in_review.findings.get(rule="code-first")
    for client in (coder_client, admin_client_):
        assert client.get("/encounters/audit/").status_code == 403
        assert client.get("/encounters/audit/batches/new/").status_code == 403
        response = client.post(
            f"/encounters/findings/{finding.id}/decide/", {"status": "dismissed"}
        )
        assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.status == "open"


def test_dismissing_a_finding_needs_a_reason_and_is_recorded(
    in_review, supervisor, supervisor_client
):
    finding = in_review.findings.get(rule="code-first")
    url = f"/encounters/findings/{finding.id}/decide/"
    response = supervisor_client.post(url, {"status": "dismissed"}, follow=True)
    assert "Say why" in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == "open"
    supervisor_client.post(
        url, {"status": "dismissed", "reason": "documented as diabetic"}
    )
    finding.refresh_from_db()
    assert (finding.status, finding.resolved_by, finding.resolution) == (
        "dismissed",
        supervisor,
        "documented as diabetic",
    )
    assert in_review.changes.filter(action="finding", changed_by=supervisor).exists()


def test_an_info_finding_is_dismissed_without_a_reason_others_need_one(
    in_review, supervisor, supervisor_client
):
    """Info findings are reminders: dismissing one needs no typed reason; a
    warning still does."""
    warning = in_review.findings.get(rule="code-first")
    info = Finding.objects.create(
        encounter=in_review,
        run=warning.run,
        rule="use-additional-code",
        severity="info",
        message="N39.0: use additional code to identify infectious agent (B95-B97).",
        codes=["N39.0"],
    )
    page = supervisor_client.get(f"/encounters/{in_review.id}/").content.decode()
    info_form = page.split(f'id="dismiss-{info.id}"', 1)[1].split(">", 1)[0]
    warning_form = page.split(f'id="dismiss-{warning.id}"', 1)[1].split(">", 1)[0]
    assert "required" not in info_form and "required" in warning_form
    supervisor_client.post(
        f"/encounters/findings/{info.id}/decide/", {"status": "dismissed"}
    )
    info.refresh_from_db()
    assert (info.status, info.resolved_by, info.resolution) == (
        "dismissed",
        supervisor,
        "",
    )
    response = supervisor_client.post(
        f"/encounters/findings/{warning.id}/decide/",
        {"status": "dismissed"},
        follow=True,
    )
    assert "Say why" in response.content.decode()
    warning.refresh_from_db()
    assert warning.status == "open"


def test_returning_to_the_coder_confirms_the_findings(
    in_review, supervisor, supervisor_client, coder_client
):
    url = f"/encounters/{in_review.id}/review/"
    response = supervisor_client.post(
        url,
        {"action": "return", "version": in_review.version, "comment": ""},
        follow=True,
    )
    assert "Tell the coder what to fix" in response.content.decode()
    supervisor_client.post(
        url,
        {
            "action": "return",
            "version": in_review.version,
            "comment": "Code E11.42 first",
        },
    )
    in_review.refresh_from_db()
    assert in_review.status == "returned"
    assert in_review.findings.get(rule="code-first").status == "confirmed"
    change = in_review.changes.get(action="returned")
    assert (change.changed_by, change.comment) == (supervisor, "Code E11.42 first")
    # The coder sees it back in the queue, with the reason.
    assert f"#{in_review.id}" in coder_client.get("/encounters/queue/").content.decode()
    page = coder_client.get(f"/encounters/{in_review.id}/").content.decode()
    assert "G63 is a manifestation" in page
    assert "Save draft" in page


def test_a_stale_decision_is_refused(in_review, supervisor, supervisor_client):
    stale = in_review.version
    encounter_save_coding(
        user=supervisor,
        encounter_id=in_review.id,
        version=stale,
        diagnoses=[DiagnosisInput("J18.9", "Y"), DiagnosisInput("E87.1", "Y")],
    )
    response = supervisor_client.post(
        f"/encounters/{in_review.id}/review/",
        {"action": "accept", "version": stale},
        follow=True,
    )
    assert "was changed by" in response.content.decode()
    in_review.refresh_from_db()
    assert in_review.status == "in_review"


def test_a_batch_audit_is_created_and_shows_its_progress(
    in_review, supervisor, supervisor_client, django_capture_on_commit_callbacks
):
    Encounter.objects.filter(id=in_review.id).update(status="final")
    with django_capture_on_commit_callbacks() as callbacks:
        response = supervisor_client.post(
            "/encounters/audit/batches/new/",
            {"status": ["final"], "reason": "quarterly review"},
        )
    batch = AuditBatch.objects.get()
    assert response.url == f"/encounters/audit/batches/{batch.id}/"
    assert batch.encounter_ids == [in_review.id]
    assert len(callbacks) == 1  # the job is queued once the batch is committed
    page = supervisor_client.get(response.url).content.decode()
    assert "0 of 1 encounters audited" in page
    response = supervisor_client.post(
        "/encounters/audit/batches/new/", {"status": ["ready"], "reason": "none"}
    )
    assert "No encounter matches this selection" in response.content.decode()


def test_activating_a_release_reaudits_open_encounters_whose_codes_it_deletes(
    db, supervisor, coder
):
    fy25 = release_import_now(
        path=CM_FY2025, activate=True, effective_from=dt.date(2024, 10, 1)
    )
    assert fy25.state == "active"
    fy26 = release_import_now(
        path=CM_FY2026, activate=True, effective_from=dt.date(2025, 10, 1)
    )
    # T78.07XA is deleted in FY2026 (T78.07 got 6th characters).
    affected = _encounter_with("T7807XA", dt.date(2025, 11, 2), "in_progress")
    final = _encounter_with("T7807XA", dt.date(2025, 11, 2), "final")
    untouched = _encounter_with("E1165", dt.date(2025, 11, 2), "in_progress")
    batch = reaudit_after_release(release_id=fy26.id)
    assert batch.trigger == "release"
    assert batch.encounter_ids == [affected.id]
    assert (
        final.id not in batch.encounter_ids and untouched.id not in batch.encounter_ids
    )
    audit_encounters(encounter_ids=batch.encounter_ids, trigger="release", batch=batch)
    finding = Finding.objects.get(encounter=affected, rule="code-invalid-on-dos")
    assert "T78.07XA" in finding.message


def _encounter_with(code: str, day: dt.date, status: str) -> Encounter:
    from encounters.models import Patient

    patient = Patient.objects.create(
        mrn=f"RA{Patient.objects.count()}",
        first_name="Re",
        last_name="Audit",
        birth_date=dt.date(1960, 1, 1),
        sex="F",
    )
    encounter = Encounter.objects.create(
        patient=patient,
        type="professional",
        facility="General",
        admit_date=day,
        status=status,
    )
    Diagnosis.objects.create(encounter=encounter, sequence=1, code=code, poa="")
    return encounter


def test_a_supervisor_reassigns_an_open_encounter(
    code_sets, supervisor, coder, other_coder, supervisor_client, coder_client
):
    encounter = encounter_claim(user=coder, encounter_id=_create(supervisor))
    url = f"/encounters/{encounter.id}/reassign/"
    assert coder_client.post(url, {"coder": other_coder.id}).status_code == 403
    supervisor_client.post(url, {"coder": other_coder.id, "version": encounter.version})
    encounter.refresh_from_db()
    assert encounter.assigned_to == other_coder
    assert coder_client.get(f"/encounters/{encounter.id}/").status_code == 404
    change = encounter.changes.get(action="reassigned")
    assert (change.before, change.after) == (
        {"assigned_to": coder.username},
        {"assigned_to": other_coder.username},
    )
    # Back to the pool: unassigned and ready again.
    supervisor_client.post(url, {"coder": "", "version": encounter.version})
    encounter.refresh_from_db()
    assert (encounter.assigned_to, encounter.status) == (None, "ready")
    # A final encounter is not moved.
    Encounter.objects.filter(id=encounter.id).update(status="final")
    response = supervisor_client.post(
        url, {"coder": coder.id, "version": encounter.version}, follow=True
    )
    assert "only open encounters are reassigned" in response.content.decode()


def test_the_audit_queue_counts_findings_by_rule_and_what_became_of_them(
    in_review, supervisor, supervisor_client
):
    finding = in_review.findings.get(rule="code-first")
    supervisor_client.post(
        f"/encounters/findings/{finding.id}/decide/",
        {"status": "dismissed", "reason": "documented as diabetic"},
    )
    # An older finding of the same rule, upheld, and one outside the period.
    for days, codes, status in (
        (10, ["G63", "E11.42"], "confirmed"),
        (200, ["G63", "E11.9"], "dismissed"),
    ):
        Finding.objects.create(
            encounter=in_review,
            run=finding.run,
            rule="code-first",
            severity="warning",
            message=f"{days} days ago",
            codes=codes,
            status=status,
            resolved_by=supervisor,
            created_at=finding.created_at - dt.timedelta(days=days),
        )
    # Closed by a re-audit that no longer raises it: no one's decision.
    Finding.objects.create(
        encounter=in_review,
        run=finding.run,
        rule="code-first",
        severity="warning",
        message="gone after the codes changed",
        codes=["G63", "E11.65"],
        status="corrected",
        resolution="No longer raised: the codes changed.",
        created_at=finding.created_at,
    )
    page = supervisor_client.get("/encounters/audit/").content.decode()
    table = page.split('data-testid="rule-summary"', 1)[1].split("</table>", 1)[0]
    row = table.split(">code-first</a>", 1)[1].split("</tr>", 1)[0]
    cells = [c.split("<", 1)[0] for c in row.split('<td class="num">')[1:]]
    # findings, open, upheld, dismissed, upheld of decided
    assert cells == ["3", "0", "1", "1", "50 %"]


def test_the_history_credits_each_audit_to_what_ran_it(
    in_review, supervisor, supervisor_client
):
    from encounters.audit.services import audit_batch_create, audit_batch_run

    supervisor.first_name, supervisor.last_name = "Sam", "Ortiz"
    supervisor.save(update_fields=["first_name", "last_name"])
    # Final, then a supervisor's batch finds the warning again: back to review.
    Encounter.objects.filter(id=in_review.id).update(status="final")
    batch = audit_batch_create(
        user=supervisor, encounter_ids=[in_review.id], reason="quarterly review"
    )
    audit_batch_run(batch_id=batch.id)
    # The same after a code-set release asked for a re-audit.
    Encounter.objects.filter(id=in_review.id).update(status="final")
    release_batch = audit_batch_create(
        user=None, encounter_ids=[in_review.id], reason="new release", trigger="release"
    )
    audit_batch_run(batch_id=release_batch.id)
    history = (
        supervisor_client.get(f"/encounters/{in_review.id}/")
        .content.decode()
        .split('data-testid="history"')[1]
    )
    assert "system (feed)" not in history
    assert "Automatic audit (on submit)" in history
    assert f"Batch audit #{batch.id} by Sam Ortiz" in history
    assert f"Release re-audit #{release_batch.id}" in history


def test_findings_stored_with_a_source_path_cite_what_judged_them(
    in_review, supervisor_client
):
    """Findings of an older version said "see encounters/audit/rules.py"; the
    migration words them as the rule does now."""
    import importlib

    from django.apps import apps

    old = (
        "ICD-10-CM Official Guidelines for Coding and Reporting, Appendix I (POA); "
        "exempt categories we carry: see encounters/audit/rules.py"
    )
    Finding.objects.filter(encounter=in_review).update(reference=old)
    importlib.import_module(
        "encounters.migrations.0007_labels_finding_references"
    ).forwards(apps, None)
    page = supervisor_client.get(f"/encounters/{in_review.id}/").content.decode()
    assert "rules.py" not in page
    assert (
        "Appendix I (POA); judged by the built-in approximation of CMS&#x27;s "
        "POA-exempt list" in page
    )


def test_the_queue_shows_a_case_whose_coder_was_unassigned(
    in_review, supervisor_client
):
    """A case in review whose coder was taken off it (reassigned, account removed)
    still shows in the queue and its case page, marked as having no coder."""
    Encounter.objects.filter(id=in_review.id).update(assigned_to=None)
    response = supervisor_client.get("/encounters/audit/")
    assert response.status_code == 200
    assert f"#{in_review.id}" in response.content.decode()
    response = supervisor_client.get("/encounters/audit/?sort=coder")
    assert response.status_code == 200
    case = supervisor_client.get(f"/encounters/{in_review.id}/")
    assert case.status_code == 200
