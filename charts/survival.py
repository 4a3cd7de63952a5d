"""Kaplan-Meier benefit-duration curves with the number at risk under them, as KM plots in journals show.

Why: many responder sessions end with a re-injection before the benefit wore off, so the duration is shown
as the share still benefiting day by day (never a plain mean). The at-risk row says how many sessions the
curve still rests on: when it gets small, the right end is uncertain.
Input: analytics.kaplan_meier.km_curves_by_group (or km_curve for one curve); optionally km_by_group for the
patient counts, medians and suppression of small groups.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.kaplan_meier import CURVE_COLUMNS, KMMedian, median_from_curve
from analytics.sessions import NOT_RECORDED
from analytics.settings import DEFAULT_SETTINGS, Settings
from charts import theme
from charts.safe_text import plotly_labels, plotly_text

AT_RISK_STEP = 28  # at-risk counts every 4 weeks: 0, 28, 56, 84, 112, 140, 168 ...
MIN_DAYS_SHOWN = 168  # 24 weeks: relief usually lasts 4-6 months
ALL = "All responder sessions"


def group_columns(curves: pd.DataFrame) -> list[str]:
    """The grouping columns of a km_curves_by_group table (those before the KM columns)."""
    return [c for c in curves.columns if c not in CURVE_COLUMNS]


def _labels(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One text label per row from the group columns ('(not recorded)' for missing); 'All ...' without groups.

    The labels are inert plotly text (charts.safe_text): everything the figure shows of a group comes from them.
    """
    if not keys:
        return pd.Series(ALL, index=frame.index, dtype="str")
    parts = [frame[k].astype("str").where(frame[k].notna(), NOT_RECORDED) for k in keys]
    label = parts[0]
    for part in parts[1:]:
        label = label + " / " + part
    return plotly_labels(label)


def at_risk_table(curves: pd.DataFrame, times: Sequence[float] | None = None) -> pd.DataFrame:
    """Sessions still observed (duration >= t) per group at each time, read off the curves' at_risk column.

    A lookup, not an estimate: at_risk of the first curve row at or after t, 0 beyond the last row (the same
    as analytics.kaplan_meier.at_risk_at on the durations). Columns: the group columns, time, at_risk.
    """
    keys = group_columns(curves)
    times = np.asarray(list(times if times is not None else range(0, MIN_DAYS_SHOWN + 1, AT_RISK_STEP)),
                       dtype="float64")
    rows = []
    groups = curves.groupby(keys, dropna=False, sort=False) if keys else [((), curves)]
    for key, part in groups:
        grid = part["time"].to_numpy(dtype="float64")
        risk = part["at_risk"].to_numpy(dtype="int64")
        pos = np.searchsorted(grid, times, side="left")
        counts = np.where(pos < len(grid), risk[np.clip(pos, 0, len(grid) - 1)], 0)
        key = key if isinstance(key, tuple) else (key,)
        for t, c in zip(times, counts):
            rows.append({**dict(zip(keys, key)), "time": t, "at_risk": int(c)})
    return pd.DataFrame(rows, columns=keys + ["time", "at_risk"])


def _summary_lookup(summary: pd.DataFrame | None, keys: list[str]) -> dict[str, dict]:
    """km_by_group rows by group label."""
    if summary is None or len(summary) == 0:
        return {}
    missing = [k for k in keys if k not in summary.columns]
    if missing:
        return {}
    labels = _labels(summary, keys)
    return {label: row for label, row in zip(labels, summary.to_dict("records"))}


def _step_hover(label: str, part: pd.DataFrame) -> list[str]:
    """Hover text per curve row: the share still benefiting with its CI, at risk, events and censored."""
    s, lo, hi = (theme.floats(part[c]) for c in ("survival", "ci_low", "ci_high"))
    out = []
    for t, si, low, high, n, d, c in zip(part["time"], s, lo, hi, part["at_risk"], part["events"], part["censored"]):
        out.append(f"<b>{label}</b><br>Day {theme.fmt_num(t)}: {theme.fmt_pct(si)} still benefiting "
                   f"(95% CI {theme.fmt_pct(low)} to {theme.fmt_pct(high)})<br>{theme.fmt_num(n)} sessions still "
                   f"observed; {theme.fmt_num(d)} wore off, {theme.fmt_num(c)} censored on this day")
    return out


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _median_text(med: KMMedian) -> str:
    if med.median is None:
        return "median not reached"
    if med.too_few:
        return f"median {theme.fmt_num(med.median)} days (too few to give a range)"
    high = "not reached" if med.ci_high is None else theme.fmt_num(med.ci_high)
    low = theme.fmt_num(med.ci_low) if med.ci_low is not None else "-"
    return f"median {theme.fmt_num(med.median)} days (95% CI {low} to {high})"


