"""Repeated assessments: change from baseline by day and group, by hand and on the real cdystonia trial."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.assessments import timeline
from analytics.settings import Settings
from tests.helpers import CDYSTONIA

S = Settings()


def test_twstrs_change_ci_and_responders_by_hand():
    data = pd.DataFrame({
        "patient_id": ["a", "a", "b", "b", "c", "c", "d"],
        "days_after": [0, 14, 0, 14, 0, 14, 14],  # d has no baseline: left out
        "twstrs": [40, 30, 50, 43, 30, 31, 10],
    })
    out = timeline(data, "twstrs", None, S)
    assert list(out.columns) == ["days_after", "n", "mean_change", "ci_low", "ci_high", "responder_share", "responders"]
    day0, day14 = out.iloc[0], out.iloc[1]
    assert (day0["days_after"], day0["n"], day0["mean_change"]) == (0, 3, 0.0)
    assert day14["n"] == 3
    changes = np.array([-10.0, -7.0, 1.0])
    assert day14["mean_change"] == pytest.approx(changes.mean())
    half = stats.t.ppf(0.975, 2) * changes.std(ddof=1) / math.sqrt(3)
    assert (day14["ci_low"], day14["ci_high"]) == pytest.approx((changes.mean() - half, changes.mean() + half))
    assert day14["responders"] == 1 and day14["responder_share"] == pytest.approx(1 / 3)  # only a drop of 10 >= 8


def test_pain_responder_share_excludes_zero_baselines():
    data = pd.DataFrame({
        "patient_id": ["a", "a", "b", "b", "c", "c"],
        "week": [0, 2, 0, 2, 0, 2],  # week x 7 = days
        "pain": [10, 7, 8, 6, 0, 0],
        "arm": ["x", "x", "x", "x", "x", "x"],
    })
    out = timeline(data, "pain", "arm", S)
    row = out.loc[out["days_after"] == 14].iloc[0]
    assert row["arm"] == "x" and row["n"] == 3
    assert row["mean_change"] == pytest.approx((-3 - 2 + 0) / 3)
    assert row["responders"] == 1 and row["responder_share"] == pytest.approx(0.5)  # 30% yes, 25% no; c excluded


def test_baseline_is_per_injection_when_sessions_are_given():
    data = pd.DataFrame({
        "patient_id": ["a"] * 4,
        "session_id": ["s1", "s1", "s2", "s2"],
        "days_after": [0, 14, 0, 14],
        "twstrs": [40, 30, 20, 18],
    })
    out = timeline(data, "twstrs", None, S)
    assert out.loc[out["days_after"] == 14, "mean_change"].iloc[0] == pytest.approx((-10 - 2) / 2)


def test_days_from_assessment_dates():
    data = pd.DataFrame({
        "patient_id": ["a", "a"],
        "session_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
        "assessment_date": pd.to_datetime(["2024-01-01", "2024-01-22"]),
        "twstrs": [40, 30],
    })
    assert timeline(data, "twstrs", None, S)["days_after"].tolist() == [0.0, 21.0]


def test_pgic_and_missing_columns():
    with pytest.raises(ValueError):
        timeline(pd.DataFrame({"patient_id": ["a"], "days_after": [0], "pgic": [3]}), "pgic", None, S)
    assert len(timeline(pd.DataFrame({"patient_id": ["a"], "days_after": [0], "pain": [3]}), "twstrs", None, S)) == 0


def test_reproduces_the_cdystonia_readme_figures():
    trial = pd.read_csv(CDYSTONIA)
    trial = trial.rename(columns={"patient": "patient_id"})
    trial["days_after"] = trial["week"] * 7
    out = timeline(trial, "twstrs", "treat", S)
    expected = {
        "10000U": [-10.6, -12.0, -8.1, -3.1, 1.6],
        "5000U": [-9.6, -9.1, -6.9, -3.5, -1.1],
        "Placebo": [-3.7, -4.4, -2.4, -1.8, -0.6],
    }
    for arm, means in expected.items():
        rows = out.loc[(out["treat"] == arm) & (out["days_after"] > 0)].sort_values("days_after")
        assert rows["days_after"].tolist() == [14, 28, 56, 84, 112]
        assert rows["mean_change"].round(1).tolist() == means
        assert (rows["ci_low"] < rows["mean_change"]).all() and (rows["mean_change"] < rows["ci_high"]).all()
    week4 = out.loc[out["days_after"] == 28].set_index("treat")["responder_share"]
    assert (week4 * 100).round(0).to_dict() == {"10000U": 67.0, "5000U": 54.0, "Placebo": 29.0}
