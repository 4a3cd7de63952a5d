"""Two imports at the same time, from two real processes: the store is neither corrupted nor holds a session twice."""
from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import time
from pathlib import Path

import duckdb
import pytest

from analytics import store
from analytics.ingest import load_sessions
from analytics.store import StoreBusy

HEADER = "session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain"


def make_file(path: Path, ids: range, pain: int) -> Path:
    rows = [f"S{i:05d},P{i % 97:03d},2025-{1 + i % 12:02d}-{1 + i % 28:02d},Botox,{100 + i % 50},7,{pain}"
            for i in ids]
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def _import_when_released(path: str, db: str, barrier, queue) -> None:
    """In a child process: check the file, wait for the other process, then import at the same moment."""
    result = load_sessions(path)
    digest = store.file_hash(path)
    barrier.wait()
    try:
        report = store.import_result(result, digest, Path(path).name, None, db, lock_timeout=60)
        queue.put(("ok", report.batch_id, report.new, report.updated, report.unchanged))
    except Exception as err:  # pragma: no cover - reported to the parent
        queue.put(("error", repr(err)))


def run_together(*files: Path, db: Path) -> list[tuple]:
    context = mp.get_context("spawn")
    barrier = context.Barrier(len(files))
    queue = context.Queue()
    workers = [context.Process(target=_import_when_released, args=(str(f), str(db), barrier, queue))
               for f in files]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return results


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
    winner = 5 if log.loc[2, "file_name"] == "b.csv" else 3
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