def km_figure(curves, at_risk=None, settings: Settings = DEFAULT_SETTINGS, group_label: str | None = None,
              summary: pd.DataFrame | None = None) -> go.Figure:
    """KM curve(s) of benefit duration (step lines; 95% band for a single curve), landmark lines at
    settings.landmark_days, each median marked, and the number at risk under the chart.

    curves: km_curves_by_group (group columns first) or km_curve. at_risk: a table of group columns, time,
    at_risk (see `at_risk_table`), a list of days to read the counts at, or None for every 28 days.
    group_label: words for the grouping (e.g. "Product"). summary: km_by_group for the same grouping, to show
    patients per group and leave out groups marked suppressed by analytics.suppression.
    """
    group_label = plotly_text(group_label) if group_label else group_label
    title = "How long the benefit lasts (Kaplan-Meier)" + (f" by {group_label.lower()}" if group_label else "")
    if theme.is_empty(curves):
        return theme.empty_figure("No responder sessions with a benefit duration to show.", title)
    keys = group_columns(curves)
    labels = _labels(curves, keys)
    by_label = _summary_lookup(summary, keys)
    notes = []
    hidden = [label for label, row in by_label.items() if row.get("suppressed")]
    if hidden:
        k = (summary.attrs.get("min_group_patients") if summary is not None else None) or settings.min_group_patients
        notes.append(f"Not shown: {len(hidden)} group{'s' if len(hidden) > 1 else ''} with too few patients "
                     f"(fewer than {k}) or suppressed to protect one")
    order = [label for label in pd.unique(labels) if label not in hidden]
    if not order:
        return theme.empty_figure("Every group is suppressed (too few patients).", title)

    # Which days to show: where at least 10% of the sessions are still observed, and at least 24 weeks.
    shown = curves.loc[labels.isin(order).to_numpy()]
    end = theme.observed_end(shown["time"], shown["at_risk"],
                             minimum=max(MIN_DAYS_SHOWN, max(settings.landmark_days, default=0)))
    end = min(end, float(shown["time"].max())) if float(shown["time"].max()) > 0 else end
    if isinstance(at_risk, pd.DataFrame):
        risk = at_risk
    else:
        times = at_risk if at_risk is not None else range(0, int(end) + 1, AT_RISK_STEP)
        risk = at_risk_table(curves, times)
    risk_labels = _labels(risk, keys) if len(risk) else pd.Series(dtype="str")
    end = max(end, float(risk["time"].max()) if len(risk) else 0.0)

    table_share = min(0.3, 0.06 + 0.035 * len(order))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[1 - table_share, table_share],
                        vertical_spacing=0.16)
    single = len(order) == 1
    for i, label in enumerate(order):
        part = curves.loc[(labels == label).to_numpy()]
        color = theme.colour(i) if not single else theme.OKABE_ITO["blue"]
        first = {"time": 0.0, "at_risk": int(part["at_risk"].iloc[0]), "events": 0, "censored": 0,
                 "survival": 1.0, "ci_low": 1.0, "ci_high": 1.0}
        if float(part["time"].iloc[0]) > 0:  # the curve starts at 100% on day 0
            part = pd.concat([pd.DataFrame([first]), part[list(first)]], ignore_index=True)
        x = theme.floats(part["time"])
        row = by_label.get(label, {})
        n_sessions = int(row.get("n", part["at_risk"].iloc[0]))
        name = f"{label} ({theme.count(n_sessions, 'session')}"
        name += f", {theme.count(row['n_patients'], 'patient')})" if "n_patients" in row else ")"
        if single:
            low, high = theme.floats(part["ci_low"]), theme.floats(part["ci_high"])
            ok = ~np.isnan(low) & ~np.isnan(high)
            fig.add_trace(go.Scatter(
                x=np.concatenate([x[ok], x[ok][::-1]]), y=np.concatenate([high[ok], low[ok][::-1]]),
                fill="toself", mode="lines", fillcolor=theme.rgba(color, 0.15), line=dict(width=0), line_shape="hv",
                name="95% confidence band", hoverinfo="skip"), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=x, y=theme.floats(part["survival"]), mode="lines", line_shape="hv", name=name,
            line=dict(color=color, width=2.2, dash=theme.dash(i)), legendgroup=label,
            hovertext=_step_hover(label, part),
            hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
        med = median_from_curve(curves.loc[(labels == label).to_numpy(), list(CURVE_COLUMNS)])
        if med.median is not None:
            fig.add_trace(go.Scatter(
                x=[med.median], y=[0.5], mode="markers", name=f"{label}: median", legendgroup=label,
                showlegend=False,
                marker=dict(color=color, size=10, symbol="diamond", line=dict(color="white", width=1)),
                hovertext=[f"<b>{label}</b><br>{_cap(_median_text(med))}"],
                hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
        elif single:
            notes.append("Median not reached: more than half were still benefiting when last seen")
        if single and med.median is not None:
            notes.insert(0, _cap(_median_text(med)))

        counts = risk.loc[(risk_labels == label).to_numpy()] if len(risk) else risk
        fig.add_trace(go.Scatter(
            x=theme.floats(counts["time"]), y=[label] * len(counts), mode="text",
            text=theme.ints_text(counts["at_risk"]), textfont=dict(color=theme.text_colour(color), size=12),
            name=f"{label}: number at risk", showlegend=False, legendgroup=label,
            hovertext=[f"<b>{label}</b><br>Day {theme.fmt_num(t)}: {theme.fmt_num(n)} sessions still observed"
                       for t, n in zip(counts["time"], counts["at_risk"])],
            hovertemplate="%{hovertext}<extra></extra>"), row=2, col=1)

    theme.add_hline(fig, 0.5, "50% still benefiting (median)", row=1, col=1, dash="dot")
    for j, day in enumerate(settings.landmark_days):
        label = theme.weeks_label(day)
        share = by_label.get(order[0], {}).get(f"still_benefiting_{day}d") if single else None
        if share is not None and not pd.isna(share):
            label += f": {theme.fmt_pct(share)} still benefiting"
        theme.add_vline(fig, day, label, row=1, col=1, label_y=0.98 - 0.08 * j)

    subtitle = ("Share of responder sessions still benefiting on each day after the injection. Benefit still "
                "running at the next injection or at the as-of date counts as still benefiting (censored)."
                f"<br>{theme.responder_rule(settings)}.")
    if notes:
        subtitle += "<br>" + ". ".join(notes) + "."
    theme.base_layout(fig, title, subtitle, height=600 + 22 * len(order), legend_title=group_label or "")
    fig.update_yaxes(title_text="Still benefiting (% of sessions)", tickformat=".0%", range=[0, 1.04], row=1, col=1)
    fig.update_xaxes(range=[-0.04 * end, end * 1.04], dtick=AT_RISK_STEP)  # both rows: they share the axis
    fig.update_xaxes(title_text="Days after injection", showticklabels=True, row=1, col=1)
    fig.update_xaxes(visible=False, showgrid=False, row=2, col=1)
    tick_text = [f"<span style='color:{theme.text_colour(theme.colour(i)) if not single else theme.OKABE_ITO['blue']}'>"
                 f"{label}</span>"
                 for i, label in enumerate(order)]
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=order[::-1], tickvals=order,
                     ticktext=tick_text, showgrid=False, showline=False, ticks="", range=[-0.6, len(order) - 0.3],
                     fixedrange=True, row=2, col=1)
    fig.add_annotation(text="<b>Number at risk</b> (sessions still observed)", xref="paper", yref="y2 domain",
                       x=0.0, y=1.0, xanchor="left", yanchor="bottom", showarrow=False, font=dict(size=12))
    return fig
