"""Funnel plot of responder rate by practitioner or site, with exact binomial limits (Spiegelhalter 2005).

Why a funnel and not a league table: small groups vary more by chance, so each group is judged against limits
for its own size instead of being ranked.

Overall rate p0 = all responders / all sessions with a response (every group, the "not recorded" one too).
For a group with n sessions with a response, the limit for cumulative probability p (0.025 and 0.975 for 95%,
0.001 and 0.999 for 99.8%) is Spiegelhalter's interpolated binomial quantile (Stat Med 2005;24:1185-1202,
appendix A.1.1):
    r_p   = the smallest r with P(R <= r) >= p for R ~ Bin(n, p0)          (= scipy.stats.binom.ppf(p, n, p0))
    alpha = (P(R <= r_p) - p) / (P(R <= r_p) - P(R <= r_p - 1))
    limit = (r_p - alpha) / n,  clipped to [0, 1]
The interpolation turns the step function r_p / n into a smooth funnel; it always lies in [(r_p - 1)/n, r_p/n].
When p0 is 0 or 1 there is no variation and every limit equals p0.
A group is outside a limit only when strictly beyond it. For responder rate "above" is the better side.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from analytics.sessions import group_labels
LEVELS = {"95": 0.95, "998": 0.998}  # 95% and 99.8% two-sided


def binomial_limit(n, p0: float, prob) -> np.ndarray:
    """Spiegelhalter's interpolated binomial limit on the rate scale for cumulative probability `prob`."""
    n = np.asarray(n, dtype="float64")
    prob = np.asarray(prob, dtype="float64")
    n, prob = np.broadcast_arrays(n, prob)
    valid = n > 0
    safe_n = np.where(valid, n, 1.0)
    if not 0.0 < p0 < 1.0:
        return np.where(valid, float(p0), np.nan) if np.isfinite(p0) else np.full(n.shape, np.nan)
    r = stats.binom.ppf(prob, safe_n, p0)
    at_r = stats.binom.cdf(r, safe_n, p0)
    below_r = stats.binom.cdf(r - 1, safe_n, p0)
    alpha = (at_r - prob) / (at_r - below_r)
    limit = np.clip((r - alpha) / safe_n, 0.0, 1.0)
    return np.where(valid, limit, np.nan)


def funnel_limits(n, p0: float) -> pd.DataFrame:
    """95% and 99.8% limits for each n: n, lower_95, upper_95, lower_998, upper_998."""
    n = np.atleast_1d(np.asarray(n, dtype="float64"))
    out = {"n": n}
    for name, level in LEVELS.items():
        tail = (1.0 - level) / 2.0
        out[f"lower_{name}"] = binomial_limit(n, p0, tail)
        out[f"upper_{name}"] = binomial_limit(n, p0, 1.0 - tail)
    return pd.DataFrame(out)


def funnel_curve(p0: float, n_max: int, n_min: int = 1, points: int = 200) -> pd.DataFrame:
    """The limits over a grid of whole n from n_min to n_max (about `points` of them, log-spaced) for drawing."""
    n_max = max(int(n_max), int(n_min), 1)
    grid = np.unique(np.round(np.geomspace(max(int(n_min), 1), n_max, num=max(int(points), 2))))
    table = funnel_limits(grid, p0)
    table["p0"] = p0
    return table


def funnel_groups(sessions: pd.DataFrame, by: str = "practitioner_id") -> pd.DataFrame:
    """One row per group: counts, rate, the limits at its n and where it falls (inside, above or below).

    Columns: group_by, group, patients, sessions, n (sessions with a response), responders, rate, p0,
    lower_95, upper_95, lower_998, upper_998, outside_95, outside_998, direction ('above' / 'below' when outside
    the 95% limits, else ''), position ('above 99.8%', 'above 95%', 'inside', 'below 95%', 'below 99.8%').
    """
    has_response = sessions["has_response"].astype("boolean").fillna(False)
    responder = sessions["responder"].astype("boolean").fillna(False) & has_response
    frame = pd.DataFrame({
        "group": group_labels(sessions, by),
        "patient_id": sessions["patient_id"],
        "n": has_response.astype("int64"),
        "responders": responder.astype("int64"),
    })
    groups = (frame.groupby("group", sort=True)
              .agg(patients=("patient_id", "nunique"), sessions=("patient_id", "size"),
                   n=("n", "sum"), responders=("responders", "sum"))
              .reset_index())
    total_n = int(groups["n"].sum())
    p0 = groups["responders"].sum() / total_n if total_n > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(groups["n"] > 0, groups["responders"] / groups["n"].where(groups["n"] > 0), np.nan)
    limits = funnel_limits(groups["n"].to_numpy(), p0)
    groups = pd.concat([groups, limits.drop(columns="n")], axis=1)
    groups.insert(0, "group_by", by)
    groups["rate"] = rate
    groups["p0"] = p0
    above_998 = groups["rate"] > groups["upper_998"]
    below_998 = groups["rate"] < groups["lower_998"]
    above_95 = groups["rate"] > groups["upper_95"]
    below_95 = groups["rate"] < groups["lower_95"]
    groups["outside_95"] = above_95 | below_95
    groups["outside_998"] = above_998 | below_998
    groups["direction"] = np.select([above_95, below_95], ["above", "below"], default="")
    groups["position"] = np.select([above_998, above_95, below_998, below_95],
                                   ["above 99.8%", "above 95%", "below 99.8%", "below 95%"], default="inside")
    columns = ["group_by", "group", "patients", "sessions", "n", "responders", "rate", "p0", "lower_95",
               "upper_95", "lower_998", "upper_998", "outside_95", "outside_998", "direction", "position"]
    return groups[columns].astype({"patients": "int64", "sessions": "int64", "n": "int64", "responders": "int64"})


def funnel_outliers(groups: pd.DataFrame) -> pd.DataFrame:
    """The groups outside the 95% limits, furthest out first (99.8% before 95%), then by rate distance to p0."""
    out = groups.loc[groups["outside_95"].astype("boolean").fillna(False)].copy()
    out["_distance"] = (out["rate"] - out["p0"]).abs()
    out = out.sort_values(["outside_998", "_distance"], ascending=[False, False], kind="stable")
    return out.drop(columns="_distance").reset_index(drop=True)


def funnel(sessions: pd.DataFrame, by: str = "practitioner_id", points: int = 200) -> dict:
    """Everything the funnel view draws: p0, the group table, the limit curve and the outliers."""
    groups = funnel_groups(sessions, by)
    p0 = float(groups["p0"].iloc[0]) if len(groups) else np.nan
    n_max = int(groups["n"].max()) if len(groups) else 1
    return {
        "by": by,
        "p0": p0,
        "n": int(groups["n"].sum()),
        "responders": int(groups["responders"].sum()),
        "groups": groups,
        "curve": funnel_curve(p0, max(n_max, 2), points=points),
        "outliers": funnel_outliers(groups),
    }
