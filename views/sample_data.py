"""First page: the sample session records, loaded through the same ingestion as an upload."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from analytics.ingest import load_sessions

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "sessions.csv"


@st.cache_data(show_spinner=False)
def load_sample(path: str, modified: float):
    """The sample file's report; keyed by path and modification time."""
    return load_sessions(path)


st.title("Botulinum toxin outcomes")
st.info("Showing the **sample data** (synthetic patients made by data/sample/generate.py), not a clinic's records.")
with st.spinner("Loading and checking the sample sessions..."):
    result = load_sample(str(SAMPLE), SAMPLE.stat().st_mtime)
summary = result.summary()
if result.refused:
    st.error(" ".join(result.file_errors))
    st.stop()
data = result.data
cols = st.columns(4)
cols[0].metric("Sessions", f"{summary['accepted_rows']:,}")
cols[1].metric("Patients", f"{data['patient_id'].nunique():,}")
cols[2].metric("First session", data["session_date"].min().strftime("%d %b %Y"))
cols[3].metric("Latest session (as of)", data["session_date"].max().strftime("%d %b %Y"))
st.caption(f"Source: {SAMPLE.name} · {summary['rows']} rows read, {summary['accepted_rows']} accepted, "
           f"{summary['rejected_rows']} rejected, {summary['warnings']} warnings.")
st.subheader("Sessions")
st.dataframe(data.drop(columns=["line"]), hide_index=True, height=480)
