"""The command-line summary against an independent oracle: bench/summary_peer.sql, the same headline figures
written as one DuckDB SQL script (window functions for intervals, a SQL Kaplan-Meier, the flag rules in SQL).

The benchmark measures `summary` against this script (bench/bench_peer.py); here it checks that the two agree
figure for figure on the sample, on the accepted rows of the messy export and on
random tables with ties, same-day sessions, TWSTRS-only sessions, missing scores and censored benefit."""
from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics.ingest import load_sessions
from analytics.summary import summarise

ROOT = Path(__file__).resolve().parent.parent
PEER_SQL = (ROOT / "bench" / "summary_peer.sql").read_text()
KEYS = ("sessions", "patients", "responder_threshold_pct", "sessions_with_response", "responder_rate",
        "median_response_pct", "median_onset_days", "median_peak_days", "median_duration_days",
        "short_interval_share", "diminished_patients", "watch_patients")


def peer_figures(sessions: pd.DataFrame) -> dict:
    """The SQL script run over an accepted session table (input order = the table's row order)."""
    con = duckdb.connect()
    con.register("raw", sessions.reset_index(drop=True).assign(input_order=np.arange(len(sessions))))
    con.execute("CREATE VIEW sessions AS SELECT * REPLACE (CAST(session_date AS DATE) AS session_date) FROM raw")
    row = con.sql(PEER_SQL).fetchdf().iloc[0].to_dict()
    con.close()
    out = {k: row[k] for k in KEYS}
    out["as_of"] = pd.Timestamp(row["as_of"]).date().isoformat()
    out["diminished_patients"] = list(row["diminished_patients"])
    out["watch_patients"] = list(row["watch_patients"])
    return out


def assert_same(product: dict, peer: dict) -> None:
    assert product["as_of"] == peer["as_of"]
    for key in KEYS:
        mine, theirs = product[key], peer[key]
        if isinstance(mine, list):
            assert mine == theirs, key
        elif mine is None or theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
            assert mine is None and (theirs is None or pd.isna(theirs)), (key, mine, theirs)
        else:
            assert float(mine) == pytest.approx(float(theirs), rel=1e-12, abs=1e-12), key


@pytest.mark.parametrize("name", ["sessions.csv", "messy_export.csv"])
def test_summary_equals_the_sql_peer_on_the_sample_files(name):
    sessions = load_sessions(ROOT / "data" / "sample" / name, drop_identifiers=True).data
    product = summarise(sessions)
    assert_same(product, peer_figures(sessions))
    if name == "sessions.csv":  # the peer is not vacuous: it finds the same fading patients and figures
        assert product["sessions"] == 3104 and product["responder_rate"] == pytest.approx(0.8691002949852508)
        assert len(product["diminished_patients"]) > 10


def random_sessions(seed: int, patients: int = 300) -> pd.DataFrame:
    """Sessions with the awkward cases: same-day pairs, missing scores, TWSTRS-only rows, baseline 0, wear-offs
    after the next session or after the as-of date, and patients whose response falls away."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 9, patients)
    pid = np.repeat([f"R{i:04d}" for i in range(patients)], per)
    n = len(pid)
    gaps = rng.choice([0, 14, 28, 60, 84, 85, 90, 120, 200], n)
    start = rng.integers(0, 400, patients)
    first = np.r_[0, np.cumsum(per)[:-1]]
    rank = np.arange(n) - np.repeat(first, per)
    day = np.repeat(start, per) + pd.Series(gaps).groupby(pid).cumsum().to_numpy() - gaps * (rank == 0)
    date = pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D")
    base = rng.integers(0, 11, n).astype(float)
    fading = np.repeat(rng.random(patients) < 0.3, per)
    follow = np.clip(np.where(fading & (rank >= 2), base - rng.integers(0, 2, n), base - rng.integers(0, 9, n)),
                     0, 10).astype(float)
    follow[rng.random(n) < 0.15] = np.nan
    tw_only = rng.random(n) < 0.2
    base[tw_only] = np.nan
    follow[tw_only] = np.nan
    tw_base = np.where(tw_only, rng.integers(20, 60, n), np.nan)
    tw_follow = tw_base - np.where(np.repeat(rng.random(patients) < 0.5, per) & (rank >= 2), 1, rng.integers(0, 25, n))
    wear = rng.choice([np.nan, 30, 60, 90, 110, 150], n).astype(float)
    onset = rng.choice([np.nan, 1, 2, 3, 5, 8], n)
    peak = rng.choice([np.nan, 7, 14, 15, 21], n)
    frame = pd.DataFrame({
        "patient_id": pd.array(pid, dtype="str"), "session_date": date.astype("datetime64[s]"),
        "baseline_pain": base, "followup_pain": follow, "baseline_twstrs": tw_base,
        "followup_twstrs": tw_follow.astype(float), "onset_days": onset, "peak_days": peak,
        "wearing_off_days": wear,
    })
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)  # input order is not date order


@pytest.mark.parametrize("seed", range(6))
def test_summary_equals_the_sql_peer_on_random_tables(seed):
    sessions = random_sessions(seed)
    assert_same(summarise(sessions), peer_figures(sessions))
