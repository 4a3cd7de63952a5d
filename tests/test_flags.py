"""Diminished / watch flags: each rule and edge worked by hand, the factors, the order and the evidence."""
from __future__ import annotations

import pandas as pd
import pytest

from analytics.flags import FLAG_COLUMNS, diminished_patients, flag_levels, flag_patients
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from tests.helpers import session_table

S = Settings()


def patient(pid: str, pains: list, gap: int = 120, start: str = "2020-01-01", **columns) -> list[dict]:
    """Sessions of one patient every `gap` days; pains are (baseline, followup) pairs, or a pain response in %
    as an int (baseline 10), or None for a session without follow-up. Extra columns are lists."""
    rows = []
    for i, pain in enumerate(pains):
        if pain is None:
            base, follow = 6, None
        elif isinstance(pain, tuple):
            base, follow = pain
        else:
            base, follow = 10, 10 - pain // 10
        row = {"patient_id": pid, "session_date": pd.Timestamp(start) + pd.Timedelta(days=gap * i),
               "baseline_pain": base, "followup_pain": follow}
        for name, values in columns.items():
            row[name] = values[i]
        rows.append(row)
    return rows


def derived(*patients, settings: Settings = S) -> pd.DataFrame:
    return derive_sessions(session_table([row for rows in patients for row in rows]), settings)


def flags_of(*patients, settings: Settings = S) -> dict[str, str]:
    table = flag_patients(derived(*patients, settings=settings), settings)
    return dict(zip(table["patient_id"], table["flag"]))


def test_diminished_when_the_last_two_fall_below_half_of_an_earlier_best():
    # 60, 50 before the last two; last two 20 and 10 are below 30 = 50% of 60
    assert flags_of(patient("a", [60, 50, 20, 10])) == {"a": "diminished"}


def test_exactly_half_is_not_below_half():
    assert flags_of(patient("a", [60, 60, 30, 30])) == {}
    assert flags_of(patient("b", [60, 60, 30, 20])) == {"b": "watch"}  # 30 is not below 30; the latest 20 is
    assert flags_of(patient("c", [60, 60, 20, 30])) == {}  # neither rule: latest 30 is not below 30


def test_best_must_reach_the_responder_threshold():
    # best before the last two is (4-3)/4 = 25% < 30%: never flagged
    assert flags_of(patient("a", [(4, 3), (4, 3), 0, 0])) == {}
    # best exactly 30% reaches it: the last two (10% each) are below 15%
    assert flags_of(patient("b", [30, 30, 10, 10])) == {"b": "diminished"}


def test_sessions_without_follow_up_or_with_zero_baseline_are_skipped():
    assert flags_of(patient("a", [60, None, 20, None, 10])) == {"a": "diminished"}
    assert flags_of(patient("b", [60, (0, 0), 20, (0, 0), 10])) == {"b": "diminished"}
    table = flag_patients(derived(patient("a", [60, None, 20, None, 10])), S)
    assert table["n_responses"].tolist() == [3]
    assert table["latest_cycle"].tolist() == [5]


def test_needs_three_responses_for_diminished_but_two_suffice_for_watch():
    assert flags_of(patient("a", [60])) == {}
    assert flags_of(patient("b", [60, 20])) == {"b": "watch"}
    assert flags_of(patient("c", [60, None, None, 20])) == {"c": "watch"}


def test_watch_is_one_cycle_earlier_than_diminished():
    # 60, 50, 20: the last two (50, 20) are not both below 30, but the latest alone is below half of the
    # reference before it, (60 + 50) / 2 = 55
    assert flags_of(patient("a", [60, 50, 20])) == {"a": "watch"}
    # a later recovery clears both flags
    assert flags_of(patient("b", [60, 50, 20, 40])) == {}


def test_the_best_is_taken_before_the_last_n():
    # the reference before the last two is 40 (the only one); last two 30 and 10: 30 is not below 20 -> not
    # diminished; watch: latest 10 < half of the reference before it, (40 + 30) / 2 = 35 -> watch
    assert flags_of(patient("a", [40, 30, 10])) == {"a": "watch"}
    # a high response inside the last two does not count as the best for diminished
    assert flags_of(patient("b", [40, 90, 10])) == {"b": "watch"}


