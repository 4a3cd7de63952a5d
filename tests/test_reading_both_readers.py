"""Both CSV readers (pyarrow's fast one, the csv module's exact one) give the same table for the same bytes:
every cell as text, the same line numbers, and so the same accepted rows and the same rejected cells."""
import string
from datetime import date

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import reading
from analytics.ingest import load_sessions
from analytics.reading import _read_csv_exact, _read_csv_fast, read_table
from tests.helpers import HEADER

TODAY = date(2026, 11, 25)
# Codes with leading zeros, numbers in every spelling, blanks and not-recorded tokens, dates, spaces, quotes.
CELL = st.one_of(
    st.sampled_from(["007", "7", "0012", "12", " 7 ", "07700900123", "1e3", "1.50", "-0", "+5", "inf", "NaN",
                     "Infinity", "1e309", "", "NA", "null", "?", "n/a", "-", "\u2014", "unknown", "2025-03-14",
                     "14/03/2025", "1899-12-30", "Botox", "dysport", "200", "7", "3", "P1", "p1", "x y"]),
    st.text(alphabet=string.ascii_letters + string.digits + " .-+/?'", max_size=8),
)
QUOTED = st.text(alphabet=string.ascii_letters + string.digits + ' ,;"\n', max_size=10).map(
    lambda t: '"' + t.replace('"', '""') + '"')


def csv_text(rows: list[list[str]], sep: str) -> bytes:
    return ("\n".join([sep.join(HEADER + ["notes"])] + [sep.join(r) for r in rows]) + "\n").encode("utf-8")


ROWS = st.lists(st.tuples(st.lists(CELL, min_size=6, max_size=6), st.one_of(CELL, QUOTED)), min_size=1, max_size=6)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS, st.sampled_from([",", ";", "\t", "|"]))
def test_fast_and_exact_readers_give_the_same_table(rows, sep):
    cells = [[c.replace(sep, "") for c in row] + [note if note.startswith('"') else note.replace(sep, "")]
             for row, note in rows]
    data = csv_text(cells, sep)
    fast = _read_csv_fast(data, sep)
    exact = _read_csv_exact(data.decode("utf-8"), sep)
    if fast is None:  # a quoted line break or a row that does not fit: only the exact reader reads it
        assert exact.spans or exact.bad_rows or "\n" in "".join(str(n) for _, n in rows)
        return
    assert fast.headers == exact.headers
    pd.testing.assert_frame_equal(fast.frame, exact.frame)
    assert fast.lines.tolist() == exact.lines.tolist()
    assert fast.blank_rows == exact.blank_rows
    assert all(str(fast.frame[h].dtype) == "str" for h in fast.headers)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS, st.sampled_from([",", ";"]))
def test_load_gives_the_same_result_whichever_reader_ran(rows, sep):
    cells = [[c.replace(sep, "") for c in row] + [note.replace(sep, "").replace('"', "").replace("\n", "")]
             for row, note in rows]
    data = csv_text(cells, sep)
    with_fast = load_sessions(data, today=TODAY)
    original = reading._read_csv_fast
    try:
        reading._read_csv_fast = lambda utf8, separator: None  # every file through the exact reader
        with_exact = load_sessions(data, today=TODAY)
    finally:
        reading._read_csv_fast = original
    assert with_fast.file_errors == with_exact.file_errors
    pd.testing.assert_frame_equal(with_fast.data, with_exact.data)
    pd.testing.assert_frame_equal(with_fast.rejected, with_exact.rejected)
    pd.testing.assert_frame_equal(with_fast.warnings, with_exact.warnings)


def test_codes_with_leading_zeros_read_the_same_on_both_readers():
    data = b"patient_id,total_units,Extra\n007,200,0012\n7,200,12\n"
    fast = read_table(data)
    quoted = read_table(data + b'P9,100,"two\nlines"\n')  # a quoted line break sends it to the exact reader
    assert fast.frame["patient_id"].tolist() == ["007", "7"]
    assert quoted.frame["patient_id"].tolist() == ["007", "7", "P9"]
    assert fast.frame["Extra"].tolist() == ["0012", "12"] == quoted.frame["Extra"].tolist()[:2]
    assert fast.frame["total_units"].tolist() == ["200", "200"]
