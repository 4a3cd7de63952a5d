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

import math

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from analytics.sessions import resolve_as_of
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

BASELINE_MONTHS = 24  # the chart shows at least this many months up to the period end (or all data when fewer)
LANEY_D2 = 1.128  # d2 for moving ranges of 2 (Laney 2002: sigma_z = mean moving range of z / 1.128)
DISPERSION_ALPHA = 0.05  # the Pearson chi-square test of extra-binomial variation, one-sided
MIN_FOLLOWUPS = 20  # recorded follow-up delays needed to take the clinic's own 90th percentile
FOLLOWUP_QUANTILE = 0.9
PROVISIONAL = "provisional"


def month_numbers(moments) -> tuple[np.ndarray, np.ndarray]:
    """Each date's calendar month as months since January 1970 (int64), and whether it has a date at all (a blank
    one's number is 0). From its day number, looked up in a table of the days spanned: numpy's own conversion to
    months took 40 ms for 2.8M dates here, this 16 ms."""
    moments = pd.to_datetime(pd.Series(moments) if not isinstance(moments, pd.Series) else moments).to_numpy()
    known = ~np.isnat(moments)
    numbers = np.zeros(len(moments), dtype="int64")
    unit, count = np.datetime_data(moments.dtype)
    if unit not in ("D", "h", "m", "s", "ms", "us", "ns"):  # coarser than a day: numpy's own way
        numbers[known] = moments[known].astype("datetime64[M]").astype("int64")
        return numbers, known
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(count, unit))
    every = bool(known.all())  # the usual case: no row to leave out, no mask to apply
    days = (moments.view("int64") if every else moments.view("int64")[known]) // per_day  # floor: before 1970 too
    if len(days):
        lowest = int(days.min())
        table = np.arange(lowest, int(days.max()) + 1).astype("datetime64[D]").astype("datetime64[M]")
        days -= lowest
        found = table.astype("int64").take(days)
        if every:
            return found, known
        numbers[known] = found
    return numbers, known


def monthly_counts(sessions: pd.DataFrame) -> pd.DataFrame:
    """Sessions with a response and responders per calendar month of session_date (months with none omitted;
    a blank date counted in none). Counted by month number (np.bincount), not by grouping timestamps: a filter
    change among 10M sessions counts 3M of them (0.16 s grouped, 0.07 s here)."""
    has_response = sessions["has_response"].astype("boolean").to_numpy(dtype=bool, na_value=False)
    responder = sessions["responder"].astype("boolean").to_numpy(dtype=bool, na_value=False) & has_response
    months, dated = month_numbers(sessions["session_date"])
    counted = has_response & dated
    number = months[counted]
    if len(number) == 0:
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[us]"), "n": pd.Series(dtype="int64"),
                             "responders": pd.Series(dtype="int64")})
    lowest = int(number.min())
    offset = number - lowest
    n = np.bincount(offset, minlength=int(offset.max()) + 1)
    responders = np.bincount(offset, weights=responder[counted], minlength=len(n)).astype("int64")
    month = (np.arange(len(n)) + lowest).astype("datetime64[M]").astype("datetime64[us]")
    seen = n > 0
    return pd.DataFrame({"month": month[seen], "n": n[seen].astype("int64"), "responders": responders[seen]})


def laney_sigma_z(n, x, centre: float) -> float:
    """Laney's sigma_z: the mean moving range of consecutive z_i = (p_i - p_bar) / sqrt(p_bar (1 - p_bar) / n_i),
    divided by 1.128 (an XmR chart's sigma of the standardised months). 1 when the months vary as the binomial
    says; NaN with fewer than 2 months or p_bar of 0 or 1 (no binomial variation to scale)."""
    n = np.asarray(n, dtype="float64")
    x = np.asarray(x, dtype="float64")
    if n.size < 2 or not 0 < centre < 1:
        return float("nan")
    z = (x / n - centre) / np.sqrt(centre * (1 - centre) / n)
    return float(np.mean(np.abs(np.diff(z))) / LANEY_D2)


