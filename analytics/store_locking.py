"""Reaching the outcome store: its resolved path, the lock, and telling an outcome store from anything else.

Why: the same store reached through a symlink or `..` must be the same lock (else two imports run at once and
the second fails inside DuckDB); a store on a read-only mount must still be readable; and a path that holds a
CSV, a folder or a damaged file must give a plain message, never a DuckDB traceback. Pure functions, no Streamlit.
"""
from __future__ import annotations

import errno
import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

DB_ENV = "OUTCOMES_DB"
MEMORY_ENV = "OUTCOMES_DB_MEMORY"
DEFAULT_WRITER_MEMORY = "3GB"
LOCK_TIMEOUT_ENV = "OUTCOMES_DB_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 120.0
DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "outcomes.duckdb"
STORE_TABLES = {"meta", "import_log", "sessions", "assessments"}
_DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
_NO_LOCK_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}


class StoreError(Exception):
    """The store refused an operation; the message says why in plain words."""


class StoreBusy(StoreError):
    """Another process held the store for longer than the lock timeout."""


class StoreMissing(StoreError):
    """There is no store at the path given."""


def default_db_path() -> Path:
    """The store's path: the OUTCOMES_DB environment variable, else data/outcomes.duckdb in the project."""
    value = os.environ.get(DB_ENV, "").strip()
    return Path(value) if value else DEFAULT_DB


def given_path(db_path: str | Path | None) -> Path:
    """The path as the caller gave it (the default store when none), for messages."""
    return Path(db_path) if db_path not in (None, "") else default_db_path()


def resolved_path(db_path: str | Path | None) -> Path:
    """The store's real path (symlinks and `..` resolved): one store, one lock, whatever the spelling."""
    return Path(os.path.realpath(given_path(db_path)))


def lock_timeout(timeout: float | None) -> float:
    if timeout is not None:
        return float(timeout)
    try:
        return float(os.environ.get(LOCK_TIMEOUT_ENV, "") or DEFAULT_LOCK_TIMEOUT)
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def _open_lock_file(lock: str, exclusive: bool, shown: Path) -> int | None:
    """The lock file's descriptor; None for a reader that cannot create or open it (read-only mount, no right)."""
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        if err.errno not in _NO_LOCK_ERRNOS:
            raise StoreError(f"The lock file of the outcome store {shown} cannot be opened: {err.strerror}.") from None
        if exclusive:
            raise StoreError(f"The outcome store {shown} cannot be written here ({err.strerror}): it is on a "
                             "read-only disk or you may not write to its folder. Nothing was changed.") from None
    try:
        return os.open(lock, os.O_RDONLY)  # an existing lock file can be locked through a read-only descriptor
    except OSError:
        return None  # nobody can write this store from here either: read it without the lock


@contextmanager
def store_lock(db_path: str | Path | None = None, exclusive: bool = True,
               timeout: float | None = None) -> Iterator[None]:
    """Hold `<resolved db>.lock`: exclusive for writes, shared for reads; StoreBusy after `timeout` seconds.

    flock locks belong to the open file, so two threads of one process exclude each other too. A reader that
    cannot create the lock file (read-only mount, no permission) reads without it: no writer can run there.
    """
    shown, path = given_path(db_path), resolved_path(db_path)
    wait = lock_timeout(timeout)
    if exclusive:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"The folder of the outcome store {shown} cannot be created: {err.strerror}.") from None
    fd = _open_lock_file(str(path) + ".lock", exclusive, shown)
    if fd is None:
        yield
        return
    try:
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"The outcome store {shown} is busy: another import or undo has held it for more than "
                        f"{wait:g} seconds. Nothing was changed; try again when it has finished (the wait is "
                        f"set by {LOCK_TIMEOUT_ENV}).") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def check_store_file(db_path: str | Path | None) -> None:
    """Raise StoreMissing when nothing is at the path, StoreError when what is there is not a DuckDB database."""
    shown, path = given_path(db_path), resolved_path(db_path)
    if not path.exists():
        raise StoreMissing(f"There is no outcome store at {shown}: check the path (--db or {DB_ENV}), or import a "
                           "file to create one.")
    if path.is_dir():
        raise StoreError(f"{shown} is a folder, not an outcome store: give the path of the store's .duckdb file.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError as err:
        raise StoreError(f"The outcome store {shown} cannot be read: {err.strerror}.") from None
    if len(head) < 12 or head[8:12] != _DUCKDB_MAGIC:
        raise StoreError(f"{shown} is not an outcome store: it is not a DuckDB database file (is it a data file? "
                         "Check the file with `validate` and add it with `import`).")


def writer_memory() -> str:
    """How much memory DuckDB may use while writing the store (OUTCOMES_DB_MEMORY, default 3GB); past it, it sorts
    on disk. Why: an import rewrites the derived table in order, and at registry scale (10M sessions) DuckDB would
    otherwise take 5 GB for it beside the import's own frames; at a clinic's size it never reaches the limit."""
    value = os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_WRITER_MEMORY
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, flags=re.IGNORECASE):
        raise StoreError(f"{MEMORY_ENV}={value!r} is not an amount of memory: write it like 3GB or 1500MB.")
    return value


def connect(db_path: str | Path | None, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the store's resolved path; a damaged file gives a StoreError in plain words. A
    writer's memory is bounded (writer_memory)."""
    shown, path = given_path(db_path), resolved_path(db_path)
    memory = None if read_only else writer_memory()
    try:
        con = duckdb.connect(str(path), read_only=read_only)
        if memory is not None:
            con.execute(f"SET memory_limit = '{memory}'")
        return con
    except duckdb.Error as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise StoreError(f"The outcome store {shown} cannot be opened: the file is damaged, truncated or not a "
                         f"store this program can read ({detail}).") from None


def store_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}


def check_is_outcome_store(con: duckdb.DuckDBPyConnection, db_path: str | Path | None) -> bool:
    """True for an outcome store, False for a DuckDB file with no table at all; StoreError for any other database.

    The store's tables are probed directly (cheap); the catalog is listed only when one is missing.
    """
    probe = " UNION ALL ".join(f"SELECT NULL FROM {t} WHERE false" for t in sorted(STORE_TABLES))
    try:
        con.execute(probe).fetchall()
        return True
    except duckdb.Error:
        pass
    tables = store_tables(con)
    if STORE_TABLES <= tables:
        return True
    if not tables:
        return False
    raise StoreError(f"{given_path(db_path)} is a DuckDB database but not an outcome store (it has no "
                     f"{', '.join(sorted(STORE_TABLES - tables))} table); nothing was read or changed.")
