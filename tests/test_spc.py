"""SPC p-chart and the Making Data Count rules.

Vectors marked NHSR come from nhs-r-community/NHSRplotthedots, tests/testthat/test-ptd_calculate_point_type.R
(the tests of ptd_seven_point_one_side_mean, ptd_part_of_seven_trend, ptd_seven_point_trend, ptd_two_in_three,
ptd_part_of_two_in_three and ptd_special_cause_type), unless another file is named.
"""
import numpy as np
import pandas as pd
import pytest

from analytics.spc import (
    classify,
    close_to_limits,
    monthly_counts,
    outside_limits,
    p_chart,
    p_chart_from_counts,
    part_of_run,
    part_of_two_in_three,
    point_type,
    relative_to_centre,
    rule_outside_limits,
    rule_run,
    rule_trend,
    rule_two_in_three,
    run_end_one_side,
    special_cause_type,
    trend_end,
    two_in_three,
)


def eq(actual, expected):
    np.testing.assert_array_equal(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float))


# --- NHSR vectors ---------------------------------------------------------------------------------------------

def test_nhsr_seven_point_one_side_mean():
    # NHSR: test-ptd_calculate_point_type.R, "ptd_seven_point_one_side_mean works as expected"
    eq(run_end_one_side([]), [])
    eq(run_end_one_side([1] * 6), [0] * 6)
    eq(run_end_one_side([1] * 6 + [-1]), [0] * 7)
    eq(run_end_one_side([1] * 8 + [-1]), [0, 0, 0, 0, 0, 0, 1, 1, 0])
    eq(run_end_one_side([-1] * 8 + [1]), [0, 0, 0, 0, 0, 0, 1, 1, 0])
    # NHSR (same file, "ptd_part_of_seven_trend works as expected", older revision 0b49a46)
    eq(run_end_one_side([-1] + [1] * 8 + [-1]), [0, 0, 0, 0, 0, 0, 0, 1, 1, 0])
    eq(run_end_one_side([1] + [-1] * 8 + [1]), [0, 0, 0, 0, 0, 0, 0, 1, 1, 0])


def test_nhsr_part_of_seven_trend():
    # NHSR: "ptd_part_of_seven_trend works as expected"
    eq(part_of_run([]), [])
    eq(part_of_run([0] * 6), [0] * 6)
    eq(part_of_run([0] * 6 + [1, 0]), [1] * 7 + [0])
    eq(part_of_run([0] * 7 + [1, 0]), [0] + [1] * 7 + [0])
    eq(part_of_run([0] * 6 + [-1, 0]), [1] * 7 + [0])
    eq(part_of_run([0] * 7 + [-1, 0]), [0] + [1] * 7 + [0])


def test_nhsr_seven_point_trend():
    # NHSR: "ptd_seven_point_trend works as expected"
    eq(trend_end([]), [])
    eq(trend_end(range(1, 7)), [0] * 6)
    eq(trend_end([1, 2, 3, 3, 4, 5, 6]), [0] * 7)
    eq(trend_end(range(1, 8)), [0] * 6 + [1])
    eq(trend_end([2, 1, 2, 3, 4, 5, 6, 7, 3]), [0] * 7 + [1, 0])
    eq(trend_end(range(7, 0, -1)), [0] * 6 + [-1])
    eq(trend_end([2, 7, 6, 5, 4, 3, 2, 1, 3]), [0] * 7 + [-1, 0])


def test_nhsr_two_in_three_same_side():
    # NHSR: "ptd_two_in_three works as expected"
    eq(two_in_three([], []), [])
    eq(two_in_three([0, 0, 0], [0]), [0, 0, 0])
    for close in ([1, 0, 1], [0, 1, 1], [1, 1, 0]):
        eq(two_in_three(close, [1, 1, 1]), [1, 1, 1])
    eq(two_in_three([0, 0, 1, 0, 1, 0, 0], [1] * 7), [0, 0, 1, 1, 1, 0, 0])
    eq(two_in_three([0, 0, 1, 1, 0, 0, 0], [1] * 7), [0, 1, 1, 1, 1, 0, 0])


