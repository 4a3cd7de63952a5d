"""Presentation helpers the pages share: KPI tiles in words, figure builders looked up by name, tables for
display. No metric is computed here: that is analytics/'s job.
"""
from __future__ import annotations

import importlib
import math

import numpy as np
import pandas as pd
import streamlit as st

from analytics.kpis import KPI_LABELS as KPI_DEFINITIONS
from analytics.suppression import for_display

# KPI tile: how each figure is shown follows its unit in analytics.kpis (one definition of every KPI);
# the colour of the change says which direction is good (streamlit delta_color).
_KIND_OF_UNIT = {"proportion": "rate", "%": "pct", "days": "days"}  # any other unit is a count
KPI_COLOUR = {
    "patients": "off",
    "sessions": "off",
    "responder_rate": "normal",
    "median_response_pct": "normal",
    "median_onset_days": "inverse",
    "median_peak_days": "inverse",
    "median_duration_days": "normal",
    "short_interval_share": "inverse",
    "adverse_event_rate": "inverse",
    "patients_flagged": "inverse",
}


def kpi_kind(kpi: str) -> str:
    """'count', 'rate', 'pct' or 'days', from the KPI's unit in analytics.kpis.KPI_LABELS."""
    return _KIND_OF_UNIT.get(KPI_DEFINITIONS[kpi][1], "count")


KPI_LABELS = {  # shorter words for the tiles than analytics.kpis.KPI_LABELS (the help text has the full ones)
    "median_peak_days": "Median peak",
    "median_duration_days": "Benefit lasts (median)",
    "short_interval_share": "Short intervals",
    "adverse_event_rate": "Adverse events",
}
KPI_MEANING = {
    "patients": "Distinct patients with a session in the period.",
    "sessions": "Injection sessions in the period.",
    "responder_rate": "Responders / sessions with a follow-up score. Responder: pain down by at least {thr}% "
                      "(or TWSTRS down by at least {tw} points where pain was not scored).",
    "median_response_pct": "Middle value of the % pain reduction over sessions with a response.",
    "median_onset_days": "Middle value of the recorded days until the patient first noticed benefit.",
    "median_peak_days": "Middle value of the recorded days until the greatest benefit.",
    "median_duration_days": "Kaplan-Meier median over responder sessions: re-injection while still benefiting "
                            "is censored, not counted as the end of the benefit.",
    "short_interval_share": "Share of intervals between a patient's sessions shorter than {short} days.",
    "adverse_event_rate": "Sessions with any adverse event / sessions where adverse events were recorded.",
    "patients_flagged": "Patients seen in the period with a 'diminished' or 'watch' flag (full history). "
                        "A prompt to review, not a diagnosis.",
}


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def kpi_value(kpi: str, value) -> str:
    """The tile's figure as text."""
    kind = kpi_kind(kpi)
    if _missing(value):
        return "not reached" if kpi == "median_duration_days" else "-"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "rate":
        return f"{100 * value:.0f}%"
    if kind == "pct":
        return f"{value:.0f}%"
    return f"{value:.0f} days"


def kpi_delta(kpi: str, change) -> str | None:
    """The change against the previous period as signed text (percentage points for rates); None when there
    is no previous figure, "no change" when it rounds to nothing."""
    if _missing(change):
        return None
    kind = kpi_kind(kpi)
    shown = round(100 * change, 1) if kind == "rate" else round(change, 1 if kind == "pct" else 0)
    if shown == 0:
        return "no change"
    if kind == "count":
        return f"{change:+,.0f}"
    if kind == "rate":
        return f"{100 * change:+.1f} pts"
    if kind == "pct":
        return f"{change:+.1f} pts"
    return f"{change:+.0f} days"


def kpi_help(row: pd.Series, settings, period: dict) -> str:
    """What the tile means, its 95% CI and n, and the previous period's figure."""
    kpi = row["kpi"]
    meaning = KPI_MEANING[kpi].format(thr=f"{settings.responder_threshold_pct:g}",
                                      tw=f"{settings.twstrs_responder_drop:g}", short=settings.short_interval_days)
    parts = [meaning]
    if not _missing(row["ci_low"]) and not _missing(row["ci_high"]):
        if kpi_kind(kpi) == "rate":
            parts.append(f"95% CI {100 * row['ci_low']:.1f}% to {100 * row['ci_high']:.1f}% (Wilson).")
        else:
            parts.append(f"95% CI {row['ci_low']:.0f} to {row['ci_high']:.0f} days.")
    what = {"patients": "patients", "patients_flagged": "patients seen"}.get(kpi, "sessions")
    parts.append(f"Based on {int(row['n']):,} {what}.")
    if kpi == "patients_flagged":
        parts.append("No comparison with the previous period: flags are read from each patient's whole history.")
    elif int(row["previous_n"]) or kpi in ("patients", "sessions"):
        parts.append(f"Previous period ({period['previous_start']} to {period['previous_end']}): "
                     f"{kpi_value(kpi, row['previous'])} from {int(row['previous_n']):,} {what}.")
    else:
        parts.append(f"Previous period ({period['previous_start']} to {period['previous_end']}): no data.")
    return " ".join(parts)


