"""KPI tiles: period arithmetic, hand-worked values, previous period, flags, KM tile, empty periods."""
import math
from pathlib import Path

import pandas as pd
import pytest

from analytics.flags import flag_levels
from analytics.ingest import load_sessions
from analytics.kaplan_meier import KMMedian
from analytics.kpis import KPI_COLUMNS, kpi_tiles, period_bounds
from analytics.proportions import wilson_ci
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from analytics.summary import summarise
from tests.helpers import make_sessions

SAMPLE_SESSIONS = Path(__file__).resolve().parents[1] / "data" / "sample" / "sessions.csv"


def tile(table, kpi):
    return table.set_index("kpi").loc[kpi]


def fixed_km(median, low=None, high=None):
    """A stand-in for kaplan_meier.km_median that answers the same median whatever it is given."""
    return lambda times, events: KMMedian(median, low, high, len(times), int(events.sum()))


NO_KM = fixed_km(None)


def test_period_bounds_same_length_before():
    s = make_sessions([{"session_date": "2025-01-01"}])
    p = period_bounds(s, "2025-03-01", "2025-03-31")
    assert p.days == 31
    assert p.previous_end == pd.Timestamp("2025-02-28")
    assert p.previous_start == pd.Timestamp("2025-01-29")  # 31 days: Jan 29 .. Feb 28
    assert (p.previous_end - p.previous_start).days + 1 == 31


def test_period_defaults_to_data_and_as_of():
    s = make_sessions([{"session_date": "2025-01-10"}, {"session_date": "2025-02-09"}])
    p = period_bounds(s)
    assert p.start == pd.Timestamp("2025-01-10") and p.end == pd.Timestamp("2025-02-09")
    p = period_bounds(s, settings=Settings(as_of=pd.Timestamp("2025-03-01").date()))
    assert p.end == pd.Timestamp("2025-03-01")
    with pytest.raises(ValueError):
        period_bounds(s, "2025-02-01", "2025-01-01")


@pytest.fixture
def two_periods():
    # Previous period (Jan 1-10): 2 patients, 2 sessions. Current (Jan 11-20): 3 patients, 4 sessions.
    rows = [
        {"patient_id": "a", "session_date": "2025-01-02", "baseline_pain": 10, "followup_pain": 9,
         "adverse_events": "none"},
        {"patient_id": "b", "session_date": "2025-01-05", "baseline_pain": 10, "followup_pain": 5,
         "adverse_events": "headache", "onset_days": 2, "duration_days": 60, "duration_event": True},
        {"patient_id": "a", "session_date": "2025-01-11", "baseline_pain": 8, "followup_pain": 4,  # 50%
         "onset_days": 3, "peak_days": 14, "interval_days": 9, "adverse_events": "none",
         "duration_days": 100, "duration_event": True},
        {"patient_id": "b", "session_date": "2025-01-15", "baseline_pain": 10, "followup_pain": 8,  # 20%
         "onset_days": 5, "peak_days": 20, "interval_days": 10, "adverse_events": "dysphagia;headache"},
        {"patient_id": "c", "session_date": "2025-01-18", "baseline_pain": 10, "followup_pain": 6,  # 40%
         "onset_days": 7, "interval_days": 120, "duration_days": 80, "duration_event": False},
        {"patient_id": "c", "session_date": "2025-01-20 15:30", "baseline_pain": 0, "followup_pain": 0,
         "adverse_events": "none", "interval_days": 2},  # no response (baseline 0); end day counts
        {"patient_id": "d", "session_date": "2025-01-21"},  # after the period
    ]
    return make_sessions(rows)


