"""Effect within one cycle from session records: onset ECDF, KM still-benefiting, their product, markers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.effect_over_time import CURVE_COLUMNS, effect_markers, effect_over_time
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from tests.helpers import session_table

S = Settings()


def table(rows: list[dict]) -> pd.DataFrame:
    return derive_sessions(session_table(rows), S)


def fixture():
    # four responder sessions (one patient each, so the as-of date matters only for e): onset 1, 2, 2, not recorded;
    # wearing-off 4 (event), 6 (event), 6 (event), and e censored at as-of.
    # One non-responder with onset 0 and wearing-off 1 must be ignored.
    return table([
        {"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 5, "onset_days": 1,
         "peak_days": 3, "wearing_off_days": 4},
        {"patient_id": "b", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 5, "onset_days": 2,
         "peak_days": 5, "wearing_off_days": 6},
        {"patient_id": "c", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 5, "onset_days": 2,
         "peak_days": 4, "wearing_off_days": 6},
        {"patient_id": "e", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 5},
        {"patient_id": "n", "session_date": "2024-01-09", "baseline_pain": 10, "followup_pain": 9, "onset_days": 0,
         "peak_days": 1, "wearing_off_days": 1},
    ])


def test_curve_by_hand():
    curve = effect_over_time(fixture(), S)
    assert list(curve.columns) == list(CURVE_COLUMNS)
    # e is censored at the as-of date 2024-01-09, i.e. day 8: the grid runs 0..8
    assert curve["day"].tolist() == list(range(9))
    assert curve["onset_share"].tolist() == pytest.approx([0, 1 / 3, 1, 1, 1, 1, 1, 1, 1])
    # KM over 4 sessions: event at 4 (n=4) -> 3/4; two events at 6 (n=3) -> 1/4; e censored at 8
    assert curve["still_benefiting"].tolist() == pytest.approx([1, 1, 1, 1, 0.75, 0.75, 0.25, 0.25, 0.25])
    assert curve["at_risk"].tolist() == [4, 4, 4, 4, 4, 3, 3, 1, 1]
    expected = np.array([0, 1 / 3, 1, 1, 1, 1, 1, 1, 1]) * np.array([1, 1, 1, 1, 0.75, 0.75, 0.25, 0.25, 0.25])
    assert curve["in_benefit"].tolist() == pytest.approx(expected.tolist())


def test_curve_is_unknown_after_the_last_observation():
    curve = effect_over_time(fixture(), S, max_day=10)
    assert len(curve) == 11
    assert np.isnan(curve["still_benefiting"].iloc[9]) and np.isnan(curve["in_benefit"].iloc[10])


def test_markers_over_responder_sessions():
    markers = effect_markers(fixture(), S)
    assert markers == {
        "median_onset_days": 2.0, "n_onset": 3,
        "median_peak_days": 4.0, "n_peak": 3,
        "median_duration_days": 6.0, "duration_ci_low": markers["duration_ci_low"],
        "duration_ci_high": markers["duration_ci_high"], "n_duration": 4,
    }


def test_no_responders():
    d = table([{"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10, "followup_pain": 9}])
    assert len(effect_over_time(d, S)) == 0
    markers = effect_markers(d, S)
    assert markers["median_onset_days"] is None and markers["median_duration_days"] is None
    assert markers["n_duration"] == 0


def test_no_onset_recorded_gives_nan_onset_share():
    # as of 4 Jan, so the wearing-off on day 3 (4 Jan) is known (a later one would be censored at the as-of date)
    settings = S.with_changes(as_of=pd.Timestamp("2024-01-04").date())
    d = derive_sessions(session_table([{"patient_id": "a", "session_date": "2024-01-01", "baseline_pain": 10,
                                        "followup_pain": 2, "wearing_off_days": 3}]), settings)
    curve = effect_over_time(d, settings)
    assert curve["day"].tolist() == [0, 1, 2, 3]
    assert curve["onset_share"].isna().all() and curve["in_benefit"].isna().all()
    assert curve["still_benefiting"].tolist() == [1, 1, 1, 0]
