"""Reports from the app: "Download report (HTML)" and "Download tables (Excel)" for exactly the sidebar's period,
filters and thresholds, built by the same functions as `python -m analytics report` (reports.html_report,
reports.excel_report; analytics/cli.py cmd_report).

Built on click, not on every run: the buttons hand Streamlit a callable that it runs only when the file is asked
for, so a page pays nothing for them. Only the roles that may take the clinic's figures away see them
(Access.may_report), and each download writes its audit row like every other download.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from views import signin
from views.context import Context

HTML_NAME, EXCEL_NAME = "toxin_outcomes_report.html", "toxin_outcomes_tables.xlsx"
EXCEL_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def report_inputs(ctx: Context) -> dict:
    """The report functions' arguments for this view, as cmd_report builds them from the same choices: the selected
    sessions, the settings (thresholds and as-of date), the filters in words, the source, the KPI period, every
    session (flags judged on whole histories) and the same filters at every date (the p-chart's baseline)."""
    return {"sessions": ctx.sessions, "settings": ctx.settings, "filters_description": filters_words(ctx),
            "source_name": ctx.source.label, "start": ctx.selection.start, "end": ctx.selection.end,
            "history": ctx.derived, "baseline": ctx.scoped}


def filters_words(ctx: Context) -> str:
    """The selection in the report's header, worded as cmd_report words it (analytics/cli.py _selection_words)."""
    chosen = ctx.selection
    words = "; ".join(w for w in (chosen.describe_dates(), chosen.describe() if chosen.values else "") if w)
    if not words and ctx.settings.as_of:
        words = f"sessions up to {ctx.settings.as_of.isoformat()}"
    return words


def html_bytes(inputs: dict) -> bytes:
    """The HTML report of these inputs (reports.html_report), as UTF-8."""
    from reports import html_report  # only when asked: the report module loads every chart builder

    options = dict(inputs)
    return html_report(options.pop("sessions"), options.pop("settings"), options.pop("filters_description"),
                       options.pop("source_name"), **options).encode("utf-8")


def excel_bytes(inputs: dict) -> bytes:
    """The workbook of these inputs (reports.excel_report)."""
    from reports import excel_report

    options = dict(inputs)
    return excel_report(options.pop("sessions"), options.pop("settings"), options.pop("filters_description"),
                        options.pop("source_name"), **options)


def _later(build: Callable[[dict], bytes], inputs: dict | Callable[[], dict]) -> Callable[[], bytes]:
    """A callable Streamlit runs when the button is clicked (no Streamlit command inside: it runs off the page);
    `inputs` may itself be a callable, run then."""
    return lambda: build(inputs() if callable(inputs) else inputs)


def report_buttons(ctx: Context, page: str) -> None:
    """The two downloads of this view, side by side, with a line saying what they hold; nothing for a role that
    may not take the clinic's figures away."""
    if ctx.access is not None and not ctx.access.may_report:
        return
    # The clinic's store: its sessions are read when the button is clicked, not to draw the button (the first page
    # is drawn from the results the store keeps ready; reading the store's sessions calls no Streamlit command).
    # Other sources are in memory already, and an upload's caches live in the session: taken now.
    inputs = (lambda: report_inputs(ctx)) if ctx.source.kind == "store" else report_inputs(ctx)
    what = f"{ctx.period_text()}; {ctx.selection.describe()}"
    left, right = st.columns(2)
    left.download_button("Download report (HTML)", _later(html_bytes, inputs), HTML_NAME, "text/html",
                         key=f"dl_report_html_{page}", icon=":material/description:", width="stretch",
                         on_click=signin.record, args=("report", f"{HTML_NAME} ({what})"),
                         help="The headline figures, charts and tables of this view (the period, filters and "
                              "thresholds in the sidebar), small groups suppressed, no patient codes. Built when "
                              "you click; open it in a browser to print.")
    right.download_button("Download tables (Excel)", _later(excel_bytes, inputs), EXCEL_NAME, EXCEL_MIME,
                          key=f"dl_report_xlsx_{page}", icon=":material/table_view:", width="stretch",
                          on_click=signin.record, args=("report", f"{EXCEL_NAME} ({what})"),
                          help="The report's tables as a workbook, one sheet each, for this view; the Flags sheet "
                               "names patients by pseudonymous code, for the care team only.")
