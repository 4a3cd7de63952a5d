"""Compare (clinic lead): practitioners and sites on funnel plots, judged against limits for their own size, and
breakdowns by product, indication, dose band and cycle with the counts beside every rate. Groups with fewer
patients than the threshold are shown as suppressed."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.breakdowns import breakdown
from analytics.funnel import funnel
from analytics.suppression import suppress_small_groups
from analytics.waning import waning_by_cycle
from views import components as ui
from views import state

FUNNELS = (("practitioner_id", "Practitioner", "practitioners"), ("site", "Site", "sites"))
BREAKDOWNS = (("product", "Product"), ("indication", "Indication"), ("dose_band", "Dose band"), ("cycle", "Cycle"))
METRICS = {
    "responder_rate": "Responder rate",
    "mean_response_pct": "Mean pain response",
    "short_interval_share": "Short intervals",
    "ae_rate": "Adverse events",
}
RATE_COLUMNS = ["responder_rate", "responder_ci_low", "responder_ci_high", "short_interval_share",
                "short_interval_ci_low", "short_interval_ci_high", "ae_rate", "ae_ci_low", "ae_ci_high", "rate",
                "p0", "lower_95", "upper_95", "lower_998", "upper_998"]


BREAKDOWN_SCREEN = {  # column -> heading on screen (the CSV has every column)
    "group": "group", "sessions": "sessions", "patients": "patients",
    "sessions_with_response": "with a response", "responders": "responders", "responder_rate": "responder rate",
    "responder_ci_low": "95% CI from", "responder_ci_high": "95% CI to", "mean_response_pct": "mean response %",
    "median_onset_days": "median onset (days)", "intervals": "intervals", "short_interval_share": "short intervals",
    "ae_recorded": "AE recorded", "ae_rate": "adverse events", "suppression": "suppressed because",
}
FUNNEL_SCREEN = {
    "group": "group", "patients": "patients", "sessions": "sessions", "n": "with a response",
    "responders": "responders", "rate": "responder rate", "lower_95": "95% limit from", "upper_95": "95% limit to",
    "position": "position", "suppression": "suppressed because",
}


def _screen(table, group_cols, columns: dict):
    shown = ui.screen_table(table, group_cols, RATE_COLUMNS)
    return shown[[c for c in columns if c in shown.columns]].rename(columns=columns)


def funnel_section(ctx: state.Context, by: str, label: str, plural: str) -> None:
    with st.spinner(f"Computing the funnel plot for {plural}..."):
        result = ctx.cached(f"funnel_{by}", funnel, lambda: ((ctx.sessions, by), {}))
    groups = suppress_small_groups(result["groups"], ctx.settings)
    shown = dict(result, groups=groups)
    visible = groups.loc[~groups["suppressed"]]
    shown["outliers"] = result["outliers"].loc[result["outliers"]["group"].isin(visible["group"])]
    ui.show_figure(ui.cached_figure(ctx, f"funnel_{by}", "funnel", "funnel_figure",
                                    lambda: ((shown, label, ctx.settings), {})), f"fig_funnel_{by}")
    outliers = shown["outliers"]
    if len(visible) == 0:
        st.info(f"Every {label.lower()} has fewer than {ctx.settings.min_group_patients} patients here, so none "
                "is shown. Widen the period or filters.", icon=":material/visibility_off:")
    elif len(outliers):
        named = "; ".join(f"**{g}** {100 * r:.0f}% of {n:,} ({pos} limit)" for g, r, n, pos in
                          zip(outliers["group"], outliers["rate"], outliers["n"], outliers["position"]))
        st.markdown(f"**Outside the 95% limits:** {named}. Overall rate {100 * result['p0']:.0f}%. "
                    "Outside 95% happens by chance about 1 time in 20; outside 99.8% rarely does.")
    else:
        st.markdown(f"**No {label.lower()} is outside the 95% limits**: differences from the overall rate "
                    f"({100 * result['p0']:.0f}%) are within what chance gives for their numbers of sessions.")
    hidden = int(groups["suppressed"].sum())
    if hidden:
        st.caption(f"{hidden} {plural if hidden > 1 else label.lower()} not shown: fewer than "
                   f"{ctx.settings.min_group_patients} patients (or hidden so a small one cannot be worked out).")
    with state.table_expander(f"Funnel figures by {label.lower()} as a table", f"exp_funnel_{by}") as is_open:
        if is_open:
            group_cols = ["group_by", "group"]
            state.table_with_download(ui.display_table(groups, group_cols), f"funnel by {label.lower()}",
                                      f"funnel_{by}", key=f"dl_funnel_{by}",
                                      screen=_screen(groups, group_cols, FUNNEL_SCREEN))


def breakdown_section(ctx: state.Context, by: str, label: str, metric: str) -> None:
    with st.spinner(f"Computing the breakdown by {label.lower()}..."):
        table = ctx.cached(f"breakdown_{by}", breakdown, lambda: ((ctx.sessions, by, ctx.settings), {}))
    shown = suppress_small_groups(table, ctx.settings)
    ui.show_figure(ui.cached_figure(ctx, f"breakdown_{by}", "breakdown", "breakdown_figure",
                                    lambda: ((shown, by, metric, ctx.settings, label.lower()), {}), extra=(metric,)),
                   f"fig_breakdown_{by}")
    group_cols = ["group_by", "group"]
    state.table_with_download(ui.display_table(shown, group_cols), f"breakdown by {label.lower()}",
                              f"breakdown_{by}", key=f"dl_breakdown_{by}",
                              screen=_screen(shown, group_cols, BREAKDOWN_SCREEN))


def render() -> None:
    ctx = state.context()
    state.header(ctx, "Compare", "Practitioners and sites against the clinic's overall responder rate, and the "
                                 "outcomes by product, indication, dose and cycle.")
    if ctx.n_sessions() == 0:
        state.no_sessions_message(ctx)
        return
    st.subheader("Practitioners and sites: funnel plots of the responder rate")
    st.caption("Each dot is a practitioner or site: its responder rate against its number of sessions with a "
               "response. The funnel is where chance alone would put a group of that size (95% and 99.8% "
               "limits around the overall rate): small groups vary more, so they are judged against wider "
               "limits instead of being ranked.")
    for tab, (by, label, plural) in zip(st.tabs([plural.capitalize() for _, _, plural in FUNNELS]), FUNNELS):
        with tab:
            funnel_section(ctx, by, label, plural)

    st.subheader("Breakdowns")
    st.caption("Counts beside every rate: sessions, patients, sessions with a response. Dose bands are thirds "
               "of the dose within each product (units differ between products). Groups with fewer than "
               f"{ctx.settings.min_group_patients} patients show 'suppressed'.")
    metric = st.segmented_control("Show on the charts", list(METRICS), format_func=METRICS.get,
                                  default="responder_rate", key="breakdown_metric", required=True)
    for tab, (by, label) in zip(st.tabs([label for _, label in BREAKDOWNS]), BREAKDOWNS):
        with tab:
            breakdown_section(ctx, by, label, metric or "responder_rate")
            if by == "cycle":
                duration_by_cycle(ctx)


def duration_by_cycle(ctx: state.Context) -> None:
    """Kaplan-Meier median benefit duration by cycle: is the benefit getting shorter?"""
    with st.spinner("Computing benefit duration by cycle..."):
        by_cycle = ctx.cached("waning", waning_by_cycle, lambda: ((ctx.sessions, ctx.settings), {}))
    shown = suppress_small_groups(by_cycle, ctx.settings, patients_col="n_patients", group_cols=["cycle"])
    ui.show_figure(ui.cached_figure(ctx, "duration_cycle", "waning", "duration_by_cycle_figure",
                                    lambda: ((shown, ctx.settings), {})), "fig_duration_cycle")


state.run_page(render)
