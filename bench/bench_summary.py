"""Benchmark: `summary` on the 1.3-million-session file against a bare pyarrow read of the same file.

Run: .venv/bin/python bench/bench_summary.py
Prints the whole summary time (read, check, derive, every headline metric), its ratio to the bare read
(target <= 1.5), the split between ingestion and metrics, and peak memory (target < 2 GB).
"""
from __future__ import annotations

import subprocess
import sys
import time

from common import ROOT, ensure_big_file, measure

path = ensure_big_file()
bare = measure(f"import pyarrow.csv as c; t = c.read_csv({str(path)!r})", "import pyarrow.csv")
setup = "from analytics.ingest import load_sessions; from analytics.summary import summarise"
whole = measure(f"r = load_sessions({str(path)!r}); s = summarise(r.data, rejected_rows=r.n_rejected_rows)", setup)
metrics = measure("s = summarise(r.data)", setup + f"; r = load_sessions({str(path)!r})")
start = time.perf_counter()
subprocess.run([sys.executable, "-m", "analytics", "summary", str(path), "--json"], cwd=ROOT, check=True,
               stdout=subprocess.DEVNULL)
cli = time.perf_counter() - start
print(f"file: {path.name}, {path.stat().st_size / 1048576:.0f} MB")
print(f"bare pyarrow.csv.read_csv: {bare['seconds']:.2f} s")
print(f"summary, whole (ingest + metrics): {whole['seconds']:.2f} s; of which metrics alone: {metrics['seconds']:.2f} s")
print(f"the CLI command end to end (with interpreter start and imports): {cli:.2f} s")
print(f"ratio summary / bare read: {whole['seconds'] / bare['seconds']:.2f} (target <= 1.5)")
print(f"peak memory: {whole['peak_mb']:.0f} MB (target < 2048 MB)")