def test_nhsr_two_in_three_opposite_sides():
    # NHSR: "ptd_two_in_three works as expected when points are on opposite sides of the mean"
    for close in ([1, 0, 1], [0, 1, 1], [1, 1, 0]):
        eq(two_in_three(close, [1, -1, 1]), [0, 0, 0])
    eq(two_in_three([0, 0, 1, 0, 1, 0, 0], [1, -1, 1, -1, 1, -1, 1]), [0] * 7)
    eq(two_in_three([0, 0, 1, 1, 0, 0, 0], [-1, 1, -1, 1, -1, 1, -1]), [0] * 7)


@pytest.mark.parametrize("close,rel,expected", [
    # NHSR: "ptd_part_of_two_in_three works as expected"
    ([], [], []),
    ([1, 0, 1], [1, 1, 1], [1, 0, 1]),
    ([0, 1, 1], [1, 1, 1], [0, 1, 1]),
    ([1, 1, 0], [1, 1, 1], [1, 1, 0]),
    ([0, 0, 1, 0, 1, 0, 0], [1] * 7, [0, 0, 1, 0, 1, 0, 0]),
    ([1, 0, 0, 1], [1] * 4, [0, 0, 0, 0]),
    ([1, 0, 0, 1, 1], [1] * 5, [0, 0, 0, 1, 1]),
])
def test_nhsr_part_of_two_in_three(close, rel, expected):
    eq(part_of_two_in_three(two_in_three(close, rel), close), expected)
    eq(rule_two_in_three(close, rel), expected)


def test_nhsr_special_cause_type_precedence():
    # NHSR: "ptd_special_cause_type works as expected" - there the rule results are mocked; here they are passed
    # in directly: trend parts (1, -1, 0...), run parts (0, 0, 1, -1, 0...), 2-in-3 parts (0, 0, 0, 0, 1, 0...).
    labels = classify(
        y=range(1, 9),
        relative=[1, 1, 1, 1, -1, -1, -1, -1],
        outside=[0, 0, 0, 0, 0, 1, -1, 0],
        in_trend=[1, -1, 0, 0, 0, 0, 0, 0],
        in_two_in_three=[0, 0, 0, 0, 1, 0, 0, 0],
        in_run=[0, 0, 1, -1, 0, 0, 0, 0],
    )
    assert list(labels) == [
        "7 Point Trend (Increasing)", "7 Point Trend (Increasing)", "7 Points Above CL", "7 Points Above CL",
        "2 in 3 Below CL", "Below LCL", "Below LCL", "Common Cause",
    ]


def test_nhsr_two_close_points_on_opposite_sides_are_common_cause():
    # NHSR: tests/testthat/test-ptd_spc_standard.R, "it only reports special cause for 2of3 points close to
    # limits when they are on the same side of the mean": 1, -1 repeated 8 times, then points 15, 16 = 5.5, -5.5.
    # Their XmR limits by hand: mean 0; moving ranges 13 x 2, 6.5, 11; mean MR 2.9; 11 >= 3.267 x 2.9 is screened
    # out, so mean MR = 32.5 / 14 = 2.3214; limits +/- 2.66 x 2.3214 = 6.175, near-limit lines +/- 1.7733 x
    # 2.3214 = 4.117. Both last points are close to a limit, on opposite sides.
    y = np.array([1.0, -1.0] * 8)
    y[14], y[15] = 5.5, -5.5
    amr = 32.5 / 14
    rel = relative_to_centre(y, 0.0)
    out = outside_limits(y, -2.66 * amr, 2.66 * amr)
    close = close_to_limits(y, -2 * 2.66 / 3 * amr, 2 * 2.66 / 3 * amr, out)
    eq(close, [0] * 14 + [1, 1])
    types = special_cause_type(y, rel, close, out)
    assert list(point_type(types, 1)[-2:]) == ["common_cause", "common_cause"]


# --- hand-worked vectors ----------------------------------------------------------------------------------------

