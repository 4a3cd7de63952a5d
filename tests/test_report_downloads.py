"""Reports from the app (issue 13, item 7): the Overview's and Compare's "Download report (HTML)" and "Download
tables (Excel)" are the command line's `report` for the same filters, period and thresholds, built only on click,
and offered only to the roles that may take the clinic's figures away."""
from __future__ import annotations

import dataclasses
import io
import re
from datetime import date
from types import SimpleNamespace

import openpyxl

from analytics.cli import main
from analytics.ingest import load_sessions
from analytics.selection import Selection, by_values, select
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS
from tests.app_support import ROOT, app, no_errors
from tests.test_roles_pages import run_as, setup  # noqa: F401 - setup is the roles tests' fixture
from analytics.first_page import ANALYSIS_COLUMNS
from views.report_downloads import excel_bytes, html_bytes, report_inputs

SAMPLE = ROOT / "data" / "sample" / "sessions.csv"


def app_view(settings, chosen: Selection) -> SimpleNamespace:
    """What the app's Context holds for this sidebar: every derived session, the filters at any date and the whole
    selection, on the slim columns the pages read (views/context.py)."""
    history = derive_sessions(load_sessions(SAMPLE).data, settings)
    slim = history[[c for c in ANALYSIS_COLUMNS if c in history.columns]]
    return SimpleNamespace(sessions=select(slim, chosen), scoped=select(slim, dataclasses.replace(chosen, start=None,
                                                                                                   end=None)),
                           derived=history, settings=settings, selection=chosen,
                           source=SimpleNamespace(label="the sample"))


def without_meta(page: str) -> str:
    """The report without its source's name and generation time (all that differs between two runs: the command
    line names a file "upload <time>, <rows> rows")."""
    page = re.sub(r"upload \d{4}-\d\d-\d\d \d\d:\d\d, [\d,]+ rows", "the sample", page)
    return re.sub(r'<p class="meta">Source: .*?</p>', "", page)


def test_the_apps_report_is_the_command_lines_for_the_same_view(tmp_path):
    settings = DEFAULT_SETTINGS.with_changes(responder_threshold_pct=40.0)
    chosen = Selection("Custom range", date(2026, 4, 1), date(2026, 9, 30), by_values(site=["North"]))
    inputs = report_inputs(app_view(settings, chosen))
    assert inputs["filters_description"] == "sessions from 2026-04-01 to 2026-09-30; site: North"
    out = tmp_path / "cli.html"
    args = ["--site", "North", "--from", "2026-04-01", "--to", "2026-09-30", "--threshold", "40"]
    assert main(["report", str(SAMPLE), "--out", str(out), *args]) == 0
    from_app = html_bytes(inputs).decode("utf-8")
    assert without_meta(from_app) == without_meta(out.read_text(encoding="utf-8"))
    assert from_app.count('class="plotly-graph-div"') + from_app.count("Plotly.newPlot") > 0
    # the tiles compare with the six months before, as the Overview's do (they said "no figure to compare": the
    # report was given the period's sessions only)
    tiles = re.search(r'<section id="kpis">.*?</section>', from_app).group(0)
    assert tiles.count("against the period before: ") == 11
    assert tiles.count("no figure to compare") == 1  # only Patients flagged: flags are read from whole histories

    book = tmp_path / "cli.xlsx"
    assert main(["report", str(SAMPLE), "--out", str(book), *args]) == 0
    cli_book = openpyxl.load_workbook(book)
    app_book = openpyxl.load_workbook(io.BytesIO(excel_bytes(inputs)))
    assert cli_book.sheetnames == app_book.sheetnames
    for name in cli_book.sheetnames:
        rows = [list(r) for r in cli_book[name].iter_rows(values_only=True)]
        mine = [list(r) for r in app_book[name].iter_rows(values_only=True)]
        if name == "About":  # the source and the time it was generated differ
            rows = [r for r in rows if r[0] not in ("Source", "Generated")]
            mine = [r for r in mine if r[0] not in ("Source", "Generated")]
        assert mine == rows, name


def test_both_downloads_are_on_the_overview_and_compare():
    at = app()
    no_errors(at)
    buttons = {b.key: b for b in at.get("download_button")}
    assert {"dl_report_html_overview", "dl_report_xlsx_overview"} <= set(buttons)
    assert [buttons[k].proto.label for k in ("dl_report_html_overview", "dl_report_xlsx_overview")] == [
        "Download report (HTML)", "Download tables (Excel)"]
    at.switch_page("views/compare.py").run()
    no_errors(at)
    assert {"dl_report_html_compare", "dl_report_xlsx_compare"} <= {b.key for b in at.get("download_button")}


def test_the_reports_are_offered_to_a_lead_but_not_to_a_practitioner(setup):  # noqa: F811
    lead = run_as({"email": "lead@clinic.example"})
    no_errors(lead)
    assert "dl_report_html_overview" in {b.key for b in lead.get("download_button")}
    practitioner = run_as({"email": "dr.four@clinic.example"})
    keys = {b.key for b in practitioner.get("download_button")}
    assert not {k for k in keys if k.startswith("dl_report_")}
    practitioner.switch_page("views/compare.py").run()
    assert not {b.key for b in practitioner.get("download_button") if b.key.startswith("dl_report_")}