def kpi_row(tiles: pd.DataFrame, settings, columns: int = 5) -> None:
    """The KPI tiles in rows of `columns`, each with its change against the previous period."""
    period = tiles.attrs.get("period", {"previous_start": "?", "previous_end": "?", "days": 0})
    rows = [tiles.iloc[i:i + columns] for i in range(0, len(tiles), columns)]
    for chunk in rows:
        cols = st.columns(columns)
        for col, (_, row) in zip(cols, chunk.iterrows()):
            kpi = row["kpi"]
            delta = kpi_delta(kpi, row["change"])
            still = delta == "no change"
            col.metric(KPI_LABELS.get(kpi, row["label"]), kpi_value(kpi, row["value"]), delta=delta,
                       delta_color="off" if still else KPI_COLOUR[kpi], delta_arrow="off" if still else "auto",
                       help=kpi_help(row, settings, period), border=True)


def kpi_table(tiles: pd.DataFrame) -> pd.DataFrame:
    """The tiles as a downloadable table (rates as proportions 0..1)."""
    out = tiles[["label", "value", "ci_low", "ci_high", "n", "previous", "previous_n", "change", "unit"]].copy()
    period = tiles.attrs.get("period", {})
    out.insert(1, "period", f"{period.get('start')} to {period.get('end')}")
    out.insert(2, "previous_period", f"{period.get('previous_start')} to {period.get('previous_end')}")
    return out.rename(columns={"label": "figure"})


def builder(module: str, name: str):
    """The figure builder charts.<module>.<name>, or None when it is not there (yet)."""
    try:
        return getattr(importlib.import_module(f"charts.{module}"), name)
    except (ImportError, AttributeError):
        return None


def figure(module: str, name: str, *args, **kwargs):
    """Build a figure with charts.<module>.<name>; None when that builder is not there (yet)."""
    build = builder(module, name)
    return None if build is None else build(*args, **kwargs)


def cached_figure(ctx, key: str, module: str, name: str, inputs, **options):
    """A figure built once per data, settings and filters (plotly figures take a while to build), cached like
    the tables it is drawn from; inputs() gives the builder's (args, kwargs) and only runs on a miss."""
    build = builder(module, name)
    if build is None:
        return None
    return ctx.cached(f"figure_{key}", build, inputs, **options)


def show_figure(fig, key: str) -> None:
    """A plotly figure full width; a note when the builder is missing."""
    if fig is None:
        st.info("This chart is not available in this version; the table below has the figures.",
                icon=":material/bar_chart_off:")
        return
    st.plotly_chart(fig, key=key, width="stretch",
                    config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]})


def display_table(table: pd.DataFrame, group_cols=None) -> pd.DataFrame:
    """For CSV export: suppressed cells as the text 'suppressed', numbers kept as numbers elsewhere."""
    if "suppressed" in table.columns:
        table = for_display(table, group_cols)
    return table.drop(columns=[c for c in ("is_total",) if c in table.columns])


def _cell(value, percent: bool) -> str:
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if isinstance(value, (float, np.floating)):
        if percent:
            return f"{100 * value:.1f}%"
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return str(value)


def screen_table(table: pd.DataFrame, group_cols=None, percent=()) -> pd.DataFrame:
    """For the screen: a suppressed table as text, 'suppressed' where a small group was blanked, rates as %."""
    shown = display_table(table, group_cols)
    keep = set(group_cols or ())
    for column in shown.columns:
        if column in keep or column in ("suppressed",):
            continue
        pct = column in percent
        shown[column] = pd.Series([_cell(v, pct) for v in shown[column].astype(object)], index=shown.index,
                                  dtype="str")
    return shown


def percent_columns(table: pd.DataFrame, columns) -> dict:
    """column_config showing proportions 0..1 as percentages."""
    return {c: st.column_config.NumberColumn(c, format="percent") for c in columns if c in table.columns}
