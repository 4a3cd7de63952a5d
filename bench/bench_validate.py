"""Benchmark: checking the 1.3-million-session file against a bare pyarrow read of the same file.

Run: .venv/bin/python bench/bench_validate.py [FILE] [--repeats N] [--before DIR]
Four steps, each in a fresh process, interleaved round by round (so a busy machine weighs on all of them alike),
best of N rounds (default 3) kept:
- a bare `pyarrow.csv.read_csv` of the file, timed inside the process (imports excluded);
- `load_sessions` of it (read + every check of the data contract), timed inside the process likewise;
- the bare read as a whole process (`python -c "import pyarrow.csv ...; read_csv(FILE)"`);
- `python -m analytics validate FILE` as a whole process.
Prints wall time, CPU time (user + system: less sensitive to other work on the machine), the ratios to the bare
read measured in the same run beside the target (<= 2x), and each process's peak memory.
--before DIR: also times load_sessions and validate of another checkout of the project (e.g. the code before a
change: `git archive <commit> | tar -x -C DIR`) in the same rounds, for a before/after ratio.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, ensure_big_file

SHARED = Path("/work/main/bench/data/sessions_200k.csv")

# A child process: imports (setup), then the step timed by wall clock and by its own CPU time.
_CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
{setup}
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu, start = usage.ru_utime + usage.ru_stime, time.perf_counter()
{step}
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime - cpu,
                  "peak_mb": usage.ru_maxrss / 1024}}))
"""


def in_process(setup: str, step: str, root: Path = ROOT) -> dict:
    """One fresh process; the step's own wall and CPU time and the process's peak memory."""
    code = _CHILD.format(root=str(root), setup=setup, step=step)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    return json.loads(done.stdout.strip().splitlines()[-1])


def whole_process(args: list[str], root: Path = ROOT) -> dict:
    """One whole command: wall time from start to exit, its CPU time and its peak memory."""
    start = time.perf_counter()
    child = subprocess.Popen(args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    child.returncode = 0  # reaped by wait4
    return {"seconds": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024}


def main() -> None:
    args = sys.argv[1:]
    repeats = 3
    if "--repeats" in args:
        at = args.index("--repeats")
        repeats = int(args[at + 1])
        del args[at:at + 2]
    before = None
    if "--before" in args:
        at = args.index("--before")
        before = Path(args[at + 1]).resolve()
        del args[at:at + 2]
    path = Path(args[0]) if args else (SHARED if SHARED.exists() else ensure_big_file())
    steps = {
        "bare": lambda: in_process("import pyarrow.csv as c", f"t = c.read_csv({str(path)!r})"),
        "load": lambda: in_process("from analytics.ingest import load_sessions",
                                   f"r = load_sessions({str(path)!r}); assert not r.refused, r.file_errors"),
        "bare process": lambda: whole_process([sys.executable, "-c",
                                               f"import pyarrow.csv as c; c.read_csv({str(path)!r})"]),
        "validate": lambda: whole_process([sys.executable, "-m", "analytics", "validate", str(path)]),
    }
    if before is not None:
        steps["load before"] = lambda: in_process(
            "from analytics.ingest import load_sessions",
            f"r = load_sessions({str(path)!r}); assert not r.refused, r.file_errors", before)
        steps["validate before"] = lambda: whole_process(
            [sys.executable, "-m", "analytics", "validate", str(path)], before)
    runs: dict[str, list[dict]] = {name: [] for name in steps}
    for _ in range(repeats):  # interleaved rounds
        for name, run in steps.items():
            runs[name].append(run())
    best = {name: min(r, key=lambda x: x["seconds"]) for name, r in runs.items()}
    cpu = {name: min(x["cpu"] for x in r) for name, r in runs.items()}
    peak = {name: max(x["peak_mb"] for x in r) for name, r in runs.items()}
    print(f"file: {path.name}, {path.stat().st_size / 1048576:.0f} MB; best of {repeats} interleaved rounds")
    print(f"{'step':<44}{'wall':>8}{'ratio':>8}{'cpu':>8}{'ratio':>8}{'target':>8}{'peak MB':>9}")
    rows = [("bare pyarrow.csv.read_csv (in process)", "bare", "bare", ""),
            ("load_sessions (in process)", "load", "bare", "<= 2x"),
            ("bare read_csv, whole process", "bare process", "bare process", ""),
            ("python -m analytics validate, whole process", "validate", "bare process", "<= 2x")]
    if before is not None:
        rows += [("load_sessions, before (in process)", "load before", "bare", ""),
                 ("validate, before (whole process)", "validate before", "bare process", "")]
    for label, name, peer, target in rows:
        wall, spent = best[name]["seconds"], cpu[name]
        print(f"{label:<44}{wall:>7.2f}s{wall / best[peer]['seconds']:>7.2f}x{spent:>7.2f}s"
              f"{spent / cpu[peer]:>7.2f}x{target:>8}{peak[name]:>9.0f}")
    if before is not None:
        print(f"speed-up: load_sessions {best['load before']['seconds'] / best['load']['seconds']:.2f}x, "
              f"validate {best['validate before']['seconds'] / best['validate']['seconds']:.2f}x (wall; before: "
              f"{before})")
    print("(ratios: against the bare read of the same run; wall is what the target is about, CPU time shows the "
          "work done whatever else the machine runs)")


if __name__ == "__main__":
    main()