def test_run_rule_hand_worked():
    # 7 above (a point on the centre line breaks the first attempt), then 3 below.
    rel = [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1]
    eq(rule_run(rel), [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
    eq(rule_run([1, 1, 1, 1, 1, 1]), [0] * 6)  # 6 is not enough
    eq(rule_run([-1] * 9), [1] * 9)  # 9 below: all flagged
    eq(rule_run([1, 1, 1, -1, -1, -1], run_length=3), [1] * 6)  # configurable length


def test_trend_rule_hand_worked():
    eq(rule_trend([5, 1, 2, 3, 4, 5, 6, 7, 7]), [0, 1, 1, 1, 1, 1, 1, 1, 0])  # the tie ends it
    eq(rule_trend([9, 8, 7, 6, 5, 4, 3, 2, 1]), [1] * 9)
    eq(rule_trend([1, 2, 3, 4, 5, 6, 5]), [0] * 7)  # 6 rising points only
    eq(rule_trend([1, 2, 3, np.nan, 5, 6, 7, 8]), [0] * 8)  # a missing value breaks it


def test_two_in_three_and_outside_hand_worked():
    eq(rule_outside_limits([0.1, 0.5, 0.9, 0.8], 0.2, 0.8), [1, 0, 1, 0])  # on the limit is inside
    # close: beyond 2 sigma, not beyond 3 sigma
    eq(close_to_limits([0.75, 0.85, 0.7, 0.25], 0.3, 0.7, [0, 1, 0, 0]), [1, 0, 0, 1])
    # above: close, not close, close -> the two close points flagged; below pair on the opposite side -> not
    eq(rule_two_in_three([1, 0, 1, 0, 1, 1], [1, 1, 1, 1, -1, 1]), [1, 0, 1, 0, 0, 0])


def test_point_type_directions():
    types = ["Above UCL", "Below LCL", "7 Point Trend (Increasing)", "7 Points Below CL", "Common Cause"]
    assert list(point_type(types, 1)) == ["special_cause_improvement", "special_cause_concern",
                                          "special_cause_improvement", "special_cause_concern", "common_cause"]
    assert list(point_type(types, -1))[:2] == ["special_cause_concern", "special_cause_improvement"]
    assert list(point_type(types, 0))[:2] == ["special_cause_neutral_high", "special_cause_neutral_low"]


def test_trend_direction_reads_forward_at_a_shared_turning_point():
    # rising 7 then falling 7 sharing the peak: the peak reads as part of the falling trend (NHSR: right side)
    y = [1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2, 1]
    types = special_cause_type(y, [0] * 13, [0] * 13, [0] * 13)
    assert types[5] == "7 Point Trend (Increasing)"
    assert types[6] == "7 Point Trend (Decreasing)"
    assert types[12] == "7 Point Trend (Decreasing)"


# --- the p-chart ------------------------------------------------------------------------------------------------

def counts(rates_pct, n=100):
    months = pd.date_range("2024-01-01", periods=len(rates_pct), freq="MS")
    n = np.broadcast_to(np.asarray(n), len(rates_pct))
    return pd.DataFrame({"month": months, "n": n, "responders": np.round(np.asarray(rates_pct) * n / 100).astype(int)})


def test_p_chart_hand_worked():
    # n = 100 each month, 600 responders of 1200: centre .5, sigma sqrt(.25/100) = .05,
    # limits .35 and .65, near-limit lines .40 and .60.
    chart = p_chart_from_counts(counts([50, 70, 30, 62, 58, 61, 45, 50, 48, 52, 41, 33]), limits="p")
    assert chart["centre"].iloc[0] == pytest.approx(0.5)
    assert chart["ucl"].iloc[0] == pytest.approx(0.65) and chart["lcl"].iloc[0] == pytest.approx(0.35)
    assert chart["upper_2sigma"].iloc[0] == pytest.approx(0.60)
    assert list(chart["special_cause_type"]) == [
        "Common Cause", "Above UCL", "Below LCL", "2 in 3 Above CL", "Common Cause", "2 in 3 Above CL",
        "Common Cause", "Common Cause", "Common Cause", "Common Cause", "Common Cause", "Below LCL",
    ]
    assert list(chart["point_type"][:4]) == ["common_cause", "special_cause_improvement",
                                            "special_cause_concern", "special_cause_improvement"]
    assert chart["relative_to_centre"].iloc[7] == 0  # exactly on the centre line
    assert chart.attrs["provisional"] is False
    text = chart["explanation"].iloc[1]
    assert text.startswith("Feb 2024: 70 of 100 sessions with a response were responders (70.0%).")
    assert "Above the upper control limit" in text and text.endswith("Special cause: improvement.")
    assert chart["explanation"].iloc[0].endswith("Common cause.")


def test_p_chart_limits_vary_with_n_and_are_clipped():
    # centre (20 + 20) / (25 + 100) = .32; n = 25: sigma = sqrt(.32 x .68 / 25) = .0933 -> ucl .6,
    # lcl .32 - .28 = .04; n = 100: sigma = .046648 -> lcl .180, ucl .460
    chart = p_chart_from_counts(pd.DataFrame({"month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                                              "n": [25, 100], "responders": [20, 20]}), limits="p")
    assert chart["centre"].iloc[0] == pytest.approx(0.32)
    assert chart["ucl"].iloc[0] == pytest.approx(0.32 + 3 * np.sqrt(0.32 * 0.68 / 25))
    assert chart["lcl"].iloc[1] == pytest.approx(0.32 - 3 * np.sqrt(0.32 * 0.68 / 100))
    assert list(chart["rule_outside_limits"]) == [True, False]  # 0.8 > 0.5998
    assert chart.attrs["provisional"] is True
    tiny = p_chart_from_counts(pd.DataFrame({"month": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                                             "n": [1, 1], "responders": [1, 0]}))
    assert tiny["lcl"].min() == 0.0 and tiny["ucl"].max() == 1.0


def test_p_chart_run_of_seven_above():
    chart = p_chart_from_counts(counts([55, 56, 55, 57, 56, 55, 56, 40, 42, 44, 43, 41]))
    assert chart["rule_run"].tolist() == [True] * 7 + [False] * 5
    assert set(chart["point_type"][:7]) == {"special_cause_improvement"}


def test_monthly_counts_and_p_chart_from_sessions():
    dates = ["2024-01-05", "2024-01-20", "2024-01-21", "2024-02-03", "2024-04-01"]
    sessions = pd.DataFrame({
        "patient_id": ["a", "b", "c", "a", "b"],
        "session_date": pd.to_datetime(dates).astype("datetime64[s]"),
        "has_response": [True, True, False, False, True],
        "responder": pd.array([True, False, pd.NA, pd.NA, True], dtype="boolean"),
    })
    got = monthly_counts(sessions)
    assert got["month"].dt.strftime("%Y-%m").tolist() == ["2024-01", "2024-04"]  # Feb: no response recorded
    assert got["n"].tolist() == [2, 1] and got["responders"].tolist() == [1, 1]
    chart = p_chart(sessions, lag_days=0)  # every follow-up due by the as-of date (the last session, 1 Apr)
    assert chart["centre"].iloc[0] == pytest.approx(2 / 3)
    # by default (no followup_days: peak_within_days = 14) April's follow-ups are not all due: provisional
    chart = p_chart(sessions)
    assert chart["provisional"].tolist() == [False, True] and chart["centre"].iloc[0] == pytest.approx(1 / 2)


def test_empty_and_single_month():
    empty = pd.DataFrame({"patient_id": pd.Series([], dtype="str"),
                          "session_date": pd.Series([], dtype="datetime64[s]"),
                          "has_response": pd.Series([], dtype=bool),
                          "responder": pd.Series([], dtype="boolean")})
    chart = p_chart(empty)
    assert len(chart) == 0 and "explanation" in chart
    one = p_chart_from_counts(counts([40]))
    assert one["special_cause_type"].tolist() == ["Common Cause"]
    assert one["relative_to_centre"].tolist() == [0]


def test_chi2_sf_equals_scipys_for_whole_degrees_of_freedom():
    """The dispersion test's p-value without importing scipy on the first page; scipy.stats.chi2 is the oracle."""
    from scipy.stats import chi2

    from analytics.spc import chi2_sf

    for df in (*range(1, 41), 59, 60, 119, 120, 239):
        for x in (1e-6, 0.01, 0.5, 1.0, df * 0.5, df - 1.0, float(df), df + 3.0, 2.0 * df, 5.0 * df + 40.0):
            if x <= 0:
                continue
            expected = float(chi2.sf(x, df))
            assert chi2_sf(x, df) == pytest.approx(expected, rel=1e-9, abs=1e-300), (x, df)
    assert chi2_sf(0.0, 3) == 1.0 and chi2_sf(float("inf"), 3) == 0.0
    with pytest.raises(ValueError):
        chi2_sf(1.0, 0)


def _grouped_monthly_counts(sessions: pd.DataFrame) -> pd.DataFrame:
    """The reference: monthly_counts as pandas' groupby of month timestamps (its definition before issue 12)."""
    has_response = sessions["has_response"].astype("boolean").fillna(False)
    responder = sessions["responder"].astype("boolean").fillna(False) & has_response
    month = pd.to_datetime(sessions["session_date"]).dt.to_period("M").dt.to_timestamp()
    frame = pd.DataFrame({"month": month, "n": has_response.astype(int), "responders": responder.astype(int)})
    counts_ = frame.groupby("month", sort=True)[["n", "responders"]].sum().reset_index()
    counts_ = counts_.loc[counts_["n"] > 0].reset_index(drop=True)
    return counts_.astype({"n": "int64", "responders": "int64"})


@pytest.mark.parametrize("seed", range(6))
def test_monthly_counts_by_month_number_equal_grouped_months(seed):
    """Counting by month number (bincount) gives the grouped table exactly: random dates over 1 to 200 months,
    in any unit, blank dates and blank responses, months with sessions but no response left out."""
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 3_000))
    days = rng.integers(0, int(rng.choice([20, 400, 6_000])), size)
    dates = (pd.Timestamp("1999-12-15") + pd.to_timedelta(days, unit="D")).astype(
        f"datetime64[{rng.choice(['s', 'ms', 'us', 'ns'])}]").to_series().reset_index(drop=True)
    dates[rng.random(size) < 0.05] = pd.NaT
    has_response = pd.array(rng.random(size) < 0.7, dtype="boolean")
    has_response[rng.random(size) < 0.05] = pd.NA
    responder = pd.array(rng.random(size) < 0.6, dtype="boolean")
    responder[rng.random(size) < 0.2] = pd.NA
    sessions = pd.DataFrame({"session_date": dates, "has_response": has_response, "responder": responder})
    pd.testing.assert_frame_equal(monthly_counts(sessions), _grouped_monthly_counts(sessions))
    nothing = sessions.assign(has_response=False)
    assert len(monthly_counts(nothing)) == 0 and list(monthly_counts(nothing).columns) == ["month", "n", "responders"]


@pytest.mark.parametrize("unit", ["D", "s", "ms", "us", "ns"])
def test_month_numbers_are_numpys_months_in_every_unit_and_blank_dates_have_none(unit):
    """month_numbers (a day table) against numpy's own conversion to months, over 1890 to 2090 (days before 1970
    counted down to the right month), at any time of day, with blanks."""
    from analytics.spc import month_numbers

    rng = np.random.default_rng(7)
    seconds = rng.integers(-80 * 365 * 86_400, 120 * 365 * 86_400, 5_000)
    moments = (np.datetime64("1970-01-01T00:00:00", "s") + seconds.astype("timedelta64[s]")).astype(
        f"datetime64[{unit}]")
    moments[::97] = np.datetime64("NaT")
    numbers, known = month_numbers(moments)
    assert known.tolist() == (~np.isnat(moments)).tolist() and (~known).sum() == len(moments[::97])
    expected = moments[known].astype("datetime64[M]").astype("int64")
    assert numbers[known].tolist() == expected.tolist() and (numbers[~known] == 0).all()
    edge = np.array(["1969-12-31T23:59:59.999", "1970-01-01T00:00:00.000", "2024-02-29T23:59:59.999",
                     "2024-03-01T00:00:00.000"], dtype="datetime64[ms]")
    assert month_numbers(edge)[0].tolist() == [-1, 0, 649, 650]
