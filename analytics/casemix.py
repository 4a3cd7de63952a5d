"""Case-mix adjustment by indirect standardisation (docs/metrics.md "Comparing practitioners or sites").

Why: a practitioner who sees the most severe patients, or the hardest indications, can have a lower responder
rate without doing anything worse. Indirect standardisation asks what rate each group would have had if each of
its sessions responded at the whole clinic's rate for sessions like it, and compares the group with that.

Strata: indication x baseline-severity band. The band is read from the score the response is measured on:
pain sessions on baseline pain (0-4, 5-6, 7-8, 9-10), TWSTRS-only sessions on baseline TWSTRS (0-29, 30-44,
45-59, 60-87); a session without a usable baseline is its own band, a missing indication its own indication.
A stratum's rate is the weighted share of responders among the sessions with a response in it (the weights are
the caller's: analytics.funnel weights each session 1/m, m the sessions with a response of that patient in that
group, so that each patient counts once, as in the observed rate). That is what a saturated logistic model on the
stratum fitted to the whole clinic predicts (tests/test_casemix.py checks it against statsmodels' GLM).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.sessions import NOT_RECORDED, group_labels, numeric

PAIN_BANDS = ((0, 4, "pain 0-4"), (5, 6, "pain 5-6"), (7, 8, "pain 7-8"), (9, 10, "pain 9-10"))
TWSTRS_BANDS = ((0, 29, "TWSTRS 0-29"), (30, 44, "TWSTRS 30-44"), (45, 59, "TWSTRS 45-59"), (60, 87, "TWSTRS 60-87"))
NO_SEVERITY = "severity not recorded"
ADJUSTED_FOR = ("indication", "baseline severity")
NOT_ADJUSTED_FOR = ("dose", "product", "cycle number", "duration of the condition", "other conditions",
                    "age and sex", "how patients were referred")
ADJUST_CHOICES = ("casemix", "none")


BAND_LABELS = tuple(label for _, _, label in PAIN_BANDS + TWSTRS_BANDS) + (NO_SEVERITY,)


def _band_index(values: np.ndarray, bands) -> np.ndarray:
    """The index of the band each value falls in (-1 when none, NaN included); bands are (low, high, label)."""
    out = np.full(len(values), -1, dtype="int64")
    rounded = np.floor(values + 0.5)  # whole-number scales; a 6.5 counts as 7 (half up)
    for i, (low, high, _) in enumerate(bands):
        out[(rounded >= low) & (rounded <= high)] = i
    return out


def severity_code(sessions: pd.DataFrame) -> np.ndarray:
    """Each session's band as an index into BAND_LABELS: on pain where the response is a pain response (or,
    without a response_pct column, wherever a baseline pain is recorded), else on TWSTRS; NO_SEVERITY when
    neither."""
    pain = numeric(sessions, "baseline_pain")
    if "response_pct" in sessions.columns:
        on_pain = ~np.isnan(numeric(sessions, "response_pct"))
    else:
        on_pain = ~np.isnan(pain)
    pain_band = _band_index(pain, PAIN_BANDS)
    twstrs_band = _band_index(numeric(sessions, "baseline_twstrs"), TWSTRS_BANDS)
    code = np.where(on_pain, pain_band, np.where(twstrs_band >= 0, twstrs_band + len(PAIN_BANDS), -1))
    return np.where(code >= 0, code, len(BAND_LABELS) - 1)


def severity_band(sessions: pd.DataFrame) -> pd.Series:
    """Each session's baseline-severity band in words (see severity_code)."""
    return pd.Series(np.asarray(BAND_LABELS, dtype=object)[severity_code(sessions)], index=sessions.index,
                     dtype="str")


def casemix_codes(sessions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each session's stratum as an integer code, and the strata's names ('indication / band'); fast on a
    million sessions (no string building per row)."""
    indication, names = pd.factorize(group_labels(sessions, "indication"), sort=True)
    code = indication.astype("int64") * len(BAND_LABELS) + severity_code(sessions)
    labels = np.array([f"{i} / {b}" for i in names for b in BAND_LABELS], dtype=object)
    return code, labels


def casemix_strata(sessions: pd.DataFrame) -> pd.Series:
    """Each session's stratum, 'indication / band' (a missing indication is NOT_RECORDED)."""
    code, labels = casemix_codes(sessions)
    return pd.Series(labels[code], index=sessions.index, dtype="str")


def stratum_rates(outcome, strata, weights=None) -> pd.Series:
    """The weighted responder share of each stratum: sum(w * outcome) / sum(w) over its rows (index: stratum)."""
    code, names, rates = _rates(outcome, strata, weights)
    return pd.Series(rates, index=pd.Index(names, name="stratum"), name="rate")


def _rates(outcome, strata, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    outcome = np.asarray(outcome, dtype="float64")
    weights = np.ones(len(outcome)) if weights is None else np.asarray(weights, dtype="float64")
    strata = np.asarray(strata)
    if np.issubdtype(strata.dtype, np.integer):  # small codes already (casemix_codes): no strings to hash
        code = strata.astype("int64")
        names = np.arange(code.max() + 1 if len(code) else 0)
    else:
        code, names = pd.factorize(strata.astype(object), sort=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.bincount(code, weights * outcome, minlength=len(names)) / np.bincount(code, weights,
                                                                                          minlength=len(names))
    return code, np.asarray(names, dtype=object), rates


def expected_outcome(outcome, strata, weights=None) -> np.ndarray:
    """Each row's expected outcome: its stratum's weighted rate over all rows passed in (the whole clinic)."""
    code, _, rates = _rates(outcome, strata, weights)
    return rates[code]


def casemix_caption(adjust: str, by_words: str = "group") -> str:
    """What the comparison adjusted for, and what it did not, in plain words."""
    others = ", ".join(NOT_ADJUSTED_FOR)
    if adjust == "casemix":
        return (f"Adjusted for case mix: each {by_words}'s expected rate is the clinic's own rate for patients of "
                f"the same {' and '.join(ADJUSTED_FOR)}. Not adjusted for {others}: a point outside the limits "
                "is a question to look into, not a verdict.")
    return (f"Raw rates, not adjusted for case mix ({' or '.join(ADJUSTED_FOR)}): a difference can come from "
            f"the patients treated rather than the {by_words}. Also not adjusted for {others}.")


__all__ = ["ADJUSTED_FOR", "ADJUST_CHOICES", "BAND_LABELS", "NOT_ADJUSTED_FOR", "NOT_RECORDED", "NO_SEVERITY",
           "PAIN_BANDS", "TWSTRS_BANDS", "casemix_caption", "casemix_codes", "casemix_strata", "expected_outcome",
           "severity_band", "severity_code", "stratum_rates"]
