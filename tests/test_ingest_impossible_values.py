"""Issue 8, item 4: values that cannot be real are rejected with a reason and the cell as written (non-finite
numbers, dates before botulinum toxin's first licence, Excel's zero dates); not-recorded tokens in optional
cells are blanks with one warning per column; plain export blanks stay silent."""
from datetime import date

import pytest

from analytics.cli import main
from analytics.ingest import load_sessions
from tests.helpers import HEADER, csv_bytes, good_row

TODAY = date(2026, 11, 25)
EARLY = "before 1989-12-01: botulinum toxin was first licensed for clinical use in December 1989"
EXCEL_ZERO = "Excel's zero date, which Excel writes for an empty date cell: enter the real date"


def rejected(result):
    return [tuple(r) for r in result.rejected[["line", "column", "value", "reason", "code"]].itertuples(index=False)]


def warned(result):
    return [tuple(r) for r in result.warnings[["line", "column", "value", "warning", "code"]].itertuples(index=False)]


@pytest.mark.parametrize("value", ["inf", "-inf", "+Inf", "nan", "NaN", "Infinity", "-Infinity", "1e309", "-1e400",
                                   " inf "])
def test_non_finite_doses_are_rejected_as_written(value):
    bad = good_row("P2")
    bad[3] = value
    result = load_sessions(csv_bytes([good_row(), bad]), today=TODAY)
    assert rejected(result) == [(3, "total_units", value, "not a finite number", "not_finite")]
    assert result.data["total_units"].tolist() == [200.0]
    assert result.warnings.empty  # an infinite dose is not also "an unusually high dose"


@pytest.mark.parametrize("value", ["inf", "NaN", "1e309"])
def test_non_finite_in_an_optional_number_column_is_rejected_too(value):
    header = HEADER + ["baseline_twstrs"]
    result = load_sessions(csv_bytes([good_row() + [value], good_row("P2") + ["40.5"]], header), today=TODAY)
    assert rejected(result) == [(2, "baseline_twstrs", value, "not a finite number", "not_finite")]
    assert result.data["baseline_twstrs"].tolist() == [40.5]


def test_non_finite_with_a_decimal_comma_file():
    rows = [good_row(units="232,5"), good_row("P2", units="Infinity"), good_row("P3", units="1e309")]
    result = load_sessions(csv_bytes(rows, sep=";"), today=TODAY)
    assert result.data["total_units"].tolist() == [232.5]
    assert rejected(result) == [(3, "total_units", "Infinity", "not a finite number", "not_finite"),
                                (4, "total_units", "1e309", "not a finite number", "not_finite")]


@pytest.mark.parametrize("value, reason", [
    ("0001-01-01", EARLY), ("1989-11-30", EARLY), ("1970-01-01", EARLY), ("30/11/1989", EARLY),
    ("1899-12-30", EXCEL_ZERO), ("1899-12-31", EXCEL_ZERO), ("1900-01-00", EXCEL_ZERO), ("1900-01-01", EXCEL_ZERO),
    ("00/01/1900", EXCEL_ZERO),
])
def test_dates_that_cannot_be_a_session_are_rejected_too_early(value, reason):
    result = load_sessions(csv_bytes([good_row(day="14/03/2025"), good_row("P2", day=value)]), today=TODAY)
    assert rejected(result) == [(3, "session_date", value, reason, "too_early")]
    assert result.data["patient_id"].tolist() == ["P1"]


def test_the_first_licensed_day_is_accepted():
    result = load_sessions(csv_bytes([good_row(day="1989-12-01")]), today=TODAY)
    assert result.exit_code == 0
    assert result.data["session_date"].dt.strftime("%Y-%m-%d").tolist() == ["1989-12-01"]


