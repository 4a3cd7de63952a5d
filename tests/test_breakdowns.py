"""Breakdowns by product, indication, site, practitioner, dose band and cycle: hand-worked groups."""
import math

import pandas as pd
import pytest

from analytics.breakdowns import COLUMNS, DIMENSIONS, breakdown, dose_band, dose_band_edges
from analytics.proportions import wilson_ci
from analytics.suppression import suppress_small_groups
from tests.helpers import make_sessions


ROWS = [
    # patient, product, units, baseline, followup, site, practitioner, cycle, interval, adverse events, onset
    ("a", "onabotulinumtoxinA", 100, 10, 5, "north", "dr1", 1, None, "none", 3),
    ("a", "onabotulinumtoxinA", 150, 10, 8, "north", "dr1", 2, 90, "headache", 5),
    ("b", "onabotulinumtoxinA", 200, 10, 6, "north", "dr2", 1, None, None, 2),
    ("b", "onabotulinumtoxinA", 250, None, None, "south", "dr2", 2, 60, "none", None),
    ("c", "onabotulinumtoxinA", 300, 8, 2, "south", "dr1", 1, None, "none", 7),
    ("c", "onabotulinumtoxinA", 350, 8, 8, "south", "dr1", 2, 100, "dysphagia", None),
    ("d", "abobotulinumtoxinA", 500, 5, 3, "north", None, 1, None, "none", None),
    ("d", "abobotulinumtoxinA", 500, 5, 5, "north", "dr3", 2, 70, "none", None),
    ("e", "abobotulinumtoxinA", 1000, 10, 0, "north", "dr3", 1, None, None, None),
    ("e", "abobotulinumtoxinA", None, 10, 7, "north", "dr3", 2, 84, None, None),
]
KEYS = ("patient_id", "product", "total_units", "baseline_pain", "followup_pain", "site", "practitioner_id",
        "cycle", "interval_days", "adverse_events", "onset_days")


@pytest.fixture
def hand():
    frame = make_sessions([dict(zip(KEYS, row)) for row in ROWS])
    frame["practitioner_id"] = frame["practitioner_id"].where(frame["practitioner_id"] != "None")
    frame["total_units"] = frame["total_units"].astype("float64")
    return frame


def test_product_breakdown_hand_worked(hand):
    t = breakdown(hand, "product")
    assert list(t.columns) == COLUMNS
    assert t["group"].tolist() == ["abobotulinumtoxinA", "onabotulinumtoxinA"]
    abo, ona = t.iloc[0], t.iloc[1]
    assert (abo["sessions"], abo["patients"], abo["sessions_with_response"], abo["responders"]) == (4, 2, 4, 3)
    assert abo["responder_rate"] == pytest.approx(0.75)
    lo, hi = wilson_ci(3, 4)
    assert abo["responder_ci_low"] == pytest.approx(lo) and abo["responder_ci_high"] == pytest.approx(hi)
    assert abo["mean_response_pct"] == pytest.approx(42.5) and abo["median_response_pct"] == pytest.approx(35.0)
    assert abo["onset_n"] == 0 and math.isnan(abo["median_onset_days"])
    assert (abo["intervals"], abo["short_intervals"], abo["short_interval_share"]) == (2, 1, 0.5)
    assert (abo["ae_recorded"], abo["ae_sessions"], abo["ae_rate"]) == (2, 0, 0.0)

    assert (ona["sessions"], ona["patients"], ona["sessions_with_response"], ona["responders"]) == (6, 3, 5, 3)
    assert ona["mean_response_pct"] == pytest.approx(37.0) and ona["median_response_pct"] == pytest.approx(40.0)
    # sd = sqrt(3280 / 4) = 28.63564; t(.975, 4) = 2.776445; half = 2.776445 x 28.63564 / sqrt(5) = 35.5557
    assert ona["response_ci_low"] == pytest.approx(1.4443, abs=1e-3)
    assert ona["response_ci_high"] == pytest.approx(72.5557, abs=1e-3)
    assert ona["onset_n"] == 4 and ona["median_onset_days"] == 4.0
    assert (ona["intervals"], ona["short_intervals"]) == (3, 1)
    assert (ona["ae_recorded"], ona["ae_sessions"], ona["ae_rate"]) == (5, 2, pytest.approx(0.4))


def test_missing_group_last_and_cycle_order(hand):
    prac = breakdown(hand, "practitioner_id")
    assert prac["group"].tolist() == ["dr1", "dr2", "dr3", "(not recorded)"]
    assert prac.set_index("group").loc["(not recorded)", "sessions"] == 1
    cycle = breakdown(hand, "cycle")
    assert cycle["group"].tolist() == ["1", "2"] and cycle["sessions"].tolist() == [5, 5]
    extra = hand.copy()
    extra["cycle"] = pd.array([1, 2, 10, 2, 1, 2, 1, 2, 1, pd.NA], dtype="Int64")
    assert breakdown(extra, "cycle")["group"].tolist() == ["1", "2", "10", "(not recorded)"]


