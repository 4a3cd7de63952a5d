"""Data (analyst): upload a clinic export, see exactly what was accepted and why anything was not, map columns
that were not recognised, answer the identifier guard, then use the data on every page. A lead sees the data in
use and the import history only: no upload, import, undo or erasure."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from analytics.access import DATA
from analytics.assessments import SCORES, timeline
from analytics.dictionary import data_dictionary, template_csv
from analytics.export import to_csv_bytes
from analytics.mapping import IGNORE, mapping_json
from analytics.presentation import markdown_text
from analytics.reason_codes import Refusal
from analytics.report_stream import LISTED_WARNINGS
from analytics.settings import DEFAULT_SETTINGS
from charts.assessments import assessment_timeline_figure
from views import components as ui
from views import data_import as imp
from views import keys, redcap_upload, signin, sources, store_panel
from views.sidebar import current

# The headline over a refused file's messages, by the reason it was refused (analytics.reason_codes). The
# identifier refusals and the date-order question have their own sections.
REFUSAL_HEADLINES = {
    Refusal.UNREADABLE_FILE: "The file could not be read.",
    Refusal.TOO_LARGE: "The file is too large.",
    Refusal.EMPTY_FILE: "The file is empty.",
    Refusal.NO_DATA_ROWS: "The file has no data rows.",
    Refusal.BAD_MAPPING: "The column mapping does not fit this file.",
    Refusal.MISSING_COLUMNS: "A required column is missing.",
    Refusal.NO_PSEUDONYM_KEY: "Pseudonymising needs the clinic's key.",
    Refusal.NO_SUCH_SHEET: "The workbook has no such sheet.",
    Refusal.IDENTIFYING_LABEL: "The upload's label cannot be kept.",
}
AUTO = "auto"  # a radio cannot show None as chosen: "auto" stands for "read it from the file"
FIRST_FITTING = ""  # the sheet box's "let the reader choose" (no Excel sheet has an empty name)
MESSY_EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "messy_export.csv"
DATE_ORDERS = {AUTO: "Read it from the file", "dayfirst": "Day first (14/03/2025)",
               "monthfirst": "Month first (03/14/2025)"}


def start_here() -> None:
    st.subheader("Templates and the data dictionary")
    st.caption("One row per injection session with at least a patient code, the date, the product, the total "
               "units and a baseline score. Other columns are optional; any column we do not know is kept as a "
               "grouping attribute. Patient codes only: never names, NHS numbers or dates of birth.")
    cols = st.columns(4)
    with cols[0]:
        st.download_button("Template: sessions", template_csv("sessions"), "sessions_template.csv",
                           "text/csv", key="dl_template_sessions", icon=":material/download:")
    with cols[1]:
        st.download_button("Template: assessments", template_csv("assessments"), "assessments_template.csv",
                           "text/csv", key="dl_template_assessments", icon=":material/download:")
    with cols[2]:
        st.download_button("Dictionary: sessions", to_csv_bytes(data_dictionary("sessions")),
                           "data_dictionary_sessions.csv", "text/csv", key="dl_dictionary_sessions",
                           icon=":material/download:")
    with cols[3]:
        st.download_button("Dictionary: assessments", to_csv_bytes(data_dictionary("assessments")),
                           "data_dictionary_assessments.csv", "text/csv", key="dl_dictionary_assessments",
                           icon=":material/download:")
    with st.expander("The data dictionary"):
        st.dataframe(data_dictionary("sessions"), hide_index=True, width="stretch")


def current_data() -> None:
    """What every page shows now, with the right counts: for the store, its sessions and the rows its imports
    rejected (they are not in it); for an upload or a file, what was accepted and rejected of it."""
    ctx = current()
    if ctx is None:
        return
    source = ctx.source
    summary = ctx.result.summary()
    if source.kind == "store":
        text = store_panel.store_banner(int(summary["accepted_rows"]))
    elif source.kind == "upload":
        text = (f"**In use now, in this browser session only:** {markdown_text(source.label)}: "
                f"{summary['accepted_rows']:,} sessions accepted, {summary['rejected_rows']:,} rows rejected. "
                "Not in the clinic's store.")
    else:
        text = (f"**In use now:** {markdown_text(source.label)}: {summary['accepted_rows']:,} sessions accepted, "
                f"{summary['rejected_rows']:,} rows rejected.")
    st.info(text, icon=":material/database:")
    if source.kind == "upload":
        st.button(sources.back_label(), on_click=sources.use_default, key="data_back_to_default",
                  icon=":material/undo:")


def _set_identifiers(choices: imp.Choices, answer: str | None) -> None:
    """Add an answer to the guard (drop and pseudonymise go together); cancel replaces them; None starts over."""
    if answer is None or answer == "cancel":
        choices.identifiers = (answer,) if answer else ()
    else:
        choices.identifiers = tuple(sorted({*choices.identifiers, answer}))


def _set_redact(choices: imp.Choices) -> None:
    choices.redact = True


def identifier_guard(result, choices: imp.Choices) -> None:
    """The guard's findings and the ways on: drop the columns, redact the free text, pseudonymise the codes, or
    cancel. Findings are named by column, lines and masked examples, never the values. Answers add up: after
    "redact", the free text is no longer a problem and only what is left is asked about."""
    free_text = sorted({scan.column for scan in result.free_text_findings})
    total = sum(scan.total for scan in result.free_text_findings)
    found = [f.message() for f in result.identifier_findings]
    if not choices.redact:
        found += [f"{scan.message()}: identifiers inside free text" for scan in result.free_text_findings]
    st.error("**This file holds direct identifiers, so nothing has been read from it yet.**  \n"
             + "  \n".join(f"• {markdown_text(line)}" for line in found)
             + "  \nIdentifying values are never stored, logged or exported.", icon=":material/gpp_bad:")
    if choices.redact and free_text:
        st.info(f"The {total:,} identifier(s) found in {markdown_text(', '.join(repr(c) for c in free_text))} will "
                "be redacted once the rest is settled.", icon=":material/ink_eraser:")
    codes_flagged = imp.patient_codes_flagged(result)
    patient_header = next((h for h, c in result.column_map.items() if c == "patient_id"), None)
    others = {f.column for f in result.identifier_findings if f.column != patient_header}
    others = sorted(others if choices.redact else others | set(free_text))
    if others:
        st.button(f"Drop {markdown_text(', '.join(repr(c) for c in others))} and continue", key="guard_drop",
                  type="primary", on_click=_set_identifiers, args=(choices, "drop"), icon=":material/delete:")
    if free_text and not choices.redact:
        st.button(f"Redact the {total:,} identifier(s) in {markdown_text(', '.join(repr(c) for c in free_text))} "
                  "and continue", key="guard_redact", on_click=_set_redact, args=(choices,),
                  icon=":material/ink_eraser:",
                  help="Keeps the free text and replaces each identifier found in it by a tag such as [phone] "
                       "or [e-mail]; the report says how many it replaced.")
    if codes_flagged:
        st.button("Pseudonymise the patient codes (clinic key)", key="guard_pseudonymise",
                  on_click=_set_identifiers, args=(choices, "pseudonymise"), icon=":material/key:",
                  help="Replaces each code by a keyed HMAC-SHA256 code; the same patient gets the same code "
                       "in every upload. Needs the clinic's key (OUTCOMES_PSEUDONYM_KEY) on the server.")
    st.button("Cancel this upload", key="guard_cancel", on_click=_set_identifiers, args=(choices, "cancel"),
              icon=":material/block:")


def _set_mapping(choices: imp.Choices, header: str) -> None:
    chosen = st.session_state.get(keys.mapping_choice(header), imp.KEEP_EXTRA)
    if chosen == imp.KEEP_EXTRA:
        choices.mapping.pop(header, None)
    else:
        choices.mapping[header] = chosen


def _load_mapping(choices: imp.Choices, headers: list[str]) -> None:
    """Apply an uploaded mapping JSON (runs before the page, so the selectboxes can show it)."""
    saved = st.session_state.get(keys.MAPPING_UPLOAD)
    if saved is None:
        return
    try:
        loaded = imp.clean_mapping(imp.parse_mapping(saved.getvalue()), headers)
    except ValueError as err:
        st.session_state[keys.MAPPING_MESSAGE] = str(err)
        return
    for header, target in loaded.items():
        if target in IGNORE:
            choices.mapping.pop(header, None)
            st.session_state[keys.mapping_choice(header)] = imp.KEEP_EXTRA
        else:
            choices.mapping[header] = target
            st.session_state[keys.mapping_choice(header)] = target
    st.session_state[keys.MAPPING_MESSAGE] = f"Mapping loaded: {len(loaded)} column(s) of it apply to this file."


def mapping_editor(result, choices: imp.Choices, headers: list[str]) -> None:
    """Selectboxes for the columns that were not recognised, and saving/loading the mapping as JSON."""
    flagged = {f.column for f in result.identifier_findings}
    mapped_by_hand = [h for h in choices.mapping if h in headers]
    unknown = list(dict.fromkeys([h for h in result.extra_columns if h not in flagged] + mapped_by_hand))
    names = imp.canonical_columns(choices.kind)
    with st.expander("Column mapping" + (f": {len(unknown)} column(s) not recognised" if unknown else ""),
                     expanded=bool(unknown) and result.refused):
        st.dataframe(imp.mapping_table(result, choices.kind), hide_index=True, width="stretch")
        if unknown:
            st.markdown("**Columns not recognised**: choose the field each one holds, or keep it as an extra "
                        "attribute (it can then be used to group).")
        options = [imp.KEEP_EXTRA, *names]
        for header in unknown[:40]:
            hint = result.suggestions.get(header)
            st.session_state.setdefault(keys.mapping_choice(header), choices.mapping.get(header, imp.KEEP_EXTRA))
            st.selectbox(f"'{markdown_text(header)}'" + (f" (looks like {hint})" if hint else ""), options,
                         key=keys.mapping_choice(header), on_change=_set_mapping, args=(choices, header))
        left, right = st.columns(2)
        with left:
            st.download_button("Save this mapping (JSON)", mapping_json(choices.mapping), "mapping.json",
                               "application/json", key="dl_mapping", icon=":material/save:",
                               help="Load it with next month's export to map the same columns again.")
        with right:
            st.file_uploader("Load a saved mapping (JSON)", type=["json"], key=keys.MAPPING_UPLOAD,
                             on_change=_load_mapping, args=(choices, headers))
            message = st.session_state.pop(keys.MAPPING_MESSAGE, None)
            if message:
                st.caption(message)


def report_section(result) -> None:
    summary = result.summary()
    ui.count_tiles([
        ("Rows read", f"{summary['rows']:,}", None),
        ("Accepted", f"{summary['accepted_rows']:,}", None),
        ("Rejected rows", f"{summary['rejected_rows']:,}",
         "Every rejected row is listed below with its line, column, value and reason."),
        ("Warnings", f"{summary['warnings']:,}", "Accepted, but worth a look (e.g. an unusually high dose)."),
        ("Duplicates", f"{summary['duplicate_rows']:,}", "Exact copies of another row: counted once."),
        ("Conflicts", f"{summary['conflicting_rows']:,}",
         "Two different rows for one session (same patient and date): both are held back until you decide."),
    ])
    for note in result.notes:
        st.caption(f"• {markdown_text(note)}")
    st.markdown("**Validation report: problems by type**")
    groups = imp.report_groups(result)
    if not groups:
        st.success("Every row was accepted.", icon=":material/check_circle:")
        return
    st.caption("One line per reason and column, with how many cells and rows it touches: rejected rows first "
               "(they are left out), then warnings (accepted, worth a look), the largest groups first.")
    summary_table = imp.groups_table(groups)
    st.dataframe(summary_table, hide_index=True, width="stretch", height=min(300, 38 + 35 * len(summary_table)))
    report = imp.report_table(result)
    hidden = imp.not_listed(groups)
    st.markdown("**The entries behind them**")
    left, mid, right = st.columns([1, 2, 2])
    kinds = left.multiselect("Kind", ["rejected", "warning"], key="report_kind", placeholder="All")
    columns = mid.multiselect("Column", sorted(report["column"].astype("str").unique()), key="report_column",
                              placeholder="All columns")
    text = right.text_input("Search problems and values", key="report_search")
    if kinds or columns or text:
        shown = imp.filter_report(report, kinds, columns, text)
        st.caption(f"{len(shown):,} of {len(report):,} entries match. Lines are the line numbers in your file "
                   "(the header is line 1).")
    else:
        shown = imp.listed_entries(groups)
        more = (f" and the first {LISTED_WARNINGS} of each type of warning ({hidden:,} more warnings like them "
                "are in the full report)") if hidden else ""
        st.caption(f"Every rejected cell{more}. Lines are the line numbers in your file (the header is line 1).")
    st.dataframe(shown, hide_index=True, width="stretch", height=min(400, 38 + 35 * max(len(shown), 1)))
    left, right = st.columns(2)
    with left:
        store_panel.csv_download(report, "Full report", "validation_report", key="dl_report_full")
    with right:
        store_panel.csv_download(shown, "Entries shown", "validation_report_shown", key="dl_report_shown")


def assessments_section(result) -> None:
    st.subheader("3. The effect over time in these assessments")
    data = result.data
    scores = [s for s in SCORES if s in data.columns and data[s].notna().any()]
    if not scores:
        st.warning("No pain or TWSTRS scores to chart: the timeline needs a score recorded at day 0 and after.")
        return
    extra = [c for c in result.extra_columns if c in data.columns]
    left, right = st.columns(2)
    score = left.selectbox("Score", scores, key="assessment_score",
                           format_func=lambda s: {"pain": "Pain (NRS 0-10)", "twstrs": "TWSTRS total"}.get(s, s))
    by = right.selectbox("Group by", ["(no grouping)", *extra], key="assessment_by")
    group = None if by == "(no grouping)" else by
    with st.spinner("Computing the change from baseline..."):
        table = timeline(data, score=score, by=group, settings=_settings())
    ui.chart(assessment_timeline_figure(table, score, group), "fig_assessments")
    ui.table_with_download(table, "change from baseline", f"timeline_{score}", key="dl_timeline",
                              column_config=ui.percent_columns(table, ["responder_share"]))


def _settings():
    ctx = current()
    return ctx.settings if ctx is not None else DEFAULT_SETTINGS


def _set_date_order(choices: imp.Choices) -> None:
    chosen = st.session_state.get(keys.DATE_ORDER, AUTO)
    choices.date_order = None if chosen == AUTO else chosen


def _set_sheet(choices: imp.Choices) -> None:
    choices.sheet = st.session_state.get(keys.SHEET, FIRST_FITTING) or None


def upload_section() -> None:
    st.subheader("1. Upload a file")
    kind = st.radio("What the file holds", list(imp.KINDS), format_func=imp.KINDS.get, key="upload_kind",
                    horizontal=True)
    uploaded = st.file_uploader("CSV, Excel (.xlsx) or Parquet", type=["csv", "txt", "tsv", "xlsx", "parquet"],
                                key="upload_file",
                                help="Kept in this browser session only; closing the tab forgets it.")
    if uploaded is None:
        st.caption("Nothing uploaded yet. To see how problems are reported, download the example export with "
                   "problems (synthetic patients) and upload it here.")
        st.download_button("Example export with problems (CSV)", MESSY_EXAMPLE.read_bytes(), "messy_export.csv",
                           "text/csv", key="dl_messy_example", icon=":material/download:")
        return
    data = uploaded.getvalue()
    read_upload = redcap_upload.reader(data)  # a REDCap export's data dictionary, or the ordinary reading
    file_hash = sources.content_hash(data)
    choices = imp.choices_for(file_hash)
    choices.kind = kind
    if "cancel" in choices.identifiers:
        st.info("Upload cancelled: nothing from this file was read or kept. Upload another file, or remove this "
                "one with the x above.", icon=":material/block:")
        st.button("Reconsider this file", key="guard_undo", on_click=_set_identifiers, args=(choices, None))
        return
    with st.status("Reading and checking the file...", expanded=False) as status:
        key, result = read_upload(data, uploaded.name, choices)
        label = ("refused" if result.refused else
                 f"{result.n_accepted:,} rows accepted, {result.n_rejected_rows:,} rejected")
        status.update(label=f"{markdown_text(result.source_name)}: {label}",
                      state="error" if result.refused else "complete")

    headers = list(result.column_map) + list(result.extra_columns)
    sheets = imp.workbook_sheets(data)
    asks_sheet = result.refusal in (Refusal.NO_SUCH_SHEET, Refusal.MISSING_COLUMNS) and len(sheets) > 1
    with st.expander("Reading options", expanded=imp.asks_for_date_order(result) or asks_sheet):
        if len(sheets) > 1:
            st.session_state.setdefault(keys.SHEET, choices.sheet or FIRST_FITTING)
            st.selectbox("Sheet of the workbook", [FIRST_FITTING, *sheets], key=keys.SHEET,
                         format_func=lambda s: s or "The first whose header fits the data contract",
                         on_change=_set_sheet, args=(choices,),
                         help="A workbook may start with a cover page; choose the sheet that holds one row per "
                              "session.")
        st.session_state.setdefault(keys.DATE_ORDER, choices.date_order or AUTO)
        st.radio("Date order", list(DATE_ORDERS), format_func=DATE_ORDERS.get, key=keys.DATE_ORDER,
                 horizontal=True, on_change=_set_date_order, args=(choices,))

    st.subheader("2. What we found")
    if imp.identifier_block(result):
        identifier_guard(result, choices)
        mapping_editor(result, choices, headers)
        return
    if result.refused:
        if imp.asks_for_date_order(result):
            st.warning(" ".join(markdown_text(e) for e in result.file_errors) + " Use **Reading options** above.",
                       icon=":material/event:")
        else:
            headline = REFUSAL_HEADLINES.get(result.refusal, "The file could not be used.")
            st.error(f"**{headline}** " + " ".join(markdown_text(e) for e in result.file_errors),
                     icon=":material/error:")
        mapping_editor(result, choices, headers)
        return

    report_section(result)
    mapping_editor(result, choices, headers)
    with st.expander("Preview of the accepted rows", expanded=False):
        st.dataframe(result.data.head(50), hide_index=True, width="stretch")

    if result.kind == "assessments":
        assessments_section(result)
        if result.n_accepted:
            st.subheader("4. Import it")
            store_panel.import_button(result, uploaded.name, data, choices.mapping, key)
        return
    st.subheader("3. Import it")
    if result.n_accepted == 0:
        st.warning("No row was accepted, so there is nothing to import. Fix the problems listed above and upload "
                   "the file again.")
        return
    if store_panel.import_button(result, uploaded.name, data, choices.mapping, key):
        return  # imported: every page shows the clinic's store, this file's rows included
    active = sources.active_upload()
    if active and active["key"] == key:
        st.info(f"**{markdown_text(result.source_name)}** is in use on every page, in this browser session only: "
                "it is not in the clinic's store, and other users do not see it.", icon=":material/visibility:")
        st.page_link("views/overview.py", label="Go to the Overview", icon=":material/dashboard:")
        return
    st.button("Look at this file without importing", key="use_data", icon=":material/visibility:",
              on_click=sources.use_upload, args=(result.source_name, key, result),
              help=f"Every page shows this file's {result.n_accepted:,} accepted sessions, in this browser session "
                   "only: nothing is kept, and other users still see the clinic's data. Rejected rows are left "
                   "out.")


def render() -> None:
    who = signin.require(DATA)
    st.title("Data")
    if not who.may_change_store:  # a lead: what is in use and the import history, read-only
        st.caption("The data in use and every import into the clinic's store. Uploading, importing, undoing and "
                   "erasing are for the clinic's analysts.")
        current_data()
        store_panel.history_section(may_change=False)
        start_here()
        return
    st.caption("Load a clinic export, see what was accepted and why anything was not, then import it into the "
               "clinic's store.")
    current_data()
    upload_section()
    if store_panel.history_section():  # nothing to erase in an empty store
        store_panel.purge_section()
    start_here()


ui.run_page(render)
