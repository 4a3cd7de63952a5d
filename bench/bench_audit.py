"""Benchmark: writing one audit row (`audit.record`), as the app does on every page visit.

Run: .venv/bin/python bench/bench_audit.py [--store PATH]
Prints the median (and 90th percentile) of 50 records, each opening the store under its write lock, inserting one
row in its own transaction and closing it, on:
  1. an empty store (created by the first record);
  2. a copy of the 1.27-million-session benchmark store (bench/out/bench_store.duckdb, made by bench_store.py;
     built here from the big file when missing);
  3. the same copy once its audit trail holds 1,000,000 rows (a busy clinic's years of page visits);
and, to explain the figures, the cost of opening and closing a DuckDB database at all (in memory, and the big
store), and of the insert alone on an open connection. Target: well under 50 ms. It also checks that a record
never rewrites the store (the file's inode is unchanged, a pending compaction stays pending).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from analytics import audit, store  # noqa: E402
from analytics.store_compaction import is_pending, mark_pending  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIG_STORE = ROOT / "bench" / "out" / "bench_store.duckdb"


def timed(step, n: int = 50) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        step(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def show(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    print(f"  {name}: median {statistics.median(ms):.1f} ms, p90 {ms[int(0.9 * len(ms)) - 1]:.1f} ms, "
          f"max {ms[-1]:.1f} ms ({len(ms)} runs)")


def records(db: Path) -> list[float]:
    return timed(lambda i: audit.record("lead@clinic.example", "lead", "view_page", f"Overview {i}", db_path=db))


def big_store(given: Path | None) -> Path:
    path = given or BIG_STORE
    if path.exists():
        return path
    from common import ensure_big_file

    from analytics.ingest import load_sessions

    big = ensure_big_file()
    print(f"Building {path} from {big.name} ...", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    store.import_result(load_sessions(big), store.file_hash(big), None, None, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", type=Path, help="the big store to copy (default bench/out/bench_store.duckdb)")
    args = parser.parse_args()
    source = big_store(args.store)
    with tempfile.TemporaryDirectory(dir=ROOT / "bench" / "out") as tmp:
        empty = Path(tmp) / "empty.duckdb"
        copy = Path(tmp) / "big.duckdb"
        shutil.copyfile(source, copy)
        sessions = store.stats(copy)["sessions"]
        print(f"audit.record latency (this machine; the store on {copy.parent}):")
        show("empty store", records(empty))
        with duckdb.connect(str(copy)) as con:  # a compaction left pending must stay pending
            mark_pending(con)
        inode = copy.stat().st_ino
        show(f"benchmark store, {sessions:,} sessions ({copy.stat().st_size / 1048576:.0f} MB)", records(copy))
        with duckdb.connect(str(copy), read_only=True) as con:
            pending = is_pending(con)
        print(f"  no rewrite by record: inode unchanged {copy.stat().st_ino == inode}, compaction still pending "
              f"{pending}")
        start = datetime(2024, 1, 1)
        with duckdb.connect(str(copy)) as con:
            con.execute("INSERT INTO audit_log SELECT ?::TIMESTAMP + to_seconds(i), 'user' || (i % 40) || "
                        "'@clinic.example', 'lead', 'view_page', 'Overview', 'ok' FROM range(1000000) t(i)",
                        [start])
        show("the same store with 1,000,000 audit rows", records(copy))
        since = (start + timedelta(days=11)).date()
        read_ms = timed(lambda i: audit.read(copy, since=since, user="user7@clinic.example"), n=10)
        show("audit.read of one user since a date, 1,000,000 rows", read_ms)
        print("where the time goes:")
        show("duckdb.connect(':memory:') + close", timed(lambda i: duckdb.connect(":memory:").close(), n=20))
        show("duckdb.connect(big store) + close", timed(lambda i: duckdb.connect(str(copy)).close(), n=20))
        con = duckdb.connect(str(copy))
        show("the INSERT alone on an open connection", timed(lambda i: con.execute(
            "INSERT INTO audit_log VALUES (now()::TIMESTAMP, 'a', 'lead', 'view_page', 'x', 'ok')"), n=20))
        con.close()


if __name__ == "__main__":
    main()
