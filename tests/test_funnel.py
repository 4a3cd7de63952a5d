"""analytics.funnel: patient-level units, the null standard error, limits around each group's expected rate,
beyond / direction, against hand-worked cases, a naive loop and statsmodels (cluster-robust WLS)."""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analytics.funnel import Z, default_adjust, funnel, funnel_curve, funnel_groups, funnel_outliers, patient_units


def frame(rows) -> pd.DataFrame:
    """rows: (practitioner, patient, responder: True / False / None for no response)."""
    out = pd.DataFrame(rows, columns=["practitioner_id", "patient_id", "responder"])
    out["has_response"] = out["responder"].notna()
    out["responder"] = out["responder"].astype("boolean")
    return out


# A: a1 R R (y = 1), a2 R N (0.5), a3 N (0), a3 again without a response; B: b1 R R R (1), b2 R (1), b3 N N (0),
# b4 R N N N (0.25). Seven units, sum y = 3.75, overall = 3.75 / 7.
HAND = frame([("A", "a1", True), ("A", "a1", True), ("A", "a2", True), ("A", "a2", False), ("A", "a3", False),
              ("A", "a3", None), ("B", "b1", True), ("B", "b1", True), ("B", "b1", True), ("B", "b2", True),
              ("B", "b3", False), ("B", "b3", False), ("B", "b4", True), ("B", "b4", False), ("B", "b4", False),
              ("B", "b4", False)])


def test_hand_worked_units_rates_and_standard_errors():
    units = patient_units(HAND, "practitioner_id", "none")
    assert units["y"].tolist() == [1.0, 0.5, 0.0, 1.0, 1.0, 0.0, 0.25]
    assert units["m"].tolist() == [2, 2, 1, 3, 1, 2, 4]
    groups, spread = funnel_groups(HAND, "practitioner_id", "none")
    g = groups.set_index("group")
    overall = 3.75 / 7
    assert spread["overall_rate"] == pytest.approx(overall, abs=1e-15)
    assert g.loc["A", "rate"] == pytest.approx(0.5) and g.loc["B", "rate"] == pytest.approx(0.5625)
    np.testing.assert_allclose(g["expected_rate"], overall, rtol=0, atol=1e-15)
    # sum (y - mean)^2 = 3.3125 - 3.75^2 / 7 = 73/56; sigma^2 = 73/336
    assert spread["sigma"] ** 2 == pytest.approx(73 / 336, abs=1e-15)
    # se_A = sqrt(73/336 (1/3 - 1/7)) = sqrt(73) / 42; z_A = (0.5 - 3.75/7) / se_A = -1.5 / sqrt(73)
    assert g.loc["A", "se"] == pytest.approx(math.sqrt(73) / 42, abs=1e-15)
    assert g.loc["A", "z"] == pytest.approx(-1.5 / math.sqrt(73), abs=1e-12)
    assert g.loc["B", "se"] == pytest.approx(math.sqrt(73 / 336 * (1 / 4 - 1 / 7)), abs=1e-15)
    assert g.loc["A", "upper_95"] == pytest.approx(overall + Z["95"] * math.sqrt(73) / 42, abs=1e-12)
    assert g.loc["A", "lower_998"] == pytest.approx(max(0.0, overall - Z["998"] * math.sqrt(73) / 42), abs=1e-12)
    assert g.loc["A", "patients"] == 3 and g.loc["A", "sessions"] == 6 and g.loc["A", "n"] == 3
    assert g.loc["A", "n_sessions"] == 5 and g.loc["A", "responders"] == 3
    assert g["beyond"].isna().all() and g["direction"].isna().all() and (g["position"] == "inside").all()


