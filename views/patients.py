"""Patients (practitioner): the worklist first, one row per patient (status, practitioner, last session, next due,
overdue, latest response), then the chosen patient: why they are flagged, their timeline and their sessions.
Each patient is judged on their whole history whatever the filters (analytics/worklist.py, analytics/flags.py);
the filters choose which patients are listed. Patient codes only."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.access import PATIENTS
from analytics.flags import PAIN_NOISE_POINTS, TWSTRS_NOISE_POINTS
from analytics.labels import date_text, table_in_words
from analytics.presentation import markdown_text
from analytics.worklist import (
    MIN_OWN_DURATIONS, STATUSES, build_worklist, find_patient, outside_filters, seen_patients, worklist_in_words,
)
from charts.patient import patient_timeline_figure
from views import components as ui
from views import signin
from views.context import Context
from views.patient_summary_ui import summary_button
from views.sidebar import context

# Widget keys of this page (only this module reads them).
STATUS_FILTER = "worklist_status"
OVERDUE_ONLY = "worklist_overdue"
WORKLIST_TABLE = "worklist_table"
PATIENT_CHOICE = "patient_choice"
PATIENT_CODE = "patient_code"

TIMELINE_COLUMNS = ["session_date", "cycle", "product", "total_units", "muscles", "interval_days", "short_interval",
                    "baseline_pain", "followup_pain", "response_pct", "responder", "twstrs_change",
                    "onset_days", "peak_days", "duration_days", "duration_event", "adverse_events", "site",
                    "practitioner_id"]


def all_patients(ctx: Context) -> pd.DataFrame:
    """The worklist of every patient in the data (whole histories, as of the as-of date), whatever the filters."""
    flags = ctx.flags()
    return ctx.cached("worklist", build_worklist, lambda: ((ctx.derived, flags, ctx.as_of, ctx.settings), {}),
                      scope="all")


def listed_patients(ctx: Context) -> pd.DataFrame:
    """The worklist's rows of the patients with a session under the current filters that this user may see one
    by one (a practitioner: the patients they treated)."""
    listed = ctx.cached("worklist_seen", seen_patients, lambda: ((all_patients(ctx), ctx.sessions), {}))
    return ctx.patient_rows(listed)


def own_patients_note(ctx: Context) -> None:
    """A practitioner's reminder of whose records this page holds."""
    if ctx.allowed_patients is None:
        return
    codes = ", ".join(markdown_text(p) for p in ctx.access.practitioner_ids)
    st.info(f"Your patients only: the {len(ctx.allowed_patients):,} patients with a session by {codes}. The "
            "Overview and Compare pages show the whole clinic's figures.", icon=":material/badge:")


def resolve_typed(ctx: Context, typed: str) -> str | None:
    """The patient code a typed code means (trimmed, any case), or None after saying why there is none. Two codes
    that differ only by case are never guessed between. A practitioner's typing is matched against their own
    patients only, so the case of a refused code cannot tell them that it exists elsewhere in the clinic."""
    if ctx.allowed_patients is not None:
        ids = ctx.allowed_patients
    else:
        ids = ctx.cached("patient_ids", lambda d: pd.Index(d["patient_id"].astype("str").unique()),
                         lambda: ((ctx.derived,), {}), scope="all")
    matches = find_patient(typed, ids)
    if len(matches) > 1:
        st.warning(f"Codes {', '.join(f'**{markdown_text(m)}**' for m in matches)} differ only by case: type the "
                   "code exactly as it is written.", icon=":material/help:")
        return None
    return matches[0] if matches else typed.strip()


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
                   "(upper or lower case does not matter).", icon=":material/search_off:")
        return None
    signin.patient_view(patient)
    return history


def filtered(table: pd.DataFrame) -> pd.DataFrame:
    """The worklist rows under the page's own filters (status, overdue only)."""
    statuses = st.session_state.get(STATUS_FILTER) or list(STATUSES)
    keep = table["status"].isin(statuses)
    if st.session_state.get(OVERDUE_ONLY):
        keep &= table["overdue"]
    return table.loc[keep].reset_index(drop=True)


def choose_from_table(codes: list[str]) -> None:
    """A row chosen in the worklist becomes the chosen patient (and clears a typed code)."""
    rows = st.session_state[WORKLIST_TABLE].selection.rows
    if rows and rows[0] < len(codes):
        st.session_state[PATIENT_CHOICE] = codes[rows[0]]
        st.session_state[PATIENT_CODE] = ""


