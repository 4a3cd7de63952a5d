"""The layers stay apart: analytics/ imports no Streamlit, plotly or charts (so every metric runs from the command
line and in tests without a browser), and pages import their chart builders directly rather than by name."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import importlib, pkgutil, sys
import analytics
for module in pkgutil.iter_modules(analytics.__path__):
    if module.name != "__main__":
        importlib.import_module(f"analytics.{module.name}")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("streamlit", "plotly", "charts", "views", "reports"))
print(" ".join(loaded))
"""


def test_analytics_imports_no_streamlit_plotly_or_charts():
    out = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == []


def test_no_module_of_analytics_names_an_upper_layer():
    for path in sorted((ROOT / "analytics").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for layer in ("streamlit", "plotly", "charts", "views"):
            assert f"import {layer}" not in text and f"from {layer}" not in text, (path.name, layer)


def test_views_import_no_importlib():
    """Pages import their chart builders by name: no module of views/ loads code from a string."""
    for path in sorted((ROOT / "views").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        called = {node.func.id for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        assert "importlib" not in imported and "__import__" not in called, path.name


def test_charts_and_reports_import_no_streamlit():
    for package in ("charts", "reports"):
        for path in sorted((ROOT / package).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            assert "import streamlit" not in text and "from streamlit" not in text, path.name
