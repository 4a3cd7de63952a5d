"""Adverse events per session by event type (and by product), with Wilson 95% intervals and counts.

Why: "mild temporary discomfort is common" is what patients are told; the clinic needs its own rates, each
with the number of sessions it rests on, and side by side per product where it asks for that.
Input: analytics.safety.adverse_event_rates (by=None or by="product"), or a dict {"type": by-type table,
"product": by-product table} as the overview page passes; optionally after analytics.suppression with
safety.SUPPRESSION_OPTIONS (suppressed rows are left out and counted in the subtitle).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from charts import theme
from charts.safe_text import plotly_labels, plotly_text

ANY_LABEL = "Any adverse event"


def event_label(event) -> str:
    """'any' -> 'Any adverse event'; 'injection_site_pain' -> 'Injection site pain'."""
    if str(event) == "any":
        return ANY_LABEL
    text = theme.pretty(event)
    return plotly_text(text[:1].upper() + text[1:])


def adverse_events_figure(rates) -> go.Figure:
    """Horizontal bars of the share of sessions with each event (95% CI whiskers, 'k of n' beside each bar);
    one colour per product when the table is by product."""
    title = "Adverse events per session"
    if isinstance(rates, dict):  # {"type", "product"}: the by-product view when there is more than one product
        product = rates.get("product")
        rates = product if product is not None and product["group"].nunique() > 1 else rates.get("type")
    if theme.is_empty(rates):
        return theme.empty_figure("No sessions with adverse events recorded.", title)
    by = plotly_text(rates["group_by"].iloc[0]) if "group_by" in rates else "all"
    if by != "all":
        title += f" by {by.replace('_', ' ')}"
    hidden = theme.suppressed_mask(rates)
    shown = rates.loc[~hidden]
    if len(shown) == 0:
        return theme.empty_figure("Every group is suppressed (too few patients).", title)
    events = list(dict.fromkeys(rates["event"].astype("str")))
    labels = {e: event_label(e) for e in events}
    shown = shown.assign(group=plotly_labels(shown["group"].astype("str")))
    groups = list(dict.fromkeys(shown["group"]))
    single = len(groups) == 1

    fig = go.Figure()
    figures = {}  # each event's figures for the line above its bar (one product only)
    # Grouped horizontal bars stack each event's bars from the bottom up in the order of the traces: added last
    # group first (and the legend reversed), the first group is the top bar and the first legend entry.
    for i, group in reversed(list(enumerate(groups))):
        part = shown.loc[shown["group"] == group]
        rate = theme.floats(part["rate"])
        low, high = theme.floats(part["ci_low"]), theme.floats(part["ci_high"])
        k, n = theme.floats(part["sessions_with_event"]), theme.floats(part["sessions_recorded"])
        pk = theme.floats(part["patients_with_event"]) if "patients_with_event" in part else np.full(len(part), np.nan)
        names = [labels[e] for e in part["event"].astype("str")]
        color = theme.OKABE_ITO["vermillion"] if single else theme.colour(i)
        fig.add_trace(go.Bar(
            y=names, x=rate, orientation="h", name=f"{group} ({theme.fmt_num(n[0])} sessions)" if len(n) else group,
            marker=dict(color=color), offsetgroup=group, legendgroup=group,
            error_x=dict(type="data", symmetric=False, array=high - rate, arrayminus=rate - low, color="#333333",
                         thickness=1.2, width=3),
            hovertext=[f"<b>{lab}</b>{'' if single else f' - {group}'}<br>{theme.fmt_pct(r, 1)} of sessions "
                       f"(95% CI {theme.fmt_pct(lo, 1)} to {theme.fmt_pct(hi, 1)})<br>{theme.fmt_num(a)} of "
                       f"{theme.fmt_num(b)} sessions with adverse events recorded; {theme.fmt_num(p)} patients "
                       "with this event"
                       for lab, r, lo, hi, a, b, p in zip(names, rate, low, high, k, n, pk)],
            hovertemplate="%{hovertext}<extra></extra>"))
        if single:  # the rate and its counts go on the label line above the bar
            figures.update((nm, f"<b>{theme.fmt_pct(r, 1)}</b> ({theme.fmt_num(a)} of {theme.fmt_num(b)} sessions)")
                           for nm, r, a, b in zip(names, rate, k, n))
        else:  # several bars per event: each bar's rate right of its whisker (its counts are in the hover)
            fig.add_trace(go.Scatter(
                y=names, x=np.where(np.isnan(high), rate, high), mode="text", orientation="h", offsetgroup=group,
                legendgroup=group, showlegend=False, name=f"{group}: rate", hoverinfo="skip", cliponaxis=False,
                text=[f"\u2002{theme.fmt_pct(r, 1)}" for r in rate],
                textposition="middle right", textfont=dict(size=11, color="#444444")))

    lines = [("Share of sessions with each event (a session counts once per event type), with 95% CI. "
              "Sessions without adverse events recorded are left out.")]
    if hidden.any():
        k_min = rates.attrs.get("min_group_patients") or 5
        lost = rates.loc[hidden, "group"].astype("str").nunique()
        lines.append(f"Not shown: {lost} {by.replace('_', ' ') if by != 'all' else 'group'}"
                     f"{'s' if lost > 1 else ''} with too few patients (fewer than {k_min}) or suppressed to "
                     "protect one.")
    order = [labels[e] for e in events]
    above, row_px = theme.bar_label_lines(order, [figures.get(e, "") for e in order])
    row_px = row_px if single else 36 + 14 * len(groups)
    theme.base_layout(fig, title, "<br>".join(lines), height=max(320, 190 + len(events) * row_px),
                      legend_title="Product" if by == "product" else "")
    top = np.nanmax(theme.floats(shown["ci_high"]))
    fig.update_layout(barmode="group", scattermode="group", bargroupgap=0.05, showlegend=not single,
                      legend=dict(traceorder="reversed"))
    theme.labels_above_bars(fig, order, above, bargap=1 - theme.BAR_THICKNESS_PX / row_px if single else 36 / row_px,
                            row_px=row_px)
    fig.update_xaxes(title_text="Sessions with the event (%)",
                     tickformat=".0%", range=[0, max(top, 0.01) * (1.1 if single else 1.3)], rangemode="tozero")
    return fig
