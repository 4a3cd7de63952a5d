"""The Streamlit entry point: `streamlit run dashboard.py` (or `./run.sh app`).

It draws the shared sidebar (data source, period, filters, thresholds, as-of date) and runs the chosen page.
The data shown (views/sources.py): the clinic's store (OUTCOMES_DB) once it holds sessions, else the sample
data/sample/sessions.csv; OUTCOMES_DATA_FILE=/path/to/sessions.csv opens another file instead (the benchmark does);
an upload on the Data page replaces either for one browser session.
"""
from __future__ import annotations

import logging
import os

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from analytics.log_privacy import ScrubbingFormatter
from views import components as ui
from views import keys
from views.sidebar import sidebar

if not logging.getLogger("outcomes").handlers:  # errors (with tracebacks) go to the server log, not to users
    handler = logging.StreamHandler()
    handler.setFormatter(ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("outcomes").addHandler(handler)
    logging.getLogger("outcomes").setLevel(os.environ.get("OUTCOMES_LOG_LEVEL", "INFO").upper())

st.set_page_config(page_title="Toxin outcomes", page_icon=":material/monitoring:", layout="wide")

PAGES = [
    st.Page("views/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("views/patients.py", title="Patients", icon=":material/person_search:"),
    st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("views/data.py", title="Data", icon=":material/upload_file:"),
]
page = st.navigation(PAGES)

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
