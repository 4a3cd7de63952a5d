"""analytics.selection: the period and filters every surface applies the same way."""
from __future__ import annotations

from datetime import date

import pandas as pd

from analytics.selection import Selection, by_values, choices, period_bounds, select, unmatched


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": ["a", "a", "b", "c"],
        "session_date": pd.to_datetime(["2025-01-01", "2025-04-01", "2025-04-01", "2025-07-15"]),
        "site": ["North", "South", "North", None],
        "product": ["onabotulinumtoxinA"] * 3 + ["abobotulinumtoxinA"]})


def test_values_and_period_together():
    chosen = Selection("Custom range", date(2025, 2, 1), None, by_values(site=["North"]))
    assert select(frame(), chosen)["patient_id"].tolist() == ["b"]
    assert select(frame(), Selection(values=by_values(site=["South", "North"])))["patient_id"].tolist() == \
        ["a", "a", "b"]
    assert select(frame(), Selection("All data", None, date(2025, 4, 1)))["patient_id"].tolist() == ["a", "a", "b"]


def test_nothing_chosen_keeps_the_frame_itself():
    data = frame()
    assert select(data, Selection("All data")) is data


def test_by_values_sorts_and_drops_blank_choices():
    assert by_values(site=["South", "North"], product=None, indication=[]) == (("site", ("North", "South")),)


def test_words():
    chosen = Selection("Custom range", date(2025, 1, 1), date(2025, 3, 31), by_values(practitioner_id=["DR04"]))
    assert chosen.describe() == "practitioner: DR04"
    assert chosen.describe_dates() == "sessions from 2025-01-01 to 2025-03-31"
    assert Selection().describe() == "all sites, practitioners, products and indications"
    assert Selection(end=date(2025, 3, 31)).describe_dates() == "sessions up to 2025-03-31"


def test_choices_offer_the_values_present():
    offered = choices(frame())
    assert offered["site"] == ["North", "South"] and offered["practitioner_id"] == []


def test_named_periods_end_on_the_as_of_date():
    as_of, first = pd.Timestamp("2026-09-30"), pd.Timestamp("2023-10-01")
    assert period_bounds("Last 6 months", pd.Timestamp("2026-09-15"), first) == (date(2026, 3, 16), date(2026, 9, 15))
    assert period_bounds("All data", as_of, first) == (None, date(2026, 9, 30))
    assert period_bounds("Last 3 months", pd.Timestamp("2026-03-31"), first) == (date(2026, 1, 1), date(2026, 3, 31))


def test_unmatched_names_missing_columns_and_values():
    chosen = Selection(values=by_values(site=["North", "West"], indication=["neck_pain"]))
    assert unmatched(frame(), chosen) == ["no site 'West' in the data (it has: North, South)",
                                          "the data has no indication recorded"]
    assert unmatched(frame(), Selection(values=by_values(site=["North"]))) == []
