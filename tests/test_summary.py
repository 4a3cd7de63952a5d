"""The command-line summary: the docs/metrics.md keys, values worked by hand, JSON-ready, as-of and empty input."""
from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from analytics.kaplan_meier import km_median
from analytics.settings import Settings
from analytics.summary import REQUIRED_KEYS, summarise
from tests.helpers import session_table

S = Settings()


def table(rows: list[dict]) -> pd.DataFrame:
    return session_table(rows)


def row(pid, day, base=10, follow=None, **extra):
    out = {"patient_id": pid, "session_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=day),
           "baseline_pain": base, "followup_pain": follow}
    out.update(extra)
    return out


def fixture():
    return table([
        # patient a: 70, 60, 20, 10 -> diminished; intervals 100, 100, 50 (one short)
        row("a", 0, follow=3, onset_days=2, peak_days=10, wearing_off_days=90),
        row("a", 100, follow=4, onset_days=4, peak_days=14, wearing_off_days=80),
        row("a", 200, follow=8),
        row("a", 250, follow=9),
        # patient b: 60 then 20 -> watch; interval 20 (short and a booster)
        row("b", 230, follow=4, onset_days=3, peak_days=20),
        row("b", 250, follow=8),
        # patient c: no follow-up
        row("c", 240, follow=None),
    ])


def test_has_every_metrics_md_key_and_is_json_serialisable():
    out = summarise(fixture(), S, rejected_rows=3)
    assert set(REQUIRED_KEYS) <= set(out)
    assert json.loads(json.dumps(out)) == out


def test_values_by_hand():
    out = summarise(fixture(), S, rejected_rows=3)
    assert out["as_of"] == "2024-09-07"  # day 250
    assert (out["sessions"], out["patients"], out["rejected_rows"]) == (7, 3, 3)
    assert out["responder_threshold_pct"] == 30.0
    # responses: a 70, 60, 20, 10; b 60, 20 -> 6 with a response, 3 responders
    assert out["sessions_with_response"] == 6 and out["responders"] == 3
    assert out["responder_rate"] == 0.5
    assert out["responder_rate_ci"] == pytest.approx(list(proportion_confint(3, 6, method="wilson")))
    assert out["median_response_pct"] == 40.0  # mean of the two middle values 20 and 60
    assert out["median_onset_days"] == 3.0
    assert out["median_peak_days"] == 14.0
    # responder durations: a 90 (event), a 80 (event), b censored at its next session, 20 days later
    expected = km_median([90, 80, 20], [True, True, False])
    assert out["median_duration_days"] == expected.median == 80.0  # b leaves at 20; S(80) = 1/2
    assert out["median_duration_ci"] == [expected.ci_low, expected.ci_high]
    # intervals: a 100, 100, 50; b 20 -> 2 short of 4, 1 booster
    assert out["intervals"] == 4 and out["short_intervals"] == 2 and out["boosters"] == 1
    assert out["short_interval_share"] == 0.5 and out["booster_share"] == 0.25
    assert out["diminished_patients"] == ["a"]
    assert out["watch_patients"] == ["b"]
    assert out["sessions_after_as_of"] == 0
    assert out["settings"]["responder_threshold_pct"] == 30.0


def test_as_of_leaves_out_later_sessions_and_says_how_many():
    out = summarise(fixture(), Settings(as_of=date(2024, 8, 1)))  # day 213
    assert out["as_of"] == "2024-08-01"
    assert out["sessions"] == 3 and out["patients"] == 1 and out["sessions_after_as_of"] == 4
    assert out["diminished_patients"] == []


def test_settings_change_the_figures():
    out = summarise(fixture(), Settings(responder_threshold_pct=65.0, short_interval_days=60))
    assert out["responder_threshold_pct"] == 65.0
    assert out["responder_rate"] == pytest.approx(1 / 6)
    assert out["short_interval_share"] == 0.5  # 50 and 20 are below 60


def test_nulls_when_there_is_nothing_to_summarise():
    only_required = table([row("a", 0)])[["patient_id", "session_date", "product", "total_units"]]
    out = summarise(only_required, S)
    for key in ("responder_rate", "median_response_pct", "median_onset_days", "median_peak_days",
                "median_duration_days", "short_interval_share"):
        assert out[key] is None, key
    assert out["sessions"] == 1 and out["sessions_with_response"] == 0 and out["diminished_patients"] == []
    json.dumps(out)


def test_empty_table():
    out = summarise(table([row("a", 0)]).iloc[0:0], S)
    assert out["as_of"] is None and out["sessions"] == 0 and out["patients"] == 0
    assert set(REQUIRED_KEYS) <= set(out)
    json.dumps(out)