def single_sessions(counts: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """group -> (patients of one session each, responders among them)."""
    rows = [(name, f"{name}{i}", i < x) for name, (n, x) in counts.items() for i in range(n)]
    return frame(rows)


def test_beyond_998_and_95_and_direction_hand_worked():
    # 15 responders of 30: overall 0.5, sigma^2 = 30 * 0.25 / 29, se = sqrt(7.5/29 * (1/10 - 1/30)) = sqrt(1/58)
    se = math.sqrt(1 / 58)
    g = funnel_groups(single_sessions({"A": (10, 10), "B": (10, 5), "C": (10, 0)}), "practitioner_id", "none")[0]
    g = g.set_index("group")
    assert g.loc["A", "z"] == pytest.approx(0.5 / se) and 0.5 / se > Z["998"]
    assert g.loc["A", "beyond"] == "99.8" and g.loc["A", "direction"] == "high" and g.loc["A", "position"] == \
        "above 99.8%"
    assert g.loc["C", "beyond"] == "99.8" and g.loc["C", "direction"] == "low"
    assert g.loc["B", "beyond"] is None and g.loc["B", "direction"] is None
    assert g.loc["A", "upper_95"] == pytest.approx(0.5 + Z["95"] * se, abs=1e-12)
    g = funnel_groups(single_sessions({"A": (10, 8), "B": (10, 5), "C": (10, 2)}), "practitioner_id", "none")[0]
    g = g.set_index("group")
    assert Z["95"] < 0.3 / se < Z["998"]  # z = 2.28
    assert g.loc["A", "beyond"] == "95" and g.loc["A", "direction"] == "high" and g.loc["A", "position"] == "above 95%"
    assert g.loc["C", "beyond"] == "95" and g.loc["C", "direction"] == "low" and g.loc["C", "position"] == "below 95%"
    out = funnel_outliers(g.reset_index())
    assert set(out["group"]) == {"A", "C"}


def random_sessions(seed: int = 5, patients: int = 120) -> pd.DataFrame:
    """Patients seen by one or two practitioners, some sessions without a response, a missing practitioner."""
    rng = np.random.default_rng(seed)
    sessions = rng.integers(1, 9, patients)
    idx = np.repeat(np.arange(patients), sessions)
    p = rng.beta(0.5, 0.4, patients)
    practitioner = np.array(["PR1", "PR2", "PR3", "PR4", None], dtype=object)[rng.integers(0, 5, len(idx))]
    responder = pd.array(rng.random(len(idx)) < p[idx], dtype="boolean")
    responder[rng.random(len(idx)) < 0.15] = pd.NA
    out = pd.DataFrame({"practitioner_id": practitioner, "patient_id": [f"P{i}" for i in idx],
                        "responder": responder, "indication": np.array(["cd", "neck"])[rng.integers(0, 2, len(idx))],
                        "baseline_pain": rng.integers(3, 11, len(idx)).astype(float)})
    out["has_response"] = out["responder"].notna()
    out["response_pct"] = np.where(out["has_response"], 40.0, np.nan)
    return out


def naive(sessions: pd.DataFrame, by: str) -> dict:
    """The figures by plain Python loops over rows (no adjustment)."""
    cells = defaultdict(list)
    for row in sessions.itertuples(index=False):
        if not row.has_response:
            continue
        group = getattr(row, by) if isinstance(getattr(row, by), str) else "(not recorded)"
        cells[(group, row.patient_id)].append(1.0 if row.responder else 0.0)
    y = {key: sum(v) / len(v) for key, v in cells.items()}
    overall = sum(y.values()) / len(y)
    sigma2 = sum((v - overall) ** 2 for v in y.values()) / (len(y) - 1)
    out = {}
    for group in {g for g, _ in y}:
        values = [v for (g, _), v in y.items() if g == group]
        rate = sum(values) / len(values)
        se = math.sqrt(sigma2 * (1 / len(values) - 1 / len(y)))
        out[group] = {"rate": rate, "n": len(values), "se": se, "upper_95": min(1.0, overall + 1.959963984540054 * se)}
    return {"overall": overall, "sigma2": sigma2, "groups": out}


def test_against_a_naive_loop():
    sessions = random_sessions()
    expected = naive(sessions, "practitioner_id")
    groups, spread = funnel_groups(sessions, "practitioner_id", "none")
    assert spread["overall_rate"] == pytest.approx(expected["overall"], abs=1e-12)
    assert spread["sigma"] ** 2 == pytest.approx(expected["sigma2"], abs=1e-12)
    assert set(groups["group"]) == set(expected["groups"]) and "(not recorded)" in set(groups["group"])
    for row in groups.itertuples():
        want = expected["groups"][row.group]
        assert row.rate == pytest.approx(want["rate"], abs=1e-12) and row.n == want["n"]
        assert row.se == pytest.approx(want["se"], abs=1e-12)
        assert row.upper_95 == pytest.approx(want["upper_95"], abs=1e-12)


def test_standard_errors_against_statsmodels_cluster_robust_wls():
    """The indicator regressed on group dummies, each session weighted 1/m (so each patient counts once),
    clustered by patient-within-group: the coefficients are the groups' rates; on an intercept alone, N times the
    squared cluster-robust SE is sigma^2 (statsmodels' small-sample factor G/(G-1) is the N-1 of sigma^2)."""
    sessions = random_sessions(seed=9)
    kept = sessions.loc[sessions["has_response"]].copy()
    kept["group"] = kept["practitioner_id"].fillna("(not recorded)")
    kept["cell"] = kept["group"] + "|" + kept["patient_id"]
    kept["w"] = 1.0 / kept.groupby("cell")["cell"].transform("size")
    y = kept["responder"].astype(float).to_numpy()
    cluster = pd.factorize(kept["cell"])[0]
    dummies = pd.get_dummies(kept["group"], dtype=float)
    fit = sm.WLS(y, dummies, weights=kept["w"]).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    groups, spread = funnel_groups(sessions, "practitioner_id", "none")
    g = groups.set_index("group")
    np.testing.assert_allclose(fit.params[g.index].to_numpy(), g["rate"].to_numpy(), atol=1e-12)
    fit0 = sm.WLS(y, np.ones(len(y)), weights=kept["w"]).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    units = len(set(cluster))
    assert fit0.params[0] == pytest.approx(spread["overall_rate"], abs=1e-12)
    assert units * fit0.bse[0] ** 2 == pytest.approx(spread["sigma"] ** 2, rel=1e-10)


def test_missing_group_one_group_empty_and_no_response():
    s = single_sessions({"x": (4, 2)})
    s.loc[0, "practitioner_id"] = None
    groups = funnel(s)["groups"]
    assert "(not recorded)" in groups["group"].tolist()
    one = funnel(single_sessions({"solo": (7, 3)}))
    assert one["overall_rate"] == pytest.approx(3 / 7) and len(one["groups"]) == 1
    assert one["groups"]["position"].iloc[0] == "inside" and one["outliers"].empty  # n = N: nothing to compare
    no_response = frame([("z", "z1", None), ("y", "y1", True), ("y", "y2", False)])
    g = funnel_groups(no_response, "practitioner_id", "none")[0].set_index("group")
    assert g.loc["z", "n"] == 0 and np.isnan(g.loc["z", "rate"]) and g.loc["z", "beyond"] is None
    assert g.loc["z", "patients"] == 1 and g.loc["z", "sessions"] == 1
    empty = funnel(single_sessions({}))
    assert empty["groups"].empty and np.isnan(empty["overall_rate"])


def test_by_site_and_defaults():
    s = single_sessions({"a": (10, 5)})
    s["site"] = ["north"] * 5 + ["south"] * 5
    g = funnel(s, "site")["groups"]
    assert g["group_by"].iloc[0] == "site" and g["sessions"].tolist() == [5, 5]
    assert default_adjust("practitioner_id") == default_adjust("site") == "casemix"
    assert default_adjust("product") == default_adjust("indication") == "none"
    assert funnel(s, "site")["adjust"] == "casemix" and funnel(s, "site", "none")["adjust"] == "none"
    with pytest.raises(ValueError):
        funnel(s, "site", "both")


def test_drawn_curve_matches_each_groups_limits_under_no_adjustment():
    sessions = random_sessions(seed=3, patients=200)
    result = funnel(sessions, "practitioner_id", "none")
    spread = result["dispersion"]
    for row in result["groups"].itertuples():
        curve = funnel_curve(result["overall_rate"], spread["sigma"], spread["tau2"], row.n, spread["units"],
                             points=2)
        assert curve["upper_95"].iloc[-1] == pytest.approx(row.upper_95, abs=1e-12)
        assert curve["lower_998"].iloc[-1] == pytest.approx(row.lower_998, abs=1e-12)
    assert result["curve"]["n"].iloc[0] == 1 and result["curve"]["n"].is_monotonic_increasing
    # the adjusted rate is overall + observed - expected: the raw rate when nothing is adjusted
    np.testing.assert_allclose(result["groups"]["adjusted_rate"], result["groups"]["rate"], atol=1e-12)


def test_a_patient_seen_by_two_practitioners_is_a_unit_of_each():
    s = frame([("A", "p1", True), ("A", "p1", True), ("B", "p1", False), ("B", "p2", True)])
    units = patient_units(s, "practitioner_id", "none").set_index(["group", "patient_id"])
    assert units.loc[("A", "p1"), "y"] == 1.0 and units.loc[("B", "p1"), "y"] == 0.0
    g = funnel(s, adjust="none")["groups"].set_index("group")
    assert g.loc["B", "rate"] == 0.5 and g.loc["B", "patients"] == 2 and g.loc["A", "patients"] == 1


def test_sessions_clustered_in_patients_widen_the_limits():
    """The issue's failure: 12 responders of 20 sessions from 2 patients (10 each, all or nothing) is not the
    same evidence as 20 patients; the old binomial limit at n = 20 sessions called far more groups out."""
    rows = [("A", f"a{p}", p < 3) for p in range(5) for _ in range(8)]  # 3 of 5 patients always respond
    rows += [(g, f"{g}{p}", p < 5) for g in ("B", "C", "D", "E") for p in range(8) for _ in range(8)]
    result = funnel(frame(rows), adjust="none")
    a = result["groups"].set_index("group").loc["A"]
    # 40 sessions, 24 responders (60%) against 62.5%: inside, with limits as wide as 5 patients allow
    assert a["n"] == 5 and a["beyond"] is None
    assert a["upper_95"] - a["lower_95"] > 0.7
