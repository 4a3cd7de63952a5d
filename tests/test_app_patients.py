"""The Patients page in AppTest: the watchlist, one patient's timeline, and the sidebar filters."""
from __future__ import annotations

import pandas as pd

from tests.app_support import ROOT, app, metric, no_errors, plotly_charts, texts

PAGE = "views/patients.py"


def test_watchlist_renders_clearest_first_with_evidence():
    at = app(PAGE)
    no_errors(at)
    assert at.title[0].value == "Patients to review"
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["patient", "flag", "measure"]
    assert {"reference", "latest / reference"} <= set(table.columns)  # the flag's rule: the mean of the two best
    assert "mean of their two best earlier responses" in texts(at)
    assert len(table) == int(metric(at, "Diminished")) + int(metric(at, "Watch"))
    flags = table["flag"].tolist()
    assert flags == sorted(flags, key=lambda f: f != "diminished")  # diminished first
    assert table["evidence"].str.contains("A prompt to review").all()
    assert table["patient"].str.fullmatch(r"P\d{5}").all()  # codes only


def test_flagged_patients_include_the_generated_faders():
    at = app(PAGE)
    at.selectbox(key="period").select("All data").run()
    faded = set(pd.read_csv(ROOT / "data" / "sample" / "faded_patients.csv")["patient_id"])
    flagged = set(at.dataframe[0].value["patient"])
    assert len(flagged & faded) >= len(faded) // 2


def test_choosing_a_patient_shows_their_timeline():
    at = app(PAGE)
    choice = at.selectbox(key="patient_choice")
    assert plotly_charts(at), "the first patient's timeline is drawn"
    code = choice.options[1].split(" ")[0]
    choice.set_value(code).run()
    no_errors(at)
    assert f"**{code}**" in texts(at)
    sessions = at.dataframe[-1].value
    assert set(sessions["patient_id"]) == {code}
    assert plotly_charts(at)


def test_typing_an_unknown_code_says_so():
    at = app(PAGE)
    at.text_input(key="patient_code").input("NOPE").run()
    no_errors(at)
    assert "No sessions for patient code 'NOPE'" in texts(at)


def test_a_filter_changes_the_watchlist():
    at = app(PAGE)
    seen = metric(at, "Patients seen")
    at.multiselect(key="filter_site").select("South").run()
    no_errors(at)
    assert metric(at, "Patients seen") != seen
