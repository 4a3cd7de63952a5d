"""Helpers for the AppTest tests of the dashboard (tests/test_app_*.py)."""
from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = str(ROOT / "dashboard.py")
MESSY = ROOT / "data" / "sample" / "messy_export.csv"
ASSESSMENTS = ROOT / "data" / "sample" / "assessments.csv"
TIMEOUT = 120  # the first run imports statsmodels and fits the mixed model


def app(page: str | None = None) -> AppTest:
    """The dashboard run once (Overview), then switched to `page` ('views/patients.py', ...) if given."""
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(page).run()
    return at


def no_errors(at: AppTest) -> None:
    """No exception element and no error alert on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at: AppTest, label: str) -> str:
    """The shown value of the metric with this label."""
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def plotly_charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def texts(at: AppTest, raw: bool = False) -> str:
    """All markdown, caption, info, warning and success text of the run, for 'does the page say X' checks.

    As the reader sees it: the backslash escapes and word joiners that keep user text inert in Markdown
    (analytics.presentation.markdown_text) are taken out, unless raw=True."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [w.value for w in at.warning] + [s.value for s in at.success] + [e.value for e in at.error]
    text = "\n".join(parts)
    return text if raw else shown(text)


def shown(markdown: str) -> str:
    """Markdown as the reader sees its words: the backslash escapes and word joiners that keep user text inert
    (analytics.presentation.markdown_text) taken out."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def set_threshold(at: AppTest, name: str, value) -> AppTest:
    """Open the sidebar's thresholds (drawn only while open) and set one, as a user would."""
    at.session_state["exp_thresholds"] = True
    at.run()
    return at.number_input(key=f"w_setting_{name}").set_value(value).run()
