"""The monthly responder rate as an SPC p-chart, in the NHS "Making Data Count" style.

Why: a month-to-month wobble is not a change. The chart draws the average (centre line) and 3-sigma control
limits, which step from month to month because the number of sessions varies, and colours only the months
the rules flag: blue for improvement, orange for concern, grey for ordinary (common-cause) variation. The
hover gives each month's figures and why it is or is not a signal, in plain words.
When the months vary more than sessions alone explain, the limits are Laney's p' (analytics.spc), and the
subtitle says so. The selected period is shaded; months whose follow-ups are still coming in are drawn hollow with
a dashed connector (provisional: left out of the limits and the rules).
Input: analytics.spc.p_chart.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.settings import DEFAULT_SETTINGS, Settings
from analytics.spc import limits_sentence
from charts import theme

RATE_NAME = "Monthly responder rate"
CENTRE_NAME = "Average (centre line)"
LIMITS_NAME = "Control limits (3 sigma)"
LANEY_LIMITS_NAME = "Laney p' control limits (3 sigma, widened)"
PROVISIONAL_NAME = "Provisional: follow-ups still coming in"
PERIOD_TEXT = "selected period"
POINT_NAMES = {
    "special_cause_improvement": "Special cause: improvement",
    "special_cause_concern": "Special cause: concern",
    "special_cause_neutral_high": "Special cause (high)",
    "special_cause_neutral_low": "Special cause (low)",
    "common_cause": "Common cause (ordinary variation)",
}


def _half_month_edges(month: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each point's step: halfway to the neighbouring months (so limits step between points)."""
    t = pd.to_datetime(month).to_numpy(dtype="datetime64[ns]")
    if len(t) == 1:
        half = np.timedelta64(15, "D")
        return t - half, t + half
    mids = t[:-1] + (t[1:] - t[:-1]) / 2
    start = np.concatenate([[t[0] - (mids[0] - t[0])], mids])
    end = np.concatenate([mids, [t[-1] + (t[-1] - mids[-1])]])
    return start, end


def _steps(start: np.ndarray, end: np.ndarray, values: np.ndarray) -> tuple[list, list]:
    """x/y of a horizontal segment per month (joined into one stepped line)."""
    x, y = [], []
    for s, e, v in zip(start, end, values):
        x += [s, e]
        y += [v, v]
    return x, y


def _signal_summary(month: pd.Series, kinds: np.ndarray) -> str:
    """'<b>Signals</b>: 11 months of concern (Sep 2025 to Jul 2026)' or 'no special cause'."""
    parts = []
    for kind, words in (("special_cause_improvement", "improvement"), ("special_cause_concern", "concern"),
                        ("special_cause_neutral_high", "high"), ("special_cause_neutral_low", "low")):
        mask = kinds == kind
        if mask.any():
            first, last = month[mask].min().strftime("%b %Y"), month[mask].max().strftime("%b %Y")
            span = first if first == last else f"{first} to {last}"
            parts.append(f"{int(mask.sum())} month{'s' if mask.sum() > 1 else ''} of {words} ({span})")
    if not parts:
        return "<b>No special cause</b>: the months vary only as much as chance would make them."
    return "<b>Signals</b>: " + "; ".join(parts) + "."


def _shade_period(fig: go.Figure, pchart: pd.DataFrame, start: np.ndarray, end: np.ndarray) -> None:
    """Shade the months of the selected period (chart.attrs period_start to period_end), labelled."""
    period_start, period_end = pchart.attrs.get("period_start"), pchart.attrs.get("period_end")
    if period_start is None or period_end is None:
        return
    month = pd.to_datetime(pchart["month"])
    inside = ((month >= pd.Timestamp(period_start).to_period("M").to_timestamp())
              & (month <= pd.Timestamp(period_end))).to_numpy(dtype=bool)
    if not inside.any():
        return
    first, last = np.flatnonzero(inside)[[0, -1]]
    # as text: plotly writes a numpy datetime64 in a shape as nanoseconds, which the browser reads as milliseconds
    x0, x1 = (pd.Timestamp(v).isoformat() for v in (start[first], end[last]))
    fig.add_vrect(x0=x0, x1=x1, fillcolor=theme.LIGHT_GREY, opacity=0.35, layer="below",
                  line_width=0, annotation_text=PERIOD_TEXT, annotation_position="top left",
                  annotation_font=dict(size=11, color=theme.REFERENCE))


