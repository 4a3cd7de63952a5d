"""The messy sample exports load with exactly the problems they were built with."""
import json
from pathlib import Path

import pytest

from analytics.ingest import load_sessions

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
EXPECTED = json.loads((SAMPLE / "messy_export_expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=["messy_export.csv", "messy_export.xlsx"])
def messy(request):
    name = request.param
    return name, EXPECTED[name], load_sessions(SAMPLE / name, drop_identifiers=True)


@pytest.mark.parametrize("name", ["messy_export.csv", "messy_export.xlsx"])
def test_identifier_column_is_refused_until_dropped(name):
    result = load_sessions(SAMPLE / name)
    assert result.refused and result.exit_code == 2
    assert [f.column for f in result.identifier_findings] == EXPECTED[name]["identifier_columns"]
    assert "'NHS Number': the header looks like an NHS number" in result.file_errors[0]


def test_rejected_lines_are_exactly_the_built_ones(messy):
    name, expected, result = messy
    assert not result.refused
    assert result.n_rows == expected["rows"]
    assert result.n_accepted == expected["accepted"]
    assert sorted(result.rejected["line"].unique()) == sorted({r["line"] for r in expected["rejected"]})
    assert result.n_accepted + result.n_rejected_rows == result.n_rows


def test_each_rejected_cell_names_the_column_and_value(messy):
    name, expected, result = messy
    found = {(r.line, r.column, r.value) for r in result.rejected.itertuples()}
    for problem in expected["rejected"]:
        if problem["column"] in ("Visit ID", None):
            continue  # conflicts and duplicates are row problems, checked below
        assert (problem["line"], problem["column"], problem["value"]) in found, problem


def test_duplicates_and_conflicts(messy):
    name, expected, result = messy
    assert [[r.duplicate_of, r.line] for r in result.duplicates.itertuples()] == expected["duplicate_lines"]
    assert sorted(result.conflicts["line"]) == sorted(expected["conflict_lines"])
    assert set(result.conflicts["key"]) == {"patient P00113 on 2024-03-27"}  # session S000438: a session is its patient + date


def test_messy_details_are_understood(messy):
    name, expected, result = messy
    assert result.date_order == "dayfirst"
    assert "NHS Number" not in result.data.columns
    assert result.extra_columns == ["Referral source"]
    assert set(result.data["product"]) <= {"onabotulinumtoxinA", "abobotulinumtoxinA", "incobotulinumtoxinA",
                                           "rimabotulinumtoxinB"}
    assert (result.data["total_units"] % 2.5 == 0).all()
    if name.endswith(".csv"):
        assert result.file_format == {"format": "csv", "encoding": "utf-8-sig", "separator": ";"}


def test_clean_samples_load_without_problems():
    sessions = load_sessions(SAMPLE / "sessions.csv")
    assert sessions.exit_code == 0 and len(sessions.warnings) == 0
    assert sessions.n_accepted == sessions.n_rows == 3104
