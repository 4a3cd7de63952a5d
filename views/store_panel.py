"""The Data page's store section: import a checked file into the clinic's store, the import history, undo, and
the erasure of one patient (analysts and local mode only; a lead sees the history). Each import, undo and erasure
is audited (views/signin.py), refused ones too.

Only wiring: every decision (keys, upserts, what undo may do, which label is kept) is analytics/store.py's.
The store never keeps the uploaded file's name: the user may type a label, else the store keeps a neutral one
("upload <time>, <rows> rows"); messages and the history show the label.
"""
from __future__ import annotations

import streamlit as st

from analytics import store
from analytics.ingest import IngestResult
from analytics.presentation import markdown_text
from views import components as ui
from views import keys, signin, sources

HISTORY_COLUMNS = {"batch_id": "Batch", "imported_at": "Imported", "kind": "Kind", "label": "Label",
                   "rows": "Rows", "accepted": "Accepted", "rejected": "Rejected", "new": "New",
                   "updated": "Updated", "unchanged": "Unchanged", "status": "Status"}


def import_button(result: IngestResult, name: str, data: bytes, mapping: dict) -> None:
    """Offer to keep the accepted rows in the store, after the user has seen the report above.

    `name` (the uploaded file's name) is not shown, logged or stored: the import is known by the label the user
    types (checked by store.check_label) or by the neutral one. An import whose blank cells would clear stored
    values is not done at once: the page lists how many values per column it would clear and asks for a second
    click to clear them and import.
    """
    del name  # a file's name may name a patient: never kept
    db_path = store.default_db_path()
    noun = "sessions" if result.kind == "sessions" else "assessments"
    st.caption(f"Importing keeps the {result.n_accepted:,} accepted {noun} in the clinic's store "
               f"({db_path.name}) for every user and every later visit. Re-importing the same file changes "
               "nothing; a corrected file updates only the sessions that changed; columns the file lacks keep "
               "their stored values; any import can be undone below.")
    digest = store.file_hash(data)
    typed = st.text_input("Label for this import (optional)", key="store_label", max_chars=store.LABEL_MAX,
                          placeholder="e.g. March export, north clinic",
                          help="A few words to know this import by in the history. The file's name is never "
                               "kept; without a label the store keeps 'upload <time>, <rows> rows'. No names, "
                               "e-mail addresses or long numbers.")
    try:
        label = store.stored_label(store.check_label(typed) or result.source_name, int(result.n_rows))
    except store.StoreError as err:
        st.error(markdown_text(str(err)), icon=":material/error:")
        return
    pending = st.session_state.get(keys.STORE_CLEARING, {}).get(digest)
    if pending:
        total = sum(pending.values())
        st.warning(f"This file ({markdown_text(label)}) has blank cells where the store holds values: importing it "
                   f"would clear {total:,} stored value(s). Nothing has been imported. Fill the cells in and upload "
                   "the file again, or clear these values (the import can be undone):\n\n"
                   + "\n".join(f"- {markdown_text(column)}: {count:,} stored value(s)"
                               for column, count in pending.items()),
                   icon=":material/warning:")
        if st.button(f"Clear {total:,} stored values and import", key="store_import_clearing",
                     icon=":material/delete_sweep:"):
            _import(result, label, digest, mapping, db_path, allow_clearing=True)
        return
    if st.button("Import into the clinic's store", key="store_import", icon=":material/database_upload:"):
        _import(result, label, digest, mapping, db_path, allow_clearing=False)


def _refused(action: str, obj: str) -> bool:
    """True (audited, and said on the page) when this user's role may not change the store."""
    if signin.may_change_store():
        return False
    signin.record(action, obj, "refused: not in this role")
    st.session_state[keys.STORE_MESSAGE] = "Not done: your role does not change the clinic's store."
    return True


def _import(result: IngestResult, label: str, digest: str, mapping: dict, db_path, allow_clearing: bool) -> None:
    if _refused("import", f"file {digest[:16]}"):
        return
    try:
        with st.spinner(f"Importing {markdown_text(label)} into the store..."):
            report = store.import_result(result, digest, label, mapping, db_path, allow_clearing=allow_clearing)
    except store.ClearingNeeded as err:
        signin.record("import", f"file {digest[:16]}", "waiting: blank cells would clear stored values")
        st.session_state[keys.STORE_CLEARING] = {digest: err.counts}  # one file at a time
        st.rerun()
    except store.StoreError as err:
        signin.record("import", f"file {digest[:16]}", f"refused: {err.__class__.__name__}")
        st.error(markdown_text(str(err)), icon=":material/error:")
        return
    batch = f"batch {report.batch_id}" if report.batch_id is not None else "no batch (nothing changed)"
    signin.record("import", f"{batch}, file {digest[:16]}")
    st.session_state.pop(keys.STORE_CLEARING, None)
    st.session_state[keys.STORE_MESSAGE] = report.message()
    if report.held_back:
        st.session_state[keys.STORE_MESSAGE] += " " + " ".join(
            f"Line {r['line']}: {r['message']}" for r in report.held_back[:20])
    sources.use_default()  # the pages show the store from now on
    st.rerun()


