"""Confidence intervals for proportions and means, vectorised over arrays.

Every rate the product shows carries an interval, so these helpers are shared by all metric modules.
They accept scalars or array-likes (numpy arrays, pandas Series, nullable pandas arrays) and return
float64 numpy arrays of the broadcast shape (numpy scalars for scalar input). A group with n = 0 gets NaN:
no data, no interval.
"""
from __future__ import annotations

from functools import lru_cache
from statistics import NormalDist

import numpy as np
import pandas as pd


def _as_float(values) -> np.ndarray:
    """Float array with NaN for missing (pd.NA and None included)."""
    if isinstance(values, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(values, dtype="float64")


@lru_cache(maxsize=64)
def z_value(alpha: float = 0.05) -> float:
    """Two-sided standard normal quantile: 1.959964 for alpha = 0.05.

    From the standard library (Wichura's AS241, accurate to about 1e-16) rather than scipy.stats, whose import
    alone takes about a second: the command-line summary needs no other part of scipy."""
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


_z = z_value


def _out(array: np.ndarray):
    """Scalar in, scalar out; arrays stay arrays."""
    return array[()] if array.ndim == 0 else array


def proportion(successes, n):
    """successes / n, NaN where n is 0 or missing."""
    x, m = np.broadcast_arrays(_as_float(successes), _as_float(n))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(m > 0, x / m, np.nan)
    return _out(np.asarray(p, dtype="float64"))


def wilson_ci(successes, n, alpha: float = 0.05):
    """Wilson score interval (Wilson 1927; Newcombe 1998 method 3) for successes out of n.

    Chosen over the Wald interval because it stays inside [0, 1] and keeps its coverage for small n and
    for rates near 0 or 1, which is what a clinic's groups look like. Returns (low, high); NaN where n = 0.
    Newcombe's worked example: 81 of 263 -> 0.2553 to 0.3662.
    """
    x, m = np.broadcast_arrays(_as_float(successes), _as_float(n))
    z = _z(alpha)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        denom = 1.0 + z2 / m
        centre = (p + z2 / (2.0 * m)) / denom
        half = (z / denom) * np.sqrt(np.maximum(p * (1.0 - p) / m + z2 / (4.0 * m * m), 0.0))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    valid = m > 0
    # The exact ends: no successes -> low is 0, all successes -> high is 1 (no rounding residue).
    low = np.where(valid, np.where(x <= 0, 0.0, low), np.nan)
    high = np.where(valid, np.where(x >= m, 1.0, high), np.nan)
    return _out(low.astype("float64")), _out(high.astype("float64"))


def t_ci(mean, sd, n, alpha: float = 0.05):
    """Student-t interval for a mean: mean +/- t(1 - alpha/2, n - 1) * sd / sqrt(n).

    Used for the mean response (a percentage), which is roughly symmetric within a group.
    Returns (low, high); NaN where n < 2 (no spread can be estimated from one value).
    """
    mu, s, m = np.broadcast_arrays(_as_float(mean), _as_float(sd), _as_float(n))
    valid = m >= 2
    df = np.where(valid, m - 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        from scipy import stats  # noqa: PLC0415 - a second to import, and only the mean's interval needs it

        half = stats.t.ppf(1.0 - alpha / 2.0, df) * s / np.sqrt(np.where(valid, m, 1.0))
    low = np.where(valid, mu - half, np.nan)
    high = np.where(valid, mu + half, np.nan)
    return _out(low.astype("float64")), _out(high.astype("float64"))


def rate_table(successes, n, alpha: float = 0.05, prefix: str = "", rate: str = "rate") -> pd.DataFrame:
    """Columns {prefix}{rate}, {prefix}ci_low, {prefix}ci_high (Wilson) for joining beside a group table's counts.

    The index is that of `successes` when it is a Series, so the frame lines up with the table it came from.
    """
    low, high = wilson_ci(successes, n, alpha)
    index = successes.index if isinstance(successes, pd.Series) else None
    return pd.DataFrame(
        {
            f"{prefix}{rate}": np.atleast_1d(proportion(successes, n)),
            f"{prefix}ci_low": np.atleast_1d(low),
            f"{prefix}ci_high": np.atleast_1d(high),
        },
        index=index,
    )
