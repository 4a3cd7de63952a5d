"""Compare (clinic lead): practitioners and sites on funnel plots, judged against limits for their own size, and
breakdowns by product, indication, dose band and cycle with the counts beside every rate. Groups with fewer
patients than the threshold are shown as suppressed."""
from __future__ import annotations

import streamlit as st

from analytics.access import COMPARE
from analytics.breakdowns import breakdown
from analytics.funnel import funnel
from analytics.labels import groups_in_words
from analytics.presentation import (
    BREAKDOWN_SCREEN, FUNNEL_SCREEN, compare_family, display_table, funnel_shown, headed_table, markdown_text,
)
from analytics.waning import waning_by_cycle
from charts.breakdown import breakdown_figure
from charts.funnel import funnel_figure
from charts.waning import duration_by_cycle_figure
from views import components as ui
from views import signin
from views.context import Context
from views.report_downloads import report_buttons
from views.sidebar import context

FUNNELS = (("practitioner_id", "Practitioner", "practitioners"), ("site", "Site", "sites"))
BREAKDOWNS = (("product", "Product"), ("indication", "Indication"), ("dose_band", "Dose band"), ("cycle", "Cycle"))
METRICS = {
    "responder_rate": "Responder rate",
    "mean_response_pct": "Mean pain response",
    "short_interval_share": "Short intervals",
    "ae_rate": "Adverse events",
}
GROUP_COLUMNS = ["group_by", "group"]


def funnel_section(ctx: Context, by: str, label: str, plural: str, hide: dict) -> None:
    adjusted = st.toggle("Adjust for case mix", value=True, key=f"funnel_adjust_{by}",
                         help="Compare each " + label.lower() + " with what the clinic achieves for patients of the "
                              "same indication and baseline severity (off: raw rates).")
    adjust = "casemix" if adjusted else "none"
    with st.spinner(f"Computing the funnel plot for {plural}..."):
        result = ctx.cached(f"funnel_{by}_{adjust}", funnel, lambda: ((ctx.sessions, by, adjust), {}))
    shown = funnel_shown(result, ctx.settings, hide)
    groups = shown["groups"]
    visible = groups.loc[~groups["suppressed"]]
    ui.chart(ctx.figure(f"funnel_{by}_{adjust}", funnel_figure, lambda: ((shown, label, ctx.settings), {})),
             f"fig_funnel_{by}")
    outliers = shown["outliers"]
    overall = f"Overall rate {100 * result['overall_rate']:.0f}% (each patient counted once)"
    if len(visible) == 0:
        st.info(f"Every {label.lower()} has fewer than {ctx.settings.min_group_patients} patients here, so none "
                "is shown. Widen the period or filters.", icon=":material/visibility_off:")
    elif len(outliers):
        named = "; ".join(
            f"**{markdown_text(g)}** {100 * r:.0f}% against {100 * e:.0f}% expected, {n:,} patients "
            f"({'above' if d == 'high' else 'below'} the {b}% limit)"
            for g, r, e, n, b, d in zip(outliers["group"], outliers["rate"], outliers["expected_rate"],
                                        outliers["n"], outliers["beyond"], outliers["direction"]))
        st.markdown(f"**Outside the 95% limits:** {named}. {overall}. Outside 95% happens by chance about 1 time "
                    "in 20; outside 99.8% rarely does.")
    else:
        st.markdown(f"**No {label.lower()} is outside the 95% limits**: differences from the expected rates are "
                    f"within what chance gives for their numbers of patients. {overall}.")
    st.caption(markdown_text(result["caption"]))
    hidden = int(groups["suppressed"].sum())
    if hidden:
        st.caption(f"{hidden} {plural if hidden > 1 else label.lower()} not shown: fewer than "
                   f"{ctx.settings.min_group_patients} patients (or hidden so a small one cannot be worked out).")
    with ui.table_expander(f"Funnel figures by {label.lower()} as a table", f"exp_funnel_{by}") as is_open:
        if is_open:
            ui.table_with_download(display_table(groups, GROUP_COLUMNS), f"funnel by {label.lower()}",
                                   f"funnel_{by}", key=f"dl_funnel_{by}",
                                   screen=headed_table(groups, GROUP_COLUMNS, FUNNEL_SCREEN))


