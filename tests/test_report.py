"""Reports to share: the self-contained HTML (charts drawn in a real browser, offline), the Excel workbook
(formulas neutralised, small groups suppressed), no identifying values, and `python -m analytics report`."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analytics import store
from analytics.cli import main
from analytics.ingest import load_sessions
from analytics.settings import DEFAULT_SETTINGS
from reports import CHARTS, excel_report, html_report
from tests.browser_support import CHROMIUM, LAUNCH_ARGS, offline_page

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "sessions.csv"
FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    """The sample sessions with recognisable patient codes, a two-patient site and formula-like text."""
    data = load_sessions(SAMPLE).data.drop(columns="line")
    data["patient_id"] = "zq-" + data["patient_id"]  # '-' never occurs in the charts' base64 data
    patients = sorted(data["patient_id"].unique())
    data.loc[data["patient_id"].isin(patients[:2]), "site"] = "Tiny <b>site</b>"
    data.loc[data["patient_id"].isin(patients[2:40]), "site"] = FORMULAS[0]
    data.loc[data["practitioner_id"] == "PR01", "practitioner_id"] = FORMULAS[2]
    return data


@pytest.fixture(scope="module")
def report_html(sessions) -> str:
    return html_report(sessions, DEFAULT_SETTINGS, "all sites, all dates", "sample <sessions>.csv")


def body_of(page: str) -> str:
    """The HTML after the inlined plotly.js."""
    return page[page.index("</head>"):]


def row_of(page: str, group: str) -> str:
    match = re.search(r"<tr><td>" + re.escape(group) + r"</td>.*?</tr>", page)
    assert match, group
    return match.group(0)


# ---- HTML ------------------------------------------------------------------------------------------------------
def test_html_is_self_contained_with_its_charts_tables_and_settings(report_html):
    page = report_html
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<script") == 2  # plotly.js once, then the charts
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=|<img[^>]+src=|@import", page)
    for element, _ in CHARTS:
        assert f'id="{element}"' in page and f'Plotly.newPlot("{element}"' in page
    body = body_of(page)
    assert "Headline figures" in body and "Responder rate" in body
    for label in ("By product", "By indication", "By site", "By practitioner", "By dose band", "By cycle"):
        assert f"<caption>{label}</caption>" in body
    assert "<td>Botox (onabotulinumtoxinA)</td>" in body and "<td>Cervical dystonia</td>" in body  # words
    assert "<td>onabotulinumtoxinA</td>" not in body and "<td>cervical_dystonia</td>" not in body
    assert "The data begin with this period: there is nothing earlier to compare with." in body  # all dates
    assert "Settings in force" in body and "2026-09-30 (the latest session date)" in body
    assert "As of 2026-09-30" in body and "Filters: all sites, all dates." in body


def test_html_escapes_text_from_the_data(report_html):
    body = body_of(report_html)
    assert "Tiny <b>site</b>" not in body and "Tiny &lt;b&gt;site&lt;/b&gt;" in body
    assert "sample &lt;sessions&gt;.csv" in body


def test_html_has_no_patient_codes(report_html):
    assert "zq-" not in body_of(report_html)


def test_html_suppresses_small_groups_and_their_complement(report_html):
    body = body_of(report_html)
    tiny = row_of(body, "Tiny &lt;b&gt;site&lt;/b&gt;")
    assert tiny.count(">suppressed<") == len(re.findall("<td", tiny)) - 1  # every figure, not the name
    site_rows = re.search(r"<caption>By site</caption>.*?</table>", body).group(0)
    assert site_rows.count('<td class="suppressed">') == 2 * tiny.count(">suppressed<")  # and one more group


def test_a_selection_of_fewer_than_five_patients_shows_no_figures(sessions):
    few = sessions.loc[sessions["patient_id"].isin(sorted(sessions["patient_id"].unique())[:3])]
    page = html_report(few, DEFAULT_SETTINGS, "three patients", "sample")
    assert "fewer than 5 patients" in page and "Plotly.newPlot" not in page and "zq-" not in body_of(page)
    book = openpyxl.load_workbook(io.BytesIO(excel_report(few, DEFAULT_SETTINGS)))
    assert book.sheetnames == ["About"]
    assert any("suppressed" in str(c.value) for row in book["About"].iter_rows() for c in row)
    assert "no sessions" in html_report(sessions.iloc[0:0], DEFAULT_SETTINGS)


def test_the_report_is_the_same_from_the_store_and_from_the_file(tmp_path):
    result = load_sessions(SAMPLE)
    db = tmp_path / "outcomes.duckdb"
    store.import_result(result, store.file_hash(SAMPLE), SAMPLE.name, None, db)
    strip = re.compile(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d")
    from_file = strip.sub("", html_report(result.data, DEFAULT_SETTINGS, "", "clinic"))
    from_store = strip.sub("", html_report(store.read_sessions(db), DEFAULT_SETTINGS, "", "clinic"))
    assert from_store == from_file


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_charts_are_drawn_in_a_browser_without_any_network(report_html, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
    path = tmp_path / "report.html"
    path.write_text(report_html, encoding="utf-8")
    outside = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            errors = []
            page = offline_page(browser, outside, errors)
            page.goto(path.as_uri())
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= {len(CHARTS)}",
                timeout=60_000)
            for element, _ in CHARTS:
                assert page.locator(f"#{element}.js-plotly-plot svg.main-svg").count() >= 1, element
                # something is drawn: traces, not only axes
                assert page.locator(f"#{element} g.trace").count() > 0, element
            assert page.locator("td.suppressed").count() > 0
            assert errors == []
        finally:
            browser.close()
    assert outside == []


# ---- Excel -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def workbook(sessions) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(excel_report(sessions, DEFAULT_SETTINGS, "all", "sample")))


def cells(book: openpyxl.Workbook):
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            yield from row


def test_workbook_sheets(workbook):
    assert workbook.sheetnames == ["About", "KPIs", "Breakdowns", "By cycle", "Monthly", "Funnel", "Safety", "Flags"]
    header = [c.value for c in workbook["Flags"][1]]
    assert header[:2] == ["patient_id", "flag"]
    codes = [r[0].value for r in workbook["Flags"].iter_rows(min_row=2)]
    assert codes and all(str(c).startswith("zq-") for c in codes)  # the care team's review list
    about = {r[0].value: r[1].value for r in workbook["About"].iter_rows(min_row=2)}
    assert about["As of"] == "2026-09-30" and about["Setting: responder_threshold_pct"] == 30


def test_no_cell_can_run_as_a_formula(workbook):
    seen = set()
    for cell in cells(workbook):
        assert cell.data_type != "f", cell.coordinate
        if isinstance(cell.value, str):
            assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), (cell.parent.title, cell.value)
            seen.add(cell.value)
    assert "'" + FORMULAS[0] in seen and "'" + FORMULAS[2] in seen


def test_negative_numbers_stay_numbers(sessions):
    data = excel_report(sessions, DEFAULT_SETTINGS, start="2025-10-01", end="2026-09-30")
    sheet = openpyxl.load_workbook(io.BytesIO(data))["KPIs"]
    at = [c.value for c in sheet[1]].index("change")
    changes = [r[at].value for r in sheet.iter_rows(min_row=2)]
    assert all(v is None or isinstance(v, (int, float)) for v in changes)
    assert any(isinstance(v, (int, float)) and v < 0 for v in changes)


def test_workbook_suppresses_small_groups(workbook):
    sheet = workbook["Breakdowns"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in r])) for r in sheet.iter_rows(min_row=2)]
    tiny = next(r for r in rows if r["group_by"] == "site" and r["group"] == "Tiny <b>site</b>")
    assert tiny["patients"] == "suppressed" and tiny["responder_rate"] == "suppressed"
    assert tiny["suppression"] == "fewer than 5 patients"
    assert sum(r["group_by"] == "site" and r["suppressed"] for r in rows) == 2
    cycles = [dict(zip([c.value for c in workbook["By cycle"][1]], [c.value for c in r]))
              for r in workbook["By cycle"].iter_rows(min_row=2)]
    assert any(r["n_patients"] == "suppressed" for r in cycles)
    assert all(r["n_patients"] == "suppressed" or r["n_patients"] >= 5 for r in cycles)


def test_a_period_of_fewer_than_five_patients_is_suppressed_in_the_kpis(sessions):
    late = sessions["session_date"] >= "2024-01-01"
    early_three = sessions["patient_id"].isin(sorted(sessions.loc[~late, "patient_id"].unique())[:3])
    data = sessions.loc[late | (~late & early_three)]
    page = html_report(data, DEFAULT_SETTINGS, start="2024-01-01", end="2026-09-30")
    tiles = re.search(r'<section id="kpis">.*?</section>', page).group(0)
    assert tiles.count("against the period before: suppressed (fewer than 5 patients)") == 11  # ten tiles and Follow-up recorded (issue 13)
    sheet = openpyxl.load_workbook(io.BytesIO(excel_report(data, DEFAULT_SETTINGS, start="2024-01-01",
                                                           end="2026-09-30")))["KPIs"]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, [c.value for c in r])) for r in sheet.iter_rows(min_row=2)]
    assert all(r["previous"] == "suppressed" and r["change"] == "suppressed" for r in rows)
    assert all(r["value"] != "suppressed" for r in rows)
    # and a period that itself has fewer than 5 patients shows no figure at all
    per_day = sessions.groupby("session_date")["patient_id"].nunique()
    day = per_day.loc[per_day < 5].index[-1].date().isoformat()
    page = html_report(sessions, DEFAULT_SETTINGS, start=day, end=day)
    tiles = re.search(r'<section id="kpis">.*?</section>', page).group(0)
    assert tiles.count('<div class="value">suppressed</div>') == 11  # with Follow-up recorded (issue 13)


# ---- the command line ------------------------------------------------------------------------------------------
def test_report_command_from_a_file_and_from_the_store(tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(SAMPLE), "--out", str(out)]) == 0
    assert "Plotly.newPlot" in out.read_text()
    db = tmp_path / "outcomes.duckdb"
    assert main(["import", str(SAMPLE), "--db", str(db)]) == 0
    book_path = tmp_path / "r.xlsx"
    assert main(["report", "--db", str(db), "--out", str(book_path), "--as-of", "2025-06-30"]) == 0
    book = openpyxl.load_workbook(book_path)
    about = {r[0].value: r[1].value for r in book["About"].iter_rows(min_row=2)}
    assert about["As of"] == "2025-06-30" and about["Filters"] == "sessions up to 2025-06-30"
    forced = tmp_path / "r.out"
    assert main(["report", "--db", str(db), "--out", str(forced), "--format", "xlsx"]) == 0
    assert forced.read_bytes()[:2] == b"PK"
    assert "Wrote the XLSX report" in capsys.readouterr().out
    assert main(["report", "--db", str(db), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"out": str(out), "format": "html", "sessions": 3104,
                                                   "source": f"outcome store {db}"}


def test_report_command_refusals(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "r.html")]) == 2
    assert "--db" in capsys.readouterr().err
    refused = tmp_path / "ids.csv"
    refused.write_text("patient_id,session_date,product,total_units,baseline_pain,Email\n"
                       "P1,2025-01-01,Botox,100,7,a@b.org\n")
    assert main(["report", str(refused), "--out", str(tmp_path / "r.html")]) == 2
    assert "REFUSED" in capsys.readouterr().out and not (tmp_path / "r.html").exists()


def test_the_report_p_chart_keeps_its_24_baseline_months_for_a_short_period(tmp_path, capsys):
    # as the Overview does (issue 11): a 3-month selection still shows 24 months of p-chart, its period marked
    out = tmp_path / "short.xlsx"
    assert main(["report", str(SAMPLE), "--from", "2026-07-01", "--out", str(out)]) == 0
    capsys.readouterr()
    monthly = pd.read_excel(out, sheet_name="Monthly")
    months = pd.to_datetime(monthly["month"])
    assert (len(monthly), months.min(), months.max()) == (24, pd.Timestamp("2024-10-01"), pd.Timestamp("2026-09-01"))
    assert monthly["provisional"].tolist() == [False] * 22 + [True] * 2
    page = tmp_path / "short.html"
    assert main(["report", str(SAMPLE), "--from", "2026-07-01", "--out", str(page)]) == 0
    assert "Centre line and limits from 22 months (Oct 2024 to Jul 2026)" in page.read_text(encoding="utf-8")


def test_the_apps_filtered_frame_gives_the_same_report_figures_as_the_full_table():
    # review of issue 11: the app hands the report its slim filtered frame (analytics/first_page.py ANALYSIS_COLUMNS);
    # it lacked 4 derived columns and the baselines, so the report derived it again without its scores (responder
    # rate "-", an empty p-chart) and the Compare page's case mix had no severity bands
    from analytics.funnel import funnel
    from analytics.sessions import derive_sessions
    from reports.common import pchart_of
    from analytics.first_page import ANALYSIS_COLUMNS

    derived = derive_sessions(load_sessions(SAMPLE).data, DEFAULT_SETTINGS)
    slim = derived[[c for c in ANALYSIS_COLUMNS if c in derived.columns]]
    page = html_report(slim, DEFAULT_SETTINGS, "", "sample")
    assert page.count("86.9%") >= 1  # the responder rate of every session with a response
    chart, _ = pchart_of(slim, DEFAULT_SETTINGS, baseline=slim)
    assert len(chart) == 36
    full, cut = funnel(derived, "practitioner_id"), funnel(slim, "practitioner_id")
    pd.testing.assert_series_equal(full["groups"]["expected_rate"], cut["groups"]["expected_rate"])
