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
from analytics.export import csv_name, to_csv_bytes
from analytics.ingest import IngestResult
from analytics.presentation import markdown_text
from views import components as ui
from views import keys, signin, sources

HISTORY_COLUMNS = {"batch_id": "Batch", "imported_at": "Imported", "kind": "Kind", "label": "Label",
                   "rows": "Rows", "accepted": "Accepted", "rejected": "Rejected", "new": "New",
                   "updated": "Updated", "unchanged": "Unchanged", "status": "Status"}
STORE_WORDS = "the clinic's store"  # what users read instead of the store's file path (kept in the server log)


def csv_download(table, label: str, name: str, key: str) -> None:
    """A CSV download (formulas neutralised, audited on click) labelled '<label> (CSV)' beside the download icon.

    The icon's ligature is the word 'download' (copied with the page's text, read by text tools), so the label
    does not say 'Download' again ('Download Download the import history' was the result)."""
    st.download_button(f"{label} (CSV)", data=to_csv_bytes(table), file_name=csv_name(name), mime="text/csv",
                       key=key, icon=":material/download:", on_click=ui.audit_download,
                       args=(csv_name(name), len(table)))


def said(err: Exception) -> str:
    """A store error's message for the page: the store's file path (the server's, which the user cannot open)
    replaced by words; the message as raised goes to the server log."""
    text = str(err)
    path = str(store.default_db_path())
    if path in text:
        ui.LOG.info("store message with its path: %s", text)
    return text.replace(path, STORE_WORDS)


def store_banner(sessions: int) -> str:
    """The Data page's 'in use now' line for the clinic's store: its sessions and imports, and the rows those
    imports rejected (they were never stored, so the store's own table cannot count them: it said '0 rows
    rejected' after an import that rejected 4)."""
    log = store.history(store.default_db_path())
    live = log.loc[(log["status"] == "active") & (log["kind"] == "sessions")] if not log.empty else log
    imports = len(live)
    text = (f"**In use now:** the clinic's store: {sessions:,} sessions from {imports:,} "
            f"import{'s' if imports != 1 else ''}.")
    rejected = live.loc[live["rejected"] > 0] if imports else live
    if not len(rejected):
        return text + " No row of these imports was rejected."
    total = int(rejected["rejected"].sum())
    per_batch = ", ".join(f"batch {int(b)}: {int(n):,}" for b, n in
                          zip(rejected["batch_id"].head(5), rejected["rejected"].head(5)))
    more = ", ..." if len(rejected) > 5 else ""
    return (text + f" {total:,} row{'s' if total != 1 else ''} of the imported files "
            f"{'were' if total != 1 else 'was'} rejected and {'are' if total != 1 else 'is'} not in the store "
            f"({per_batch}{more}).")


def imported_batch(read_key: str, log) -> dict | None:
    """What this browser session imported of this checked file ({"batch", "message"}), while it still holds: the
    batch is still in the store (not undone), or, for an import that changed nothing, the store is as it was."""
    done = st.session_state.get(keys.STORE_IMPORTED, {}).get(read_key)
    if done is None:
        return None
    if done["batch"] is not None:
        active = log.loc[log["status"] == "active", "batch_id"].tolist() if not log.empty else []
        return done if done["batch"] in active else None
    return done if done["version"] == store.data_version(store.default_db_path()) else None


