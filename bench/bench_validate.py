"""Benchmark: checking the 1.3-million-session file against a bare pyarrow read of the same file.

Run: .venv/bin/python bench/bench_validate.py [FILE]
Each step runs in 3 fresh processes (best time kept): a bare `pyarrow.csv.read_csv` of the file,
`load_sessions` of it (read + every check of the data contract), and `python -m analytics validate FILE` as a
whole process. Prints their ratios to the bare read beside the target (<= 2x) and each step's peak memory.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, ensure_big_file, measure

SHARED = Path("/work/main/bench/data/sessions_200k.csv")


def whole_process(args: list[str], repeats: int = 3) -> dict:
    """Best wall time of a whole command over fresh processes, and the largest peak memory of a child."""
    best, peak = None, 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, _, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = 0  # reaped by wait4
        best = seconds if best is None else min(best, seconds)
        peak = max(peak, usage.ru_maxrss / 1024)
    return {"seconds": best, "peak_mb": peak}


def main() -> None:
    if len(sys.argv) > 1:
        path = Path(sys.argv[1])
    else:
        path = SHARED if SHARED.exists() else ensure_big_file()
    size_mb = path.stat().st_size / 1048576
    bare = measure(f"import pyarrow.csv as c; t = c.read_csv({str(path)!r})", "import pyarrow.csv")
    ingest = measure(f"r = load_sessions({str(path)!r}); assert not r.refused, r.file_errors",
                     "from analytics.ingest import load_sessions")
    bare_process = whole_process([sys.executable, "-c", f"import pyarrow.csv as c; c.read_csv({str(path)!r})"])
    validate = whole_process([sys.executable, "-m", "analytics", "validate", str(path)])
    print(f"file: {path.name}, {size_mb:.0f} MB")
    print(f"{'step':<44}{'best of 3':>10}{'ratio':>8}{'target':>8}{'peak MB':>9}")
    rows = [("bare pyarrow.csv.read_csv (in process)", bare, bare["seconds"], ""),
            ("load_sessions (in process)", ingest, bare["seconds"], "<= 2x"),
            ("bare read_csv, whole process", bare_process, bare_process["seconds"], ""),
            ("python -m analytics validate, whole process", validate, bare_process["seconds"], "<= 2x")]
    for label, run, peer, target in rows:
        print(f"{label:<44}{run['seconds']:>9.2f}s{run['seconds'] / peer:>7.2f}x{target:>8}{run['peak_mb']:>9.0f}")
    print("(ratios are against the bare read measured in this same run; peak memory is each process's own)")


if __name__ == "__main__":
    main()