def family(ctx: Context) -> dict:
    """Every table of the page suppressed as one family (breakdowns, duration by cycle, both funnels), so that no
    hidden group can be worked out from what the page shows: {"breakdown_<by>": table, "by_cycle": table,
    "funnel_<by>": {group: reason}} (analytics.presentation.compare_family)."""
    with st.spinner("Computing the breakdowns..."):
        tables = {by: ctx.cached(f"breakdown_{by}", breakdown, lambda by=by: ((ctx.sessions, by, ctx.settings), {}))
                  for by, _ in BREAKDOWNS}
        by_cycle = ctx.cached("waning", waning_by_cycle, lambda: ((ctx.sessions, ctx.settings), {}))
        return ctx.cached("compare_family", compare_family,
                          lambda: ((ctx.sessions, ctx.settings, tables, by_cycle), {}))


def breakdown_section(ctx: Context, by: str, label: str, metric: str, shown) -> None:
    """The chart and table of one breakdown; `shown` is the table as the page's family suppression left it.
    Products and indications are shown in words; the downloaded CSV keeps the codes."""
    words = groups_in_words(shown, by)
    ui.chart(ctx.figure(f"breakdown_{by}", breakdown_figure,
                        lambda: ((words, by, metric, ctx.settings, label.lower()), {}), extra=(metric,)),
             f"fig_breakdown_{by}")
    ui.table_with_download(display_table(shown, GROUP_COLUMNS), f"breakdown by {label.lower()}",
                           f"breakdown_{by}", key=f"dl_breakdown_{by}",
                           screen=headed_table(words, GROUP_COLUMNS, BREAKDOWN_SCREEN))


def render() -> None:
    signin.require(COMPARE)
    ctx = context()
    ui.header(ctx, "Compare", "Practitioners and sites against the clinic's overall responder rate, and the "
                                 "outcomes by product, indication, dose and cycle.")
    if ctx.n_sessions() == 0:
        ui.no_sessions_message(ctx)
        return
    if ui.small_selection(ctx):
        return
    report_buttons(ctx, "compare")  # built only when clicked
    st.subheader("Practitioners and sites: funnel plots of the responder rate")
    st.caption("Each dot is a practitioner or site: its responder rate (each patient's share of responding "
               "sessions, averaged over its patients) against its number of patients. The funnel is where chance "
               "alone would put a group of that size (95% and 99.8% limits): small groups vary more, so they are "
               "judged against wider limits instead of being ranked. Patients, not sessions, set the width, as a "
               "patient's sessions tend to go the same way.")
    shown = family(ctx)
    for tab, (by, label, plural) in zip(st.tabs([plural.capitalize() for _, _, plural in FUNNELS]), FUNNELS):
        with tab:
            funnel_section(ctx, by, label, plural, shown[f"funnel_{by}"])

    st.subheader("Breakdowns")
    st.caption("Counts beside every rate: sessions, patients, sessions with a response. Dose bands are thirds "
               "of the dose within each product (units differ between products). Groups with fewer than "
               f"{ctx.settings.min_group_patients} patients show 'suppressed', and so do the groups hidden so that "
               "no small one can be worked out from the others, here or in another table on this page.")
    metric = st.segmented_control("Show on the charts", list(METRICS), format_func=METRICS.get,
                                  default="responder_rate", key="breakdown_metric", required=True)
    for tab, (by, label) in zip(st.tabs([label for _, label in BREAKDOWNS]), BREAKDOWNS):
        with tab:
            breakdown_section(ctx, by, label, metric or "responder_rate", shown[f"breakdown_{by}"])
            if by == "cycle":
                duration_by_cycle(ctx, shown["by_cycle"])


def duration_by_cycle(ctx: Context, shown) -> None:
    """Kaplan-Meier median benefit duration by cycle: is the benefit getting shorter? `shown`: the by-cycle table as
    the page's family suppression left it."""
    ui.chart(ctx.figure("duration_cycle", duration_by_cycle_figure, lambda: ((shown, ctx.settings), {})),
             "fig_duration_cycle")


ui.run_page(render)