def _undo(batch_id: int) -> None:
    if _refused("undo", f"batch {batch_id}"):
        return
    try:
        st.session_state[keys.STORE_MESSAGE] = store.undo(batch_id, store.default_db_path()).message()
    except store.StoreError as err:
        signin.record("undo", f"batch {batch_id}", f"refused: {err.__class__.__name__}")
        st.session_state[keys.STORE_MESSAGE] = f"Not undone: {err}"
        return
    signin.record("undo", f"batch {batch_id}")


def _purge(code: str) -> None:
    """Erase one patient's rows (store.purge). The audit row names the erasure's batch, never the code: after an
    erasure the code is nowhere in the store file (the import log's erasure line names no patient either)."""
    if _refused("purge", ""):
        return
    try:
        report = store.purge(code, store.default_db_path())
    except store.StoreError as err:
        signin.record("purge", "", f"refused: {err.__class__.__name__}")
        st.session_state[keys.STORE_MESSAGE] = f"Nothing erased: {err}"
        return
    signin.record("purge", f"batch {report.batch_id}")
    st.session_state[keys.STORE_MESSAGE] = report.message()
    st.session_state["purge_code"] = ""
    st.session_state["purge_confirm"] = False
    sources.use_default()


def purge_section() -> None:
    """Erase every row of one patient code from the store (the right to erasure). Cannot be undone: asks twice."""
    with st.expander("Erase one patient from the store", icon=":material/person_remove:"):
        st.caption("Removes every session and assessment of one patient code, in every import and in the copies "
                   "kept for undo, then rewrites the store file. This cannot be undone. The audit trail records "
                   "who erased and when, not the code.")
        code = st.text_input("Patient code to erase", key="purge_code", placeholder="e.g. P00091").strip()
        sure = st.checkbox("I understand this patient's rows will be gone for good", key="purge_confirm")
        st.button("Erase this patient", key="purge_button", icon=":material/delete_forever:", type="primary",
                  disabled=not (code and sure), on_click=_purge, args=(code,))


def history_section(may_change: bool = True) -> int:
    """Every import into the store, newest first, with undo for those that can be undone now (when the user's
    role may change the store). Returns how many rows (sessions and assessments) the store holds."""
    st.subheader("The clinic's store")
    message = st.session_state.pop(keys.STORE_MESSAGE, None)
    if message:
        st.success(markdown_text(message), icon=":material/database:")
    db_path = store.default_db_path()
    log = store.history(db_path)
    if log.empty:
        st.caption(f"The store ({db_path}) is empty: the pages show the sample data until a file is imported.")
        return 0
    stats = store.stats(db_path)
    st.caption(f"{stats.get('sessions', 0):,} sessions of {stats.get('patients', 0):,} patients from "
               f"{len(log):,} import(s). Undo an import to remove the rows it added and restore those it changed.")
    shown = log[[c for c in HISTORY_COLUMNS if c in log.columns]].rename(columns=HISTORY_COLUMNS)
    ui.table_with_download(shown, "the import history", "import_history")
    if stats.get("assessments", 0):
        with st.expander(f"The stored repeated assessments ({stats['assessments']:,})", expanded=False):
            ui.table_with_download(store.read_assessments(db_path), "the stored assessments",
                                   "stored_assessments", key="stored_assessments")
    stored = int(stats.get("sessions", 0)) + int(stats.get("assessments", 0))
    undoable = log.loc[log["can_undo"].astype(bool), "batch_id"].tolist()
    if not undoable or not may_change:
        return stored
    cols = st.columns([2, 1])
    batch = cols[0].selectbox("Import to undo", undoable, key="undo_batch",
                              format_func=lambda b: f"Batch {b}: " + markdown_text(str(log.loc[log["batch_id"] == b,
                                                                                 "label"].iloc[0])))
    cols[1].button("Undo this import", key="undo_button", on_click=_undo, args=(int(batch),),
                   icon=":material/undo:")
    return stored
