"""ICD-10-CM index tables (drugs, neoplasms, external causes) stored per release and
searched by the encoder beside the code titles."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from codesets.importers.base import ImportFormatError
from codesets.index_search import index_search
from codesets.models import IndexTerm, Release
from codesets.search import code_search
from codesets.selectors import coverage_on, release_in_force
from codesets.services import release_import_now
from tests.codesets.conftest import CM_FY2025, FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

DRUG = FIXTURES / "icd10cm_index" / "drug_fy2025_april.xml"
NEOPLASM = FIXTURES / "icd10cm_index" / "neoplasm_fy2025_april.xml"
EINDEX = FIXTURES / "icd10cm_index" / "eindex_fy2025_april.xml"
DOS = dt.date(2025, 6, 1)


@pytest.fixture
def indexes():
    return [
        release_import_now(path=path, activate=True)
        for path in (DRUG, NEOPLASM, EINDEX)
    ]


def _hits(q: str, day: dt.date = DOS, limit: int = 10) -> list[tuple[str, str, str]]:
    return [
        (h.path, h.column, h.display) for h in index_search(q=q, dos=day, limit=limit)
    ]


def test_an_index_file_imports_under_icd10cm_as_a_table_of_its_own(capsys):
    call_command("import_codes", str(DRUG), "--system", "icd10cm", "--json")
    out = json.loads(capsys.readouterr().out)
    release = Release.objects.get(id=out["release"])
    assert (release.system, release.variant) == ("icd10cm_index", "drug")
    assert release.label == (
        "ICD-10-CM index table, Table of Drugs and Chemicals FY2025 April update"
    )
    assert (release.effective_from, release.effective_to) == (
        dt.date(2025, 4, 1),
        dt.date(2025, 9, 30),
    )
    assert release.code_count == IndexTerm.objects.filter(release=release).count()
    acetaminophen = IndexTerm.objects.filter(release=release, path="Acetaminophen")
    assert dict(acetaminophen.values_list("column", "code")) == {
        "Poisoning Accidental (unintentional)": "T391X1",
        "Poisoning Intentional self-harm": "T391X2",
        "Poisoning Assault": "T391X3",
        "Poisoning Undetermined": "T391X4",
        "Adverse effect": "T391X5",
        "Underdosing": "T391X6",
    }


def test_index_tables_do_not_replace_the_tabular_or_count_in_coverage(indexes):
    tabular = release_import_now(path=CM_FY2025, activate=True)
    for index in indexes:
        index.refresh_from_db()
        assert index.state == Release.State.ACTIVE  # the three side by side
    tabular.refresh_from_db()
    assert tabular.state == Release.State.ACTIVE
    assert release_in_force(system="icd10cm", day=DOS) == tabular
    assert dict(coverage_on(DOS))["ICD-10-CM"] == tabular
    assert not any("index" in label for label, _ in coverage_on(DOS))
    # The code search reads code releases only.
    assert all(h.system == "icd10cm" for h in code_search(query="poison", day=DOS).hits)


def test_a_drug_and_a_column_lead_to_the_code(indexes):
    hits = _hits("acetaminophen adverse effect")
    assert hits[0] == ("Acetaminophen", "Adverse effect", "T39.1X5")
    assert all(column == "Adverse effect" for _path, column, _code in hits)
    assert _hits("acetaminophen adverse")[0][2] == "T39.1X5"
    assert ("Acetaminophen", "Underdosing", "T39.1X6") in _hits("acetaminophen")


def test_a_site_and_a_behaviour_lead_to_the_neoplasm_code(indexes):
    hits = _hits("neoplasm lung malignant primary")
    assert hits[0] == ("Neoplasm, neoplastic > lung", "Malignant Primary", "C34.9-")
    assert all(column == "Malignant Primary" for _path, column, _code in hits)
    assert _hits("lung secondary")[0] == (
        "Neoplasm, neoplastic > lung",
        "Malignant Secondary",
        "C78.0-",
    )


def test_index_search_reads_only_the_tables_in_force_on_the_date(indexes):
    assert _hits("acetaminophen adverse", day=dt.date(2025, 3, 31)) == []
    assert _hits("") == []


def test_search_api_adds_index_hits_under_their_own_key(indexes, coder):
    client = APIClient()
    client.force_authenticate(coder)
    body = client.get(
        "/api/v1/codes/search/", {"q": "acetaminophen adverse", "dos": "2025-06-01"}
    ).json()
    assert body["results"] == []  # no tabular loaded; shape unchanged
    assert body["index"][0] == {
        "path": "Acetaminophen",
        "column": "Adverse effect",
        "code": "T39.1X5",
        "see": "",
    }
    pcs = client.get(
        "/api/v1/codes/search/",
        {"q": "acetaminophen", "dos": "2025-06-01", "system": "icd10pcs"},
    ).json()
    assert "index" not in pcs


def test_encoder_shows_index_hits_linked_to_the_code_panel(indexes, coder_client):
    page = coder_client.get(
        reverse("codesets:encoder"),
        {
            "q": "neoplasm lung malignant primary",
            "dos": "2025-06-01",
            "fragment": "results",
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert 'data-testid="index-hits"' in page
    assert "Neoplasm, neoplastic &gt; lung" in page
    panel = reverse("codesets:code_panel", args=["icd10cm", "C349"])
    assert f'hx-get="{panel}?dos=2025-06-01"' in page
    assert ">C34.9-</a>" in page


def test_release_page_lists_the_index_terms(indexes, admin_client_):
    drug = indexes[0]
    page = admin_client_.get(
        reverse("codesets:release_detail", args=[drug.id]), {"q": "acetaminophen"}
    ).content.decode()
    assert 'data-testid="index-table"' in page
    # Dotted, as the printed drug table and the tabular write it.
    assert '<td class="code">T39.1X5</td>' in page
    assert "T391X5" not in page


def test_an_index_file_with_a_broken_term_fails_and_stages_nothing(tmp_path):
    broken = tmp_path / "drug.xml"
    broken.write_bytes(
        DRUG.read_bytes().replace(
            b'<cell col="6">T39.1X5</cell>', b'<cell col="6">paracetamol</cell>'
        )
    )
    with pytest.raises(ImportFormatError, match="not an ICD-10-CM code"):
        release_import_now(path=broken)
    release = Release.objects.get()
    assert release.state == Release.State.FAILED
    assert "line" in release.error
    assert not IndexTerm.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_real_worker_imports_an_uploaded_index_table(celery_worker, admin_client_):
    admin_client_.post(
        reverse("codesets:release_upload"),
        {"file": SimpleUploadedFile(NEOPLASM.name, NEOPLASM.read_bytes())},
    )
    release = Release.objects.get()
    deadline = time.monotonic() + 60
    while release.state == Release.State.IMPORTING and time.monotonic() < deadline:
        time.sleep(0.2)
        release.refresh_from_db()
    assert release.state == Release.State.STAGED, release.error
    assert (release.system, release.variant) == ("icd10cm_index", "neoplasm")
    assert IndexTerm.objects.filter(release=release, code="C349-").exists()
