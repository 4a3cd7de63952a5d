"""The waning effect across cycles (docs/metrics.md "Across cycles"): figures by cycle and the change per cycle.

Why: later injections may be less dramatic than the first; the clinic needs to see whether, and how fast, the
typical response falls as cycles accumulate, with the uncertainty and the counts behind every figure.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.kaplan_meier import km_by_group
from analytics.proportions import proportion, t_ci, wilson_ci
from analytics.sessions import numeric
from analytics.settings import DEFAULT_SETTINGS, Settings

#: Above this many patients the mixed model is fitted on a random sample of patients (seed below).
MAX_MODEL_PATIENTS = 1_000
MODEL_SEED = 20240101

#: A by-cycle chart draws only the cycles with at least this many patients. Why 20 and not the suppression
#: threshold (5): later cycles hold ever fewer patients, the few who stay on treatment longest and do best, so the
#: chart used to end with 5-patient cycles at 100%: true of those five, but read as "the effect grows". With 20
#: patients a responder rate's 95% interval is at most about +/- 20 points (Wilson), narrow enough to read a trend
#: from; every cycle stays in the table under the chart.
MIN_CYCLE_PATIENTS = 20

BY_CYCLE_COLUMNS = (
    "cycle", "n_patients", "n_sessions",
    "n_pain", "mean_response_pct", "mean_ci_low", "mean_ci_high",
    "n_response", "responders", "responder_rate", "rate_ci_low", "rate_ci_high",
    "n_duration", "duration_events", "median_duration_days", "duration_ci_low", "duration_ci_high",
)


def waning_by_cycle(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """Per cycle: mean response_pct (95% t CI), responder rate (Wilson 95% CI), KM median duration, with counts.

    n_sessions counts every session of the cycle; n_pain the sessions with a pain response (the mean's n);
    n_response the sessions with any response (the rate's denominator); n_duration the responder sessions
    (the KM population). A cycle with no sessions of a kind gets NaN (NA) for that figure.
    """
    if len(derived) == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in BY_CYCLE_COLUMNS})
    cycle = derived["cycle"].to_numpy(dtype="int64")
    pct = numeric(derived, "response_pct")
    has_response = derived["has_response"].to_numpy(dtype=bool)
    responder = derived["responder"].to_numpy(dtype=bool, na_value=False) & has_response
    frame = pd.DataFrame({
        "cycle": cycle, "patient_id": derived["patient_id"].to_numpy(), "pct": pct,
        "has_response": has_response, "responder": responder,
    })
    grouped = frame.groupby("cycle", sort=True)
    out = pd.DataFrame({
        "n_patients": grouped["patient_id"].nunique(),
        "n_sessions": grouped.size(),
        "n_pain": grouped["pct"].count(),
        "mean_response_pct": grouped["pct"].mean(),
        "sd": grouped["pct"].std(ddof=1),
        "n_response": grouped["has_response"].sum(),
        "responders": grouped["responder"].sum(),
    }).reset_index()
    low, high = t_ci(out["mean_response_pct"].to_numpy(), out["sd"].to_numpy(), out["n_pain"].to_numpy())
    out["mean_ci_low"], out["mean_ci_high"] = low, high
    n_resp = out["n_response"].to_numpy(dtype="int64")
    k = out["responders"].to_numpy(dtype="int64")
    out["responder_rate"] = proportion(k, n_resp)
    out["rate_ci_low"], out["rate_ci_high"] = wilson_ci(k, n_resp)

    km = km_by_group(derived, "cycle", settings)
    km = km.rename(columns={"n": "n_duration", "events": "duration_events", "median": "median_duration_days",
                            "median_ci_low": "duration_ci_low", "median_ci_high": "duration_ci_high"})
    km = km[["cycle", "n_duration", "duration_events", "median_duration_days", "duration_ci_low",
             "duration_ci_high"]]
    km["cycle"] = km["cycle"].astype("int64")
    out = out.merge(km, on="cycle", how="left")
    out["n_duration"] = out["n_duration"].fillna(0).astype("int64")
    out["duration_events"] = out["duration_events"].fillna(0).astype("int64")
    out = out[list(BY_CYCLE_COLUMNS)]
    for column in ("mean_response_pct", "mean_ci_low", "mean_ci_high", "responder_rate", "rate_ci_low",
                   "rate_ci_high", "median_duration_days", "duration_ci_low", "duration_ci_high"):
        out[column] = pd.array(out[column].astype("float64"), dtype="Float64")
    for column in ("n_patients", "n_sessions", "n_pain", "n_response", "responders"):
        out[column] = out[column].astype("int64")
    return out


def cycles_to_chart(by_cycle: pd.DataFrame, min_patients: int = MIN_CYCLE_PATIENTS) -> tuple[pd.DataFrame, str]:
    """The rows of a by-cycle table a chart draws, and one short line saying what it leaves out.

    Kept: cycles with at least min_patients patients that small-number suppression did not blank (a "suppressed"
    column, when the table went through analytics.suppression). The line: '' when nothing is left out; "Shown:
    cycles 1 to 18, each with at least 20 patients; the 20 later cycles have fewer (see the table)." when the
    left-out cycles all come after the last one kept (the usual case); otherwise "Shown: the 17 cycles with at
    least 20 patients; 3 others have fewer (see the table)."
    """
    if len(by_cycle) == 0:
        return by_cycle, ""
    patients = pd.to_numeric(by_cycle["n_patients"], errors="coerce").fillna(0).to_numpy()
    suppressed = by_cycle["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool) \
        if "suppressed" in by_cycle.columns else np.zeros(len(by_cycle), dtype=bool)
    keep = (patients >= min_patients) & ~suppressed
    shown, left_out = by_cycle.loc[keep], by_cycle.loc[~keep]
    if len(left_out) == 0:
        return shown, ""
    if len(shown) == 0:
        return shown, f"No cycle has {min_patients} or more patients (see the table)."
    cycles = shown["cycle"].astype("int64")
    others = len(left_out)
    if int(left_out["cycle"].astype("int64").min()) > int(cycles.max()) and \
            list(cycles) == list(range(int(cycles.min()), int(cycles.max()) + 1)):
        later = "the later cycle has" if others == 1 else f"the {others} later cycles have"
        return shown, (f"Shown: cycles {int(cycles.min())} to {int(cycles.max())}, each with at least {min_patients} "
                       f"patients; {later} fewer (see the table).")
    return shown, (f"Shown: the {len(shown)} cycle{'s' if len(shown) != 1 else ''} with at least {min_patients} "
                   f"patients; {others} other{'s have' if others != 1 else ' has'} fewer (see the table).")


#: The optimisers tried in turn for the random-slope model (each from scratch, with its own iteration limit),
#: before any fallback to a random intercept only: lbfgs converges on most clinic data once the cycle is
#: standardised; bfgs, then the derivative-free powell and Nelder-Mead, rescue the rest.
SLOPE_OPTIMISERS = (("lbfgs", 300), ("bfgs", 300), ("powell", 500), ("nm", 2000))
_PROBLEM_WORDS = ("boundary", "positive definite", "singular")


@dataclass(frozen=True)
class Fit:
    """One model fitted: the statsmodels result (None when every optimiser raised), what was wrong with it
    (None: nothing), the optimiser that gave it, and every optimiser tried with its outcome."""

    result: object | None
    problem: str | None
    optimiser: str | None = None
    tried: tuple[str, ...] = ()


def _standardised(data: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """The data with x = (cycle0 - mean) / sd, and sd. The slope per cycle is the slope per x divided by sd (the
    random intercept and slope model, with its unstructured covariance, is the same model for any shift and scale
    of the cycle), and the optimisers converge far more often on a covariate of unit spread."""
    sd = float(data["cycle0"].std(ddof=0)) or 1.0
    return data.assign(x=(data["cycle0"] - float(data["cycle0"].mean())) / sd), sd


def _attempt(model, method: str | None, maxiter: int | None):
    """One fit with one optimiser (None: statsmodels' default sequence): (result or None, the problems found)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            options = {} if method is None else {"method": method, "maxiter": maxiter}
            result = model.fit(reml=True, **options)
        except (np.linalg.LinAlgError, ValueError, OverflowError) as error:
            return None, [f"the fit failed ({error})"]
    messages = [str(w.message).split("\n")[0] for w in caught]
    problems = [m for m in messages if any(word in m.lower() for word in _PROBLEM_WORDS)]
    if not getattr(result, "converged", True):
        problems.append("the optimiser did not converge")
    se = float(result.bse_fe.get("x", np.nan))
    if not np.isfinite(se) or not np.isfinite(float(result.fe_params.get("x", np.nan))):
        problems.append("the slope's standard error is not finite")
    return result, list(dict.fromkeys(problems))


def _fit(data: pd.DataFrame, re_formula: str) -> Fit:
    """Fit response ~ x (the standardised cycle) with the given random part.

    The random-slope model ("~x") tries the optimisers of SLOPE_OPTIMISERS in turn until one converges; the fit
    is kept when it has no problem (not singular, not on the boundary, a positive definite Hessian, a finite
    slope). A fit that converged with such a problem is returned with it at once: another optimiser would find
    the same degenerate estimate. The random-intercept model ("1") uses statsmodels' default sequence.
    """
    import statsmodels.formula.api as smf  # noqa: PLC0415 - heavy import, only when a model is asked for

    try:
        model = smf.mixedlm("response_pct ~ x", data, groups=data["patient_id"], re_formula=re_formula)
    except (np.linalg.LinAlgError, ValueError) as error:
        return Fit(None, f"the model could not be set up ({error})")
    plan = ((None, None),) if re_formula == "1" else SLOPE_OPTIMISERS
    tried, last = [], Fit(None, "no optimiser was tried")
    for method, maxiter in plan:
        result, problems = _attempt(model, method, maxiter)
        name = method or "statsmodels default"
        if not problems:
            return Fit(result, None, name, tuple(tried + [f"{name}: converged"]))
        tried.append(f"{name}: {'; '.join(problems)}")
        last = Fit(result, "; ".join(problems), name, tuple(tried))
        if result is not None and getattr(result, "converged", False):
            break  # converged to a singular or boundary fit: the estimate itself is degenerate, not the search
    return Fit(last.result, last.problem, last.optimiser, tuple(tried))


def waning_slope(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS,
                 max_patients: int = MAX_MODEL_PATIENTS, seed: int = MODEL_SEED) -> dict:
    """Change in response_pct per extra cycle from a linear mixed model (REML), with its 95% CI.

    Model: response_pct ~ cycle with a random intercept and a random slope per patient, fitted on the
    standardised cycle (the same model, better conditioned) with the optimisers of SLOPE_OPTIMISERS in turn
    (lbfgs, bfgs, powell, Nelder-Mead). Only when none of them gives a clean fit (converged, not singular, not on
    the boundary) is the random-intercept model used instead: then `fallback` is True and `fallback_warning`
    says, for the screen, that the interval comes from a simpler model and may be too narrow (a random-intercept
    model ignores that patients wane at different rates). Only sessions with a pain response enter. With more
    than max_patients patients, a random sample of max_patients patients (numpy default_rng(seed), all their
    sessions) is used, and the result says so. Returns slope, ci_low, ci_high, p_value, n_patients,
    n_sessions, model, optimiser, optimisers_tried, fallback, fallback_warning, note, sampled, sentence.
    """
    pct = numeric(derived, "response_pct") if len(derived) else np.array([])
    keep = ~np.isnan(pct)
    data = pd.DataFrame({
        "patient_id": derived["patient_id"].to_numpy()[keep] if len(derived) else [],
        "cycle0": (derived["cycle"].to_numpy(dtype="float64")[keep] - 1.0) if len(derived) else [],
        "response_pct": pct[keep],
    })
    total_patients = int(data["patient_id"].nunique())
    result = {
        "slope": None, "ci_low": None, "ci_high": None, "p_value": None,
        "n_patients": total_patients, "n_sessions": int(len(data)),
        "model": None, "optimiser": None, "optimisers_tried": [], "fallback": False, "fallback_warning": "",
        "note": "", "sampled": False, "sentence": "",
    }
    notes = []
    if total_patients > max_patients:
        patients = np.sort(data["patient_id"].unique().astype(str))
        chosen = np.random.default_rng(seed).choice(patients, size=max_patients, replace=False)
        data = data.loc[data["patient_id"].astype(str).isin(chosen)].reset_index(drop=True)
        result.update(sampled=True, n_patients=int(max_patients), n_sessions=int(len(data)))
        notes.append(f"fitted on a random sample of {max_patients:,} of {total_patients:,} patients "
                     f"(seed {seed}) to keep it fast")
    repeated = data.groupby("patient_id")["cycle0"].nunique()
    if len(data) < 3 or data["cycle0"].nunique() < 2 or int((repeated >= 2).sum()) < 2:
        result["note"] = "; ".join(notes + ["not enough patients with responses in two or more cycles"])
        result["sentence"] = "Not enough repeated cycles with a pain response to estimate the change per cycle."
        return result

    data, sd = _standardised(data)
    fit = _fit(data, "~x")
    tried = list(fit.tried)
    model = "random intercept and slope"
    if fit.result is None or fit.problem:
        notes.append(f"random-slope model not used: {fit.problem}; fell back to a random intercept only")
        converged = fit.result is not None and bool(getattr(fit.result, "converged", False))
        result.update(fallback=True, fallback_warning=fallback_warning(converged))
        fit = _fit(data, "1")
        tried += [f"random intercept only, {t}" for t in fit.tried]
        model = "random intercept only"
        if fit.problem:
            notes.append(f"random-intercept model: {fit.problem}")
    result.update(optimisers_tried=tried)
    if fit.result is None:
        result.update(model=None, note="; ".join(notes))
        result["sentence"] = "The change per cycle could not be estimated from these data."
        return result
    fitted = fit.result
    slope = float(fitted.fe_params["x"]) / sd
    low, high = (float(v) / sd for v in fitted.conf_int(alpha=0.05).loc["x"])
    result.update(slope=slope, ci_low=low, ci_high=high, p_value=float(fitted.pvalues["x"]), model=model,
                  optimiser=fit.optimiser, note="; ".join(notes))
    result["sentence"] = slope_sentence(slope, low, high)
    return result


def fallback_warning(converged: bool) -> str:
    """What the screen says when the random-slope model was not used: why, and that the interval may be too narrow.

    converged False: no optimiser converged. converged True: the fit converged to a degenerate estimate (the
    patients' slopes do not vary, or vary in lockstep with their intercepts), which the data cannot pin down.
    """
    why = ("no optimiser converged" if not converged else
           "its estimate sits on the boundary: the data cannot tell how much patients differ in their waning")
    return (f"The slope model did not fit ({why}). This interval comes from a simpler model, a random intercept "
            "only, which assumes every patient wanes at the same rate, and it may be too narrow.")


def slope_sentence(slope: float, low: float, high: float) -> str:
    """'the typical patient's response falls X points per cycle (95% CI a to b)'; rises when the slope is positive."""
    def num(x: float) -> str:
        return f"{x:.1f}".replace("-0.0", "0.0")

    if slope <= 0:
        return (f"The typical patient's response falls {num(-slope)} points per cycle "
                f"(95% CI {num(-high)} to {num(-low)}).")
    return f"The typical patient's response rises {num(slope)} points per cycle (95% CI {num(low)} to {num(high)})."
