"""Is the effect waning across cycles? Mean response and responder rate by cycle, and median benefit by cycle.

Why: later injections may be less dramatic than the first. The clinic sees each cycle's figure with its 95%
interval and the patients it rests on (later cycles have fewer patients, so wider intervals), and the
change per extra cycle from the mixed model in words.
Input: analytics.waning.waning_by_cycle (optionally after analytics.suppression with patients_col=
"n_patients", group_cols=["cycle"]: suppressed cycles are left out) and, optionally, waning_slope. The charts stop
at the last cycle with enough patients (analytics.waning.cycles_to_chart, MIN_CYCLE_PATIENTS) and say so in one
line.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.kaplan_meier import MIN_EVENTS_FOR_CI, too_few_events
from analytics.settings import DEFAULT_SETTINGS, Settings
from analytics.waning import MIN_CYCLE_PATIENTS, cycles_to_chart
from charts import theme

X_TITLE = "Treatment cycle (1 = first injection)"
MEAN_NAME = "Mean pain response (95% CI)"
RATE_NAME = "Responder rate (95% CI)"
DURATION_NAME = "Median benefit duration, Kaplan-Meier (95% CI)"


def _error(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> dict:
    return dict(type="data", symmetric=False, array=high - value, arrayminus=value - low, thickness=1.2, width=3)


def _patients_words(cycle: np.ndarray, patients) -> str:
    """'Patients per cycle: 970 in cycle 1 to 23 in cycle 18.' (each cycle's count is in its hover and the table:
    a row of numbers under the plot runs together on a phone)."""
    n = theme.ints_text(patients)
    if len(cycle) == 1:
        return f"Patients: {n[0]} in cycle {cycle[0]}."
    return f"Patients per cycle: {n[0]} in cycle {cycle[0]} to {n[-1]} in cycle {cycle[-1]}."


def waning_figure(by_cycle, settings: Settings = DEFAULT_SETTINGS, slope: dict | None = None,
                  min_patients: int = MIN_CYCLE_PATIENTS) -> go.Figure:
    """Two panels sharing the cycle axis: mean response % (t 95% CI, with the responder threshold line) and
    responder rate (Wilson 95% CI), for the cycles with at least min_patients patients (one line says which);
    slope: waning_slope's result, whose sentence goes in the subtitle."""
    title = "Is the response fading over cycles?"
    if theme.is_empty(by_cycle):
        return theme.empty_figure("No sessions to show by cycle.", title)
    table, note = cycles_to_chart(by_cycle, min_patients)
    if len(table) == 0:
        return theme.empty_figure(f"No cycle has {min_patients} or more patients: the figures by cycle are in the "
                                  "table.", title)
    cycle = table["cycle"].to_numpy(dtype="int64")
    mean = theme.floats(table["mean_response_pct"])
    m_low, m_high = theme.floats(table["mean_ci_low"]), theme.floats(table["mean_ci_high"])
    rate = theme.floats(table["responder_rate"])
    r_low, r_high = theme.floats(table["rate_ci_low"]), theme.floats(table["rate_ci_high"])
    n_pain, n_response = theme.ints_text(table["n_pain"]), theme.ints_text(table["n_response"])
    patients = theme.ints_text(table["n_patients"])

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.5, 0.5], vertical_spacing=0.1,
                        subplot_titles=("<b>Mean pain response</b> (95% CI)", "<b>Responder rate</b> (95% CI)"))
    blue, green = theme.OKABE_ITO["blue"], theme.OKABE_ITO["bluish_green"]
    fig.add_trace(go.Scatter(
        x=cycle, y=mean, mode="lines+markers", name=MEAN_NAME, error_y=_error(mean, m_low, m_high),
        line=dict(color=blue, width=1.5), marker=dict(size=7, color=blue),
        hovertext=[f"<b>Cycle {c}</b><br>Mean response {theme.fmt_num(v, 1)}% (95% CI {theme.fmt_num(lo, 1)} to "
                   f"{theme.fmt_num(hi, 1)})<br>{n} sessions with a pain score; {p} patients"
                   for c, v, lo, hi, n, p in zip(cycle, mean, m_low, m_high, n_pain, patients)],
        hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=cycle, y=rate, mode="lines+markers", name=RATE_NAME, error_y=_error(rate, r_low, r_high),
        line=dict(color=green, width=1.5), marker=dict(size=7, color=green, symbol="square"),
        hovertext=[f"<b>Cycle {c}</b><br>Responder rate {theme.fmt_pct(v, 1)} (95% CI {theme.fmt_pct(lo, 1)} to "
                   f"{theme.fmt_pct(hi, 1)})<br>{theme.fmt_num(k)} responders of {n} sessions with a response; "
                   f"{p} patients"
                   for c, v, lo, hi, k, n, p in zip(cycle, rate, r_low, r_high, theme.floats(table["responders"]),
                                                    n_response, patients)],
        hovertemplate="%{hovertext}<extra></extra>"), row=2, col=1)

    threshold = settings.responder_threshold_pct
    theme.add_hline(fig, threshold, f"{theme.threshold_text(threshold)}% responder threshold", row=1, col=1)

    lines = [theme.responder_rule(settings) + ".", _patients_words(cycle, table["n_patients"])]
    if slope and slope.get("sentence"):
        lines.insert(0, slope["sentence"] + (f" ({slope['note']})" if slope.get("note") else ""))
    if note:
        lines.append(note)
    theme.base_layout(fig, title, "<br>".join(lines), height=640)
    fig.update_layout(showlegend=False,  # the panel titles name the two series
                      margin=dict(t=theme.title_space("<br>".join(lines)) + 26))
    fig.update_annotations(x=0, xanchor="left", font=dict(size=13), selector=dict(xref="paper", yref="paper"))
    low_end = np.nanmin(np.concatenate([m_low, mean, [0.0]]))
    fig.update_yaxes(title_text="Pain reduction (%)", range=[max(low_end, -100) - 5, 105], ticksuffix="%",
                     row=1, col=1)
    fig.update_yaxes(title_text="Responders (% of sessions)", tickformat=".0%", range=[0, 1.05], row=2, col=1)
    dtick = 1 if len(cycle) <= 20 else 2
    fig.update_xaxes(dtick=dtick, range=[cycle.min() - 0.6, cycle.max() + 0.6])
    fig.update_xaxes(showticklabels=False, row=1, col=1)
    fig.update_xaxes(title_text=X_TITLE, showticklabels=True, row=2, col=1)
    return fig