def test_not_recorded_tokens_in_optional_cells_are_blanks_with_one_warning_per_column():
    header = HEADER + ["pgic", "indication"]
    tokens = ["?", "n.a.", "\u2014", "\u2013", "-", "N/A", "na", "Unknown", " ? ", "n/a"]
    rows = [good_row(f"P{i}", after=token) + [tokens[-1 - i], "neck pain"] for i, token in enumerate(tokens)]
    rows.append(good_row("P99") + ["2", "unknown"])
    result = load_sessions(csv_bytes(rows, header), today=TODAY)
    assert result.exit_code == 0 and result.n_accepted == 11
    assert result.data["followup_pain"].isna().tolist() == [True] * 10 + [False]
    assert result.data["indication"].fillna("(blank)").tolist() == ["neck_pain"] * 10 + ["(blank)"]
    assert warned(result) == [
        (2, "followup_pain", "?, n.a., \u2014, \u2013, -",
         "10 cells read as not recorded ('?', 'n.a.', '\u2014', '\u2013', '-', ...) \u2014 lines 2, 3, 4, 5, 6, 7, 8, "
         "9, 10, 11", "not_recorded"),
        (2, "pgic", "n/a, ?, Unknown, na, N/A",
         "10 cells read as not recorded ('n/a', '?', 'Unknown', 'na', 'N/A', ...) \u2014 lines 2, 3, 4, 5, 6, 7, 8, 9, "
         "10, 11", "not_recorded"),
        (12, "indication", "unknown", "1 cell read as not recorded ('unknown') \u2014 line 12", "not_recorded"),
    ]


def test_many_not_recorded_cells_list_the_first_lines_only():
    rows = [good_row(f"P{i}", after="?" if i % 3 == 0 else "3") for i in range(40)]
    result = load_sessions(csv_bytes(rows), today=TODAY)
    assert warned(result) == [(2, "followup_pain", "?", "14 cells read as not recorded ('?') \u2014 lines 2, 5, 8, "
                                                       "11, 14, 17, 20, 23, 26, 29, ...", "not_recorded")]


@pytest.mark.parametrize("token", ["?", "n.a.", "\u2014", "unknown", "N/A", "-"])
def test_a_not_recorded_token_in_a_required_cell_is_a_blank_required_rejection(token):
    result = load_sessions(csv_bytes([good_row(), good_row("P2", units=token)]), today=TODAY)
    assert rejected(result) == [(3, "total_units", token, "blank, but total_units is required", "blank_required")]
    assert result.warnings.empty


@pytest.mark.parametrize("blank", ["", "NA", "NULL", "null", "#N/A", " "])
def test_export_blanks_are_silent(blank):
    result = load_sessions(csv_bytes([good_row(after=blank), good_row("P2")]), today=TODAY)
    assert result.exit_code == 0 and result.warnings.empty and result.rejected.empty
    assert result.data["followup_pain"].isna().tolist() == [True, False]


def test_cli_validate_reports_impossible_values_as_written(tmp_path, capsys):
    path = tmp_path / "hostile.csv"
    header = HEADER + ["pgic"]
    path.write_bytes(csv_bytes([good_row(units="Infinity", after="?") + ["n.a."], good_row("P2", after="\u2014") +
                                ["4"], good_row("P3", day="1899-12-30") + ["2"]], header))
    code = main(["validate", str(path), "--label", "hostile"])
    out = capsys.readouterr().out
    assert code == 1
    assert "-9223372036854775808" not in out
    assert "  line 2: total_units = 'Infinity': not a finite number" in out
    assert f"  line 4: session_date = '1899-12-30': {EXCEL_ZERO}" in out
    assert "  line 2: followup_pain = '?, \u2014': 2 cells read as not recorded ('?', '\u2014') \u2014 lines 2, 3" in out
    assert "  line 2: pgic = 'n.a.': 1 cell read as not recorded ('n.a.') \u2014 line 2" in out
    assert out.startswith("hostile: 3 rows: 1 accepted, 2 rejected")


@pytest.mark.parametrize("value", ["nan(1)", "NaN(0x7ff)", "-nan(ind)"])
def test_a_nan_with_a_payload_is_not_finite_on_the_fast_and_the_careful_number_path(value):
    """A clean column goes through one Arrow cast, a column with a '?' through the careful reader: both call a
    payload NaN (as C libraries print it) not finite, so the reason does not depend on the other cells."""
    fast = load_sessions(csv_bytes([good_row(), good_row("P2", units=value)]))
    careful = load_sessions(csv_bytes([good_row(units="?"), good_row("P2", units=value)]))
    assert rejected(fast)[-1] == (3, "total_units", value, "not a finite number", "not_finite")
    assert rejected(careful)[-1] == (3, "total_units", value, "not a finite number", "not_finite")
