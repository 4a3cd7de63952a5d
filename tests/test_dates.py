"""Dates: ISO, day-first and month-first, order detected from the data or chosen, refused when undecidable."""
import pandas as pd
import pytest

from analytics.dates import AmbiguousDates, detect_order, parse_dates


def s(*values):
    return pd.Series(list(values), dtype="str")


def test_order_read_from_a_day_above_12():
    assert detect_order([s("04/05/2025", "14/03/2025")]) == "dayfirst"
    assert detect_order([s("04/05/2025", "03/14/2025")]) == "monthfirst"
    assert detect_order([s("2025-03-14", "05/05/2025")]) is None


def test_undecidable_dates_are_refused_with_an_example():
    with pytest.raises(AmbiguousDates, match="04/05/2025"):
        detect_order([s("04/05/2025", "01/02/2025")])


def test_both_orders_in_one_file_are_refused():
    with pytest.raises(AmbiguousDates, match="both orders"):
        detect_order([s("14/03/2025", "03/14/2025")])


def test_parse_day_first_month_first_iso_and_month_names():
    values = s("2025-03-14", "14/03/2025", "4.5.2025", "14 Mar 2025", "2025/03/14 10:30", "14-03-25", "")
    parsed, reasons = parse_dates(values, "dayfirst")
    assert parsed.dt.strftime("%Y-%m-%d").tolist()[:6] == [
        "2025-03-14", "2025-03-14", "2025-05-04", "2025-03-14", "2025-03-14", "2025-03-14"]
    assert pd.isna(parsed.iloc[6])
    assert reasons.tolist() == [""] * 7


def test_month_first_when_chosen():
    parsed, reasons = parse_dates(s("04/05/2025", "03/14/2025"), "monthfirst")
    assert parsed.dt.strftime("%Y-%m-%d").tolist() == ["2025-04-05", "2025-03-14"]
    assert reasons.tolist() == ["", ""]


def test_impossible_and_unreadable_dates_have_reasons():
    parsed, reasons = parse_dates(s("31/02/2025", "yesterday", "2025-13-01", "14/03/2025"), "monthfirst")
    assert parsed.isna().tolist() == [True, True, True, True]
    assert reasons.tolist() == [
        "not a real calendar date when read month-first",
        "not a date (write it as 2025-03-14, or 14/03/2025 with one order for the whole file)",
        "not a real calendar date when read month-first",
        "not a real calendar date when read month-first",
    ]
