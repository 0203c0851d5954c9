"""Importers of edit tables and index tables: NCCI PTP edits, MUE tables, IPPS Table 5, ICD-10-CM index XML.

Table 5 and the index fixtures are cut from the real CMS/CDC files by
tests/fixtures/cut_edits_and_indexes.py; the NCCI PTP and MUE fixtures are
written by hand in CMS's published layout (tests/fixtures/ncci/README.md).
Malformed variants are made here in tmp_path. No database is needed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from codesets.importers import detect_importer
from codesets.importers.base import HEAD_BYTES, ImportFormatError, ParseResult
from codesets.importers.drg_weights import IMPORTER as DRG
from codesets.importers.icd10cm_index import IMPORTER as INDEX
from codesets.importers.mue import IMPORTER as MUE
from codesets.importers.ncci_ptp import IMPORTER as PTP

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TABLE5 = FIXTURES / "ms-drg" / "table5_fy2026_excerpt.txt"
DRUG = FIXTURES / "icd10cm_index" / "drug_fy2025_april.xml"
NEOPLASM = FIXTURES / "icd10cm_index" / "neoplasm_fy2025_april.xml"
EINDEX = FIXTURES / "icd10cm_index" / "eindex_fy2025_april.xml"
PTP_PRACTITIONER = FIXTURES / "ncci" / "ptp_practitioner.txt"
PTP_HOSPITAL = FIXTURES / "ncci" / "ptp_hospital.txt"
MUE_PRACTITIONER = FIXTURES / "ncci" / "mue_practitioner.csv"
MUE_FACILITY = FIXTURES / "ncci" / "mue_facility.csv"
MUE_DME = FIXTURES / "ncci" / "mue_dme.csv"

OUR_FIXTURES = {
    TABLE5: DRG,
    DRUG: INDEX,
    NEOPLASM: INDEX,
    EINDEX: INDEX,
    PTP_PRACTITIONER: PTP,
    PTP_HOSPITAL: PTP,
    MUE_PRACTITIONER: MUE,
    MUE_FACILITY: MUE,
    MUE_DME: MUE,
}
OUR_IMPORTERS = (DRG, INDEX, PTP, MUE)
OTHER_FIXTURES = sorted(
    p
    for folder in ("icd10cm", "icd10pcs", "hcpcs", "cpt")
    if (FIXTURES / folder).is_dir()
    for p in (FIXTURES / folder).iterdir()
    if p.is_file() and p.suffix not in (".py", ".md")
)

DATA = Path("/work/shared/data")


def head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, old
    return data.replace(old, new)


def line_of(data: bytes, needle: bytes) -> int:
    return data[: data.index(needle)].count(b"\n") + 1


def terms_at(result: ParseResult, *path: str) -> list:
    return [t for t in result.index_terms if t.path == path]


def term_at(result: ParseResult, *path: str):
    (term,) = terms_at(result, *path)
    return term


@pytest.fixture(scope="module")
def table5() -> ParseResult:
    return DRG.parse(TABLE5)


@pytest.fixture(scope="module")
def drug() -> ParseResult:
    return INDEX.parse(DRUG)


@pytest.fixture(scope="module")
def neoplasm() -> ParseResult:
    return INDEX.parse(NEOPLASM)


@pytest.fixture(scope="module")
def eindex() -> ParseResult:
    return INDEX.parse(EINDEX)


@pytest.fixture(scope="module")
def ptp_practitioner() -> ParseResult:
    return PTP.parse(PTP_PRACTITIONER)


@pytest.fixture(scope="module")
def ptp_hospital() -> ParseResult:
    return PTP.parse(PTP_HOSPITAL)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("path", list(OUR_FIXTURES), ids=lambda p: p.name)
def test_each_fixture_is_detected_by_its_importer_only(path):
    claimed = [i.name for i in OUR_IMPORTERS if i.detect(head(path))]
    assert claimed == [OUR_FIXTURES[path].name]


@pytest.mark.parametrize("path", list(OUR_FIXTURES), ids=lambda p: p.name)
def test_registry_picks_the_right_importer_and_system_for_each_fixture(path):
    importer = OUR_FIXTURES[path]
    assert detect_importer(path).name == importer.name
    assert detect_importer(path, system=importer.system).name == importer.name


@pytest.mark.parametrize(
    "path", OTHER_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_code_set_fixtures_of_other_formats_are_not_claimed(path):
    assert [i.name for i in OUR_IMPORTERS if i.detect(head(path))] == []


@pytest.mark.parametrize(
    "content",
    [
        b"TABLE 6I - COMPLETE MCC LIST\r\nDiagnosis Code\tDescription\r\nA02.1\tSalmonella sepsis\r\n",
        b'<?xml version="1.0" encoding="UTF-8"?>\n<ICD10PCS.index>\n<letter><title>A</title>',
        b'<?xml version="1.0"?>\n<ICD10CM.tabular>\n<version>2026</version>',
        b"ICD10CM.index as plain text\n",
        b"HCPCS,Short description\nA0425,Ground mileage\n",
        b"Column 1,Column 2\n11042,97597\n",
    ],
    ids=[
        "table-6i",
        "pcs-index",
        "cm-tabular",
        "text",
        "hcpcs-csv",
        "ptp-csv-without-layout",
    ],
)
def test_other_heads_are_not_claimed(content):
    assert [i.name for i in OUR_IMPORTERS if i.detect(content)] == []


def test_index_detection_needs_the_index_root_element():
    assert INDEX.detect(
        b"\xef\xbb\xbf<!-- <x> --><ICD10CM.index>\n<version>2025</version>"
    )
    assert not INDEX.detect(b'<?xml version="1.0"?>\n<ICD10CM.tabular>')


def test_ptp_detection_needs_the_column_header_row():
    lines = PTP_PRACTITIONER.read_bytes().split(b"\r\n")
    assert PTP.detect(b"\r\n".join(lines[:3]))
    assert not PTP.detect(
        b"\r\n".join(lines[:2] + lines[3:])
    )  # data without the header row


# --------------------------------------------------------------------------- IPPS Table 5


def test_table5_reads_the_fiscal_year_and_every_drg_row(table5):
    assert (table5.system, table5.format, table5.version) == (
        "drg_weights",
        "drg_weights",
        "2026",
    )
    assert len(table5.drg_weights) == 45
    drgs = [w.drg for w in table5.drg_weights]
    assert drgs == sorted(drgs)
    assert {193, 194, 195, 291, 292, 293, 470, 871, 872} <= set(drgs)


def test_table5_drg_193_weight_and_lengths_of_stay(table5):
    row = next(w for w in table5.drg_weights if w.drg == 193)
    assert row.weight == Decimal("1.3144")
    assert (row.gmlos, row.amlos) == (Decimal("3.9"), Decimal("4.9"))
    assert (row.mdc, row.type, row.post_acute, row.special_pay) == (
        "04",
        "MED",
        True,
        False,
    )
    assert row.title == "SIMPLE PNEUMONIA AND PLEURISY WITH MCC"
    # the title is one quoted field over two physical lines: line numbers count both
    assert row.line == line_of(TABLE5.read_bytes(), b"193\t")


def test_table5_weight_is_the_one_with_the_10_percent_cap_applied(table5):
    by_drg = {w.drg: w for w in table5.drg_weights}
    assert by_drg[10].weight == Decimal("7.1757")  # before the cap: 3.0699
    assert by_drg[297].weight == Decimal("0.6340")  # before the cap: 0.6235


def test_table5_reads_quoted_titles_pre_mdc_and_drgs_without_mdc(table5):
    by_drg = {w.drg: w for w in table5.drg_weights}
    assert by_drg[3].title.startswith(
        "ECMO OR TRACHEOSTOMY WITH MV >96 HOURS OR PRINCIPAL DIAGNOSIS EXCEPT FACE, MOUTH"
    )
    assert by_drg[297].title == "CARDIAC ARREST, UNEXPLAINED WITH CC"
    assert (by_drg[1].mdc, by_drg[1].type) == ("PRE", "SURG")
    assert (by_drg[981].mdc, by_drg[987].special_pay) == ("", True)


def test_table5_ungroupable_drgs_are_kept_without_figures_and_named_in_a_warning(
    table5,
):
    by_drg = {w.drg: w for w in table5.drg_weights}
    for drg in (998, 999):
        row = by_drg[drg]
        assert (row.type, row.weight, row.gmlos, row.amlos) == (
            "",
            Decimal(0),
            None,
            None,
        )
    assert by_drg[999].title == "UNGROUPABLE"
    assert any("998, 999" in w for w in table5.warnings)


def test_table5_reports_progress_up_to_the_file_size():
    seen = []
    DRG.parse(TABLE5, progress=lambda done, total: seen.append((done, total)))
    size = TABLE5.stat().st_size
    assert seen[-1] == (size, size)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            b"\t1.3144\t1.3144\t",
            b"\t1.3144\t1,3144\t",
            "The weight must be a decimal number, found '1,3144'",
        ),
        (
            b"193\tYes\tNo\t04\tMED",
            b"193\tYes\tNo\t04\tMEDICAL",
            "TYPE must be MED or SURG, found 'MEDICAL'",
        ),
        (
            b"193\tYes\tNo\t04",
            b"193\tMaybe\tNo\t04",
            "post-acute DRG column must be Yes or No",
        ),
        (
            b"193\tYes\tNo\t04",
            b"193\tYes\tNo\tX4",
            "The MDC must be PRE, two digits or blank",
        ),
        (b"193\tYes\tNo\t04", b"192\tYes\tNo\t04", "DRG 192 appears twice"),
        (b"193\tYes\tNo\t04", b"19A\tYes\tNo\t04", "must hold a DRG number"),
    ],
    ids=["weight", "type", "yes-no", "mdc", "duplicate", "drg-number"],
)
def test_table5_malformed_row_is_refused_with_its_line(tmp_path, old, new, message):
    data = TABLE5.read_bytes()
    with pytest.raises(ImportFormatError) as err:
        DRG.parse(write(tmp_path, "t5.txt", replace_once(data, old, new)))
    assert message in err.value.message
    assert err.value.line == line_of(data, b"193\t")


def test_table5_without_its_header_row_is_refused(tmp_path):
    data = TABLE5.read_bytes()
    start = data.index(b"MS-DRG \t")
    end = data.index(b"\r\n", start) + 2
    path = write(tmp_path, "t5.txt", data[:start] + data[end:])
    assert not DRG.detect(head(path))
    with pytest.raises(ImportFormatError) as err:
        DRG.parse(path)
    assert "No header row starting with 'MS-DRG'" in err.value.message


def test_table5_drg_row_after_a_blank_row_is_refused(tmp_path):
    data = TABLE5.read_bytes()
    blank = b"\t" * 9 + b"\r\n"
    path = write(
        tmp_path, "t5.txt", replace_once(data, b"194\tYes", blank + b"194\tYes")
    )
    with pytest.raises(ImportFormatError) as err:
        DRG.parse(path)
    assert "Blank line" in err.value.message
    assert err.value.line == line_of(data, b"194\t")


def test_table5_footnotes_after_the_table_are_skipped_with_a_warning(tmp_path):
    data = (
        TABLE5.read_bytes() + b"* Footnote: weights are rounded.\t\t\t\t\t\t\t\t\t\r\n"
    )
    result = DRG.parse(write(tmp_path, "t5.txt", data))
    assert len(result.drg_weights) == 45
    assert any("footnotes" in w for w in result.warnings)


# --------------------------------------------------------------------------- NCCI PTP


def test_ptp_practitioner_variant_version_and_count(ptp_practitioner):
    result = ptp_practitioner
    assert (result.system, result.format) == ("ncci_ptp", "ncci_ptp")
    assert (result.variant, result.version) == ("practitioner", "31.2r0")
    assert len(result.ptp_edits) == 18
    assert result.warnings == []
    assert result.ptp_edits[0].line == 4


def test_ptp_edit_fields_in_force_deleted_and_before_1996(ptp_practitioner):
    edits = {(e.column1, e.column2, e.effective): e for e in ptp_practitioner.ptp_edits}
    in_force = edits["11042", "97597", dt.date(2013, 1, 1)]
    assert (
        in_force.deletion,
        in_force.modifier_indicator,
        in_force.existed_before_1996,
    ) == (None, "1", False)
    assert in_force.rationale == "Mutually exclusive procedures"
    deleted = edits["27447", "20700", dt.date(2017, 1, 1)]
    assert (deleted.deletion, deleted.modifier_indicator) == (dt.date(2019, 1, 1), "0")
    retroactive = edits["29881", "29880", dt.date(2012, 1, 1)]
    assert (retroactive.deletion, retroactive.modifier_indicator) == (
        dt.date(2012, 1, 1),
        "9",
    )
    old = edits["36415", "36416", dt.date(1996, 1, 1)]
    assert old.existed_before_1996 is True
    assert {e.modifier_indicator for e in ptp_practitioner.ptp_edits} == {"0", "1", "9"}


def test_ptp_same_pair_deleted_and_added_again_is_two_edits(ptp_practitioner):
    pair = [
        e
        for e in ptp_practitioner.ptp_edits
        if (e.column1, e.column2) == ("97110", "97530")
    ]
    assert [(e.effective, e.deletion, e.modifier_indicator) for e in pair] == [
        (dt.date(2020, 1, 1), dt.date(2021, 1, 1), "0"),
        (dt.date(2021, 1, 1), None, "1"),
    ]


def test_ptp_reads_hcpcs_level_ii_and_category_iii_codes(ptp_practitioner):
    codes = {e.column1 for e in ptp_practitioner.ptp_edits} | {
        e.column2 for e in ptp_practitioner.ptp_edits
    }
    assert {"0213T", "G0101", "G0439", "J1885"} <= codes


def test_ptp_hospital_file_with_a_header_over_four_lines(ptp_hospital):
    assert ptp_hospital.variant == "hospital"
    assert len(ptp_hospital.ptp_edits) == 10
    assert ptp_hospital.ptp_edits[0].line == 7
    assert ptp_hospital.version == ""
    assert any("does not state its version" in w for w in ptp_hospital.warnings)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            b"97597\t\t20130101\t*\t1\t",
            b"97597\t\t20130231\t*\t1\t",
            "effective date 20130231 is not a calendar date",
        ),
        (
            b"97597\t\t20130101\t*\t1\t",
            b"97597\t\t2013-01-01\t*\t1\t",
            "must be a date written YYYYMMDD",
        ),
        (
            b"97597\t\t20130101\t*\t1\t",
            b"97597\t\t20130101\t-\t1\t",
            "deletion date (or '*')",
        ),
        (
            b"97597\t\t20130101\t*\t1\t",
            b"97597\t\t20130101\t20120101\t1\t",
            "before the effective date",
        ),
        (
            b"97597\t\t20130101\t*\t1\t",
            b"97597\t\t20130101\t*\t2\t",
            "modifier indicator must be 0, 1 or 9, found '2'",
        ),
        (
            b"11042\t97597\t\t",
            b"1104\t97597\t\t",
            "Column 1 code '1104' is not a CPT/HCPCS code",
        ),
        (
            b"11042\t97597\t\t",
            b"11042\t97597.\t\t",
            "Column 2 code '97597.' is not a CPT/HCPCS code",
        ),
        (
            b"11042\t97597\t\t",
            b"11042\t97597\tY\t",
            "prior-to-1996 column must be '*' or empty",
        ),
        (
            b"11042\t97597\t\t20130101\t*\t1\tMutually exclusive procedures\r\n",
            b"11042\t97597\t\t20130101\r\n",
            "has 4 fields",
        ),
    ],
    ids=[
        "date",
        "date-format",
        "deletion",
        "deletion-before",
        "indicator",
        "code1",
        "code2",
        "pre-1996",
        "short",
    ],
)
def test_ptp_malformed_edit_is_refused_with_its_line(tmp_path, old, new, message):
    data = PTP_PRACTITIONER.read_bytes()
    with pytest.raises(ImportFormatError) as err:
        PTP.parse(write(tmp_path, "ptp.txt", replace_once(data, old, new)))
    assert message in err.value.message
    assert err.value.line == line_of(data, b"11042\t97597\t")


def test_ptp_that_does_not_say_practitioner_or_hospital_is_refused(tmp_path):
    data = replace_once(
        PTP_PRACTITIONER.read_bytes(), b"Practitioner PTP Edits v312r0\r\n", b""
    )
    with pytest.raises(ImportFormatError) as err:
        PTP.parse(write(tmp_path, "ptp.txt", data))
    assert "does not say whether it holds practitioner or hospital" in err.value.message
    assert "'Practitioner PTP Edits' or 'Hospital PTP Edits'" in err.value.message


def test_ptp_header_with_columns_out_of_order_is_refused(tmp_path):
    data = replace_once(
        PTP_PRACTITIONER.read_bytes(),
        b"\tEffective Date\tDeletion Date *=no data\t",
        b"\tDeletion Date *=no data\tEffective Date\t",
    )
    with pytest.raises(ImportFormatError) as err:
        PTP.parse(write(tmp_path, "ptp.txt", data))
    assert "Header column 4 should be 'Effective Date'" in err.value.message
    assert err.value.line == 3


def test_ptp_blank_line_between_edits_is_refused(tmp_path):
    data = PTP_PRACTITIONER.read_bytes()
    path = write(
        tmp_path,
        "ptp.txt",
        replace_once(data, b"\r\n11042\t97598", b"\r\n\r\n11042\t97598"),
    )
    with pytest.raises(ImportFormatError) as err:
        PTP.parse(path)
    assert "Blank line" in err.value.message
    assert err.value.line == line_of(data, b"11042\t97598")


def test_ptp_indicator_9_not_deleted_back_to_its_start_gives_a_warning(tmp_path):
    data = replace_once(
        PTP_PRACTITIONER.read_bytes(),
        b"97597\t\t20130101\t*\t1\t",
        b"97597\t\t20130101\t*\t9\t",
    )
    result = PTP.parse(write(tmp_path, "ptp.txt", data))
    assert any("11042/97597" in w and "indicator 9" in w for w in result.warnings)


def test_ptp_reports_progress_up_to_the_file_size():
    seen = []
    PTP.parse(PTP_PRACTITIONER, progress=lambda done, total: seen.append((done, total)))
    size = PTP_PRACTITIONER.stat().st_size
    assert seen[-1] == (size, size)


# --------------------------------------------------------------------------- MUE


@pytest.mark.parametrize(
    ("path", "variant", "version", "count"),
    [
        (MUE_PRACTITIONER, "practitioner", "2026-01-01", 15),
        (MUE_FACILITY, "facility", "2026-04-01", 9),
        (MUE_DME, "dme", "", 8),
    ],
    ids=["practitioner", "facility", "dme"],
)
def test_mue_variant_from_the_value_column_and_version_from_the_preamble(
    path, variant, version, count
):
    result = MUE.parse(path)
    assert (result.system, result.format) == ("mue", "mue")
    assert (result.variant, result.version, len(result.mues)) == (
        variant,
        version,
        count,
    )
    assert bool(result.warnings) == (version == "")


def test_mue_rows_and_each_adjudication_indicator():
    result = MUE.parse(MUE_PRACTITIONER)
    by_code = {m.code: m for m in result.mues}
    assert (by_code["99213"].value, by_code["99213"].adjudication_indicator) == (2, 3)
    assert by_code["99213"].adjudication_text == "Date of Service Edit: Clinical"
    assert by_code["11042"].adjudication_indicator == 1
    assert by_code["11042"].adjudication_text == "Line Edit"
    assert by_code["0001U"].adjudication_indicator == 2
    assert by_code["0001U"].rationale == "Code Descriptor / CPT Instruction"
    assert by_code["A0425"].value == 250
    assert by_code["J9999"].value == 0
    assert {m.adjudication_indicator for m in result.mues} == {1, 2, 3}
    # the header's code cell holds a line break: the first row is physical line 6
    assert result.mues[0].line == 6


def test_mue_bare_indicator_digit_gets_the_cms_words(tmp_path):
    data = replace_once(MUE_DME.read_bytes(), b"L3908,2,1 Line Edit,", b"L3908,2,1,")
    result = MUE.parse(write(tmp_path, "m.csv", data))
    row = next(m for m in result.mues if m.code == "L3908")
    assert (row.adjudication_indicator, row.adjudication_text) == (1, "Line Edit")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            b"99213,2,3 Date",
            b"99213,2,4 Date",
            "must be 1 (Line Edit), 2 (Date of Service Edit: Policy) or 3",
        ),
        (
            b"99213,2,3 Date of Service Edit: Clinical",
            b"99213,2,3 Line Edit",
            "Adjudication indicator 3 is 'Date of Service Edit: Clinical'",
        ),
        (b"99213,2,3", b"99213,2.5,3", "whole number of units, found '2.5'"),
        (b"99213,2,3", b"9921,2,3", "'9921' is not a CPT/HCPCS code"),
        (b"99213,2,3", b"96372,2,3", "Code 96372 appears twice"),
        (
            b"99213,2,3 Date of Service Edit: Clinical,Clinical: Data",
            b"99213,2,3 Date of Service Edit: Clinical,Clinical: Data,extra",
            "the header names 4",
        ),
    ],
    ids=["mai-digit", "mai-words", "value", "code", "duplicate", "extra-field"],
)
def test_mue_malformed_row_is_refused_with_its_line(tmp_path, old, new, message):
    data = MUE_PRACTITIONER.read_bytes()
    with pytest.raises(ImportFormatError) as err:
        MUE.parse(write(tmp_path, "m.csv", replace_once(data, old, new)))
    assert message in err.value.message
    assert err.value.line == line_of(data, b"99213,")


def test_mue_value_column_naming_no_setting_is_refused(tmp_path):
    data = replace_once(
        MUE_DME.read_bytes(),
        b"DME Supplier Services MUE Values",
        b"Other Services MUE Values",
    )
    with pytest.raises(ImportFormatError) as err:
        MUE.parse(write(tmp_path, "m.csv", data))
    assert "does not say whose table this is" in err.value.message
    assert err.value.line == line_of(data, b'"HCPCS/')


def test_mue_table_without_adjudication_indicators_is_refused(tmp_path):
    data = replace_once(MUE_DME.read_bytes(), b"MUE Adjudication Indicator", b"Notes")
    with pytest.raises(ImportFormatError) as err:
        MUE.parse(write(tmp_path, "m.csv", data))
    assert "MUE Adjudication Indicator" in err.value.message


# --------------------------------------------------------------------------- ICD-10-CM index XML


def test_index_kinds_versions_and_term_counts(drug, neoplasm, eindex):
    for result, kind, count in (
        (drug, "drug", 38),
        (neoplasm, "neoplasm", 80),
        (eindex, "external_cause", 97),
    ):
        assert (result.system, result.format, result.version) == (
            "icd10cm",
            "icd10cm_index",
            "2025",
        )
        assert result.variant == kind
        assert {t.index for t in result.index_terms} == {kind}
        assert len(result.index_terms) == count
        assert result.warnings == []


def test_drug_table_acetaminophen_adverse_effect(drug):
    term = term_at(drug, "Acetaminophen")
    codes = dict(term.codes)
    # The XML writes T39.1X5 without the trailing "-" the printed table implies:
    # the code is stored as written (the 7th character comes from the tabular).
    assert codes["Adverse effect"] == "T391X5"
    assert codes["Poisoning Accidental (unintentional)"] == "T391X1"
    assert codes["Underdosing"] == "T391X6"
    assert [c for c, _ in term.codes] == [
        "Poisoning Accidental (unintentional)",
        "Poisoning Intentional self-harm",
        "Poisoning Assault",
        "Poisoning Undetermined",
        "Adverse effect",
        "Underdosing",
    ]


def test_drug_table_skips_empty_cells_and_keeps_see_references(drug):
    assert [c for c, _ in term_at(drug, "1-propanol").codes] == [
        "Poisoning Accidental (unintentional)",
        "Poisoning Intentional self-harm",
        "Poisoning Assault",
        "Poisoning Undetermined",
    ]
    adrenalin = term_at(drug, "Adrenalin")
    assert (adrenalin.codes, adrenalin.see) == ((), "Adrenaline")


def test_drug_table_paths_repeat_and_the_nemod_tells_them_apart(drug):
    carbamates = terms_at(drug, "Carbamate")
    assert [t.nemod for t in carbamates] == ["(insecticide)", "(sedative)"]
    assert dict(carbamates[1].codes)["Adverse effect"] == "T426X5"
    twice = terms_at(drug, "2,4,5-T")
    assert [dict(t.codes)["Poisoning Accidental (unintentional)"] for t in twice] == [
        "T601X1",
        "T603X1",
    ]


def test_drug_table_subterms_follow_their_main_term(drug):
    paths = [t.path for t in drug.index_terms]
    insulin = paths.index(("Insulin",))
    assert all(
        p[0] == "Insulin" and len(p) > 1 for p in paths[insulin + 1 : insulin + 4]
    )


def test_neoplasm_table_lung_malignant_primary(neoplasm):
    lung = term_at(neoplasm, "Neoplasm, neoplastic", "lung")
    codes = dict(lung.codes)
    assert codes["Malignant Primary"] == "C349-"
    assert codes["Malignant Secondary"] == "C780-"
    assert codes["Uncertain Behavior"] == "D381"
    azygos = term_at(neoplasm, "Neoplasm, neoplastic", "lung", "azygos lobe")
    assert dict(azygos.codes)["Malignant Primary"] == "C341-"


def test_neoplasm_table_main_term_codes_and_dot_dash_codes(neoplasm):
    main = term_at(neoplasm, "Neoplasm, neoplastic")
    assert main.codes[0] == ("Malignant Primary", "C801")
    assert neoplasm.index_terms[0] is main
    breast = term_at(neoplasm, "Neoplasm, neoplastic", "breast")
    assert dict(breast.codes)["Ca in situ"] == "D05-"  # written "D05.-"
    assert breast.nemod == "(connective tissue) (glandular tissue) (soft parts)"


def test_neoplasm_table_single_dash_cells_are_empty_and_cross_references_kept(neoplasm):
    colon = term_at(neoplasm, "Neoplasm, neoplastic", "colon")
    assert "Ca in situ" not in dict(colon.codes)  # written "-"
    assert colon.see_also == "Neoplasm, intestine, large"
    assert (
        term_at(neoplasm, "Neoplasm, neoplastic", "bowel").see == "Neoplasm, intestine"
    )


def test_neoplasm_table_manif_words_become_a_nonessential_modifier(neoplasm):
    book_leaf = term_at(neoplasm, "Neoplasm, neoplastic", "book-leaf")
    assert book_leaf.nemod == "(mouth) (ventral surface of tongue and floor of mouth)"
    assert dict(book_leaf.codes)["Malignant Primary"] == "C0689"


def test_external_cause_index_codes_nemod_and_cross_references(eindex):
    abandonment = term_at(eindex, "Abandonment NEC")
    assert abandonment.codes == (("code", "X58"),)
    assert (
        abandonment.nemod
        == "(causing exposure to weather conditions) (with intent to injure or kill)"
    )
    assert term_at(eindex, "Lightning").codes == (("see_subcategory", "T750"),)
    assert term_at(eindex, "Strangulation").codes == (("see_category", "T71"),)
    assert term_at(eindex, "Fire").see == "Exposure, fire"
    assert (
        term_at(eindex, "Campfire").see_also
        == "Exposure, fire, controlled, not in building"
    )
    deep = [t for t in eindex.index_terms if t.path[0] == "Bite, bitten by"]
    assert max(len(t.path) for t in deep) >= 3
    assert all(
        t.path[: len(t.path) - 1] in {d.path for d in deep}
        for t in deep
        if len(t.path) > 1
    )


DISEASE_INDEX = b"""<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.index>
  <version>2025</version>
  <title>ICD-10-CM INDEX TO DISEASES and INJURIES</title>
  <letter>
    <title>A</title>
    <mainTerm>
      <title>Amyloid heart<nemod>(disease)</nemod></title>
      <code>E85.4</code>
      <manif>I43</manif>
    </mainTerm>
    <mainTerm>
      <title>Anemia</title>
      <code>D64.9</code>
      <term level="1">
        <title>aplastic</title>
        <seeAlso>Anemia, aplastic</seeAlso>
        <code>D61.9</code>
        <term level="2">
          <title>drug-induced</title>
          <code>D61.1</code>
        </term>
      </term>
      <term level="1">
        <title>in <new>chronic</new><old>long-term</old> kidney disease</title>
        <code>D63.1</code>
      </term>
    </mainTerm>
  </letter>
