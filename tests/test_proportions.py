"""Confidence intervals: published worked examples, statsmodels cross-checks, edge cases, properties."""
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from analytics.proportions import proportion, rate_table, t_ci, wilson_ci

# Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven methods.
# Stat Med 1998;17:857-872, Table II: Wilson score method (method 3) and exact method (method 5).
NEWCOMBE_WILSON = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("x,n,low,high", NEWCOMBE_WILSON)
def test_wilson_matches_newcombe_1998(x, n, low, high):
    lo, hi = wilson_ci(x, n)
    assert round(float(lo), 4) == low
    assert round(float(hi), 4) == high


def test_wilson_by_hand_formula():
    # 8 of 10 by hand: p = .8, z = 1.959964, z^2 = 3.841459; centre = (.8 + .192073)/1.384146 = .716740
    # half = 1.959964/1.384146 * sqrt(.016 + .009604) = 1.416009 * .160012 = .226579 -> .4902 to .9433
    lo, hi = wilson_ci(8, 10)
    assert lo == pytest.approx(0.490162, abs=1e-5)
    assert hi == pytest.approx(0.943318, abs=1e-5)


def test_wilson_vectorised_matches_statsmodels():
    x = np.array([0, 1, 5, 12, 30, 99, 100])
    n = np.array([10, 10, 11, 40, 30, 100, 100])
    lo, hi = wilson_ci(x, n)
    slo, shi = proportion_confint(x, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, slo, atol=1e-12)
    np.testing.assert_allclose(hi, shi, atol=1e-12)
    lo90, hi90 = wilson_ci(x, n, alpha=0.10)
    slo90, shi90 = proportion_confint(x, n, alpha=0.10, method="wilson")
    np.testing.assert_allclose(lo90, slo90, atol=1e-12)
    np.testing.assert_allclose(hi90, shi90, atol=1e-12)


def test_wilson_ends_and_empty_groups():
    lo, hi = wilson_ci([0, 7, 0], [7, 7, 0])
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert math.isnan(lo[2]) and math.isnan(hi[2])


def test_wilson_accepts_nullable_series():
    x = pd.Series([3, pd.NA, 4], dtype="Int64")
    n = pd.Series([10, 10, 0], dtype="Int64")
    lo, hi = wilson_ci(x, n)
    assert not math.isnan(lo[0])
    assert math.isnan(lo[1]) and math.isnan(lo[2])


def test_wilson_scalar_in_scalar_out():
    lo, hi = wilson_ci(81, 263)
    assert np.ndim(lo) == 0 and np.ndim(hi) == 0


def test_t_ci_by_hand_and_small_n():
    # mean 40, sd 10, n 4: t(0.975, 3) = 3.182446; half = 3.182446 * 10 / 2 = 15.91223
    lo, hi = t_ci(40.0, 10.0, 4)
    assert lo == pytest.approx(24.08777, abs=1e-5)
    assert hi == pytest.approx(55.91223, abs=1e-5)
    lo, hi = t_ci([10.0, 10.0], [np.nan, 2.0], [1, 0])
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_t_ci_matches_statsmodels_on_raw_values():
    # The one t interval (breakdowns, waning by cycle, assessment timelines) against statsmodels on the raw data.
    rng = np.random.default_rng(7)
    for n in (2, 3, 10, 57):
        values = rng.normal(40.0, 15.0, n)
        lo, hi = t_ci(values.mean(), values.std(ddof=1), n)
        slo, shi = DescrStatsW(values).tconfint_mean(alpha=0.05)
        assert lo == pytest.approx(slo, abs=1e-10) and hi == pytest.approx(shi, abs=1e-10)


def test_proportion_and_rate_table():
    assert math.isnan(proportion(0, 0))
    assert proportion(1, 4) == 0.25
    table = rate_table(pd.Series([1, 0], index=["a", "b"]), pd.Series([4, 0], index=["a", "b"]), prefix="x_")
    assert list(table.columns) == ["x_rate", "x_ci_low", "x_ci_high"]
    assert table.loc["a", "x_rate"] == 0.25 and math.isnan(table.loc["b", "x_rate"])
    assert list(rate_table(pd.Series([1]), pd.Series([4]), prefix="x_", rate="share").columns) == [
        "x_share", "x_ci_low", "x_ci_high"]


@hsettings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10_000), st.data(), st.sampled_from([0.01, 0.05, 0.1, 0.2]))
def test_wilson_contains_estimate_and_stays_in_unit_interval(n, data, alpha):
    x = data.draw(st.integers(min_value=0, max_value=n))
    lo, hi = wilson_ci(x, n, alpha)
    p = x / n
    assert 0.0 <= lo <= p <= hi <= 1.0


@hsettings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=500), st.data())
def test_wilson_narrows_with_confidence(n, data):
    x = data.draw(st.integers(min_value=0, max_value=n))
    lo95, hi95 = wilson_ci(x, n, 0.05)
    lo99, hi99 = wilson_ci(x, n, 0.01)
    assert lo99 <= lo95 + 1e-12 and hi95 <= hi99 + 1e-12
