"""Overdispersion (Spiegelhalter 2005 QSHC; SHMI): winsorised z, phi, the DerSimonian-Laird tau^2 from the
winsorised z, when it is applied, and the widened limits of the funnel, hand-worked."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.funnel import MIN_GROUPS_FOR_DISPERSION, Z, dispersion, dispersion_words, funnel, winsorised


def test_normal_quantiles():
    assert Z["95"] == pytest.approx(stats.norm.ppf(0.975), abs=1e-14)
    assert Z["998"] == pytest.approx(stats.norm.ppf(0.999), abs=1e-14)


def test_winsorised_at_the_10th_and_90th_percentiles_by_hand():
    # 5 values: the 10th percentile sits 0.4 of the way from -3 to -1 (-2.2), the 90th 0.6 of the way from 1 to 2
    np.testing.assert_allclose(winsorised([-3, -1, 0, 1, 2]), [-2.2, -1, 0, 1, 1.6], atol=1e-12)
    np.testing.assert_allclose(winsorised([0.5] * 4), [0.5] * 4)


def test_phi_and_tau2_not_applied_below_the_threshold():
    d = dispersion([-3, -1, 0, 1, 2], [0.1, 0.1, 0.2, 0.2, 0.1], min_groups=5)
    # phi = (2.2^2 + 1 + 0 + 1 + 1.6^2) / 5 = 9.4 / 5; threshold 1 + 2 sqrt(2/5)
    assert d["phi"] == pytest.approx(1.88, abs=1e-12)
    assert d["threshold"] == pytest.approx(1 + 2 * math.sqrt(0.4), abs=1e-12)
    # w = 100, 100, 25, 25, 100: sum 350, sum w^2 / sum w = 31250 / 350; tau2 = (5 * 1.88 - 4) / (91250 / 350)
    assert d["tau2_estimate"] == pytest.approx(5.4 * 350 / 91250, abs=1e-12)
    assert not d["applied"] and d["tau2"] == 0.0 and d["tau"] == 0.0 and d["groups"] == 5


def test_phi_and_tau2_applied_above_the_threshold():
    d = dispersion([-3, -2, 2, 3, 4], [0.1] * 5, min_groups=5)
    # winsorised: -2.6, -2, 2, 3, 3.6 -> phi = (6.76 + 4 + 4 + 9 + 12.96) / 5 = 7.344
    assert d["phi"] == pytest.approx(7.344, abs=1e-12)
    # w = 100 each: sum w - sum w^2 / sum w = 500 - 100 = 400; tau2 = (5 * 7.344 - 4) / 400 = 0.0818
    assert d["applied"] and d["tau2"] == pytest.approx(0.0818, abs=1e-12)
    assert d["tau"] == pytest.approx(math.sqrt(0.0818), abs=1e-12)
    assert "vary more than chance" in d["reason"]
    assert "tau = 28.6 percentage points" in dispersion_words(d, "practitioner")


def test_too_few_groups_measure_phi_but_do_not_widen():
    d = dispersion([-3, -2, 2, 3, 4], [0.1] * 5)
    assert MIN_GROUPS_FOR_DISPERSION == 10
    assert d["phi"] == pytest.approx(7.344) and not d["applied"] and d["tau2"] == 0.0
    assert "only 5 groups" in d["reason"]
    assert dispersion([1.0], [0.1])["groups"] == 1 and np.isnan(dispersion([1.0], [0.1])["phi"])
    assert dispersion([np.nan, 1.0, 2.0], [0.1, 0.1, np.nan])["groups"] == 1  # groups without a z are left out


def overdispersed(seed: int = 8) -> pd.DataFrame:
    """Twelve practitioners whose true rates really differ (0.3 to 0.9), 60 single-session patients each."""
    rng = np.random.default_rng(seed)
    rates = np.linspace(0.3, 0.9, 12)
    practitioner = np.repeat(np.arange(12), 60)
    return pd.DataFrame({"practitioner_id": [f"PR{i:02d}" for i in practitioner],
                         "patient_id": [f"P{i}" for i in range(len(practitioner))],
                         "has_response": True, "responder": rng.random(len(practitioner)) < rates[practitioner]})


def test_the_funnel_widens_its_limits_by_tau_and_says_so():
    result = funnel(overdispersed(), "practitioner_id", "none")
    spread, g = result["dispersion"], result["groups"]
    assert spread["method"] == "additive" and spread["applied"] and spread["value"] == spread["tau"] > 0.1
    # recomputed from the table: phi from the winsorised z, tau2 by DerSimonian-Laird, limits E -/+ z sqrt(s^2+tau^2)
    z = g["z"].to_numpy()
    s = g["se"].to_numpy()
    phi = np.mean(winsorised(z) ** 2)
    w = 1 / s ** 2
    tau2 = (12 * phi - 11) / (w.sum() - (w ** 2).sum() / w.sum())
    assert spread["phi"] == pytest.approx(phi) and spread["tau2"] == pytest.approx(tau2)
    width = np.sqrt(s ** 2 + tau2)
    np.testing.assert_allclose(g["upper_95"], np.clip(g["expected_rate"] + Z["95"] * width, 0, 1))
    np.testing.assert_allclose(g["lower_998"], np.clip(g["expected_rate"] - Z["998"] * width, 0, 1))
    assert f"tau = {100 * spread['tau']:.1f} percentage points" in result["caption"]
    assert "Limits widened for variation between practitioners beyond chance" in result["caption"]
    # without the widening far more of these twelve would be named
    narrow = (np.abs(z) > Z["95"]).sum()
    assert g["beyond"].notna().sum() < narrow