def worklist_section(ctx: Context, listed: pd.DataFrame) -> pd.DataFrame:
    """The status and overdue filters, the sortable worklist (a row chosen shows that patient below) and its CSV.
    Returns the rows shown."""
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.multiselect("Status", list(STATUSES), default=list(STATUSES), key=STATUS_FILTER,
                     format_func=str.capitalize, placeholder="All statuses")
    right.toggle("Overdue only", key=OVERDUE_ONLY)
    shown = filtered(listed)
    if len(shown) == 0:
        st.info("No patient matches these choices. Clear the status or overdue filter to see more.",
                icon=":material/filter_alt_off:")
        return shown
    codes = shown["patient_id"].astype("str").tolist()
    with ui.timed("patients: worklist in words"):
        words = worklist_in_words(shown)
    st.dataframe(words, hide_index=True, width="stretch", height=min(420, 38 + 35 * len(shown)),
                 key=WORKLIST_TABLE, on_select=lambda: choose_from_table(codes), selection_mode="single-row",
                 column_config={
                     "Last session": st.column_config.DateColumn(format="D MMM YYYY"),
                     "Next due": st.column_config.DateColumn(
                         format="D MMM YYYY", help="Last session + the patient's typical benefit, never earlier "
                         f"than {ctx.settings.short_interval_days} days after it."),
                     "Overdue (days)": st.column_config.NumberColumn(
                         help=f"Days past the next-due date as of {ctx.as_of:%d %b %Y}; 0 when not yet due."),
                     "Latest response": st.column_config.TextColumn(
                         help="The latest session with a response: pain before → after, and the change."),
                     "Typical benefit (days)": st.column_config.NumberColumn(format="%g"),
                 })
    st.caption("Click a column's heading to sort, a row to see that patient below.")
    ui.download(worklist_in_words(shown, for_csv=True), "the worklist", "worklist", key="dl_worklist")
    return shown


def rules_caption(ctx: Context) -> None:
    s = ctx.settings
    st.caption(
        f"**Diminished**: each of the last {s.waning_last_n} responses is below {s.waning_fraction_pct:g}% of the "
        "patient's reference (the mean of their two best earlier responses, which reached the responder "
        f"threshold ({s.responder_threshold_pct:g}%)) and at least {PAIN_NOISE_POINTS:g} pain points "
        f"({TWSTRS_NOISE_POINTS:g} TWSTRS points) worse. **Watch**: the latest response alone is. **Next due**: "
        "the last session + the patient's own median benefit (the clinic's median with fewer than "
        f"{MIN_OWN_DURATIONS} recorded), never sooner than {s.short_interval_days} days. Each patient is judged on "
        "their whole history; the filters choose who is listed.")


def fact_lines(row: pd.Series) -> str:
    """The chosen patient's dates and latest response as Markdown bullet points."""
    overdue = f"**{int(row['days_overdue']):,} days**" if row["overdue"] else "no"
    benefit = "not known" if pd.isna(row["typical_benefit_days"]) else f"{row['typical_benefit_days']:g} days"
    basis = {"clinic": "the clinic's median, too few of their own recorded",
             "12-week minimum": "no median yet, so the 12-week minimum"}.get(
        row["benefit_basis"], f"their own median of {int(row['own_durations'])} recorded")
    latest = markdown_text(row["latest_response"])
    if not pd.isna(row["latest_date"]):
        latest += f" ({date_text(row['latest_date'])})"
    return "\n".join([
        f"- Practitioner at the last session: **{markdown_text(row['practitioner_id'])}**",
        f"- Last session: **{date_text(row['last_session'])}** ({int(row['sessions']):,} in all)",
        f"- Next due: **{date_text(row['next_due'])}** (typical benefit {benefit}: {basis}); overdue: {overdue}",
        f"- Latest response: {latest}",
    ])


def chosen_patient_panel(ctx: Context, patient: str, row: pd.Series | None, hidden: str) -> None:
    """The chosen patient's status with the evidence as short points beside their dates."""
    with st.container(border=True):
        status = row["status"] if row is not None else "fine"
        st.markdown(f"#### {markdown_text(patient)} · {status.capitalize()}")
        facts, why = st.columns([1, 1])
        if row is not None:
            facts.markdown(fact_lines(row))
        if status == "fine":
            why.markdown("No flag under the current thresholds, judged on the patient's whole history.")
        else:
            why.markdown("**Why flagged**\n" + "\n".join(f"- {markdown_text(point)}"
                                                           for point in row["evidence"].split("\n")))
            why.caption("A prompt to review the record, not a diagnosis.")
        if hidden:
            st.info(hidden, icon=":material/filter_alt:")


def patient_actions(ctx: Context, patient: str, history: pd.DataFrame) -> None:
    """Actions on the chosen (and permitted) patient: the summary for the patient to take home (issue 16)."""
    summary_button(ctx, patient)


