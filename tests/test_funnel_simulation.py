"""Simulation (seeded): on null data with sessions clustered in patients the funnel names about 5% of groups at
95% and about 0.2% at 99.8%, where the starting code's session-level binomial funnel named about a third; a planted
practitioner or site effect of -0.15 is found.

The clinic: patients with a responder probability p ~ Beta (mean 0.6, intra-class correlation 0.6; severe patients,
baseline pain 9-10, a lower mean), 1 + Poisson(5.6) sessions each (6.6 on average), each patient with one of 12
practitioners and one of 3 sites drawn at random. A planted effect multiplies p by 0.75 for that group's patients:
0.15 lower on average.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analytics.funnel import funnel

MEAN, ICC, SEVERE_MEAN, SEVERE_SHARE = 0.6, 0.6, 0.45, 0.3
NULL_CLINICS, NULL_PATIENTS = 80, 600
POWER_RUNS, POWER_PATIENTS = 20, 1000


def clinic(rng, patients: int, effect_on: tuple[str, str] | None = None, effect: float = -0.15) -> pd.DataFrame:
    """One simulated clinic's derived sessions (only the columns the funnel reads), vectorised."""
    severe = rng.random(patients) < SEVERE_SHARE
    mean = np.where(severe, SEVERE_MEAN, (MEAN - SEVERE_SHARE * SEVERE_MEAN) / (1 - SEVERE_SHARE))
    strength = 1 / ICC - 1  # a + b of the beta distribution
    p = rng.beta(mean * strength, (1 - mean) * strength)
    practitioner = np.char.add("PR", rng.integers(0, 12, patients).astype(str))
    site = np.char.add("S", rng.integers(0, 3, patients).astype(str))
    if effect_on is not None:
        column, value = effect_on
        hit = (practitioner if column == "practitioner_id" else site) == value
        p = np.where(hit, p * (1 + effect / MEAN), p)
    sessions = 1 + rng.poisson(5.6, patients)
    idx = np.repeat(np.arange(patients), sessions)
    responder = rng.random(len(idx)) < p[idx]
    pain = np.where(severe[idx], rng.integers(9, 11, len(idx)), rng.integers(4, 9, len(idx)))
    return pd.DataFrame({
        "patient_id": np.char.add("P", idx.astype(str)), "practitioner_id": practitioner[idx], "site": site[idx],
        "indication": np.array(["cervical_dystonia", "neck_pain"])[idx % 2], "baseline_pain": pain.astype(float),
        "response_pct": np.where(responder, 50.0, 10.0), "has_response": True, "responder": responder})


def old_beyond(sessions: pd.DataFrame, by: str) -> tuple[int, int]:
    """The starting code's funnel (commit 3e518cc): every session a binomial trial, Spiegelhalter's interpolated
    binomial limits around the session-level overall rate. Returns (beyond 95%, beyond 99.8%) counts."""
    counts = sessions.groupby(by)["responder"].agg(["sum", "size"])
    x, n = counts["sum"].to_numpy(float), counts["size"].to_numpy(float)
    p0 = x.sum() / n.sum()
    out = []
    for tail in (0.025, 0.001):
        outside = np.zeros(len(n), bool)
        for prob, side in ((tail, -1), (1 - tail, 1)):
            r = stats.binom.ppf(prob, n, p0)
            at_r, below = stats.binom.cdf(r, n, p0), stats.binom.cdf(r - 1, n, p0)
            limit = np.clip((r - (at_r - prob) / (at_r - below)) / n, 0, 1)
            outside |= (x / n - limit) * side > 0
        out.append(int(outside.sum()))
    return out[0], out[1]


@pytest.fixture(scope="module")
def null_counts() -> dict:
    rng = np.random.default_rng(20261201)
    counts = {by: {"groups": 0, "95": 0, "99.8": 0, "old_95": 0, "old_998": 0, "widened": 0}
              for by in ("practitioner_id", "site")}
    for _ in range(NULL_CLINICS):
        sessions = clinic(rng, NULL_PATIENTS)
        for by, c in counts.items():
            result = funnel(sessions, by)
            beyond = result["groups"]["beyond"]
            c["groups"] += len(beyond)
            c["95"] += int(beyond.notna().sum())
            c["99.8"] += int((beyond == "99.8").sum())
            c["widened"] += int(result["dispersion"]["applied"])
            old95, old998 = old_beyond(sessions, by)
            c["old_95"] += old95
            c["old_998"] += old998
    return counts


def test_simulated_clinics_have_the_clustering_of_the_issue():
    sessions = clinic(np.random.default_rng(7), 4000)
    per_patient = sessions.groupby("patient_id").size()
    assert 6.3 < per_patient.mean() < 6.9
    # one-way ANOVA estimate of the responder intra-class correlation
    y = sessions["responder"].astype(float)
    k = len(per_patient)
    n0 = (len(y) - (per_patient ** 2).sum() / len(y)) / (k - 1)
    means = y.groupby(sessions["patient_id"]).transform("mean")
    msb = ((means - y.mean()) ** 2).sum() / (k - 1)
    msw = ((y - means) ** 2).sum() / (len(y) - k)
    icc = (msb - msw) / (msb + (n0 - 1) * msw)
    assert 0.5 < icc < 0.7


def test_null_share_beyond_95_is_about_5_percent(null_counts):
    for by, c in null_counts.items():
        share = c["95"] / c["groups"]
        assert 0.02 <= share <= 0.08, (by, share)


def test_null_share_beyond_998_is_about_0_2_percent(null_counts):
    for by, c in null_counts.items():
        assert c["99.8"] / c["groups"] <= 0.01, by


def test_the_starting_codes_binomial_funnel_accuses_by_chance_on_the_same_data(null_counts):
    """The issue's failure, reproduced: about a third of practitioners and sites beyond 95% (about 4 of 12 per
    clinic), more than one in ten beyond 99.8%."""
    practitioners = null_counts["practitioner_id"]
    assert practitioners["old_95"] / practitioners["groups"] > 0.25
    assert practitioners["old_95"] / NULL_CLINICS > 3.0  # per clinic of 12
    assert practitioners["old_998"] / practitioners["groups"] > 0.08
    assert null_counts["site"]["old_95"] / null_counts["site"]["groups"] > 0.25
    for c in null_counts.values():
        assert c["old_95"] > 4 * c["95"]


@pytest.mark.parametrize("by, planted", [("practitioner_id", "PR0"), ("site", "S0")])
def test_a_planted_effect_of_minus_0_15_is_found(by, planted):
    """A clinic of 1,000 patients (about 6,600 sessions): found beyond 95%, low, in at least 16 of 20 runs."""
    rng = np.random.default_rng(11 if by == "site" else 12)
    found = 0
    for _ in range(POWER_RUNS):
        groups = funnel(clinic(rng, POWER_PATIENTS, (by, planted)), by)["groups"].set_index("group")
        found += groups.loc[planted, "beyond"] is not None and groups.loc[planted, "direction"] == "low"
    assert found >= 16, found
