"""Overview (clinic lead): the headline figures against the previous period, how the effect unfolds after an
injection, how long it lasts, whether it wanes across cycles, the month-by-month responder rate, and safety."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics import first_page
from analytics.access import OVERVIEW
from analytics.effect_over_time import effect_markers, effect_over_time
from analytics.kaplan_meier import km_curves_by_group
from analytics.labels import groups_in_words
from analytics.presentation import (
    display_table, hidden_note, kpi_table, overview_family, screen_table,
)
from analytics.safety import adverse_event_rates, recording_coverage
from analytics.completeness import completeness_shown, followup_completeness
from analytics.mdc import assurance_icon, variation_icon
from analytics.spc import limits_sentence
from analytics.waning import MAX_MODEL_PATIENTS, MIN_CYCLE_PATIENTS, waning_by_cycle, waning_slope
from charts.spc import p_chart_figure
from views import components as ui
from views import keys, signin
from views.context import Context
from views.report_downloads import report_buttons
from views.sidebar import context

MODEL_BUTTON = "Estimate the change per cycle"


def followup_lag(ctx: Context) -> int:
    """How long follow-ups take here (days): the same for the tiles, the p-chart and the completeness chart."""
    return ctx.followup_lag()


def _chart_args(ctx: Context) -> tuple:
    return ctx.window, ctx.settings, ctx.selection, ctx.first_date, ctx.as_of, followup_lag(ctx)


def kpis(ctx: Context) -> pd.DataFrame:
    """The tiles of the selection's period against the period before, small periods suppressed. When they are
    not cached, the p-chart's table (`monthly`) and the too-few check (ui.small_selection) are started in worker
    threads beside them (Context.start): the tiles wait for both (the responder tile shows the chart's Making
    Data Count icon), and on two cores a filter change among 10M sessions then waits for the slowest, not for
    the sum."""
    def inputs() -> tuple:
        with ui.timed("overview: the Headline's window of sessions"):
            args = (ctx.window, ctx.settings, ctx.selection, ctx.flags(), followup_lag(ctx))
        ctx.start("pchart", first_page.pchart, *_chart_args(ctx))
        ctx.start("too_few", first_page.too_few, first_page.in_period(ctx.window, ctx.selection), ctx.settings)
        return args, {}
    return ctx.cached("kpis", first_page.kpis, inputs)


def monthly(ctx: Context) -> tuple[pd.DataFrame, int]:
    """The responder rate's p-chart (small months suppressed) and the number of months hidden: the Headline's
    chart and the responder tile's Making Data Count icon read the same table (started beside the tiles by
    `kpis`, and then taken from there)."""
    return ctx.cached("pchart", first_page.pchart, lambda: (_chart_args(ctx), {}))


def family(ctx: Context) -> dict:
    """Response by cycle and the adverse event rates suppressed as one family (the page shows them together):
    {"by_cycle": table, "adverse_events": table}."""
    by_cycle = ctx.cached("waning", waning_by_cycle, lambda: ((ctx.sessions, ctx.settings), {}))
    by_type = ctx.cached("ae_type", adverse_event_rates, lambda: ((ctx.sessions, None), {}))
    by_product = ctx.cached("ae_product", adverse_event_rates, lambda: ((ctx.sessions, "product"), {}))
    return ctx.cached("overview_family", overview_family,
                      lambda: ((ctx.sessions, ctx.settings, by_cycle, by_type, by_product), {}))


def kpi_section(ctx: Context, tiles: pd.DataFrame) -> None:
    period = tiles.attrs.get("period", {})
    if period.get("previous_before_data"):
        against = ("no change is shown: the data begin with this period, so there is nothing earlier to compare "
                   "with")
    else:
        against = (f"the small figure is the change against the {period.get('days')} days before it "
                   f"({period.get('previous_start')} to {period.get('previous_end')})")
    st.caption(f"Each tile: the period {period.get('start')} to {period.get('end')} ({period.get('days')} days); "
               f"{against}. The question mark on each tile gives the definition, the 95% interval and the counts.")
    chart, _ = monthly(ctx)
    icons = {"responder_rate": (variation_icon(chart), assurance_icon(chart, None))}  # the clinic sets no target
    ui.kpi_row(tiles, ctx.settings, icons=icons)
    st.caption("Under the responder rate: its Making Data Count variation icon, read from the latest complete month "
               "of the p-chart below (common cause: it varies as months usually do; improving or concern: a "
               "pattern chance rarely gives). No assurance icon: the clinic has set no target.")
    flagged = tiles.loc[tiles["kpi"] == "patients_flagged", "value"]
    if len(flagged) and flagged.iloc[0] > 0:
        st.page_link("views/patients.py", label=f"Review the {flagged.iloc[0]:,.0f} flagged patients on the "
                                                 "Patients page", icon=":material/person_search:")
    with ui.table_expander("Headline figures as a table", "exp_kpis") as is_open:
        if is_open:
            ui.table_with_download(kpi_table(tiles), "headline figures", "headline_figures", key="dl_kpis")


def effect_section(ctx: Context) -> None:
    """One benefit chart (onset, peak and the Kaplan-Meier share still benefiting, on one axis of days) and its
    numbers at risk as a table under it; the day-by-day tables behind it in the expander."""
    from charts.effect import benefit_table, effect_over_time_figure  # the charts of the other tabs: when opened

    st.subheader("After an injection: onset, peak and how long the benefit lasts")
    st.caption("Responder sessions only, day by day after the injection: the share whose benefit has begun, the "
               "share still benefiting (Kaplan-Meier) and the share in benefit (begun, not yet worn off).")
    with st.spinner("Computing the effect over time and benefit duration..."):
        curve = ctx.cached("effect", effect_over_time, lambda: ((ctx.sessions, ctx.settings), {}))
        markers = ctx.cached("markers", effect_markers, lambda: ((ctx.sessions, ctx.settings), {}))
    ui.chart(ctx.figure("effect", effect_over_time_figure, lambda: ((curve, markers, ctx.settings), {})),
             "fig_effect")
    at_risk = benefit_table(curve, ctx.settings)
    if len(at_risk):
        st.markdown("**Number at risk**: the sessions still followed up on each day, and the share still benefiting")
        st.table(at_risk, border="horizontal", hide_index=True)  # an HTML table: its cells wrap, never overlap
    with ui.table_expander("Effect over time and benefit duration as tables", "exp_effect") as is_open:
        if is_open:
            km = ctx.cached("km_curve", km_curves_by_group, lambda: ((ctx.sessions,), {}))
            ui.table_with_download(curve, "effect over time", "effect_over_time", height=240, key="dl_effect")
            ui.table_with_download(km, "Kaplan-Meier curve", "benefit_duration_km", height=240, key="dl_km")


def waning_section(ctx: Context) -> st.delta_generator.DeltaGenerator:
    """The by-cycle chart; returns the placeholder where the mixed-model sentence goes once it is fitted."""
    from charts.waning import waning_figure

    st.subheader("Across cycles: does the effect wane?")
    st.caption("Mean response and responder rate by the patient's treatment cycle (1 = first injection), "
               f"with 95% intervals. The chart draws the cycles with at least {MIN_CYCLE_PATIENTS} patients (later "
               "cycles hold the few patients treated longest, whose figures swing widely); the table has every "
               f"cycle, those with fewer than {ctx.settings.min_group_patients} patients suppressed. Benefit "
               "duration by cycle is on the Compare page (Cycle).")
    with st.spinner("Computing response by cycle..."):
        shown = family(ctx)["by_cycle"]
    sentence = st.container()
    ui.chart(ctx.figure("waning", waning_figure, lambda: ((shown, ctx.settings), {})), "fig_waning")
    with ui.table_expander("Response by cycle as a table", "exp_waning") as is_open:
        if is_open:
            rates = ["responder_rate", "rate_ci_low", "rate_ci_high"]
            ui.table_with_download(display_table(shown, ["cycle"]), "response by cycle",
                                      "response_by_cycle", key="dl_waning",
                                      screen=screen_table(shown, ["cycle"], rates))
    return sentence


def _patients_with_response(sessions: pd.DataFrame) -> int:
    return int(sessions.loc[sessions["response_pct"].notna(), "patient_id"].nunique()) if len(sessions) else 0


def slope_sentence(ctx: Context, where) -> None:
    """The mixed model's sentence, fitted last so the charts are drawn first; on big data only on request."""
    patients = ctx.cached("model_patients", _patients_with_response, lambda: ((ctx.sessions,), {}))
    wanted_key = keys.fit_model(ctx.source.key)
    with where:
        if patients > MAX_MODEL_PATIENTS and not st.session_state.get(wanted_key):
            st.markdown(f"**Change per cycle (mixed model):** {patients:,} patients; the model is fitted on a "
                        f"random sample of {MAX_MODEL_PATIENTS:,} and takes a few seconds.")
            if st.button(MODEL_BUTTON, key="fit_model"):
                st.session_state[wanted_key] = True
                st.rerun()
            return
        with st.spinner("Fitting the mixed model of response per cycle..."):
            slope = ctx.cached("slope", waning_slope, lambda: ((ctx.sessions, ctx.settings), {}))
        st.markdown(f"**Change per cycle:** {slope['sentence']} Points are percentage points of pain "
                    "reduction; a confidence interval that includes 0 means no clear change.")
        if slope.get("fallback") and slope.get("slope") is not None:
            st.warning(slope["fallback_warning"], icon=":material/warning:")
        with st.popover("How this is estimated"):
            st.markdown("A linear mixed model of the % pain response on the cycle number, with a random "
                        "intercept and a random slope per patient, so each patient is compared with themselves "
                        "and patients may wane at different rates. The optimisers lbfgs, bfgs, Powell and "
                        "Nelder-Mead are tried in turn; only if none gives a clean fit is the simpler random-"
                        "intercept model used, and the page says so.")
            if slope.get("model"):
                how = f" (optimiser: {slope['optimiser']})" if slope.get("optimiser") else ""
                st.caption(f"Model: {slope['model']}{how}; {slope['n_patients']:,} patients, "
                           f"{slope['n_sessions']:,} sessions.")
            if slope.get("note"):
                st.caption(f"Note: {slope['note']}.")