def test_twstrs_only_patient_is_judged_on_the_drop_in_points():
    rows = []
    for i, (base, follow) in enumerate([(40.0, 25.0), (40.0, 36.0), (40.0, 37.0)]):
        rows.append({"patient_id": "t", "session_date": pd.Timestamp("2020-01-01") + pd.Timedelta(days=120 * i),
                     "baseline_twstrs": base, "followup_twstrs": follow})
    table = flag_patients(derived(rows), S)
    assert table["flag"].tolist() == ["diminished"]
    assert table["measure"].tolist() == ["twstrs"]
    assert table["best_response"].tolist() == [15.0]
    assert table["latest_response"].tolist() == [3.0]
    # the reference is the one earlier drop (15 points); the last two fall 11 and 12 points short of it (>= 8)
    assert table["reference_response"].tolist() == [15.0]
    assert table["shortfall_points"].tolist() == [11.0]
    assert ("below 50% of the reference 15 points and is at least 8 points under it (smallest shortfall 11 points);"
            " reference = the one earlier response, 15 points at cycle 1 (2020-01-01)") in table["evidence"].iloc[0]


def test_longer_last_n_from_settings():
    s = Settings(waning_last_n=3)
    assert flags_of(patient("a", [60, 50, 20, 10]), settings=s) == {"a": "watch"}  # 50 not low
    assert flags_of(patient("b", [60, 20, 20, 10]), settings=s) == {"b": "diminished"}


def test_evidence_columns_of_a_diminished_patient():
    table = flag_patients(derived(patient("a", [60, 70, 20, 10])), S)
    row = table.iloc[0]
    assert list(table.columns) == list(FLAG_COLUMNS)
    assert row["best_response"] == 70.0 and row["best_cycle"] == 2 and row["best_date"] == "2020-04-30"
    assert row["latest_response"] == 10.0 and row["latest_cycle"] == 4
    assert row["ratio"] == pytest.approx(10 / 70)
    assert row["last_responses"] == "20% (cycle 3, 2020-08-28); 10% (cycle 4, 2020-12-26)"
    # the reference is the mean of the two best before the last two: (70 + 60) / 2
    assert row["reference_response"] == 65.0 and row["reference_ratio"] == pytest.approx(10 / 65)
    assert row["second_best_response"] == 60.0 and row["second_best_cycle"] == 1
    assert row["shortfall_points"] == 4.5  # baseline 10 x (65% - 20%)
    assert row["evidence"].startswith(
        "Diminished (pain response): each of the last 2 responses [20% (cycle 3, 2020-08-28); 10% (cycle 4, "
        "2020-12-26)] is below 50% of the reference 65% and leaves the pain at least 2 NRS points worse than the "
        "reference would from the same baseline (smallest shortfall 4.5 points); reference = the mean of the two "
        "best earlier responses, 70% at cycle 2 (2020-04-30) and 60% at cycle 1 (latest/reference 0.15).")
    assert "No listed factor" in row["evidence"]


def test_ties_for_the_best_take_the_most_recent():
    table = flag_patients(derived(patient("a", [60, 60, 20, 10])), S)
    assert table["best_cycle"].tolist() == [2]


def test_frequent_injection_counts():
    days = ["2020-01-01", "2020-01-20", "2020-03-01", "2020-07-01"]  # intervals 19 (booster), 41 (short), 122
    rows = patient("a", [60, 60, 20, 10])
    for row, day in zip(rows, days):
        row["session_date"] = pd.Timestamp(day)
    table = flag_patients(derived(rows), S)
    assert table["short_intervals"].tolist() == [2]
    assert table["boosters"].tolist() == [1]
    assert table["frequent_injections"].tolist() == [True]
    assert "2 interval(s) under 84 days, 1 booster(s) under 28 days" in table["evidence"].iloc[0]


@pytest.mark.parametrize("latest_units, raised", [(120.0, True), (119.0, False), (150.0, True)])
def test_dose_raised_since_the_best_cycle(latest_units, raised):
    table = flag_patients(derived(patient("a", [70, 50, 20, 10], total_units=[100.0, 100.0, 110.0, latest_units])), S)
    assert table["dose_raised"].tolist() == [raised]
    assert table["dose_change_pct"].iloc[0] == pytest.approx(latest_units - 100.0)


def test_a_missing_product_is_not_a_switch():
    d = derived(patient("a", [70, 50, 20, 10]))
    d["product"] = pd.Series([None] * 4, dtype="str")
    table = flag_patients(d, S)
    assert table["product_switch"].tolist() == [False]
    assert table["dose_raised"].tolist() == [False]


