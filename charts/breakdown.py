"""Breakdown bars: one outcome by product, indication, site, practitioner, dose band or cycle.

Why: a rate means little without what it rests on, so every bar carries its 95% interval and, beside it, the
count of sessions and patients. Groups suppressed for small numbers keep their place as an empty, hatched bar
labelled "suppressed", so the reader sees that the group exists without seeing its numbers.
Input: analytics.breakdowns.breakdown or breakdowns (the long table: `by` picks the dimension), after
analytics.suppression.suppress_small_groups. A total row (total=True) is drawn as a reference line.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from analytics.settings import DEFAULT_SETTINGS, Settings
from charts import theme
from charts.safe_text import plotly_labels, plotly_text


@dataclass(frozen=True)
class Metric:
    """How to draw one breakdown column: its interval, its counts and its words."""

    column: str
    ci_low: str
    ci_high: str
    numerator: str | None  # counted events (None: a mean or median)
    denominator: str  # the n the figure rests on
    title: str
    axis: str
    unit: str  # "proportion", "%" or "days"
    n_words: str


METRICS = {
    "responder_rate": Metric("responder_rate", "responder_ci_low", "responder_ci_high", "responders",
                             "sessions_with_response", "Responder rate", "Responders (% of sessions with a response)",
                             "proportion", "sessions with a response"),
    "mean_response_pct": Metric("mean_response_pct", "response_ci_low", "response_ci_high", None,
                                "sessions_with_response", "Mean pain response",
                                "Mean pain reduction (%)", "%", "sessions with a response"),
    "short_interval_share": Metric("short_interval_share", "short_interval_ci_low", "short_interval_ci_high",
                                   "short_intervals", "intervals", "Short intervals",
                                   "Short intervals (% of intervals)", "proportion", "intervals"),
    "ae_rate": Metric("ae_rate", "ae_ci_low", "ae_ci_high", "ae_sessions", "ae_recorded",
                      "Sessions with an adverse event", "Sessions with an adverse event (%)", "proportion",
                      "sessions with adverse events recorded"),
    "median_duration_days": Metric("median_duration_days", "duration_ci_low", "duration_ci_high", None, "duration_n",
                                   "Median benefit duration (Kaplan-Meier)", "Median benefit duration (days)",
                                   "days", "responder sessions"),
}
DIMENSION_WORDS = {"product": "product", "indication": "indication", "site": "site",
                   "practitioner_id": "practitioner", "dose_band": "dose band (tertiles within each product)",
                   "cycle": "cycle"}


def _value_text(value: float, unit: str) -> str:
    if unit == "proportion":
        return theme.fmt_pct(value, 1)
    if unit == "%":
        return f"{theme.fmt_num(value, 1)}%"
    return f"{theme.fmt_num(value)} days"


def _subtitle(metric: Metric, settings: Settings) -> str:
    if metric.column in ("responder_rate", "mean_response_pct"):
        return theme.responder_rule(settings) + "."
    if metric.column == "short_interval_share":
        return (f"Short interval: fewer than {settings.short_interval_days} days since the patient's previous "
                "session.")
    if metric.column == "median_duration_days":
        return ("Half the responder sessions had lost their benefit by this day; no bar: median not reached "
                "(more than half still benefiting).<br>" + theme.responder_rule(settings) + ".")
    return "Sessions whose adverse events were not recorded are left out."


def breakdown_figure(table, by: str, metric: str = "responder_rate", settings: Settings = DEFAULT_SETTINGS,
                     by_label: str | None = None) -> go.Figure:
    """Horizontal bars of `metric` per group of `by` with 95% CI whiskers and 'n sessions, n patients' beside
    every bar; suppressed groups as empty bars labelled 'suppressed (fewer than 5 patients)'."""
    spec = METRICS.get(metric)
    words = plotly_text(by_label or DIMENSION_WORDS.get(by, by.replace("_", " ")))  # a column name can be the user's
    title = f"{spec.title if spec else metric} by {words}"
    if spec is None:
        return theme.empty_figure(f"Unknown breakdown measure: {metric}.", title)
    if not theme.is_empty(table) and "group_by" in table.columns:
        table = table.loc[table["group_by"].astype("str") == by]
    if theme.is_empty(table) or spec.column not in table.columns:
        return theme.empty_figure(f"No sessions to break down by {words}.", title)
    is_total = table["is_total"].astype("boolean").fillna(False).to_numpy(dtype=bool) if "is_total" in table \
        else np.zeros(len(table), dtype=bool)
    total = table.loc[is_total]
    table = table.loc[~is_total].assign(group=lambda t: plotly_labels(t["group"].astype("str")))
    hidden = theme.suppressed_mask(table)
    labels = table["group"].astype("str").tolist()
    shown = table.loc[~hidden]

    value = theme.floats(shown[spec.column])
    low, high = theme.floats(shown[spec.ci_low]), theme.floats(shown[spec.ci_high])
    n = theme.floats(shown[spec.denominator])
    patients = theme.floats(shown["patients"])
    top = np.nanmax(np.concatenate([high, value, [0.0]]))
    if spec.unit == "proportion":
        axis_max = min(1.0, top * 1.05) if top > 0 else 1.0
        axis_max = 1.0 if axis_max > 0.6 else axis_max
    else:
        axis_max = top * 1.1 if top > 0 else 1.0
    figures = [f"<b>{_value_text(v, spec.unit) if not np.isnan(v) else 'not reached'}</b>  "
               f"n = {theme.fmt_num(m)}, {theme.fmt_num(p)} patients" for v, m, p in zip(value, n, patients)]
    hover = []
    for g, v, lo, hi, m, p in zip(shown["group"].astype("str"), value, low, high, n, patients):
        interval = ("too few to give a range" if np.isnan(lo) and np.isnan(hi) and not np.isnan(v) else
                    f"95% CI {_value_text(lo, spec.unit)} to {_value_text(hi, spec.unit)}")
        hover.append(f"<b>{g}</b><br>{spec.title}: {_value_text(v, spec.unit)} ({interval})<br>"
                     f"{theme.fmt_num(m)} {spec.n_words}, {theme.fmt_num(p)} patients")
    if spec.numerator:
        k = theme.floats(shown[spec.numerator])
        hover = [h + f"<br>{theme.fmt_num(x)} of {theme.fmt_num(m)}" for h, x, m in zip(hover, k, n)]

    fig = go.Figure()
    error = dict(type="data", symmetric=False, array=np.where(np.isnan(high), 0, high - value),
                 arrayminus=np.where(np.isnan(low), 0, value - low), color="#333333", thickness=1.3, width=5)
    fig.add_trace(go.Bar(
        y=shown["group"].astype("str").tolist(), x=value, orientation="h", name=f"{spec.title} (95% CI)",
        marker=dict(color=theme.OKABE_ITO["blue"]), error_x=error, hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>"))
    if hidden.any():
        suppressed = table.loc[hidden]
        words_hidden = theme.suppression_label(suppressed, settings)
        fig.add_trace(go.Bar(
            y=suppressed["group"].astype("str").tolist(), x=[axis_max] * len(suppressed), orientation="h",
            name="Suppressed (too few patients)", text=words_hidden, textposition="inside", insidetextanchor="start",
            textfont=dict(color=theme.GREY, size=11),
            marker=dict(color="rgba(0,0,0,0)", line=dict(color=theme.LIGHT_GREY, width=1),
                        pattern=dict(shape="/", fgcolor=theme.LIGHT_GREY, size=8, solidity=0.15)),
            hovertext=[f"<b>{g}</b><br>{w}" for g, w in zip(suppressed["group"].astype("str"), words_hidden)],
            hovertemplate="%{hovertext}<extra></extra>"))
    if len(total) and not theme.suppressed_mask(total).any():
        t = float(theme.floats(total[spec.column])[0])
        if not np.isnan(t):
            theme.add_vline(fig, t, f"all sessions: {_value_text(t, spec.unit)}", dash="dot", label_y=1.0)

    subtitle = f"{_subtitle(spec, settings)}<br>Above each bar: the value, then n = {spec.n_words}, and patients; whiskers: 95% CI."
    figures_of = dict(zip(shown["group"].astype("str"), figures))  # a suppressed group: its name (words in its bar)
    texts, row_px = theme.bar_label_lines(labels, [figures_of.get(g, "") for g in labels])
    theme.base_layout(fig, title, subtitle, height=max(300, 150 + row_px * len(labels)))
    fig.update_layout(showlegend=False, barmode="overlay")
    theme.labels_above_bars(fig, labels, texts, bargap=1 - theme.BAR_THICKNESS_PX / row_px, row_px=row_px)
    x_title = spec.axis
    if spec.unit == "proportion":
        fig.update_xaxes(tickformat=".0%", range=[0, axis_max], title_text=x_title)
    else:  # a mean response can be negative (worse after the injection)
        axis_min = min(0.0, float(np.nanmin(np.concatenate([low, value, [0.0]]))) * 1.1)
        fig.update_xaxes(range=[axis_min, axis_max], title_text=x_title)
    fig.update_traces(cliponaxis=False, selector=dict(type="scatter"))
    return fig
