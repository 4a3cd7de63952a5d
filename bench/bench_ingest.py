"""Benchmark: ingesting the 1.3-million-session file against a bare pyarrow read of the same file.

Run: .venv/bin/python bench/bench_ingest.py
Prints the times, their ratio (target <= 2) and the ingestion's peak memory (target < 2 GB).
"""
from __future__ import annotations

from common import ensure_big_file, measure

path = ensure_big_file()
size_mb = path.stat().st_size / 1048576
bare = measure(f"import pyarrow.csv as c; t = c.read_csv({str(path)!r})", "import pyarrow.csv")
baseline = measure("pass", "import analytics.ingest")
ingest = measure(f"r = load_sessions({str(path)!r}); assert not r.refused, r.file_errors",
                 "from analytics.ingest import load_sessions")
print(f"file: {path.name}, {size_mb:.0f} MB")
print(f"bare pyarrow.csv.read_csv: {bare['seconds']:.2f} s (peak {bare['peak_mb']:.0f} MB)")
print(f"load_sessions (read + check everything): {ingest['seconds']:.2f} s "
      f"(peak {ingest['peak_mb']:.0f} MB; the Python process with imports alone: {baseline['peak_mb']:.0f} MB)")
print(f"ratio ingestion / bare read: {ingest['seconds'] / bare['seconds']:.2f} (target <= 2)")
print(f"peak memory: {ingest['peak_mb']:.0f} MB (target < 2048 MB)")