def dispersion_test(n, x, centre: float) -> tuple[float, float]:
    """Pearson chi-square of the monthly counts against one common rate: (chi-square / (k - 1), one-sided p-value
    of chi-square on k - 1 degrees of freedom). A ratio well above 1 means the months vary more than sessions
    alone explain (overdispersion); NaN with fewer than 2 months or p_bar of 0 or 1."""
    n = np.asarray(n, dtype="float64")
    x = np.asarray(x, dtype="float64")
    if n.size < 2 or not 0 < centre < 1:
        return float("nan"), float("nan")
    statistic = float(np.sum((x - n * centre) ** 2 / (n * centre * (1 - centre))))
    df = n.size - 1
    return statistic / df, chi2_sf(statistic, df)


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for X ~ chi-square with a whole number `df` of degrees of freedom, from the standard library
    (scipy.stats takes about a second to import, on the dashboard's first page). Q(df/2, x/2), the regularised
    upper incomplete gamma function, is a finite sum for a whole df: from Q(1, y) = e^-y (even df) or
    Q(1/2, y) = erfc(sqrt y) (odd df), each step adds y^a e^-y / Gamma(a + 1) (Abramowitz & Stegun 6.5.13 and
    26.4.4/5), the terms summed in log space. Checked against scipy.stats.chi2.sf in tests/test_spc.py."""
    if df < 1 or df != int(df):
        raise ValueError(f"degrees of freedom must be a whole number >= 1, not {df}")
    if not math.isfinite(x):
        return 0.0 if x > 0 else (1.0 if x < 0 else float("nan"))
    if x <= 0:
        return 1.0
    y = x / 2.0
    half = int(df) % 2 == 1
    total = math.erfc(math.sqrt(y)) if half else 0.0
    a = 0.5 if half else 0.0
    terms = []
    while a < df / 2.0 - 1e-9:
        terms.append(math.exp(a * math.log(y) - y - math.lgamma(a + 1.0)))
        a += 1.0
    return min(1.0, total + math.fsum(terms))


def overdispersed(sigma_z: float, dispersion_p: float, alpha: float = DISPERSION_ALPHA) -> bool:
    """Use Laney's p' limits when both say so: sigma_z > 1 (month-to-month variation beyond the binomial) and the
    chi-square test rejects one common binomial rate at `alpha`. The test alone would also fire on a shift
    (which the rules should flag, not the limits absorb); sigma_z alone exceeds 1 by chance on half of all
    binomial series."""
    return bool(np.isfinite(sigma_z) and sigma_z > 1 and np.isfinite(dispersion_p) and dispersion_p < alpha)


def followup_lag_days(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> int:
    """How long after an injection its follow-up is in: the 90th percentile of the recorded followup_days
    (rounded up), or settings.peak_within_days when fewer than 20 sessions record it."""
    if "followup_days" in sessions.columns:
        days = pd.to_numeric(sessions["followup_days"], errors="coerce").dropna()
        if len(days) >= MIN_FOLLOWUPS:
            return int(np.ceil(days.quantile(FOLLOWUP_QUANTILE)))
    return int(settings.peak_within_days)


def chart_window(first, period_start, period_end, baseline_months: int = BASELINE_MONTHS
                 ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day the chart shows: from the earlier of the period start and the first day of the month
    baseline_months - 1 months before the period end's month (so at least baseline_months months), but not
    before the first session; to the period end. A period without a start ("All data") starts at the first
    session."""
    end = pd.Timestamp(period_end).normalize()
    start = end.to_period("M").to_timestamp() - pd.DateOffset(months=baseline_months - 1)
    if period_start is not None:
        start = min(start, pd.Timestamp(period_start).normalize())
    elif first is not None and not pd.isna(first):
        start = pd.Timestamp(first).normalize()
    if first is not None and not pd.isna(first):
        start = max(start, pd.Timestamp(first).normalize())
    return pd.Timestamp(start), end


def provisional_months(months, window_end, as_of, lag_days: int) -> np.ndarray:
    """True for a month whose last session shown (the month's end, or the window's end) plus lag_days falls
    after the as-of date: some of its follow-ups were not yet due, so its rate can still change."""
    month = pd.to_datetime(pd.Series(months)).dt.to_period("M")
    last_day = month.dt.to_timestamp(how="end").dt.normalize()
    last_day = last_day.where(last_day <= pd.Timestamp(window_end), pd.Timestamp(window_end))
    due = last_day + pd.Timedelta(days=int(lag_days))
    return (due > pd.Timestamp(as_of)).to_numpy(dtype=bool)


def p_chart_from_counts(counts: pd.DataFrame, run_length: int = RUN_LENGTH,
                        improvement_direction: int = 1, limits: str = "auto") -> pd.DataFrame:
    """The p-chart with rules from a table of month, n, responders (n > 0) and optionally `provisional` (bool).

    The centre, sigma_z and the dispersion test use the baseline months (those not provisional); the rules
    run on them only, and provisional months get point_type "provisional". limits: "auto" (Laney p' when
    `overdispersed`, else the binomial p-chart), "p" or "laney" to force one.
    """
    counts = counts.sort_values("month").reset_index(drop=True)
    provisional = (counts["provisional"].to_numpy(dtype=bool) if "provisional" in counts
                   else np.zeros(len(counts), dtype=bool))
    base = ~provisional
    n = counts["n"].to_numpy(dtype="float64")
    x = counts["responders"].to_numpy(dtype="float64")
    total_n = n[base].sum()
    centre = x[base].sum() / total_n if total_n > 0 else np.nan
    sigma_z = laney_sigma_z(n[base], x[base], centre)
    ratio, p_value = dispersion_test(n[base], x[base], centre)
    method = {"p": "p", "laney": "laney"}.get(limits)
    if method is None:
        method = "laney" if overdispersed(sigma_z, p_value) else "p"
    scale = sigma_z if method == "laney" and np.isfinite(sigma_z) else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = x / n
        sigma_p = np.sqrt(centre * (1.0 - centre) / n)
        z = (rate - centre) / sigma_p
    sigma = sigma_p * scale
    ucl = np.clip(centre + 3 * sigma, 0.0, 1.0)
    lcl = np.clip(centre - 3 * sigma, 0.0, 1.0)
    upper_2 = np.clip(centre + 2 * sigma, 0.0, 1.0)
    lower_2 = np.clip(centre - 2 * sigma, 0.0, 1.0)

    relative = relative_to_centre(rate, centre)
    outside = rule_outside_limits(rate, lcl, ucl)
    close = close_to_limits(rate, lower_2, upper_2, outside)
    in_run, in_trend, in_two = (np.zeros(len(counts), dtype=bool) for _ in range(3))
    types = np.full(len(counts), COMMON_CAUSE, dtype=object)
    b = np.flatnonzero(base)  # the rules see the baseline months only, one after another
    in_run[b] = rule_run(relative[b], run_length)
    in_trend[b] = rule_trend(rate[b], run_length)
    in_two[b] = rule_two_in_three(close[b], relative[b])
    types[b] = classify(rate[b], relative[b], outside[b], in_trend[b], in_two[b], in_run[b], run_length)
    kinds = point_type(types, improvement_direction)
    types[provisional] = "Provisional"
    kinds[provisional] = PROVISIONAL
    chart = counts.assign(
        rate=rate, centre=centre, sigma=sigma, sigma_p=sigma_p, z=z, lcl=lcl, ucl=ucl, lower_2sigma=lower_2,
        upper_2sigma=upper_2, relative_to_centre=relative, close_to_limits=close & base,
        rule_outside_limits=outside & base, rule_run=in_run, rule_trend=in_trend, rule_two_in_three=in_two,
        special_cause_type=types, point_type=kinds, provisional=provisional, limits=method,
        sigma_z=sigma_z,
    )
    chart["special_cause"] = ~chart["point_type"].isin(["common_cause", PROVISIONAL])
    chart.attrs.update({
        "provisional": int(base.sum()) < MIN_POINTS, "run_length": run_length, "limits": method,
        "sigma_z": sigma_z, "dispersion_ratio": ratio, "dispersion_p": p_value,
        "baseline_months": int(base.sum()), "provisional_months": int(provisional.sum()),
        "baseline_start": counts["month"][base].min() if base.any() else None,
        "baseline_end": counts["month"][base].max() if base.any() else None,
    })
    chart["explanation"] = explain_points(chart, run_length)
    return chart


def p_chart(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, run_length: int = RUN_LENGTH,
            improvement_direction: int = 1, *, period_start=None, period_end=None, as_of=None,
            lag_days: int | None = None, baseline_months: int = BASELINE_MONTHS, limits: str = "auto",
            first=None) -> pd.DataFrame:
    """Monthly responder rate (responder per settings, over sessions with a response) as a p-chart with rules.

    sessions: the derived sessions of the chosen filters at any date (not cut to the period), so the chart can
    show at least `baseline_months` months up to the period end (`chart_window`). period_start / period_end:
    the selected period, shaded on the chart (None: open; the end defaults to the as-of date). as_of: the
    analysis date (default settings.as_of, else the latest session). lag_days: how long follow-ups take
    (default `followup_lag_days` of these sessions); months whose follow-ups were not all due at as_of are
    provisional: drawn, but left out of the limits and the rules. first: the first session date of the data
    `sessions` was cut from, when they hold only the days the chart may show (first_page.window); default the
    first of `sessions`.

    One row per month with data: month, n, responders, rate, centre, sigma (the sigma used: binomial, times
    sigma_z for Laney p'), sigma_p (binomial), z, lcl, ucl, lower_2sigma, upper_2sigma, relative_to_centre,
    close_to_limits, rule_* (bool per rule), special_cause_type (NHSRplotthedots label, or "Provisional"),
    point_type, provisional, limits ("p" | "laney"), sigma_z, special_cause and explanation (hover text).
    attrs: limits, sigma_z, dispersion_ratio, dispersion_p, baseline_months, baseline_start, baseline_end,
    provisional_months, provisional (fewer than 12 baseline months: the limits are provisional), window_start,
    window_end, period_start, period_end, as_of, lag_days.
    """
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else resolve_as_of(sessions, settings)
    if lag_days is None:
        lag_days = followup_lag_days(sessions, settings)
    dates = pd.to_datetime(sessions["session_date"])
    end = period_end if period_end is not None else as_of
    if end is None or pd.isna(end):
        end = dates.max() if len(dates) else pd.Timestamp("1970-01-01")
    if first is None:
        first = dates.min() if len(dates) else None
    window_start, window_end = chart_window(first, period_start, end, baseline_months)
    inside = ((dates >= window_start) & (dates < window_end + pd.Timedelta(days=1))).to_numpy(dtype=bool)
    counts = monthly_counts(sessions.loc[inside, ["session_date", "has_response", "responder"]])  # all it reads
    reference = as_of if not pd.isna(as_of) else window_end
    counts["provisional"] = provisional_months(counts["month"], window_end, reference, lag_days)
    chart = p_chart_from_counts(counts, run_length, improvement_direction, limits)
    chart.attrs.update({
        "window_start": window_start, "window_end": window_end, "as_of": as_of, "lag_days": int(lag_days),
        "period_start": pd.Timestamp(period_start).normalize() if period_start is not None else None,
        "period_end": pd.Timestamp(end).normalize(),
    })
    return chart


def window_mask(sessions: pd.DataFrame, chart: pd.DataFrame) -> np.ndarray:
    """True for the sessions inside the chart's window (chart.attrs window_start to window_end), every session
    when the chart has no window."""
    dates = pd.to_datetime(sessions["session_date"])
    start, end = chart.attrs.get("window_start"), chart.attrs.get("window_end")
    mask = np.ones(len(sessions), dtype=bool)
    if start is not None:
        mask &= (dates >= start).to_numpy(dtype=bool)
    if end is not None:
        mask &= (dates < end + pd.Timedelta(days=1)).to_numpy(dtype=bool)
    return mask


def limits_sentence(chart: pd.DataFrame) -> str:
    """Which limits the chart uses and why, in words (chart subtitle, page caption, report note)."""
    sigma_z = chart.attrs.get("sigma_z", float("nan"))
    months = chart.attrs.get("baseline_months", 0)
    if not months and len(chart):
        return ("No centre line or limits yet: every month shown is provisional (its follow-ups are still coming "
                "in), so none can be judged.")
    start, end = chart.attrs.get("baseline_start"), chart.attrs.get("baseline_end")
    span = (f" ({pd.Timestamp(start):%b %Y} to {pd.Timestamp(end):%b %Y})" if start is not None and end is not None
            else "")
    base = f"Centre line and limits from {months} month{'s' if months != 1 else ''}{span}"
    later = chart.attrs.get("provisional_months", 0)
    if later:
        base += f", not the {later} provisional month{'s' if later != 1 else ''}"
    if chart.attrs.get("limits") == "laney":
        return (f"Laney p' limits: months vary more than sessions alone explain (sigma_z = {sigma_z:.1f}), so "
                f"the limits are widened {sigma_z:.1f}-fold. {base}.")
    if np.isfinite(sigma_z):
        return (f"Binomial p-chart limits: the months vary no more than sessions alone explain "
                f"(sigma_z = {sigma_z:.1f}). {base}.")
    return f"Binomial p-chart limits. {base}."


def _pct(values) -> pd.Series:
    """0.4567 -> '45.7%'."""
    return pd.Series(np.round(np.asarray(values, dtype="float64") * 100, 1), dtype="float64").map("{:.1f}%".format)


def explain_points(chart: pd.DataFrame, run_length: int = RUN_LENGTH) -> pd.Series:
    """One plain-words sentence per point for hover text: the figures, then why it is or is not a signal."""
    if len(chart) == 0:
        return pd.Series([], dtype="str")
    month = pd.to_datetime(chart["month"]).dt.strftime("%b %Y").reset_index(drop=True)
    sigma_z = chart.attrs.get("sigma_z", float("nan"))
    limits = ("Laney p' limits for this month (widened " + f"{sigma_z:.1f}" + "-fold: months vary more than "
              "sessions alone explain) " if chart.attrs.get("limits") == "laney" else "limits for this month ")
    counted = (month + ": " + chart["responders"].astype(str).reset_index(drop=True) + " of "
               + chart["n"].astype(str).reset_index(drop=True) + " sessions with a response were responders ("
               + _pct(chart["rate"]) + "). ")
    against = ("Average " + _pct(chart["centre"]) + ", " + limits + _pct(chart["lcl"]) + " to "
               + _pct(chart["ucl"]) + ". ")
    no_limits = pd.Series(chart["centre"].isna().to_numpy())
    facts = counted + against.where(~no_limits, "No average or limits yet: every month is provisional. ")
    types = pd.Series(chart["special_cause_type"].to_numpy(dtype=object), dtype="str")
    k = run_length
    reason = np.select(
        [
            (types == "Provisional").to_numpy(),
            (types == "Above UCL").to_numpy(), (types == "Below LCL").to_numpy(),
            types.str.contains("Increasing").to_numpy(), types.str.contains("Decreasing").to_numpy(),
            types.str.startswith("2 in 3 Above").to_numpy(), types.str.startswith("2 in 3 Below").to_numpy(),
            types.str.contains("Points Above").to_numpy(), types.str.contains("Points Below").to_numpy(),
        ],
        [
            "Provisional: follow-ups still coming in, so the rate may still change; left out of the limits and "
            "the rules.",
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
