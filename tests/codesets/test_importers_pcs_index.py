"""Importers of the ICD-10-PCS Index and Definitions XML, and the ICD-10-CM Index to
Diseases read from a fixture written by hand in its schema.

The PCS fixtures are cut from the official CMS files by tests/fixtures/cut_pcs_index.py;
malformed variants are made here in tmp_path. No database is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codesets.importers import detect_importer
from codesets.importers.base import HEAD_BYTES, ImportFormatError
from codesets.importers.icd10cm_index import IMPORTER as CM_INDEX
from codesets.importers.icd10pcs_definitions import IMPORTER as DEFINITIONS
from codesets.importers.icd10pcs_index import IMPORTER as PCS_INDEX

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INDEX_2025 = FIXTURES / "icd10pcs_index" / "icd10pcs_index_2025.xml"
INDEX_2023 = FIXTURES / "icd10pcs_index" / "icd10pcs_index_2023.xml"
DEFINITIONS_2025 = FIXTURES / "icd10pcs_index" / "icd10pcs_definitions_2025.xml"
TABLES_2025 = FIXTURES / "icd10pcs_index" / "icd10pcs_tables_2025_lookup.xml"
DISEASES = FIXTURES / "icd10cm_index" / "index_diseases_handwritten.xml"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "file.xml"
    path.write_bytes(data)
    return path


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, old
    return data.replace(old, new)


def line_of(data: bytes, needle: bytes) -> int:
    return data[: data.index(needle)].count(b"\n") + 1


@pytest.mark.parametrize(
    ("path", "importer"),
    [
        (INDEX_2025, PCS_INDEX),
        (INDEX_2023, PCS_INDEX),
        (DEFINITIONS_2025, DEFINITIONS),
        (DISEASES, CM_INDEX),
    ],
    ids=lambda v: getattr(v, "name", ""),
)
def test_each_file_is_detected_from_its_content(path, importer):
    assert detect_importer(path) is importer
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    others = [i for i in (PCS_INDEX, DEFINITIONS, CM_INDEX) if i is not importer]
    assert not any(i.detect(head) for i in others)


def test_tables_file_is_not_taken_for_an_index():
    assert detect_importer(TABLES_2025).name == "icd10pcs_tables"


def test_index_reads_see_references_with_their_code_start():
    result = PCS_INDEX.parse(INDEX_2025)
    assert (result.system, result.format, result.version) == (
        "icd10pcs",
        "icd10pcs_index",
        "2025",
    )
    appendectomy = [t for t in result.pcs_index_terms if t.path == ("Appendectomy",)]
    assert [(t.title, t.see, t.code) for t in appendectomy] == [
        ("Appendectomy", "", ""),
        ("", "Excision, Appendix", "0DBJ"),
        ("", "Resection, Appendix", "0DTJ"),
    ]
    assert result.warnings == []


def test_index_reads_use_references_tables_and_full_codes():
    terms = {(t.path, t.title): t for t in PCS_INDEX.parse(INDEX_2025).pcs_index_terms}
    assert terms[("Appendiceal orifice",), "Appendiceal orifice"].use == "Appendix"
    activa = terms[("Activa PC neurostimulator",), "Activa PC neurostimulator"]
    assert (activa.use, activa.code) == (
        "Stimulator Generator, Multiple Array in",
        "0JH",
    )
    assert terms[("Abortion", "Abortifacient"), "Abortifacient"].code == "10A07ZX"
    assert (
        terms[("Abortion", "Products of Conception"), "Products of Conception"].code
        == "10A0"
    )
    hemo = terms[("Dialysis", "Hemodialysis"), "Hemodialysis"]
    assert (hemo.see, hemo.code) == ("Performance, Urinary", "5A1D")
    laparoscopy = terms[("Laparoscopy",), "Laparoscopy"]
    assert (laparoscopy.see, laparoscopy.code) == ("Inspection", "")


def test_index_nests_terms_under_their_main_term():
    paths = [t.path for t in PCS_INDEX.parse(INDEX_2025).pcs_index_terms]
    knee = paths.index(("Replacement", "Joint", "Knee"))
    assert paths[knee - 2 : knee + 4] == [
        ("Replacement",),
        ("Replacement", "Joint"),
        ("Replacement", "Joint", "Knee"),
        ("Replacement", "Joint", "Knee", "Left"),
        ("Replacement", "Joint", "Knee", "Left", "Femoral Surface"),
        ("Replacement", "Joint", "Knee", "Left", "Tibial Surface"),
    ]


def test_index_of_another_year_reads_the_same_way():
    result = PCS_INDEX.parse(INDEX_2023)
    assert result.version == "2023"
    assert ("Appendiceal orifice",) not in {t.path for t in result.pcs_index_terms}


def test_index_reports_progress_up_to_the_file_size():
    seen: list[tuple[int, int]] = []
    PCS_INDEX.parse(INDEX_2025, progress=lambda done, total: seen.append((done, total)))
    size = INDEX_2025.stat().st_size
    assert seen[-1] == (size, size)


@pytest.mark.parametrize(
    ("old", "new", "at", "message", "element"),
    [
        (
            b'<term level="2">\r\n          <title>Knee</title>',
            b'<term level="3">\r\n          <title>Knee</title>',
            b'<term level="3">',
            "at depth 2 has level '3' (in Replacement > Joint)",
            "term",
        ),
        (
            b"Resection, Appendix<codes>0DTJ</codes>",
            b"Resection, Appendix<codes>0DTI</codes>",
            b"Resection, Appendix<codes>0DTI",
            "<codes> of 'Appendectomy' holds '0DTI', which is not 4 or 5 or 6 ICD-10-PCS characters",
            "codes",
        ),
        (
            b"<code>10A07ZX</code>",
            b"<code>10A07Z</code>",
            b"<code>10A07Z</code>",
            "<code> of 'Abortion > Abortifacient' holds '10A07Z'",
            "code",
        ),
        (
            b"<use>Appendix</use>\r\n    </mainTerm>\r\n    <mainTerm>\r\n      <title>Arthroplasty",
            b"<use>Appendix</use><see>Appendix</see>\r\n    </mainTerm>\r\n    <mainTerm>\r\n      <title>Arthroplasty",
            b"<use>Appendix</use><see>",
            "'Appendiceal orifice' has two references (<use> and <see>)",
            "see",
        ),
        (
            b"<title>Cholecystectomy</title>",
            b"<title></title>",
            b"<title></title>",
            "A <mainTerm> has no <title>",
            "mainTerm",
        ),
    ],
    ids=["level", "code-start", "full-code", "two-references", "no-title"],
)
def test_malformed_index_is_refused_with_line_and_element(
    tmp_path, old, new, at, message, element
):
    data = INDEX_2025.read_bytes()
    bad = replace_once(data, old, new)
    with pytest.raises(ImportFormatError) as err:
        PCS_INDEX.parse(write(tmp_path, bad))
    assert message in err.value.message
    assert err.value.element == element
    # A main term without a title is pointed at by its own start line.
    expected = line_of(bad, at) - (1 if element == "mainTerm" else 0)
    assert err.value.line == expected


def test_truncated_index_is_refused_as_incomplete(tmp_path):
    data = INDEX_2025.read_bytes()
    cut = data[: len(data) // 2]
    with pytest.raises(ImportFormatError) as err:
        PCS_INDEX.parse(write(tmp_path, cut))
    assert "incomplete" in err.value.message
    assert err.value.line == cut.count(b"\n") + 1


def test_index_with_another_root_is_refused(tmp_path):
    data = replace_once(
        INDEX_2025.read_bytes(), b"<ICD10PCS.index>", b"<ICD10PCS.tabular>"
    ).replace(b"</ICD10PCS.index>", b"</ICD10PCS.tabular>")
    with pytest.raises(ImportFormatError) as err:
        PCS_INDEX.parse(write(tmp_path, data))
    assert "root element is <ICD10PCS.tabular>" in err.value.message
    assert err.value.line == 2


def test_index_without_letters_is_refused(tmp_path):
    data = b'<?xml version="1.0"?>\n<ICD10PCS.index><version>2025</version></ICD10PCS.index>\n'
    with pytest.raises(ImportFormatError) as err:
        PCS_INDEX.parse(write(tmp_path, data))
    assert "no <letter>" in err.value.message


def test_index_entity_declarations_are_refused(tmp_path):
    data = (
        b'<?xml version="1.0"?>\n<!DOCTYPE x [\n <!ENTITY a "aaaa">\n]>\n'
        b"<ICD10PCS.index><version>&a;</version></ICD10PCS.index>\n"
    )
    with pytest.raises(ImportFormatError) as err:
        PCS_INDEX.parse(write(tmp_path, data))
    assert "refused" in err.value.message


def test_unknown_index_elements_are_skipped_with_a_warning(tmp_path):
    data = replace_once(
        INDEX_2025.read_bytes(),
        b"<title>Laparoscopy</title>",
        b"<title>Laparoscopy</title><note>x</note>",
    )
    result = PCS_INDEX.parse(write(tmp_path, data))
    assert result.warnings == [
        "Elements the index layout does not name were skipped: <note> x1."
    ]


# --- definitions -------------------------------------------------------------------


def test_definitions_read_operations_approaches_and_keys():
    result = DEFINITIONS.parse(DEFINITIONS_2025)
    assert (result.format, result.version) == ("icd10pcs_definitions", "2025")
    by = {(d.section, d.axis, d.titles[0]): d for d in result.pcs_definitions}
    resection = by["0", 3, "Resection"]
    assert resection.axis_title == "Operation"
    assert resection.definition.startswith("Cutting out or off, without replacement")
    approach = by["0", 5, "Percutaneous Endoscopic"]
    assert approach.definition.endswith("reach and visualize the site of the procedure")
    appendix = by["0", 4, "Appendix"]
    assert appendix.includes == ("Appendiceal orifice", "Vermiform appendix")
    knee = by["0", 4, "Knee Joint, Left"]
    assert knee.titles == ("Knee Joint, Left", "Knee Joint, Right")
    assert "Femorotibial joint" in knee.includes
    assert by["0", 6, "Synthetic Substitute"].axis_title == "Device"
    assert {d.section for d in result.pcs_definitions} == {"0", "3", "5", ""}


def test_definitions_read_the_device_aggregation_table():
    aggregates = [
        d for d in DEFINITIONS.parse(DEFINITIONS_2025).pcs_definitions if d.axis == 0
    ]
    assert len(aggregates) == 3
    first = aggregates[0]
    assert first.titles == ("Autologous Arterial Tissue",)
    assert first.includes == ("All applicable",)
    assert "Heart and Great Vessels" in first.body_systems
    assert (first.parent_value, first.parent) == ("7", "Autologous Tissue Substitute")


@pytest.mark.parametrize(
    ("old", "new", "message", "element"),
    [
        (b'<section code="5">', b"<section>", "needs a code attribute", "section"),
        (
            b'<axis pos="5">',
            b'<axis pos="five">',
            "needs a pos attribute (1-7), found 'five'",
            "axis",
        ),
        (
            b'<parent value="7">',
            b"<parent>",
            "needs a <parent> with a value attribute",
            "parent",
        ),
        (
            b"<title>Percutaneous Endoscopic</title>",
            b"",
            "",
            "",
        ),
    ],
    ids=["section-code", "axis-pos", "parent-value", "untitled-ok-elsewhere"],
)
def test_malformed_definitions_are_refused_with_line_and_element(
    tmp_path, old, new, message, element
):
    data = DEFINITIONS_2025.read_bytes()
    at = data.index(old)
    bad = data[:at] + new + data[at + len(old) :]
    if not message:
        # An approach entry left without its title names no value: refused.
        with pytest.raises(ImportFormatError) as err:
            DEFINITIONS.parse(write(tmp_path, bad))
        assert "has no <title>" in err.value.message
        assert err.value.element == "terms"
        return
    with pytest.raises(ImportFormatError) as err:
        DEFINITIONS.parse(write(tmp_path, bad))
    assert message in err.value.message
    assert err.value.element == element
    assert err.value.line == bad[:at].count(b"\n") + 1


def test_truncated_definitions_are_refused_as_incomplete(tmp_path):
    data = DEFINITIONS_2025.read_bytes()
    with pytest.raises(ImportFormatError) as err:
        DEFINITIONS.parse(write(tmp_path, data[: len(data) - 200]))
    assert "incomplete" in err.value.message


def test_definitions_with_another_root_are_refused(tmp_path):
    with pytest.raises(ImportFormatError) as err:
        DEFINITIONS.parse(write(tmp_path, INDEX_2025.read_bytes()))
    assert "root element is <ICD10PCS.index>" in err.value.message


# --- the ICD-10-CM Index to Diseases (fixture written by hand in the schema) --------


def test_index_to_diseases_fixture_reads_terms_codes_and_cross_references():
    result = CM_INDEX.parse(DISEASES)
    assert (result.variant, result.version) == ("disease", "2025")
    terms = {t.path: t for t in result.index_terms}
    assert terms["Pneumonia",].codes == (("code", "J189"),)
    assert terms["Pneumonia",].nemod == "(acute) (double) (migratory)"
    assert terms["Pneumonia", "aspiration"].codes == (("code", "J690"),)
    assert terms["Appendicitis",].codes == (("code", "K37"),)
    assert terms["Appendicitis", "acute"].codes == (("code", "K3580"),)
    assert terms["Attack, attacks", "heart"].see == "Infarct, myocardium"
    assert terms["Diabetes, diabetic", "type 2"].codes == (("code", "E119"),)
    assert terms["Infection, infected, infective",].see_also == "Infestation"
    covid = terms["Pneumonia", "in", "COVID-19"]
    assert covid.codes == (("code", "U071"), ("manif", "J1282"))
    amyloid = terms["Amyloid heart",]
    assert amyloid.codes == (("code", "E854"), ("manif", "I43"))
    assert result.warnings == []


def test_index_to_diseases_fixture_with_a_term_out_of_level_is_refused(tmp_path):
    data = DISEASES.read_bytes()
    needle = b'<term level="1">\n        <title>aspiration</title>'
    bad = replace_once(data, needle, needle.replace(b'level="1"', b'level="2"'))
    with pytest.raises(ImportFormatError) as err:
        CM_INDEX.parse(write(tmp_path, bad))
    assert "at depth 1 has level '2'" in err.value.message
    assert err.value.line == line_of(data, needle)