def pchart_section(ctx: Context) -> None:
    st.subheader("Responder rate month by month (SPC p-chart)")
    st.caption("Each point is a month. Points inside the control limits differ by chance; coloured points are "
               "special causes (NHS 'Making Data Count' rules: outside a limit, 7 in a row on one side or "
               "rising/falling, 2 of 3 close to a limit). Hover on a point for the reason. The chart shows at "
               "least 24 months up to the end of the period (shaded), whatever the period; hollow points are "
               "months whose follow-ups are still coming in.")
    with st.spinner("Computing the monthly p-chart..."):
        lag = followup_lag(ctx)
        chart, hidden = monthly(ctx)
    ui.chart(ctx.figure("pchart", p_chart_figure, lambda: ((chart, ctx.settings), {})), "fig_pchart")
    if len(chart):
        st.caption(limits_sentence(chart) + (
            f" Hollow points are provisional: months ending less than {lag} days before the as-of date (how long "
            "follow-ups take here: the 90th percentile of days to follow-up, or the peak-effect setting when few "
            "are recorded), so not all their follow-ups are in; they are left out of the limits and the rules."
            if chart.attrs.get("provisional_months") else ""))
    if hidden:
        st.caption(hidden_note(hidden, "month", ctx.settings, "patients with a response"))
    if len(chart):
        special = chart.loc[chart["special_cause"]]
        if len(special):
            st.markdown("**Months that stand out:** " + "; ".join(
                f"{pd.Timestamp(m):%b %Y} ({t.replace('_', ' ').replace('special cause ', '')})"
                for m, t in zip(special["month"], special["point_type"])))
        else:
            st.markdown("**No month stands out**: the months vary only as they usually do (common cause).")
        if chart.attrs.get("provisional"):
            st.caption(f"Only {chart.attrs.get('baseline_months', len(chart))} complete months: the limits are "
                       "provisional (12 or more are needed).")
    with ui.table_expander("Monthly figures as a table", "exp_pchart") as is_open:
        if is_open:
            table = chart.drop(columns=[c for c in ("relative_to_centre", "sigma", "sigma_p") if c in chart.columns])
            table.attrs = {}  # the chart's dates there are not JSON: Streamlit would warn on every draw
            ui.table_with_download(table, "monthly responder rate", "monthly_responder_rate", key="dl_pchart",
                                      column_config=ui.percent_columns(table, ["rate", "centre", "lcl", "ucl",
                                                                               "lower_2sigma", "upper_2sigma"]))


