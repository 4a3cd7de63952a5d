"""Patients (practitioner): the watchlist of patients whose response is fading, clearest first, with the evidence
and the factors to check; choosing one shows the patient's own timeline. Patient codes only."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.access import PATIENTS
from analytics.flags import PAIN_NOISE_POINTS, TWSTRS_NOISE_POINTS, flag_patients, seen_in
from analytics.presentation import markdown_text
from charts.patient import patient_timeline_figure
from views import components as ui
from views import signin
from views.context import Context
from views.patient_summary_ui import summary_button
from views.sidebar import context

FACTORS = {  # flag column -> words in the watchlist
    "frequent_injections": "short intervals / boosters",
    "dose_raised": "dose raised",
    "product_switch": "product switched",
    "muscle_change": "muscles changed",
    "duration_shortened": "benefit shorter",
    "treatment_break": "treatment break over a year",
}
TIMELINE_COLUMNS = ["session_date", "cycle", "product", "total_units", "muscles", "interval_days", "short_interval",
                    "baseline_pain", "followup_pain", "response_pct", "responder", "twstrs_change",
                    "onset_days", "peak_days", "duration_days", "duration_event", "adverse_events", "site",
                    "practitioner_id"]


def watchlist(ctx: Context) -> pd.DataFrame:
    """Flagged patients (each over their whole history) who have a session under the current filters; only those
    this user may see one by one (a practitioner: the patients they treated)."""
    flags = ctx.cached("flags", flag_patients, lambda: ((ctx.derived, ctx.settings), {}), scope="all")
    return ctx.patient_rows(ctx.cached("watchlist", seen_in, lambda: ((flags, ctx.sessions), {})))


def own_patients_note(ctx: Context) -> None:
    """A practitioner's reminder of whose records this page holds."""
    if ctx.allowed_patients is None:
        return
    codes = ", ".join(markdown_text(p) for p in ctx.access.practitioner_ids)
    st.info(f"Your patients only: the {len(ctx.allowed_patients):,} patients with a session by {codes}. The "
            "Overview and Compare pages show the whole clinic's figures.", icon=":material/badge:")


def patient_history(ctx: Context, patient: str) -> pd.DataFrame | None:
    """The patient's sessions up to the as-of date; None (and an audited refusal) when this user may not see them.
    A practitioner is told "not one of your patients" whether or not the code exists elsewhere in the clinic."""
    if not ctx.may_see_patient(patient):
        signin.patient_view(patient, "refused: not one of their patients")
        st.warning(f"**{markdown_text(patient)}** is not one of your patients (no session by "
                   f"{', '.join(markdown_text(p) for p in ctx.access.practitioner_ids)}), so their record is not "
                   "shown.", icon=":material/lock:")
        return None
    history = ctx.derived.loc[ctx.derived["patient_id"].astype("str") == str(patient)]
    if len(history) == 0:
        st.warning(f"No sessions for patient code '{markdown_text(patient)}' up to the as-of date. Check the code "
                   "(codes are case-sensitive).", icon=":material/search_off:")
        return None
    signin.patient_view(patient)
    return history


def watchlist_table(flags: pd.DataFrame) -> pd.DataFrame:
    """The columns a practitioner reads first, factors in words."""
    factors = pd.Series([""] * len(flags), index=flags.index)
    for column, words in FACTORS.items():
        present = flags[column].astype(bool)
        factors = factors.where(~present, factors.where(factors == "", factors + ", ") + words)
    unit = flags["measure"].map({"pain": "%", "twstrs": " pts"}).fillna("")
    return pd.DataFrame({
        "patient": flags["patient_id"],
        "flag": flags["flag"],
        "measure": flags["measure"].map({"pain": "pain", "twstrs": "TWSTRS"}).fillna(flags["measure"]),
        "reference": flags["reference_response"].astype("float64").round(1).astype("str") + unit,
        "best response": flags["best_response"].round(1).astype("str") + unit + " (cycle "
                         + flags["best_cycle"].astype("str") + ")",
        "latest response": flags["latest_response"].round(1).astype("str") + unit + " (cycle "
                           + flags["latest_cycle"].astype("str") + ")",
        "latest / reference": flags["reference_ratio"].astype("float64").round(2),
        "factors to check": factors.where(factors != "", "none found"),
        "evidence": flags["evidence"],
    })


