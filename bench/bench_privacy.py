"""Benchmark: the privacy scan of a 1,000,000-row `notes` column, against a bare pyarrow read of the same file.

Run: .venv/bin/python bench/bench_privacy.py
Notes are realistic clinical sentences with varied numbers and session dates; 0.1% of them carry an identifier.
Prints the seconds of the scan (free_text.scan), of redaction, and of load_sessions with and without redaction,
with their ratio to the bare read.
"""
from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from analytics.free_text import redact, scan  # noqa: E402
from analytics.ingest import load_sessions  # noqa: E402

ROWS = 1_000_000
rng = np.random.default_rng(7)
templates = np.array(["EMG guided, {n} U to splenius capitis", "review in {w} weeks", "booster {w} wk",
                      "{n} U in 4 mL, reviewed {d}/03/2025", "good response, pain {p}/10", "no adverse events",
                      "Botox {n} U, North Wing, DR0{p}"])
pick = rng.integers(0, len(templates), ROWS)
n, w, p, d = (rng.integers(50, 400, ROWS), rng.integers(2, 16, ROWS), rng.integers(0, 10, ROWS),
              rng.integers(10, 28, ROWS))
notes = pd.Series([templates[k].format(n=a, w=b, p=c, d=e) for k, a, b, c, e in zip(pick, n, w, p, d)], dtype="str")
planted = rng.choice(ROWS, ROWS // 1000, replace=False)
notes.iloc[planted] = [f"call her on 07700 9{i % 100000:05d}" for i in range(len(planted))]
frame = pd.DataFrame({"patient_id": [f"P{i:07d}" for i in range(ROWS)], "session_date": "2025-03-14",
                      "product": "Botox", "total_units": "200", "baseline_pain": "7", "followup_pain": "3",
                      "notes": notes})
data = frame.to_csv(index=False).encode()
lines = np.arange(2, ROWS + 2)


def timed(label: str, step) -> float:
    start = time.perf_counter()
    step()
    seconds = time.perf_counter() - start
    print(f"{label}: {seconds:.2f} s", flush=True)
    return seconds


bare = timed("bare pyarrow.csv.read_csv of the file", lambda: pacsv.read_csv(io.BytesIO(data)))
plain = timed("load_sessions of the same file without the notes column",
              lambda: load_sessions(frame.drop(columns=["notes"]).to_csv(index=False).encode()))
clean = timed("scan of 1M clean notes (free_text.scan)",
              lambda: scan("notes", notes.drop(index=planted), lines[:ROWS - len(planted)], 2007))
found = timed("scan of 1M notes, 0.1% with a phone", lambda: scan("notes", notes, lines, 2007))
red = timed("redact of 1M notes, 0.1% with a phone", lambda: redact(notes, 2007))
refuse = timed("load_sessions (refused: free text)", lambda: load_sessions(data))
loaded = timed("load_sessions(redact_free_text=True)", lambda: load_sessions(data, redact_free_text=True))
print(f"ratios to the bare read: scan {found / bare:.1f}, redact {red / bare:.1f}; the privacy cost of the ingest: "
      f"{loaded / plain:.2f} x the ingest without notes")
