"""Shared helpers for the benchmarks: the big generated file, and timing a step in a fresh process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIG = ROOT / "bench" / "data" / "sessions_200k.csv"

# A child process runs one step, then prints its wall time and its peak resident memory.
_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
setup = {setup!r}
step = {step!r}
namespace = {{}}
exec(setup, namespace)
start = time.perf_counter()
exec(step, namespace)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": seconds, "peak_mb": peak}}))
"""


def ensure_big_file(patients: int = 200_000) -> Path:
    """Generate the 200,000-patient file once (git-ignored) with the sample generator."""
    if not BIG.exists():
        print(f"Generating {BIG.relative_to(ROOT)} ({patients:,} patients) ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "data" / "sample" / "generate.py"), "--patients",
                        str(patients), "--out", str(BIG.parent), "--big-only"], check=True)
    return BIG


def measure(step: str, setup: str = "", repeats: int = 3) -> dict:
    """Best wall time and its peak memory over a few runs, each in a fresh Python process."""
    runs = []
    for _ in range(repeats):
        code = _CHILD.format(root=str(ROOT), setup=setup, step=step)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    return {"seconds": best["seconds"], "peak_mb": max(r["peak_mb"] for r in runs)}
