"""Reading files: formats, encodings, separators, BOMs, line numbers and rows that do not fit."""
import io

import pandas as pd
import pytest

from analytics.reading import FileRefused, read_table
from tests.helpers import HEADER, csv_bytes, good_row


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_each_separator_is_detected(sep):
    table = read_table(csv_bytes([good_row(), good_row("P2")], sep=sep))
    assert table.separator == sep
    assert table.headers == HEADER
    assert list(table.frame["patient_id"]) == ["P1", "P2"]
    assert list(table.lines) == [2, 3]


def test_bom_and_crlf_are_handled():
    table = read_table(csv_bytes([good_row()], bom=True, newline="\r\n"))
    assert table.encoding == "utf-8-sig"
    assert table.headers[0] == "patient_id"
    assert table.frame["patient_id"].tolist() == ["P1"]


def test_windows_1252_text_is_decoded():
    data = csv_bytes([good_row("Pé1")], encoding="cp1252")
    table = read_table(data)
    assert table.encoding == "cp1252"
    assert table.frame["patient_id"].tolist() == ["Pé1"]


def test_blank_lines_keep_line_numbers_and_blank_rows_are_counted():
    data = b"patient_id,session_date\n\nP1,2025-01-01\n,\n\r\nP2,2025-01-02\n"
    table = read_table(data)
    assert table.frame["patient_id"].tolist() == ["P1", "P2"]
    assert table.lines.tolist() == [3, 6]
    assert table.blank_rows == 1


def test_quoted_line_break_keeps_exact_line_numbers():
    data = b'patient_id,notes\nP1,"two\nlines"\nP2,plain\n'
    table = read_table(data)
    assert table.frame["patient_id"].tolist() == ["P1", "P2"]
    assert table.lines.tolist() == [2, 4]


def test_rows_with_the_wrong_number_of_values_are_kept_as_bad_rows():
    data = b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n5,6,7,,\n"
    table = read_table(data)
    assert table.lines.tolist() == [2, 5]
    assert table.bad_rows == [(3, "has 2 values but the header has 3 columns"),
                              (4, "has 4 values but the header has 3 columns")]


def test_xlsx_rows_are_sheet_rows():
    frame = pd.DataFrame({"patient_id": ["P1", None, "P2"], "session_date": pd.to_datetime(
        ["2025-03-14", None, "2025-04-01"]), "total_units": [200.0, None, 232.5]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    table = read_table(buffer.getvalue(), name="x.xlsx")
    assert table.file_format == "xlsx"
    assert table.frame["patient_id"].tolist() == ["P1", "P2"]
    assert table.frame["session_date"].tolist() == ["2025-03-14", "2025-04-01"]
    assert table.frame["total_units"].tolist() == ["200", "232.5"]
    assert table.lines.tolist() == [2, 4]


def test_parquet_is_read_with_row_numbers_as_lines():
    frame = pd.DataFrame({"patient_id": ["P1", "P2"], "total_units": [200.0, 300.0]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    table = read_table(buffer.getvalue())
    assert table.file_format == "parquet"
    assert table.lines.tolist() == [2, 3]
    assert table.frame["total_units"].tolist() == [200.0, 300.0]


@pytest.mark.parametrize("data, message", [
    (b"", "The file is empty."),
    (b"  \n\n", "The file is empty."),
    (b"\xef\xbb\xbf", "The file is empty."),
    (b"\xef\xbb\xbf\r\n\r\n", "The file is empty."),
    (b"\x00\x01\x02binary", "binary bytes"),
    (b"\xff\xfep\x00a\x00", "UTF-16"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "old Excel .xls"),
    (b"PK\x03\x04 not really a zip", "The Excel file cannot be opened"),
    (b"PAR1 not really parquet", "The Parquet file cannot be read"),
    (b"\xef\xbb\xbfa,b\n\xff,1\n", "not valid UTF-8"),
])
def test_unusable_files_are_refused_with_a_plain_message(data, message):
    with pytest.raises(FileRefused, match=message.replace(".", r"\.")):
        read_table(data)


def test_size_limit_refuses_large_files():
    with pytest.raises(FileRefused, match="over the limit of 0 MB"):
        read_table(b"a,b\n1,2\n", max_bytes=4)
