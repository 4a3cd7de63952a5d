"""Benchmark: registry scale (issue 12, item 4): a 10-million-session file, imported and summarised, against
DuckDB doing the same by hand in the same run.

The file is made once with the sample generator (data/sample/generate.py, about 6.3 sessions per patient, so
1,578,000 patients: 10,007,406 sessions, 1.6 GB, about 2 minutes and 7 GB of memory to generate) under
bench/data/registry_<size>/ (git-ignored, with bench/data/), beside the store imported from it. The file is over
the importer's default size limit, so the product's steps run with OUTCOMES_MAX_FILE_MB raised.

Run: .venv/bin/python bench/bench_registry.py [--sessions 10000000] [--data-dir DIR] [--repeats 1] [--peer-sql F]
     [--max-gb 12] [--parts 5]
     --sessions 2000000 is a quicker check (316,000 patients, 2,003,621 sessions). --parts 5 imports the file cut
     by patient into five CSVs (made once beside it), one after the other with --no-first-page, then runs
     `first-page` once; the time is their sum (the cutting is not counted).
Each step is a fresh process timed by /usr/bin/time (wall seconds, peak resident memory):
1. `python -m analytics import FILE --db STORE` (a fresh store) against DuckDB's own
   `CREATE TABLE sessions AS SELECT * FROM read_csv(FILE)` into a fresh database file: target <= 3x.
2. `python -m analytics summary --db STORE --json` against the SQL peer bench/summary_peer.sql run by the duckdb
   module over `read_csv(FILE)` (the same headline figures written by hand): target <= 1.0x.
3. The peak memory of each: target <= 6 GB.
It needs up to 10 GB of memory and, at 10M sessions, about 15 minutes: run nothing else heavy beside it. A step
past --max-gb is killed (its process group only) and reported as FAILED; the run goes on.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
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
        seconds, mb = timed([sys.executable, str(ROOT / "data" / "sample" / "generate.py"), "--patients",
                             str(patients), "--out", str(folder), "--big-only"], max_mb=MAX_MB)
        print(f"generated in {seconds:.0f} s, peak {mb:,.0f} MB", flush=True)
    return path


def timed(argv: list[str], ok=(0,), max_mb: float | None = None) -> tuple[float, float]:
    """(wall seconds, peak MB) of one process, its output discarded. Past max_mb of resident memory (the sum over
    the process and its children, polled twice a second) the process group is killed and the step reported as
    failed: on a shared machine an import that would need 15 GB must not take the others down with it."""
    out = tempfile.TemporaryFile()
    child = subprocess.Popen(["/usr/bin/time", "-f", "%e %M", *argv], cwd=ROOT, stdout=out,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    killed = 0.0
    while True:
        try:
            child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            used = _tree_rss_mb(child.pid)
            if max_mb and used > max_mb:
                killed = used
                os.killpg(child.pid, signal.SIGKILL)  # the group this script started, nothing else
    stderr = child.stderr.read()
    if killed:
        raise SystemExit(f"{' '.join(argv[:4])} ... killed at {killed:,.0f} MB of memory (limit --max-gb)")
    if child.returncode not in ok:
        out.seek(0)
        said = out.read(1500).decode("utf-8", "replace")
        raise SystemExit(f"{' '.join(argv[:4])} ... exited {child.returncode}: {said}{stderr[-3000:]}")
    seconds, kb = stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MB (Linux /proc)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                total += next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total / 1024


MAX_MB = None  # set from --max-gb


def shown(name: str, argv: list[str], ok=(0,)) -> tuple[float, float]:
    """timed(), its figures printed at once (a long run shows its progress); a failed step prints why and
    counts as nan, and the run goes on."""
    try:
        seconds, mb = timed(argv, ok, MAX_MB)
    except SystemExit as failed:
        print(f"{name:<52} FAILED: {failed}", flush=True)
        return float("nan"), float("nan")
    print(f"{name:<52} {seconds:8.1f} {mb:8.0f}", flush=True)
    return seconds, mb


SPLIT = """
import duckdb, sys
file, folder, parts = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
quoted = "'" + file.replace("'", "''") + "'"
for part in range(parts):
    out = "'" + f"{folder}/part_{part + 1}_of_{parts}.csv".replace("'", "''") + "'"
    con.execute(f"COPY (SELECT * FROM read_csv({quoted}, all_varchar = true) WHERE hash(patient_id) % {parts} = {part}) "
                f"TO {out} (HEADER, DELIMITER ',')")
