"""The headline figures of a derived session table, computed once for the CLI summary and the KPI tiles.

Why one module: `summary.summarise` (the command line) and `kpis.kpi_tiles` (the app's tiles) show the same
figures; both call these functions, so a definition changes in one place (docs/metrics.md). Each takes a
`derive_sessions` table or any subset of its rows (one period, say) and returns the figure with the count it
rests on. A missing derived column counts as nothing recorded: the figure is NaN over n = 0, not an error.
Vectorised: one pass over numpy arrays per figure.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.proportions import proportion, wilson_ci
from analytics.sessions import numeric


@dataclass(frozen=True)
class Share:
    """successes of n with the Wilson 95% interval; value and interval NaN when n is 0."""

    value: float
    ci_low: float
    ci_high: float
    successes: int
    n: int


def share(successes: int, n: int, alpha: float = 0.05) -> Share:
    """successes / n with its Wilson interval (analytics.proportions.wilson_ci)."""
    low, high = wilson_ci(successes, n, alpha)
    return Share(float(proportion(successes, n)), float(low), float(high), int(successes), int(n))


def distinct_count(values: pd.Series) -> int:
    """How many distinct values (blanks not counted): for a categorical by marking its integer codes, which is
    several times faster than hashing them (the patient codes of millions of sessions)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        codes = codes[codes >= 0]
        return int(np.count_nonzero(np.bincount(codes))) if len(codes) else 0
    return int(values.nunique())


