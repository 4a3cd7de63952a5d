"""The effect within one cycle, from session records: begun, still benefiting and in benefit, day by day.

Why: patients are told the benefit starts within days, peaks within weeks and lasts months; this chart shows
what the clinic's own responder sessions say, with the median onset, peak and duration marked.
Input: analytics.effect_over_time.effect_over_time (the curve) and effect_markers (the medians).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from analytics.settings import DEFAULT_SETTINGS, Settings
from charts import theme

BEGUN = "Benefit has begun (onset)"
STILL = "Still benefiting (Kaplan-Meier)"
BAND = "Still benefiting: 95% CI"
IN_BENEFIT = "In benefit (begun, not yet worn off)"


def _marker_lines(fig: go.Figure, markers: dict) -> list[str]:
    """Vertical lines at the median onset, peak and duration; returns notes for what could not be drawn."""
    notes = []
    onset, peak = markers.get("median_onset_days"), markers.get("median_peak_days")
    if onset is not None:
        theme.add_vline(fig, onset, f"median onset: day {theme.fmt_day(onset)}", dash="dot",
                        color=theme.OKABE_ITO["orange"], label_y=0.5)
    if peak is not None:
        theme.add_vline(fig, peak, f"median peak: day {theme.fmt_day(peak)}", dash="dot", color=theme.REFERENCE,
                        label_y=0.42)
    duration = markers.get("median_duration_days")
    if duration is not None:
        low, high = markers.get("duration_ci_low"), markers.get("duration_ci_high")
        ci = f" (95% CI {theme.fmt_num(low)}-{theme.fmt_num(high) if high is not None else 'not reached'})" \
            if low is not None else ""
        theme.add_vline(fig, duration, f"median duration: day {theme.fmt_day(duration)}{ci}", dash="dash",
                        color=theme.OKABE_ITO["blue"], label_y=0.9)
    elif markers.get("n_duration"):
        notes.append("Median duration not reached: more than half were still benefiting when last seen")
    return notes


def effect_over_time_figure(effect_table, markers: dict | None, settings: Settings = DEFAULT_SETTINGS) -> go.Figure:
    """Onset share, still benefiting (KM, with 95% band) and in benefit (%) over days after injection."""
    title = "How the benefit unfolds after an injection"
    if theme.is_empty(effect_table):
        return theme.empty_figure("No responder sessions to show the effect over time.", title)
    markers = markers or {}
    day = effect_table["day"].to_numpy()
    begun = theme.floats(effect_table["onset_share"])
    still = theme.floats(effect_table["still_benefiting"])
    low, high = theme.floats(effect_table["still_ci_low"]), theme.floats(effect_table["still_ci_high"])
    in_benefit = theme.floats(effect_table["in_benefit"])
    at_risk = theme.ints_text(effect_table["at_risk"])
    still_text = [f"{theme.fmt_pct(s)} still benefiting (95% CI {theme.fmt_pct(lo)} to {theme.fmt_pct(hi)}); "
                  f"{n} sessions still observed" for s, lo, hi, n in zip(still, low, high, at_risk)]

    fig = go.Figure()
    known = ~np.isnan(low) & ~np.isnan(high)
    fig.add_trace(go.Scatter(
        x=np.concatenate([day[known], day[known][::-1]]), y=np.concatenate([high[known], low[known][::-1]]),
        fill="toself", mode="lines", fillcolor=theme.rgba(theme.OKABE_ITO["blue"], 0.15), line=dict(width=0),
        line_shape="hv", name=BAND, hoverinfo="skip", legendgroup="still", legendrank=4))
    fig.add_trace(go.Scatter(
        x=day, y=in_benefit, name=IN_BENEFIT, mode="lines",
        line=dict(color=theme.OKABE_ITO["bluish_green"], width=3.5), line_shape="hv", legendrank=1,
        hovertemplate="%{y:.0%} in benefit<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=day, y=begun, name=BEGUN, mode="lines", line=dict(color=theme.OKABE_ITO["orange"], width=2, dash="dot"),
        line_shape="hv", legendrank=2,
        hovertemplate="%{y:.0%} had begun to benefit<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=day, y=still, name=STILL, mode="lines", line=dict(color=theme.OKABE_ITO["blue"], width=1.5),
        line_shape="hv", legendgroup="still", legendrank=3, hovertext=still_text,
        hovertemplate="%{hovertext}<extra></extra>"))

    notes = _marker_lines(fig, markers)
    n = markers.get("n_duration")
    population = theme.count(n, "responder session") if n else "responder sessions"
    onset_n = markers.get("n_onset")
    subtitle = (f"Share of {population}{f' ({theme.fmt_num(onset_n)} with an onset day recorded)' if onset_n else ''}"
                f" on each day after the injection.<br>{theme.responder_rule(settings)}.")
    if notes:
        subtitle += "<br>" + "; ".join(notes) + "."
    theme.base_layout(fig, title, subtitle, hovermode="x unified")
    # Default view: the days on which at least 10% of the sessions are still observed; the thin tail beyond
    # is one "autoscale" click away.
    end = theme.observed_end(day, effect_table["at_risk"], minimum=max(settings.landmark_days, default=0) + 28)
    fig.update_xaxes(title_text="Days after injection", range=[0, min(end, float(day.max())) * 1.03])
    fig.update_yaxes(title_text="Share of responder sessions (%)", tickformat=".0%", range=[0, 1.05])
    fig.update_layout(hoverlabel=dict(namelength=-1))
    return fig
