"""Kaplan-Meier: hand-worked tables, edge cases, and agreement with statsmodels' SurvfuncRight."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st
from scipy.stats import norm
from statsmodels.duration.survfunc import SurvfuncRight

from analytics.kaplan_meier import (
    KMMedian, at_risk_at, km_by_group, km_curve, km_curves_by_group, km_median, km_summary, median_from_curve,
    survival_at,
)
from analytics.settings import Settings

Z = norm.ppf(0.975)


def loglog_ci(s: float, se: float) -> tuple[float, float]:
    """The log(-log) interval written out independently: exp(-exp(log(-log S) +- z se / |S log S|))."""
    g = math.log(-math.log(s))
    half = Z * se / abs(s * math.log(s))
    return math.exp(-math.exp(g + half)), math.exp(-math.exp(g - half))


def test_hand_worked_table_with_ties_of_events_and_censorings():
    # times 2 (event + censored), 3 (event), 4 (event + censored), 6 (censored)
    curve = km_curve([2, 2, 3, 4, 4, 6], [True, False, True, True, False, False])
    assert curve["time"].tolist() == [2, 3, 4, 6]
    assert curve["at_risk"].tolist() == [6, 4, 3, 1]  # a censoring at t is still at risk at t
    assert curve["events"].tolist() == [1, 1, 1, 0]
    assert curve["censored"].tolist() == [1, 0, 1, 1]
    expected = [5 / 6, 5 / 6 * 3 / 4, 5 / 6 * 3 / 4 * 2 / 3, 5 / 6 * 3 / 4 * 2 / 3]
    assert curve["survival"].tolist() == pytest.approx(expected, abs=1e-15)
    greenwood = np.cumsum([1 / (6 * 5), 1 / (4 * 3), 1 / (3 * 2), 0.0])
    assert curve["std_err"].tolist() == pytest.approx(list(np.array(expected) * np.sqrt(greenwood)))
    for row in curve.itertuples():
        assert (row.ci_low, row.ci_high) == pytest.approx(loglog_ci(row.survival, row.std_err))
    assert median_from_curve(curve).median == 4.0


def test_median_is_the_first_time_survival_reaches_one_half_inclusive():
    # S = 0.75, 0.5, 0.25, 0: docs/metrics.md takes t = 2 (statsmodels' strict rule would take 3)
    result = km_median([1, 2, 3, 4], [True] * 4)
    assert result.median == 2.0
    assert SurvfuncRight(np.array([1, 2, 3, 4.0]), np.ones(4)).quantile(0.5) == 3.0


def test_km_median_carries_its_counts():
    result = km_median([10, 20, np.nan, 50], [True, False, False, True])  # the missing duration is left out
    assert isinstance(result, KMMedian) and (result.n, result.events) == (3, 2)
    assert result == median_from_curve(km_curve([10, 20, 50], [True, False, True]))


def test_all_censored():
    curve = km_curve([5, 10, 10], [False, False, False])
    assert curve["survival"].tolist() == [1.0, 1.0]
    assert curve["ci_low"].tolist() == [1.0, 1.0] and curve["ci_high"].tolist() == [1.0, 1.0]
    assert km_median([5, 10, 10], [False] * 3) == KMMedian(median=None, ci_low=None, ci_high=None, n=3, events=0)


def test_single_subject_with_an_event():
    curve = km_curve([7], [True])
    assert curve["survival"].tolist() == [0.0]
    assert np.isnan(curve["std_err"].iloc[0]) and np.isnan(curve["ci_low"].iloc[0])
    assert km_median([7], [True]).median == 7.0


def test_single_subject_censored():
    curve = km_curve([7], [False])
    assert curve["survival"].tolist() == [1.0]
    assert km_median([7], [False]).median is None


def test_empty_input():
    curve = km_curve([], [])
    assert len(curve) == 0
    assert list(curve.columns) == ["time", "at_risk", "events", "censored", "survival", "std_err", "ci_low", "ci_high"]
    assert km_median([], []) == KMMedian(median=None, ci_low=None, ci_high=None, n=0, events=0)
    summary = km_summary([], [], Settings())
    assert summary["n"] == 0 and summary["median"] is None and summary["still_benefiting_84d"] is None


def test_missing_durations_are_left_out_and_bad_input_refused():
    curve = km_curve(pd.array([3, None, 5], dtype="Float64"), [True, True, False])
    assert curve["at_risk"].iloc[0] == 2
    with pytest.raises(ValueError):
        km_curve([-1.0], [True])
    with pytest.raises(ValueError):
        km_curve([1.0, 2.0], pd.array([True, None], dtype="boolean"))
    with pytest.raises(ValueError):
        km_curve([1.0, 2.0], [True])


def test_survival_at_reads_the_step_function():
    curve = km_curve([2, 4, 6], [True, True, False])  # S: 2/3 at 2, 1/3 at 4, censored at 6
    at = survival_at(curve, [0, 1.9, 2, 3, 4, 6, 7])
    assert at["survival"].tolist()[:6] == pytest.approx([1, 1, 2 / 3, 2 / 3, 1 / 3, 1 / 3])
    assert np.isnan(at["survival"].iloc[6])  # after the last observation, S is unknown
    ended = survival_at(km_curve([2, 4], [True, True]), [10])
    assert ended["survival"].tolist() == [0.0]  # but known to be 0 once everybody had the event


def test_at_risk_counts():
    assert at_risk_at([1, 2, 2, 5, None], [0, 2, 3, 5, 6]).tolist() == [4, 3, 1, 1, 0]


def test_summary_landmarks():
    durations = [50, 90, 100, 120, 130]
    events = [True, True, False, True, False]
    summary = km_summary(durations, events, Settings(landmark_days=(84, 112)))
    # S(84) = 4/5; S(112) = 4/5 * 3/4 = 0.6 (the censoring at 100 leaves 2 at risk at 120)
    assert summary["still_benefiting_84d"] == pytest.approx(0.8)
    assert summary["still_benefiting_112d"] == pytest.approx(0.6)
    assert summary["at_risk_84d"] == 4 and summary["at_risk_112d"] == 2
    assert summary["n"] == 5 and summary["events"] == 3 and summary["censored"] == 2
    assert summary["median"] == 120.0


def random_sample(rng, n):
    times = rng.integers(1, 40, n).astype(float)  # many ties
    events = rng.random(n) < rng.uniform(0.2, 0.9)
    return times, events


def statsmodels_fit(times, events):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = SurvfuncRight(times, events.astype(float))
        low, high = fit.quantile_ci(0.5)
    return fit, low, high


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_statsmodels_on_random_data_with_ties_and_censoring(seed):
    rng = np.random.default_rng(seed)
    times, events = random_sample(rng, int(rng.integers(5, 150)))
    if not events.any():
        events[0] = True
    curve = km_curve(times, events)
    at_events = curve[curve["events"] > 0]
    fit, low, high = statsmodels_fit(times, events)
    np.testing.assert_allclose(at_events["time"], fit.surv_times)
    np.testing.assert_allclose(at_events["survival"], fit.surv_prob, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(at_events["std_err"], fit.surv_prob_se, rtol=1e-10, equal_nan=True)
    np.testing.assert_array_equal(at_events["at_risk"], fit.n_risk)
    np.testing.assert_array_equal(at_events["events"], fit.n_events)
    # pointwise CI: the cloglog transform applied to statsmodels' own estimate and SE
    for s, se, lo, hi in zip(fit.surv_prob, fit.surv_prob_se, at_events["ci_low"], at_events["ci_high"]):
        if 0 < s < 1 and np.isfinite(se):
            assert (lo, hi) == pytest.approx(loglog_ci(s, se), rel=1e-10)
    result = median_from_curve(curve)
    if not np.isclose(at_events["survival"], 0.5, atol=1e-9).any():  # statsmodels uses S < 0.5 (strict)
        expected = fit.quantile(0.5)
        assert (result.median is None and np.isnan(expected)) or result.median == expected
    if not np.isnan(low):
        assert result.ci_low == low
        assert result.ci_high == (None if np.isinf(high) else high)
    else:  # statsmodels finds no compatible event time
        assert result.ci_low == result.ci_high == result.median


def test_median_ci_when_survival_jumps_across_one_half_in_one_step():
    # 2000 sessions: 800 end at day 10, 800 at day 11, 400 censored at 12: S = 0.6 then 0.2, tiny SE
    times = np.r_[np.full(800, 10.0), np.full(800, 11.0), np.full(400, 12.0)]
    events = np.r_[np.ones(1600, bool), np.zeros(400, bool)]
    result = km_median(times, events)
    fit, low, high = statsmodels_fit(times, events)
    assert result.median == 11.0 and fit.quantile(0.5) == 11.0
    assert np.isnan(low) and np.isnan(high)  # statsmodels gives no interval here
    assert result.ci_low == result.ci_high == 11.0


def test_median_ci_upper_limit_not_reached():
    times = np.arange(1, 21, dtype=float)
    events = np.r_[np.ones(11, bool), np.zeros(9, bool)]
    result = km_median(times, events)
    fit, low, high = statsmodels_fit(times, events)
    assert np.isinf(high)
    assert result.ci_high is None and result.ci_low == low and result.median == 10.0


def derived_table():
    return pd.DataFrame({
        "patient_id": ["a", "a", "b", "c", "d", "e"],
        "product": pd.Series(["x", "x", "y", "y", None, "x"], dtype="str"),
        "duration_days": pd.array([10, 20, 30, 40, None, 50], dtype="Float64"),
        "duration_event": [True, False, True, True, False, True],
    })


def test_km_by_group_overall_and_per_group_with_missing_group():
    overall = km_by_group(derived_table(), None, Settings())
    assert len(overall) == 1
    assert overall["n"].iloc[0] == 5 and overall["n_patients"].iloc[0] == 4 and overall["events"].iloc[0] == 4
    by = km_by_group(derived_table(), "product", Settings())
    assert by["product"].tolist() == ["x", "y"]  # the NA product row has no duration, so no group
    assert by["n"].tolist() == [3, 2]
    assert by["n_patients"].tolist() == [2, 2]
    x = km_median([10, 20, 50], [True, False, True])
    assert by["median"].iloc[0] == x.median
    table = derived_table()
    table.loc[4, "duration_days"] = 60.0
    with_na = km_by_group(table, "product", Settings())
    assert len(with_na) == 3 and with_na["product"].isna().sum() == 1


def test_km_curves_by_group_stacks_tables():
    curves = km_curves_by_group(derived_table(), "product")
    assert list(curves.columns[:2]) == ["product", "time"]
    assert curves.groupby("product")["at_risk"].max().to_dict() == {"x": 3, "y": 2}


def test_km_by_group_on_an_empty_table():
    empty = derived_table().iloc[0:0]
    assert len(km_by_group(empty, "product", Settings())) == 0
    assert len(km_curves_by_group(empty, "product")) == 0


@hyp_settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.booleans()), min_size=1, max_size=60))
def test_property_survival_non_increasing_within_unit_interval_and_inside_its_ci(data):
    times = np.array([t for t, _ in data], dtype=float)
    events = np.array([e for _, e in data])
    curve = km_curve(times, events)
    s = curve["survival"].to_numpy()
    assert np.all(np.diff(s) <= 1e-15)
    assert np.all((s >= 0) & (s <= 1))
    ok = ~np.isnan(curve["ci_low"].to_numpy())
    assert np.all(curve["ci_low"].to_numpy()[ok] <= s[ok] + 1e-12)
    assert np.all(curve["ci_high"].to_numpy()[ok] >= s[ok] - 1e-12)
    assert curve["at_risk"].iloc[0] == len(times)
    assert curve["events"].sum() + curve["censored"].sum() == len(times)
    median = km_median(times, events).median
    if median is not None:
        assert s[curve["time"].to_numpy() == median][0] <= 0.5 + 1e-12
