"""Streamlit page modules: each only wires widgets to analytics/ functions and chart builders."""
