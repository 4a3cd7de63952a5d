"""NHS "Making Data Count" icons for a tile with an SPC series: variation (what the latest month says) and
assurance (whether a target will be met), decided from the p-chart table of analytics.spc.

Variation, from the latest month that is not provisional (as NHSRplotthedots' ptd_create_variation_icon reads the
last point): special cause improvement, special cause concern, or common cause (the month varies only as months
usually do). Assurance needs a target: with one, "consistently passes" when every month inside the limits meets
it (the target is on the worse side of both limits), "consistently fails" when none can (on the better side of both),
otherwise "hit and miss"; without a target there is no assurance icon. Words and a plain symbol, never colour alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

COMMON, IMPROVEMENT, CONCERN = "common_cause", "special_cause_improvement", "special_cause_concern"
PASS, FAIL, HIT_AND_MISS = "consistently_passes", "consistently_fails", "hit_and_miss"


@dataclass(frozen=True)
class Icon:
    """One icon: kind (a constant above), a short symbol, words for the tile and a sentence for its help."""

    kind: str
    symbol: str
    words: str
    sentence: str
    colour: str  # a Streamlit colour name: blue improvement, orange concern, grey common cause (NHS MDC colours)


VARIATION = {
    COMMON: Icon(COMMON, "~", "Common cause", "The latest month varies only as months usually do (common cause): "
                 "no sign of a real change.", "gray"),
    IMPROVEMENT: Icon(IMPROVEMENT, "▲", "Improving", "Special cause, improvement: the latest month is part of a "
                      "pattern chance rarely gives, in the better direction.", "blue"),
    CONCERN: Icon(CONCERN, "▼", "Concern", "Special cause, concern: the latest month is part of a pattern chance "
                  "rarely gives, in the worse direction.", "orange"),
}
ASSURANCE = {
    PASS: Icon(PASS, "P", "Passes target", "The target lies beyond the worse control limit: every month is "
               "expected to meet it.", "blue"),
    FAIL: Icon(FAIL, "F", "Fails target", "The target lies beyond the better control limit: no month is expected "
               "to meet it without a change in the process.", "orange"),
    HIT_AND_MISS: Icon(HIT_AND_MISS, "?", "Hit and miss", "The target lies between the control limits: months will "
                       "meet it or not by chance.", "gray"),
}


def _settled(chart: pd.DataFrame) -> pd.DataFrame:
    """The months that count: not provisional, with a point type."""
    if chart is None or len(chart) == 0 or "point_type" not in chart.columns:
        return pd.DataFrame()
    keep = ~chart["provisional"].astype("boolean").fillna(False).to_numpy(dtype=bool) \
        if "provisional" in chart.columns else np.ones(len(chart), bool)
    return chart.loc[keep].sort_values("month") if "month" in chart.columns else chart.loc[keep]


def variation_icon(chart: pd.DataFrame) -> Icon | None:
    """The variation icon of the latest settled month of a p-chart (analytics.spc.p_chart, improvement direction
    already applied in its point_type); None when there is no settled month."""
    months = _settled(chart)
    if len(months) == 0:
        return None
    kind = str(months["point_type"].iloc[-1])
    return VARIATION.get(kind, VARIATION[COMMON])  # a neutral special cause has no better/worse: none is claimed


def assurance_icon(chart: pd.DataFrame, target: float | None, improvement_direction: int = 1) -> Icon | None:
    """The assurance icon of a target against the latest settled month's control limits; None without a target
    (the clinic has set none) or without a settled month."""
    if target is None or pd.isna(target) or improvement_direction == 0:
        return None
    months = _settled(chart)
    if len(months) == 0 or pd.isna(months["lcl"].iloc[-1]) or pd.isna(months["ucl"].iloc[-1]):
        return None
    low, high = float(months["lcl"].iloc[-1]), float(months["ucl"].iloc[-1])
    if improvement_direction > 0:
        kind = PASS if target <= low else FAIL if target > high else HIT_AND_MISS
    else:
        kind = PASS if target >= high else FAIL if target < low else HIT_AND_MISS
    return ASSURANCE[kind]
