"""Rewriting the outcome store's file so that rows removed from it cannot be read from its bytes.

Why: DuckDB deletes rows logically; their text stays in the file's free blocks until the space is reused. After
an undo, a patient's erasure (`purge`) or the upgrade that replaces stored file names by neutral labels, the
removed text must be gone from the disk, not just from the tables. So the live tables are copied into a fresh
DuckDB file (COPY FROM DATABASE: every table with its types, constraints and defaults, only the rows that are
there) and the fresh file is swapped in with os.replace: the old file is never half-rewritten, and a crash leaves
either the old file or the new one.

The operation that removes rows marks the store (`mark_pending`, a row in meta) in its own transaction; the
writer compacts after the commit, still holding the exclusive lock and with no connection open. A compaction
that fails (a full disk, a crash) leaves the mark, so the next writer compacts. Pure functions, no Streamlit.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .store_locking import StoreError

PENDING = "compaction_pending"
_TARGET = "compaction_target"


def mark_pending(con: duckdb.DuckDBPyConnection) -> None:
    """Mark the store for compaction, in the caller's transaction (it commits with the rows' removal)."""
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, '1')", [PENDING])


def is_pending(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the store is marked for compaction (False for a database without the meta table)."""
    try:
        return bool(con.execute("SELECT count(*) FROM meta WHERE name = ?", [PENDING]).fetchone()[0])
    except duckdb.Error:
        return False


@dataclass(frozen=True)
class Compaction:
    """What a compaction did: the file's size before and after, and how long it took."""

    bytes_before: int
    bytes_after: int
    seconds: float


def _sidecars(path: Path) -> list[Path]:
    return [path, Path(str(path) + ".wal")]


def _remove(paths: list[Path]) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(str(path), os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compact_file(path: str | Path) -> Compaction:
    """Rewrite the DuckDB file at `path` (a resolved path) with only its live rows, and swap it in atomically.

    The caller holds the store's exclusive lock and has no connection open. The new file keeps the old one's
    permission bits (and owner, where allowed); the write-ahead log is checkpointed first and no .wal is left.
    StoreError (with the store unchanged) when the copy cannot be written.
    """
    path = Path(path)
    started = time.perf_counter()
    before = path.stat()
    temp = path.with_name(f".{path.name}.compacting-{os.getpid()}")
    _remove(_sidecars(temp))
    try:
        con = duckdb.connect(str(path))
        try:
            con.execute("CHECKPOINT")  # the file holds every committed row; its .wal is folded in
            source = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"ATTACH {_literal(str(temp))} AS {_TARGET}")
            con.execute(f"COPY FROM DATABASE {_quoted(source)} TO {_TARGET}")
            con.execute(f"DELETE FROM {_TARGET}.meta WHERE name = ?", [PENDING])
            con.execute(f"DETACH {_TARGET}")  # checkpoints and closes the new file
        finally:
            con.close()
        if Path(str(temp) + ".wal").exists():  # DETACH checkpoints; fold in anything left, to be sure
            duckdb.connect(str(temp)).close()
        os.chmod(temp, stat.S_IMODE(before.st_mode))
        try:
            os.chown(temp, before.st_uid, before.st_gid)
        except OSError:
            pass  # not allowed (not the owner): the file belongs to whoever writes it
        _fsync(temp)
        # the old file was checkpointed and closed: a .wal left now holds nothing that is not in the new file,
        # and must not be replayed against it
        _remove([Path(str(path) + ".wal")])
        os.replace(temp, path)
        _fsync(path.parent, directory=True)
    except (OSError, duckdb.Error) as err:
        _remove(_sidecars(temp))
        detail = getattr(err, "strerror", None) or str(err).splitlines()[0]
        raise StoreError(f"The change was saved, but the store file could not be rewritten ({detail}), so removed "
                         "values may still be readable in it; the next import, undo or purge will rewrite it "
                         "(free some disk space first).") from None
    return Compaction(before.st_size, path.stat().st_size, time.perf_counter() - started)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
