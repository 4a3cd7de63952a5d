"""Benchmark: registry scale (issue 12, item 4): a 10-million-session file, imported and summarised, against
DuckDB doing the same by hand in the same run.

The file is made once with the sample generator (data/sample/generate.py, about 6.3 sessions per patient, so
1,580,000 patients for 10M sessions) under bench/data/registry_<size>/ (git-ignored, with bench/data/).

Run: .venv/bin/python bench/bench_registry.py [--sessions 10000000] [--data-dir DIR] [--repeats 1] [--peer-sql F]
     --sessions 2000000 is a quicker check (about 315,000 patients).
Each step is a fresh process timed by /usr/bin/time (wall seconds, peak resident memory):
1. `python -m analytics import FILE --db STORE` (a fresh store) against DuckDB's own
   `CREATE TABLE sessions AS SELECT * FROM read_csv(FILE)` into a fresh database file: target <= 3x.
2. `python -m analytics summary --db STORE --json` against the SQL peer bench/summary_peer.sql run by the duckdb
   module over `read_csv(FILE)` (the same headline figures written by hand): target <= 1.0x.
3. The peak memory of each: target <= 6 GB.
It needs a few GB of memory and, at 10M sessions, many minutes: run nothing else heavy beside it.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SESSIONS_PER_PATIENT = 1_267_616 / 200_000  # what the generator gives (bench/data/sessions_200k.csv)
PEER_SQL = ROOT / "bench" / "summary_peer.sql"
MEMORY_TARGET_MB = 6 * 1024

# The peer's input: the file as read by DuckDB, with the row's place in the file (orders same-day sessions).
PEER = """
import duckdb, sys
file, sql_path = sys.argv[1], sys.argv[2]
con = duckdb.connect()
quoted = "'" + file.replace("'", "''") + "'"  # a view cannot take a prepared parameter
con.execute(f"CREATE VIEW sessions AS SELECT *, row_number() OVER () AS input_order FROM read_csv({quoted})")
sql = open(sql_path, encoding="utf-8").read() if sql_path else PLACEHOLDER
print(con.execute(sql).fetchall())
"""
# TODO(lead): used only when bench/summary_peer.sql is missing; the real peer is that file.
PLACEHOLDER_SQL = ("SELECT max(session_date) AS as_of, count(*) AS sessions, count(DISTINCT patient_id) AS patients "
                   "FROM sessions")
CTAS = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
quoted = "'" + sys.argv[1].replace("'", "''") + "'"
con.execute(f"CREATE TABLE sessions AS SELECT * FROM read_csv({quoted})")
con.close()
"""


def registry_file(data: Path, sessions: int) -> Path:
    """The generated file for about `sessions` sessions, made once."""
    patients = max(1000, round(sessions / SESSIONS_PER_PATIENT / 1000) * 1000)
    label = f"{sessions // 1_000_000}m" if sessions % 1_000_000 == 0 else f"{sessions // 1000}k"
    folder = data / f"registry_{label}"
    name = f"sessions_{patients // 1000}k.csv"
    path = folder / name
    if not path.exists():
        print(f"Generating {path} ({patients:,} patients) ...", flush=True)
        subprocess.run([sys.executable, str(ROOT / "data" / "sample" / "generate.py"), "--patients", str(patients),
                        "--out", str(folder), "--big-only"], check=True)
    return path


def timed(argv: list[str], ok=(0,)) -> tuple[float, float]:
    """(wall seconds, peak MB) of one process, its output discarded."""
    done = subprocess.run(["/usr/bin/time", "-f", "%e %M", *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(argv[:4])} ... exited {done.returncode}: {done.stderr[-3000:]}")
    seconds, kb = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024


def shown(name: str, argv: list[str], ok=(0,)) -> tuple[float, float]:
    """timed(), its figures printed at once (a long run shows its progress)."""
    seconds, mb = timed(argv, ok)
    print(f"{name:<52} {seconds:8.1f} {mb:8.0f}", flush=True)
    return seconds, mb


def remove_db(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000_000, help="about how many sessions (default 10M)")
    parser.add_argument("--data-dir", default=str(ROOT / "bench" / "data"))
    parser.add_argument("--repeats", type=int, default=1, help="runs of each step; the best time is kept")
    parser.add_argument("--peer-sql", default=str(PEER_SQL), help="the SQL peer (default bench/summary_peer.sql)")
    args = parser.parse_args()
    path = registry_file(Path(args.data_dir), args.sessions)
    store, peer_db = path.with_name("registry_store.duckdb"), path.with_name("registry_ctas.duckdb")
    py = sys.executable
    sql = args.peer_sql if Path(args.peer_sql).exists() else ""
    peer = PEER.replace("PLACEHOLDER", repr(PLACEHOLDER_SQL))
    rows = sum(1 for _ in path.open("rb")) - 1
    print(f"file: {path} ({rows:,} sessions, {path.stat().st_size / 1048576:,.0f} MB); best of {args.repeats}")
    if not sql:
        print("NOTE: bench/summary_peer.sql is missing: the peer is a placeholder count, not the headline figures")
    print(f"{'step':<52} {'seconds':>8} {'peak MB':>8}", flush=True)
    ctas_runs, import_runs, peer_runs, summary_runs = [], [], [], []
    for _ in range(args.repeats):  # alternate product and peer, so both see the same machine
        remove_db(peer_db)
        ctas_runs.append(shown("DuckDB CREATE TABLE AS SELECT * FROM read_csv", [py, "-c", CTAS, str(path),
                                                                                 str(peer_db)]))
        remove_db(store)
        import_runs.append(shown("python -m analytics import FILE --db STORE",
                                 [py, "-m", "analytics", "import", str(path), "--db", str(store)], ok=(0, 1)))
    for _ in range(args.repeats):
        peer_runs.append(shown("DuckDB summary_peer.sql over read_csv(FILE)", [py, "-c", peer, str(path), sql]))
        summary_runs.append(shown("python -m analytics summary --db STORE --json",
                                  [py, "-m", "analytics", "summary", "--db", str(store), "--json"]))
    remove_db(peer_db)
    ctas, imported, by_sql, summary = best(ctas_runs), best(import_runs), best(peer_runs), best(summary_runs)
    print(f"ratio import / CTAS           : {imported[0] / ctas[0]:5.2f} (target <= 3)")
    print(f"ratio summary --db / SQL peer : {summary[0] / by_sql[0]:5.2f} (target <= 1.0)")
    for name, (_, mb) in (("import", imported), ("summary --db", summary), ("CTAS", ctas), ("SQL peer", by_sql)):
        print(f"peak memory {name:<18}: {mb:6.0f} MB (target <= {MEMORY_TARGET_MB} MB)")


if __name__ == "__main__":
    main()