def _true_and_known(derived: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(True, known) per session of a boolean column (nullable or plain); nothing known when it is absent."""
    if column not in derived.columns:
        none = np.zeros(len(derived), bool)
        return none, none
    values = derived[column]
    if values.dtype == bool:
        return values.to_numpy(), np.ones(len(values), bool)
    values = values.astype("boolean")
    return values.to_numpy(dtype=bool, na_value=False), values.notna().to_numpy()


def _share_where(derived: pd.DataFrame, column: str, within: np.ndarray | None = None) -> Share:
    """Share of True among the sessions where `column` is known (and `within` holds)."""
    true, known = _true_and_known(derived, column)
    if within is not None:
        known = known & within
    return share(int((true & known).sum()), int(known.sum()))


def known_share(derived: pd.DataFrame, column: str) -> Share:
    """Share of True among the sessions where a flag is recorded (substantial, onset_within, any_adverse_event)."""
    return _share_where(derived, column)


def responder_share(derived: pd.DataFrame) -> Share:
    """Responder sessions of the sessions with a response (pain or TWSTRS)."""
    within = _true_and_known(derived, "has_response")[0] if "has_response" in derived.columns else None
    return _share_where(derived, "responder", within)


def interval_share(derived: pd.DataFrame, column: str = "short_interval") -> Share:
    """Short (or, with column="booster", booster) intervals of all intervals: every session but a patient's first."""
    if "interval_days" not in derived.columns:
        return share(0, 0)
    return _share_where(derived, column, derived["interval_days"].notna().to_numpy())


def median_of(derived: pd.DataFrame, column: str) -> tuple[float, int]:
    """Sample median (mean of the two middle values) over the sessions with the value, and their count."""
    values = numeric(derived, column)
    values = values[~np.isnan(values)]
    return (float(np.median(values)) if len(values) else np.nan), int(len(values))


def duration_sample(derived: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(times, events) of the benefit-duration population: responder sessions with a duration."""
    if "duration_days" not in derived.columns:
        return np.zeros(0), np.zeros(0, bool)
    times = numeric(derived, "duration_days")
    keep = ~np.isnan(times)
    if "responder" in derived.columns:
        keep &= _true_and_known(derived, "responder")[0]
    return times[keep], _true_and_known(derived, "duration_event")[0][keep]



# ---- intervals for the KPI tiles (docs/metrics.md "KPI tiles") -------------------------------------------------
def median_ci_ranks(n, alpha: float = 0.05):
    """Ranks (k, n - k + 1) of the order statistics giving a distribution-free 95% CI for a median from n values.

    k is the largest rank with P(B <= k - 1) <= alpha / 2 for B ~ Binomial(n, 1/2), so [x(k), x(n-k+1)] covers
    the population median with probability 1 - 2 P(B <= k - 1) >= 1 - alpha whatever the distribution (the sign
    test inverted; Conover, Practical Nonparametric Statistics; Campbell & Gardner, BMJ 1988). Scalar or array
    n (worked out once per distinct n); rank 0 (no interval) where n is too small: below 6 values for 95%.
    """
    m = np.asarray(n, dtype="int64")
    k = np.zeros(m.shape, dtype="int64")
    for size in np.unique(m):  # once per distinct number of values (a page asks for a handful)
        k[m == size] = _sign_test_rank(int(size), alpha)
    upper = np.where(k > 0, m - k + 1, 0).astype("int64")
    return (int(k), int(upper)) if np.ndim(n) == 0 else (k, upper)


def _sign_test_rank(n: int, alpha: float) -> int:
    """The largest k with P(B <= k - 1) <= alpha / 2 for B ~ Binomial(n, 1/2), 0 when even P(B = 0) is larger.

    The binomial(n, 1/2) probabilities in numpy, without scipy (whose import costs about a second on a first page):
    log C(n, j) as a running sum of log((n - j + 1) / j), each term exp(log C - n log 2), summed from j = 0. Only
    j <= n / 2 is needed (beyond it the sum exceeds 1/2 > alpha / 2). The sum's rounding (about 1e-12 relative)
    could only matter when P(B <= j) were within that of alpha / 2; tests/test_honest_intervals.py checks it
    against scipy.stats.binom for every n up to 3,000 and for large n."""
    if n <= 0:
        return 0
    j = np.arange(1, n // 2 + 1, dtype="float64")
    log_choose = np.concatenate(([0.0], np.cumsum(np.log((n - j + 1.0) / j))))
    cdf = np.cumsum(np.exp(log_choose - n * np.log(2.0)))
    return int(np.count_nonzero(cdf <= alpha / 2))


def median_ci(values, alpha: float = 0.05) -> tuple[float, float]:
    """Distribution-free 95% CI for the median of `values` (NaN left out) from order statistics; (NaN, NaN) when
    there are too few values to give one (fewer than 6 for 95%): see `median_ci_ranks`."""
    x = np.sort(np.asarray(values, dtype="float64"))
    x = x[~np.isnan(x)]
    low_rank, high_rank = median_ci_ranks(len(x), alpha)
    if low_rank == 0:
        return np.nan, np.nan
    return float(x[low_rank - 1]), float(x[high_rank - 1])


def median_with_ci(derived: pd.DataFrame, column: str, alpha: float = 0.05) -> tuple[float, float, float, int]:
    """(median, ci_low, ci_high, n): `median_of` with its order-statistic interval (`median_ci`)."""
    values = numeric(derived, column)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    # One partial sort puts the middle value(s) and both interval ranks in place (np.median's partition and
    # median_ci's full sort gave the same numbers from twice the work: 1M onsets per period on a filter change).
    low_rank, high_rank = median_ci_ranks(n, alpha)
    middle = ((n - 1) // 2, n // 2)
    ranks = sorted({*middle, *((low_rank - 1, high_rank - 1) if low_rank else ())})
    placed = np.partition(values, ranks)
    median = float((placed[middle[0]] + placed[middle[1]]) / 2) if n % 2 == 0 else float(placed[middle[0]])
    if low_rank == 0:
        return median, np.nan, np.nan, int(n)
    return median, float(placed[low_rank - 1]), float(placed[high_rank - 1]), int(n)


def mover_difference_ci(first: tuple[float, float, float], second: tuple[float, float, float]
                        ) -> tuple[float, float]:
    """95% CI for the difference first - second of two independent estimates, each given as (estimate, low,
    high) with its own 95% interval: the MOVER ("method of variance estimates recovery", Zou & Donner 2008),
    L = d - sqrt((e1 - l1)^2 + (h2 - e2)^2), U = d + sqrt((h1 - e1)^2 + (e2 - l2)^2). It keeps each interval's
    asymmetry; with Wilson intervals it is Newcombe's hybrid score interval. A high limit NaN is taken as not
    reached (infinite); (NaN, NaN) when an estimate or a low limit is missing."""
    (e1, l1, h1), (e2, l2, h2) = ([float(v) for v in part] for part in (first, second))
    if np.isnan([e1, l1, e2, l2]).any():
        return np.nan, np.nan
    h1, h2 = (np.inf if np.isnan(h) else h for h in (h1, h2))
    d = e1 - e2
    return float(d - np.hypot(e1 - l1, h2 - e2)), float(d + np.hypot(h1 - e1, e2 - l2))


def difference_ci(successes_1: int, n_1: int, successes_2: int, n_2: int, alpha: float = 0.05
                  ) -> tuple[float, float]:
    """95% CI for p1 - p2 of two independent proportions: Newcombe's hybrid score interval (Newcombe 1998,
    method 10), the MOVER built from the two Wilson intervals. Newcombe's example 56/70 - 48/80: 0.0524 to
    0.3339. (NaN, NaN) when either n is 0."""
    if n_1 <= 0 or n_2 <= 0:
        return np.nan, np.nan
    first, second = share(successes_1, n_1, alpha), share(successes_2, n_2, alpha)
    return mover_difference_ci((first.value, first.ci_low, first.ci_high),
                               (second.value, second.ci_low, second.ci_high))
