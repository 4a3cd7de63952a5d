"""Store access: one lock per store whatever the path's spelling, reading without the lock where it cannot be
made, and a plain StoreError (never a DuckDB traceback) for a path that is not an outcome store."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import duckdb
import pytest

from analytics import store
from analytics.cli import main
from analytics.ingest import load_sessions
from analytics.store import StoreError, StoreMissing
from tests.test_store_concurrency import make_file, run_jobs


def test_two_processes_importing_through_two_spellings_of_one_store_wait_for_each_other(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "other").mkdir()
    db = tmp_path / "real" / "outcomes.duckdb"
    link = tmp_path / "link.duckdb"
    link.symlink_to(db)  # a symlink to a store that does not exist yet
    dotted = tmp_path / "other" / ".." / "real" / "outcomes.duckdb"
    path = make_file(tmp_path / "jan.csv", range(2000), pain=3)
    results = run_jobs([(path, link), (path, dotted)], tmp_path / "signals")
    assert sorted((r[1] or 0, *r[2:]) for r in results) == [(0, 0, 0, 2000), (1, 2000, 0, 0)]
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*), count(DISTINCT session_key) FROM sessions").fetchone() == (2000, 2000)
    finally:
        con.close()
    assert not Path(str(link) + ".lock").exists()  # one lock file, next to the real store
    assert Path(str(db) + ".lock").exists()


def test_the_lock_is_keyed_on_the_resolved_path(tmp_path):
    db = tmp_path / "outcomes.duckdb"
    link = tmp_path / "link.duckdb"
    link.symlink_to(db)
    store.import_result(load_sessions(make_file(tmp_path / "a.csv", range(5), 3)), "h", "a.csv", None, db)
    with store.store_lock(link, exclusive=True):
        with pytest.raises(store.StoreBusy, match=f"The outcome store {db} is busy"):
            store.import_result(load_sessions(tmp_path / "a.csv"), "h", "a.csv", None, db, lock_timeout=0.2)
    assert len(store.read_sessions(link)) == 5


def test_readers_read_without_the_lock_when_the_lock_file_cannot_be_made(tmp_path, monkeypatch):
    db = tmp_path / "outcomes.duckdb"
    store.import_result(load_sessions(make_file(tmp_path / "a.csv", range(5), 3)), "h", "a.csv", None, db)
    os.remove(str(db) + ".lock")
    real_open = os.open

    def read_only_mount(path, flags, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_mount)
    assert len(store.read_sessions(db)) == 5
    assert len(store.read_assessments(db)) == 0
    assert store.history(db)["new"].tolist() == [5]
    assert store.stats(db)["sessions"] == 5 and not store.is_empty(db)
    assert store.require_store(db) == db
    with pytest.raises(StoreError, match="cannot be written here .*read-only disk.*Nothing was changed"):
        store.undo(1, db)
    assert main(["summary", "--db", str(db), "--json"]) == 0
    assert not Path(str(db) + ".lock").exists()


def test_a_reader_uses_an_existing_lock_file_it_cannot_write(tmp_path, monkeypatch):
    db = tmp_path / "outcomes.duckdb"
    store.import_result(load_sessions(make_file(tmp_path / "a.csv", range(5), 3)), "h", "a.csv", None, db)
    real_open = os.open

    def no_write(path, flags, *args, **kwargs):
        if str(path).endswith(".lock") and flags & (os.O_RDWR | os.O_WRONLY):
            raise OSError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_write)
    with store.store_lock(db, exclusive=False):  # another reader holds the shared lock: no wait
        assert len(store.read_sessions(db, lock_timeout=0.2)) == 5


@pytest.fixture
def bad_paths(tmp_path) -> dict[str, Path]:
    csv = make_file(tmp_path / "sessions.csv", range(5), 3)
    good = tmp_path / "good.duckdb"
    store.import_result(load_sessions(csv), "h", "sessions.csv", None, good)
    truncated = tmp_path / "truncated.duckdb"
    shutil.copyfile(good, truncated)
    with open(truncated, "r+b") as handle:
        handle.truncate(10_000)
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    folder = tmp_path / "folder"
    folder.mkdir()
    empty = tmp_path / "empty.duckdb"
    empty.write_bytes(b"")
    return {"csv": csv, "truncated": truncated, "other": other, "folder": folder, "empty": empty}


MESSAGES = {
    "csv": "is not an outcome store: it is not a DuckDB database file",
    "empty": "is not an outcome store: it is not a DuckDB database file",
    "truncated": "cannot be opened: the file is damaged, truncated or not a store this program can read",
    "other": "is a DuckDB database but not an outcome store (it has no assessments, import_log, meta, sessions table)",
    "folder": "is a folder, not an outcome store",
}


@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_a_path_that_is_not_an_outcome_store_gives_a_plain_store_error(bad_paths, name, capsys):
    path = bad_paths[name]
    before = path.read_bytes() if path.is_file() else None
    for call in (store.require_store, store.read_sessions, store.read_assessments, store.history, store.stats,
                 store.is_empty, lambda p: store.undo(1, p),
                 lambda p: store.import_result(load_sessions(bad_paths["csv"]), "h", "x.csv", None, p)):
        with pytest.raises(StoreError) as caught:
            call(path)
        assert MESSAGES[name] in str(caught.value)
        assert str(path) in str(caught.value)
        assert type(caught.value) in (StoreError,)
    for argv in (["summary", "--db", str(path)], ["history", "--db", str(path)], ["undo", "1", "--db", str(path)],
                 ["import", str(bad_paths["csv"]), "--db", str(path)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert MESSAGES[name] in err and "Traceback" not in err
    if before is not None:
        assert path.read_bytes() == before  # nothing written


def test_require_store_on_a_missing_path_raises_store_missing(tmp_path):
    missing = tmp_path / "nope" / "outcomes.duckdb"
    with pytest.raises(StoreMissing, match=f"There is no outcome store at {missing}: check the path"):
        store.require_store(missing)
    assert isinstance(StoreMissing("x"), StoreError)
    assert not missing.parent.exists()
    report = store.import_result(load_sessions(make_file(tmp_path / "a.csv", range(3), 3)), "h", "a.csv", None,
                                 missing)  # an import may create a new store
    assert report.new == 3 and store.require_store(missing) == missing


def test_a_writer_s_memory_is_bounded_and_a_reader_s_is_not(tmp_path, monkeypatch):
    from analytics.store_locking import MEMORY_ENV, connect

    path = tmp_path / "outcomes.duckdb"
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    with connect(path, read_only=False) as con:  # 3GB, as DuckDB writes it back
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("2.7 GiB", "2.8 GiB")
    monkeypatch.setenv(MEMORY_ENV, "1500MB")
    with connect(path, read_only=False) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("1.3 GiB", "1.4 GiB")
    with connect(path, read_only=True) as con:  # DuckDB's own default: a fixed share of the machine's memory
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] not in ("1.3 GiB", "1.4 GiB")


@pytest.mark.parametrize("value", ["lots", "3 GB please", "-1GB", "3"])
def test_a_writer_memory_that_is_not_an_amount_is_refused_in_words(tmp_path, monkeypatch, value):
    from analytics.store_locking import MEMORY_ENV, connect

    monkeypatch.setenv(MEMORY_ENV, value)
    with pytest.raises(StoreError, match="OUTCOMES_DB_MEMORY=.* is not an amount of memory: write it like 3GB"):
        connect(tmp_path / "outcomes.duckdb", read_only=False)
    assert not (tmp_path / "outcomes.duckdb").exists()  # refused before anything was opened
