"""Waning across cycles: figures by cycle worked by hand, the mixed-model slope, its fallback and sampling."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

import analytics.waning as waning
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from analytics.waning import slope_sentence, waning_by_cycle, waning_slope
from tests.helpers import session_table

S = Settings()


def table(rows: list[dict]) -> pd.DataFrame:
    return derive_sessions(session_table(rows), S)


def session(pid, cycle_index, follow=None, base=10, wearing_off=None, **extra):
    row = {"patient_id": pid, "session_date": pd.Timestamp("2020-01-01") + pd.Timedelta(days=120 * cycle_index),
           "baseline_pain": base, "followup_pain": follow, "wearing_off_days": wearing_off}
    row.update(extra)
    return row


def by_cycle_fixture():
    return table([
        session("a", 0, 7, wearing_off=60), session("a", 1, 9),
        session("b", 0, 5, wearing_off=80), session("b", 1, 8),
        session("c", 0, 3), session("c", 1, None),
        # a TWSTRS-only session in cycle 2: counts in the responder rate, not in the mean response
        {"patient_id": "d", "session_date": "2020-01-01", "baseline_twstrs": 40.0, "followup_twstrs": 30.0},
        {"patient_id": "d", "session_date": "2020-04-30", "baseline_twstrs": 40.0, "followup_twstrs": 38.0},
    ])


def test_by_cycle_means_rates_and_counts_by_hand():
    out = waning_by_cycle(by_cycle_fixture(), S).set_index("cycle")
    one, two = out.loc[1], out.loc[2]
    # cycle 1: pain responses 30, 50, 70 -> mean 50, sd 20; all three respond, and d's TWSTRS drop of 10 too
    assert (one["n_patients"], one["n_sessions"], one["n_pain"], one["n_response"], one["responders"]) == \
        (4, 4, 3, 4, 4)
    half = stats.t.ppf(0.975, 2) * 20 / math.sqrt(3)
    assert one["mean_response_pct"] == pytest.approx(50.0)
    assert (one["mean_ci_low"], one["mean_ci_high"]) == pytest.approx((50 - half, 50 + half))
    assert one["responder_rate"] == 1.0
    assert (one["rate_ci_low"], one["rate_ci_high"]) == pytest.approx(proportion_confint(4, 4, method="wilson"))
    # cycle 2: pain responses 10, 20 (c has no follow-up) -> mean 15; d's drop of 2 points is no response
    assert (two["n_sessions"], two["n_pain"], two["n_response"], two["responders"]) == (4, 2, 3, 0)
    half = stats.t.ppf(0.975, 1) * math.sqrt(50) / math.sqrt(2)
    assert two["mean_response_pct"] == pytest.approx(15.0)
    assert (two["mean_ci_low"], two["mean_ci_high"]) == pytest.approx((15 - half, 15 + half))
    assert two["responder_rate"] == 0.0
    assert (two["rate_ci_low"], two["rate_ci_high"]) == pytest.approx(proportion_confint(0, 3, method="wilson"))


def test_by_cycle_km_median_duration():
    out = waning_by_cycle(by_cycle_fixture(), S).set_index("cycle")
    # cycle 1 responders: a 60 (event), b 80 (event), c censored at the next session (120), d censored at 120
    # S(60) = 3/4, S(80) = 2/4 -> median 80
    assert out.loc[1, "n_duration"] == 4 and out.loc[1, "duration_events"] == 2
    assert out.loc[1, "median_duration_days"] == 80.0
    assert out.loc[2, "n_duration"] == 0 and pd.isna(out.loc[2, "median_duration_days"])


def test_by_cycle_single_value_has_no_interval_and_empty_table():
    out = waning_by_cycle(table([session("a", 0, 5)]), S)
    assert out["mean_response_pct"].tolist() == [50.0]
    assert pd.isna(out["mean_ci_low"].iloc[0]) and pd.isna(out["mean_ci_high"].iloc[0])
    empty = waning_by_cycle(table([session("a", 0, 5)]).iloc[0:0], S)
    assert len(empty) == 0


def simulated(n_patients=300, cycles=6, slope=-3.0, slope_sd=1.0, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        intercept = rng.normal(60, 10)
        own_slope = rng.normal(slope, slope_sd)
        for c in range(cycles):
            rows.append({"patient_id": f"p{p:04d}", "cycle": c + 1,
                         "response_pct": intercept + own_slope * c + rng.normal(0, 5)})
    frame = pd.DataFrame(rows)
    frame["response_pct"] = frame["response_pct"].astype("Float64")
    frame["cycle"] = frame["cycle"].astype("Int64")
    return frame


def test_slope_recovers_a_known_fall_per_cycle_with_random_slopes():
    result = waning_slope(simulated(), S)
    assert result["model"] == "random intercept and slope"
    assert result["slope"] == pytest.approx(-3.0, abs=0.3)
    assert result["ci_low"] < -3.0 < result["ci_high"]
    assert result["n_patients"] == 300 and result["n_sessions"] == 1800 and result["sampled"] is False
    assert result["sentence"].startswith("The typical patient's response falls 3.")
    assert "(95% CI" in result["sentence"]


def test_fallback_to_random_intercept_is_reported(monkeypatch):
    real_fit = waning._fit

    def failing_slope(data, re_formula):
        if re_formula != "1":
            return waning.Fit(None, "forced failure")
        return real_fit(data, re_formula)

    monkeypatch.setattr(waning, "_fit", failing_slope)
    result = waning_slope(simulated(n_patients=80), S)
    assert result["model"] == "random intercept only"
    assert "forced failure" in result["note"] and "fell back to a random intercept only" in result["note"]
    assert result["fallback"] is True and result["fallback_warning"].startswith("The slope model did not fit (no ")
    assert result["slope"] == pytest.approx(-3.0, abs=0.5)


def test_large_data_is_fitted_on_a_reproducible_random_sample_of_patients():
    data = simulated(n_patients=60, slope_sd=0.5)
    first = waning_slope(data, S, max_patients=20)
    second = waning_slope(data, S, max_patients=20)
    assert first["sampled"] is True and first["n_patients"] == 20 and first["n_sessions"] == 120
    assert "random sample of 20 of 60 patients" in first["note"]
    # bfgs alone (the starting code) did not converge here and fell back; a later optimiser of the sequence does
    assert first["model"] == "random intercept and slope" and first["fallback"] is False
    assert first["slope"] == second["slope"]


def test_not_enough_data():
    result = waning_slope(simulated(n_patients=5, cycles=1), S)
    assert result["slope"] is None and result["model"] is None
    assert result["sentence"].startswith("Not enough repeated cycles")
    empty = waning_slope(simulated(n_patients=5).iloc[0:0], S)
    assert empty["slope"] is None and empty["n_patients"] == 0


def test_slope_sentence_wording():
    assert slope_sentence(-2.14, -3.0, -1.3) == \
        "The typical patient's response falls 2.1 points per cycle (95% CI 1.3 to 3.0)."
    assert slope_sentence(-0.4, -1.2, 0.3) == \
        "The typical patient's response falls 0.4 points per cycle (95% CI -0.3 to 1.2)."
    assert slope_sentence(1.5, 0.5, 2.5) == \
        "The typical patient's response rises 1.5 points per cycle (95% CI 0.5 to 2.5)."