"""


def split_file(path: Path, parts: int) -> list[Path]:
    """The file cut into `parts` CSVs by patient (every session of a patient in one part), made once beside it:
    a registry's history imported in parts, as the README advises for files past a few million sessions."""
    folder = path.with_name(f"parts_{parts}")
    files = [folder / f"part_{i + 1}_of_{parts}.csv" for i in range(parts)]
    if not all(f.exists() for f in files):
        folder.mkdir(exist_ok=True)
        print(f"Splitting {path.name} into {parts} parts by patient ...", flush=True)
        timed([sys.executable, "-c", SPLIT, str(path), str(folder), str(parts)], max_mb=MAX_MB)
    return files


def import_in_parts(files: list[Path], store: Path) -> tuple[float, float]:
    """Each part imported in turn into a fresh store with --no-first-page, then `first-page` computes the
    dashboard's first page once for the whole store, in a process of its own: (total seconds, largest peak MB)."""
    total, peak = 0.0, 0.0
    for number, part in enumerate(files, 1):
        seconds, mb = shown(f"  import part {number} of {len(files)}",
                            [sys.executable, "-m", "analytics", "import", str(part), "--db", str(store),
                             "--no-first-page"], ok=(0, 1))
        total, peak = total + seconds, max(peak, mb)
    seconds, mb = shown("  python -m analytics first-page --db STORE",
                        [sys.executable, "-m", "analytics", "first-page", "--db", str(store)])
    total, peak = total + seconds, max(peak, mb)
    print(f"{'python -m analytics import, ' + str(len(files)) + ' parts in turn':<52} {total:8.1f} {peak:8.0f}",
          flush=True)
    return total, peak


def remove_db(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)


def best(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The best time and the largest peak (nan when every run failed)."""
    done = [r for r in runs if r[0] == r[0]]
    return (min(r[0] for r in done), max(r[1] for r in done)) if done else (float("nan"), float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10_000_000, help="about how many sessions (default 10M)")
    parser.add_argument("--data-dir", default=str(ROOT / "bench" / "data"))
    parser.add_argument("--repeats", type=int, default=1, help="runs of each step; the best time is kept")
    parser.add_argument("--peer-sql", default=str(PEER_SQL), help="the SQL peer (default bench/summary_peer.sql)")
    parser.add_argument("--parts", type=int, default=1,
                        help="import the file cut into this many parts by patient, in turn (default 1: whole)")
    parser.add_argument("--max-gb", type=float, default=12.0,
                        help="kill a step past this much resident memory (default 12; the target is 6)")
    args = parser.parse_args()
    global MAX_MB
    MAX_MB = args.max_gb * 1024
    path = registry_file(Path(args.data_dir), args.sessions)
    store, peer_db = path.with_name("registry_store.duckdb"), path.with_name("registry_ctas.duckdb")
    py = sys.executable
    sql = args.peer_sql if Path(args.peer_sql).exists() else ""
    peer = PEER.replace("PLACEHOLDER", repr(PLACEHOLDER_SQL))
    size_mb = path.stat().st_size / 1048576
    if size_mb * 1.1 > float(os.environ.get("OUTCOMES_MAX_FILE_MB") or 1024):  # a registry raises the limit
        os.environ["OUTCOMES_MAX_FILE_MB"] = str(int(size_mb * 2))
        print(f"OUTCOMES_MAX_FILE_MB={os.environ['OUTCOMES_MAX_FILE_MB']} (the default 1024 MB refuses this file)")
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
        if args.parts > 1:
            import_runs.append(import_in_parts(split_file(path, args.parts), store))
        else:
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
