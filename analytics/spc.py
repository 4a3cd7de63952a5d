"""Monthly responder rate as an SPC p-chart with the NHS "Making Data Count" special-cause rules.

Limits (p-chart): centre p_bar = all responders / all sessions with a response; for month i with n_i such
sessions, sigma_i = sqrt(p_bar (1 - p_bar) / n_i), control limits p_bar +/- 3 sigma_i and "near a limit" lines
p_bar +/- 2 sigma_i, all clipped to [0, 1]. Months without a session with a response have no point and are
skipped (the next month with data follows directly in the runs).

Rules, as NHSRplotthedots (R/ptd_calculate_point_type.R, R/ptd_spc_standard.R) implements them:
  1. a point strictly above the upper or below the lower 3-sigma limit;
  2. a run of 7 or more points on the same side of the centre line (a point exactly on it breaks the run);
     every point of the run is flagged;
  3. a trend of 7 or more points each strictly higher (or lower) than the one before (a tie breaks it);
     every point of the trend is flagged;
  4. two of three consecutive points "close to a limit" (beyond 2 sigma but not beyond 3 sigma) with all
     three points of the window on the same side of the centre; only the close points are flagged.
Where several rules hold, the label follows NHSRplotthedots' precedence: outside limits, trend, 2 of 3,
run. For responder rate higher is better, so high signals are improvement and low ones concern.
Each rule is a small function on plain vectors so it can be tested against NHSRplotthedots' own vectors.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from analytics.settings import DEFAULT_SETTINGS, Settings

RUN_LENGTH = 7  # NHSRplotthedots: 7 points for a shift (run) and for a trend
MIN_POINTS = 12  # fewer months: limits are provisional (NHSRplotthedots warns on short series)
COMMON_CAUSE = "Common Cause"


# --- inputs of the rules -------------------------------------------------------------------------------------

def relative_to_centre(y, centre) -> np.ndarray:
    """+1 above the centre line, -1 below, 0 on it (or missing)."""
    diff = np.asarray(y, dtype="float64") - np.asarray(centre, dtype="float64")
    return np.nan_to_num(np.sign(diff)).astype(int)


def outside_limits(y, lower, upper) -> np.ndarray:
    """True for a point strictly beyond a 3-sigma control limit."""
    y = np.asarray(y, dtype="float64")
    return (y > np.asarray(upper, dtype="float64")) | (y < np.asarray(lower, dtype="float64"))


def close_to_limits(y, lower_2sigma, upper_2sigma, outside) -> np.ndarray:
    """True for a point strictly beyond a 2-sigma line but not outside the control limits."""
    y = np.asarray(y, dtype="float64")
    beyond = (y > np.asarray(upper_2sigma, dtype="float64")) | (y < np.asarray(lower_2sigma, dtype="float64"))
    return beyond & ~np.asarray(outside, dtype=bool)


# --- the building blocks, each mirroring one NHSRplotthedots helper --------------------------------------------

def run_end_one_side(relative, run_length: int = RUN_LENGTH) -> np.ndarray:
    """1 where a point and the run_length - 1 before it are all on the same side of the centre, else 0.

    Mirrors ptd_seven_point_one_side_mean: marks the point that completes a run (and every later one in it).
    """
    rel = np.asarray(relative, dtype="float64")
    if rel.size == 0:
        return np.zeros(0)
    padded = np.concatenate([np.zeros(run_length - 1), rel])
    windows = sliding_window_view(padded, run_length)
    return ((windows == windows[:, -1:]).all(axis=1) & (rel != 0)).astype(float)


def part_of_run(ends, run_length: int = RUN_LENGTH) -> np.ndarray:
    """1 for every point that is the end of a run or one of the run_length - 1 points before such an end.

    Mirrors ptd_part_of_seven_trend: spreads a run's end marker back over the whole run.
    """
    ends = np.asarray(ends, dtype="float64")
    if ends.size == 0:
        return np.zeros(0)
    padded = np.concatenate([np.abs(ends) == 1, np.zeros(run_length - 1, dtype=bool)])
    return sliding_window_view(padded, run_length).any(axis=1).astype(float)


def trend_end(y, run_length: int = RUN_LENGTH) -> np.ndarray:
    """+1 / -1 where a point ends run_length points each strictly higher / lower than the one before, else 0.

    Mirrors ptd_seven_point_trend (6 rises in a row make a 7-point trend; a tie breaks it).
    """
    y = np.asarray(y, dtype="float64")
    out = np.zeros(y.size)
    if y.size < run_length:
        return out
    steps = sliding_window_view(np.sign(np.diff(y)), run_length - 1)
    out[run_length - 1:] = np.where((steps == 1).all(axis=1), 1.0, np.where((steps == -1).all(axis=1), -1.0, 0.0))
    return out


def two_in_three(close, relative) -> np.ndarray:
    """1 for every point in a window of 3 consecutive points holding >= 2 close-to-limit points, all 3 on one side.

    Mirrors ptd_two_in_three (windows that run off either end of the series never qualify).
    """
    close = np.asarray(close, dtype="float64")
    if close.size == 0:
        return np.zeros(0)
    rel = np.broadcast_to(np.asarray(relative, dtype="float64"), close.shape)
    vp = np.concatenate([[0.0, 0.0], close, [0.0, 0.0]])
    rp = np.concatenate([[0.0, 0.0], rel, [0.0, 0.0]])
    qualifies = (sliding_window_view(vp, 3).sum(axis=1) >= 2) & (np.abs(sliding_window_view(rp, 3).sum(axis=1)) == 3)
    return sliding_window_view(qualifies, 3).any(axis=1).astype(float)


def part_of_two_in_three(window_flags, close) -> np.ndarray:
    """1 for the points of a qualifying window that are themselves close to a limit (ptd_part_of_two_in_three)."""
    return ((np.asarray(window_flags) == 1) & (np.abs(np.asarray(close, dtype="float64")) == 1)).astype(float)


# --- the four named rules: True for every point the rule flags -------------------------------------------------

def rule_outside_limits(y, lower, upper) -> np.ndarray:
    """Rule 1: a point outside the 3-sigma limits."""
    return outside_limits(y, lower, upper)


def rule_run(relative, run_length: int = RUN_LENGTH) -> np.ndarray:
    """Rule 2: every point of a run of run_length or more on one side of the centre line."""
    return part_of_run(run_end_one_side(relative, run_length), run_length).astype(bool)


def rule_trend(y, run_length: int = RUN_LENGTH) -> np.ndarray:
    """Rule 3: every point of run_length or more consecutive rising, or falling, points."""
    return part_of_run(trend_end(y, run_length), run_length).astype(bool)


def rule_two_in_three(close, relative) -> np.ndarray:
    """Rule 4: the close-to-limit points of 2 out of 3 consecutive points beyond 2 sigma on the same side."""
    return part_of_two_in_three(two_in_three(close, relative), close).astype(bool)


# --- combining them ---------------------------------------------------------------------------------------

def trend_direction(y, in_trend) -> np.ndarray:
    """+1 rising / -1 falling for each trend point: the step to the next point when it is in the trend too,
    else the step from the previous one (as NHSRplotthedots does, so a shared turning point reads forwards)."""
    y = np.asarray(y, dtype="float64")
    in_trend = np.asarray(in_trend, dtype=bool)
    if y.size < 2:
        return np.zeros(y.size)
    sdy = np.sign(np.diff(y))
    right = np.concatenate([sdy, sdy[-1:]])
    left = np.concatenate([[0.0], sdy])
    next_in_trend = np.concatenate([in_trend[1:], [False]])
    return np.where(next_in_trend & in_trend, right, left)


def classify(y, relative, outside, in_trend, in_two_in_three, in_run, run_length: int = RUN_LENGTH) -> np.ndarray:
    """The NHSRplotthedots label of each point from the rule results (non-zero = flagged), by the precedence
    outside > trend > 2 of 3 > run: "Above UCL", "Below LCL", "7 Point Trend (Increasing)", "2 in 3 Above CL",
    "7 Points Below CL", ... or "Common Cause"."""
    y = np.asarray(y, dtype="float64")
    relative = np.asarray(relative, dtype="float64")
    outside = np.asarray(outside, dtype="float64") != 0
    in_trend = np.asarray(in_trend, dtype="float64") != 0
    in_two = np.asarray(in_two_in_three, dtype="float64") != 0
    in_run = np.asarray(in_run, dtype="float64") != 0
    if y.size == 0:
        return np.array([], dtype=object)
    side = np.where(relative > 0, "Above", "Below")
    rising = trend_direction(y, in_trend) == 1
    return np.select(
        [outside, in_trend, in_two, in_run],
        [
            np.where(relative == 1, "Above UCL", "Below LCL"),
            np.where(rising, f"{run_length} Point Trend (Increasing)", f"{run_length} Point Trend (Decreasing)"),
            np.char.add("2 in 3 ", np.char.add(side, " CL")),
            np.char.add(f"{run_length} Points ", np.char.add(side, " CL")),
        ],
        default=COMMON_CAUSE,
    ).astype(object)


def special_cause_type(y, relative, close, outside, run_length: int = RUN_LENGTH) -> np.ndarray:
    """Apply the four rules to one series and label each point (see `classify`)."""
    return classify(y, relative, outside, rule_trend(y, run_length), rule_two_in_three(close, relative),
                    rule_run(relative, run_length), run_length)


def point_type(types, improvement_direction: int = 1) -> np.ndarray:
    """special_cause_improvement / special_cause_concern / common_cause from the labels; direction +1 means
    higher is better (responder rate), -1 lower is better, 0 neutral (special_cause_neutral_high/low)."""
    labels = pd.Series(np.asarray(types, dtype=object), dtype="str")
    sign = np.select(
        [labels.str.contains("Above|Increasing").to_numpy(), labels.str.contains("Below|Decreasing").to_numpy()],
        [1, -1],
        default=0,
    )
    if improvement_direction == 0:
        return np.select([sign > 0, sign < 0], ["special_cause_neutral_high", "special_cause_neutral_low"],
                         default="common_cause").astype(object)
    sign = sign * improvement_direction
    return np.select([sign > 0, sign < 0], ["special_cause_improvement", "special_cause_concern"],
                     default="common_cause").astype(object)


# --- the chart ----------------------------------------------------------------------------------------------

def monthly_counts(sessions: pd.DataFrame) -> pd.DataFrame:
    """Sessions with a response and responders per calendar month of session_date (months with none omitted)."""
    has_response = sessions["has_response"].astype("boolean").fillna(False)
    responder = sessions["responder"].astype("boolean").fillna(False) & has_response
    month = pd.to_datetime(sessions["session_date"]).dt.to_period("M").dt.to_timestamp()
    frame = pd.DataFrame({"month": month, "n": has_response.astype(int), "responders": responder.astype(int)})
    counts = frame.groupby("month", sort=True)[["n", "responders"]].sum().reset_index()
    counts = counts.loc[counts["n"] > 0].reset_index(drop=True)
    return counts.astype({"n": "int64", "responders": "int64"})


def p_chart_from_counts(counts: pd.DataFrame, run_length: int = RUN_LENGTH,
                        improvement_direction: int = 1) -> pd.DataFrame:
    """The p-chart with rules from a table of month, n, responders (sorted by month; n > 0)."""
    counts = counts.sort_values("month").reset_index(drop=True)
    n = counts["n"].to_numpy(dtype="float64")
    x = counts["responders"].to_numpy(dtype="float64")
    total_n = n.sum()
    centre = x.sum() / total_n if total_n > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = x / n
        sigma = np.sqrt(centre * (1.0 - centre) / n)
    ucl = np.clip(centre + 3 * sigma, 0.0, 1.0)
    lcl = np.clip(centre - 3 * sigma, 0.0, 1.0)
    upper_2 = np.clip(centre + 2 * sigma, 0.0, 1.0)
    lower_2 = np.clip(centre - 2 * sigma, 0.0, 1.0)

    relative = relative_to_centre(rate, centre)
    outside = rule_outside_limits(rate, lcl, ucl)
    close = close_to_limits(rate, lower_2, upper_2, outside)
    in_run = rule_run(relative, run_length)
    in_trend = rule_trend(rate, run_length)
    in_two = rule_two_in_three(close, relative)
    types = classify(rate, relative, outside, in_trend, in_two, in_run, run_length)
    chart = counts.assign(
        rate=rate, centre=centre, sigma=sigma, lcl=lcl, ucl=ucl, lower_2sigma=lower_2, upper_2sigma=upper_2,
        relative_to_centre=relative, close_to_limits=close,
        rule_outside_limits=outside, rule_run=in_run, rule_trend=in_trend, rule_two_in_three=in_two,
        special_cause_type=types,
        point_type=point_type(types, improvement_direction),
    )
    chart["special_cause"] = chart["point_type"] != "common_cause"
    chart["explanation"] = explain_points(chart, run_length)
    chart.attrs["provisional"] = len(chart) < MIN_POINTS
    chart.attrs["run_length"] = run_length
    return chart


def p_chart(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, run_length: int = RUN_LENGTH,
            improvement_direction: int = 1) -> pd.DataFrame:
    """Monthly responder rate (responder per settings, over sessions with a response) as a p-chart with rules.

    One row per month with data: month, n, responders, rate, centre, sigma, lcl, ucl, lower_2sigma,
    upper_2sigma, relative_to_centre, close_to_limits, rule_* (bool per rule), special_cause_type
    (NHSRplotthedots label), point_type, special_cause and explanation (hover text).
    attrs["provisional"] is True with fewer than 12 months.
    """
    del settings  # the responder threshold is already applied in the derived `responder` column
    return p_chart_from_counts(monthly_counts(sessions), run_length, improvement_direction)


def _pct(values) -> pd.Series:
    """0.4567 -> '45.7%'."""
    return pd.Series(np.round(np.asarray(values, dtype="float64") * 100, 1), dtype="float64").map("{:.1f}%".format)


def explain_points(chart: pd.DataFrame, run_length: int = RUN_LENGTH) -> pd.Series:
    """One plain-words sentence per point for hover text: the figures, then why it is or is not a signal."""
    if len(chart) == 0:
        return pd.Series([], dtype="str")
    month = pd.to_datetime(chart["month"]).dt.strftime("%b %Y").reset_index(drop=True)
    facts = (month + ": " + chart["responders"].astype(str).reset_index(drop=True) + " of "
             + chart["n"].astype(str).reset_index(drop=True) + " sessions with a response were responders ("
             + _pct(chart["rate"]) + "). Average " + _pct(chart["centre"]) + ", limits for this month "
             + _pct(chart["lcl"]) + " to " + _pct(chart["ucl"]) + ". ")
    types = pd.Series(chart["special_cause_type"].to_numpy(dtype=object), dtype="str")
    k = run_length
    reason = np.select(
        [
            (types == "Above UCL").to_numpy(), (types == "Below LCL").to_numpy(),
            types.str.contains("Increasing").to_numpy(), types.str.contains("Decreasing").to_numpy(),
            types.str.startswith("2 in 3 Above").to_numpy(), types.str.startswith("2 in 3 Below").to_numpy(),
            types.str.contains("Points Above").to_numpy(), types.str.contains("Points Below").to_numpy(),
        ],
        [
            "Above the upper control limit: too high to be chance alone.",
            "Below the lower control limit: too low to be chance alone.",
            f"Part of {k} or more months in a row, each higher than the one before.",
            f"Part of {k} or more months in a row, each lower than the one before.",
            "Two of three months in a row close to the upper limit (beyond 2 sigma), all above average.",
            "Two of three months in a row close to the lower limit (beyond 2 sigma), all below average.",
            f"Part of {k} or more months in a row above the average.",
            f"Part of {k} or more months in a row below the average.",
        ],
        default="Inside the limits and part of no pattern: ordinary month-to-month variation.",
    )
    kind = pd.Series(chart["point_type"].to_numpy(dtype=object), dtype="str").map({
        "special_cause_improvement": " Special cause: improvement.",
        "special_cause_concern": " Special cause: concern.",
        "special_cause_neutral_high": " Special cause (high).",
        "special_cause_neutral_low": " Special cause (low).",
        "common_cause": " Common cause.",
    }).fillna("")
    out = facts + pd.Series(reason, dtype="str") + kind
    out.index = chart.index
    return out
