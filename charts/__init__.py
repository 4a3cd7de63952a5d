"""Plotly figure builders: each takes a table from analytics/ and returns a `go.Figure`, never raising.

No Streamlit here: the pages in views/ call these and hand the figures to st.plotly_chart. Builders only lay
out what the tables hold; every number is computed in analytics/. An empty table gives the "no data" figure
(charts.theme.empty_figure; test with charts.theme.is_empty_figure).
"""
