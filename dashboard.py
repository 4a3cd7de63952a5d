"""The Streamlit entry point: `streamlit run dashboard.py` (or `./run.sh app`).

It first passes the sign-in gate (views/signin.py: signed-in mode with the clinic's identity provider, or local
mode on this computer), shows only the pages of the user's role, then draws the shared sidebar (data source,
period, filters, thresholds, as-of date) and runs the chosen page.
The data shown (views/sources.py): the clinic's store (OUTCOMES_DB) once it holds sessions, else the sample
data/sample/sessions.csv; OUTCOMES_DATA_FILE=/path/to/sessions.csv opens another file instead (the benchmark does);
an upload on the Data page replaces either for one browser session.
"""
from __future__ import annotations

import logging
import os

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from analytics import access
from analytics.log_privacy import ScrubbingFormatter
from analytics.memory import keep_freed_memory
from views import components as ui
from views import keys, signin
from views.sidebar import sidebar

if not logging.getLogger("outcomes").handlers:  # errors (with tracebacks) go to the server log, not to users
    handler = logging.StreamHandler()
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("outcomes").addHandler(handler)
    logging.getLogger("outcomes").setLevel(os.environ.get("OUTCOMES_LOG_LEVEL", "INFO").upper())

keep_freed_memory()  # once per server: a filter change reuses the pages the last one freed (analytics/memory.py)

st.set_page_config(page_title="Toxin outcomes", page_icon=":material/monitoring:", layout="wide")

# Before anything is read: who is this (signed-in mode) or the local-mode user; stops with the sign-in page, the
# no-access page or the server's misconfiguration otherwise (views/signin.py).
who = signin.gate()

PAGES = {
    access.OVERVIEW: st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    access.PATIENTS: st.Page("views/patients.py", title="Patients", icon=":material/person_search:"),
    access.COMPARE: st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    access.DATA: st.Page("views/data.py", title="Data", icon=":material/upload_file:"),
    access.AUDIT: st.Page("views/audit_page.py", title="Audit", icon=":material/policy:", url_path="audit"),
}
page = st.navigation([PAGES[name] for name in who.pages])
signin.identity()
with ui.timed("audit row of the visit"):
    signin.page_visit(page.title)

try:
    with ui.timed("sidebar and data"):
        st.session_state[keys.CONTEXT] = sidebar()
except ScriptControlException:
    raise
except Exception:  # noqa: BLE001 - the data could not be opened: say so, let the Data page still work
    ui.LOG.exception("the data source could not be opened")
    st.session_state[keys.CONTEXT] = None
    st.sidebar.error("The data could not be opened. Upload a file on the Data page, or check the server log.")

try:
    page.run()
finally:
    st.session_state.pop(keys.CONTEXT, None)  # holds filtered frames: not kept between runs
