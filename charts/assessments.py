"""Effect over time from repeated assessments: mean change from the day-0 score, by days after injection.

Why: trials and symptom diaries score patients several times after one injection; the mean change from
baseline per group, with its 95% band, is that cycle's effect curve (the cdystonia README figures).
Input: analytics.assessments.timeline(assessments, score, by).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.sessions import NOT_RECORDED
from analytics.settings import DEFAULT_SETTINGS, Settings
from charts import theme
from charts.safe_text import plotly_labels, plotly_text

SCORE_WORDS = {
    "pain": ("pain", "NRS points", "pain NRS 0-10"),
    "twstrs": ("TWSTRS", "points", "TWSTRS total 0-87"),
}


def assessment_timeline_figure(timeline_table, score: str = "twstrs", by=None, by_label: str | None = None,
                               settings: Settings = DEFAULT_SETTINGS) -> go.Figure:
    """One line per group: mean change from day 0 (95% CI band) by days after injection, with a zero line.

    timeline_table: analytics.assessments.timeline output for `score` ('pain' or 'twstrs') and `by` (None,
    a column or a list of columns). settings: only for the responder rule in the hover and subtitle.
    """
    name, units, scale = SCORE_WORDS.get(score) or (plotly_text(score), "points", plotly_text(score))  # a column
    lower_better = score in SCORE_WORDS
    title = f"Change in {name} after the injection" + (f" by {plotly_text(by_label or _by_words(by))}" if by else "")
    if theme.is_empty(timeline_table):
        return theme.empty_figure(f"No {name} scores with a day-0 baseline to show.", title)
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    keys = [k for k in keys if k in timeline_table.columns]
    hidden = theme.suppressed_mask(timeline_table)
    table = timeline_table.loc[~hidden]
    if keys:
        labels = table[keys[0]].astype("str").where(table[keys[0]].notna(), NOT_RECORDED)
        for k in keys[1:]:
            labels = labels + " / " + table[k].astype("str").where(table[k].notna(), NOT_RECORDED)
        labels = plotly_labels(labels)
    else:
        labels = pd.Series("All patients", index=table.index)
    groups = list(dict.fromkeys(labels))

    fig = go.Figure()
    responder_words = _responder_words(score, settings)
    for i, group in enumerate(groups):
        part = table.loc[(labels == group).to_numpy()].sort_values("days_after")
        x = theme.floats(part["days_after"])
        mean = theme.floats(part["mean_change"])
        low, high = theme.floats(part["ci_low"]), theme.floats(part["ci_high"])
        n = theme.floats(part["n"])
        share = theme.floats(part["responder_share"]) if "responder_share" in part else np.full(len(part), np.nan)
        color = theme.colour(i)
        ok = ~np.isnan(low) & ~np.isnan(high)
        if ok.any():
            fig.add_trace(go.Scatter(
                x=np.concatenate([x[ok], x[ok][::-1]]), y=np.concatenate([high[ok], low[ok][::-1]]),
                fill="toself", mode="lines", fillcolor=theme.rgba(color, 0.12), line=dict(width=0), hoverinfo="skip",
                name=f"{group}: 95% CI", legendgroup=group, showlegend=False))
        fig.add_trace(go.Scatter(
            x=x, y=mean, mode="lines+markers", name=f"{group} (n = {theme.fmt_num(np.nanmax(n))} at day 0)"
            if len(groups) > 1 else f"Mean change (n = {theme.fmt_num(np.nanmax(n))})",
            legendgroup=group, line=dict(color=color, width=2.2, dash=theme.dash(i)), marker=dict(size=7, color=color),
            hovertext=[f"<b>{group}</b>, day {theme.fmt_num(d)}<br>Mean change {theme.fmt_num(m, 2)} {units}"
                       f" (95% CI {theme.fmt_num(lo, 2)} to {theme.fmt_num(hi, 2)})<br>{theme.fmt_num(c)} patients"
                       + (f"<br>{theme.fmt_pct(r)} {responder_words}" if not np.isnan(r) else "")
                       for d, m, lo, hi, c, r in zip(x, mean, low, high, n, share)],
            hovertemplate="%{hovertext}<extra></extra>"))
    theme.add_hline(fig, 0, "no change from day 0", dash="solid", color=theme.REFERENCE, width=1)

    lines = [f"Mean change from the score on the day of the injection ({scale}), with 95% CI bands. "
             + ("Below zero = better." if lower_better else "")]
    if responder_words:
        lines.append(f"The hover gives the number of patients and the share who {responder_words}.")
    if hidden.any():
        lines.append("Not shown: groups with too few patients.")
    theme.base_layout(fig, title, "<br>".join(lines), hovermode="closest")
    y_title = f"Change in {name} from day 0 ({units}" + ("; lower is better)" if lower_better else ")")
    fig.update_yaxes(title_text=y_title)
    days = theme.floats(table["days_after"])
    step = 7 if np.nanmax(days) <= 84 else 14
    fig.update_xaxes(title_text="Days after injection", dtick=step, rangemode="tozero")
    return fig


def _by_words(by) -> str:
    if isinstance(by, str):
        return by.replace("_", " ")
    return " and ".join(str(b).replace("_", " ") for b in by)


def _responder_words(score: str, settings) -> str:
    if settings is None:
        return "were responders"
    if score == "twstrs":
        return f"were responders (TWSTRS drop ≥ {theme.threshold_text(settings.twstrs_responder_drop)} points)"
    return f"were responders (≥ {theme.threshold_text(settings.responder_threshold_pct)}% pain reduction)"
