"""Excel workbooks as clinics have them: a cover sheet before the data, merged cells, formulas saved without their
value, datetimes with a time of day. Each case at the reader, through `load`, and through the CLI."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime

import openpyxl
import pandas as pd
import pytest

from analytics.cli import main
from analytics.ingest import load
from analytics.reading import FileRefused, read_table
from analytics.reason_codes import Caution, Refusal, Rejection
from analytics.xlsx_reading import FORMULA_REASON, sheet_names
from tests.helpers import HEADER, csv_bytes, good_row

COVER = [["Clinic outcomes export"], [datetime(2025, 7, 1, 9, 30)], [], ["Prepared for the audit meeting."]]
NOTES = [["Notes"], ["Units are in the product's own units."]]
SESSIONS = [HEADER,
            ["P1", date(2025, 3, 14), "Botox", 200, 7, 3],
            ["P2", date(2025, 4, 1), "Dysport", 500, 6, 2]]
NOTE_DEFAULT = ("Read sheet 'Sessions' (the first whose header fits the data contract; the workbook also has "
                "'Cover', 'Notes'; choose another with --sheet or the sheet box).")
NOTE_CHOSEN = ("Read sheet 'Sessions' (as chosen; the workbook also has 'Cover', 'Notes'; choose another with "
               "--sheet or the sheet box).")
SHEET_LIST = "1 'Cover', 2 'Sessions', 3 'Notes'"


def workbook(sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None) -> bytes:
    """An .xlsx file's bytes: each sheet's rows from A1, and merged ranges per sheet (top-left value kept)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        ws = book.create_sheet(title)
        for row in rows:
            ws.append(row)
        for ref in (merges or {}).get(title, []):
            ws.merge_cells(ref)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def patched(data: bytes, replacements: list[tuple[str, str]], member: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The workbook with one sheet's XML edited (regex, replacement): for what openpyxl cannot write."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == member:
                text = content.decode("utf-8")
                for pattern, replacement in replacements:
                    text, count = re.subn(pattern, replacement, text)
                    assert count, pattern
                content = text.encode("utf-8")
            target.writestr(item, content)
    return out.getvalue()


def save(tmp_path, data: bytes, name: str = "clinic.xlsx") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.fixture
def cover_first() -> bytes:
    """The hostile case: a cover page first (title, date, blank row, text), the data second, notes last."""
    return workbook({"Cover": COVER, "Sessions": SESSIONS, "Notes": NOTES})


# --- choosing the sheet ---------------------------------------------------------------------------------------

def test_a_cover_sheet_is_passed_over_for_the_first_sheet_whose_header_fits(cover_first):
    table = read_table(cover_first, name="clinic.xlsx")
    assert table.sheet == "Sessions"
    assert table.headers == HEADER
    assert table.frame["patient_id"].tolist() == ["P1", "P2"]
    assert table.frame["session_date"].tolist() == ["2025-03-14", "2025-04-01"]
    assert table.frame["total_units"].tolist() == ["200", "500"]
    assert table.lines.tolist() == [2, 3]
    assert table.notes == [NOTE_DEFAULT]


def test_a_cover_sheet_is_passed_over_through_load(cover_first):
    result = load(cover_first, name="clinic.xlsx")
    assert not result.refused
    assert result.file_format["sheet"] == "Sessions"
    assert result.data["patient_id"].tolist() == ["P1", "P2"]
    assert result.data["session_date"].tolist() == [pd.Timestamp("2025-03-14"), pd.Timestamp("2025-04-01")]
    assert result.data["product"].tolist() == ["onabotulinumtoxinA", "abobotulinumtoxinA"]
    assert result.data["line"].tolist() == [2, 3]
    assert len(result.rejected) == 0
    assert result.notes[0] == NOTE_DEFAULT


def test_a_sheet_of_repeated_assessments_fits_too():
    rows = [["patient_id", "week", "twstrs"], ["P1", 0, 40], ["P1", 4, 30]]
    table = read_table(workbook({"Cover": COVER, "Scores": rows}))
    assert table.sheet == "Scores"
    assert table.frame["twstrs"].tolist() == ["40", "30"]
    assert table.notes == ["Read sheet 'Scores' (the first whose header fits the data contract; the workbook also "
                           "has 'Cover'; choose another with --sheet or the sheet box)."]


def test_when_no_header_fits_the_first_sheet_with_data_is_read():
    data = workbook({"Empty": [], "Cover": COVER, "Other": [["a", "b"], [1, 2]]})
    table = read_table(data)
    assert table.sheet == "Cover"
    assert table.headers == ["Clinic outcomes export"]
    assert table.lines.tolist() == [2, 4]
    assert table.notes == ["Read sheet 'Cover' (the first with data: no sheet's header row fits the data contract; "
                           "the workbook also has 'Empty', 'Other'; choose another with --sheet or the sheet box)."]


def test_a_workbook_of_one_sheet_has_no_note():
    table = read_table(workbook({"Export": SESSIONS}))
    assert table.sheet == "Export"
    assert table.notes == []


@pytest.mark.parametrize("sheet", ["Sessions", 2, "2", " 2 ", "sessions", " SESSIONS "])
def test_the_sheet_is_chosen_by_name_or_number(cover_first, sheet):
    table = read_table(cover_first, sheet=sheet)
    assert table.sheet == "Sessions"
    assert table.frame["patient_id"].tolist() == ["P1", "P2"]
    assert table.notes == [NOTE_CHOSEN]


def test_an_exact_sheet_name_wins_over_a_number():
    other = [HEADER, ["Q9", date(2025, 5, 5), "Xeomin", 100, 5, 1]]
    data = workbook({"Cover": COVER, "Sessions": SESSIONS, "2": other})
    assert read_table(data, sheet="2").frame["patient_id"].tolist() == ["Q9"]
    assert read_table(data, sheet=2).frame["patient_id"].tolist() == ["P1", "P2"]


def test_a_sheet_that_fits_less_well_can_still_be_chosen(cover_first):
    table = read_table(cover_first, sheet="Notes")
    assert table.sheet == "Notes"
    assert table.headers == ["Notes"]
    assert table.frame["Notes"].tolist() == ["Units are in the product's own units."]


@pytest.mark.parametrize("sheet, message", [
    ("Sheet9", f"The workbook has no sheet 'Sheet9'. Its sheets: {SHEET_LIST}."),
    ("4", f"The workbook has no sheet number 4: it has 3 sheet(s): {SHEET_LIST}."),
    (0, f"The workbook has no sheet number 0: it has 3 sheet(s): {SHEET_LIST}."),
])
def test_an_unknown_sheet_is_refused_naming_the_sheets(cover_first, sheet, message):
    with pytest.raises(FileRefused) as caught:
        read_table(cover_first, sheet=sheet)
    assert str(caught.value) == message
    assert caught.value.code == Refusal.NO_SUCH_SHEET
    result = load(cover_first, name="clinic.xlsx", sheet=sheet)
    assert result.refusal == Refusal.NO_SUCH_SHEET
    assert result.file_errors == [message]
    assert result.exit_code == 2


def test_an_empty_chosen_sheet_is_refused():
    data = workbook({"Sessions": SESSIONS, "Blank": []})
    with pytest.raises(FileRefused) as caught:
        read_table(data, sheet="Blank")
    assert str(caught.value) == "The sheet 'Blank' is empty. The workbook's sheets: 1 'Sessions', 2 'Blank'."
    assert caught.value.code == Refusal.EMPTY_FILE


def test_sheet_names_lists_the_worksheets_in_order(cover_first):
    assert sheet_names(cover_first) == ["Cover", "Sessions", "Notes"]
    with pytest.raises(FileRefused, match="The Excel file cannot be opened"):
        sheet_names(b"PK\x03\x04 not really a zip")


def test_cli_reads_the_sheet_asked_for(tmp_path, capsys, cover_first):
    path = save(tmp_path, cover_first)
    assert main(["validate", path, "--sheet", "Sessions", "--label", "clinic"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "clinic: 2 rows: 2 accepted, 0 rejected (0 exact duplicate(s), 0 conflicting), 0 warning(s)."
    assert NOTE_CHOSEN in out


def test_cli_says_which_sheet_it_chose(tmp_path, capsys, cover_first):
    path = save(tmp_path, cover_first)
    assert main(["validate", path]) == 0
    assert NOTE_DEFAULT in capsys.readouterr().out.splitlines()


def test_cli_exits_2_naming_the_sheets_when_the_sheet_is_missing(tmp_path, capsys, cover_first):
    path = save(tmp_path, cover_first)
    assert main(["validate", path, "--sheet", "Sesions"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": REFUSED. Nothing was taken from this file.")
    assert out[1:] == ["  Why (no_such_sheet): the workbook has no such sheet (use --sheet NAME or NUMBER).",
                   f"  The workbook has no sheet 'Sesions'. Its sheets: {SHEET_LIST}."]


# --- merged cells ----------------------------------------------------------------------------------------------

HEADER_WITH_SITE = HEADER + ["site"]
MERGED_ROWS = [HEADER_WITH_SITE,
               ["P1", date(2025, 1, 6), "Botox", 200, 7, 3, "North"],
               [None, date(2025, 4, 7), "Botox", 200, 6, 2, None],
               [None, date(2025, 7, 7), "Botox", 220, 7, 3, None],
               [None, date(2025, 10, 6), "Botox", 220, 6, 2, "South"],
               ["P2", date(2025, 2, 3), "Xeomin", 150, 8, None, None]]
MERGES = ["A2:A5", "G2:G4", "E6:F6"]
MERGED_WARNINGS = [
    (2, "patient_id", "P1", "merged cells A2:A5: the value was filled into rows 2–5; check it applies to each"),
    (2, "site", "North", "merged cells G2:G4: the value was filled into rows 2–4; check it applies to each"),
    (6, "baseline_pain", "8",
     "merged cells E6:F6: the value was filled into columns E–F of row 6; check it applies to each"),
]


@pytest.fixture
def merged() -> bytes:
    """The hostile case: the patient code merged over a patient's four rows, the site over three, and one
    baseline score merged across into the follow-up column."""
    return workbook({"Sessions": MERGED_ROWS}, {"Sessions": MERGES})


def test_merged_cells_are_filled_with_one_warning_per_range(merged):
    table = read_table(merged)
    assert table.frame["patient_id"].tolist() == ["P1", "P1", "P1", "P1", "P2"]
    assert table.frame["site"].tolist() == ["North", "North", "North", "South", ""]
    assert table.frame["followup_pain"].tolist() == ["3", "2", "3", "2", "8"]
    assert table.lines.tolist() == [2, 3, 4, 5, 6]
    assert table.cell_warnings == [(*w, str(Caution.MERGED_CELLS)) for w in MERGED_WARNINGS]


def test_merged_cells_through_load(merged):
    result = load(merged, name="clinic.xlsx")
    assert result.data["patient_id"].tolist() == ["P1", "P1", "P1", "P1", "P2"]
    assert result.data["site"].iloc[:4].tolist() == ["North", "North", "North", "South"]
    assert result.data["site"].isna().tolist() == [False, False, False, False, True]
    assert result.data["followup_pain"].tolist() == [3, 2, 3, 2, 8]
    assert len(result.rejected) == 0
    warnings = result.warnings[result.warnings["code"] == Caution.MERGED_CELLS]
    assert warnings[["line", "column", "field", "value", "warning"]].values.tolist() == [
        [line, column, column, value, message] for line, column, value, message in MERGED_WARNINGS]


def test_cli_lists_the_merged_ranges(tmp_path, capsys, merged):
    path = save(tmp_path, merged)
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out.splitlines()
    for line, column, value, message in MERGED_WARNINGS:
        assert f"  line {line}: {column} = {value!r}: {message}" in out


def test_merged_rows_that_are_otherwise_blank_stay_blank_and_the_message_names_the_rows_filled():
    rows = [HEADER, ["P1", date(2025, 1, 6), "Botox", 200, 7, 3], [None, date(2025, 4, 7), "Botox", 200, 6, 2],
            [], [None, date(2025, 7, 7), "Botox", 220, 7, 3]]
    table = read_table(workbook({"S": rows}, {"S": ["A2:A5"]}))
    assert table.frame["patient_id"].tolist() == ["P1", "P1", "P1"]
    assert table.lines.tolist() == [2, 3, 5]
    assert table.cell_warnings == [(2, "patient_id", "P1", "merged cells A2:A5: the value was filled into rows "
                                    "2–3 and 5; check it applies to each", str(Caution.MERGED_CELLS))]


def test_merged_ranges_in_the_header_or_of_blank_cells_give_no_warning():
    rows = [HEADER_WITH_SITE, ["P1", date(2025, 1, 6), "Botox", 200, 7, 3, None],
            ["P2", date(2025, 4, 7), "Botox", 200, 6, 2, None]]
    in_header = read_table(workbook({"S": rows}, {"S": ["F1:G1"]}))  # G1 ('site') is lost to the merge, as in Excel
    assert in_header.headers == HEADER
    assert in_header.cell_warnings == []
    blank = read_table(workbook({"S": rows}, {"S": ["G2:G3"]}))
    assert blank.frame["site"].tolist() == ["", ""]
    assert blank.cell_warnings == []


# --- formulas saved without their value --------------------------------------------------------------------------

FORMULA_ROWS = [HEADER,
                ["P1", date(2025, 3, 14), "Botox", 200, 7, 3],
                ["P2", date(2025, 3, 15), "Botox", "=D2*2", 7, 3],
                ["P3", date(2025, 3, 16), "Botox", 100, 7, "=E4-4"],
                ["P4", date(2025, 3, 17), "Botox", 100, 6, 2]]


@pytest.fixture
def formulas() -> bytes:
    """The hostile case: formulas written by a script (openpyxl keeps no value for them), never opened in Excel."""
    return workbook({"Sessions": FORMULA_ROWS})


def _formula_rejection(line, column, formula):
    return (line, column, formula, FORMULA_REASON, str(Rejection.FORMULA_NOT_CALCULATED))


def test_uncalculated_formulas_are_rejected_with_the_formula_as_written(formulas):
    table = read_table(formulas)
    assert table.lines.tolist() == [2, 3, 4, 5]
    assert table.frame["total_units"].tolist() == ["200", "", "100", "100"]
    assert table.cell_rejections == [_formula_rejection(3, "total_units", "=D2*2"),
                                     _formula_rejection(4, "followup_pain", "=E4-4")]
    assert FORMULA_REASON == "formula not calculated: open and save the file in Excel first"


def test_uncalculated_formulas_reject_their_rows_through_load(formulas):
    result = load(formulas, name="clinic.xlsx")
    assert result.data["patient_id"].tolist() == ["P1", "P4"]
    assert result.n_rows == 4 and result.n_rejected_rows == 2
    assert sorted(set(result.rejected["line"])) == [3, 4]
    formula = result.rejected[result.rejected["code"] == Rejection.FORMULA_NOT_CALCULATED]
    assert formula[["line", "column", "field", "value", "reason"]].values.tolist() == [
        [3, "total_units", "total_units", "=D2*2", FORMULA_REASON],
        [4, "followup_pain", "followup_pain", "=E4-4", FORMULA_REASON]]
    # the optional column's blank would have passed: the formula is the only reason for line 4
    assert result.rejected.loc[result.rejected["line"] == 4, "code"].tolist() == ["formula_not_calculated"]
    # the required column's cell is listed once, with the formula's reason (not also "blank, but required")
    assert result.rejected.loc[result.rejected["line"] == 3, "code"].tolist() == ["formula_not_calculated"]


def test_cli_reports_uncalculated_formulas(tmp_path, capsys, formulas):
    path = save(tmp_path, formulas)
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"  line 3: total_units = '=D2*2': {FORMULA_REASON}" in out
    assert f"  line 4: followup_pain = '=E4-4': {FORMULA_REASON}" in out


def test_a_row_holding_only_an_uncalculated_formula_is_not_dropped_as_blank():
    rows = FORMULA_ROWS[:2] + [[None, None, None, "=SUM(D2:D2)"]]
    table = read_table(workbook({"S": rows}))
    assert table.lines.tolist() == [2, 3]
    assert table.cell_rejections == [_formula_rejection(3, "total_units", "=SUM(D2:D2)")]
    assert load(workbook({"S": rows})).n_rejected_rows == 1


def test_an_uncalculated_formula_beyond_the_headed_columns_does_not_make_a_row():
    rows = FORMULA_ROWS[:2] + [[None] * 7 + ["=1+1"]]
    table = read_table(workbook({"S": rows}))
    assert table.lines.tolist() == [2]
    assert table.cell_rejections == []


def test_an_uncalculated_formula_cell_without_its_reference_is_still_found(formulas):
    data = patched(formulas, [(r'<c r="D3"><f>', '<c><f>')])  # r="" is optional in the file format
    assert read_table(data).cell_rejections == [_formula_rejection(3, "total_units", "=D2*2"),
                                                _formula_rejection(4, "followup_pain", "=E4-4")]


def test_calculated_formulas_and_empty_text_results_are_values_not_rejections(formulas):
    # As Excel saves them: the cached number after the formula, and an empty text result typed t="str".
    data = patched(formulas, [(r'<c r="D3"><f>D2\*2</f><v\s*/>', '<c r="D3"><f>D2*2</f><v>400</v>'),
                              (r'<c r="F4"><f>E4-4</f><v\s*/>', '<c r="F4" t="str"><f>E4-4</f><v></v>')])
    table = read_table(data)
    assert table.frame["total_units"].tolist() == ["200", "400", "100", "100"]
    assert table.frame["followup_pain"].tolist() == ["3", "3", "", "2"]
    assert table.cell_rejections == []


def test_shared_formulas_are_reported_as_each_cell_reads():
    rows = [HEADER, ["P1", date(2025, 3, 14), "Botox", 200, 7, 3], ["P2", date(2025, 3, 15), "Botox", 0, 7, 3],
            ["P3", date(2025, 3, 16), "Botox", 0, 7, 3]]
    data = patched(workbook({"S": rows}), [
        (r'<c r="D3" t="n"><v>0</v></c>', '<c r="D3"><f t="shared" ref="D3:D4" si="0">D2*2</f></c>'),
        (r'<c r="D4" t="n"><v>0</v></c>', '<c r="D4"><f t="shared" si="0"/></c>')])
    assert read_table(data).cell_rejections == [_formula_rejection(3, "total_units", "=D2*2"),
                                                _formula_rejection(4, "total_units", "=D3*2")]


# --- datetimes ---------------------------------------------------------------------------------------------------

def test_a_datetime_with_a_time_of_day_is_that_date():
    rows = [HEADER, ["P1", datetime(2025, 6, 14, 23, 30), "Botox", 200, 7, 3],
            ["P2", datetime(2025, 6, 15, 0, 15), "Botox", 200, 7, 3]]
    data = workbook({"S": rows})
    assert read_table(data).frame["session_date"].tolist() == ["2025-06-14T23:30:00", "2025-06-15T00:15:00"]
    result = load(data)
    assert result.data["session_date"].tolist() == [pd.Timestamp("2025-06-14"), pd.Timestamp("2025-06-15")]
    assert len(result.rejected) == 0


def test_rows_past_a_wrong_dimension_are_still_read():
    data = patched(workbook({"S": SESSIONS}), [(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1:F2"/>')])
    assert read_table(data).frame["patient_id"].tolist() == ["P1", "P2"]


def test_a_sheet_asked_for_on_a_csv_file_is_said_not_silently_ignored(tmp_path, capsys):
    path = tmp_path / "f.csv"
    path.write_bytes(csv_bytes([good_row()]))
    assert main(["validate", str(path), "--sheet", "Sessions"]) == 0
    assert ("A sheet (Sessions) was asked for, but this is a csv file, which has no sheets: the whole file was "
            "read.") in capsys.readouterr().out.splitlines()
