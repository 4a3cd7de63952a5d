"""Benchmark: the statistics of issue 11 on the 1.3-million-session file, each against the one pass they all rest on.

Run: .venv/bin/python bench/bench_statistics.py
Every metric reads the derived session table (analytics.sessions.derive_sessions: cycles, intervals, responses,
benefit durations censored at the as-of date). Each step below is timed in the same process on that table, best
of 3, and printed beside its ratio to one derive_sessions pass, so a step that grows out of proportion shows up
as a ratio, not as a number that depends on the machine: the funnel (case-mix adjusted and raw, patient-level
with overdispersion), the Compare page's family suppression, the p-chart with Laney p' and its baseline window,
the diminished flags, and the Kaplan-Meier median of every responder session.
"""
from __future__ import annotations

import sys
import time

from common import ROOT, ensure_big_file

sys.path.insert(0, str(ROOT))

from analytics.breakdowns import breakdown  # noqa: E402
from analytics.flags import flag_patients  # noqa: E402
from analytics.funnel import funnel  # noqa: E402
from analytics.headline import duration_sample  # noqa: E402
from analytics.ingest import load_sessions  # noqa: E402
from analytics.kaplan_meier import km_median  # noqa: E402
from analytics.presentation import compare_family  # noqa: E402
from analytics.sessions import derive_sessions  # noqa: E402
from analytics.settings import DEFAULT_SETTINGS  # noqa: E402
from analytics.spc import p_chart  # noqa: E402
from analytics.waning import waning_by_cycle  # noqa: E402


def best(step, repeats: int = 3) -> float:
    """Best wall time of a few runs of step()."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return min(times)


path = ensure_big_file()
sessions = load_sessions(path).data
derive_seconds = best(lambda: derive_sessions(sessions, DEFAULT_SETTINGS))
derived = derive_sessions(sessions, DEFAULT_SETTINGS)
as_of = derived["session_date"].max()
tables = {by: breakdown(derived, by, DEFAULT_SETTINGS) for by in ("product", "indication", "dose_band", "cycle")}
by_cycle = waning_by_cycle(derived, DEFAULT_SETTINGS)

steps = {
    "funnel by practitioner, case-mix adjusted": lambda: funnel(derived, "practitioner_id", "casemix"),
    "funnel by practitioner, raw": lambda: funnel(derived, "practitioner_id", "none"),
    "funnel by site, case-mix adjusted": lambda: funnel(derived, "site", "casemix"),
    "Compare page family suppression": lambda: compare_family(derived, DEFAULT_SETTINGS, tables, by_cycle),
    "p-chart (Laney p', 24-month window)": lambda: p_chart(derived, DEFAULT_SETTINGS, period_end=as_of, as_of=as_of),
    "diminished flags with evidence": lambda: flag_patients(derived, DEFAULT_SETTINGS),
    "Kaplan-Meier median of every responder session": lambda: km_median(*duration_sample(derived)),
}
print(f"file: {path.name}, {len(sessions):,} sessions, {sessions['patient_id'].nunique():,} patients")
print(f"derive_sessions (the one pass every metric reads): {derive_seconds:.2f} s")
for name, step in steps.items():
    seconds = best(step)
    print(f"{name}: {seconds:.2f} s, ratio to derive_sessions {seconds / derive_seconds:.2f}")
