"""What every page is built from: the header with the data in use, the empty state, KPI tiles, charts, tables with
their CSV download, expanders that build their content only while open, and the guard that turns an exception
into a short message for the user and a traceback in the server log. Layout only: the words and numbers come from
analytics.presentation, the figures from charts/."""
from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from analytics import first_page
from analytics.export import csv_name, to_csv_bytes
from analytics.kpis import change_tone
from analytics.presentation import (
    followup_note, format_change, kpi_help, kpi_label, kpi_value, markdown_text,
)
from charts.theme import without_heading
from views import signin

LOG = logging.getLogger("outcomes.app")

# The colour of a KPI's change says which direction is good (streamlit delta_color).
KPI_COLOUR = {
    "patients": "off",
    "sessions": "off",
    "responder_rate": "normal",
    "median_response_pct": "normal",
    "median_onset_days": "inverse",
    "median_peak_days": "inverse",
    "median_duration_days": "normal",
    "short_interval_share": "inverse",
    "adverse_event_rate": "inverse",
    "patients_flagged": "inverse",
    "followup_recorded": "normal",
}


def header(ctx, title: str, intro: str) -> None:
    """Page title, the sample-data banner, and one line with source, as-of, period and filters (the source's label
    and the chosen values are the user's words: shown as written, never as Markdown)."""
    st.title(title)
    if ctx.source.is_sample:
        may_import = ctx.access is None or ctx.access.may_change_store
        how = ("Upload your clinic's export on the **Data** page and import it to see your own figures."
               if may_import else "The clinic's analysts import its exports; until then the figures are made up.")
        st.info("**Sample data**: synthetic patients made up for this demonstration, not a clinic's records; the "
                f"clinic's store is empty. {how}", icon=":material/science:")
    st.caption(f"{intro}  \n**Data:** {markdown_text(ctx.source.label)} · **as of** {ctx.as_of_text()} · "
               f"**period** {ctx.period_text()} · {markdown_text(ctx.selection.describe())}")


def no_sessions_message(ctx) -> None:
    """The empty state: say why nothing is shown and what to do."""
    st.warning(f"No sessions match the filters: {markdown_text(ctx.selection.describe())}, {ctx.period_text()}. "
               "Choose a longer period or clear a filter in the sidebar.", icon=":material/filter_alt_off:")


def small_selection(ctx) -> bool:
    """When the selection has fewer patients than the suppression threshold, say so instead of any figure (as the
    shared report does) and return True: the page shows nothing more."""
    message = ctx.cached("too_few", first_page.too_few,
                         lambda: ((first_page.in_period(ctx.window, ctx.selection), ctx.settings), {}))
    if message:
        st.info(f"{message} The threshold is under **Thresholds and as-of date** in the sidebar (small-number "
                "suppression).", icon=":material/visibility_off:")
    return bool(message)


def kpi_row(tiles: pd.DataFrame, settings, width: int = 168, icons: dict | None = None) -> None:
    """The KPI tiles, each `width` pixels wide, wrapping as the screen allows (two a row on a 390 px phone, five or
    six on a desk; the tiles of a row as tall as the tallest), each with its change against the previous period:
    coloured by good or bad (green better, red worse, whichever way the figure moved) only when the change is clear
    (analytics.kpis.clear_change), otherwise 'no clear change' in grey without an arrow; a count's change
    (patients, sessions, patients flagged) is always grey. Under a tile resting on follow-up scores: how many
    sessions have one; under a tile with an SPC series (`icons`: kpi -> analytics.mdc icons): its Making Data
    Count variation (and assurance) icon in words."""
    period = tiles.attrs.get("period", {"previous_start": "?", "previous_end": "?", "days": 0})
    hidden = tiles.attrs.get("suppressed", [])
    followup = tiles.attrs.get("followup")
    icons = icons or {}
    grid = st.container(horizontal=True, wrap=True, gap="small")
    for _, row in tiles.iterrows():
        kpi = row["kpi"]
        clear = row.get("clear_change", pd.NA)
        delta = format_change(row["change"], row["unit"], clear, short=True)  # None: previous hidden
        still = delta is not None and delta.startswith("no ")
        coloured = change_tone(kpi, row["change"], clear) != "neutral"
        tile = grid.container(border=True, width=width, height="stretch")
        tile.metric(kpi_label(kpi, short=True),
                    kpi_value(kpi, row["value"], row["unit"], hidden, too_few=row.get("ci_too_few", False),
                              at_least=row.get("at_least")),
                    delta=delta, delta_color=KPI_COLOUR.get(kpi, "normal") if coloured else "off",
                    delta_arrow="off" if still else "auto",
                    help=kpi_help(row, settings, period, hidden, followup))
        note = followup_note(kpi, followup)
        if note:
            tile.caption(note)
        for icon in icons.get(kpi, ()):
            if icon is not None:
                tile.markdown(f":{icon.colour}-badge[{icon.symbol} {icon.words}]", help=icon.sentence)