</ICD10CM.index>
"""


def test_index_to_diseases_is_read_by_the_schema(tmp_path):
    path = write(tmp_path, "index.xml", DISEASE_INDEX)
    assert INDEX.detect(head(path))
    result = INDEX.parse(path)
    assert result.variant == "disease"
    assert [t.path for t in result.index_terms] == [
        ("Amyloid heart",),
        ("Anemia",),
        ("Anemia", "aplastic"),
        ("Anemia", "aplastic", "drug-induced"),
        ("Anemia", "in chronic kidney disease"),
    ]
    assert result.index_terms[0].codes == (("code", "E854"), ("manif", "I43"))
    assert result.index_terms[0].nemod == "(disease)"
    assert result.index_terms[2].see_also == "Anemia, aplastic"
    assert {t.index for t in result.index_terms} == {"disease"}


def test_index_addenda_file_is_refused(tmp_path):
    data = replace_once(
        DISEASE_INDEX, b"<ICD10CM.index>", b'<ICD10CM.index isAddenda="true">'
    )
    with pytest.raises(ImportFormatError) as err:
        INDEX.parse(write(tmp_path, "a.xml", data))
    assert "addenda" in err.value.message
    assert err.value.line == 2


def test_index_that_names_no_kind_is_refused(tmp_path):
    data = replace_once(
        DISEASE_INDEX,
        b"  <title>ICD-10-CM INDEX TO DISEASES and INJURIES</title>\n",
        b"",
    )
    with pytest.raises(ImportFormatError) as err:
        INDEX.parse(write(tmp_path, "a.xml", data))
    assert "Cannot tell which ICD-10-CM index" in err.value.message
    assert (err.value.line, err.value.element) == (4, "letter")


def test_index_cell_that_is_not_a_code_is_refused_with_line_and_element(tmp_path):
    data = DRUG.read_bytes()
    cell = data.index(
        b'<cell col="6">T39.1X5</cell>', data.index(b"<title>Acetaminophen</title>")
    )
    bad = data[:cell] + b'<cell col="6">T39.1X5 or T39.1X6</cell>' + data[cell + 28 :]
    with pytest.raises(ImportFormatError) as err:
        INDEX.parse(write(tmp_path, "d.xml", bad))
    assert "Cell 6 of 'Acetaminophen' holds 'T39.1X5 or T39.1X6'" in err.value.message
    assert (err.value.line, err.value.element) == (data[:cell].count(b"\n") + 1, "cell")


def test_index_term_level_that_is_not_its_depth_is_refused(tmp_path):
    data = NEOPLASM.read_bytes()
    needle = b'<term level="2">\n          <title>azygos lobe</title>'
    bad = replace_once(data, needle, needle.replace(b'level="2"', b'level="3"'))
    with pytest.raises(ImportFormatError) as err:
        INDEX.parse(write(tmp_path, "n.xml", bad))
    assert "at depth 2 has level '3'" in err.value.message
    assert "Neoplasm, neoplastic > lung" in err.value.message
    assert err.value.line == line_of(data, needle)


def test_index_truncated_file_is_refused_with_its_last_line(tmp_path):
    data = EINDEX.read_bytes()
    cut = data[: len(data) // 2]
    with pytest.raises(ImportFormatError) as err:
        INDEX.parse(write(tmp_path, "e.xml", cut))
    assert "incomplete" in err.value.message
    assert err.value.line == cut.count(b"\n") + 1


def test_index_billion_laughs_doctype_is_refused_without_expansion(tmp_path):
    lol = (
        b'<?xml version="1.0"?>\n'
        b"<!DOCTYPE lolz [\n"
        b' <!ENTITY lol "lol">\n'
        b' <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\n'
        b"]>\n"
        b"<ICD10CM.index><version>&lol1;</version></ICD10CM.index>\n"
    )
    path = write(tmp_path, "lol.xml", lol)
    assert INDEX.detect(head(path))
    with pytest.raises(ImportFormatError) as err:
        INDEX.parse(path)
    assert "entity 'lol'" in err.value.message
    assert "refused" in err.value.message
    assert err.value.line == 3


def test_index_with_another_root_element_is_refused(tmp_path):
    with pytest.raises(ImportFormatError) as err:
        INDEX.parse(
            write(
                tmp_path,
                "t.xml",
                b'<?xml version="1.0"?>\n<ICD10CM.tabular><version>2026</version></ICD10CM.tabular>\n',
            )
        )
    assert "not an ICD-10-CM index file" in err.value.message
    assert (err.value.line, err.value.element) == (2, "ICD10CM.tabular")


def test_index_reports_progress_up_to_the_file_size():
    seen = []
    INDEX.parse(NEOPLASM, progress=lambda done, total: seen.append((done, total)))
    size = NEOPLASM.stat().st_size
    assert seen[-1] == (size, size)


# --------------------------------------------------------------------------- the full official files


@pytest.mark.slow
def test_full_table5_has_772_drgs_and_drg_193_weighs_1_3144():
    path = (
        DATA
        / "ms-drg"
        / "fy2026_v43_ipps_tables"
        / "table5_drg_weights_fy2026_final.txt"
    )
    if not path.exists():
        pytest.skip("the official files are not available")
    result = DRG.parse(path)
    assert (result.version, len(result.drg_weights)) == ("2026", 772)
    assert next(w for w in result.drg_weights if w.drg == 193).weight == Decimal(
        "1.3144"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "kind", "count"),
    [
        ("icd-10-cm-drug-2025.xml", "drug", 7428),
        ("icd-10-cm-neoplasm-2025.xml", "neoplasm", 1939),
        ("icd-10-cm-eindex-2025.xml", "external_cause", 8064),
    ],
)
def test_full_index_files_term_counts(name, kind, count):
    path = DATA / "icd10cm" / "fy2025_april" / name
    if not path.exists():
        pytest.skip("the official files are not available")
    result = INDEX.parse(path)
    assert (result.variant, len(result.index_terms), result.warnings) == (
        kind,
        count,
        [],
    )
    if kind == "drug":
        assert (
            dict(term_at(result, "Acetaminophen").codes)["Adverse effect"] == "T391X5"
        )
    if kind == "neoplasm":
        assert (
            dict(term_at(result, "Neoplasm, neoplastic", "lung").codes)[
                "Malignant Primary"
            ]
            == "C349-"
        )
