"""Funnel plot: each practitioner's (or site's) patient-level responder rate, adjusted for case mix or raw, against
its number of patients.

Why not a league table: small groups vary more by chance, so each group is judged against limits for its own
size (Spiegelhalter 2005); the limits count patients, not sessions, because a patient's sessions are alike, and are
widened when the groups vary more than chance gives (the chart says by how much). Points beyond the 95% limits
are worth a look, beyond 99.8% a clear signal; they are labelled by name. Groups suppressed for small numbers
are not plotted, and the chart says how many.
Input: analytics.funnel.funnel (its "groups" table optionally passed through analytics.suppression first).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from analytics.settings import DEFAULT_SETTINGS, Settings
from charts import theme
from charts.safe_text import plotly_labels, plotly_text

OVERALL_NAME = "Overall rate"
LIMIT_95_NAME = "95% limits (outside: worth a look)"
LIMIT_998_NAME = "99.8% limits (outside: clear signal)"
POSITION_STYLE = {
    "inside": ("Inside the limits", theme.GREY, "circle"),
    "above 95%": ("Above the 95% limit", theme.OKABE_ITO["sky_blue"], "triangle-up"),
    "above 99.8%": ("Above the 99.8% limit", theme.OKABE_ITO["blue"], "triangle-up"),
    "below 95%": ("Below the 95% limit", theme.OKABE_ITO["orange"], "triangle-down"),
    "below 99.8%": ("Below the 99.8% limit", theme.OKABE_ITO["vermillion"], "triangle-down"),
}


def funnel_figure(funnel_result: dict | None, group_label: str = "Group",
                  settings: Settings = DEFAULT_SETTINGS) -> go.Figure:
    """Responder rate (case-mix adjusted or raw) by patients per group, the overall rate, 95% and 99.8% limit
    curves, outliers named, the widening of the limits stated.

    funnel_result: analytics.funnel.funnel's dict (overall_rate, adjust, groups, curve, dispersion). group_label:
    words for a group ("Practitioner", "Site"). settings: the responder definition and the suppression threshold.
    """
    group_label = plotly_text(group_label)
    adjusted = bool(funnel_result) and funnel_result.get("adjust") == "casemix"
    title = (f"Responder rate by {group_label.lower()}, {'adjusted for case mix' if adjusted else 'raw'}: "
             "funnel plot")
    groups = None if not funnel_result else funnel_result.get("groups")
    overall = np.nan if not funnel_result else funnel_result.get("overall_rate", funnel_result.get("p0", np.nan))
    if theme.is_empty(groups) or not np.isfinite(overall):
        return theme.empty_figure("No sessions with a response score to compare.", title)
    hidden = theme.suppressed_mask(groups)
    shown = groups.loc[~hidden & (theme.floats(groups["n"]) > 0)]
    shown = shown.assign(group=plotly_labels(shown["group"].astype("str")))
    overall = float(overall)
    curve = funnel_result.get("curve")

    fig = go.Figure()
    if curve is not None and len(curve):
        n = theme.floats(curve["n"])
        for level, name, dash in (("95", LIMIT_95_NAME, "dash"), ("998", LIMIT_998_NAME, "dot")):
            for side in ("upper", "lower"):
                fig.add_trace(go.Scatter(
                    x=n, y=theme.floats(curve[f"{side}_{level}"]), mode="lines", name=name,
                    legendgroup=level, showlegend=side == "upper", line=dict(color=theme.REFERENCE, dash=dash,
                                                                             width=1.3),
                    hovertemplate=f"{side} {name.split(' (')[0]} at %{{x:,.0f}} patients: %{{y:.1%}}<extra></extra>"))
    x_max = float(theme.floats(groups["n"]).max() if len(shown) == 0 else theme.floats(shown["n"]).max()) * 1.06
    fig.add_trace(go.Scatter(x=[0, x_max], y=[overall, overall], mode="lines",
                             name=f"{OVERALL_NAME}: {theme.fmt_pct(overall, 1)}",
                             line=dict(color="#231F20", width=1.3), hoverinfo="skip"))

    positions = shown["position"].astype("str").to_numpy()
    rate_words = "Adjusted rate" if adjusted else "Responder rate"
    for position, (name, color, symbol) in POSITION_STYLE.items():
        mask = positions == position
        if not mask.any():
            continue
        part = shown.loc[mask]
        outlier = position != "inside"
        hover = [f"<b>{g}</b><br>{rate_words} {theme.fmt_pct(a, 1)}<br>Observed {theme.fmt_pct(o, 1)}, expected "
                 f"{theme.fmt_pct(e, 1)}<br>{theme.fmt_num(p)} patients with a response, {theme.fmt_num(s)} "
                 f"sessions with a response<br>{name}"
                 for g, a, o, e, p, s in zip(part["group"], *(theme.floats(part[c]) for c in (
                     "adjusted_rate", "rate", "expected_rate", "n", "n_sessions")))]
        fig.add_trace(go.Scatter(
            x=theme.floats(part["n"]), y=theme.floats(part["adjusted_rate"]),
            mode="markers+text" if outlier else "markers",
            name=name, text=part["group"].astype("str").tolist() if outlier else None,
            textposition="middle right", textfont=dict(color=color, size=12),
            marker=dict(color=color, size=12 if outlier else 9, symbol=symbol, line=dict(color="white", width=1)),
            hovertext=hover, hovertemplate="%{hovertext}<extra></extra>"))

    what = ("its responder rate adjusted for case mix (overall rate + observed - expected)" if adjusted
            else "its responder rate")
    lines = [f"Each point is one {group_label.lower()}: {what}, each patient counted once.",
             "The further right, the more patients, the narrower the funnel; a point outside it differs by more "
             "than chance.", theme.responder_rule(settings) + "."]
    spread = funnel_result.get("dispersion") or {}
    if spread.get("applied"):
        lines.append(f"Limits widened for variation between {group_label.lower()}s beyond chance: tau = "
                     f"{100 * spread['tau']:.1f} percentage points.")
    if hidden.any():
        k = groups.attrs.get("min_group_patients") or settings.min_group_patients
        lines.append(f"Not shown: {int(hidden.sum())} {group_label.lower()}"
                     f"{'s' if hidden.sum() > 1 else ''} with too few patients (fewer than {k}) or suppressed to "
                     "protect one.")
    theme.base_layout(fig, title, "<br>".join(lines))
    # View: x from 0 (the funnel opens to the left); y around the points and the limits from half the
    # smallest group's size, so the mouth of the funnel runs off the chart rather than squashing the points.
    n_shown = theme.floats(shown["n"]) if len(shown) else np.array([1.0])
    x_min = float(n_shown.min()) * 0.5
    y_values = np.concatenate([theme.floats(shown["adjusted_rate"]) if len(shown) else [overall], [overall]])
    if curve is not None and len(curve):
        in_view = (theme.floats(curve["n"]) >= x_min) & (theme.floats(curve["n"]) <= x_max)
        y_values = np.concatenate([y_values, theme.floats(curve.loc[in_view, "lower_998"]),
                                   theme.floats(curve.loc[in_view, "upper_998"])])
    low, high = np.nanmin(y_values), np.nanmax(y_values)
    pad = max((high - low) * 0.08, 0.01)
    fig.update_xaxes(title_text="Patients with a response score (n)", range=[0, x_max], tickformat=",")
    y_range = [max(low - pad, 0.0), min(high + pad, 1.02)]
    fig.update_yaxes(title_text=f"{rate_words} (mean over patients)", tickformat=theme.percent_ticks(*y_range),
                     range=y_range)
    return fig