def import_button(result: IngestResult, name: str, data: bytes, mapping: dict, read_key: str) -> bool:
    """Offer to keep the accepted rows in the store, after the user has seen the report above: the page's
    primary action. Once this checked file is imported the button stays, disabled, saying as which batch, with
    what the import did. Returns True when it is imported (the page then offers nothing else).

    `name` (the uploaded file's name) is not shown, logged or stored: the import is known by the label the user
    types (checked by store.check_label) or by the neutral one. An import whose blank cells would clear stored
    values is not done at once: the page lists how many values per column it would clear and asks for a second
    click to clear them and import.
    """
    del name  # a file's name may name a patient: never kept
    db_path = store.default_db_path()
    noun = "sessions" if result.kind == "sessions" else "assessments"
    log = store.history(db_path)
    done = imported_batch(read_key, log)
    if done is not None:
        words = (f"Imported as batch {done['batch']}" if done["batch"] is not None
                 else "Already in the clinic's store")
        st.button(words, key="store_import", type="primary", icon=":material/check:", disabled=True)
        st.success(markdown_text(done["message"]), icon=":material/database:")
        if result.kind == "sessions":
            st.page_link("views/overview.py", label="See it on the Overview", icon=":material/dashboard:")
        return True
    rejected = int(result.n_rejected_rows)
    st.caption(f"Importing keeps the {result.n_accepted:,} accepted {noun} in the clinic's store for every user and "
               "every later visit" + (f"; the {rejected:,} rejected row(s) are not imported" if rejected else "")
               + ". Re-importing the same file changes nothing; a corrected file updates only the sessions that "
               "changed; columns the file lacks keep their stored values; any import can be undone below.")
    digest = store.file_hash(data)
    earlier = [] if log.empty else log.loc[(log["file_hash"] == digest) & (log["status"] == "active")
                                           & (log["kind"] == result.kind), "batch_id"].tolist()
    if earlier:
        st.info("This file was imported before, as batch " + ", ".join(str(b) for b in sorted(earlier))
                + ". Importing it again changes only what differs from the store.", icon=":material/history:")
    typed = st.text_input("Label for this import (optional)", key="store_label", max_chars=store.LABEL_MAX,
                          placeholder="e.g. March export, north clinic",
                          help="A few words to know this import by in the history. The file's name is never "
                               "kept; without a label the store keeps 'upload <time>, <rows> rows'. No names, "
                               "e-mail addresses or long numbers.")
    try:
        label = store.stored_label(store.check_label(typed) or result.source_name, int(result.n_rows))
    except store.StoreError as err:
        st.error(markdown_text(said(err)), icon=":material/error:")
        return False
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
            _import(result, label, digest, mapping, db_path, read_key, allow_clearing=True)
        return False
    if st.button("Import into the clinic's store", key="store_import", type="primary",
                 icon=":material/database_upload:"):
        _import(result, label, digest, mapping, db_path, read_key, allow_clearing=False)
    return False


def _refused(action: str, obj: str) -> bool:
    """True (audited, and said on the page) when this user's role may not change the store."""
    if signin.may_change_store():
        return False
    signin.record(action, obj, "refused: not in this role")
    st.session_state[keys.STORE_MESSAGE] = "Not done: your role does not change the clinic's store."
    return True


def _import(result: IngestResult, label: str, digest: str, mapping: dict, db_path, read_key: str,
            allow_clearing: bool) -> None:
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
        st.error(markdown_text(said(err)), icon=":material/error:")
        return
    batch = f"batch {report.batch_id}" if report.batch_id is not None else "no batch (nothing changed)"
    signin.record("import", f"{batch}, file {digest[:16]}")
    st.session_state.pop(keys.STORE_CLEARING, None)
    message = report.message()
    if report.held_back:
        message += " " + " ".join(f"Line {r['line']}: {r['message']}" for r in report.held_back[:20])
    st.session_state[keys.STORE_IMPORTED] = {read_key: {  # one file at a time
        "batch": report.batch_id, "message": message,
        "version": store.data_version(db_path) if report.batch_id is None else None}}
    sources.use_default()  # the pages show the store from now on
    st.rerun()


def _undo(batch_id: int) -> None:
    if _refused("undo", f"batch {batch_id}"):
        return
    try:
        st.session_state[keys.STORE_MESSAGE] = store.undo(batch_id, store.default_db_path()).message()
    except store.StoreError as err:
        signin.record("undo", f"batch {batch_id}", f"refused: {err.__class__.__name__}")
        st.session_state[keys.STORE_MESSAGE] = f"Not undone: {said(err)}"
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
        st.session_state[keys.STORE_MESSAGE] = f"Nothing erased: {said(err)}"
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