def test_hand_worked_tiles(two_periods):
    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20", km_median=fixed_km(80.0, 60.0, None))
    assert list(t.columns) == KPI_COLUMNS
    assert t.attrs["period"]["previous_start"] == "2025-01-01"
    assert t.attrs["period"]["previous_end"] == "2025-01-10"

    assert tile(t, "patients")[["value", "previous", "change"]].tolist() == [3, 2, 1]
    assert tile(t, "sessions")[["value", "previous", "change"]].tolist() == [4, 2, 2]

    rr = tile(t, "responder_rate")  # responders 50% and 40% of 3 with a response
    lo, hi = wilson_ci(2, 3)
    assert rr["value"] == pytest.approx(2 / 3) and rr["n"] == 3
    assert rr["ci_low"] == pytest.approx(lo) and rr["ci_high"] == pytest.approx(hi)
    assert rr["previous"] == pytest.approx(0.5) and rr["previous_n"] == 2
    assert rr["change"] == pytest.approx(2 / 3 - 0.5)
    assert rr["unit"] == "proportion"

    assert tile(t, "median_response_pct")["value"] == pytest.approx(40.0)  # of 50, 20, 40
    assert tile(t, "median_response_pct")["previous"] == pytest.approx(30.0)  # mean of 10 and 50
    assert tile(t, "median_onset_days")["value"] == 5.0
    assert tile(t, "median_peak_days")["value"] == 17.0  # mean of the two middle values 14, 20
    assert tile(t, "median_peak_days")["n"] == 2
    assert math.isnan(tile(t, "median_peak_days")["previous"])

    km = tile(t, "median_duration_days")
    assert km["value"] == 80.0 and km["ci_low"] == 60.0 and math.isnan(km["ci_high"]) and km["n"] == 2

    si = tile(t, "short_interval_share")  # intervals 9, 10, 120, 2 -> 3 short of 4
    assert si["value"] == pytest.approx(0.75) and si["n"] == 4
    assert si["previous_n"] == 0 and math.isnan(si["previous"])

    ae = tile(t, "adverse_event_rate")  # recorded on 3 sessions (one is NA), 1 with an event
    assert ae["value"] == pytest.approx(1 / 3) and ae["n"] == 3
    assert ae["previous"] == pytest.approx(0.5)

    assert math.isnan(tile(t, "patients_flagged")["value"])


def test_km_tile_passes_responder_durations_only(two_periods):
    seen = []

    def fake_km(times, events):
        seen.append((times.tolist(), events.tolist()))
        # answers by what it is given, so the tile shows which period's durations reached it
        return KMMedian(100.0 if len(times) == 2 else 55.0, 80.0, None, len(times), int(events.sum()))

    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20", km_median=fake_km)
    # the current period's responders (a 50% and c 40%) and the previous one's (b 50%), each period once; the two
    # periods are worked out at the same time (issue 12), so in either order
    assert sorted(seen) == sorted([([100.0, 80.0], [True, False]), ([60.0], [True])])
    km = tile(t, "median_duration_days")
    assert km["value"] == 100.0 and km["ci_low"] == 80.0 and math.isnan(km["ci_high"])
    assert km["previous"] == 55.0  # from the previous period's one duration


def test_km_tile_default_is_the_real_km_median(two_periods):
    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20")
    km = tile(t, "median_duration_days")
    # durations 100 (event) and 80 (censored): S drops to 0 at 100 -> KM median 100 days
    assert km["value"] == pytest.approx(100.0)


def test_flags_table_int_and_callable(two_periods):
    flags = pd.DataFrame({"patient_id": ["a", "c", "z"], "flag": ["diminished", "watch", "diminished"]})
    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20", flags=flags, km_median=NO_KM)
    f = tile(t, "patients_flagged")
    assert f["value"] == 2 and math.isnan(f["previous"])  # z not seen in the period

    blank = flags.assign(flag=["diminished", None, "watch"])
    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20", flags=blank, km_median=NO_KM)
    assert tile(t, "patients_flagged")["value"] == 1

    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20", flags=7, km_median=NO_KM)
    assert tile(t, "patients_flagged")["value"] == 7

    calls = []

    def flagger(history):
        calls.append(history["session_date"].max())
        return pd.DataFrame({"patient_id": sorted(history["patient_id"].unique())[:1]})

    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20", flags=flagger, km_median=NO_KM)
    f = tile(t, "patients_flagged")
    assert f["value"] == 1 and f["previous"] == 1 and f["change"] == 0
    # each period's history, up to its own end (worked out at the same time, issue 12: in either order)
    before, now = sorted(calls)
    assert len(calls) == 2 and before <= pd.Timestamp("2025-01-10") < now <= pd.Timestamp("2025-01-20 23:59")


def test_empty_period_gives_zero_counts_and_missing_rates(two_periods):
    t = kpi_tiles(two_periods, start="2026-01-01", end="2026-01-31", km_median=fixed_km(1.0))
    assert tile(t, "patients")["value"] == 0 and tile(t, "sessions")["value"] == 0
    assert math.isnan(tile(t, "responder_rate")["value"]) and tile(t, "responder_rate")["n"] == 0
    assert math.isnan(tile(t, "median_duration_days")["value"])


def test_empty_table():
    empty = make_sessions([{"session_date": "2025-01-01"}]).iloc[:0]
    t = kpi_tiles(empty, start="2025-01-01", end="2025-01-31")
    assert len(t) == 11 and (t.loc[t["kpi"].isin(["patients", "sessions"]), "value"] == 0).all()


