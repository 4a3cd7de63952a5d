"""Funnel plot limits (Spiegelhalter 2005 interpolated binomial quantiles) and the group table."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from scipy import stats

from analytics.funnel import binomial_limit, funnel, funnel_curve, funnel_groups, funnel_limits, funnel_outliers


def test_hand_worked_n10_p_half():
    # Bin(10, .5): F(7) = 968/1024, F(8) = 1013/1024 -> r(.975) = 8,
    # alpha = (1013/1024 - .975) / (45/1024) = 14.6/45, limit = (8 - 14.6/45)/10 = .767556
    assert binomial_limit(10, 0.5, 0.975) == pytest.approx((8 - 14.6 / 45) / 10, abs=1e-12)
    # F(1) = 11/1024, F(2) = 56/1024 -> r(.025) = 2, alpha = (56 - 25.6)/45, limit = (2 - 30.4/45)/10 = .132444
    assert binomial_limit(10, 0.5, 0.025) == pytest.approx((2 - 30.4 / 45) / 10, abs=1e-12)
    # 99.8%: F(8) = 1013/1024 < .999 <= F(9) = 1023/1024 -> r = 9, alpha = (1023 - 1022.976)/10
    assert binomial_limit(10, 0.5, 0.999) == pytest.approx((9 - 0.024 / 10) / 10, abs=1e-12)


@pytest.mark.parametrize("p0", [0.05, 0.3, 0.62, 0.9])
@pytest.mark.parametrize("prob", [0.001, 0.025, 0.975, 0.999])
def test_limit_lies_between_steps_of_scipy_quantile(p0, prob):
    n = np.arange(1, 401)
    r = stats.binom.ppf(prob, n, p0)
    limit = binomial_limit(n, p0, prob)
    assert np.all(limit <= r / n + 1e-12)
    assert np.all(limit >= np.clip((r - 1) / n, 0, 1) - 1e-12)
    # where the cdf sits exactly at prob the interpolation adds nothing: compare on the step function
    at_r = stats.binom.cdf(r, n, p0)
    exact = np.isclose(at_r, prob, rtol=0, atol=1e-15)
    np.testing.assert_allclose(limit[exact], (r / n)[exact])


def test_limits_order_and_degenerate_p0():
    table = funnel_limits([5, 20, 100, 1000], 0.4)
    assert (table["lower_998"] <= table["lower_95"]).all()
    assert (table["lower_95"] <= 0.4).all() and (table["upper_95"] >= 0.4).all()
    assert (table["upper_95"] <= table["upper_998"]).all()
    # the funnel narrows as n grows
    assert table["upper_95"].is_monotonic_decreasing and table["lower_95"].is_monotonic_increasing
    # large n: close to the normal approximation p0 +/- 1.96 sqrt(p0 (1 - p0) / n)
    assert table["upper_95"].iloc[-1] == pytest.approx(0.4 + 1.959964 * np.sqrt(0.24 / 1000), abs=2e-3)
    for p0 in (0.0, 1.0):
        t = funnel_limits([1, 10], p0)
        assert (t.drop(columns="n") == p0).all().all()
    assert funnel_limits([10], np.nan).drop(columns="n").isna().all().all()
    assert np.isnan(binomial_limit(0, 0.5, 0.975))


def test_curve_grid():
    curve = funnel_curve(0.5, 500, points=50)
    assert curve["n"].iloc[0] == 1 and curve["n"].iloc[-1] == 500
    assert curve["n"].is_monotonic_increasing and (curve["n"] == curve["n"].round()).all()
    assert {"lower_95", "upper_95", "lower_998", "upper_998", "p0"} <= set(curve.columns)


def sessions_for(groups: dict[str, tuple[int, int]], patients_per_group: int = 5) -> pd.DataFrame:
    """groups: name -> (sessions with a response, responders); plus one session without a response each."""
    rows = []
    for name, (n, x) in groups.items():
        for i in range(n):
            rows.append({"practitioner_id": name, "patient_id": f"{name}-{i % patients_per_group}",
                         "has_response": True, "responder": i < x})
        rows.append({"practitioner_id": name, "patient_id": f"{name}-0", "has_response": False, "responder": pd.NA})
    frame = pd.DataFrame(rows, columns=["practitioner_id", "patient_id", "has_response", "responder"])
    frame["has_response"] = frame["has_response"].astype(bool)
    frame["responder"] = frame["responder"].astype("boolean")
    frame["practitioner_id"] = frame["practitioner_id"].astype("str")
    return frame


def test_group_table_and_outliers_hand_worked():
    # p0 = (10 + 50 + 90 + 150) / (100 + 100 + 100 + 300) = 300/600 = .5
    s = sessions_for({"low": (100, 10), "mid": (100, 50), "high": (100, 90), "big": (300, 150)})
    groups = funnel_groups(s, "practitioner_id")
    assert groups["group"].tolist() == ["big", "high", "low", "mid"]
    g = groups.set_index("group")
    assert g.loc["low", "n"] == 100 and g.loc["low", "sessions"] == 101 and g.loc["low", "patients"] == 5
    assert g.loc["mid", "p0"] == pytest.approx(0.5)
    assert g.loc["low", "rate"] == pytest.approx(0.1)
    assert g.loc["low", "upper_95"] == pytest.approx(binomial_limit(100, 0.5, 0.975))
    assert g.loc["high", "position"] == "above 99.8%" and g.loc["high", "direction"] == "above"
    assert g.loc["low", "position"] == "below 99.8%" and g.loc["low", "direction"] == "below"
    assert g.loc["mid", "position"] == "inside" and g.loc["mid", "direction"] == ""
    assert not g.loc["big", "outside_95"]
    out = funnel_outliers(groups)
    assert set(out["group"]) == {"high", "low"} and out["outside_998"].all()


def test_between_95_and_998():
    # n = 100, p0 = .5: upper 95% is about .60, upper 99.8% about .65 -> 63 of 100 sits between.
    s = sessions_for({"a": (100, 63), "b": (100, 37), "c": (200, 100)})
    g = funnel_groups(s).set_index("group")
    assert g.loc["a", "position"] == "above 95%" and g.loc["a", "outside_95"] and not g.loc["a", "outside_998"]
    assert g.loc["b", "position"] == "below 95%"


def test_missing_group_empty_group_and_one_group():
    s = sessions_for({"x": (4, 2)})
    s.loc[0, "practitioner_id"] = pd.NA
    groups = funnel_groups(s)
    assert "(not recorded)" in groups["group"].tolist()
    one = funnel(sessions_for({"solo": (7, 3)}))
    assert one["p0"] == pytest.approx(3 / 7) and len(one["groups"]) == 1
    assert one["groups"]["position"].iloc[0] == "inside" and one["outliers"].empty
    no_response = sessions_for({"z": (0, 0)})
    g = funnel_groups(no_response)
    assert g["n"].iloc[0] == 0 and np.isnan(g["rate"].iloc[0]) and not g["outside_95"].iloc[0]
    empty = funnel(sessions_for({}))
    assert empty["groups"].empty and np.isnan(empty["p0"])


def test_by_site():
    s = sessions_for({"a": (10, 5)})
    s["site"] = ["north"] * 5 + ["south"] * 6
    g = funnel_groups(s, "site")
    assert g["group_by"].iloc[0] == "site" and g["sessions"].tolist() == [5, 6]


@hsettings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=2000), st.floats(min_value=0.01, max_value=0.99))
def test_limits_bracket_p0_and_stay_in_unit_interval(n, p0):
    t = funnel_limits([n], p0).iloc[0]
    assert 0.0 <= t["lower_998"] <= t["lower_95"] <= t["upper_95"] <= t["upper_998"] <= 1.0
    assert t["lower_95"] <= p0 + 1.0 / n and t["upper_95"] >= p0 - 1.0 / n
