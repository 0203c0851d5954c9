"""The ICD-10-CM Index to Diseases and Injuries importer is ready for the file: the
fixture is written by hand in the schema (tests/fixtures/icd10cm_index/README.md),
since the real icd10cm_index_YYYY.xml is not available here."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command

from codesets.index_search import index_search
from codesets.models import IndexTerm, Release
from tests.codesets.conftest import FIXTURES

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

DISEASES = FIXTURES / "icd10cm_index" / "index_diseases_handwritten.xml"


def test_index_to_diseases_imports_as_an_index_table_and_is_searched(capsys):
    call_command("import_codes", str(DISEASES), "--activate", "--json")
    out = json.loads(capsys.readouterr().out)
    release = Release.objects.get(id=out["release"])
    assert (release.system, release.variant, release.state) == (
        "icd10cm_index",
        "disease",
        "active",
    )
    assert out["label"] == (
        "ICD-10-CM index table, Index to Diseases and Injuries FY2025"
    )
    assert IndexTerm.objects.filter(release=release, path="Pneumonia").get().code == (
        "J189"
    )
    hits = index_search(q="pneumonia", dos=dt.date(2025, 6, 1))
    found = [(h.path, h.display) for h in hits]
    assert found[0] == ("Pneumonia", "J18.9")  # the main term's code first
    assert ("Pneumonia > aspiration", "J69.0") in found
    assert ("Pneumonia > in > COVID-19", "U07.1") in found
    heart = index_search(q="heart attack", dos=dt.date(2025, 6, 1))
    assert [(h.path, h.see) for h in heart] == [
        ("Attack, attacks > heart", "Infarct, myocardium")
    ]