def duration_by_cycle_figure(by_cycle, settings: Settings = DEFAULT_SETTINGS,
                             min_patients: int = MIN_CYCLE_PATIENTS) -> go.Figure:
    """Kaplan-Meier median benefit duration by cycle with its 95% CI, the 12/16-week lines, and counts.

    A cycle whose median is not reached has no point (named in the subtitle); an upper limit not reached is
    drawn to the top of the chart and said so in the hover.
    """
    title = "Is the benefit getting shorter over cycles?"
    if theme.is_empty(by_cycle) or "median_duration_days" not in by_cycle.columns:
        return theme.empty_figure("No benefit durations to show by cycle.", title)
    table, note = cycles_to_chart(by_cycle, min_patients)
    table = table.loc[theme.floats(table["n_duration"]) > 0] if len(table) else table
    if len(table) == 0:
        return theme.empty_figure("No cycle has a responder session with a benefit duration.", title)
    cycle = table["cycle"].to_numpy(dtype="int64")
    median = theme.floats(table["median_duration_days"])
    low, high = theme.floats(table["duration_ci_low"]), theme.floats(table["duration_ci_high"])
    known = ~np.isnan(median)
    too_few = known & too_few_events(theme.floats(table["duration_events"]))  # no interval from < 2 events
    top = np.nanmax(np.concatenate([median[known], high[known & ~np.isnan(high)],
                                    [max(settings.landmark_days, default=0)]])) * 1.15
    open_high = known & ~too_few & np.isnan(high)
    high_drawn = np.where(open_high, top, np.where(too_few, median, high))
    low_drawn = np.where(np.isnan(low) | too_few, median, low)
    hover = []
    for c, m, lo, hi, n, e, p, few in zip(cycle, median, low, high, theme.ints_text(table["n_duration"]),
                                          theme.ints_text(table["duration_events"]),
                                          theme.ints_text(table["n_patients"]), too_few):
        ci = ("too few to give a range" if few else
              f"95% CI {theme.fmt_num(lo)} to {'not reached' if np.isnan(hi) else theme.fmt_num(hi)}")
        hover.append(f"<b>Cycle {c}</b><br>Median {theme.fmt_num(m)} days ({ci})<br>{n} responder sessions "
                     f"({e} with the wearing-off recorded); {p} patients")
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=cycle[known], y=median[known], mode="lines+markers", name=DURATION_NAME,
        error_y=_error(median[known], low_drawn[known], high_drawn[known]),
        line=dict(color=theme.OKABE_ITO["blue"], width=1.5), marker=dict(size=8, color=theme.OKABE_ITO["blue"]),
        hovertext=[h for h, k in zip(hover, known) if k], hovertemplate="%{hovertext}<extra></extra>"))
    for day in settings.landmark_days:
        theme.add_hline(fig, day, theme.weeks_label(day), dash="dot")
    lines = ["Half the responder sessions of the cycle had lost their benefit by this day.",
             theme.responder_rule(settings) + "."]
    extra = []
    if (~known).any():
        extra.append("median not reached (more than half still benefiting) in cycle"
                     f"{'s' if (~known).sum() > 1 else ''} {', '.join(str(c) for c in cycle[~known])}")
    if open_high.any():
        extra.append("a bar running to the top: upper limit not reached")
    if too_few.any():
        extra.append(f"no range in cycle{'s' if too_few.sum() > 1 else ''} "
                     f"{', '.join(str(c) for c in cycle[too_few])}: too few wearing-offs (fewer than "
                     f"{MIN_EVENTS_FOR_CI}) to give one")
    if extra:
        lines.append("; ".join(extra)[:1].upper() + "; ".join(extra)[1:] + ".")
    if note:
        lines.append(note)
    theme.base_layout(fig, title, "<br>".join(lines))
    fig.update_xaxes(title_text=X_TITLE, dtick=1 if len(cycle) <= 20 else 2,
                     range=[cycle.min() - 0.6, cycle.max() + 0.6])
    fig.update_yaxes(title_text="Median benefit duration (days)", range=[0, top])
    return fig
