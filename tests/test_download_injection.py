"""Downloads are inert (issue 9, item 6): names from the data that look like formulas are text in the Excel report
and in every CSV the pages offer; numbers stay numbers; a stray control character does not break the workbook."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from analytics.breakdowns import breakdown
from analytics.export import to_csv_bytes
from analytics.funnel import funnel
from analytics.ingest import load_sessions
from analytics.presentation import display_table, groups_shown, kpi_table, kpi_tiles_shown
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS
from reports import excel_report

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "sessions.csv"
HYPERLINK = '=HYPERLINK("http://evil","x")'
NAMES = {"North": HYPERLINK, "Central": "@SUM(1+1)", "South": "\tSouth"}
PRACTITIONERS = {"PR01": "+cmd|' /C calc'!A0", "PR02": "-2+3", "PR03": "\rPR03", "PR04": "PR\x0104\x0b"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    data = load_sessions(SAMPLE).data.drop(columns="line")
    data["site"] = data["site"].replace(NAMES)
    data["practitioner_id"] = data["practitioner_id"].replace(PRACTITIONERS)
    return data


@pytest.fixture(scope="module")
def book(sessions) -> openpyxl.Workbook:
    data = excel_report(sessions, DEFAULT_SETTINGS, filters_description="=1+1", source_name="@upload",
                        start="2025-10-01", end="2026-09-30")
    return openpyxl.load_workbook(io.BytesIO(data))


def test_the_workbook_holds_formula_like_names_as_quoted_text(book):
    texts = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_STARTS), (sheet.title, cell.coordinate)
                    texts.add(cell.value)
    for name in (HYPERLINK, "@SUM(1+1)", "\tSouth", "+cmd|' /C calc'!A0", "-2+3"):
        assert "'" + name in texts, name
    assert "'\nPR03" in texts  # '\rPR03': XML reads a lone CR back as LF
    about = {r[0].value: r[1].value for r in book["About"].iter_rows(min_row=2)}
    assert about["Source"] == "'@upload" and about["Filters"] == "'=1+1"


def test_a_control_character_in_a_name_is_dropped_not_fatal(book):
    groups = {c.value for c in book["Funnel"]["B"]} | {c.value for c in book["Breakdowns"]["B"]}
    assert "PR04" in groups  # written without the \x01 and \x0b that openpyxl refuses


def test_numbers_stay_numbers_in_the_workbook(book):
    sheet = book["KPIs"]
    header = [c.value for c in sheet[1]]
    change = [r[header.index("change")].value for r in sheet.iter_rows(min_row=2)]
    assert any(isinstance(v, (int, float)) and v < 0 for v in change)
    assert all(v is None or isinstance(v, (int, float)) for v in change)


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_pages_csv_downloads_quote_formula_like_names(sessions):
    derived = derive_sessions(sessions, DEFAULT_SETTINGS)
    tables = {  # what the Compare page offers for download (views/compare.py)
        "breakdown": display_table(groups_shown(breakdown(derived, "site", DEFAULT_SETTINGS), DEFAULT_SETTINGS),
                                   ["group_by", "group"]),
        "funnel": display_table(groups_shown(funnel(derived, "practitioner_id")["groups"], DEFAULT_SETTINGS),
                                ["group_by", "group"]),
    }
    seen = set()
    for name, table in tables.items():
        rows = read_csv(to_csv_bytes(table))
        at = rows[0].index("group")
        assert {len(row) for row in rows} == {len(rows[0])}, name  # a CR in a name does not end the row
        for row in rows[1:]:
            assert not row[at].startswith(FORMULA_STARTS), (name, row[at])
            seen.add(row[at])
    assert {"'" + HYPERLINK, "'@SUM(1+1)", "'\tSouth", "'+cmd|' /C calc'!A0", "'-2+3", "'\rPR03"} <= seen


def test_negative_numbers_in_a_csv_stay_numbers():
    tiles = kpi_tiles_shown(derive_sessions(load_sessions(SAMPLE).data, DEFAULT_SETTINGS), DEFAULT_SETTINGS,
                            "2025-10-01", "2026-09-30")
    rows = read_csv(to_csv_bytes(kpi_table(tiles)))
    at = rows[0].index("change")
    changes = [r[at] for r in rows[1:] if r[at]]
    assert any(c.startswith("-") for c in changes)
    assert all(float(c) == float(c) for c in changes)  # written as numbers, no quote
