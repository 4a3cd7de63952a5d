"""Benchmark: `summary` against the same headline figures as one hand-written DuckDB SQL script (issue 12).

Run: .venv/bin/python bench/bench_peer.py [--runs 3] [--file F] [--db STORE]
Each of these runs as a whole process (interpreter start and imports included), best of --runs, with its peak
memory (/usr/bin/time), all in the same run so that the ratios compare like with like:

1. `python -m analytics summary FILE --json` against bench/summary_peer.sql over DuckDB's read_csv(FILE)
   (target: ratio <= 1.0);
2. `python -m analytics summary --db STORE --json` against the same SQL over the store's `sessions` table
   (target <= 1.0);
3. `summary` peak memory (target <= 1 GB).
The script also checks that the figures agree (the peer is a second method, tests/test_summary_sql_peer.py)
and prints any key that differs. FILE defaults to bench/data/sessions_200k.csv (generated the first time);
STORE to bench/out/peer_store.duckdb, made once by `python -m analytics import FILE --db STORE`.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, ensure_big_file

SQL = ROOT / "bench" / "summary_peer.sql"
KEYS = ("as_of", "sessions", "patients", "sessions_with_response", "responder_rate", "median_response_pct",
        "median_onset_days", "median_peak_days", "median_duration_days", "short_interval_share",
        "diminished_patients")

# The peer as a script a reviewer can run by hand: a view named `sessions` over the source, then the SQL file.
PEER = """
import duckdb, json, sys
source, sql = sys.argv[1], open(sys.argv[2]).read()
con = duckdb.connect(source if source.endswith('.duckdb') else ':memory:', read_only=source.endswith('.duckdb'))
con.execute("SET enable_progress_bar = false")
if source.endswith('.duckdb'):
    view = "SELECT *, batch_id * 1000000000000 + line AS input_order FROM sessions"
    con.execute(f"CREATE TEMP VIEW peer_sessions AS {view}")
    sql = sql.replace('FROM sessions', 'FROM peer_sessions')
else:
    con.execute(f"CREATE VIEW sessions AS SELECT *, row_number() OVER () AS input_order FROM read_csv('{source}')")
cursor = con.execute(sql)
out = dict(zip([d[0] for d in cursor.description], cursor.fetchone()))
out['as_of'] = str(out['as_of'])
print(json.dumps(out, default=float))
"""


def timed(command: list[str], runs: int) -> dict:
    """Best wall time and the largest peak memory over `runs` runs of a whole process; its last stdout."""
    best, peak, stdout = None, 0.0, ""
    for _ in range(runs):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as clock:
            done = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", clock.name, *command], cwd=ROOT,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
            seconds, kb = clock.read().split()[-2:]
        best = float(seconds) if best is None else min(best, float(seconds))
        peak = max(peak, int(kb) / 1024)
        stdout = done.stdout
    return {"seconds": best, "peak_mb": peak, "stdout": stdout}


def differences(product: dict, peer: dict) -> list[str]:
    """The keys on which summary and the SQL peer disagree (numbers to 1e-9)."""
    out = []
    for key in KEYS:
        mine, theirs = product.get(key), peer.get(key)
        if isinstance(mine, (int, float)) and isinstance(theirs, (int, float)):
            if abs(float(mine) - float(theirs)) > 1e-9 * max(1.0, abs(float(mine))):
                out.append(f"{key}: summary {mine} / peer {theirs}")
        elif key == "diminished_patients":
            if sorted(mine or []) != sorted(theirs or []):
                out.append(f"{key}: summary {len(mine or [])} patients / peer {len(theirs or [])}")
        elif mine != theirs and not (mine is None and theirs is None):
            out.append(f"{key}: summary {mine} / peer {theirs}")
    return out


def row(label: str, ours: dict, peer: dict, target: float) -> None:
    ratio = ours["seconds"] / peer["seconds"]
    print(f"{label}: {ours['seconds']:.2f} s / peer {peer['seconds']:.2f} s = {ratio:.2f}x "
          f"(target <= {target:.1f}x: {'met' if ratio <= target else 'NOT met'}); "
          f"peak memory {ours['peak_mb']:.0f} MB / peer {peer['peak_mb']:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--file", type=Path, default=None)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "peer_store.duckdb")
    parser.add_argument("--skip-store", action="store_true")
    args = parser.parse_args()
    path = (args.file or ensure_big_file()).resolve()
    python = sys.executable
    print(f"file: {path.name}, {path.stat().st_size / 1048576:.0f} MB; best of {args.runs} whole processes each")

    peer_csv = timed([python, "-c", PEER, str(path), str(SQL)], args.runs)
    ours_csv = timed([python, "-m", "analytics", "summary", str(path), "--json"], args.runs)
    row("summary FILE --json / SQL peer on read_csv(FILE)", ours_csv, peer_csv, 1.0)
    for problem in differences(json.loads(ours_csv["stdout"]), json.loads(peer_csv["stdout"])):
        print(f"  DIFFERENT {problem}")
    print(f"summary FILE peak memory: {ours_csv['peak_mb']:.0f} MB (target <= 1024 MB: "
          f"{'met' if ours_csv['peak_mb'] <= 1024 else 'NOT met'})")
    if args.skip_store:
        return
    db = args.db.resolve()
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"importing the file into {db} (once) ...", flush=True)
        subprocess.run([python, "-m", "analytics", "import", str(path), "--db", str(db)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    ours_db = timed([python, "-m", "analytics", "summary", "--db", str(db), "--json"], args.runs)
    peer_db = timed([python, "-c", PEER, str(db), str(SQL)], args.runs)
    row("summary --db STORE --json / SQL peer on the store's sessions table", ours_db, peer_db, 1.0)
    for problem in differences(json.loads(ours_db["stdout"]), json.loads(peer_db["stdout"])):
        print(f"  DIFFERENT {problem}")
    print(f"summary --db peak memory: {ours_db['peak_mb']:.0f} MB (target <= 1024 MB: "
          f"{'met' if ours_db['peak_mb'] <= 1024 else 'NOT met'})")


if __name__ == "__main__":
    main()