FAILED = ("Not done", "Not undone", "Nothing erased")  # how a refused action's message starts


def history_section(may_change: bool = True) -> int:
    """Every import into the store, newest first, with undo for those that can be undone now (when the user's
    role may change the store), behind a dialog that says what it will remove. Returns how many rows (sessions and
    assessments) the store holds."""
    st.subheader("The clinic's store")
    message = st.session_state.pop(keys.STORE_MESSAGE, None)
    if message:
        if message.startswith(FAILED):
            st.warning(markdown_text(message), icon=":material/warning:")
        else:
            st.success(markdown_text(message), icon=":material/database:")
    db_path = store.default_db_path()
    log = store.history(db_path)
    if log.empty:
        st.caption("The clinic's store is empty: the pages show the sample data until a file is imported.")
        return 0
    stats = store.stats(db_path)
    st.caption(f"{stats.get('sessions', 0):,} sessions of {stats.get('patients', 0):,} patients from "
               f"{len(log):,} import(s). Undo an import to remove the rows it added and restore those it changed.")
    shown = log[[c for c in HISTORY_COLUMNS if c in log.columns]].rename(columns=HISTORY_COLUMNS)
    st.dataframe(shown, hide_index=True, width="stretch")
    csv_download(shown, "Import history", "import_history", key="download_import_history")
    if stats.get("assessments", 0):
        with st.expander(f"The stored repeated assessments ({stats['assessments']:,})", expanded=False):
            assessments = store.read_assessments(db_path)
            st.dataframe(assessments, hide_index=True, width="stretch")
            csv_download(assessments, "Stored assessments", "stored_assessments", key="stored_assessments")
    stored = int(stats.get("sessions", 0)) + int(stats.get("assessments", 0))
    undoable = log.loc[log["can_undo"].astype(bool), "batch_id"].tolist()
    if not undoable or not may_change:
        return stored
    cols = st.columns([2, 1], vertical_alignment="bottom")
    batch = cols[0].selectbox("Import to undo", undoable, key="undo_batch",
                              format_func=lambda b: f"Batch {b}: " + str(log.loc[log["batch_id"] == b,
                                                                                 "label"].iloc[0]))  # plain text
    if cols[1].button("Undo this import...", key="undo_button", icon=":material/undo:"):
        confirm_undo(undo_words(log.loc[log["batch_id"] == batch].iloc[0]), int(batch))
    return stored


def undo_words(row) -> str:
    """What undoing one import (a row of store.history) will do, in words: its batch, label, the rows it removes
    and restores, and that every user's figures change."""
    batch, label = int(row["batch_id"]), markdown_text(str(row["label"]))
    noun = "sessions" if row["kind"] == "sessions" else "assessments"
    restores = (f" and put back the earlier values of the {int(row['updated']):,} {noun} it changed"
                if int(row["updated"]) else "")
    everyone = ("Every user's figures change: every page reads the clinic's store." if noun == "sessions" else
                "Every user sees the stored assessments change.")
    return (f"**Undo batch {batch}** ({label}, imported {row['imported_at']:%d %b %Y %H:%M}; {int(row['rows']):,} "
            f"rows in the file, {int(row['accepted']):,} accepted, {int(row['rejected']):,} rejected).\n\n"
            f"This will remove the **{int(row['new']):,} {noun}** it added{restores}. {everyone} The import stays "
            "in the history, marked undone; the file can be imported again.")


@st.dialog("Undo this import?")
def confirm_undo(words: str, batch_id: int) -> None:
    """The confirmation an undo needs: nothing is removed until 'Undo batch N' is pressed; the undo itself runs
    in the button's callback (so it is done once, whether the dialog reruns alone or with the page)."""
    st.markdown(words)
    left, right = st.columns(2)
    if left.button(f"Undo batch {batch_id}", key="undo_confirm", type="primary", icon=":material/undo:",
                   on_click=_undo, args=(batch_id,)):
        st.rerun()
    if right.button("Cancel: keep it", key="undo_cancel"):
        st.rerun()
