"""The Streamlit app around analytics/: page modules (overview, patients, compare, data) that only wire widgets to
analytics/ functions and charts/ builders, and what they share: keys (every session-state key), cache, sources
(where the sessions come from), context (what a page reads), sidebar (period, filters, thresholds) and components
(the page furniture)."""
