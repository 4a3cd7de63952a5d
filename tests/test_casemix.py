"""analytics.casemix and the case-mix adjusted funnel: strata, exact expected rates by indirect standardisation,
statsmodels' saturated binomial GLM as the oracle, and a practitioner who looks worse only for their case mix."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analytics.casemix import (
    NO_SEVERITY, casemix_caption, casemix_strata, expected_outcome, severity_band, stratum_rates,
)
from analytics.funnel import funnel, funnel_groups, patient_units


def test_severity_bands_pain_twstrs_and_missing():
    s = pd.DataFrame({
        "baseline_pain": [4, 5, 6, 7, 8, 9, 10, 0, np.nan, np.nan, 7],
        "response_pct": [10.0, 10, 10, 10, 10, 10, 10, np.nan, np.nan, np.nan, np.nan],
        "baseline_twstrs": [np.nan] * 7 + [29, 30, np.nan, 60],
        "indication": ["cervical_dystonia"] * 10 + [None],
    })
    assert severity_band(s).tolist() == ["pain 0-4", "pain 5-6", "pain 5-6", "pain 7-8", "pain 7-8", "pain 9-10",
                                         "pain 9-10", "TWSTRS 0-29", "TWSTRS 30-44", NO_SEVERITY, "TWSTRS 60-87"]
    strata = casemix_strata(s)
    assert strata.iloc[0] == "cervical_dystonia / pain 0-4" and strata.iloc[-1] == "(not recorded) / TWSTRS 60-87"
    # without response_pct (hand-made tables) a recorded baseline pain decides
    assert severity_band(pd.DataFrame({"baseline_pain": [9.0, np.nan]})).tolist() == ["pain 9-10", NO_SEVERITY]


def test_stratum_rates_weighted_by_hand():
    outcome = [1, 0, 1, 1, 0]
    strata = ["a", "a", "a", "b", "b"]
    weights = [0.5, 0.5, 1.0, 1.0, 0.25]
    rates = stratum_rates(outcome, strata, weights)
    assert rates["a"] == pytest.approx(1.5 / 2.0) and rates["b"] == pytest.approx(1.0 / 1.25)
    np.testing.assert_allclose(expected_outcome(outcome, strata, weights), [0.75, 0.75, 0.75, 0.8, 0.8])


def test_saturated_binomial_glm_predicts_the_same_rates():
    rng = np.random.default_rng(4)
    strata = rng.choice(["cd / pain 5-6", "cd / pain 9-10", "neck / pain 7-8", "neck / TWSTRS 30-44"], 400)
    outcome = (rng.random(400) < np.where(np.char.find(strata.astype(str), "9-10") >= 0, 0.3, 0.7)).astype(float)
    weights = 1.0 / rng.integers(1, 8, 400)
    design = pd.get_dummies(pd.Series(strata), dtype=float)
    glm = sm.GLM(outcome, design, family=sm.families.Binomial(), var_weights=weights).fit()
    np.testing.assert_allclose(expected_outcome(outcome, strata, weights), glm.fittedvalues, atol=1e-8)


def hand_clinic() -> pd.DataFrame:
    """Two strata (indication cd / neck, all pain 5-6). X: x1 (cd: R, N), x2 (neck: R); Y: y1 (cd: R),
    y2 (neck: N N)."""
    rows = [("X", "x1", "cd", True), ("X", "x1", "cd", False), ("X", "x2", "neck", True),
            ("Y", "y1", "cd", True), ("Y", "y2", "neck", False), ("Y", "y2", "neck", False)]
    s = pd.DataFrame(rows, columns=["practitioner_id", "patient_id", "indication", "responder"])
    s["responder"] = s["responder"].astype("boolean")
    s["has_response"] = True
    s["baseline_pain"] = 6.0
    s["response_pct"] = 10.0
    return s


def test_indirect_standardisation_exact_expected_rates():
    # weights 1/m: x1's sessions 1/2 each, x2 1, y1 1, y2's 1/2 each.
    # stratum cd: (0.5 * 1 + 0.5 * 0 + 1 * 1) / (0.5 + 0.5 + 1) = 0.75; neck: (1 * 1 + 0.5 * 0 * 2) / 2 = 0.5
    s = hand_clinic()
    units = patient_units(s, "practitioner_id", "casemix").set_index("patient_id")
    assert units["e"].to_dict() == pytest.approx({"x1": 0.75, "x2": 0.5, "y1": 0.75, "y2": 0.5})
    assert units["y"].to_dict() == pytest.approx({"x1": 0.5, "x2": 1.0, "y1": 1.0, "y2": 0.0})
    g = funnel_groups(s, "practitioner_id", "casemix")[0].set_index("group")
    assert g.loc["X", "expected_rate"] == pytest.approx(0.625) and g.loc["Y", "expected_rate"] == pytest.approx(0.625)
    assert g.loc["X", "rate"] == pytest.approx(0.75) and g.loc["Y", "rate"] == pytest.approx(0.5)
    # sum of expected = sum of observed over the clinic (the weights make it exact)
    assert units["e"].sum() == pytest.approx(units["y"].sum())
    # unequal case mix: Z sees x1 and x2's strata, W only the neck
    s2 = s.assign(practitioner_id=["Z", "Z", "W", "Z", "W", "W"])
    g2 = funnel_groups(s2, "practitioner_id", "casemix")[0].set_index("group")
    # units: Z/x1 (e 0.75), Z/y1 (0.75); W/x2 (0.5), W/y2 (0.5)
    assert g2.loc["Z", "expected_rate"] == pytest.approx(0.75) and g2.loc["W", "expected_rate"] == pytest.approx(0.5)
    assert g2.loc["Z", "adjusted_rate"] == pytest.approx(0.625 + 0.75 - 0.75)
    assert g2.loc["W", "adjusted_rate"] == pytest.approx(0.625 + 0.5 - 0.5)


def severe_case_mix(seed: int = 1) -> pd.DataFrame:
    """Twelve practitioners with the same skill; PR00 sees mostly severe patients (pain 9-10), who respond less
    often everywhere (35% against 75%). One session per patient to keep it simple."""
    rng = np.random.default_rng(seed)
    practitioner = np.repeat([f"PR{i:02d}" for i in range(12)], 150)
    severe_share = np.where(practitioner == "PR00", 0.9, 0.2)
    severe = rng.random(len(practitioner)) < severe_share
    responder = rng.random(len(practitioner)) < np.where(severe, 0.35, 0.75)
    return pd.DataFrame({"practitioner_id": practitioner, "patient_id": [f"P{i}" for i in range(len(practitioner))],
                         "indication": "cervical_dystonia", "baseline_pain": np.where(severe, 9.0, 6.0),
                         "response_pct": 20.0, "has_response": True, "responder": responder})


def test_a_practitioner_with_severe_patients_is_not_accused_once_adjusted():
    """Fails on the starting code (no case-mix adjustment): PR00 is 'below 99.8%' on raw rates."""
    s = severe_case_mix()
    raw = funnel(s, "practitioner_id", "none")["groups"].set_index("group")
    assert raw.loc["PR00", "beyond"] == "99.8" and raw.loc["PR00", "direction"] == "low"
    adjusted = funnel(s, "practitioner_id")
    g = adjusted["groups"].set_index("group")
    assert adjusted["adjust"] == "casemix"
    assert g.loc["PR00", "beyond"] is None
    assert g.loc["PR00", "expected_rate"] < 0.45 < g.loc["PR01", "expected_rate"]


def test_captions_say_what_was_and_was_not_adjusted_for():
    words = casemix_caption("casemix", "practitioner")
    assert "indication and baseline severity" in words and "Not adjusted for dose, product, cycle number" in words
    assert "not adjusted for case mix" in casemix_caption("none", "site")
    result = funnel(hand_clinic(), "practitioner_id")
    assert result["caption"].startswith("Adjusted for case mix") and "Limits not widened" in result["caption"]
