"""The effect within one cycle, from session records: begun, still benefiting and in benefit, day by day; the one
benefit chart of the Overview, with its numbers at risk as a table (`benefit_table`) rather than text in the plot.

Why: patients are told the benefit starts within days, peaks within weeks and lasts months; this chart shows
what the clinic's own responder sessions say, with the median onset, peak and duration marked, and the
Kaplan-Meier share still benefiting (the benefit-duration curve) with its 95% band.
Input: analytics.effect_over_time.effect_over_time (the curve) and effect_markers (the medians).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.settings import DEFAULT_SETTINGS, Settings
from charts import theme

BEGUN = "Benefit has begun (onset)"
STILL = "Still benefiting (Kaplan-Meier)"
BAND = "Still benefiting: 95% CI"
IN_BENEFIT = "In benefit (begun, not yet worn off)"


def _duration_words(markers: dict) -> str:
    """'median benefit 108 days (95% CI 105 to 111)'; '' without a median."""
    duration = markers.get("median_duration_days")
    if duration is None:
        return ""
    low, high = markers.get("duration_ci_low"), markers.get("duration_ci_high")
    ci = f" (95% CI {theme.fmt_num(low)} to {theme.fmt_num(high) if high is not None else 'not reached'})" \
        if low is not None else ""
    return f"Median benefit {theme.fmt_day(duration)} days{ci}"


def _marker_lines(fig: go.Figure, markers: dict, end: float) -> list[str]:
    """Vertical lines at the median onset, peak and duration, each with a short label that stays inside the plot
    (the duration's label left of its line when the line is in the right half); returns notes for the subtitle."""
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
        theme.add_vline(fig, duration, f"median duration: day {theme.fmt_day(duration)}", dash="dash",
                        color=theme.OKABE_ITO["blue"], label_y=0.9, side="left" if duration > end / 2 else "right")
        notes.append(_duration_words(markers))
    elif markers.get("n_duration"):
        notes.append("Median duration not reached: more than half were still benefiting when last seen")
    return notes


def effect_over_time_figure(effect_table, markers: dict | None, settings: Settings = DEFAULT_SETTINGS) -> go.Figure:
    """Onset share, still benefiting (KM, with 95% band) and in benefit (%) over days after injection."""
    title = "When the benefit begins, peaks and wears off"
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

    # Default view: the days on which at least 10% of the sessions are still observed; the thin tail beyond
    # is one "autoscale" click away.
    end = min(x_end(effect_table, settings), float(day.max()))
    notes = _marker_lines(fig, markers, end)
    by_day = dict(zip(day.tolist(), still))
    landmarks = [f"{theme.weeks_label(d)}: {theme.fmt_pct(by_day[d])}" for d in settings.landmark_days
                 if d in by_day and not np.isnan(by_day[d])]
    if landmarks:
        notes.append("still benefiting at " + ", at ".join(landmarks))
    n = markers.get("n_duration")
    population = theme.count(n, "responder session") if n else "responder sessions"
    onset_n = markers.get("n_onset")
    subtitle = (f"Share of {population}{f' ({theme.fmt_num(onset_n)} with an onset day recorded)' if onset_n else ''}"
                f" on each day after the injection. The blue curve is the Kaplan-Meier benefit duration: benefit "
                "still running at the next injection counts as 'at least this long', never as its end; the "
                f"sessions it rests on are in the table under the chart.<br>{theme.responder_rule(settings)}.")
    if notes:
        subtitle += "<br>" + "; ".join(notes) + "."
    theme.base_layout(fig, title, subtitle, hovermode="x unified", height=520)
    fig.update_xaxes(title_text="Days after injection", range=[0, end * 1.03], dtick=AT_RISK_STEP)  # the table's days
    fig.update_yaxes(title_text="Share of responder sessions (%)", tickformat=".0%", range=[0, 1.05])
    fig.update_layout(hoverlabel=dict(namelength=-1))
    return fig


def x_end(effect_table: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> float:
    """The last day the chart shows by default: while at least 10% of the sessions are still observed, and at least
    4 weeks past the last landmark (theme.observed_end)."""
    return theme.observed_end(effect_table["day"], effect_table["at_risk"],
                              minimum=max(settings.landmark_days, default=0) + 28)


AT_RISK_STEP = 28  # a row every 4 weeks, as the x axis's grid of a Kaplan-Meier plot


def benefit_table(effect_table, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """The numbers under the benefit chart, one row per 4 weeks (and per landmark day) up to the chart's end: the
    sessions still followed up (the number at risk) and the share still benefiting with its 95% CI, as text.

    Why a table: a row of numbers drawn under a plot runs into one string on a phone; table cells cannot overlap.
    Three short columns so that it fits 360 px: Day ('84 (12 weeks)'), Sessions still followed up ('515'),
    Still benefiting ('92% (89% to 94%)'; '-' where the curve has no value).
    """
    columns = ["Day", "Sessions still followed up", "Still benefiting (95% CI)"]
    if theme.is_empty(effect_table):
        return pd.DataFrame(columns=columns)
    last = int(min(x_end(effect_table, settings), float(effect_table["day"].max())))
    days = sorted(set(range(0, last + 1, AT_RISK_STEP)) | {int(d) for d in settings.landmark_days if d <= last})
    rows = effect_table.set_index("day").reindex(days)
    still, low, high = (theme.floats(rows[c]) for c in ("still_benefiting", "still_ci_low", "still_ci_high"))
    return pd.DataFrame({
        "Day": [f"{d} ({d // 7} week{'s' if d // 7 != 1 else ''})" if d % 7 == 0 and d else str(d) for d in days],
        "Sessions still followed up": theme.ints_text(rows["at_risk"].fillna(0)),
        "Still benefiting (95% CI)": [theme.fmt_pct(s) + (f" ({theme.fmt_pct(lo)} to {theme.fmt_pct(hi)})"
                                                          if not (np.isnan(lo) or np.isnan(hi)) else "")
                                      for s, lo, hi in zip(still, low, high)],
    }, columns=columns)
