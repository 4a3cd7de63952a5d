"""Follow-up completeness month by month, one line per site or practitioner: the share of sessions with a
follow-up score among the sessions whose follow-up was due (analytics.completeness): a recent month is not shown as
a fall only because its reviews are still to come. A month with sessions not yet due is drawn hollow; suppressed
groups are left out and said in the subtitle."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from charts.safe_text import plotly_labels
from charts.theme import base_layout, colour, dash, empty_figure, is_empty


def _hover(part: pd.DataFrame, names: pd.Series) -> list[str]:
    """'North, Mar 2026: 40 of 52 sessions have a follow-up score (77%); 8 not yet due; 4 missing'."""
    month = pd.to_datetime(part["month"]).dt.strftime("%b %Y")
    due = np.where(part["not_yet_due"] > 0, "; " + part["not_yet_due"].astype("int64").astype("str") + " not yet due",
                   "")
    return (names + ", " + month + ": " + part["recorded"].astype("int64").astype("str") + " of "
            + part["sessions"].astype("int64").astype("str") + " sessions have a follow-up score ("
            + (100 * part["share_recorded"]).round(0).astype("int64").astype("str") + "%)" + due + "; "
            + part["missing"].astype("int64").astype("str") + " missing").tolist()


def completeness_figure(table: pd.DataFrame, group_label: str = "Site") -> go.Figure:
    """Share of the sessions due a follow-up that have a score, by month, a line per group (table:
    analytics.completeness.completeness_shown; suppressed rows and months with nothing due are not drawn). Hollow
    markers: the month also has sessions whose follow-up is not yet due (left out of its share)."""
    title = f"Follow-up recorded by month and {group_label.lower()}"
    if is_empty(table):
        return empty_figure(title=title)
    suppressed = table["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool) \
        if "suppressed" in table.columns else np.zeros(len(table), bool)
    shown = table.loc[~suppressed & table["share_of_due"].notna().to_numpy()]
    if len(shown) == 0:
        return empty_figure("Every group has too few patients to be shown.", title=title)
    fig = go.Figure()
    groups = list(dict.fromkeys(shown["group"].astype("str"))) if "group" in shown.columns else ["Clinic"]
    for i, name in enumerate(groups):
        part = shown.loc[shown["group"].astype("str") == name] if "group" in shown.columns else shown
        part = part.sort_values("month")
        label = plotly_labels(pd.Series([name] * len(part), index=part.index))
        open_month = (part["not_yet_due"] > 0).to_numpy()
        fig.add_trace(go.Scatter(
            x=pd.to_datetime(part["month"]), y=100 * part["share_of_due"].astype("float64"), mode="lines+markers",
            name=label.iloc[0] if len(label) else name, line=dict(color=colour(i), dash=dash(i), width=2),
            marker=dict(size=8, color=[("white" if o else colour(i)) for o in open_month],
                        line=dict(color=colour(i), width=2)),
            hovertext=_hover(part, label), hoverinfo="text"))
    hidden = int(suppressed.sum())
    lines = ["Of each month's sessions due a follow-up, the share with a score.",  # short lines: a phone is narrow
             "Hollow: the month also has sessions not yet due (left out)."]
    if hidden:
        lines.append(f"{hidden} month-{group_label.lower()} figures not shown: too few patients.")
    subtitle = "<br>".join(lines)
    base_layout(fig, title, subtitle)
    fig.update_yaxes(title_text="% of the sessions due with a score", range=[0, 105], ticksuffix="%")
    fig.update_xaxes(title_text="Month of the injection")
    return fig
