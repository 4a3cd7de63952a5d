"""Two imports at the same time, from two real processes: the store is neither corrupted nor holds a session twice."""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from analytics import store
from analytics.ingest import load_sessions
from analytics.store import StoreBusy

ROOT = Path(__file__).resolve().parent.parent
HEADER = "session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain"


def make_file(path: Path, ids: range, pain: int) -> Path:
    rows = [f"S{i:05d},P{i % 97:03d},2025-{1 + i % 12:02d}-{1 + i % 28:02d},Botox,{100 + i % 50},7,{pain}"
            for i in ids]
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


# A child process: check the file, say it is ready, wait for the word go, then import. Started as a plain
# `python -c` (not multiprocessing), so it shares nothing with the test process but the files.
CHILD = """
import json, pathlib, sys, time
from analytics import store
from analytics.ingest import load_sessions
path, db, ready, go = sys.argv[1:5]
result = load_sessions(path)
digest = store.file_hash(path)
pathlib.Path(ready).touch()
while not pathlib.Path(go).exists():
    time.sleep(0.001)
report = store.import_result(result, digest, pathlib.Path(path).name, None, db, lock_timeout=60)
print(json.dumps(["ok", report.batch_id, report.new, report.updated, report.unchanged]))
"""


def run_together(*files: Path, db: Path) -> list[tuple]:
    """Import the files from as many processes, released at the same moment; their reports."""
    return run_jobs([(f, db) for f in files], db.parent / "signals")


def run_jobs(jobs: list[tuple[Path, Path]], signals: Path) -> list[tuple]:
    """Import (file, db path) pairs from as many processes released at the same moment; their reports."""
    signals.mkdir(exist_ok=True)
    go = signals / "go"
    ready = [signals / f"ready{i}" for i in range(len(jobs))]
    workers = [subprocess.Popen([sys.executable, "-c", CHILD, str(f), str(db), str(r), str(go)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for (f, db), r in zip(jobs, ready)]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers), \
                [w.communicate() for w in workers if w.poll() is not None]
            time.sleep(0.01)
        go.touch()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
    assert [w.returncode for w in workers] == [0] * len(workers), outputs
    return [tuple(json.loads(out.strip().splitlines()[-1])) for out, _ in outputs]


def stored_keys(db: Path) -> list[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT session_key FROM sessions").fetchall()]
    finally:
        con.close()


def test_the_same_file_imported_by_two_processes_at_once_is_stored_once(tmp_path):
    path = make_file(tmp_path / "jan.csv", range(2000), pain=3)
    db = tmp_path / "outcomes.duckdb"
    results = run_together(path, path, db=db)
    assert all(r[0] == "ok" for r in results), results
    outcomes = sorted((r[1] or 0, *r[2:]) for r in results)
    # one wrote every session; the other, which waited for the lock, found them all there already (no batch)
    assert outcomes == [(0, 0, 0, 2000), (1, 2000, 0, 0)]
    keys = stored_keys(db)
    assert len(keys) == 2000 and len(set(keys)) == 2000
    assert len(store.history(db)) == 1
    stored = store.read_sessions(db)
    assert stored["session_id"].is_unique and (stored["followup_pain"] == 3).all()


def test_two_overlapping_files_at_once_give_the_union_with_the_later_values(tmp_path):
    first = make_file(tmp_path / "a.csv", range(0, 1500), pain=3)
    second = make_file(tmp_path / "b.csv", range(1000, 2500), pain=5)  # 500 sessions in both
    db = tmp_path / "outcomes.duckdb"
    results = run_together(first, second, db=db)
    assert all(r[0] == "ok" for r in results), results
    by_batch = {r[1]: r[2:] for r in results}
    assert set(by_batch) == {1, 2}
    assert by_batch[1] == (1500, 0, 0)
    assert by_batch[2] == (1000, 500, 0)  # whichever came second updated the 500 shared sessions
    keys = stored_keys(db)
    assert len(keys) == 2500 and len(set(keys)) == 2500
    log = store.history(db).set_index("batch_id")
    winner = 5 if log.loc[2, "file_hash"] == store.file_hash(second) else 3
    stored = store.read_sessions(db).set_index("session_id")
    shared = [f"S{i:05d}" for i in range(1000, 1500)]
    assert (stored.loc[shared, "followup_pain"] == winner).all()
    # and the later batch can be undone, giving back the first file's state exactly
    store.undo(2, db)
    assert len(store.read_sessions(db)) == 1500


def test_a_busy_store_makes_the_import_wait_then_give_up_with_a_clear_message(tmp_path):
    path = make_file(tmp_path / "jan.csv", range(10), pain=3)
    db = tmp_path / "outcomes.duckdb"
    store.import_result(load_sessions(path), store.file_hash(path), "jan.csv", None, db)
    fd = os.open(str(db) + ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as another process in the middle of an import would
    try:
        started = time.monotonic()
        with pytest.raises(StoreBusy, match=r"busy.*Nothing was changed"):
            store.import_result(load_sessions(path), store.file_hash(path), "jan.csv", None, db,
                                lock_timeout=0.3)
        assert time.monotonic() - started >= 0.3
        with pytest.raises(StoreBusy):
            store.read_sessions(db, lock_timeout=0.2)  # readers wait for a writer too
        with pytest.raises(StoreBusy):
            store.undo(1, db, lock_timeout=0.2)
    finally:
        os.close(fd)
    assert len(store.read_sessions(db)) == 10
    assert store.undo(1, db).removed == 10


def test_readers_share_the_lock(tmp_path):
    path = make_file(tmp_path / "jan.csv", range(10), pain=3)
    db = tmp_path / "outcomes.duckdb"
    store.import_result(load_sessions(path), store.file_hash(path), "jan.csv", None, db)
    with store.store_lock(db, exclusive=False):
        assert len(store.read_sessions(db, lock_timeout=0.2)) == 10  # another reader gets in at once
