"""charts.patient: one patient's response, dose, interval and duration panels on one date axis."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.flags import flag_patients
from analytics.schema import SESSION_DTYPES
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from charts import theme
from charts.patient import muscle_list, patient_timeline_figure

S = Settings()
ROWS = [
    # date, product, units, muscles, baseline, follow-up, wearing-off
    ("2024-01-01", "onabotulinumtoxinA", 200.0, "sternocleidomastoid:100;trapezius:100", 8, 2, 90),
    ("2024-04-15", "onabotulinumtoxinA", 200.0, "sternocleidomastoid:100;trapezius:100", 8, 4, None),
    ("2024-05-05", "onabotulinumtoxinA", 240.0, "sternocleidomastoid:120;scalenes:120", 8, 6, None),  # booster
    ("2024-07-20", "abobotulinumtoxinA", 500.0, "sternocleidomastoid:250;scalenes:250", 8, None, None),  # switch
    ("2024-10-20", "abobotulinumtoxinA", 500.0, "sternocleidomastoid:250;scalenes:250", 8, 7, None),
]


def patient(settings: Settings = S) -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["session_date", "product", "total_units", "muscles", "baseline_pain",
                                        "followup_pain", "wearing_off_days"])
    frame.insert(0, "patient_id", "P1")
    for column in frame.columns:
        frame[column] = frame[column].astype(SESSION_DTYPES[column])
    return derive_sessions(frame, settings)


def trace(fig, name):
    found = [t for t in fig.data if t.name == name]
    assert found, f"no trace {name!r} in {[t.name for t in fig.data]}"
    return found[0]


def dates(values):
    return [pd.Timestamp(v) for v in values]


def test_response_panel_points_threshold_and_best():
    derived = patient()
    flag = flag_patients(derived, S).iloc[0]  # diminished: the last two (25%, 12.5%) against 62.5%
    fig = patient_timeline_figure(derived, S, flag)
    responders = trace(fig, "Responder session")
    below = trace(fig, "Below the responder threshold")
    assert dates(responders.x) == dates(["2024-01-01", "2024-04-15"]) and list(responders.y) == [75.0, 50.0]
    assert dates(below.x) == dates(["2024-05-05", "2024-10-20"]) and list(below.y) == [25.0, 12.5]
    no_score = trace(fig, "No follow-up pain score")
    assert dates(no_score.x) == dates(["2024-07-20"]) and "not counted as a failure" in no_score.hovertext[0]
    # the hover shows the raw pain scores beside the response (issue 13)
    assert responders.hovertext[0].endswith("Pain 8 \u2192 2: response 75%")
    assert below.hovertext[1].endswith("Pain 8 \u2192 7: response 12.5%")
    lines = theme.reference_lines(fig)
    assert ("h", 30.0, "30% responder threshold") in lines
    # the diminished flag's reference: the mean of the two best responses before the last 2 (75 and 50)
    assert ("h", 62.5, "reference 62.5% (mean of the two best before the last 2)") in lines
    assert ("h", 31.25, "50% of the reference (31.2%)") in lines
    assert fig.layout.yaxis.title.text == "Pain reduction (%)"


def test_dose_panel_by_product_with_switch_and_muscle_change():
    fig = patient_timeline_figure(patient(), S)
    # products in words: brand and generic name (analytics.labels)
    ona, abo = trace(fig, "Dose: Botox (onabotulinumtoxinA)"), trace(fig, "Dose: Dysport (abobotulinumtoxinA)")
    assert list(ona.y) == [200.0, 200.0, 240.0] and list(abo.y) == [500.0, 500.0]
    assert "Sternocleidomastoid 100 U<br>  Trapezius 100 U" in ona.hovertext[0]
    assert "Total dose 200 U<br>" in ona.hovertext[0]  # a whole number without ".0"
    switch = [line for line in theme.reference_lines(fig) if line[2].startswith("product switch")]
    assert switch == [("v", pd.Timestamp("2024-07-20"), "product switch: Botox to Dysport")]
    # the switch line runs through all four panels
    assert sum(1 for s in fig.layout.shapes if s.x0 == pd.Timestamp("2024-07-20")) == 4
    muscles = trace(fig, "Muscles changed")
    assert dates(muscles.x) == dates(["2024-05-05"])
    assert "added Scalenes; dropped Trapezius" in muscles.hovertext[0]
    assert "units differ by product" in fig.layout.annotations[1].text


def test_interval_panel_lines_and_boosters():
    fig = patient_timeline_figure(patient(), S)
    booster = trace(fig, "Booster (< 28 days)")
    assert dates(booster.x) == dates(["2024-05-05"]) and list(booster.y) == [20.0]
    short = trace(fig, "Short interval (< 84 days)")
    assert dates(short.x) == dates(["2024-07-20"]) and list(short.y) == [76.0]
    lines = theme.reference_lines(fig)
    assert ("h", 84, "12 weeks (84 days)") in lines and ("h", 28, "booster: 28 days") in lines


def test_duration_panel_tells_recorded_from_censored():
    derived = patient()
    fig = patient_timeline_figure(derived, S)
    recorded = trace(fig, "Benefit wore off (recorded)")
    censored = trace(fig, "Still benefiting at the next injection or as-of date (at least)")
    assert dates(recorded.x) == dates(["2024-01-01"]) and list(recorded.y) == [90.0]
    assert dates(censored.x) == dates(["2024-04-15"]) and list(censored.y) == [20.0]  # re-injected on day 20
    assert censored.marker.symbol == "triangle-up-open" and recorded.marker.symbol == "circle"


def test_settings_move_the_lines():
    settings = Settings(responder_threshold_pct=60, short_interval_days=90, booster_days=21)
    fig = patient_timeline_figure(patient(settings), settings)
    lines = theme.reference_lines(fig)
    assert ("h", 60.0, "60% responder threshold") in lines and ("h", 90, "90 days") in lines
    assert ("h", 21, "booster: 21 days") in lines
    assert list(trace(fig, "Responder session").y) == [75.0]  # the derived responder flag
    assert list(trace(fig, "Below the responder threshold").y) == [50.0, 25.0, 12.5]
    assert "≥ 60% pain reduction" in fig.layout.title.subtitle.text


def test_muscle_list_and_empty():
    assert muscle_list("Sternocleidomastoid:100;trapezius") == [("sternocleidomastoid", "100"), ("trapezius", "")]
    assert muscle_list(None) == [] and muscle_list(np.nan) == []
    assert theme.is_empty_figure(patient_timeline_figure(patient().iloc[0:0], S))


def test_a_patient_scored_only_with_twstrs_gets_the_twstrs_drop():
    frame = pd.DataFrame({
        "patient_id": ["T1"] * 3, "session_date": ["2024-01-01", "2024-04-01", "2024-07-01"],
        "baseline_twstrs": [40.0, 40.0, 40.0], "followup_twstrs": [28.0, 35.0, None],
    })
    for column in frame.columns:
        frame[column] = frame[column].astype(SESSION_DTYPES[column])
    fig = patient_timeline_figure(derive_sessions(frame, S), S)
    assert list(trace(fig, "Responder session").y) == [12.0]
    assert trace(fig, "Responder session").hovertext[0].endswith("TWSTRS 40 \u2192 28: change \u221212 points")
    assert list(trace(fig, "Below the responder threshold").y) == [5.0]
    assert ("h", 8.0, "8 points responder threshold") in theme.reference_lines(fig)
    assert fig.layout.yaxis.title.text == "TWSTRS drop (points)"
    assert fig.layout.annotations[0].text.startswith("<b>TWSTRS drop per session")
    assert "not counted as a failure" in trace(fig, "No follow-up pain score").hovertext[0]


def test_the_reference_line_is_the_flags_own_and_absent_without_a_flag():
    # review of issue 11: the chart had its own "two best before the last 2", which for a watch patient (or one
    # with 2 responses) put the poor latest response into its own reference
    def responses(follow_ups):
        frame = pd.DataFrame({"patient_id": "P2", "session_date": pd.date_range("2024-01-01", periods=len(follow_ups),
                                                                                freq="120D"),
                              "baseline_pain": 10, "followup_pain": follow_ups})
        for column in frame.columns:
            frame[column] = frame[column].astype(SESSION_DTYPES[column])
        return derive_sessions(frame, S)

    watch = responses([2, 8, 3, 9])  # responses 80, 20, 70, 10
    flag = flag_patients(watch, S).iloc[0]
    assert (flag["flag"], flag["reference_response"]) == ("watch", 75.0)  # mean of 80 and 70, before the latest
    lines = theme.reference_lines(patient_timeline_figure(watch, S, flag))
    assert ("h", 75.0, "reference 75% (mean of the two best before the latest)") in lines
    assert ("h", 37.5, "50% of the reference (37.5%)") in lines
    unflagged = theme.reference_lines(patient_timeline_figure(responses([2, 3, 2]), S))
    assert [text for _, _, text in unflagged if "reference" in text] == []
