"""Flags judged part by part (analytics.flags.flag_patients_in_parts): the parts hold whole patients, so the table is
the one flag_patients gives for every session at once, row for row, in the same order. The store computes the
first page's flags this way at registry scale, where every session's columns at once would not fit."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics.flags import flag_patients, flag_patients_in_parts
from analytics.ingest import load_sessions
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "sessions.csv"


@pytest.fixture(scope="module")
def derived() -> pd.DataFrame:
    return derive_sessions(load_sessions(SAMPLE).data, DEFAULT_SETTINGS)


def _parts(derived: pd.DataFrame, count: int) -> list[pd.DataFrame]:
    """Whole patients per part, by a hash of the code (as the store cuts them)."""
    part = pd.util.hash_pandas_object(derived["patient_id"], index=False).to_numpy() % count
    return [derived.loc[part == i].reset_index(drop=True) for i in range(count)]


@pytest.mark.parametrize("count", [1, 2, 7])
def test_the_parts_give_the_flags_of_the_whole(derived, count):
    whole = flag_patients(derived, DEFAULT_SETTINGS)
    assert (whole["flag"] == "diminished").sum() == 25 and (whole["flag"] == "watch").sum() == 1
    pd.testing.assert_frame_equal(flag_patients_in_parts(_parts(derived, count), DEFAULT_SETTINGS), whole)


def test_parts_without_a_flag_or_without_a_session_change_nothing(derived):
    whole = flag_patients(derived, DEFAULT_SETTINGS)
    flagged = set(whole["patient_id"])
    quiet = derived.loc[~derived["patient_id"].isin(flagged)]  # patients nobody flags
    loud = derived.loc[derived["patient_id"].isin(flagged)]
    parts = [quiet.iloc[:0], loud, quiet]
    pd.testing.assert_frame_equal(flag_patients_in_parts(parts, DEFAULT_SETTINGS), whole)
    nobody = flag_patients_in_parts([quiet, quiet.iloc[:0]], DEFAULT_SETTINGS)
    assert len(nobody) == 0 and list(nobody.columns) == list(whole.columns)


def test_other_settings_are_judged_the_same_way(derived):
    settings = DEFAULT_SETTINGS.with_changes(waning_fraction_pct=70.0, waning_last_n=1)
    whole = flag_patients(derived, settings)
    assert len(whole) > 26
    pd.testing.assert_frame_equal(flag_patients_in_parts(_parts(derived, 3), settings), whole)
