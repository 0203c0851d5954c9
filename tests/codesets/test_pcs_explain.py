"""The ICD-10-PCS Definitions explain the values the table builder offers.

Fixtures cut from the official FY2025 files by tests/fixtures/cut_pcs_index.py
(tables 0DB, 0DT, 0FB, 0FT, 0SR, 5A1; Definitions of sections 0, 3 and 5 with a few
body-part and device keys and three device aggregation rows).
"""

from __future__ import annotations

import datetime as dt

import pytest

from codesets.pcs_builder import (
    BuilderChoice,
    BuilderValue,
    ValueNote,
    pcs_builder_step,
)
from codesets.pcs_explain import pcs_definitions_notes
from codesets.services import release_import_now
from tests.codesets.test_pcs_lookup import DEFINITIONS_2025, DOS, TABLES_2025

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

PERCUTANEOUS_ENDOSCOPIC = (
    "Entry, by puncture or minor incision, of instrumentation through the skin or "
    "mucous membrane and any other body layers necessary to reach and visualize the "
    "site of the procedure"
)


@pytest.fixture
def pcs():
    """FY2025 tables and Definitions, active (2024-10-01 to 2025-09-30)."""
    return [
        release_import_now(path=path, activate=True)
        for path in (TABLES_2025, DEFINITIONS_2025)
    ]


def notes(prefix: str, label: str) -> tuple[ValueNote, ...]:
    step = pcs_builder_step(prefix=prefix, day=DOS)
    return next(v for v in step.values if v.label == label).notes


def device_notes(
    body_system: str,
    operation: str,
    character: str,
    label: str,
    *also: BuilderValue,
) -> list[ValueNote]:
    """The notes on one device value of a Medical and Surgical table (offered with
    the values ``also``)."""
    path = [
        BuilderChoice(1, "Section", "0", "Medical and Surgical"),
        BuilderChoice(2, "Body System", "2", body_system),
        BuilderChoice(3, "Operation", "H", operation),
    ]
    found = pcs_definitions_notes(
        day=DOS,
        path=path,
        position=6,
        axis="Device",
        values=[BuilderValue(character, label, ""), *also],
    )
    return list(found.get(character, []))


@pytest.mark.usefixtures("pcs")
def test_an_approach_shows_its_definition():
    assert notes("0DTJ", "Percutaneous Endoscopic") == (
        ValueNote("Definition", PERCUTANEOUS_ENDOSCOPIC),
    )
    assert notes("0DTJ", "Open")[0].text.startswith("Cutting through the skin")


@pytest.mark.usefixtures("pcs")
def test_a_body_part_shows_the_words_its_key_codes_to_it():
    assert notes("0DT", "Appendix") == (
        ValueNote("Includes", "Appendiceal orifice; Vermiform appendix"),
    )
    # A key entry naming both sides explains each of them.
    assert "Medial meniscus" in notes("0SR", "Knee Joint, Right")[0].text
    assert "Medial meniscus" in notes("0SR", "Knee Joint, Left")[0].text


@pytest.mark.usefixtures("pcs")
def test_an_operation_adds_the_definitions_examples_to_the_tables_definition():
    assert notes("0D", "Resection") == (
        ValueNote(
            "Definition",
            "Cutting out or off, without replacement, all of a body part",
        ),
        ValueNote("Examples", "Total nephrectomy, total lobectomy of lung"),
    )


@pytest.mark.usefixtures("pcs")
def test_a_device_shows_its_key_where_the_key_says_it_applies():
    spacer = notes("0SRC0", "Articulating Spacer")
    assert spacer == (
        ValueNote(
            "Includes",
            "Articulating Spacer (Antibiotic); Spacer, Articulating (Antibiotic)",
        ),
    )
    oxinium = notes("0SRC0", "Synthetic Substitute, Oxidized Zirconium on Polyethylene")
    assert oxinium == (ValueNote("Includes", "OXINIUM"),)
    # "Articulating Spacer in Lower Joints" says nothing of the upper joints.
    assert device_notes("Upper Joints", "Replacement", "E", "Articulating Spacer") == []


@pytest.mark.usefixtures("pcs")
def test_a_long_device_key_is_cut_and_says_how_many_more():
    (synthetic,) = notes("0SRC0", "Synthetic Substitute")
    assert synthetic.kind == "Includes"
    assert synthetic.text.startswith(
        "AbioCor® Total Replacement Heart; AMPLATZER® Muscular VSD Occluder;"
    )
    assert synthetic.text.endswith("; and 28 more")


@pytest.mark.usefixtures("pcs")
def test_device_aggregation_names_the_devices_coded_to_the_value():
    assert device_notes(
        "Heart and Great Vessels", "Insertion", "M", "Cardiac Lead"
    ) == [ValueNote("Aggregates", "Coded to this value: Cardiac Lead, Defibrillator")]
    # The row applies to Insertion only, and to its own body systems.
    assert device_notes("Heart and Great Vessels", "Removal", "M", "Cardiac Lead") == []
    autologous = device_notes(
        "Lower Arteries", "Replacement", "7", "Autologous Tissue Substitute"
    )
    assert [n.kind for n in autologous] == ["Includes", "Aggregates"]  # key, then rows
    assert autologous[1].text == (
        "Coded to this value: Autologous Arterial Tissue; Autologous Venous Tissue"
    )
    assert device_notes("Lower Joints", "Replacement", "7", "X") == []
    # A device the step offers as a value of its own is coded there.
    defibrillator = BuilderValue("K", "Cardiac Lead, Defibrillator", "")
    assert (
        device_notes(
            "Heart and Great Vessels", "Insertion", "M", "Cardiac Lead", defibrillator
        )
        == []
    )


@pytest.mark.usefixtures("pcs")
def test_only_the_definitions_in_force_on_the_date_explain():
    path = [
        BuilderChoice(1, "Section", "0", "Medical and Surgical"),
        BuilderChoice(2, "Body System", "D", "Gastrointestinal System"),
        BuilderChoice(3, "Operation", "T", "Resection"),
        BuilderChoice(4, "Body Part", "J", "Appendix"),
    ]
    values = [BuilderValue("4", "Percutaneous Endoscopic", "0DTJ4")]
    for day, explained in ((DOS, True), (dt.date(2023, 6, 1), False)):
        found = pcs_definitions_notes(
            day=day, path=path, position=5, axis="Approach", values=values
        )
        assert bool(found) is explained


@pytest.mark.usefixtures("pcs")
def test_sections_and_body_systems_are_not_explained_and_ask_nothing(
    django_assert_num_queries,
):
    with django_assert_num_queries(0):
        assert (
            pcs_definitions_notes(
                day=DOS,
                path=[],
                position=1,
                axis="Section",
                values=[BuilderValue("0", "Medical and Surgical", "0")],
            )
            == {}
        )


@pytest.mark.usefixtures("pcs")
def test_a_step_asks_the_definitions_one_query(django_assert_num_queries):
    pcs_builder_step(prefix="0DTJ", day=DOS)  # the release's entries read once
    # The tables release, the table, the Definitions release in force.
    with django_assert_num_queries(3):
        step = pcs_builder_step(prefix="0DTJ", day=DOS)
    assert all(v.notes for v in step.values)


@pytest.mark.usefixtures("pcs")
def test_builder_step_html_shows_the_approach_definition(coder_client):
    html = coder_client.get(
        "/codesets/encoder/pcs-builder/",
        {"code": "0DTJ", "dos": DOS.isoformat(), "fragment": "step"},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "Percutaneous Endoscopic" in html
    assert PERCUTANEOUS_ENDOSCOPIC in html
    assert "Definition:" in html
