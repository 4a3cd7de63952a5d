"""Accuracy of the "diminished response" flag (issue 11), old rule against new, on seeds the tests do not use.

Run: .venv/bin/python bench/flag_accuracy.py [--patients 40000] [--null-patients 100000]
Prints, for the generator of data/sample/generate.py (about 5% faders, ground truth known) and for the null set of
tests/test_flags_on_generated_data.py (patients who never fade, many cycles, whole-number scores):
false alarms per 1,000 never-fading patients (target <= 1) and recall of the faders (target >= 0.95), with the
old rule (the single best earlier response, no noise margin: docs/metrics.md before issue 11) beside the new one.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.flags import flag_levels  # noqa: E402
from analytics.ingest import load_sessions  # noqa: E402
from analytics.sessions import derive_sessions  # noqa: E402
from analytics.settings import DEFAULT_SETTINGS, Settings  # noqa: E402
from tests.test_flags_on_generated_data import null_sessions  # noqa: E402
from tests.test_sample_data import load_generator  # noqa: E402

GENERATOR_SEED = 4242  # the tests use 11 and the sample's 20260930
NULL_SEED = 99  # the tests use 5


def old_rule(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """The rule before issue 11, per measure: best = the single maximum before the last N (diminished) or before
    the latest (watch), reaching the threshold; each of the last N (the latest) below fraction x best."""
    n_last, fraction = settings.waning_last_n, settings.waning_fraction_pct / 100.0
    out = []
    for name, values, threshold in (("pain", derived["response_pct"], settings.responder_threshold_pct),
                                    ("twstrs", -derived["twstrs_change"], settings.twstrs_responder_drop)):
        s = pd.DataFrame({"patient_id": derived["patient_id"], "v": values.astype("float64")}).dropna()
        g = s.groupby("patient_id", sort=False)
        s["from_end"] = g.cumcount(ascending=False)
        s["m"] = g["v"].transform("size")
        best = s[s["from_end"] >= n_last].groupby("patient_id")["v"].max()
        top_last = s[s["from_end"] < n_last].groupby("patient_id")["v"].max()
        m = s.groupby("patient_id")["m"].first()
        dim = (m >= max(3, n_last + 1)) & (best.reindex(m.index) >= threshold) \
            & (top_last.reindex(m.index) < fraction * best.reindex(m.index))
        prior = s[s["from_end"] >= 1].groupby("patient_id")["v"].max().reindex(m.index)
        latest = s[s["from_end"] == 0].set_index("patient_id")["v"].reindex(m.index)
        watch = (m >= 2) & (prior >= threshold) & (latest < fraction * prior) & ~dim
        out.append(pd.DataFrame({"patient_id": m.index, "level": np.where(dim, 2, np.where(watch, 1, 0))}))
    both = pd.concat(out).groupby("patient_id")["level"].max()
    both = both[both > 0]
    return pd.DataFrame({"patient_id": both.index, "flag": both.map({2: "diminished", 1: "watch"})})


def rates(levels: pd.DataFrame, patients: set[str], faders: set[str]) -> dict[str, float]:
    dim = set(levels.loc[levels["flag"] == "diminished", "patient_id"].astype(str))
    watch = set(levels.loc[levels["flag"] == "watch", "patient_id"].astype(str))
    never = patients - faders
    return {"false_alarms": len(dim & never), "per_1000": 1000 * len(dim & never) / len(never),
            "watch_per_1000": 1000 * len(watch & never) / len(never),
            "recall": len(dim & faders) / len(faders) if faders else float("nan"),
            "precision": len(dim & faders) / len(dim) if dim and faders else float("nan")}


def report(title: str, derived: pd.DataFrame, faders: set[str]) -> None:
    patients = set(derived["patient_id"].astype(str))
    print(f"\n{title}: {len(patients):,} patients, {len(faders):,} faders, {len(derived):,} sessions")
    print(f"  {'rule':<5} {'false alarms':>12} {'per 1,000 never-faders':>23} {'watch per 1,000':>16} "
          f"{'recall':>7} {'precision':>9}")
    for name, levels in (("old", old_rule(derived)), ("new", flag_levels(derived, DEFAULT_SETTINGS))):
        r = rates(levels, patients, faders)
        print(f"  {name:<5} {r['false_alarms']:>12} {r['per_1000']:>23.2f} {r['watch_per_1000']:>16.2f} "
              f"{r['recall']:>7.4f} {r['precision']:>9.4f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40_000)
    parser.add_argument("--null-patients", type=int, default=100_000)
    args = parser.parse_args()
    began = time.perf_counter()
    generator = load_generator()
    sessions, truth = generator.build_sessions(args.patients, GENERATOR_SEED)
    with tempfile.TemporaryDirectory() as folder:  # through the real ingestion, as the tests do
        path = Path(folder) / "sessions.csv"
        generator.write_sessions_csv(generator.session_table(sessions), path)
        table = load_sessions(path).data
    report(f"generate.py, seed {GENERATOR_SEED}", derive_sessions(table, DEFAULT_SETTINGS),
           set(truth["patient_id"]))
    for label, options in (("null set (test defaults)", {}),
                           ("null set, noisier reports (sd 0.4)", {"report_sd": 0.4}),
                           ("null set, noisier still (cycle sd 0.06, reports sd 0.5)",
                            {"latent_sd": 0.06, "report_sd": 0.5})):
        null = derive_sessions(null_sessions(args.null_patients, NULL_SEED, **options), DEFAULT_SETTINGS)
        report(f"{label}, seed {NULL_SEED}", null, set())
    print(f"\n{time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