def test_dose_bands_tertiles_within_product(hand):
    edges = dose_band_edges(hand).set_index("product")
    # ona 100..350: 1/3 quantile at position 5/3 -> 183.33, 2/3 at 10/3 -> 266.67
    assert edges.loc["onabotulinumtoxinA", "low_max"] == pytest.approx(550 / 3)
    assert edges.loc["onabotulinumtoxinA", "middle_max"] == pytest.approx(800 / 3)
    # abo 500, 500, 1000: 1/3 -> 500, 2/3 -> 666.67
    assert edges.loc["abobotulinumtoxinA", "low_max"] == pytest.approx(500)
    bands = dose_band(hand)
    assert bands["dose_band"].tolist()[:9] == ["low", "low", "middle", "middle", "high", "high", "low", "low",
                                               "high"]
    assert pd.isna(bands["dose_band"].iloc[9]) and bands["dose_band_label"].iloc[9] == "(not recorded)"
    assert bands["dose_band_label"].iloc[0] == "onabotulinumtoxinA low (<= 183.3 U)"
    assert bands["dose_band_label"].iloc[2] == "onabotulinumtoxinA middle (183.3-266.7 U)"
    t = breakdown(hand, "dose_band")
    assert t["group"].tolist() == [
        "abobotulinumtoxinA low (<= 500 U)", "abobotulinumtoxinA high (> 666.7 U)",
        "onabotulinumtoxinA low (<= 183.3 U)", "onabotulinumtoxinA middle (183.3-266.7 U)",
        "onabotulinumtoxinA high (> 266.7 U)", "(not recorded)",
    ]
    assert t["sessions"].tolist() == [2, 1, 2, 2, 2, 1]


def test_total_row_and_all_dimensions(hand):
    t = breakdown(hand, "site", total=True)
    assert t["group"].tolist() == ["north", "south", "All"] and t["is_total"].tolist() == [False, False, True]
    assert t.iloc[-1]["sessions"] == 10 and t.iloc[-1]["patients"] == 5
    assert t.iloc[-1]["responders"] == 6 and t.iloc[-1]["sessions_with_response"] == 9
    assert DIMENSIONS == ("product", "indication", "site", "practitioner_id", "dose_band", "cycle")
    for by in DIMENSIONS:
        assert breakdown(hand, by)["sessions"].sum() == 10, by


def test_empty_and_one_group():
    empty = make_sessions([{"session_date": "2025-01-01"}]).iloc[:0]
    t = breakdown(empty, "site")
    assert t.empty and list(t.columns) == COLUMNS
    assert breakdown(empty, "dose_band").empty
    one = breakdown(make_sessions([{"patient_id": "a", "baseline_pain": 10, "followup_pain": 2}]), "site")
    assert len(one) == 1 and one["responder_rate"].iloc[0] == 1.0
    assert math.isnan(one["response_ci_low"].iloc[0])  # one value: no t interval


def test_groups_of_exactly_four_and_five_patients_with_suppression():
    rows = []
    for site, patients in (("four", 4), ("five", 5), ("many", 12)):
        for p in range(patients):
            rows.append({"patient_id": f"{site}{p}", "site": site, "baseline_pain": 10, "followup_pain": 5})
            rows.append({"patient_id": f"{site}{p}", "site": site, "baseline_pain": 10, "followup_pain": 9})
    t = breakdown(make_sessions(rows), "site")
    assert t.set_index("group")["patients"].to_dict() == {"five": 5, "four": 4, "many": 12}
    out = suppress_small_groups(t).set_index("group")
    assert out.loc["four", "suppression"] == "fewer than 5 patients"
    assert out.loc["five", "suppression"] == "complementary"  # KPI tiles show the total on the same view
    assert pd.isna(out.loc["four", "responder_rate"]) and pd.isna(out.loc["four", "sessions"])
    assert out.loc["many", "sessions"] == 24 and out.loc["many", "responder_rate"] == 0.5
    alone = suppress_small_groups(t, total_shown=False).set_index("group")
    assert not alone.loc["five", "suppressed"] and alone.loc["five", "patients"] == 5


def test_unknown_dimension_is_one_not_recorded_group(hand):
    t = breakdown(hand.drop(columns="indication"), "indication")
    assert t["group"].tolist() == ["(not recorded)"] and t["sessions"].iloc[0] == 10


def test_km_median_per_group_and_total():
    rows = [
        {"patient_id": "a", "site": "x", "baseline_pain": 10, "followup_pain": 2, "duration_days": 100,
         "duration_event": True},
        {"patient_id": "b", "site": "x", "baseline_pain": 10, "followup_pain": 2, "duration_days": 80,
         "duration_event": False},
        {"patient_id": "c", "site": "y", "baseline_pain": 10, "followup_pain": 2, "duration_days": 50,
         "duration_event": True},
        {"patient_id": "d", "site": "y", "baseline_pain": 10, "followup_pain": 2, "duration_days": 60,
         "duration_event": True},
        {"patient_id": "e", "site": "y", "baseline_pain": 10, "followup_pain": 2, "duration_days": 70,
         "duration_event": True},
        {"patient_id": "f", "site": "z", "baseline_pain": 10, "followup_pain": 9},  # no responder: no duration
    ]
    t = breakdown(make_sessions(rows), "site", km=True, total=True).set_index("group")
    # x: S(80+) = 1, S(100) = 0 -> 100; y: S = 2/3, 1/3 -> 60; all: 50, 60, 70, 80c, 100 -> S(60) = .6, S(70) = .4
    assert t.loc["x", "median_duration_days"] == 100 and t.loc["x", "duration_n"] == 2
    assert t.loc["y", "median_duration_days"] == 60 and t.loc["y", "duration_n"] == 3
    assert t.loc["z", "duration_n"] == 0 and math.isnan(t.loc["z", "median_duration_days"])
    assert t.loc["All", "median_duration_days"] == 70 and t.loc["All", "duration_n"] == 5
