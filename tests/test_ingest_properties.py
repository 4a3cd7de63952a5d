"""Property tests: random bytes, random CSV text and corrupted valid files never crash the importer,
never raise anything but a clear refusal, and never lose a row."""
import string
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingest import load_assessments, load_sessions
from tests.helpers import HEADER, csv_bytes, good_row

TODAY = date(2026, 11, 25)
CELL = st.text(alphabet=string.ascii_letters + string.digits + " .,;:/-|\"'@+éÄ\t", max_size=12)


def count_data_rows(result) -> None:
    """Accepted + rejected rows = rows in the file, and a refused file has a message and no rows."""
    if result.refused:
        assert result.file_errors and all(isinstance(m, str) and m for m in result.file_errors)
        assert result.n_accepted == 0
    else:
        assert result.n_accepted + result.n_rejected_rows == result.n_rows
        assert set(result.rejected["line"]).isdisjoint(set(result.data["line"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data):
    count_data_rows(load_sessions(data, today=TODAY))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(CELL, min_size=1, max_size=8), min_size=0, max_size=8),
       st.sampled_from([",", ";", "\t", "|"]))
def test_random_csv_text_never_loses_a_row(rows, sep):
    text = sep.join(HEADER) + "\n" + "\n".join(sep.join(r) for r in rows)
    count_data_rows(load_sessions(text.encode("utf-8"), today=TODAY))
    count_data_rows(load_assessments(text.encode("utf-8"), today=TODAY))


VALID = [good_row(f"P{i}", f"2025-0{1 + i % 9}-1{i % 9}", ["Botox", "Dysport", "Xeomin"][i % 3],
                  str(100 + 10 * i), str(i % 11), str((i * 3) % 11)) for i in range(12)]


@settings(max_examples=130, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 5), CELL), max_size=10),
       st.sampled_from([",", ";"]), st.booleans())
def test_corrupted_valid_files_lose_nothing(edits, sep, bom):
    rows = [list(r) for r in VALID]
    for row, column, value in edits:
        rows[row][column] = value.replace(sep, "").replace("\n", "")
    result = load_sessions(csv_bytes(rows, sep=sep, bom=bom), today=TODAY)
    count_data_rows(result)
    if not result.refused:
        untouched = {row for row in range(12)} - {row for row, _, _ in edits}
        seen = set(result.data["line"]) | set(result.rejected["line"])
        joined = {n for start, end in result.spans.items() if start in set(result.rejected["line"])
                  for n in range(start, end + 1)}
        # a row nobody touched is accepted or rejected, or a stray quote joined it to a rejected row
        for row in untouched:
            assert row + 2 in seen | joined
