"""Funnel plot comparing practitioners, sites, products or indications: patient-level responder rates, limits that
allow for sessions clustering within patients and for variation between groups beyond chance, optionally adjusted
for case mix (Spiegelhalter 2005, Stat Med 24:1185 and Qual Saf Health Care 14:347; NHS Digital SHMI method).

Why not the binomial limits on sessions: a patient's sessions are strongly alike (responder intra-class
correlation about 0.6, 6-7 sessions each), so sessions are not independent trials, and binomial limits on
sessions are far too narrow (on null data 5 of 12 practitioners fell outside 95%). Here the unit is the patient.

The figures (docs/metrics.md "Comparing practitioners or sites"):
* unit i = one patient within one group (a patient seen by two practitioners is a unit of each), with m_i >= 1
  sessions with a response there; y_i = the patient's responder share over those sessions.
* observed rate O_g = mean of y_i over the group's units (each patient counts once); overall rate = mean of y_i
  over every unit.
* expected rate E_g: without adjustment the overall rate; with case mix (analytics.casemix) each session's
  expected outcome is its stratum's rate over the whole clinic, weighted 1/m_i, e_i = the mean over the unit's
  sessions, E_g = mean of e_i. The weights make sum(E) = sum(O) over the clinic, exactly.
* null standard error s_g = sigma sqrt(1/n_g - 1/N), n_g = the group's units, N every unit, sigma^2 = sum over
  every unit of (y_i - e_i)^2 / (N - 1): the clinic-wide spread of patient-level values around their expected
  values. The -1/N: the group is part of the clinic its expected rate comes from (it matters for 3 sites).
* z_g = (O_g - E_g) / s_g. Overdispersion (Spiegelhalter 2005 QSHC): z winsorised at its 10th and 90th
  percentiles (linear interpolation), phi = mean(z_w^2). With at least MIN_GROUPS_FOR_DISPERSION groups and
  phi > 1 + 2 sqrt(2 / I), the limits are widened by the additive random-effects variance (DerSimonian-Laird
  from the winsorised z, as SHMI): tau^2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w)), w = 1 / s_g^2.
  Otherwise tau^2 = 0 (with fewer groups tau cannot be estimated usefully, and one real outlier would widen the
  limits enough to hide itself).
* limits on the rate scale around the group's own expected rate: E_g -/+ z_p sqrt(s_g^2 + tau^2), z_p = 1.96
  (95%) and 3.09 (99.8%), clipped to [0, 1]. beyond = "99.8" when O_g is strictly outside the 99.8% limits, "95"
  when outside the 95% ones only; direction "high" / "low".
* for drawing, the adjusted rate = overall + (O_g - E_g) against n_g, with the funnel overall -/+ z_p
  sqrt(sigma^2 (1/n - 1/N) + tau^2): a point is outside a drawn line exactly when the group is beyond that limit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.casemix import casemix_caption, casemix_codes, expected_outcome
from analytics.sessions import group_labels

Z = {"95": 1.959963984540054, "998": 3.090232306167813}  # scipy.stats.norm.ppf(0.975), norm.ppf(0.999)
MIN_GROUPS_FOR_DISPERSION = 10
WINSOR = 0.10
CASEMIX_BY_DEFAULT = ("practitioner_id", "site")
GROUP_WORDS = {"practitioner_id": "practitioner", "site": "site", "product": "product", "indication": "indication"}


def default_adjust(by: str) -> str:
    """'casemix' for practitioners and sites, 'none' for anything else (product, indication)."""
    return "casemix" if by in CASEMIX_BY_DEFAULT else "none"


def _codes(values) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (in sorted order of the values) and the distinct values."""
    code, uniques = pd.factorize(values, sort=True)
    return code.astype("int64"), np.asarray(uniques, dtype=object)