def p_chart_figure(pchart, settings: Settings = DEFAULT_SETTINGS) -> go.Figure:
    """Monthly responder rate with centre line, stepped 3-sigma limits and special causes coloured."""
    title = "Is the responder rate changing? Monthly SPC p-chart"
    if not theme.is_empty(pchart) and pchart.attrs.get("limits") == "laney":
        title = "Is the responder rate changing? Monthly SPC chart, Laney p' limits"
    if theme.is_empty(pchart):
        return theme.empty_figure("No month has a session with a response score.", title)
    month = pd.to_datetime(pchart["month"])
    rate = theme.floats(pchart["rate"])
    centre = theme.floats(pchart["centre"])
    lcl, ucl = theme.floats(pchart["lcl"]), theme.floats(pchart["ucl"])
    kinds = pchart["point_type"].astype("str").to_numpy()
    explanations = pchart["explanation"].astype("str").to_numpy() if "explanation" in pchart else \
        np.array([""] * len(pchart))
    hover = [e.replace(". ", ".<br>") for e in explanations]
    start, end = _half_month_edges(month)

    provisional = (pchart["provisional"].to_numpy(dtype=bool) if "provisional" in pchart
                   else np.zeros(len(pchart), dtype=bool))
    laney = pchart.attrs.get("limits") == "laney"
    limits_name = LANEY_LIMITS_NAME if laney else LIMITS_NAME

    fig = go.Figure()
    _shade_period(fig, pchart, start, end)
    x_limit, y_upper = _steps(start, end, ucl)
    _, y_lower = _steps(start, end, lcl)
    fig.add_trace(go.Scatter(x=x_limit, y=y_upper, mode="lines", name=limits_name, legendgroup="limits",
                             line=dict(color=theme.GREY, width=1.2), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x_limit, y=y_lower, mode="lines", name="Lower control limit", legendgroup="limits",
                             showlegend=False, line=dict(color=theme.GREY, width=1.2), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[start[0], end[-1]], y=[centre[0], centre[0]], mode="lines",
                             name=f"{CENTRE_NAME}: {theme.fmt_pct(centre[0], 1)}",
                             line=dict(color="#231F20", width=1.2), hoverinfo="skip"))
    complete = ~provisional
    fig.add_trace(go.Scatter(x=month[complete], y=rate[complete], mode="lines", name=RATE_NAME, showlegend=False,
                             line=dict(color=theme.SPC_COLOURS["common_cause"], width=1.5), hoverinfo="skip"))
    if provisional.any():  # dashed on from the last complete month through the provisional ones
        tail = np.flatnonzero(provisional)
        if complete.any():
            tail = np.concatenate([[np.flatnonzero(complete)[-1]], tail])
        fig.add_trace(go.Scatter(x=month.iloc[tail], y=rate[tail], mode="lines", name="Provisional connector",
                                 showlegend=False, hoverinfo="skip",
                                 line=dict(color=theme.SPC_COLOURS["common_cause"], width=1.5, dash="dash")))
    for kind in ("common_cause", "special_cause_improvement", "special_cause_concern",
                 "special_cause_neutral_high", "special_cause_neutral_low"):
        mask = (kinds == kind) & complete
        if not mask.any():
            continue
        fig.add_trace(go.Scatter(
            x=month[mask], y=rate[mask], mode="markers", name=POINT_NAMES[kind],
            marker=dict(color=theme.SPC_COLOURS[kind], size=9 if kind == "common_cause" else 11,
                        line=dict(color="white", width=1)),
            hovertext=[hover[i] for i in np.flatnonzero(mask)], hovertemplate="%{hovertext}<extra></extra>"))
    if provisional.any():
        fig.add_trace(go.Scatter(
            x=month[provisional], y=rate[provisional], mode="markers", name=PROVISIONAL_NAME,
            marker=dict(symbol="circle-open", color=theme.SPC_COLOURS["common_cause"], size=10,
                        line=dict(color=theme.SPC_COLOURS["common_cause"], width=2)),
            hovertext=[hover[i] for i in np.flatnonzero(provisional)],
            hovertemplate="%{hovertext}<extra></extra>"))

    n = theme.floats(pchart["n"])
    lines = [(f"Share of sessions with a response score that were responders, per calendar month "
              f"({theme.fmt_num(np.nansum(n))} sessions; {theme.fmt_num(np.nanmin(n))} to "
              f"{theme.fmt_num(np.nanmax(n))} a month, so the limits vary)."),
             ("Special cause: a month outside the limits, 7 months in a row on one side of the average or rising or "
              "falling, or 2 of 3 close to a limit."),
             theme.responder_rule(settings) + "."]
    signals = _signal_summary(month, kinds)
    lines.insert(1, signals)
    lines[2:2] = limits_sentence(pchart).replace(". Centre line", ".|Centre line").split("|")
    if pchart.attrs.get("provisional"):
        lines.append("Fewer than 12 months of data: the limits are provisional.")
    subtitle = "<br>".join(lines)
    theme.base_layout(fig, title, subtitle)
    fig.update_layout(height=520)  # the legend's rows come out of the height: room for them on a phone
    low = np.nanmin(np.concatenate([rate, lcl]))
    high = np.nanmax(np.concatenate([rate, ucl]))
    pad = max((high - low) * 0.08, 0.01)
    fig.update_xaxes(title_text="Month of the injection", dtick="M3", tickformat="%b %Y")
    y_range = [max(low - pad, 0), min(high + pad, 1.0) if high + pad < 1 else 1.02]
    fig.update_yaxes(title_text="Responders (%)", tickformat=theme.percent_ticks(*y_range), range=y_range)
    return fig
