"""Issue 8, item 6: the muscles' units may miss total_units by rounding: 1 U per muscle with units, or 1% of the
total, whichever is larger. Worked by hand at the boundary."""
from datetime import date

import pytest

from analytics.ingest import load_sessions
from tests.helpers import csv_bytes

TODAY = date(2026, 11, 25)
HEADER = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "muscles"]
MESSAGE = "the muscles' units do not add up to total_units"


def warnings_for(total: str, muscles: str) -> list[tuple]:
    product = "Myobloc" if float(total) > 1000 else "Botox"  # 5000 U is an ordinary rimabotulinumtoxinB dose
    result = load_sessions(csv_bytes([["P1", "2025-03-14", product, total, "6", muscles]], HEADER), today=TODAY)
    assert result.exit_code == 0
    return [tuple(r) for r in result.warnings[["line", "column", "warning", "code"]].itertuples(index=False)]


@pytest.mark.parametrize("total, muscles", [
    ("100", "splenius_capitis:33;trapezius:33;levator_scapulae:33"),  # 99 vs 100: 1 off, tolerance 3
    ("100", "a:34;b:34;c:34"),  # 102 vs 100: 2 off, tolerance 3
    ("100", "a:33;b:33;c:31"),  # 97 vs 100: 3 off, tolerance 3 (at the limit)
    ("62", "a:30;b:30"),  # 60 vs 62: 2 off, tolerance 2 (1 U x 2 muscles, above 1% = 0.62)
    ("500", "a:250;b:245"),  # 495 vs 500: 5 off, tolerance 5 (1% of 500, above 2 U)
    ("5000", "a:2475;b:2475"),  # 4950 vs 5000: 50 off, tolerance 50 (1% of 5000)
    ("100", "a:100"),  # exact
    ("100", "a:99.5"),  # 0.5 off, tolerance 1
    ("100", "a:50;b"),  # b gives no units: no sum to compare
])
def test_rounding_within_the_tolerance_is_no_warning(total, muscles):
    assert warnings_for(total, muscles) == []


@pytest.mark.parametrize("total, muscles", [
    ("100", "a:33;b:33;c:30.9"),  # 96.9 vs 100: 3.1 off, tolerance 3
    ("62.5", "a:30;b:30"),  # 60 vs 62.5: 2.5 off, tolerance 2
    ("500", "a:250;b:244.9"),  # 494.9 vs 500: 5.1 off, tolerance 5
    ("5000", "a:2475;b:2474"),  # 4949 vs 5000: 51 off, tolerance 50
    ("100", "a:98.9"),  # 1.1 off, tolerance 1
    ("100", "a:60;b:60"),  # 120 vs 100: 20 off
])
def test_a_real_mismatch_is_still_a_warning(total, muscles):
    assert warnings_for(total, muscles) == [(2, "muscles", MESSAGE, "muscle_units_mismatch")]


def test_an_ordinary_export_of_whole_number_units_raises_no_warning():
    rows = [["P{}".format(i), "2025-03-14", "Botox", str(total), "6",
             ";".join(f"m{chr(97 + k)}:{round(total / n)}" for k in range(n))]
            for i, (total, n) in enumerate([(100, 3), (200, 3), (150, 4), (175, 6), (95, 7), (300, 9)])]
    result = load_sessions(csv_bytes(rows, HEADER), today=TODAY)
    assert result.exit_code == 0 and result.warnings.empty
