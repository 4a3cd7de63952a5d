"""The peer of bench_first_page.py: the least a Streamlit page like the Overview's first page can cost a browser.

A title, a sidebar line, ten bordered st.metric tiles with a change, and one small plotly line chart (150 points),
served by the same Streamlit as the dashboard: no data, no computation. Its first render in a new browser profile
is the floor the framework and plotly.js set on this machine (fetching and compiling their scripts, drawing).
"""
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="peer", layout="wide")
st.sidebar.markdown("**Data:** none (the benchmark's peer page)")
st.title("Overview")
for row in range(2):
    for i, col in enumerate(st.columns(5)):
        col.metric(f"Tile {row * 5 + i}", f"{(row * 5 + i) * 11.5:.1f}%", delta="+1.0", border=True)
figure = go.Figure(go.Scatter(x=list(range(150)), y=[i % 7 for i in range(150)], mode="lines+markers"))
st.plotly_chart(figure, width="stretch")
