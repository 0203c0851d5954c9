"""The ICD-10-PCS table builder: each step offers what the tables in force allow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from codesets.pcs_builder import (
    ValueNote,
    explainer_register,
    explainer_unregister,
    pcs_builder_step,
)
from codesets.services import release_import_now
from encounters.services import encounter_claim
from tests.codesets.conftest import PCS_FY2025, PCS_FY2026
from tests.encounters.conftest import code_sets, pneumonia_payload  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

ENCOUNTER_TABLES = (
    Path(__file__).resolve().parent.parent
    / "fixtures"
    / "encounters"
    / "icd10pcs_tables_fy2026.xml"
)
DOS = dt.date(2026, 5, 1)


@pytest.fixture
def tables():
    """The encounter fixture's tables (0SR, 0DT, 02H, 0BH, 302, 3E0, 4A0, 5A1)."""
    return release_import_now(
        path=ENCOUNTER_TABLES,
        activate=True,
        effective_from=dt.date(2025, 10, 1),
        effective_to=dt.date(2026, 9, 30),
    )


@pytest.fixture
def two_years():
    """FY2025 and FY2026 cuts of the same tables (X2A changed between them)."""
    return (
        release_import_now(
            path=PCS_FY2025,
            activate=True,
            effective_from=dt.date(2024, 10, 1),
            effective_to=dt.date(2025, 9, 30),
        ),
        release_import_now(
            path=PCS_FY2026,
            activate=True,
            effective_from=dt.date(2025, 10, 1),
            effective_to=dt.date(2026, 9, 30),
        ),
    )


def _offered(prefix: str, day: dt.date = DOS) -> list[str]:
    return [v.character for v in pcs_builder_step(prefix=prefix, day=day).values]


@pytest.mark.usefixtures("tables")
def test_each_step_offers_the_next_axis_of_the_tables_down_to_0src0j9():
    step = pcs_builder_step(prefix="", day=DOS)
    assert (step.position, step.axis) == (1, "Section")
    assert [(v.character, v.label) for v in step.values] == [
        ("0", "Medical and Surgical"),
        ("1", "Obstetrics"),
        ("3", "Administration"),
        ("4", "Measurement and Monitoring"),
        ("5", "Extracorporeal or Systemic Assistance and Performance"),
    ]

    step = pcs_builder_step(prefix="0", day=DOS)
    assert (step.position, step.axis) == (2, "Body System")
    assert [(v.character, v.label) for v in step.values] == [
        ("2", "Heart and Great Vessels"),
        ("B", "Respiratory System"),
        ("D", "Gastrointestinal System"),
        ("S", "Lower Joints"),
        ("V", "Male Reproductive System"),
    ]

    step = pcs_builder_step(prefix="0S", day=DOS)
    assert (step.position, step.axis) == (3, "Operation")
    [replacement] = step.values
    assert (replacement.character, replacement.label) == ("R", "Replacement")
    assert replacement.notes == (
        ValueNote(
            "Definition",
            "Putting in or on biological or synthetic material that physically takes "
            "the place and/or function of all or a portion of a body part",
        ),
    )

    step = pcs_builder_step(prefix="0SR", day=DOS)
    assert (step.position, step.axis) == (4, "Body Part")
    assert "C" in _offered("0SR")
    assert {v.character: v.label for v in step.values}["C"] == "Knee Joint, Right"

    step = pcs_builder_step(prefix="0SRC", day=DOS)
    assert (step.position, step.axis, _offered("0SRC")) == (5, "Approach", ["0"])

    step = pcs_builder_step(prefix="0SRC0", day=DOS)
    assert step.axis == "Device"
    assert _offered("0SRC0") == ["6", "7", "E", "J", "K", "L", "M", "N"]

    step = pcs_builder_step(prefix="0SRC0J", day=DOS)
    assert step.axis == "Qualifier"
    assert [(v.character, v.label) for v in step.values] == [
        ("9", "Cemented"),
        ("A", "Uncemented"),
        ("Z", "No Qualifier"),
    ]

    done = pcs_builder_step(prefix="0SRC0J9", day=DOS)
    assert done.complete and done.valid
    assert done.values == ()
    assert done.title == (
        "Replacement of Right Knee Joint with Synthetic Substitute, Cemented, "
        "Open Approach"
    )
    assert [(c.position, c.axis, c.character, c.label) for c in done.path] == [
        (1, "Section", "0", "Medical and Surgical"),
        (2, "Body System", "S", "Lower Joints"),
        (3, "Operation", "R", "Replacement"),
        (4, "Body Part", "C", "Knee Joint, Right"),
        (5, "Approach", "0", "Open"),
        (6, "Device", "J", "Synthetic Substitute"),
        (7, "Qualifier", "9", "Cemented"),
    ]


