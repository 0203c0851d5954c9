"""ICD-10-PCS importers (tables XML, codes file, order file) on the cut fixtures.

The fixtures come from the official CMS files through
``tests/fixtures/cut_icd10pcs.py``; no database is needed.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from codesets.importers import (
    detect_importer,
    icd10pcs_codes,
    icd10pcs_order,
    icd10pcs_tables,
)
from codesets.importers.base import HEAD_BYTES, ImportFormatError
from codesets.importers.icd10pcs_tables import build_title, invert

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "icd10pcs"
TABLES_2025 = FIXTURES / "icd10pcs_tables_2025.xml"
TABLES_2026 = FIXTURES / "icd10pcs_tables_2026.xml"
CODES_2024 = FIXTURES / "icd10pcs_codes_2024.txt"
ORDER_2024 = FIXTURES / "icd10pcs_order_2024.txt"
FIXTURE_TABLES = ["001", "02H", "0DT", "BW2", "D00", "GZ5", "X2A", "XXE"]

# A few lines in the layout of the ICD-10-CM files, written here (not official data).
CM_CODES_LINES = (
    "A000    Cholera due to Vibrio cholerae 01, biovar cholerae\n"
    "A001    Cholera due to Vibrio cholerae 01, biovar eltor\n"
    "H4011X0 Primary open-angle glaucoma, stage unspecified\n"
    "H4011X1 Primary open-angle glaucoma, mild stage\n"
    "S0000XA Unspecified superficial injury of unspecified part of head, initial encounter\n"
)
CM_ORDER_LINES = "".join(
    f"{n:05d} {code:<7} {flag} {title[:60]:<60} {title}\r\n"
    for n, (code, flag, title) in enumerate(
        [
            ("B00", "0", "Herpesviral [herpes simplex] infections"),
            ("B000", "1", "Eczema herpeticum"),
            ("B001", "1", "Herpesviral vesicular dermatitis"),
            ("C00", "0", "Malignant neoplasm of lip"),
            ("C000", "1", "Malignant neoplasm of external upper lip"),
        ],
        1,
    )
)


@pytest.fixture(scope="module")
def tables_2025():
    return icd10pcs_tables.IMPORTER.parse(TABLES_2025)


@pytest.fixture(scope="module")
def tables_2026():
    return icd10pcs_tables.IMPORTER.parse(TABLES_2026)


@pytest.fixture(scope="module")
def official_titles():
    result = icd10pcs_codes.IMPORTER.parse(CODES_2024)
    return {c.code: c.long_title for c in result.codes}


def by_code(result):
    return {c.code: c for c in result.codes}


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# --- tables XML --------------------------------------------------------------


def test_tables_fixture_yields_every_node_and_code(tables_2025, tables_2026):
    for result, version, codes in (
        (tables_2025, "2025", 682),
        (tables_2026, "2026", 684),
    ):
        assert result.system == "icd10pcs"
        assert result.format == "icd10pcs_tables"
        assert result.version == version
        assert result.warnings == []
        kinds = [c.kind for c in result.codes]
        assert kinds.count("code") == codes
        assert kinds.count("category") == len(FIXTURE_TABLES)
        assert kinds.count("block") == 8
        assert kinds.count("chapter") == 5
        assert [t.code for t in result.pcs_tables] == FIXTURE_TABLES
        assert len({c.code for c in result.codes}) == len(result.codes)


def test_code_count_per_table_is_the_sum_of_row_products(tables_2025):
    for table in tables_2025.pcs_tables:
        expected = sum(
            math.prod(len(axis["values"]) for axis in row["axes"]) for row in table.rows
        )
        actual = sum(
            1 for c in tables_2025.codes if c.kind == "code" and c.parent == table.code
        )
        assert actual == expected


def test_appendectomy_code_has_its_official_title_and_path(tables_2025):
    codes = by_code(tables_2025)
    appendectomy = codes["0DTJ4ZZ"]
    assert (
        appendectomy.long_title
        == "Resection of Appendix, Percutaneous Endoscopic Approach"
    )
    assert appendectomy.short_title == appendectomy.long_title
    assert appendectomy.kind == "code"
    assert appendectomy.billable is True
    assert (appendectomy.parent, appendectomy.chapter, appendectomy.block) == (
        "0DT",
        "0",
        "0D",
    )
    assert codes["0DT"].parent == "0D"
    assert codes["0D"].parent == "0"
    assert codes["0D"].long_title == "Gastrointestinal System"


def test_header_nodes_are_section_body_system_and_table(tables_2025):
    codes = by_code(tables_2025)
    section, body_system, table = codes["0"], codes["00"], codes["001"]
    assert (section.kind, section.long_title, section.parent, section.billable) == (
        "chapter",
        "Medical and Surgical",
        "",
        False,
    )
    assert (
        body_system.kind,
        body_system.long_title,
        body_system.parent,
        body_system.billable,
    ) == (
        "block",
        "Central Nervous System and Cranial Nerves",
        "0",
        False,
    )
    assert (table.kind, table.long_title, table.parent, table.billable) == (
        "category",
        "Bypass",
        "00",
        False,
    )
    assert (body_system.chapter, body_system.block, table.chapter, table.block) == (
        "0",
        "00",
        "0",
        "00",
    )
    assert codes["B"].long_title == "Imaging"
    assert codes["X2A"].long_title == "Assistance"


def test_every_node_comes_after_its_parent(tables_2026):
    seen = set()
    for node in tables_2026.codes:
        assert node.parent == "" or node.parent in seen, node
        seen.add(node.code)
    for node in tables_2026.codes:
        if node.kind == "code":
            assert node.parent == node.code[:3]


def test_table_structure_keeps_axes_and_rows(tables_2025):
    table = next(t for t in tables_2025.pcs_tables if t.code == "001")
    assert [(a["pos"], a["title"], a["code"], a["label"]) for a in table.axes] == [
        (1, "Section", "0", "Medical and Surgical"),
        (2, "Body System", "0", "Central Nervous System and Cranial Nerves"),
        (3, "Operation", "1", "Bypass"),
    ]
    assert (
        table.axes[2]["definition"]
        == "Altering the route of passage of the contents of a tubular body part"
    )
    assert table.axes[0]["definition"] == ""
    first = table.rows[0]["axes"]
    assert [(a["pos"], a["title"]) for a in first] == [
        (4, "Body Part"),
        (5, "Approach"),
        (6, "Device"),
        (7, "Qualifier"),
    ]
    assert first[0]["values"] == [{"code": "6", "label": "Cerebral Ventricle"}]
    assert [v["label"] for v in first[1]["values"]] == [
        "Open",
        "Percutaneous",
        "Percutaneous Endoscopic",
    ]
    assert len(first[3]["values"]) == 11


def test_built_titles_equal_the_official_titles(
    tables_2025, tables_2026, official_titles
):
    for result in (tables_2025, tables_2026):
        common = [c for c in result.codes if c.code in official_titles]
        assert len(common) > 600
        wrong = [
            (c.code, c.long_title, official_titles[c.code])
            for c in common
            if c.long_title != official_titles[c.code]
        ]
        assert wrong == []


@pytest.mark.parametrize(
    ("code", "labels", "title"),
    [
        (
            "0016070",
            ("Bypass", "Cerebral Ventricle", "Open", "Autologous Tissue Substitute", "Nasopharynx"),
            "Bypass Cerebral Ventricle to Nasopharynx with Autologous Tissue Substitute, Open Approach",
        ),
        (
            "0DTJ8ZZ",
            ("Resection", "Appendix", "Via Natural or Artificial Opening Endoscopic", "No Device", "No Qualifier"),
            "Resection of Appendix, Via Natural or Artificial Opening Endoscopic",
        ),
        (
            "0Y6N0Z9",
            ("Detachment", "Foot, Left", "Open", "No Device", "Partial 1st Ray"),
            "Detachment at Left Foot, Partial 1st Ray, Open Approach",
        ),
        (
            "037L46Z",
            ("Dilation", "Internal Carotid Artery, Left", "Percutaneous Endoscopic",
             "Intraluminal Device, Drug-eluting, Three", "No Qualifier"),
            "Dilation of Left Internal Carotid Artery with Three Drug-eluting Intraluminal Devices, "
            "Percutaneous Endoscopic Approach",
        ),
        (
            "BQ2G0ZZ",
            ("Computerized Tomography (CT Scan)", "Ankle, Right", "High Osmolar", "None", "None"),
            "Computerized Tomography (CT Scan) of Right Ankle using High Osmolar Contrast",
        ),
        (
            "D810B7Z",
            ("Brachytherapy", "Eye", "Low Dose Rate (LDR)", "Cesium 137 (Cs-137)", "None"),
            "Low Dose Rate (LDR) Brachytherapy of Eye using Cesium 137 (Cs-137)",
        ),
        (
            "XW043K7",
            ("Introduction", "Central Vein", "Percutaneous", "Idecabtagene Vicleucel Immunotherapy",
             "New Technology Group 7"),
            "Introduction of Idecabtagene Vicleucel Immunotherapy into Central Vein, Percutaneous Approach, "
            "New Technology Group 7",
        ),
    ],
)  # fmt: skip
def test_build_title_follows_the_cms_wording(code, labels, title):
    assert build_title(code, *labels) == title


def test_invert_moves_the_side_and_keeps_lists():
    assert invert("Lower Leg, Left") == "Left Lower Leg"
    assert (
        invert("Lymphatic, Internal Mammary, Left") == "Left Internal Mammary Lymphatic"
    )
    assert (
        invert("Hip Joint, Acetabular Surface, Left")
        == "Left Hip Joint, Acetabular Surface"
    )
    assert invert("Coronary Artery, One Artery") == "Coronary Artery, One Artery"
    assert invert("Chest, Abdomen and Pelvis") == "Chest, Abdomen and Pelvis"
    assert invert("Heart, Right and Left") == "Right and Left Heart"
    assert invert("Appendix") == "Appendix"


def test_year_over_year_fixtures_show_added_and_deleted_codes(tables_2025, tables_2026):
    before = {c.code for c in tables_2025.codes if c.kind == "code"}
    after = {c.code for c in tables_2026.codes if c.kind == "code"}
    assert "X2AH34B" in after - before
    assert "X2A5312" in before - after
    assert "XXEBXQ6" in before - after
    assert "0DTJ4ZZ" in before & after


def test_tables_progress_reaches_the_file_size():
    calls = []
    icd10pcs_tables.IMPORTER.parse(
        TABLES_2025, progress=lambda done, total: calls.append((done, total))
    )
    size = TABLES_2025.stat().st_size
    assert calls[-1] == (size, size)
    assert all(b[0] >= a[0] for a, b in itertools.pairwise(calls))


def test_tables_detection():
    head = TABLES_2026.read_bytes()[:HEAD_BYTES]
    assert icd10pcs_tables.IMPORTER.detect(head)
    assert icd10pcs_tables.IMPORTER.detect(
        b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- x -->\n<ICD10PCS.tabular>"
    )
    assert not icd10pcs_tables.IMPORTER.detect(
        b'<?xml version="1.0"?>\n<ICD10CM.tabular><version>2026</version>'
    )
    assert not icd10pcs_tables.IMPORTER.detect(
        b"<!-- <ICD10PCS.tabular> -->\n<ICD10PCS.index>"
    )
    assert not icd10pcs_tables.IMPORTER.detect(CODES_2024.read_bytes()[:HEAD_BYTES])


def test_truncated_tables_xml_is_rejected_with_line_and_element(tmp_path):
    lines = TABLES_2025.read_bytes().splitlines(keepends=True)
    path = write(tmp_path, "cut.xml", b"".join(lines[:100]))
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_tables.IMPORTER.parse(path)
    assert "malformed or cut short" in err.value.message
    assert err.value.line == 101
    assert err.value.element == "axis"


def test_mismatched_tag_is_rejected_with_its_line(tmp_path):
    data = TABLES_2026.read_bytes().replace(
        b"<title>Body Part</title>", b"<title>Body Part</titel>", 1
    )
    path = write(tmp_path, "bad.xml", data)
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_tables.IMPORTER.parse(path)
    assert "mismatched tag" in err.value.message
    assert err.value.line == 21
    assert err.value.element == "title"


def test_wrong_codes_count_names_the_row_and_table(tmp_path):
    data = TABLES_2025.read_bytes().replace(
        b'<pcsRow codes="99">', b'<pcsRow codes="98">', 1
    )
    path = write(tmp_path, "count.xml", data)
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_tables.IMPORTER.parse(path)
    assert err.value.message == (
        'Row 1 of table 001 says codes="98" but its axes yield 99 codes (1 x 3 x 3 x 11).'
    )
    assert err.value.line == 19
    assert err.value.element == "pcsRow"


def test_wrong_values_count_is_rejected(tmp_path):
    data = TABLES_2026.read_bytes().replace(
        b'<axis pos="5" values="3">', b'<axis pos="5" values="2">', 1
    )
    path = write(tmp_path, "values.xml", data)
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_tables.IMPORTER.parse(path)
    assert err.value.message == 'Axis 5 says values="2" but lists 3 labels.'
    assert err.value.line == 24
    assert err.value.element == "axis"


def test_billion_laughs_doctype_is_refused(tmp_path):
    bomb = (
        '<?xml version="1.0"?>\n'
        "<!DOCTYPE lolz [\n"
        ' <!ENTITY lol "lol">\n'
        ' <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        ' <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">\n'
        "]>\n"
        "<ICD10PCS.tabular><version>&lol3;</version></ICD10PCS.tabular>\n"
    )
    path = write(tmp_path, "bomb.xml", bomb)
    assert icd10pcs_tables.IMPORTER.detect(bomb.encode())
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_tables.IMPORTER.parse(path)
    assert "declares entities" in err.value.message
    assert err.value.line == 3


def test_label_code_outside_the_pcs_alphabet_is_rejected(tmp_path):
    data = TABLES_2026.read_bytes().replace(
        b'<label code="6">Cerebral Ventricle</label>',
        b'<label code="O">Cerebral Ventricle</label>',
        1,
    )
    path = write(tmp_path, "label.xml", data)
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_tables.IMPORTER.parse(path)
    assert err.value.message.startswith('Label code "O" must be one character')
    assert err.value.line == 22
    assert err.value.element == "label"


def test_other_root_element_is_rejected(tmp_path):
    path = write(
        tmp_path,
        "cm.xml",
        '<?xml version="1.0"?>\n<ICD10CM.tabular><version>2026</version></ICD10CM.tabular>',
    )
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_tables.IMPORTER.parse(path)
    assert "not an ICD-10-PCS tables file" in err.value.message
    assert err.value.line == 2


# --- codes file --------------------------------------------------------------


def test_codes_file_yields_billable_codes_under_their_table():
    result = icd10pcs_codes.IMPORTER.parse(CODES_2024)
    assert (result.system, result.format) == ("icd10pcs", "icd10pcs_codes")
    assert len(result.codes) == 674
    assert {c.code[:3] for c in result.codes} == set(FIXTURE_TABLES)
    assert all(
        c.kind == "code" and c.billable and c.parent == c.code[:3] for c in result.codes
    )
    appendectomy = by_code(result)["0DTJ4ZZ"]
    assert (
        appendectomy.long_title
        == appendectomy.short_title
        == "Resection of Appendix, Percutaneous Endoscopic Approach"
    )
    assert any("no hierarchy" in w for w in result.warnings)


def test_codes_detection_does_not_claim_icd10cm_or_other_pcs_files():
    assert icd10pcs_codes.IMPORTER.detect(CODES_2024.read_bytes()[:HEAD_BYTES])
    assert not icd10pcs_codes.IMPORTER.detect(CM_CODES_LINES.encode())
    # 7-character ICD-10-CM codes that happen to use only PCS characters are still not PCS
    # when the head holds any other ICD-10-CM line.
    assert not icd10pcs_codes.IMPORTER.detect(
        b"H4011X0 Primary open-angle glaucoma\nA000    Cholera\n"
    )
    assert not icd10pcs_codes.IMPORTER.detect(ORDER_2024.read_bytes()[:HEAD_BYTES])
    assert not icd10pcs_codes.IMPORTER.detect(TABLES_2025.read_bytes()[:HEAD_BYTES])
    assert not icd10pcs_codes.IMPORTER.detect(
        b"0016070 0231  00000\n0016071 0231  00000\n"
    )  # GEM-like


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("0DTJ4ZO Resection of Appendix, Open Approach", "'O' cannot occur"),
        ("0DTJ4Z Resection of Appendix, Open Approach", "7-character code"),
        ("0DTJ4ZZ  Resection of Appendix, Open Approach", "after exactly one blank"),
        ("0DTJ4ZZX Resection of Appendix, Open Approach", "Column 8 must be blank"),
        ("0DTJ4ZZ 12345", "has no words"),
    ],
)
def test_malformed_codes_line_is_rejected_with_its_line_number(tmp_path, line, message):
    lines = CODES_2024.read_text().splitlines()
    lines[2] = line
    path = write(tmp_path, "codes.txt", "\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_codes.IMPORTER.parse(path)
    assert message in err.value.message
    assert err.value.line == 3


def test_duplicate_code_and_inner_blank_line_are_rejected(tmp_path):
    lines = CODES_2024.read_text().splitlines()
    path = write(
        tmp_path, "dup.txt", "\n".join([*lines[:5], lines[1], *lines[5:]]) + "\n"
    )
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_codes.IMPORTER.parse(path)
    assert err.value.message == f"Code {lines[1][:7]} appears twice (first on line 2)."
    assert err.value.line == 6
    path = write(tmp_path, "blank.txt", "\n".join([*lines[:5], "", *lines[5:]]) + "\n")
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_codes.IMPORTER.parse(path)
    assert err.value.line == 6


# --- order file --------------------------------------------------------------


def test_order_file_yields_tables_and_codes(official_titles):
    result = icd10pcs_order.IMPORTER.parse(ORDER_2024)
    assert (result.system, result.format) == ("icd10pcs", "icd10pcs_order")
    codes = by_code(result)
    headers = [c for c in result.codes if c.kind == "category"]
    assert [h.code for h in headers] == FIXTURE_TABLES
    assert all(not h.billable and h.parent == "" for h in headers)
    assert codes["0DT"].long_title == "Gastrointestinal System, Resection"
    billable = [c for c in result.codes if c.kind == "code"]
    assert len(billable) == 674
    assert all(c.billable and c.parent == c.code[:3] for c in billable)
    assert {c.code: c.long_title for c in billable} == official_titles
    appendectomy = codes["0DTJ4ZZ"]
    assert (
        appendectomy.long_title
        == "Resection of Appendix, Percutaneous Endoscopic Approach"
    )
    assert all(len(c.short_title) <= 60 for c in result.codes)
    assert any("no section or body-system lines" in w for w in result.warnings)


def test_order_detection_tells_pcs_from_icd10cm():
    assert icd10pcs_order.IMPORTER.detect(ORDER_2024.read_bytes()[:HEAD_BYTES])
    assert not icd10pcs_order.IMPORTER.detect(CM_ORDER_LINES.encode())
    assert not icd10pcs_order.IMPORTER.detect(CODES_2024.read_bytes()[:HEAD_BYTES])
    assert not icd10pcs_order.IMPORTER.detect(TABLES_2026.read_bytes()[:HEAD_BYTES])


def _order_lines() -> list[str]:
    return ORDER_2024.read_text().splitlines()


@pytest.mark.parametrize(
    ("column", "char", "message"),
    [
        (
            15,
            "2",
            "Column 15 must be the valid flag, 0 (table header) or 1 (billable code), found '2'.",
        ),
        (
            15,
            "0",
            "Column 15 flags 0016070 as a header (0), but a 7-character code is billable (1).",
        ),
        (13, "I", "'0016I70' (columns 7-13) is not an ICD-10-PCS code"),
        (6, "X", "Column 6 must be blank (after the order number), found 'X'."),
    ],
)
def test_malformed_order_record_is_rejected_with_its_line_number(
    tmp_path, column, char, message
):
    lines = _order_lines()
    line = lines[1]
    if column == 13:
        line = line[:10] + char + line[11:]
    else:
        line = line[: column - 1] + char + line[column:]
    lines[1] = line
    path = write(tmp_path, "order.txt", "\r\n".join(lines) + "\r\n")
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_order.IMPORTER.parse(path)
    assert message in err.value.message
    assert err.value.line == 2


def test_order_header_flagged_billable_and_order_numbers_going_back_are_rejected(
    tmp_path,
):
    lines = _order_lines()
    header = lines[0][:14] + "1" + lines[0][15:]
    path = write(tmp_path, "header.txt", "\r\n".join([header, *lines[1:]]) + "\r\n")
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_order.IMPORTER.parse(path)
    assert (
        err.value.message
        == "Column 15 flags 001 as billable (1), but a 3-character table is a header (0)."
    )
    assert err.value.line == 1
    swapped = [lines[0], lines[2], lines[1], *lines[3:]]
    path = write(tmp_path, "swapped.txt", "\r\n".join(swapped) + "\r\n")
    with pytest.raises(ImportFormatError) as err:
        icd10pcs_order.IMPORTER.parse(path)
    assert (
        err.value.message
        == "Order number 00002 does not increase (the previous record is 00003)."
    )
    assert err.value.line == 3


# --- the registry --------------------------------------------------------------


def test_registry_picks_the_pcs_importer_for_each_fixture(tmp_path):
    assert detect_importer(TABLES_2025).name == "icd10pcs_tables"
    assert detect_importer(CODES_2024).name == "icd10pcs_codes"
    assert detect_importer(ORDER_2024).name == "icd10pcs_order"
    cm_codes = write(tmp_path, "cm_codes.txt", CM_CODES_LINES)
    assert detect_importer(cm_codes).system == "icd10cm"
    with pytest.raises(ImportFormatError):
        detect_importer(cm_codes, system="icd10pcs")


# --- the full official files (skipped where they are not available) ---------

DATA = Path("/work/shared/data/icd10pcs")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("year", "count"), [(2020, 77_559), (2025, 78_948), (2026, 79_115)]
)
def test_full_tables_file_yields_the_cms_code_count(year, count):
    path = DATA / f"fy{year}" / f"icd10pcs_tables_{year}.xml"
    if not path.exists():
        pytest.skip("the official files are not available")
    result = icd10pcs_tables.IMPORTER.parse(path)
    assert result.version == str(year)
    assert sum(1 for c in result.codes if c.kind == "code") == count
    assert result.warnings == []


@pytest.mark.slow
def test_full_tables_titles_equal_the_official_fy2024_titles():
    tables = DATA / "fy2025" / "icd10pcs_tables_2025.xml"
    codes = DATA / "fy2024" / "icd10pcs-codes-2024.txt"
    if not tables.exists() or not codes.exists():
        pytest.skip("the official files are not available")
    official = {
        c.code: c.long_title for c in icd10pcs_codes.IMPORTER.parse(codes).codes
    }
    built = {c.code: c.long_title for c in icd10pcs_tables.IMPORTER.parse(tables).codes}
    common = built.keys() & official.keys()
    assert len(common) == 78_536
    assert [code for code in sorted(common) if built[code] != official[code]] == []
