"""The Streamlit entry point: `streamlit run dashboard.py` (or `./run.sh app`)."""
from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Toxin outcomes", page_icon=":material/monitoring:", layout="wide")

pages = [
    st.Page("views/sample_data.py", title="Sample data", icon=":material/table:", default=True),
]
st.navigation(pages).run()