@pytest.mark.usefixtures("tables")
def test_a_value_is_offered_only_where_a_row_allows_it_with_what_came_before():
    # The knee's tissue substitutes (7, K) take qualifiers D/E/Z (a row of their
    # own); its synthetic substitute (J) takes 9/A/Z.
    assert _offered("0SRC07") == ["D", "E", "Z"]
    assert _offered("0SRC0J") == ["9", "A", "Z"]
    # The hip has other devices than the knee.
    assert _offered("0SR90") == ["1", "2", "3", "4", "6", "7", "E", "J", "K"]


@pytest.mark.usefixtures("tables")
def test_typed_in_any_case_with_dots_or_spaces():
    assert pcs_builder_step(prefix=" 0sr.c0 j9", day=DOS).prefix == "0SRC0J9"


@pytest.mark.usefixtures("tables")
@pytest.mark.parametrize(
    ("typed", "kept", "position", "refused"),
    [
        ("0SRC1", "0SRC", 5, "“1” is not an approach"),
        ("0SRCX", "0SRC", 5, "“X” is not an approach"),
        ("0SZ", "0S", 3, "“Z” is not an operation"),
        ("0Q", "0", 2, "“Q” is not a body system"),
        ("Z", "", 1, "“Z” is not a section"),
        ("0SI", "0S", 3, "“I” is not an ICD-10-PCS character"),
    ],
)
def test_a_character_the_tables_refuse_is_not_taken_and_the_step_says_why(
    typed, kept, position, refused
):
    step = pcs_builder_step(prefix=typed, day=DOS)
    assert step.typed == typed
    assert step.prefix == kept
    assert step.position == position
    assert step.values  # the values of the step it stopped at
    assert step.message.startswith(refused), step.message
    assert not step.complete


def test_the_tables_in_force_on_the_date_of_service_decide(two_years):
    # X2A (New Technology): FY2026 dropped body parts 5 and 6 and added K and L.
    fy2025 = _offered("X2A", dt.date(2025, 5, 1))
    fy2026 = _offered("X2A", dt.date(2026, 5, 1))
    assert "5" in fy2025 and "K" not in fy2025
    assert "5" not in fy2026 and "K" in fy2026
    # Axis names come from each section's tables: imaging calls axis 3 "Type".
    assert pcs_builder_step(prefix="BW", day=DOS).axis == "Type"


def test_a_date_no_release_covers_offers_nothing_and_says_so(two_years):
    step = pcs_builder_step(prefix="0SR", day=dt.date(2020, 1, 1))
    assert step.values == ()
    assert step.release is None
    assert "No ICD-10-PCS release covers 2020-01-01" in step.message


@pytest.mark.usefixtures("tables")
def test_a_step_reads_the_release_and_one_query(django_assert_num_queries):
    for prefix in ("", "0"):
        with django_assert_num_queries(2):
            assert pcs_builder_step(prefix=prefix, day=DOS).values
    # From the operation on, the Definitions that explain the values (one query:
    # the release in force; codesets/pcs_explain.py).
    for prefix in ("0S", "0SR", "0SRC0J"):
        with django_assert_num_queries(3):
            assert pcs_builder_step(prefix=prefix, day=DOS).values
    with django_assert_num_queries(3):  # and the finished code
        assert pcs_builder_step(prefix="0SRC0J9", day=DOS).complete


@pytest.mark.usefixtures("tables")
def test_a_registered_explainer_adds_its_notes_to_the_values():
    asked = []

    def approach_definitions(*, day, path, position, axis, values):
        asked.append((day, "".join(c.character for c in path), position, axis))
        if axis != "Approach":
            return {}
        return {"0": [ValueNote("Definition", "Cutting through the skin")]}

    explainer_register(approach_definitions)
    try:
        step = pcs_builder_step(prefix="0SRC", day=DOS)
        assert step.values[0].notes == (
            ValueNote("Definition", "Cutting through the skin"),
        )
        # The tables' own definition of an operation stays first.
        step = pcs_builder_step(prefix="0S", day=DOS)
        assert step.values[0].notes[0].kind == "Definition"
    finally:
        explainer_unregister(approach_definitions)
    assert asked[0] == (DOS, "0SRC", 5, "Approach")
    assert pcs_builder_step(prefix="0SRC", day=DOS).values[0].notes == ()


# --- the page, its fragments and the API --------------------------------------------


