"""Issue 8, item 1: codes are text on every path. `007` and `7` are two patients, `0012` stays `0012`, a mobile
number used as a code keeps its 0 (so the identifier guard sees it), spaces around a code are trimmed and its
case kept; a typed (Parquet) code 7 is "7", never "7.0"."""
import io
from datetime import date

import pandas as pd

from analytics.ingest import load_sessions
from tests.helpers import HEADER, csv_bytes, good_row

TODAY = date(2026, 11, 25)


def test_leading_zeros_keep_patients_apart():
    result = load_sessions(csv_bytes([good_row("007"), good_row("7"), good_row("0012")]), today=TODAY)
    assert result.exit_code == 0
    assert result.data["patient_id"].tolist() == ["007", "7", "0012"]
    assert result.data["patient_id"].nunique() == 3
    assert result.conflicts.empty and result.duplicates.empty


def test_leading_zeros_are_the_same_whether_or_not_a_quoted_line_break_sends_the_file_to_the_exact_reader():
    header = HEADER + ["notes"]
    plain = load_sessions(csv_bytes([good_row("007") + ["a"], good_row("7") + ["b"]], header), today=TODAY)
    quoted = load_sessions(csv_bytes([good_row("007") + ['"two\nlines"'], good_row("7") + ["b"]], header),
                           today=TODAY)
    assert plain.data["patient_id"].tolist() == quoted.data["patient_id"].tolist() == ["007", "7"]
    assert plain.data["line"].tolist() == [2, 3] and quoted.data["line"].tolist() == [2, 4]


def test_codes_are_trimmed_and_keep_their_case():
    header = ["patient_id", "session_date", "session_id", "site", "practitioner_id", "product", "total_units",
              "baseline_pain"]
    result = load_sessions(csv_bytes([[" Ab01 ", "2025-03-14", " s007 ", "  North Clinic ", " PR01", "Botox", "200",
                                       "7"]], header), today=TODAY)
    row = result.data.iloc[0]
    assert (row["patient_id"], row["session_id"], row["site"], row["practitioner_id"]) == (
        "Ab01", "s007", "North Clinic", "PR01")


def test_extra_columns_keep_leading_zeros():
    result = load_sessions(csv_bytes([good_row() + ["0012"], good_row("P2") + ["12"]], HEADER + ["Ward"]),
                           today=TODAY)
    assert result.data["Ward"].tolist() == ["0012", "12"]


def test_a_mobile_number_used_as_a_patient_code_keeps_its_zero_and_is_caught():
    result = load_sessions(csv_bytes([good_row("07700900123"), good_row("12345")]), today=TODAY)
    assert result.refused
    assert result.file_errors == [
        "Patient codes look like direct identifiers: 'patient_id': 1 value(s) look like phone numbers (lines 2). "
        "Pseudonymise them with the clinic's key (--pseudonymise) or cancel."]


def test_a_mobile_number_in_an_extra_column_is_caught():
    result = load_sessions(csv_bytes([good_row() + ["07700900123"]], HEADER + ["Contact"]), today=TODAY)
    assert result.refused
    assert "'Contact': 1 value(s) look like phone numbers (lines 2)" in result.file_errors[0]
    assert "07700900123" not in result.file_errors[0]


def test_typed_parquet_codes_become_text_without_a_decimal_point():
    frame = pd.DataFrame({"patient_id": [7, 8], "session_date": ["2025-03-14", "2025-03-15"],
                          "session_id": [1.0, None], "product": ["Botox", "Botox"], "total_units": [200.0, 150.5],
                          "baseline_pain": [7, 5]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    result = load_sessions(buffer.getvalue(), today=TODAY)
    assert result.exit_code == 0
    assert result.data["patient_id"].tolist() == ["7", "8"]
    assert result.data["session_id"].iloc[0] == "1" and pd.isna(result.data["session_id"].iloc[1])
    assert result.data["total_units"].tolist() == [200.0, 150.5]
    assert str(result.data["patient_id"].dtype) == "str"