COMPLETENESS_BY = {"site": "Site", "practitioner_id": "Practitioner"}


def completeness_section(ctx: Context) -> None:
    """Follow-up completeness month by month by site or practitioner (small groups suppressed): which months and
    groups lack follow-up scores, and which sessions are simply not yet due one."""
    from charts.completeness import completeness_figure

    with ui.lazy_expander("Follow-up recorded, month by month, by site or practitioner", "exp_completeness_chart",
                          ":material/fact_check:") as is_open:
        if not is_open:
            return
        lag = followup_lag(ctx)
        st.caption(f"Every response figure rests only on the sessions with a follow-up score. A session without "
                   f"one is 'not yet due' when it was less than {lag} days before the as-of date (how long "
                   "follow-ups usually take here), otherwise 'missing'. Groups with fewer than "
                   f"{ctx.settings.min_group_patients} patients in a month are suppressed.")
        by = st.segmented_control("By", list(COMPLETENESS_BY), format_func=COMPLETENESS_BY.get, default="site",
                                  key="completeness_by", required=True) or "site"
        with st.spinner("Computing follow-up completeness..."):
            table = ctx.cached(f"completeness_{by}", followup_completeness,
                               lambda: ((ctx.sessions, ctx.as_of, lag), {"by": by}))
            shown = ctx.cached(f"completeness_shown_{by}", completeness_shown, lambda: ((table, ctx.settings), {}))
        label = COMPLETENESS_BY[by]
        ui.chart(ctx.figure(f"completeness_{by}", completeness_figure, lambda: ((shown, label), {})),
                 f"fig_completeness_{by}")
        table = shown.assign(month=pd.to_datetime(shown["month"]).dt.strftime("%Y-%m"))  # a month, not a time
        headings = {"month": "Month", "group": label, "sessions": "Sessions", "patients": "Patients",
                    "recorded": "With a follow-up score", "not_yet_due": "Not yet due", "missing": "Missing",
                    "share_recorded": "% of all sessions", "share_of_due": "% of those due"}
        screen = screen_table(table, ["month", "group"], ["share_recorded", "share_of_due"])
        screen = screen.drop(columns=[c for c in ("suppressed", "suppression") if c in screen]).rename(columns=headings)
        ui.table_with_download(display_table(table, ["month", "group"]), f"follow-up completeness by {label.lower()}",
                               f"followup_completeness_{by}", key="dl_completeness", height=240, screen=screen)


