"""HCPCS Level II record-file and CPT-file importers on small fixtures.

tests/fixtures/hcpcs/ is cut from the real CMS 2019 and 2020 annual files (and
the 2020 change report) by tests/fixtures/cut_hcpcs.py; tests/fixtures/cpt/ is
hand-written with real CPT code numbers and invented descriptors (CPT text is
AMA copyright). Malformed variants are made here in tmp_path. No database.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from codesets.importers import all_importers, detect_importer
from codesets.importers.base import HEAD_BYTES, ImportFormatError, ParseResult
from codesets.importers.cpt_file import IMPORTER as CPT
from codesets.importers.hcpcs_record import IMPORTER as HCPCS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HCPCS_2019 = FIXTURES / "hcpcs" / "HCPC2019_CONTR_ANWEB_cut.txt"
HCPCS_2020 = FIXTURES / "hcpcs" / "HCPC2020_ANWEB_w_disclaimer_cut.txt"
REPORT_2020 = FIXTURES / "hcpcs" / "Changes_by_ActionCode_2020_cut.prn"
CPT_TAB = FIXTURES / "cpt" / "LONGULT_madeup.txt"
CPT_LINK = FIXTURES / "cpt" / "cpt_link_madeup.txt"
CPT_CSV = FIXTURES / "cpt" / "cpt_simple.csv"

OURS = {HCPCS_2019: HCPCS, HCPCS_2020: HCPCS, CPT_TAB: CPT, CPT_LINK: CPT, CPT_CSV: CPT}
# Every other fixture of the project (ICD-10-CM, ICD-10-PCS and whatever other
# formats have fixtures): none may be claimed by the HCPCS or CPT importer.
OTHER_FIXTURES = sorted(
    p
    for folder in FIXTURES.iterdir()
    if folder.is_dir() and folder.name not in ("hcpcs", "cpt")
    for p in folder.iterdir()
    if p.is_file()
    and p.suffix not in (".py", ".md")
    # The case book's own HCPCS and CPT cuts are what those importers must claim.
    and p.name not in ("HCPC2020_ANWEB_cut.txt", "cpt_madeup.csv")
)


def head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\r\n")


def line_no(lines: list[bytes], prefix: bytes) -> int:
    """1-based number of the first line starting with ``prefix``."""
    return next(i for i, line in enumerate(lines) if line.startswith(prefix)) + 1


def hcpcs_variant(
    tmp_path: Path, change, source: Path = HCPCS_2020, name: str = "hcpcs.txt"
) -> Path:
    return write(tmp_path, name, b"\r\n".join(change(lines_of(source))))


def put(line: bytes, column: int, value: bytes) -> bytes:
    """``line`` with ``value`` written from 1-based ``column``."""
    return line[: column - 1] + value + line[column - 1 + len(value) :]


def by_code(result: ParseResult) -> dict:
    return {c.code: c for c in result.codes}


def modifiers_of(result: ParseResult) -> dict:
    return {m[0]: m for m in result.modifiers}


def valid_on(result: ParseResult, day: dt.date) -> set[str]:
    dated = [(c.code, c.valid_from, c.valid_to) for c in result.codes]
    dated += [(m[0], m[3], m[4]) for m in result.modifiers]
    return {
        k for k, start, end in dated if start <= day and (end is None or day <= end)
    }


@pytest.fixture(scope="module")
def h2019() -> ParseResult:
    return HCPCS.parse(HCPCS_2019)


@pytest.fixture(scope="module")
def h2020() -> ParseResult:
    return HCPCS.parse(HCPCS_2020)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize("path", list(OURS), ids=lambda p: p.name)
def test_each_fixture_is_claimed_by_its_importer_only(path):
    claimed = [i.name for i in all_importers() if i.detect(head(path))]
    assert claimed == [OURS[path].name]
    assert detect_importer(path).name == OURS[path].name
    assert detect_importer(path, system=OURS[path].system).name == OURS[path].name


@pytest.mark.parametrize(
    "path", OTHER_FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_icd10cm_pcs_and_other_fixtures_are_not_claimed_by_hcpcs_or_cpt(path):
    assert not HCPCS.detect(head(path))
    assert not CPT.detect(head(path))


def test_the_icd_fixtures_are_among_those_checked():
    folders = {p.parent.name for p in OTHER_FIXTURES}
    assert {"icd10cm", "icd10pcs"} <= folders


def test_hcpcs_is_detected_with_or_without_the_disclaimer():
    lines = lines_of(HCPCS_2020)
    first = line_no(lines, b"   A1")
    assert first == 10  # 7 disclaimer lines and 2 blank lines come first
    assert HCPCS.detect(b"\r\n".join(lines[first - 1 :]))
    # A 64 KB head of a real file holds only modifier records (record id 7/8).
    modifiers_only = [line for line in lines[first - 1 :] if line[10:11] in b"78"]
    assert HCPCS.detect(b"\r\n".join(lines[: first - 1] + modifiers_only) + b"\r\n")


def test_hcpcs_detection_refuses_other_layouts():
    lines = lines_of(HCPCS_2020)
    first = line_no(lines, b"   A1")
    record = lines[first - 1]
    assert not HCPCS.detect(put(record, 11, b"5"))  # record id 5 does not exist
    assert not HCPCS.detect(put(record, 293, b"X"))  # no such action code
    assert not HCPCS.detect(record[:200])  # too short for a first line
    assert not HCPCS.detect(
        head(REPORT_2020)
    )  # CMS's change report is not the record file
    assert not HCPCS.detect(b"Just a disclaimer\r\n\r\nand nothing else\r\n")


def test_cpt_detection_refuses_hcpcs_shaped_codes_and_edit_tables():
    assert not CPT.detect(b"code,short_title,long_title\nA0021,Short,Long\n")
    assert not CPT.detect(b"A0021\tAmbulance made-up text\r\n")
    assert not CPT.detect(
        b"code,short_title,long_title\n"
    )  # a header alone says nothing
    # NCCI PTP rows are tab-separated CPT codes, MUE rows CSV with CPT codes.
    assert not CPT.detect(
        b"0001U\t36415\t\t20160401\t*\t0\tMisuse of column two code\r\n"
    )
    assert not CPT.detect(
        b"HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\r\n"
        b"0001U,1,2 Date of Service Edit: Policy,Code Descriptor\r\n"
    )
    assert CPT.detect(b"HCPCS,Long Description\r\n99213,Made-up visit\r\n")


# --------------------------------------------------------------------------- HCPCS


def test_hcpcs_2020_counts_version_and_system(h2020):
    assert (h2020.system, h2020.format, h2020.version) == (
        "hcpcs",
        "hcpcs_record",
        "2020",
    )
    assert len(h2020.codes) == 87
    assert len(h2020.modifiers) == 25
    assert len({c.code for c in h2020.codes}) == 87
    assert all(c.kind == "code" and c.billable and c.parent == "" for c in h2020.codes)
    # The year comes from the disclaimer ("... CMS' 2020 HCPCS Update ...").
    assert not any("does not name its year" in w for w in h2020.warnings)


def test_hcpcs_2019_year_is_taken_from_the_actions_of_the_year(h2019):
    assert h2019.version == "2019"
    assert (len(h2019.codes), len(h2019.modifiers)) == (66, 22)
    assert (
        "The file does not name its year; 2019 is the year of its actions."
        in h2019.warnings
    )


def test_hcpcs_continuation_lines_are_joined_into_the_long_description(h2020, h2019):
    codes = by_code(h2020)
    a0090 = codes["A0090"]
    assert a0090.short_title == "Interest escort in non er"
    assert a0090.long_title == (
        "Non-emergency transportation, per mile - vehicle provided by individual "
        "(family member, self, neighbor) with vested interest"
    )
    assert codes["G2001"].long_title == (
        "Brief (20 minutes) in-home visit for a new patient post-discharge. for use only in a "
        "medicare-approved cmmi model. (services must be furnished within a beneficiary's home, "
        "domiciliary, rest home, assisted living and/or nursing facility within 90 days following "
        "discharge from an inpatient facility and no more than 9 times.)"
    )
    assert (
        codes["A0021"].long_title
        == "Ambulance service, outside state per mile, transport (medicaid only)"
    )
    # 2019 pads continuation lines to 320 (one is 316 wide), 2020 cuts them to 91: same text.
    g8891 = by_code(h2019)["G8891"]
    assert g8891.long_title == (
        "Documentation of medical reason(s) for most recent ldl-c not under control (e.g., patients "
        "with palliative goals for whom treatment of hypertension with standard treatment goals is "
        "not clinically appropriate)"
    )
    assert by_code(h2019)["L0633"].long_title == codes["L0633"].long_title
    assert (
        "  " not in codes["L0633"].long_title and len(codes["L0633"].long_title) > 400
    )


def test_hcpcs_administrative_fields_go_to_extra(h2020):
    codes = by_code(h2020)
    assert dict(codes["J0129"].extra) == {
        "action_code": "N",
        "action_effective": "2012-01-01",
        "pricing": "51",
        "multiple_pricing": "A",
        "coverage": "C",
        "asc_group": "YY",
        "asc_effective": "2008-01-01",
        "betos": "O1E",
        "type_of_service": "1,P",
        "anesthesia_base_units": "0",
    }
    assert codes["J0129"].extra[0] == ("action_code", "N")
    assert dict(codes["E0100"].extra)["cim"] == "60-3,60-9"
    assert dict(codes["E0100"].extra)["type_of_service"] == "A,P,R"
    assert dict(codes["G0101"].extra)["processing_note"] == "0064"
    # A4590 has no action effective date in the 2020 file.
    assert "action_effective" not in dict(codes["A4590"].extra)


def test_hcpcs_dates_give_the_validity_of_each_code(h2020):
    codes = by_code(h2020)
    c9407 = codes["C9407"]  # terminated 2019-12-31: discontinued for 2020
    assert (c9407.valid_from, c9407.valid_to) == (
        dt.date(2019, 1, 1),
        dt.date(2019, 12, 31),
    )
    assert dict(c9407.extra)["action_code"] == "D"
    assert dict(c9407.extra)["action_effective"] == "2020-01-01"
    c9035 = codes["C9035"]  # terminated in the 2019 fourth-quarter update
    assert (c9035.valid_from, c9035.valid_to) == (
        dt.date(2019, 1, 1),
        dt.date(2019, 9, 30),
    )
    a4226 = codes["A4226"]  # added 2020-01-01
    assert (a4226.valid_from, a4226.valid_to) == (dt.date(2020, 1, 1), None)
    assert dict(a4226.extra)["action_code"] == "A"
    on_2020 = valid_on(h2020, dt.date(2020, 1, 1))
    on_2019_end = valid_on(h2020, dt.date(2019, 12, 31))
    assert "C9407" not in on_2020 and "C9407" in on_2019_end
    assert "A4226" in on_2020 and "A4226" not in on_2019_end
    assert "C9035" not in on_2019_end
    assert len(on_2020) == 92


def test_hcpcs_modifiers_are_listed_with_their_dates(h2020):
    mods = modifiers_of(h2020)
    assert mods["AD"] == (
        "AD",
        "Md supervision, >4 anes proc",
        "Medical supervision by a physician: more than four concurrent anesthesia procedures",
        dt.date(1984, 1, 1),
        None,
    )
    assert mods["GD"][3:] == (dt.date(2008, 1, 1), dt.date(2019, 12, 31))
    assert mods["MA"][3:] == (dt.date(2020, 1, 1), None)
    assert mods["TC"][2].startswith("Technical component; under certain circumstances")
    assert [m[0] for m in h2020.modifiers][:3] == ["A1", "A2", "A3"]
    assert "AD" not in by_code(h2020)


def read_change_report(path: Path) -> dict[str, str]:
    lines = path.read_bytes().decode("cp1252").splitlines()
    header = next(i for i, line in enumerate(lines) if "SHORT DESCRIPTION" in line)
    short_col = lines[header].index("SHORT DESCRIPTION")
    report = {}
    for line in lines[header + 1 :]:
        match = re.match(r"\s*(\S+)", line)
        report[match.group(1)] = line[match.end() : short_col].strip()
    return report


def test_hcpcs_2019_to_2020_adds_and_deletes_match_the_cms_change_report(h2019, h2020):
    before = valid_on(h2019, dt.date(2019, 1, 1))
    after = valid_on(h2020, dt.date(2020, 1, 1))
    added, deleted = after - before, before - after
    assert (len(before), len(after)) == (81, 92)
    assert deleted == {
        "C9034", "C9035", "C9036", "C9037", "C9038", "C9039", "C9407", "C9408", "C9447", "C9746", "GD",
    }  # fmt: skip
    assert len(added) == 22 and {"A4226", "G2001", "C1890", "MA", "MB", "ME"} <= added

    report = read_change_report(REPORT_2020)
    # The report has one line per code and modifier of the 2020 file.
    assert set(report) == {c.code for c in h2020.codes} | set(modifiers_of(h2020))
    actions = {c.code: dict(c.extra)["action_code"] for c in h2020.codes}
    report_add = {k for k, v in report.items() if v == "ADD"}
    report_del = {k for k, v in report.items() if v == "Discontinued"}
    assert report_add - set(modifiers_of(h2020)) == {
        k for k, a in actions.items() if a == "A"
    }
    assert report_del - set(modifiers_of(h2020)) == {
        k for k, a in actions.items() if a == "D"
    }
    # Where dates and the report differ, the 2019 annual file is incomplete or the
    # code lived only within 2019 (see bench/check_hcpcs_changes.py):
    assert added - report_add == {
        "C1890",
        "G2001",
    }  # dated 2019-01-01, missing from the 2019 file
    assert report_add <= added
    assert report_del - deleted == {"C9040", "C9141"}  # added and ended within 2019
    assert deleted - report_del == {"C9034"}  # ended retroactively 2018-12-31, action N


def test_hcpcs_progress_reaches_the_total():
    calls = []
    HCPCS.parse(HCPCS_2020, progress=lambda done, total: calls.append((done, total)))
    size = HCPCS_2020.stat().st_size
    assert calls[-1] == (size, size)
    assert all(done <= total for done, total in calls)


def test_hcpcs_continuation_without_its_first_line_is_refused(tmp_path):
    lines = lines_of(HCPCS_2020)
    first = line_no(lines, b"G2001")
    path = hcpcs_variant(tmp_path, lambda ls: ls[: first - 1] + ls[first:])
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(path)
    assert (
        err.value.line == first
    )  # the continuation moved up into the removed line's place
    assert (
        "Continuation line (record id 4) of procedure G2001 without its first line"
        in err.value.message
    )


def test_hcpcs_continuation_of_another_code_is_refused(tmp_path):
    lines = lines_of(HCPCS_2020)
    target = line_no(lines, b"G2001") + 1
    path = hcpcs_variant(
        tmp_path,
        lambda ls: [*ls[: target - 1], b"G2002" + ls[target - 1][5:], *ls[target:]],
    )
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(path)
    assert err.value.line == target
    assert "of procedure G2002 without its first line" in err.value.message


def test_hcpcs_modifier_continuation_after_a_procedure_is_refused(tmp_path):
    lines = lines_of(HCPCS_2020)
    target = line_no(lines, b"   AD002008")
    bad = put(lines[target - 1], 11, b"4")
    path = hcpcs_variant(tmp_path, lambda ls: [*ls[: target - 1], bad, *ls[target:]])
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(path)
    assert err.value.line == target
    assert "procedure record (record id 4)" in err.value.message


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            269,
            b"20191340",
            "The code added date (columns 269-276) is not a real date: '20191340'.",
        ),
        (
            285,
            b"2019-12-",
            "The termination date (columns 285-292) must be a date YYYYMMDD, found '2019-12-'.",
        ),
        (269, b"        ", "The code added date (columns 269-276) is missing."),
        (
            277,
            b"20200230",
            "The action effective date (columns 277-284) is not a real date: '20200230'.",
        ),
    ],
    ids=["impossible-date", "not-digits", "missing-added", "february-30"],
)
def test_hcpcs_bad_dates_are_refused_with_their_line(tmp_path, column, value, message):
    lines = lines_of(HCPCS_2020)
    target = line_no(lines, b"A4226")
    path = hcpcs_variant(
        tmp_path,
        lambda ls: [
            put(x, column, value) if i == target - 1 else x for i, x in enumerate(ls)
        ],
    )
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(path)
    assert (err.value.message, err.value.line) == (message, target)


def test_hcpcs_wrong_record_id_is_refused(tmp_path):
    lines = lines_of(HCPCS_2020)
    target = line_no(lines, b"J0129")
    path = hcpcs_variant(
        tmp_path,
        lambda ls: [
            put(x, 11, b"5") if i == target - 1 else x for i, x in enumerate(ls)
        ],
    )
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(path)
    assert err.value.line == target
    assert err.value.message.startswith("Column 11 must hold the record id")
    assert "found '5'" in err.value.message


def test_hcpcs_other_malformed_records_are_refused(tmp_path):
    lines = lines_of(HCPCS_2020)
    j0129 = line_no(lines, b"J0129")

    def change(fn):
        change.n = getattr(change, "n", 0) + 1
        return hcpcs_variant(
            tmp_path,
            lambda ls: [fn(x) if i == j0129 - 1 else x for i, x in enumerate(ls)],
            name=f"hcpcs{change.n}.txt",
        )

    cases = [
        (change(lambda x: put(x, 293, b"X")), "Column 293 must hold the action code"),
        (
            change(lambda x: b"W0129" + x[5:]),
            "Columns 1-5 must hold a HCPCS Level II code",
        ),
        (
            change(lambda x: x + b"X"),
            "The line is 321 characters long; a HCPCS record has 320.",
        ),
        (
            change(lambda x: x[:250]),
            "The line is 250 characters long; the first line of a record has 320",
        ),
        (
            change(lambda x: put(x, 92, b" " * 28)),
            "The short description (columns 92-119) is missing.",
        ),
        (
            change(lambda x: put(x, 6, b"00A00")),
            "Columns 6-10 must hold the sequence number",
        ),
    ]
    for path, message in cases:
        with pytest.raises(ImportFormatError) as err:
            HCPCS.parse(path)
        assert err.value.line == j0129, message
        assert err.value.message.startswith(message)


def test_hcpcs_duplicate_code_and_inner_blank_line_are_refused(tmp_path):
    lines = lines_of(HCPCS_2020)
    j0129 = line_no(lines, b"J0129")
    dup = hcpcs_variant(tmp_path, lambda ls: [*ls[:j0129], ls[j0129 - 1], *ls[j0129:]])
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(dup)
    assert err.value.line == j0129 + 1
    assert err.value.message == f"Code J0129 appears twice (first on line {j0129})."
    blank = hcpcs_variant(
        tmp_path, lambda ls: [*ls[:j0129], b"", *ls[j0129:]], name="blank.txt"
    )
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(blank)
    assert err.value.line == j0129 + 1
    assert "Blank line" in err.value.message


def test_hcpcs_file_without_records_is_refused(tmp_path):
    path = write(tmp_path, "d.txt", b"***Disclaimers\r\n\r\nNothing follows.\r\n")
    with pytest.raises(ImportFormatError) as err:
        HCPCS.parse(path)
    assert err.value.line == 1
    assert "holds no HCPCS records" in err.value.message


# --------------------------------------------------------------------------- CPT


def test_cpt_ama_data_file_gives_one_descriptor_for_both_titles():
    result = CPT.parse(CPT_TAB)
    assert (result.system, result.format, result.variant, result.version) == (
        "cpt",
        "cpt_file",
        "ama_tab",
        "",
    )
    assert [c.code for c in result.codes] == [
        "99213",
        "99214",
        "44950",
        "44970",
        "0001U",
        "0075T",
        "1036F",
        "0002M",
    ]
    code = by_code(result)["0075T"]
    assert code.long_title == code.short_title
    assert (
        code.long_title
        == "Made-up descriptor for tests: category III emerging technology, vessel stent placement"
    )
    assert all(c.kind == "code" and c.billable and c.parent == "" for c in result.codes)
    assert any(
        "used as both the short and the long title" in w for w in result.warnings
    )


def test_cpt_link_table_reads_columns_by_name():
    result = CPT.parse(CPT_LINK)
    assert result.variant == "ama_link"
    assert len(result.codes) == 7
    code = by_code(result)["99214"]
    assert code.short_title == "MADE-UP OFFICE VISIT L4"
    assert (
        code.long_title
        == "Made-up descriptor for tests: office visit, established patient, level 4"
    )
    assert code.extra == (("concept_id", "9000002"),)
    assert result.warnings == []


def test_cpt_link_style_csv_with_other_header_names(tmp_path):
    path = write(
        tmp_path,
        "link.csv",
        b"\xef\xbb\xbfHCPCS,Short Description,LONG_DESCRIPTION,Extra\r\n"
        b'1036F,MADE-UP SHORT,"Made-up long, with a comma",x\r\n',
    )
    assert CPT.detect(head(path))
    result = CPT.parse(path)
    assert (result.variant, [c.code for c in result.codes]) == ("ama_link", ["1036F"])
    assert (result.codes[0].short_title, result.codes[0].long_title) == (
        "MADE-UP SHORT",
        "Made-up long, with a comma",
    )


def test_cpt_link_without_short_descriptor_uses_the_long_one(tmp_path):
    path = write(
        tmp_path, "l.txt", b"CPT Code\tDescriptor\n44950\tMade-up appendix text\n"
    )
    result = CPT.parse(path)
    assert (result.codes[0].short_title, result.codes[0].long_title) == (
        "Made-up appendix text",
    ) * 2
    assert any("no short descriptor column" in w for w in result.warnings)


def test_cpt_simple_csv_with_dates_and_quotes():
    result = CPT.parse(CPT_CSV)
    assert (result.variant, result.version, len(result.codes)) == ("csv", "2021", 7)
    codes = by_code(result)
    assert codes["99213"].short_title == "Made-up: office visit, L3"
    assert (
        codes["44970"].long_title
        == 'Made-up descriptor for tests: appendix removal, "laparoscopic" approach'
    )
    assert (codes["99213"].valid_from, codes["99213"].valid_to) == (
        dt.date(2021, 1, 1),
        None,
    )
    assert (codes["0075T"].valid_from, codes["0075T"].valid_to) == (
        dt.date(2015, 1, 1),
        dt.date(2020, 12, 31),
    )
    assert (codes["44950"].valid_from, codes["44950"].valid_to) == (None, None)


def test_cpt_simple_csv_without_date_columns(tmp_path):
    path = write(
        tmp_path,
        "s.csv",
        b"code,short_title,long_title\n0001U,Made-up short,Made-up long\n\n",
    )
    result = CPT.parse(path)
    assert (result.variant, result.version, result.codes[0].valid_from) == (
        "csv",
        "",
        None,
    )


@pytest.mark.parametrize("bad", ["9921", "A0021", "0075X", "99213 1", ""])
def test_cpt_bad_code_shape_is_refused_with_its_line(tmp_path, bad):
    text = CPT_CSV.read_text().replace("44950,", f"{bad},", 1)
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(write(tmp_path, "c.csv", text.encode()))
    assert err.value.line == 4
    if bad:
        assert err.value.message.startswith(
            f"{bad!r} is not a CPT code: expected 5 digits, or 4 digits and F, T, U or M"
        )
    else:
        assert err.value.message == "The code is missing."


def test_cpt_bad_code_in_the_data_file_is_refused_with_its_line(tmp_path):
    data = CPT_TAB.read_bytes().replace(b"0075T\t", b"075T\t")
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(write(tmp_path, "LONGULT.txt", data))
    assert err.value.line == 6
    assert err.value.message.startswith("'075T' is not a CPT code")


def test_cpt_missing_descriptor_is_refused(tmp_path):
    data = CPT_TAB.read_bytes().replace(
        b"44970\tMade-up descriptor for tests: appendix removal, laparoscopic",
        b"44970\t  ",
    )
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(write(tmp_path, "LONGULT.txt", data))
    assert (err.value.line, err.value.message) == (
        4,
        "The descriptor of 44970 is missing.",
    )
    data = CPT_LINK.read_bytes().replace(b"MADE-UP APPENDIX OPEN", b"")
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(write(tmp_path, "link.txt", data))
    assert (err.value.line, err.value.message) == (
        4,
        "The Short Descriptor of 44950 is missing.",
    )


def test_cpt_missing_column_is_refused(tmp_path):
    text = CPT_CSV.read_text().replace(",2015-01-01,2020-12-31", ",2015-01-01", 1)
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(write(tmp_path, "c.csv", text.encode()))
    assert err.value.line == 7
    assert err.value.message.startswith("The row has 4 fields; the header has 5")
    data = CPT_TAB.read_bytes().replace(b"1036F\t", b"1036F ")
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(write(tmp_path, "LONGULT.txt", data))
    assert err.value.line == 7
    assert (
        err.value.message
        == "An AMA data-file line is CODE<tab>DESCRIPTOR (2 fields); this one has 1."
    )


def test_cpt_header_without_a_descriptor_column_is_refused(tmp_path):
    path = write(tmp_path, "h.csv", b"CPT Code,Medium Descriptor\n99213,Made-up\n")
    assert not CPT.detect(head(path))
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(path)
    assert err.value.line == 1
    assert (
        "neither CODE<tab>DESCRIPTOR nor a header naming the code column"
        in err.value.message
    )


def test_cpt_duplicate_code_bad_date_and_inner_blank_line_are_refused(tmp_path):
    lines = CPT_CSV.read_text().splitlines()
    cases = [
        ([*lines, lines[1]], 9, "Code 99213 appears twice (first on line 2)."),
        ([*lines[:2], lines[2].replace("2021-01-01", "2021-13-01"), *lines[3:]], 3,
         "valid_from must be a date YYYY-MM-DD or empty, found '2021-13-01'."),
        ([*lines[:2], lines[2].replace("2021-01-01,", "2021-01-01,2020-01-01"), *lines[3:]], 3,
         "valid_to 2020-01-01 is before valid_from 2021-01-01."),
        ([*lines[:3], "", *lines[3:]], 4, "Blank line 4 inside the file (rows follow it)."),
    ]  # fmt: skip
    for content, line, message in cases:
        with pytest.raises(ImportFormatError) as err:
            CPT.parse(write(tmp_path, "c.csv", "\n".join(content).encode()))
        assert (err.value.line, err.value.message) == (line, message)


def test_cpt_line_numbers_count_quoted_line_breaks(tmp_path):
    text = (
        "code,short_title,long_title\n"
        '99213,Made-up short,"Made-up long\nover two lines"\n'
        "9921X,Made-up short,Made-up long\n"
    )
    with pytest.raises(ImportFormatError) as err:
        CPT.parse(write(tmp_path, "c.csv", text.encode()))
    assert err.value.line == 4
    ok = CPT.parse(write(tmp_path, "ok.csv", text.rsplit("9921X", 1)[0].encode()))
    assert ok.codes[0].long_title == "Made-up long over two lines"


def test_cpt_windows_1252_file_is_decoded_with_a_warning(tmp_path):
    path = write(
        tmp_path, "w.txt", "99213\tMade-up caf\u00e9 descriptor\r\n".encode("cp1252")
    )
    result = CPT.parse(path)
    assert result.codes[0].long_title == "Made-up caf\u00e9 descriptor"
    assert "The file is not UTF-8; it was read as cp1252." in result.warnings


def test_cpt_fixtures_hold_no_real_descriptors():
    for path in (CPT_TAB, CPT_LINK, CPT_CSV):
        for code in CPT.parse(path).codes:
            assert (
                "made-up" in code.long_title.lower()
                and "made-up" in code.short_title.lower()
            )