def count_tiles(tiles, width: int = 168) -> None:
    """Tiles of plain counts, (label, value, help) each, `width` pixels wide and wrapping as the screen allows:
    two a row on a 390 px phone instead of one tall tile a row (st.columns stacks them there)."""
    grid = st.container(horizontal=True, wrap=True, gap="small")
    for label, value, help_text in tiles:
        grid.container(border=True, width=width, height="stretch").metric(label, value, help=help_text)


def chart(fig, key: str) -> None:
    """A plotly figure, full width, with the toolbar kept small; its title and subtitle are written above it as
    text (charts.theme.without_heading), which wraps on a phone where plotly would cut them off."""
    title, subtitle, fig = without_heading(fig)
    if title or subtitle:
        with st.container(key=f"{key}_heading"):
            if title:
                st.markdown(f"**{markdown_text(title)}**")
            if subtitle:
                st.caption("  \n".join(markdown_text(line) for line in subtitle))
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False,
                                                           "modeBarButtonsToRemove": ["lasso2d", "select2d"]})


def download(table: pd.DataFrame, label: str, name: str, key: str | None = None) -> None:
    """A CSV download of a table, with formula injection neutralised (analytics.export); the label is Markdown
    (pass user words through analytics.presentation.markdown_text). The file is written with the page, not when
    the button is clicked: a click must give the file every time (a file made on click missed one in three
    full test runs under load)."""
    st.download_button(f"Download {label} (CSV)", data=to_csv_bytes(table), file_name=csv_name(name),
                       mime="text/csv", key=key or f"download_{csv_name(name)}",
                       on_click=audit_download, args=(csv_name(name), len(table)))


# The patients a choice box offers: the worklist's first (flagged first). Offering 150,000 codes sent them all to
# the browser and labelled each on every rerun (5 s at 200,000 patients); the table and a typed code reach the rest.
MAX_CHOICES = 500


def audit_download(file_name: str, rows: int) -> None:
    """The audit row of a download (its file name and row count), written when the user clicks it."""
    signin.record("download", f"{file_name} ({rows:,} rows)")


def table_with_download(table: pd.DataFrame, label: str, name: str, *, height: int | None = None,
                        column_config: dict | None = None, key: str | None = None,
                        screen: pd.DataFrame | None = None) -> None:
    """A table (or its screen form) and the CSV download of the table beneath it."""
    options: dict[str, Any] = {"hide_index": True, "width": "stretch"}
    if height:
        options["height"] = height
    if column_config:
        options["column_config"] = column_config
    st.dataframe(table if screen is None else screen, **options)
    download(table, label, name, key=key)


def percent_columns(table: pd.DataFrame, columns) -> dict:
    """column_config showing proportions 0..1 as percentages."""
    return {c: st.column_config.NumberColumn(c, format="percent") for c in columns if c in table.columns}


@contextmanager
def lazy_expander(label: str, key: str, icon: str | None = None):
    """An expander whose content is only built while it is open (Streamlit reruns when it opens): what is
    behind it costs nothing on the first render. Yields True when open."""
    expander = st.expander(label, key=key, on_change="rerun", icon=icon)
    with expander:
        yield bool(expander.open)


def table_expander(label: str, key: str):
    """A lazy expander for tables (and their downloads)."""
    return lazy_expander(label, key, ":material/table:")


@contextmanager
def timed(step: str):
    """Log how long a step of a page took (DEBUG level: set OUTCOMES_LOG_LEVEL=DEBUG to see it)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        LOG.debug("%s: %.3f s", step, time.perf_counter() - started)


def run_page(body: Callable[[], None]) -> None:
    """Run a page body; an unexpected error shows a short message and its traceback goes to the server log."""
    started = time.perf_counter()
    try:
        body()
    except ScriptControlException:
        raise  # st.stop() / st.rerun(): Streamlit's own control flow
    except Exception:  # noqa: BLE001 - the last line of defence of a page
        reference = uuid.uuid4().hex[:8]
        LOG.exception("page failed (reference %s)", reference)
        st.error(f"Something went wrong while preparing this page (reference {reference}). Try another filter "
                 "or reload the page; if it keeps happening, give the reference to whoever runs this app.",
                 icon=":material/error:")
    finally:
        LOG.debug("page body: %.3f s", time.perf_counter() - started)