def render() -> None:
    signin.require(PATIENTS)
    ctx = context()
    ui.header(ctx, "Patients to review",
              "Your worklist: every patient seen under the filters, fading responses first, with when each is due. "
              "A flag is a prompt to review the record, never a diagnosis of antibodies.")
    if ctx.n_sessions() == 0:
        ui.no_sessions_message(ctx)
        return
    with ui.timed("patients: worklist"), st.spinner("Reading every patient's history..."):
        listed = listed_patients(ctx)
    rules_caption(ctx)
    own_patients_note(ctx)
    counts = listed["status"].value_counts()
    ui.count_tiles([
        ("Diminished", f"{int(counts.get('diminished', 0)):,}",
         "Each of the last responses is low: secondary non-response may be developing."),
        ("Watch", f"{int(counts.get('watch', 0)):,}",
         "The latest response alone is low: one cycle before a 'diminished' flag could go up."),
        ("Overdue", f"{int(listed['overdue'].sum()):,}", f"Past their next-due date as of {ctx.as_of:%d %b %Y}."),
        ("Patients seen", f"{len(listed):,}", "Distinct patients with a session under the current filters"
         + (" (your patients only)." if ctx.allowed_patients is not None else ".")),
    ])

    st.subheader("Worklist")
    with ui.timed("patients: worklist table"):
        shown = worklist_section(ctx, listed)
    with ui.table_expander("All the flag's figures (for analysts)", "exp_flags") as is_open:
        if is_open:
            ui.table_with_download(ctx.patient_rows(ctx.flags()), "flags with every figure", "flags_full", height=300, key="dl_flags")

    st.subheader("Chosen patient")
    with ui.timed("patients: chosen patient"):
        chosen_patient_section(ctx, listed, shown)


def choice_rows(shown: pd.DataFrame, current: str | None, limit: int) -> pd.DataFrame:
    """The worklist rows the choice box offers: the first `limit`, and the patient chosen now (a row clicked
    further down the table) when it is listed; a patient no longer listed is not offered."""
    first = shown.iloc[:limit]
    if current is None or (first["patient_id"].astype("str") == str(current)).any():
        return first
    further = (shown["patient_id"].astype("str") == str(current)).to_numpy()
    return pd.concat([first, shown.loc[further]]) if further.any() else first


def chosen_patient_section(ctx: Context, listed: pd.DataFrame, shown: pd.DataFrame) -> None:
    """The patient chosen from the worklist or typed: their flag, timeline, actions and sessions."""
    listed_first = choice_rows(shown, st.session_state.get(PATIENT_CHOICE), ui.MAX_CHOICES)
    options = listed_first["patient_id"].astype("str").tolist()
    if st.session_state.get(PATIENT_CHOICE) not in options:  # no longer listed under these choices
        st.session_state.pop(PATIENT_CHOICE, None)
    pick, type_in = st.columns([3, 2])
    labels = dict(zip(options, listed_first["status"]))
    chosen = pick.selectbox("Patient from the worklist", options, key=PATIENT_CHOICE,
                            format_func=lambda p: f"{p} · {str(labels.get(p, '')).capitalize()}", placeholder="No patient listed")
    if len(shown) > ui.MAX_CHOICES:
        pick.caption(f"The first {ui.MAX_CHOICES:,} of the {len(shown):,} patients listed, in the worklist's order; "
                     "click a row of the worklist or type a code for any other.")
    typed = type_in.text_input("Or type any patient code", key=PATIENT_CODE, placeholder="e.g. P00091").strip()
    patient = resolve_typed(ctx, typed) if typed else chosen
    if not patient:
        return
    history = patient_history(ctx, patient)
    if history is None:
        return
    # The chosen patient's row and flag, looked up across the whole clinic's data, whatever the filters.
    everyone = all_patients(ctx)
    match = everyone.loc[everyone["patient_id"].astype("str") == str(patient)]
    row = match.iloc[0] if len(match) else None
    flag = ctx.flags()
    flag = flag.loc[flag["patient_id"].astype("str") == str(patient)]
    hidden = ""
    if len(flag):
        hidden = outside_filters(flag, ctx.sessions).iloc[0]
    elif not (listed["patient_id"].astype("str") == str(patient)).any():
        hidden = "None of this patient's sessions is under the current filters; shown from their whole history."
    chosen_patient_panel(ctx, patient, row, hidden)
    ui.chart(patient_timeline_figure(history, ctx.settings, flag.iloc[0] if len(flag) else None), "fig_patient")
    patient_actions(ctx, patient, history)
    columns = [c for c in TIMELINE_COLUMNS if c in history.columns]
    ordered = history.sort_values("session_date", kind="stable")
    screen = table_in_words(ordered, columns)
    if "Interval (days)" in screen.columns:  # the first session has no interval: nothing is missing
        screen.iloc[0, screen.columns.get_loc("Interval (days)")] = "first session"
    ui.table_with_download(table_in_words(ordered, ["patient_id", *columns], for_csv=True),
                           f"sessions of {markdown_text(patient)}", f"patient_{patient}", key="dl_patient",
                           screen=screen)


ui.run_page(render)
