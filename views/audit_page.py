"""Audit (leads and analysts): who signed in, opened which page or patient, downloaded, imported, undid or erased
what, and when (UTC), from the store's append-only audit_log; filtered, and downloadable as CSV."""
from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from analytics import audit
from analytics.access import AUDIT
from analytics.store_locking import StoreError
from views import components as ui
from views import signin

ALL = "(every action)"


def render() -> None:
    signin.require(AUDIT)
    st.title("Audit trail")
    st.caption("Every sign-in (and refusal), page and patient opened, download, import, undo and erasure, newest "
               "first. Times are UTC. Rows are only ever added: the dashboard cannot change or remove them.")
    left, mid, right = st.columns(3)
    since = left.date_input("Since", value=date.today() - timedelta(days=30), format="DD/MM/YYYY",
                            key="audit_since")
    user = mid.text_input("User (e-mail or name)", key="audit_user", placeholder="Everyone").strip()
    action = right.selectbox("Action", [ALL, *audit.ACTIONS], key="audit_action")
    try:
        rows = audit.read(since=since, user=user or None, action=None if action == ALL else action)
    except StoreError as error:  # AuditError, or the store busy or unreadable
        st.error(f"The audit trail could not be read: {error}", icon=":material/error:")
        return
    if rows.empty:
        st.info("No audit rows match these filters.", icon=":material/search_off:")
        return
    st.caption(f"{len(rows):,} rows.")
    when = st.column_config.DatetimeColumn("at (UTC)", format="YYYY-MM-DD HH:mm:ss")
    ui.table_with_download(rows, "the audit rows shown", "audit_trail", key="dl_audit",
                           height=min(600, 38 + 35 * len(rows)), column_config={"at": when})


ui.run_page(render)
