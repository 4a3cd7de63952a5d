"""Kaplan-Meier as of a date (issue 11): a wearing-off after the as-of date is not yet an ending.

On the as-of date a benefit that wore off later was still running, so it is censored at the as-of date (or at the
next session before it); sessions after the as-of date are not seen; an as-of date after the data is refused
by the command line and clamped by the app.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from analytics.cli import main
from analytics.ingest import load_sessions
from analytics.kaplan_meier import km_curve, km_median
from analytics.kpis import kpi_tiles
from analytics.sessions import as_of_after_data, derive_sessions
from analytics.settings import DEFAULT_SETTINGS

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "sessions.csv"


def sessions(rows) -> pd.DataFrame:
    """(patient, date, baseline pain, follow-up pain, wearing_off_days) rows as a session table."""
    frame = pd.DataFrame(rows, columns=["patient_id", "session_date", "baseline_pain", "followup_pain",
                                        "wearing_off_days"])
    frame["session_date"] = pd.to_datetime(frame["session_date"])
    for column in ("baseline_pain", "followup_pain", "wearing_off_days"):
        frame[column] = frame[column].astype("Float64")
    return frame


def as_of(day: str):
    return DEFAULT_SETTINGS.with_changes(as_of=dt.date.fromisoformat(day))


HAND = sessions([
    # A: responder on 1 Jan; wore off after 100 days (11 Apr). Next session 1 May.
    ("A", "2025-01-01", 8, 2, 100), ("A", "2025-05-01", 8, 3, 90),
    # B: responder on 1 Feb, wore off after 40 days (13 Mar).
    ("B", "2025-02-01", 6, 1, 40),
    # C: responder on 1 Mar, no wearing-off recorded, no next session.
    ("C", "2025-03-01", 7, 2, None),
])


def test_a_wearing_off_after_the_as_of_date_is_censored_there():
    derived = derive_sessions(HAND, as_of("2025-04-01")).set_index("patient_id")
    # A (1 Jan): wore off on day 100 = 11 Apr, after 1 Apr: still running on 1 Apr -> censored at day 90.
    assert (derived.loc["A", "duration_days"], derived.loc["A", "duration_event"]) == (90.0, False)
    # B (1 Feb): wore off on 13 Mar, before 1 Apr: an ending on day 40.
    assert (derived.loc["B", "duration_days"], derived.loc["B", "duration_event"]) == (40.0, True)
    # C (1 Mar): nothing recorded: censored at the as-of date, day 31.
    assert (derived.loc["C", "duration_days"], derived.loc["C", "duration_event"]) == (31.0, False)
    # A's May session is after the as-of date: not seen at all.
    assert len(derived) == 3


def test_a_wearing_off_on_the_as_of_date_is_an_ending():
    derived = derive_sessions(HAND, as_of("2025-04-11")).set_index("patient_id")
    assert (derived.loc["A", "duration_days"], derived.loc["A", "duration_event"]) == (100.0, True)


def test_the_median_does_not_count_the_future():
    # Ten responders injected on 1 Jan whose benefit wore off on days 10..100; as of 20 Feb (day 50) only the
    # endings on days 10..50 are known: S after day 50 is 5/10 = 0.5, so the median is 50 by the <= 0.5 rule.
    # The starting code counted days 60..100 as endings too and gave the same median by luck of symmetry, so
    # take an uneven case: endings on days 10, 20 and then 60..130 (8 of them).
    days = [10, 20, 60, 70, 80, 90, 100, 110, 120, 130]
    frame = sessions([(f"P{i}", "2025-01-01", 8, 2, d) for i, d in enumerate(days)])
    derived = derive_sessions(frame, as_of("2025-02-20"))  # day 50
    assert derived["duration_event"].tolist() == [True, True] + [False] * 8
    assert derived["duration_days"].tolist() == [10, 20] + [50] * 8
    result = km_median(derived["duration_days"], derived["duration_event"])
    assert result.median is None and result.events == 2  # not reached: 8 of 10 still benefiting on day 50
    # Counting the future (the old rule) would have said 80 days:
    assert km_median(days, [True] * 10).median == 80.0


def naive_durations(frame: pd.DataFrame, day_of_as_of: pd.Timestamp) -> tuple[list[float], list[bool]]:
    """The KM sample written out row by row, as a person would: responders seen by the as-of date; an ending
    when the wearing-off fell on or before it, else censored at the next session seen or at the as-of date."""
    seen = frame.loc[pd.to_datetime(frame["session_date"]) <= day_of_as_of].copy()
    seen["session_date"] = pd.to_datetime(seen["session_date"])
    seen = seen.sort_values(["patient_id", "session_date"], kind="stable")
    times, events = [], []
    for _, rows in seen.groupby("patient_id", sort=False):
        dates = list(rows["session_date"])
        for i, row in enumerate(rows.itertuples()):
            base, follow = row.baseline_pain, row.followup_pain
            pain_known = not (pd.isna(base) or pd.isna(follow)) and base > 0
            if pain_known:
                responder = 100.0 * (base - follow) / base >= DEFAULT_SETTINGS.responder_threshold_pct
            elif not (pd.isna(row.baseline_twstrs) or pd.isna(row.followup_twstrs)):
                responder = row.baseline_twstrs - row.followup_twstrs >= DEFAULT_SETTINGS.twstrs_responder_drop
            else:
                continue
            if not responder:
                continue
            start = row.session_date
            worn = row.wearing_off_days
            if not pd.isna(worn) and start + pd.Timedelta(days=float(worn)) <= day_of_as_of:
                times.append(float(worn))
                events.append(True)
            else:
                stop = dates[i + 1] if i + 1 < len(dates) else day_of_as_of
                times.append(float((stop - start).days))
                events.append(False)
    return times, events


@pytest.mark.parametrize("day", ["2024-12-31", "2025-06-30"])
def test_sample_at_a_past_as_of_date_matches_statsmodels_on_data_censored_by_hand(day):
    data = load_sessions(SAMPLE).data
    times, events = naive_durations(data, pd.Timestamp(day))
    derived = derive_sessions(data, as_of(day))
    sample = derived.loc[derived["duration_days"].notna()]
    ours = sample.sort_values(["duration_days", "duration_event"])
    theirs = pd.DataFrame({"t": times, "e": events}).sort_values(["t", "e"])
    assert ours["duration_days"].tolist() == theirs["t"].tolist()
    assert ours["duration_event"].tolist() == theirs["e"].tolist()

    reference = SurvfuncRight(np.array(times), np.array(events, dtype=float))
    curve = km_curve(sample["duration_days"], sample["duration_event"])
    at_events = curve.loc[curve["events"] > 0]
    assert at_events["time"].tolist() == list(reference.surv_times)
    np.testing.assert_allclose(at_events["survival"], reference.surv_prob, rtol=0, atol=1e-12)
    np.testing.assert_allclose(at_events["std_err"], reference.surv_prob_se, rtol=1e-9)
    ours_median = km_median(sample["duration_days"], sample["duration_event"]).median
    # statsmodels takes S < 0.5; ours S <= 0.5 (docs/metrics.md): they agree unless S lands exactly on 0.5.
    assert ours_median == reference.quantile(0.5)


def test_sample_wear_offs_after_a_past_as_of_date_were_counted_before():
    data = load_sessions(SAMPLE).data
    derived = derive_sessions(data, as_of("2025-06-30"))
    day = pd.to_datetime(derived["session_date"])
    later = (day + pd.to_timedelta(derived["wearing_off_days"].astype("float64"), unit="D")) > "2025-06-30"
    assert int((later & derived["duration_days"].notna()).sum()) == 84  # responders' wear-offs in the future
    assert not derived.loc[later, "duration_event"].any()
    sample = derived.loc[derived["duration_days"].notna()]
    assert km_median(sample["duration_days"], sample["duration_event"]).median == 110.0
    counting_the_future = sample["wearing_off_days"].notna().to_numpy()  # the starting code's rule
    times = np.where(counting_the_future, sample["wearing_off_days"].astype("float64"),
                     sample["duration_days"].astype("float64"))
    assert km_median(times, counting_the_future).median == 108.0


def test_the_benefit_tile_of_a_past_period_uses_only_what_was_known():
    days = [10, 20, 60, 70, 80, 90, 100, 110, 120, 130]
    frame = sessions([(f"P{i}", "2025-01-01", 8, 2, d) for i, d in enumerate(days)])
    settings = as_of("2025-02-20")  # day 50: only the endings on days 10 and 20 are known
    tiles = kpi_tiles(derive_sessions(frame, settings), settings, start="2025-01-01").set_index("kpi")
    tile = tiles.loc["median_duration_days"]
    assert np.isnan(tile["value"]) and tile["n"] == 10  # not reached (the starting code said 80 days)


def test_as_of_after_the_data_is_named():
    assert as_of_after_data(HAND, dt.date(2025, 5, 1)) is None  # the latest session's own day is fine
    message = as_of_after_data(HAND, dt.date(2025, 5, 2))
    assert message.startswith("the as-of date 2025-05-02 is after the latest session in the data (2025-05-01)")
    assert as_of_after_data(HAND, None) is None


def test_cli_refuses_an_as_of_date_after_the_data(capsys):
    assert main(["summary", str(SAMPLE), "--as-of", "2026-12-01", "--json"]) == 2
    err = capsys.readouterr().err
    assert "--as-of: the as-of date 2026-12-01 is after the latest session in the data (2026-09-30)" in err
    assert main(["summary", str(SAMPLE), "--as-of", "2026-09-30", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["as_of"] == "2026-09-30"


def test_app_clamps_an_as_of_date_after_the_data_with_a_note():
    from tests.app_support import app, metric, no_errors

    at = app()
    at.session_state["as_of"] = dt.date(2027, 3, 1)  # e.g. chosen while a longer file was in use
    at.run()
    no_errors(at)
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "The as-of date 01 Mar 2027 is after the latest session in the data, so the latest session " \
           "(30 Sep 2026) is used" in warnings
    assert at.session_state["as_of"] is None
    assert metric(at, "Sessions")  # the page still draws its figures
