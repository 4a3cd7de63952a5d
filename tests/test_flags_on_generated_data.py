"""The diminished-response flag against the patients the generator made to fade (ground truth), and against a
null set of patients who never fade (issue 11: false alarms per 1,000 never-fading patients <= 1).

Issue 3 asks for precision and recall >= 0.85 on generated data; checked on the committed sample and on a
fresh data set of another seed and size, both through the real ingestion and analytics.flags. The null set is
made here (`null_sessions`): many cycles, whole-number pain scores with realistic noise; bench/flag_accuracy.py
runs the same on larger sets and seeds the tests do not use.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.flags import diminished_patients, flag_levels
from analytics.ingest import load_sessions
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS
from tests.helpers import session_table
from tests.test_sample_data import diminished as old_rule_pain, load_generator

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def precision_recall(flagged: set[str], truth: set[str]) -> tuple[float, float]:
    hits = len(flagged & truth)
    return hits / max(len(flagged), 1), hits / len(truth)


def flagged_in(path: Path) -> set[str]:
    result = load_sessions(path)
    assert result.exit_code == 0
    return set(diminished_patients(derive_sessions(result.data, DEFAULT_SETTINGS), DEFAULT_SETTINGS))


def test_committed_sample():
    truth = set((SAMPLE / "faded_patients.csv").read_text().splitlines()[1:])
    truth = {line.split(",")[0] for line in truth}
    precision, recall = precision_recall(flagged_in(SAMPLE / "sessions.csv"), truth)
    assert precision >= 0.85 and recall >= 0.85, (precision, recall)
    assert (precision, recall) == (1.0, 1.0)  # what it gives today; a drop here is a change to look at


@pytest.mark.parametrize("patients, seed", [(3000, 11)])
def test_fresh_generated_data(tmp_path, patients, seed):
    generator = load_generator()
    sessions, truth = generator.build_sessions(patients, seed)
    path = tmp_path / "sessions.csv"
    generator.write_sessions_csv(generator.session_table(sessions), path)
    precision, recall = precision_recall(flagged_in(path), set(truth["patient_id"]))
    assert len(truth) >= 100
    assert precision >= 0.85 and recall >= 0.85, (precision, recall)
    assert recall >= 0.95 and precision >= 0.98, (precision, recall)  # issue 11: clear faders
    assert (precision, recall) == (1.0, 149 / 150)  # today's figures (the old rule's too): look at a change


def null_sessions(n: int, seed: int, latent_sd: float = 0.05, report_sd: float = 0.3) -> pd.DataFrame:
    """Sessions of n patients who never fade: 5-15 cycles about 15 weeks apart, whole-number pain scores.

    Each patient has a usual response (10% non-responders -5..10%, 10% partial responders 10..35%, 80%
    responders around 55%, sd 10 points, 35..85%), which varies from cycle to cycle (sd latent_sd); baseline pain
    is a level 4.5-8.5 plus noise (sd 0.7), rounded; the follow-up is baseline x (1 - response) plus a reporting
    noise (sd report_sd NRS points), rounded and kept in 0-10; 10% of reviews are missed. 40% also have TWSTRS
    (baseline 30-50 with sd 3, in 0.5 steps; drop 20 x response with sd 2). Vectorised, seeded.
    With the defaults the old single-maximum rule false-alarms on about 1% of them (9.6 per 1,000), twice the rate the
    reviewer found on the hidden data set (10 of 2,115 patients with 5 or more cycles): a null at least as hostile.
    """
    rng = np.random.default_rng(seed)
    cycles = rng.integers(5, 16, n)
    pid = np.repeat(np.arange(n), cycles)
    first = np.repeat(np.cumsum(cycles) - cycles, cycles)
    k = np.arange(len(pid)) - first
    m = len(pid)
    gaps = np.where(k == 0, rng.integers(0, 365, m), np.round(70 + rng.gamma(6.0, 6.0, m)))
    total = np.cumsum(gaps)
    day = total - total[first] + gaps[first]
    kind = rng.random(n)
    usual = np.select([kind < 0.10, kind < 0.20], [rng.uniform(-0.05, 0.10, n), rng.uniform(0.10, 0.35, n)],
                      np.clip(rng.normal(0.55, 0.10, n), 0.35, 0.85))
    r = usual[pid] + rng.normal(0.0, latent_sd, m)
    base = np.clip(np.round(rng.uniform(4.5, 8.5, n)[pid] + rng.normal(0.0, 0.7, m)), 2, 10)
    follow = np.clip(np.round(base * (1 - r) + rng.normal(0.0, report_sd, m)), 0, 10)
    reviewed = rng.random(m) >= 0.10
    tw = (rng.random(n) < 0.40)[pid]
    tw_base = np.clip(np.round(2 * (rng.uniform(30, 50, n)[pid] + rng.normal(0, 3.0, m))) / 2, 0, 87)
    tw_follow = np.clip(np.round(2 * (tw_base - 20 * r - rng.normal(0, 2.0, m))) / 2, 0, 87)
    return session_table(pd.DataFrame({
        "patient_id": np.char.add("N", np.arange(n).astype(str))[pid],
        "session_date": pd.Timestamp("2015-01-01") + pd.to_timedelta(day, unit="D"),
        "baseline_pain": base,
        "followup_pain": np.where(reviewed, follow, np.nan),
        "baseline_twstrs": np.where(tw, tw_base, np.nan),
        "followup_twstrs": np.where(tw & reviewed, tw_follow, np.nan),
    }))


@pytest.fixture(scope="module")
def null_derived() -> pd.DataFrame:
    return derive_sessions(null_sessions(20_000, 5), DEFAULT_SETTINGS)


def test_null_set_false_alarms_at_most_one_per_thousand(null_derived):
    n = null_derived["patient_id"].nunique()
    levels = flag_levels(null_derived, DEFAULT_SETTINGS)
    false_alarms = int((levels["flag"] == "diminished").sum())
    assert n == 20_000
    assert 1000 * false_alarms / n <= 1.0, false_alarms
    assert false_alarms == 7  # today's figure on this seed (0.35 per 1,000; the old rule: 191): look at a change


def test_the_null_set_is_hostile_to_the_old_rule(null_derived):
    # the old single-maximum rule (pain alone, as tests/test_sample_data.py states it) false-alarms far more often
    old = old_rule_pain(null_derived)
    assert 1000 * len(old) / 20_000 >= 4.7  # the reviewer's hidden data: 10 of 2,115 (4.7 per 1,000)