def render() -> None:
    signin.require(PATIENTS)
    ctx = context()
    ui.header(ctx, "Patients to review",
                 "Patients whose response to the injections is fading, clearest cases first. A flag is a prompt "
                 "to review the record, never a diagnosis of antibodies.")
    if ctx.n_sessions() == 0:
        ui.no_sessions_message(ctx)
        return
    s = ctx.settings
    with st.spinner("Reading every patient's history for a fading response..."):
        flags = watchlist(ctx)
    st.caption(f"**Diminished**: at least 3 sessions with a response; the patient's reference (the mean of their "
               f"two best earlier responses) reached the responder threshold ({s.responder_threshold_pct:g}%); "
               f"each of the last {s.waning_last_n} is below {s.waning_fraction_pct:g}% of that reference and "
               f"also at least {PAIN_NOISE_POINTS:g} pain points ({TWSTRS_NOISE_POINTS:g} TWSTRS points) worse, more "
               "than a whole-number score moves by "
               f"chance. **Watch**: the latest response alone is below {s.waning_fraction_pct:g}% of the reference "
               "before it, by the same margin. Patients with a session under the current filters; each is judged "
               "on their whole history.")
    own_patients_note(ctx)
    if len(flags) == 0:
        st.success("No patient under these filters has a fading response. Widen the period or filters in the "
                   "sidebar to look further.", icon=":material/check_circle:")
        return
    counts = flags["flag"].value_counts()
    left, mid, right = st.columns(3)
    left.metric("Diminished", f"{int(counts.get('diminished', 0)):,}", border=True,
                help="Each of the last responses is low: secondary non-response may be developing.")
    mid.metric("Watch", f"{int(counts.get('watch', 0)):,}", border=True,
               help="The latest response alone is low: one cycle before a 'diminished' flag could go up.")
    right.metric("Patients seen", f"{ctx.patient_rows(ctx.sessions)['patient_id'].nunique():,}", border=True,
                 help="Distinct patients with a session under the current filters"
                      + (" (your patients only)." if ctx.allowed_patients is not None else "."))

    st.subheader("Watchlist")
    table = watchlist_table(flags)
    ui.table_with_download(table, "watchlist", "watchlist", height=min(420, 38 + 35 * len(table)),
                              key="dl_watchlist", column_config={
                                  "evidence": st.column_config.TextColumn("evidence", width="large"),
                                  "latest / best": st.column_config.NumberColumn(format="%.2f")})
    with ui.table_expander("All the flag's figures (for analysts)", "exp_flags") as is_open:
        if is_open:
            ui.table_with_download(flags, "flags with every figure", "flags_full", height=300, key="dl_flags")

    st.subheader("One patient's timeline")
    labels = {pid: f"{pid} · {flag} · {factors}" for pid, flag, factors in
              zip(table["patient"], table["flag"], table["factors to check"])}
    chosen = st.selectbox("Patient to review (clearest first)", list(labels), format_func=labels.get,
                          key="patient_choice")
    typed = st.text_input("Or type any patient code", key="patient_code", placeholder="e.g. P00091").strip()
    patient = typed or chosen
    history = patient_history(ctx, patient)
    if history is None:
        return
    row = flags.loc[flags["patient_id"].astype("str") == str(patient)]
    if len(row):
        st.markdown(f"**{markdown_text(patient)}**: {row['evidence'].iloc[0]}")
    else:
        st.markdown(f"**{markdown_text(patient)}**: no flag under the current thresholds.")
    ui.chart(patient_timeline_figure(history, s, row.iloc[0] if len(row) else None), "fig_patient")
    summary_button(ctx, patient)  # issue 16: the patient's own page (views/patient_summary_ui.py)
    columns = [c for c in TIMELINE_COLUMNS if c in history.columns]
    ui.table_with_download(history[["patient_id", *columns]], f"sessions of {markdown_text(patient)}",
                              f"patient_{patient}", key="dl_patient", column_config={
                                  "session_date": st.column_config.DateColumn("session_date", format="YYYY-MM-DD"),
                                  "next_session_date": st.column_config.DateColumn("next_session_date",
                                                                                   format="YYYY-MM-DD")})


ui.run_page(render)