def test_product_switch_and_no_dose_comparison_across_products():
    products = ["onabotulinumtoxinA", "onabotulinumtoxinA", "abobotulinumtoxinA", "abobotulinumtoxinA"]
    table = flag_patients(derived(patient("a", [70, 50, 20, 10], product=products,
                                          total_units=[100.0, 100.0, 300.0, 300.0])), S)
    assert table["product_switch"].tolist() == [True]
    assert table["dose_raised"].tolist() == [False]
    # never across products: the best (cycle 1) is compared with the last onabotulinumtoxinA session (cycle 2)
    assert table["dose_change_pct"].tolist() == [0.0]
    assert table["dose_compared_cycle"].tolist() == [2]
    # switched right after the best session: nothing of the same product to compare with
    products = ["onabotulinumtoxinA", "abobotulinumtoxinA", "abobotulinumtoxinA", "abobotulinumtoxinA"]
    table = flag_patients(derived(patient("c", [70, 50, 20, 10], product=products,
                                          total_units=[100.0, 300.0, 300.0, 400.0])), S)
    assert table["dose_raised"].tolist() == [False]
    assert pd.isna(table["dose_change_pct"].iloc[0]) and pd.isna(table["dose_compared_cycle"].iloc[0])
    # a switch away and back between the best and the latest still counts
    products = ["onabotulinumtoxinA", "onabotulinumtoxinA", "abobotulinumtoxinA", "onabotulinumtoxinA"]
    table = flag_patients(derived(patient("b", [70, 50, 20, 10], product=products)), S)
    assert table["product_switch"].tolist() == [True]


@pytest.mark.parametrize("latest, kept, changed", [
    ("splenius_capitis:50;trapezius:30", 1.0, False),
    ("splenius_capitis:60|levator_scapulae:20", 0.5, False),  # exactly half still injected is not "fewer"
    ("scalenes:20", 0.0, True),
    (None, None, False),  # not recorded: no judgement
])
def test_muscle_change(latest, kept, changed):
    muscles = ["splenius_capitis:50;trapezius:30", "x", "y", latest]
    table = flag_patients(derived(patient("a", [70, 50, 20, 10], muscles=muscles)), S)
    value = table["muscles_kept_fraction"].iloc[0]
    assert (pd.isna(value) if kept is None else value == kept)
    assert table["muscle_change"].tolist() == [changed]


def test_muscle_names_are_compared_without_units_or_case():
    muscles = ["Trapezius:30; scalenes:10", "x", "y", "trapezius;SCALENES:15"]
    table = flag_patients(derived(patient("a", [70, 50, 20, 10], muscles=muscles)), S)
    assert table["muscles_kept_fraction"].tolist() == [1.0]


@pytest.mark.parametrize("latest_days, shortened", [(70, True), (71, False)])
def test_duration_shortened_against_the_earlier_median(latest_days, shortened):
    # responders at cycles 1-3 with wearing-off 90, 100, 110 (median 100); the 4th responder lasts latest_days
    rows = patient("a", [70, 60, 60, 60, 10, 10], wearing_off_days=[90, 100, 110, latest_days, None, None])
    table = flag_patients(derived(rows), S)
    assert table["flag"].tolist() == ["diminished"]
    assert table["duration_latest_days"].tolist() == [float(latest_days)]
    assert table["duration_earlier_median_days"].tolist() == [100.0]
    assert table["duration_shortened"].tolist() == [shortened]


def test_censored_durations_do_not_count_as_durations():
    rows = patient("a", [70, 60, 10, 10], wearing_off_days=[100, None, None, None])
    table = flag_patients(derived(rows), S)
    assert table["duration_shortened"].tolist() == [False]
    assert pd.isna(table["duration_earlier_median_days"].iloc[0])


def test_order_diminished_first_then_lowest_ratio_then_more_factors():
    table = flag_patients(derived(
        patient("w1", [60, 50, 10]),  # watch, ratio 1/6
        patient("d1", [60, 50, 20, 20]),  # diminished, ratio 1/3
        patient("d2", [60, 50, 20, 10]),  # diminished, ratio 1/6
        patient("d3", [60, 50, 20, 10], product=["onabotulinumtoxinA"] * 3 + ["abobotulinumtoxinA"]),  # + a factor
        patient("w2", [60, 20]),  # watch, ratio 1/3
    ), S)
    assert table["patient_id"].tolist() == ["d3", "d2", "d1", "w1", "w2"]
    assert table["n_factors"].tolist() == [1, 0, 0, 0, 0]


def test_diminished_patients_list_and_fast_levels():
    d = derived(patient("b", [60, 50, 20, 10]), patient("a", [60, 50, 20, 10]), patient("c", [60, 20]),
                patient("e", [60, 60, 60]))
    assert diminished_patients(d, S) == ["a", "b"]
    levels = flag_levels(d, S)
    assert dict(zip(levels["patient_id"], levels["flag"])) == {"a": "diminished", "b": "diminished", "c": "watch"}


def test_no_flags_and_empty_table():
    empty = flag_patients(derived(patient("a", [60, 60, 60])), S)
    assert len(empty) == 0 and list(empty.columns) == list(FLAG_COLUMNS)
    nothing = derived(patient("a", [60])).iloc[0:0]
    assert len(flag_patients(nothing, S)) == 0
    assert diminished_patients(nothing, S) == []