def safety_section(ctx: Context) -> None:
    from charts.safety import adverse_events_figure

    st.subheader("Adverse events")
    with st.spinner("Computing adverse event rates..."):
        shown = family(ctx)["adverse_events"]
        coverage = ctx.cached("ae_coverage", recording_coverage, lambda: ((ctx.sessions,), {}))
    st.caption(f"Sessions with each event / sessions where adverse events were recorded "
               f"({coverage['recorded']:,} of {coverage['sessions']:,} sessions), with 95% intervals. Sessions "
               "with nothing recorded are left out rather than counted as 'no event'.")
    views = {"type": shown.loc[shown["group_by"] != "product"],
             "product": groups_in_words(shown.loc[shown["group_by"] == "product"], short=True)}
    ui.chart(ctx.figure("safety", adverse_events_figure, lambda: ((views,), {})), "fig_safety")
    with ui.table_expander("Adverse events as a table", "exp_safety") as is_open:
        if is_open:
            groups = ["group_by", "group", "event"]
            ui.table_with_download(display_table(shown, groups), "adverse events", "adverse_events",
                                      key="dl_safety",
                                      screen=screen_table(shown, groups, ["rate", "ci_low", "ci_high"]))


# The Overview's tabs (the names issue 13 gives them). Only the open tab's content is computed and sent: the first
# page is the KPI tiles and one chart, and the browser draws one plotly figure instead of five.
TABS = ("Headline", "After an injection", "Over cycles", "Safety")
TAB_KEY = "overview_tab"


def render() -> None:
    signin.require(OVERVIEW)
    ctx = context()
    ui.header(ctx, "Overview", "How the clinic's injections are doing: the headline figures, how the effect "
                                  "unfolds and lasts, whether it wanes over cycles, and safety.")
    with ui.timed("overview: KPI tiles"), st.spinner("Computing the headline figures..."):
        tiles = kpis(ctx)  # first: the tiles show while the rest is computed
    if int(tiles.loc[tiles["kpi"] == "sessions", "n"].iloc[0]) == 0:
        ui.no_sessions_message(ctx)
        return
    with ui.timed("overview: too few to show"):
        if ui.small_selection(ctx):  # no figure at all, rather than figures of 1 to 4 patients
            return
    with ui.timed("overview: header and tabs"):
        report_buttons(ctx, "overview")  # built only when clicked
        headline, after, cycles, safety = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
    with headline:
        if headline.open:
            with ui.timed("overview: tiles drawn (with the p-chart's icon)"):
                kpi_section(ctx, tiles)
            with ui.timed("overview: p-chart"):
                pchart_section(ctx)
            with ui.timed("overview: follow-up completeness"):
                completeness_section(ctx)
    with after:
        if after.open:
            with ui.timed("overview: effect and KM"):
                effect_section(ctx)
    with cycles:
        if cycles.open:
            with ui.timed("overview: waning"):
                sentence = waning_section(ctx)
            with ui.timed("overview: mixed model"):
                slope_sentence(ctx, sentence)
    with safety:
        if safety.open:
            with ui.timed("overview: safety"):
                safety_section(ctx)
    ctx.preload()  # drawn, perhaps from the store's kept results: read its sessions now, before the user asks


ui.run_page(render)