def _units(sessions: pd.DataFrame, by: str, adjust: str) -> dict:
    """The arrays everything else is built from: the groups (names, patients, sessions) and one entry per unit
    (patient within group with a response): its group code, patient code, m, responders, y and e."""
    has_response = sessions["has_response"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    responder = sessions["responder"].astype("boolean").fillna(False).to_numpy(dtype=bool) & has_response
    group, names = _codes(group_labels(sessions, by))
    patient, patient_names = _codes(sessions["patient_id"].astype("str"))
    k, width = len(names), max(len(patient_names), 1)
    pairs = np.unique(group * width + patient)
    out = {"names": names, "patient_names": patient_names,
           "patients": np.bincount(pairs // width, minlength=k), "sessions": np.bincount(group, minlength=k)}
    keys, cell = np.unique(group[has_response] * width + patient[has_response], return_inverse=True)
    outcome = responder[has_response].astype("float64")
    m = np.bincount(cell, minlength=len(keys)).astype("float64")
    weight = 1.0 / m[cell] if len(cell) else np.zeros(0)
    if adjust == "casemix" and len(cell):
        expected = expected_outcome(outcome, casemix_codes(sessions)[0][has_response], weight)
    else:
        expected = np.full(len(cell), np.average(outcome, weights=weight) if len(cell) else np.nan)
    responders = np.bincount(cell, outcome, minlength=len(keys))
    out.update(group=keys // width, patient=keys % width, m=m, responders=responders, y=responders / np.maximum(m, 1),
               e=np.bincount(cell, expected * weight, minlength=len(keys)))
    return out


def patient_units(sessions: pd.DataFrame, by: str, adjust: str = "casemix") -> pd.DataFrame:
    """One row per patient within a group with at least one session with a response: group, patient_id, m
    (sessions with a response there), responders, y (responder share), e (expected share)."""
    u = _units(sessions, by, adjust)
    return pd.DataFrame({"group": u["names"][u["group"]], "patient_id": u["patient_names"][u["patient"]],
                         "m": u["m"].astype("int64"), "responders": u["responders"].astype("int64"), "y": u["y"],
                         "e": u["e"]})


def winsorised(z, fraction: float = WINSOR) -> np.ndarray:
    """z with values below its `fraction` percentile and above its 1 - fraction percentile set to those
    percentiles (numpy's linear interpolation)."""
    z = np.asarray(z, dtype="float64")
    if len(z) == 0:
        return z
    low, high = np.percentile(z, [100 * fraction, 100 * (1 - fraction)])
    return np.clip(z, low, high)


def dispersion(z, s, min_groups: int = MIN_GROUPS_FOR_DISPERSION) -> dict:
    """Overdispersion of the groups' z-scores and the additive random-effects variance that widens the limits.

    z: each group's (O - E) / s; s: its null standard error. Returns phi (mean winsorised z^2), threshold
    (1 + 2 sqrt(2 / I)), tau2_estimate (DerSimonian-Laird from the winsorised z), tau2 / tau (applied: the estimate
    when phi > threshold and I >= min_groups, else 0), groups (I), applied (bool), reason (words).
    """
    z = np.asarray(z, dtype="float64")
    s = np.asarray(s, dtype="float64")
    keep = np.isfinite(z) & np.isfinite(s) & (s > 0)
    z, s = z[keep], s[keep]
    i = int(len(z))
    out = {"groups": i, "phi": float("nan"), "threshold": float("nan"), "tau2_estimate": float("nan"),
           "tau2": 0.0, "tau": 0.0, "applied": False}
    if i < 2:
        out["reason"] = "too few groups to judge variation between them"
        return out
    phi = float(np.mean(winsorised(z) ** 2))
    w = 1.0 / s ** 2
    tau2_estimate = max(0.0, (i * phi - (i - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    threshold = 1.0 + 2.0 * np.sqrt(2.0 / i)
    out.update(phi=phi, threshold=float(threshold), tau2_estimate=float(tau2_estimate))
    if i < min_groups:
        out["reason"] = (f"only {i} groups: too few to estimate variation between them beyond chance "
                         f"(needs {min_groups}), so the limits allow for chance alone")
    elif phi > threshold:
        out.update(tau2=float(tau2_estimate), tau=float(np.sqrt(tau2_estimate)), applied=True,
                   reason=f"the groups vary more than chance gives (phi {phi:.2f} > {threshold:.2f})")
    else:
        out["reason"] = f"the groups vary no more than chance gives (phi {phi:.2f}, at most {threshold:.2f})"
    return out


def _position(beyond: np.ndarray, direction: np.ndarray) -> np.ndarray:
    words = {("99.8", "high"): "above 99.8%", ("95", "high"): "above 95%", ("99.8", "low"): "below 99.8%",
             ("95", "low"): "below 95%"}
    return np.array([words.get((b, d), "inside") for b, d in zip(beyond, direction)], dtype=object)


def funnel_groups(sessions: pd.DataFrame, by: str = "practitioner_id",
                  adjust: str | None = None) -> tuple[pd.DataFrame, dict]:
    """One row per group and the dispersion dict (see `dispersion`, plus sigma and overall_rate).

    Columns: group_by, group, patients (with any session in the group), sessions, n (patients with a response:
    the units), n_sessions (sessions with a response), responders, rate (observed), expected_rate, adjusted_rate,
    se (null), z, lower_95, upper_95, lower_998, upper_998, beyond ('95', '99.8' or None), direction ('high',
    'low' or None), position (words for the chart: 'inside', 'above 95%', 'below 99.8%', ...).
    """
    adjust = adjust or default_adjust(by)
    u = _units(sessions, by, adjust)
    k = len(u["names"])
    n = np.bincount(u["group"], minlength=k).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = np.bincount(u["group"], u["y"], minlength=k) / n
        expected = np.bincount(u["group"], u["e"], minlength=k) / n
    total = len(u["y"])
    overall = float(u["y"].mean()) if total else np.nan
    sigma2 = float(((u["y"] - u["e"]) ** 2).sum() / (total - 1)) if total > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        # the group is part of the clinic its expected rate comes from: Var(O - E) = sigma^2 (1/n - 1/N)
        se = np.where((n > 0) & (n < total), np.sqrt(sigma2 * (1.0 / n - 1.0 / max(total, 1))), np.nan)
        z = (observed - expected) / se
    spread = dispersion(z, se)
    spread.update(sigma=float(np.sqrt(sigma2)) if np.isfinite(sigma2) else np.nan, overall_rate=overall, units=total)
    total_se = np.sqrt(se ** 2 + spread["tau2"])
    columns = {"group_by": np.full(k, by, dtype=object), "group": u["names"], "patients": u["patients"],
               "sessions": u["sessions"], "n": n.astype("int64"),
               "n_sessions": np.bincount(u["group"], u["m"], minlength=k).astype("int64"),
               "responders": np.bincount(u["group"], u["responders"], minlength=k).astype("int64"),
               "rate": observed, "expected_rate": expected, "adjusted_rate": overall + observed - expected,
               "se": se, "z": z}
    outside = {}
    for level, zp in Z.items():
        low, high = expected - zp * total_se, expected + zp * total_se
        columns[f"lower_{level}"] = np.clip(low, 0.0, 1.0)
        columns[f"upper_{level}"] = np.clip(high, 0.0, 1.0)
        outside[level] = (observed < low, observed > high)
    beyond = np.full(k, None, dtype=object)
    beyond[outside["95"][0] | outside["95"][1]] = "95"
    beyond[outside["998"][0] | outside["998"][1]] = "99.8"
    direction = np.full(k, None, dtype=object)
    direction[outside["95"][1]] = "high"
    direction[outside["95"][0]] = "low"
    table = pd.DataFrame(columns)
    for name, values in (("beyond", beyond), ("direction", direction), ("position", _position(beyond, direction))):
        table[name] = pd.Series(values, dtype=object)  # None stays None (not NaN) for the JSON and the tests
    return table, spread


def funnel_curve(overall: float, sigma: float, tau2: float, n_max: float, total: float = np.inf,
                 points: int = 200) -> pd.DataFrame:
    """The drawn funnel: overall -/+ z sqrt(sigma^2 (1/n - 1/N) + tau^2) over a log-spaced grid of n (patients)
    from 1 to n_max; N = total, the clinic's units."""
    n_max = max(float(n_max), 1.0)
    grid = np.unique(np.geomspace(1.0, n_max, num=max(int(points), 2)))
    se = np.sqrt(sigma ** 2 * np.clip(1.0 / grid - (1.0 / total if total else 0.0), 0.0, None) + tau2)
    out = {"n": grid}
    for level, zp in Z.items():
        out[f"lower_{level}"] = overall - zp * se
        out[f"upper_{level}"] = overall + zp * se
    table = pd.DataFrame(out)
    table["p0"] = overall
    return table


def funnel_outliers(groups: pd.DataFrame) -> pd.DataFrame:
    """The groups beyond the 95% limits, 99.8% first, then the furthest (|z|) first."""
    beyond = groups["beyond"].notna() if "beyond" in groups.columns else pd.Series(False, index=groups.index)
    out = groups.loc[beyond.to_numpy(dtype=bool)].copy()
    out["_far"] = (out["beyond"] == "99.8").astype(int)
    out["_distance"] = pd.to_numeric(out["z"], errors="coerce").abs()
    out = out.sort_values(["_far", "_distance"], ascending=[False, False], kind="stable")
    return out.drop(columns=["_far", "_distance"]).reset_index(drop=True)


def dispersion_words(spread: dict, by_words: str = "group") -> str:
    """The widening of the limits in plain words, for the chart and the caption."""
    if spread.get("applied"):
        return (f"Limits widened for variation between {by_words}s beyond chance: tau = "
                f"{100 * spread['tau']:.1f} percentage points (overdispersion phi = {spread['phi']:.2f}).")
    return f"Limits not widened: {spread.get('reason', 'nothing to compare')}."


def funnel(sessions: pd.DataFrame, by: str = "practitioner_id", adjust: str | None = None,
           points: int = 200) -> dict:
    """Everything the comparison shows, for the Compare page, the report and `python -m analytics compare`.

    adjust: 'casemix' or 'none' (default: casemix for practitioners and sites, none otherwise). Returns by,
    adjust, overall_rate (and p0, the same), n (units), groups (funnel_groups), curve, outliers, dispersion
    (method 'additive' or 'none', value tau applied as a proportion, plus phi, tau2, threshold, reason, sigma),
    and caption (what was adjusted for, how the limits were widened).
    """
    adjust = adjust or default_adjust(by)
    if adjust not in ("casemix", "none"):
        raise ValueError(f"adjust must be 'casemix' or 'none', not {adjust!r}")
    groups, spread = funnel_groups(sessions, by, adjust)
    overall = spread["overall_rate"]
    n_max = float(groups["n"].max()) if len(groups) else 1.0
    curve = funnel_curve(overall, spread["sigma"], spread["tau2"], max(n_max, 2.0), spread["units"], points=points)
    spread = dict(spread, method="additive" if spread["applied"] else "none", value=float(spread["tau"]))
    words = GROUP_WORDS.get(by, "group")
    return {
        "by": by,
        "adjust": adjust,
        "overall_rate": overall,
        "p0": overall,
        "n": int(groups["n"].sum()),
        "groups": groups,
        "curve": curve,
        "outliers": funnel_outliers(groups),
        "dispersion": spread,
        "caption": casemix_caption(adjust, words) + " " + dispersion_words(spread, words),
    }