@pytest.mark.usefixtures("tables")
def test_builder_page_shows_the_step_and_its_fragments_swap_only_the_step(
    coder_client,
):
    page = coder_client.get(
        "/codesets/encoder/pcs-builder/", {"code": "0SRC0J", "dos": "2026-05-01"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="pcs-builder-code"' in html
    assert "Character 7: Qualifier" in html
    assert "Cemented" in html

    step = coder_client.get(
        "/codesets/encoder/pcs-builder/",
        {"code": "0src0j9", "dos": "2026-05-01", "fragment": "step"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert step.lstrip().startswith('<div id="pcs-builder-step"')
    assert 'id="pcs-builder-code"' not in step  # the box typed in is never swapped
    assert 'data-complete="true"' in step
    assert 'data-code="0SRC0J9"' in step
    assert "Replacement of Right Knee Joint with Synthetic Substitute, Cemented" in step

    panel = coder_client.get(
        "/codesets/encoder/pcs-builder/",
        {"code": "0S", "dos": "2026-05-01", "fragment": "panel"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert panel.lstrip().startswith('<section class="pcs-builder"')
    assert "<html" not in panel
    assert "Putting in or on biological or synthetic material" in panel


@pytest.mark.usefixtures("tables")
def test_builder_page_needs_a_role_that_views_codes(
    client, coder_client, supervisor_client, admin_client_, outsider
):
    url = "/codesets/encoder/pcs-builder/"
    for role_client in (coder_client, supervisor_client, admin_client_):
        assert role_client.get(url).status_code == 200
    assert client.get(url).status_code == 302  # to sign in
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    assert (
        client.get(url, {"fragment": "step"}, HTTP_HX_REQUEST="true").status_code == 403
    )


@pytest.mark.usefixtures("tables")
def test_builder_api_gives_the_next_axis_and_then_the_code(coder):
    api = APIClient()
    api.force_authenticate(coder)
    body = api.get(
        "/api/v1/codes/icd10pcs/builder/", {"prefix": "0SR", "dos": "2026-05-01"}
    ).json()
    assert body["release"]
    assert (body["prefix"], body["position"], body["axis"]) == ("0SR", 4, "Body Part")
    assert [c["label"] for c in body["path"]] == [
        "Medical and Surgical",
        "Lower Joints",
        "Replacement",
    ]
    knee = next(v for v in body["values"] if v["character"] == "C")
    assert knee == {
        "character": "C",
        "label": "Knee Joint, Right",
        "prefix": "0SRC",
        "notes": [],
    }
    assert body["complete"] is False and body["code"] is None

    body = api.get(
        "/api/v1/codes/icd10pcs/builder/", {"prefix": "0S", "dos": "2026-05-01"}
    ).json()
    assert body["values"][0]["notes"][0]["kind"] == "Definition"

    done = api.get(
        "/api/v1/codes/icd10pcs/builder/", {"prefix": "0SRC0J9", "dos": "2026-05-01"}
    ).json()
    assert done["complete"] is True and done["valid"] is True
    assert done["code"] == "0SRC0J9"
    assert done["title"].startswith("Replacement of Right Knee Joint")
    assert done["values"] == [] and done["position"] == 0

    refused = api.get(
        "/api/v1/codes/icd10pcs/builder/", {"prefix": "0SRC1", "dos": "2026-05-01"}
    ).json()
    assert (refused["typed"], refused["prefix"]) == ("0SRC1", "0SRC")
    assert "“1” is not an approach" in refused["message"]


def test_builder_api_names_a_bad_date_and_refuses_outsiders(coder, outsider):
    api = APIClient()
    api.force_authenticate(coder)
    response = api.get("/api/v1/codes/icd10pcs/builder/", {"dos": "2026-13-45"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"dos"}
    api.force_authenticate(outsider)
    assert api.get("/api/v1/codes/icd10pcs/builder/").status_code == 403
    assert APIClient().get("/api/v1/codes/icd10pcs/builder/").status_code in (401, 403)


def test_builder_api_is_in_the_openapi_schema(coder_client):
    schema = coder_client.get("/api/schema/").content.decode()
    assert "/api/v1/codes/icd10pcs/builder/" in schema


# --- the coding form opens it from ICD-10-PCS procedure rows ------------------------


def _claimed(supervisor, coder, **overrides) -> int:
    api = APIClient()
    api.force_authenticate(supervisor)
    response = api.post(
        "/api/v1/encounters/", pneumonia_payload(**overrides), format="json"
    )
    assert response.status_code == 201, response.json()
    encounter_id = response.json()["id"]
    encounter_claim(user=coder, encounter_id=encounter_id)
    return encounter_id


@pytest.mark.usefixtures("code_sets")
def test_a_pcs_procedure_row_offers_the_builder_for_the_discharge_date(
    supervisor, coder, coder_client
):
    stay = _claimed(
        supervisor,
        coder,
        procedures=[{"system": "icd10pcs", "code": "0SRC0J9"}],
    )
    page = coder_client.get(f"/encounters/{stay}/").content.decode()
    assert 'data-pcs-build="px-0-code"' in page
    assert 'id="pcs-builder-dialog"' in page
    assert 'data-dos="2026-05-14"' in page  # the discharge date judges the codes
    assert "js/pcs_builder.js" in page

    visit = _claimed(
        supervisor,
        coder,
        type="outpatient",
        discharge_date=None,
        discharge_status="",
        patient={**pneumonia_payload()["patient"], "mrn": "V2"},
        procedures=[{"system": "hcpcs", "code": "G0008"}],
    )
    page = coder_client.get(f"/encounters/{visit}/").content.decode()
    # CPT/HCPCS rows are not built from tables: the row's builder button is there
    # (coding.js shows it when the row is switched to ICD-10-PCS) but hidden.
    import re

    buttons = re.findall(r"<button[^>]*data-pcs-build=\"px-0-code\"[^>]*>", page)
    assert buttons
    assert all(" hidden" in button for button in buttons)
