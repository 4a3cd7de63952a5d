"""derive_sessions: every added column on hand-worked cases, edges of each threshold, NA handling, as-of."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hyp_settings, strategies as st

from analytics.sessions import DERIVED_COLUMNS, derive_sessions, resolve_as_of
from analytics.settings import Settings
from tests.helpers import session_table

S = Settings()


def make(rows: list[dict]) -> pd.DataFrame:
    """A session table in the canonical dtypes from a list of dicts (only the columns used)."""
    return session_table(rows)


def values(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series.tolist()]


def test_adds_exactly_the_documented_columns_with_their_dtypes():
    out = derive_sessions(make([{"patient_id": "a", "session_date": "2024-01-01"}]))
    assert list(out.columns[-len(DERIVED_COLUMNS):]) == list(DERIVED_COLUMNS)
    assert len(out.columns) == 4 + len(DERIVED_COLUMNS)
    dtypes = {c: str(out[c].dtype) for c in DERIVED_COLUMNS}
    assert dtypes == {
        "cycle": "Int64", "interval_days": "Int64", "short_interval": "bool", "booster": "bool",
        "response_pct": "Float64", "twstrs_change": "Float64", "twstrs_responder": "boolean",
        "has_response": "bool", "responder": "boolean", "substantial": "boolean", "onset_within": "boolean",
        "peak_within": "boolean", "next_session_date": "datetime64[s]", "duration_days": "Float64",
        "duration_event": "bool", "any_adverse_event": "boolean",
    }


def test_sorts_by_patient_and_date_and_resets_the_index():
    frame = make([
        {"patient_id": "b", "session_date": "2024-02-01"},
        {"patient_id": "a", "session_date": "2024-03-01"},
        {"patient_id": "b", "session_date": "2024-01-01"},
        {"patient_id": "a", "session_date": "2024-01-01"},
    ])
    out = derive_sessions(frame)
    assert out["patient_id"].tolist() == ["a", "a", "b", "b"]
    assert out["session_date"].dt.strftime("%m").tolist() == ["01", "03", "01", "02"]
    assert out.index.tolist() == [0, 1, 2, 3]


def test_does_not_change_the_input():
    frame = make([{"patient_id": "b", "session_date": "2024-02-01"}, {"patient_id": "a", "session_date": "2024-01-01"}])
    before = frame.copy()
    derive_sessions(frame)
    pd.testing.assert_frame_equal(frame, before)


def test_same_day_sessions_keep_input_order_with_interval_zero():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "session_id": "s2"},
        {"patient_id": "a", "session_date": "2024-01-01", "session_id": "s1"},
    ])
    out = derive_sessions(frame)
    assert out["session_id"].tolist() == ["s2", "s1"]
    assert values(out["interval_days"]) == [None, 0]
    assert out["booster"].tolist() == [False, True]


def test_cycle_is_the_rank_without_cycle_number():
    frame = make([{"patient_id": "a", "session_date": d} for d in ("2024-05-01", "2024-01-01", "2024-09-01")])
    assert derive_sessions(frame)["cycle"].tolist() == [1, 2, 3]


def test_cycle_uses_cycle_number_and_counts_on_and_back_from_it():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "cycle_number": None},
        {"patient_id": "a", "session_date": "2024-04-01", "cycle_number": None},
        {"patient_id": "a", "session_date": "2024-07-01", "cycle_number": 10},
        {"patient_id": "a", "session_date": "2024-10-01", "cycle_number": None},
        {"patient_id": "a", "session_date": "2025-01-01", "cycle_number": 20},  # a given number always wins
        {"patient_id": "a", "session_date": "2025-04-01", "cycle_number": None},
        {"patient_id": "b", "session_date": "2024-01-01", "cycle_number": None},
        {"patient_id": "b", "session_date": "2024-04-01", "cycle_number": None},
        {"patient_id": "c", "session_date": "2024-01-01", "cycle_number": 5},
    ])
    assert derive_sessions(frame)["cycle"].tolist() == [8, 9, 10, 11, 20, 21, 1, 2, 5]


def test_counting_back_never_goes_below_one():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "cycle_number": None},
        {"patient_id": "a", "session_date": "2024-02-01", "cycle_number": None},
        {"patient_id": "a", "session_date": "2024-03-01", "cycle_number": 2},
    ])
    assert derive_sessions(frame)["cycle"].tolist() == [1, 1, 2]


def test_intervals_short_interval_and_booster_at_their_edges():
    days = [0, 27, 28 + 27, 28 + 27 + 83, 28 + 27 + 83 + 84]
    frame = make([{"patient_id": "a", "session_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=d)}
                  for d in days])
    out = derive_sessions(frame)
    assert values(out["interval_days"]) == [None, 27, 28, 83, 84]
    assert out["booster"].tolist() == [False, True, False, False, False]
    assert out["short_interval"].tolist() == [False, True, True, True, False]


def test_response_pct_and_responder_edges():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 7},  # 30 exactly
        {"patient_id": "a", "session_date": "2024-04-01", "baseline_pain": 10, "followup_pain": 8},  # 20
        {"patient_id": "a", "session_date": "2024-07-01", "baseline_pain": 0, "followup_pain": 0},  # zero baseline
        {"patient_id": "a", "session_date": "2024-10-01", "baseline_pain": 6, "followup_pain": None},  # no follow-up
        {"patient_id": "a", "session_date": "2025-01-01", "baseline_pain": 4, "followup_pain": 6},  # worse
        {"patient_id": "a", "session_date": "2025-04-01", "baseline_pain": 8, "followup_pain": 4},  # 50 exactly
    ])
    out = derive_sessions(frame)
    assert values(out["response_pct"]) == [30.0, 20.0, None, None, -50.0, 50.0]
    assert values(out["responder"]) == [True, False, None, None, False, True]
    assert values(out["substantial"]) == [False, False, None, None, False, True]
    assert out["has_response"].tolist() == [True, True, False, False, True, True]


def test_twstrs_change_and_responder_when_pain_is_absent():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "baseline_twstrs": 40.0, "followup_twstrs": 32.0},
        {"patient_id": "a", "session_date": "2024-04-01", "baseline_twstrs": 32.7, "followup_twstrs": 24.7},
        {"patient_id": "a", "session_date": "2024-07-01", "baseline_twstrs": 40.0, "followup_twstrs": 32.5},
        {"patient_id": "a", "session_date": "2024-10-01", "baseline_twstrs": 40.0, "followup_twstrs": None},
    ])
    out = derive_sessions(frame)
    assert values(out["twstrs_change"]) == [-8.0, -8.0, -7.5, None]
    assert values(out["twstrs_responder"]) == [True, True, False, None]
    assert values(out["responder"]) == [True, True, False, None]
    assert out["has_response"].tolist() == [True, True, True, False]
    assert values(out["response_pct"]) == [None, None, None, None]


def test_pain_decides_the_responder_when_both_scores_are_present():
    frame = make([{"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 9,
                   "baseline_twstrs": 40.0, "followup_twstrs": 20.0}])
    out = derive_sessions(frame)
    assert values(out["responder"]) == [False]
    assert values(out["twstrs_responder"]) == [True]


def test_onset_and_peak_within():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "onset_days": 3, "peak_days": 14},
        {"patient_id": "a", "session_date": "2024-04-01", "onset_days": 4, "peak_days": 15},
        {"patient_id": "a", "session_date": "2024-07-01", "onset_days": None, "peak_days": None},
    ])
    out = derive_sessions(frame)
    assert values(out["onset_within"]) == [True, False, None]
    assert values(out["peak_within"]) == [True, False, None]


def test_benefit_duration_event_next_session_or_as_of_for_responders_only():
    frame = make([
        # responder, wearing-off recorded: an event at 100 days
        {"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 2, "wearing_off_days": 100},
        # responder, not worn off by the next session 91 days later: censored at 91
        {"patient_id": "a", "session_date": "2024-04-10", "baseline_pain": 10, "followup_pain": 2},
        # non-responder: no duration even with wearing_off_days
        {"patient_id": "a", "session_date": "2024-07-10", "baseline_pain": 10, "followup_pain": 9, "wearing_off_days": 30},
        # responder, latest session: censored at as-of (latest date in the data, 2024-12-31)
        {"patient_id": "a", "session_date": "2024-10-01", "baseline_pain": 10, "followup_pain": 5},
        {"patient_id": "b", "session_date": "2024-12-31", "baseline_pain": 10, "followup_pain": 5},
    ])
    out = derive_sessions(frame)
    assert values(out["duration_days"]) == [100.0, 91.0, None, 91.0, 0.0]
    assert out["duration_event"].tolist() == [True, False, True, False, False]
    assert [None if pd.isna(d) else d.strftime("%Y-%m-%d") for d in out["next_session_date"]] == \
        ["2024-04-10", "2024-07-10", "2024-10-01", None, None]


def test_as_of_drops_later_sessions_and_censors_there():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 2},
        {"patient_id": "a", "session_date": "2024-06-01", "baseline_pain": 10, "followup_pain": 2},
    ])
    s = Settings(as_of=date(2024, 3, 1))
    assert resolve_as_of(frame, s) == pd.Timestamp("2024-03-01")
    out = derive_sessions(frame, s)
    assert len(out) == 1
    assert pd.isna(out["next_session_date"].iloc[0])
    assert values(out["duration_days"]) == [60.0]  # 2024-01-01 -> 2024-03-01
    assert out["duration_event"].tolist() == [False]


def test_as_of_on_a_session_day_keeps_that_session():
    frame = make([{"patient_id": "a", "session_date": "2024-03-01"}])
    assert len(derive_sessions(frame, Settings(as_of=date(2024, 3, 1)))) == 1
    assert len(derive_sessions(frame, Settings(as_of=date(2024, 2, 29)))) == 0


def test_resolve_as_of_defaults_to_latest_session_date():
    frame = make([{"patient_id": "a", "session_date": "2024-03-01"}, {"patient_id": "b", "session_date": "2024-05-07"}])
    assert resolve_as_of(frame, S) == pd.Timestamp("2024-05-07")
    assert pd.isna(resolve_as_of(frame.iloc[0:0], S))


def test_any_adverse_event():
    frame = make([{"patient_id": "a", "session_date": f"2024-0{i + 1}-01", "adverse_events": v}
                  for i, v in enumerate(["none", "dysphagia;headache", None, "", "none;headache", " None "])])
    assert values(derive_sessions(frame)["any_adverse_event"]) == [False, True, None, None, True, False]


def test_only_required_columns():
    frame = pd.DataFrame({
        "patient_id": pd.Series(["a", "a"], dtype="str"),
        "session_date": pd.to_datetime(["2024-01-01", "2024-02-01"]).astype("datetime64[s]"),
        "product": pd.Series(["onabotulinumtoxinA"] * 2, dtype="str"),
        "total_units": [100.0, 100.0],
    })
    out = derive_sessions(frame)
    assert values(out["response_pct"]) == [None, None]
    assert values(out["responder"]) == [None, None]
    assert out["has_response"].tolist() == [False, False]
    assert values(out["duration_days"]) == [None, None]
    assert values(out["any_adverse_event"]) == [None, None]
    assert values(out["onset_within"]) == [None, None]
    assert out["cycle"].tolist() == [1, 2]


def test_extra_columns_are_kept():
    frame = make([{"patient_id": "a", "session_date": "2024-01-01", "dose_band": "high"}])
    assert derive_sessions(frame)["dose_band"].tolist() == ["high"]


def test_empty_input_and_everything_after_as_of_give_empty_tables_with_all_columns():
    frame = make([{"patient_id": "a", "session_date": "2024-01-01"}])
    for out in (derive_sessions(frame.iloc[0:0]), derive_sessions(frame, Settings(as_of=date(2023, 1, 1)))):
        assert len(out) == 0
        assert set(DERIVED_COLUMNS) <= set(out.columns)


def test_missing_patient_or_date_is_refused():
    frame = make([{"patient_id": "a", "session_date": "2024-01-01"}])
    frame.loc[0, "patient_id"] = None
    with pytest.raises(ValueError):
        derive_sessions(frame)


def test_thresholds_come_from_settings():
    frame = make([
        {"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 8},
        {"patient_id": "a", "session_date": "2024-03-01", "baseline_pain": 10, "followup_pain": 8},
    ])
    out = derive_sessions(frame, Settings(responder_threshold_pct=20.0, short_interval_days=50))
    assert values(out["responder"]) == [True, True]
    assert out["short_interval"].tolist() == [False, False]


@hyp_settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3", "p4"]), st.integers(0, 400),
                       st.one_of(st.none(), st.integers(0, 10)), st.one_of(st.none(), st.integers(0, 10))),
             min_size=1, max_size=40),
    st.one_of(st.none(), st.integers(0, 400)),
)
def test_property_keeps_every_row_up_to_as_of(rows, as_of_offset):
    start = pd.Timestamp("2024-01-01")
    frame = make([{"patient_id": p, "session_date": start + pd.Timedelta(days=d), "baseline_pain": b,
                   "followup_pain": f} for p, d, b, f in rows])
    as_of = None if as_of_offset is None else (start + pd.Timedelta(days=as_of_offset)).date()
    out = derive_sessions(frame, Settings(as_of=as_of))
    expected = len(rows) if as_of is None else sum(d <= as_of_offset for _, d, _, _ in rows)
    assert len(out) == expected
    if expected:
        keys = list(zip(out["patient_id"], out["session_date"]))
        assert keys == sorted(keys)
        assert (out["cycle"] >= 1).all()
        assert (out["interval_days"].dropna() >= 0).all()
        assert out.groupby("patient_id")["interval_days"].apply(lambda s: s.isna().sum()).eq(1).all()
        durations = out["duration_days"].dropna()
        assert (durations >= 0).all()
        assert out.loc[out["duration_days"].notna(), "responder"].all()
        pct = out["response_pct"].dropna()
        assert np.all(pct <= 100)
