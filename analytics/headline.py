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