def test_tiles_over_the_whole_data_match_the_command_line_summary():
    # One computation of each headline figure (analytics.headline): tiles over every session = the summary.
    sessions = load_sessions(SAMPLE_SESSIONS).data
    derived = derive_sessions(sessions)
    summary = summarise(sessions)
    t = kpi_tiles(derived, flags=flag_levels(derived)).set_index("kpi")
    assert t.loc["sessions", "value"] == summary["sessions"] and t.loc["patients", "value"] == summary["patients"]
    assert t.loc["responder_rate", "value"] == summary["responder_rate"]
    assert [t.loc["responder_rate", "ci_low"], t.loc["responder_rate", "ci_high"]] == summary["responder_rate_ci"]
    assert t.loc["responder_rate", "n"] == summary["sessions_with_response"]
    for kpi in ("median_response_pct", "median_onset_days", "median_peak_days", "median_duration_days",
                "short_interval_share"):
        assert t.loc[kpi, "value"] == summary[kpi], kpi
    duration = t.loc["median_duration_days"]
    assert [duration["ci_low"], duration["ci_high"]] == summary["median_duration_ci"]
    assert duration["n"] == summary["duration_sessions"]
    assert t.loc["short_interval_share", "n"] == summary["intervals"]
    assert t.loc["patients_flagged", "value"] == len(summary["diminished_patients"]) + len(summary["watch_patients"])


def test_a_previous_period_before_the_first_session_has_nothing_to_compare(two_periods):
    """'All data' (or a period starting at the first session): the previous period lies before the records begin,
    so no previous figure and no change, never '+7 sessions' against a time with no data at all."""
    t = kpi_tiles(two_periods, start="2025-01-02", end="2025-01-21")
    assert t["previous"].isna().all() and t["change"].isna().all() and (t["previous_n"] == 0).all()
    assert t["clear_change"].isna().all()
    assert tile(t, "sessions")["value"] == 7
    # a previous period that reaches into the data keeps its figure, even a partial one
    t = kpi_tiles(two_periods, start="2025-01-11", end="2025-01-20")
    assert tile(t, "sessions")["previous"] == 2 and tile(t, "sessions")["change"] == 2  # 4 now


def test_the_tiles_are_the_same_without_the_text_columns_no_tile_reads(monkeypatch):
    # issue 12: a period's rows leave out the group and free-text columns (copying 1.3M strings was most of the
    # tiles' time); every tile, interval and count must come out exactly as from every column
    from analytics import kpis as kpis_module
    from analytics.flags import flag_patients

    data = load_sessions(Path(__file__).resolve().parent.parent / "data" / "sample" / "sessions.csv").data
    derived = derive_sessions(data, Settings())
    flags = flag_patients(derived, Settings())
    for start, end in ((None, None), (pd.Timestamp("2026-04-01"), pd.Timestamp("2026-09-30")),
                       (pd.Timestamp("2023-10-01"), pd.Timestamp("2026-09-30"))):
        narrow = kpi_tiles(derived, Settings(), start, end, flags)
        monkeypatch.setattr(kpis_module, "NOT_READ", ())
        wide = kpi_tiles(derived, Settings(), start, end, flags)
        monkeypatch.undo()
        pd.testing.assert_frame_equal(narrow, wide)
        assert narrow.attrs == wide.attrs
    assert tile(narrow, "patients_flagged")["value"] > 0


def test_tiles_computed_by_many_callers_at_once_equal_those_computed_alone():
    """kpi_tiles works the previous period out in a thread of a pool every caller shares (issue 12: two cores for a
    filter change on 10M sessions). Eight server sessions asking at once, each for its own period, get exactly the
    tiles they get alone, their follow-up counts included."""
    from concurrent.futures import ThreadPoolExecutor

    from analytics.flags import flag_patients

    data = load_sessions(SAMPLE_SESSIONS).data
    derived = derive_sessions(data, Settings())
    flags = flag_patients(derived, Settings())
    periods = [(None, None), ("2026-04-01", "2026-09-30"), ("2025-01-01", "2025-12-31"), ("2024-06-01", "2024-06-30"),
               ("2026-01-01", "2026-03-31"), ("2023-10-01", "2026-09-30"), ("2025-07-01", "2025-07-01"),
               ("2030-01-01", "2030-12-31")]
    alone = [kpi_tiles(derived, Settings(), start, end, flags) for start, end in periods]
    with ThreadPoolExecutor(max_workers=8) as callers:
        at_once = list(callers.map(lambda p: kpi_tiles(derived, Settings(), p[0], p[1], flags), periods))
    for one, other in zip(alone, at_once):
        pd.testing.assert_frame_equal(one, other)
        assert one.attrs == other.attrs
    assert tile(alone[1], "sessions")["previous_n"] > 0  # a previous period with sessions was worked out
