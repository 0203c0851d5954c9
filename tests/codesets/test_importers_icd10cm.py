"""ICD-10-CM importers (tabular XML, order file, codes file, order addenda) on cut fixtures.

The fixtures in tests/fixtures/icd10cm/ are cut from the real CDC/CMS files by
tests/fixtures/cut_icd10cm.py; malformed variants are made here in tmp_path.
No database is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codesets.importers.base import HEAD_BYTES, ImportFormatError, NoteKind, ParseResult
from codesets.importers.icd10cm_addenda import IMPORTER as ADDENDA
from codesets.importers.icd10cm_codes import IMPORTER as CODES
from codesets.importers.icd10cm_order import IMPORTER as ORDER
from codesets.importers.icd10cm_tabular import IMPORTER as TABULAR

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "icd10cm"
TABULAR_2021 = FIXTURES / "tabular_fy2021_jan.xml"
TABULAR_2025 = FIXTURES / "tabular_fy2025_april.xml"
TABULAR_2026 = FIXTURES / "tabular_fy2026_april.xml"
ORDER_2021 = FIXTURES / "order_fy2021_jan.txt"
CODES_2024 = FIXTURES / "codes_fy2024.txt"
ADDENDA_2027 = FIXTURES / "order_addenda_fy2027.txt"

ALL_FIXTURES = {
    TABULAR_2021: TABULAR,
    TABULAR_2025: TABULAR,
    TABULAR_2026: TABULAR,
    ORDER_2021: ORDER,
    CODES_2024: CODES,
    ADDENDA_2027: ADDENDA,
}
CM_IMPORTERS = (TABULAR, ADDENDA, ORDER, CODES)


def head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def codes_by_code(result: ParseResult) -> dict:
    return {c.code: c for c in result.codes}


def notes_of(result: ParseResult, code: str, kind: str) -> list:
    return [n for n in result.notes if n.code == code and n.kind == kind]


def order_line(number: int, code: str, flag: str, short: str, long: str) -> str:
    """A record in the order-file layout (also used for the PCS order file)."""
    return f"{number:05d} {code:<7} {flag} {short:<60} {long}"


def addenda_line(action: str, flag: str, code: str, short: str, long: str) -> str:
    return f"{action:<13}{flag} {code:<7} {short:<60} {long}"


PCS_ORDER_LINES = "\r\n".join(
    [
        order_line(1, "001", "0", "Central Nervous System and Cranial Nerves, Bypass", "Central Nervous System and Cranial Nerves, Bypass"),
        order_line(2, "0016070", "1", "Bypass Cereb Vent to Nasophar with Autol Sub, Open Approach", "Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute, Open Approach"),
        order_line(3, "0016071", "1", "Bypass Cereb Vent to Mastoid Sinus w Autol Sub, Open", "Bypass Cerebral Ventricle to Mastoid Sinus with Autologous Tissue Substitute, Open Approach"),
    ]
).encode() + b"\r\n"  # fmt: skip

PCS_CODES_LINES = (
    b"0016070 Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute, Open Approach\n"
    b"0016071 Bypass Cerebral Ventricle to Mastoid Sinus with Autologous Tissue Substitute, Open Approach\n"
    b"0016072 Bypass Cerebral Ventricle to Atrium with Autologous Tissue Substitute, Open Approach\n"
)
# PCS imaging codes are ICD-10-CM shaped too (letter first, 7 characters): neither side claims them.
PCS_IMAGING_CODES_LINES = (
    b"B010ZZZ Plain Radiography of Cervical Spine using High Osmolar Contrast\n"
    b"B011ZZZ Plain Radiography of Cervical Spine using Low Osmolar Contrast\n"
)
GEM_LINES = b"A000    0010  00000\r\nA001    0011  00000\r\nA009    0019  00000\r\n"


@pytest.fixture(scope="module")
def tab2026() -> ParseResult:
    return TABULAR.parse(TABULAR_2026)


@pytest.fixture(scope="module")
def tab2025() -> ParseResult:
    return TABULAR.parse(TABULAR_2025)


@pytest.fixture(scope="module")
def order2021() -> ParseResult:
    return ORDER.parse(ORDER_2021)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("path", list(ALL_FIXTURES), ids=lambda p: p.name)
def test_each_fixture_is_detected_by_its_importer_only(path):
    claimed = [
        importer.name for importer in CM_IMPORTERS if importer.detect(head(path))
    ]
    assert claimed == [ALL_FIXTURES[path].name]


@pytest.mark.parametrize(
    "content",
    [PCS_ORDER_LINES, PCS_CODES_LINES, PCS_IMAGING_CODES_LINES, GEM_LINES],
    ids=["pcs-order", "pcs-codes", "pcs-imaging-codes", "gem"],
)
def test_pcs_and_gem_lines_are_not_claimed_by_any_icd10cm_importer(content):
    assert [i.name for i in CM_IMPORTERS if i.detect(content)] == []


def test_tabular_detection_needs_the_tabular_root_element():
    assert TABULAR.detect(
        b'<?xml version="1.0" encoding="utf-8"?>\r\n<ICD10CM.tabular>\r\n  <version>2026</version>'
    )
    assert TABULAR.detect(b"\xef\xbb\xbf<!-- comment <x> --><ICD10CM.tabular>")
    assert not TABULAR.detect(
        b'<?xml version="1.0"?>\n<ICD10CM.index>\n<version>2025</version>'
    )
    assert not TABULAR.detect(b'<?xml version="1.0"?>\n<ICD10PCS.tabular>')
    assert not TABULAR.detect(b"ICD10CM.tabular as plain text")


def test_order_detection_rejects_an_order_file_with_a_malformed_head():
    lines = head(ORDER_2021).split(b"\r\n")
    lines[0] = lines[0][:14] + b"X" + lines[0][15:]
    assert not ORDER.detect(b"\r\n".join(lines))


# --------------------------------------------------------------------------- tabular


def test_tabular_reads_version_and_counts_nodes(tab2026, tab2025):
    assert tab2026.system == "icd10cm"
    assert tab2026.format == "icd10cm_tabular"
    assert tab2026.version == "2026"
    assert tab2025.version == "2025"
    kinds = {}
    for code in tab2026.codes:
        kinds[code.kind] = kinds.get(code.kind, 0) + 1
    assert kinds == {"chapter": 4, "block": 9, "category": 11, "code": 356}
    assert sum(c.billable for c in tab2026.codes) == 267
    assert len(tab2026.codes) == len({c.code for c in tab2026.codes})
    assert tab2026.warnings == []


def test_tabular_chapters_and_blocks_are_nodes(tab2026):
    codes = codes_by_code(tab2026)
    chapter = codes["4"]
    assert (chapter.kind, chapter.parent, chapter.chapter, chapter.billable) == (
        "chapter",
        "",
        "4",
        False,
    )
    assert (
        chapter.long_title == "Endocrine, nutritional and metabolic diseases (E00-E89)"
    )
    block = codes["E08-E13"]
    assert (block.kind, block.parent, block.chapter, block.block) == (
        "block",
        "4",
        "4",
        "E08-E13",
    )
    assert block.long_title == "Diabetes mellitus (E08-E13)"
    assert [c.code for c in tab2026.codes if c.kind == "chapter"] == [
        "1",
        "4",
        "17",
        "19",
    ]


def test_tabular_single_category_section_becomes_a_one_code_range_block(tab2026):
    codes = codes_by_code(tab2026)
    assert codes["E36-E36"].kind == "block"
    assert (
        codes["E36-E36"].long_title
        == "Intraoperative complications of endocrine system (E36)"
    )
    assert codes["E36"].kind == "category"
    assert codes["E36"].parent == "E36-E36"
    assert codes["QA0"].parent == "QA0-QA0"
    assert codes["QA0-QA0"].parent == "17"


def test_tabular_codes_are_undotted_with_parent_chapter_and_block(tab2026):
    codes = codes_by_code(tab2026)
    e11 = codes["E11"]
    assert (e11.kind, e11.billable, e11.parent, e11.chapter, e11.block) == (
        "category",
        False,
        "E08-E13",
        "4",
        "E08-E13",
    )
    e1165 = codes["E1165"]
    assert (e1165.kind, e1165.billable, e1165.parent, e1165.chapter, e1165.block) == (
        "code",
        True,
        "E116",
        "4",
        "E08-E13",
    )
    assert e1165.long_title == "Type 2 diabetes mellitus with hyperglycemia"
    assert codes["E116"].billable is False
    assert codes["E11A"].billable is True
    assert codes["E11A"].parent == "E11"
    assert "E11.65" not in codes


def test_tabular_short_title_repeats_the_long_title(tab2026):
    assert all(c.short_title == c.long_title for c in tab2026.codes)


def test_tabular_codes_come_in_tabular_order_parents_first(tab2026):
    seen = set()
    for code in tab2026.codes:
        assert code.parent == "" or code.parent in seen, code
        seen.add(code.code)


def test_tabular_expands_seventh_characters_with_placeholder_x(tab2026):
    codes = codes_by_code(tab2026)
    leaf = codes["S72001"]
    assert leaf.billable is False  # a header once 7th characters apply
    s72001a = codes["S72001A"]
    assert (s72001a.kind, s72001a.billable, s72001a.parent, s72001a.block) == (
        "code",
        True,
        "S72001",
        "S70-S79",
    )
    assert (
        s72001a.long_title
        == "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    )
    expanded = [c.code for c in tab2026.codes if c.parent == "S72001"]
    assert expanded == [f"S72001{ch}" for ch in "ABCDEFGHJKMNPQRS"]
    # T36.0X1 is 6 characters: no placeholder needed; the definition stands on category T36
    t360x1a = codes["T360X1A"]
    assert t360x1a.parent == "T360X1"
    assert t360x1a.billable
    assert (
        t360x1a.long_title
        == "Poisoning by penicillins, accidental (unintentional), initial encounter"
    )
    assert [c.code for c in tab2026.codes if c.parent == "T360X1"] == [
        "T360X1A",
        "T360X1D",
        "T360X1S",
    ]
    # a 5-character leaf gets one placeholder X
    assert codes["T7800XA"].parent == "T7800"
    assert (
        codes["T7800XA"].long_title
        == "Anaphylactic reaction due to unspecified food, initial encounter"
    )


def test_tabular_pads_a_four_character_leaf_with_two_placeholders(tmp_path):
    xml = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<ICD10CM.tabular><version>2026</version>\n'
        b"<chapter><name>19</name><desc>Injury, poisoning (S00-T88)</desc>\n"
        b'<section id="S00-S09"><desc>Injuries to the head (S00-S09)</desc>\n'
        b"<diag><name>S02</name><desc>Fracture of skull and facial bones</desc>\n"
        b'<sevenChrDef><extension char="A">initial encounter for closed fracture</extension>\n'
        b'<extension char="B">initial encounter for open fracture</extension></sevenChrDef>\n'
        b"<diag><name>S02.0</name><desc>Fracture of vault of skull</desc></diag>\n"
        b"</diag></section></chapter></ICD10CM.tabular>\n"
    )
    path = tmp_path / "s02.xml"
    path.write_bytes(xml)
    result = TABULAR.parse(path)
    assert [
        (c.code, c.parent, c.billable) for c in result.codes if c.kind == "code"
    ] == [
        ("S020", "S02", False),
        ("S020XXA", "S020", True),
        ("S020XXB", "S020", True),
    ]
    assert (
        codes_by_code(result)["S020XXA"].long_title
        == "Fracture of vault of skull, initial encounter for closed fracture"
    )


def test_tabular_nearest_seventh_character_definition_wins(tab2026):
    codes = codes_by_code(tab2026)
    # E08.32 defines laterality 1/2/3/9 for its leaves: E08.321 + 1 -> E083211
    assert [c.code for c in tab2026.codes if c.parent == "E08321"] == [
        "E083211",
        "E083212",
        "E083213",
        "E083219",
    ]
    assert codes["E083211"].long_title.endswith("with macular edema, right eye")
    # E08.00 is outside E08.32: billable, no 7th character
    assert codes["E0800"].billable
    assert not [c for c in tab2026.codes if c.parent == "E0800"]


def test_tabular_seventh_characters_d_and_s_do_not_apply_to_s06_death_codes(tab2026):
    codes = codes_by_code(tab2026)
    assert [c.code for c in tab2026.codes if c.parent == "S061X7"] == ["S061X7A"]
    assert [c.code for c in tab2026.codes if c.parent == "S061X8"] == ["S061X8A"]
    assert [c.code for c in tab2026.codes if c.parent == "S061X0"] == [
        "S061X0A",
        "S061X0D",
        "S061X0S",
    ]
    assert codes["S061XAD"].billable  # FY2026's S06.1XA keeps D and S


def test_tabular_notes_stand_on_their_node_with_kind_and_seq(tab2026):
    first = notes_of(tab2026, "E08", NoteKind.CODE_FIRST)
    assert [n.seq for n in first] == list(range(1, len(first) + 1))
    assert first[0].text == "the underlying condition, such as:"
    assert "congenital rubella (P35.0)" in [n.text for n in first]
    assert (
        notes_of(tab2026, "E08", NoteKind.USE_ADDITIONAL_CODE)[2].text
        == "insulin (Z79.4)"
    )
    assert "type 2 diabetes mellitus (E11.-)" in [
        n.text for n in notes_of(tab2026, "E08", NoteKind.EXCLUDES1)
    ]
    # notes on chapter and block nodes
    assert (
        notes_of(tab2026, "1", NoteKind.INCLUDES)[0].text
        == "diseases generally recognized as communicable or transmissible"
    )
    assert [n.seq for n in notes_of(tab2026, "1", NoteKind.EXCLUDES2)] == [1, 2, 3, 4]
    assert notes_of(tab2026, "4", NoteKind.NOTE)[0].text.startswith(
        "All neoplasms, whether functionally active or not"
    )
    assert (
        notes_of(tab2026, "T36-T50", NoteKind.CODE_FIRST)[1].text
        == "adverse effect NOS (T88.7)"
    )
    assert (
        notes_of(tab2026, "S70-S79", NoteKind.EXCLUDES2)[0].text
        == "burns and corrosions (T20-T32)"
    )
    # the XML's wrapped texts are joined on single spaces
    assert all("  " not in n.text and n.text == n.text.strip() for n in tab2026.notes)
    # no note points at an unknown node
    known = {c.code for c in tab2026.codes}
    assert {n.code for n in tab2026.notes} <= known
    assert {n.kind for n in tab2026.notes} <= set(NoteKind.ALL)


def test_tabular_inclusion_terms_and_code_also(tab2026):
    assert [n.text for n in notes_of(tab2026, "E0832", NoteKind.INCLUSION_TERM)] == [
        "Diabetes mellitus due to underlying condition with nonproliferative diabetic retinopathy NOS"
    ]
    assert notes_of(tab2026, "S06", NoteKind.CODE_ALSO)[0].text == "any associated:"


def test_tabular_seventh_character_definitions_become_notes(tab2026):
    chars = notes_of(tab2026, "S72", NoteKind.SEVENTH_CHARACTER)
    assert [n.character for n in chars] == list("ABCDEFGHJKMNPQRS")
    assert chars[0].text == "initial encounter for closed fracture"
    assert chars[0].seq == 1
    extra = notes_of(tab2026, "S72", NoteKind.SEVENTH_CHARACTER_NOTE)
    assert [(n.character, n.text) for n in extra] == [
        (
            "",
            "The appropriate 7th character is to be added to all codes from category S72",
        ),
        ("B", "initial encounter for open fracture NOS"),
    ]
    assert [
        n.character for n in notes_of(tab2026, "T36", NoteKind.SEVENTH_CHARACTER)
    ] == ["A", "D", "S"]
    # definitions are not copied onto the codes they apply to
    assert notes_of(tab2026, "S72001", NoteKind.SEVENTH_CHARACTER) == []


def test_tabular_fy2021_fixture_agrees_with_the_order_file_fixture(order2021):
    tabular = TABULAR.parse(TABULAR_2021)
    diag = [c for c in tabular.codes if c.kind in ("category", "code")]
    assert [c.code for c in diag] == [c.code for c in order2021.codes]
    for ours, official in zip(diag, order2021.codes, strict=True):
        assert ours.billable == official.billable, ours.code
        assert ours.long_title == official.long_title, ours.code
        assert ours.kind == official.kind, ours.code
        assert ours.parent == official.parent or ours.kind == "category", ours.code


def test_tabular_fy2025_to_fy2026_fixtures_differ_by_added_deleted_and_revised_codes(
    tab2025, tab2026
):
    old, new = codes_by_code(tab2025), codes_by_code(tab2026)
    added = set(new) - set(old)
    deleted = set(old) - set(new)
    revised = {c for c in set(old) & set(new) if old[c].long_title != new[c].long_title}
    assert {"E11A", "QA0", "QA0-QA0", "T78070A"} <= added
    assert deleted == {"T7807XA", "T7807XD", "T7807XS", "T7808XA", "T7808XD", "T7808XS"}
    assert revised == {"17", "S7421", "S7421XA", "S7421XD", "S7421XS"}
    assert (
        old["S7421"].long_title
        == "Injury of cutaneous sensory nerve at hip and high level, right leg"
    )
    assert (
        new["S7421"].long_title
        == "Injury of cutaneous sensory nerve at hip and thigh level, right leg"
    )
    # T78.07 was a 7th-character leaf (header) in FY2025 and stays a header with children in FY2026
    assert old["T7807"].billable is False
    assert new["T7807"].billable is False


def test_tabular_reports_progress_up_to_the_file_size():
    calls = []
    TABULAR.parse(
        TABULAR_2026, progress=lambda done, total: calls.append((done, total))
    )
    size = TABULAR_2026.stat().st_size
    assert calls
    assert calls[-1] == (size, size)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_tabular_parses_a_visual_impairment_table_into_notes(tmp_path):
    xml = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<ICD10CM.tabular><version>2026</version>\n'
        b"<chapter><name>7</name><desc>Diseases of the eye and adnexa (H00-H59)</desc>\n"
        b'<section id="H53-H54"><desc>Visual disturbances and blindness (H53-H54)</desc>\n'
        b"<diag><name>H54</name><desc>Blindness and low vision</desc>\n"
        b"<visualImpairment><visCategory><heading>Category of visual impairment</heading></visCategory>\n"
        b"<visCategory><value>1</value><visRange><visMax><value>6/18</value></visMax>"
        b"<visMin><value>6/60</value></visMin></visRange></visCategory></visualImpairment>\n"
        b"<diag><name>H54.7</name><desc>Unspecified visual loss</desc></diag>\n"
        b"</diag></section></chapter></ICD10CM.tabular>\n"
    )
    path = tmp_path / "tabular.xml"
    path.write_bytes(xml)
    result = TABULAR.parse(path)
    assert [n.text for n in notes_of(result, "H54", NoteKind.NOTE)] == [
        "Category of visual impairment 1 (visual acuity with best possible correction): "
        "less than 6/18, equal to or better than 6/60"
    ]
    assert codes_by_code(result)["H547"].billable


# malformed tabular files ------------------------------------------------------


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_tabular_truncated_file_is_refused_with_its_last_line(tmp_path):
    data = TABULAR_2026.read_bytes()
    cut = data[: len(data) // 2]
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(write(tmp_path, "t.xml", cut))
    assert "incomplete" in err.value.message
    assert err.value.line == cut.count(b"\n") + 1
    assert err.value.element


def test_tabular_mismatched_tag_is_refused_with_line_and_element(tmp_path):
    lines = TABULAR_2026.read_bytes().split(b"\n")
    index = next(i for i, line in enumerate(lines) if b"<name>E11.65</name>" in line)
    lines[index + 1] = lines[index + 1].replace(b"</desc>", b"</dsec>")
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(write(tmp_path, "t.xml", b"\n".join(lines)))
    assert "malformed" in err.value.message
    assert "mismatched tag" in err.value.message
    assert "E1165" in err.value.message
    assert err.value.line == index + 2
    assert err.value.element == "desc"


def test_tabular_billion_laughs_doctype_is_refused_without_expansion(tmp_path):
    lol = (
        b'<?xml version="1.0"?>\n'
        b"<!DOCTYPE lolz [\n"
        b' <!ENTITY lol "lol">\n'
        b' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        b' <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">\n'
        b' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
        b"]>\n"
        b"<ICD10CM.tabular><version>&lol3;</version></ICD10CM.tabular>\n"
    )
    path = write(tmp_path, "lol.xml", lol)
    assert TABULAR.detect(head(path))  # picked as tabular, then refused by the parser
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(path)
    assert "entity 'lol'" in err.value.message
    assert "refused" in err.value.message
    assert err.value.line == 3


def test_tabular_external_entity_is_refused(tmp_path):
    xml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE t [\n<!ENTITY ext SYSTEM "file:///etc/passwd">\n]>\n'
        b"<ICD10CM.tabular><version>&ext;</version></ICD10CM.tabular>\n"
    )
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(write(tmp_path, "ext.xml", xml))
    assert "refused" in err.value.message
    assert err.value.line == 3


def test_tabular_with_another_root_element_is_refused(tmp_path):
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(
            write(
                tmp_path,
                "i.xml",
                b'<?xml version="1.0"?>\n<ICD10CM.index><version>2025</version></ICD10CM.index>\n',
            )
        )
    assert "not an ICD-10-CM tabular file" in err.value.message
    assert (err.value.line, err.value.element) == (2, "ICD10CM.index")


def test_tabular_diag_without_a_valid_name_is_refused(tmp_path):
    data = TABULAR_2026.read_bytes()
    line = data[: data.index(b"<name>E11.65</name>")].count(b"\n") + 1
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(
            write(
                tmp_path,
                "t.xml",
                data.replace(b"<name>E11.65</name>", b"<name>E11-65</name>"),
            )
        )
    assert "'E11-65' is not an ICD-10-CM code" in err.value.message
    assert err.value.line == line
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(
            write(tmp_path, "t.xml", data.replace(b"<name>E11.65</name>", b""))
        )
    assert "has no <name>" in err.value.message
    assert err.value.element == "diag"


def test_tabular_duplicate_code_is_refused(tmp_path):
    data = TABULAR_2026.read_bytes().replace(
        b"<name>E11.69</name>", b"<name>E11.65</name>"
    )
    with pytest.raises(ImportFormatError) as err:
        TABULAR.parse(write(tmp_path, "t.xml", data))
    assert "E1165 appears twice" in err.value.message
    assert err.value.line


# --------------------------------------------------------------------------- order file


def test_order_file_parses_codes_headers_and_titles(order2021):
    assert order2021.system == "icd10cm"
    assert order2021.format == "icd10cm_order"
    assert len(order2021.codes) == 324
    assert sum(c.billable for c in order2021.codes) == 238
    codes = codes_by_code(order2021)
    a00 = codes["A00"]
    assert (a00.kind, a00.billable, a00.parent, a00.chapter, a00.block) == (
        "category",
        False,
        "",
        "",
        "",
    )
    a000 = codes["A000"]
    assert (a000.kind, a000.billable, a000.parent) == ("code", True, "A00")
    assert a000.long_title == "Cholera due to Vibrio cholerae 01, biovar cholerae"
    e0800 = codes["E0800"]
    assert (
        e0800.short_title
        == "Diab d/t undrl cond w hyprosm w/o nonket hyprgly-hypros coma"
    )
    assert e0800.long_title == (
        "Diabetes mellitus due to underlying condition with hyperosmolarity without nonketotic "
        "hyperglycemic-hyperosmolar coma (NKHHC)"
    )


def test_order_file_parent_is_the_longest_existing_prefix(order2021):
    codes = codes_by_code(order2021)
    assert (
        codes["S72001A"].parent == "S72001"
    )  # no S72001X-style placeholder node in between
    assert codes["T360X1A"].parent == "T360X1"
    assert codes["T360X"].parent == "T360"
    assert codes["E1165"].parent == "E116"
    assert codes["S72001"].billable is False
    assert codes["S72001A"].billable is True


def test_order_file_warns_that_it_has_no_chapters_or_blocks(order2021):
    assert any("no chapters or blocks" in w for w in order2021.warnings)
    assert not [c for c in order2021.codes if c.kind in ("chapter", "block")]


def order_variant(tmp_path: Path, lineno: int, change) -> Path:
    lines = ORDER_2021.read_bytes().decode("ascii").split("\r\n")
    lines[lineno - 1] = change(lines[lineno - 1])
    return write(tmp_path, "order.txt", "\r\n".join(lines).encode("latin-1"))


def test_order_file_bad_flag_column_is_refused_with_its_line(tmp_path):
    path = order_variant(tmp_path, 7, lambda line: line[:14] + "2" + line[15:])
    with pytest.raises(ImportFormatError) as err:
        ORDER.parse(path)
    assert err.value.line == 7
    assert "Column 15 must be the valid flag" in err.value.message
    assert "'2'" in err.value.message


def test_order_file_non_increasing_order_number_is_refused(tmp_path):
    path = order_variant(tmp_path, 10, lambda line: "00001" + line[5:])
    with pytest.raises(ImportFormatError) as err:
        ORDER.parse(path)
    assert err.value.line == 10
    assert "does not increase" in err.value.message


def test_order_file_missing_code_and_wrong_width_are_refused(tmp_path):
    with pytest.raises(ImportFormatError) as err:
        ORDER.parse(
            order_variant(tmp_path, 3, lambda line: line[:6] + " " * 7 + line[13:])
        )
    assert err.value.line == 3
    assert "code" in err.value.message
    with pytest.raises(ImportFormatError) as err:
        ORDER.parse(order_variant(tmp_path, 4, lambda line: line[:40]))
    assert err.value.line == 4
    assert "at least 78" in err.value.message
    with pytest.raises(ImportFormatError) as err:
        ORDER.parse(order_variant(tmp_path, 5, lambda line: line[:6] + " " + line[6:]))
    assert err.value.line == 5


def test_order_file_in_windows_1252_is_decoded(tmp_path):
    line = order_line(
        1, "M350", "0", "Sicca syndrome [Sj\xf6gren]", "Sicca syndrome [Sj\xf6gren]"
    )
    line2 = order_line(
        2,
        "M3500",
        "1",
        "Sicca syndrome, unspecified",
        "Sicca syndrome, unspecified \u2013 NOS",
    )
    path = write(tmp_path, "o.txt", (line + "\r\n" + line2 + "\r\n").encode("cp1252"))
    result = ORDER.parse(path)
    assert result.codes[0].long_title == "Sicca syndrome [Sjögren]"
    assert result.codes[1].long_title.endswith("\u2013 NOS")
    assert any("cp1252" in w for w in result.warnings)


# --------------------------------------------------------------------------- codes file


def test_codes_file_parses_billable_codes_without_hierarchy():
    result = CODES.parse(CODES_2024)
    assert result.system == "icd10cm"
    assert result.format == "icd10cm_codes"
    assert len(result.codes) == 245
    assert all(
        c.billable and c.parent == "" and c.short_title == c.long_title
        for c in result.codes
    )
    codes = codes_by_code(result)
    assert (
        codes["A000"].long_title == "Cholera due to Vibrio cholerae 01, biovar cholerae"
    )
    assert codes["A09"].kind == "category"
    assert codes["A09"].billable
    assert codes["S72001A"].kind == "code"
    assert (
        codes["S72001A"].long_title
        == "Fracture of unspecified part of neck of right femur, initial encounter for closed fracture"
    )
    assert "E11" not in codes  # headers are not in the codes file
    assert any("no hierarchy" in w for w in result.warnings)


def test_codes_file_malformed_lines_are_refused_with_their_line(tmp_path):
    lines = CODES_2024.read_text().split("\n")

    def variant(lineno, text):
        changed = list(lines)
        changed[lineno - 1] = text
        return write(tmp_path, "codes.txt", "\n".join(changed).encode())

    with pytest.raises(ImportFormatError) as err:
        CODES.parse(variant(4, "A01.00  Typhoid fever, unspecified"))
    assert err.value.line == 4
    assert "'A01.00'" in err.value.message
    with pytest.raises(ImportFormatError) as err:
        CODES.parse(variant(5, "A0101"))
    assert err.value.line == 5
    with pytest.raises(ImportFormatError) as err:
        CODES.parse(variant(6, "A0102     Typhoid fever with heart involvement"))
    assert err.value.line == 6
    assert "column 9" in err.value.message
    with pytest.raises(ImportFormatError) as err:
        CODES.parse(variant(7, lines[0]))
    assert err.value.line == 7
    assert "appears twice" in err.value.message


# --------------------------------------------------------------------------- addenda


def test_addenda_is_a_delta_of_changes_in_file_order():
    result = ADDENDA.parse(ADDENDA_2027)
    assert result.is_delta
    assert result.codes == []
    assert result.system == "icd10cm"
    actions = [(c.action, c.code, c.billable) for c in result.changes]
    assert actions[:6] == [
        ("add", "C7831", True),
        ("add", "C7832", True),
        (
            "delete",
            "D691",
            True,
        ),  # a billable code becomes a header: delete then add, kept in order
        ("add", "D691", False),
        ("add", "D6911", True),
        ("add", "D6919", True),
    ]
    assert len(result.changes) == 19
    assert result.warnings == []


def test_addenda_revise_pair_becomes_one_change_with_the_new_titles():
    result = ADDENDA.parse(ADDENDA_2027)
    revised = [c for c in result.changes if c.action == "revise"]
    assert [c.code for c in revised] == ["L02232", "L03312", "L03322", "Z2914"]
    l03322 = revised[2]
    assert l03322.short_title == "Acute lymphangitis of back"
    assert (
        l03322.long_title
        == "Acute lymphangitis of back [any part except buttock and flank]"
    )
    assert l03322.billable is True
    assert l03322.line == 20  # the "Revise from:" line
    assert revised[3].long_title == "Encounter for prophylactic rabies immune globulin"


def test_addenda_stated_counts_come_from_the_footer():
    result = ADDENDA.parse(ADDENDA_2027)
    assert result.stated_counts == {
        "codes": 74727,
        "additions": 10,
        "deletions": 2,
        "revisions": 4,
    }


def addenda_variant(tmp_path: Path, change) -> Path:
    lines = ADDENDA_2027.read_text().split("\n")
    return write(tmp_path, "addenda.txt", "\n".join(change(lines)).encode())


def test_addenda_revise_from_without_revise_to_is_refused(tmp_path):
    lines = ADDENDA_2027.read_text().split("\n")
    index = next(
        i for i, line in enumerate(lines) if line.startswith("Revise to:   1 Z2914")
    )
    path = addenda_variant(tmp_path, lambda ls: ls[:index] + ls[index + 1 :])
    with pytest.raises(ImportFormatError) as err:
        ADDENDA.parse(path)
    assert "not followed by its 'Revise to:'" in err.value.message
    assert err.value.line == index  # the Revise from line (1-based: index)


def test_addenda_revise_to_without_revise_from_is_refused(tmp_path):
    lines = ADDENDA_2027.read_text().split("\n")
    index = next(
        i for i, line in enumerate(lines) if line.startswith("Revise from: 1 L02232")
    )
    path = addenda_variant(tmp_path, lambda ls: ls[:index] + ls[index + 1 :])
    with pytest.raises(ImportFormatError) as err:
        ADDENDA.parse(path)
    assert "without a 'Revise from:'" in err.value.message
    assert err.value.line == index + 1


def test_addenda_unknown_action_is_refused(tmp_path):
    path = addenda_variant(
        tmp_path, lambda ls: [ls[0], "Change:     " + ls[1][12:], *ls[2:]]
    )
    with pytest.raises(ImportFormatError) as err:
        ADDENDA.parse(path)
    assert err.value.line == 2
    assert "Unknown action 'Change:'" in err.value.message


def test_addenda_bad_flag_is_refused(tmp_path):
    path = addenda_variant(
        tmp_path, lambda ls: [ls[0][:13] + "Y" + ls[0][14:], *ls[1:]]
    )
    with pytest.raises(ImportFormatError) as err:
        ADDENDA.parse(path)
    assert err.value.line == 1
    assert "Column 14 must be the valid flag" in err.value.message


def test_addenda_without_footer_is_refused_as_truncated(tmp_path):
    lines = ADDENDA_2027.read_text().split("\n")
    blank = lines.index("")
    with pytest.raises(ImportFormatError) as err:
        ADDENDA.parse(addenda_variant(tmp_path, lambda ls: ls[:blank]))
    assert "truncated" in err.value.message


def test_addenda_footer_that_does_not_match_the_lines_gives_a_warning(tmp_path):
    path = addenda_variant(
        tmp_path,
        lambda ls: [
            line.replace("     10 additions", "     11 additions") for line in ls
        ],
    )
    result = ADDENDA.parse(path)
    assert result.stated_counts["additions"] == 11
    assert any("11 codes additions" in w for w in result.warnings)


def test_addenda_lines_written_in_the_layout_are_detected():
    content = (
        addenda_line(
            "Add:",
            "1",
            "C7831",
            "Secondary malignant neoplasm of larynx",
            "Secondary malignant neoplasm of larynx",
        )
        + "\r\n"
    ).encode()
    assert ADDENDA.detect(content)
    pcs = (
        addenda_line(
            "Add:",
            "1",
            "0016070",
            "Bypass Cereb Vent to Nasophar",
            "Bypass Cerebral Ventricle",
        )
        + "\r\n"
    ).encode()
    assert not ADDENDA.detect(pcs)


@pytest.mark.parametrize("path", list(ALL_FIXTURES), ids=lambda p: p.name)
def test_registry_picks_the_icd10cm_importer_for_each_fixture(path):
    from codesets.importers import detect_importer

    assert detect_importer(path).name == ALL_FIXTURES[path].name
    assert detect_importer(path, system="icd10cm").name == ALL_FIXTURES[path].name
