"""Where the sessions on every page come from.

The clinic's store (analytics/store.py, OUTCOMES_DB) as soon as it holds sessions, else the sample file
(data/sample/sessions.csv) under a "Sample data" banner; the file named by OUTCOMES_DATA_FILE over both; and, in
one browser session only, the user's own upload once they press "Look at this file without importing" on the
Data page. `DataSource`
carries the content key that roots every cache key (views/cache.py).
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from analytics import store
from analytics.ingest import IngestResult, load_sessions
from analytics.selection import choices
from views import keys
from views.cache import forget_session_results, memo

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILE = ROOT / "data" / "sample" / "sessions.csv"
DATA_FILE_ENV = "OUTCOMES_DATA_FILE"
SAMPLE_LABEL = "Sample data (synthetic patients)"
STORE_LABEL = "Clinic store"  # never the store's file name or path: users cannot open the server's files


@dataclass(frozen=True)
class DataSource:
    """Where the sessions come from. `key` is the content hash plus read options: the root of every cache key."""

    label: str
    kind: str  # "sample" | "file" | "store" | "upload"
    key: str
    shared: bool  # True: may use process-wide caches (not a user's upload)
    path: str | None = None  # the store's path (kind "store"): Context.derived reads its derived table

    @property
    def is_sample(self) -> bool:
        return self.kind == "sample"


def content_hash(data: bytes, **options) -> str:
    """blake2b of the bytes plus the options they were read with (mapping, date order, identifier choice...)."""
    digest = hashlib.blake2b(data, digest_size=16)
    if options:
        digest.update(json.dumps(options, sort_keys=True, default=str).encode("utf-8"))
    return digest.hexdigest()


def default_file() -> tuple[Path, str]:
    """The file shown when no upload is in use, and its kind: OUTCOMES_DATA_FILE if set, else the sample."""
    configured = os.environ.get(DATA_FILE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve(), "file"
    return SAMPLE_FILE, "sample"


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_shared_file(path: str, size: int, mtime_ns: int) -> tuple[str, IngestResult]:
    """Read and check a server-side file once per process; keyed by path, size and modification time, and
    the content hash returned with it keys everything computed from it. Read-only: never modified."""
    del size, mtime_ns  # only part of the key
    data = Path(path).read_bytes()
    result = load_sessions(data, name=Path(path).name)
    return content_hash(data), result


def store_fingerprint(db_path: Path) -> str | None:
    """A key that changes with every import or undo; None when there is no store or it holds no session.

    Read from the store only when its files changed (size and modification time of the database and its
    write-ahead log), so a rerun does not open the database just to find it unchanged."""
    if not db_path.exists():
        return None
    stamp = []
    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
        stat = path.stat() if path.exists() else None
        stamp.append((stat.st_size, stat.st_mtime_ns) if stat else None)
    return _store_fingerprint(str(db_path), tuple(stamp))


@st.cache_data(max_entries=8, show_spinner=False)
def _store_fingerprint(db_path: str, stamp: tuple) -> str | None:
    del stamp  # only part of the key: an audit row changes the file, store.data_version tells whether data did
    return store.data_version(db_path)


# What the sidebar and the access rules read from a store's sessions (dates, filter values, practitioners);
# every page computes from the derived sessions (store_base, Context.derived), not from these.
STORE_SESSION_COLUMNS = ("patient_id", "session_date", "site", "practitioner_id", "indication", "product")


@st.cache_resource(max_entries=2, show_spinner=False)
def _load_store(db_path: str, fingerprint: str) -> IngestResult:
    """The store's sessions as an accepted-rows result, read once per store state (the fingerprint): from its
    derived table, only the columns of STORE_SESSION_COLUMNS (a store made before schema 4: every column)."""
    base = store_base(db_path, fingerprint)
    if base is None:
        return IngestResult.from_accepted(store.read_sessions(db_path), Path(db_path).name)
    return IngestResult.from_accepted(base[list(STORE_SESSION_COLUMNS)], Path(db_path).name)


@st.cache_resource(max_entries=2, show_spinner=False)
def store_base(db_path: str, fingerprint: str):
    """store.read_derived_base once per store state: every session with the stored derived columns, from which
    each visitor's settings give the derived table (store.derived_for) without reading the store again. None for a
    store made before schema 4 (derived from the sessions instead, until the next import upgrades it)."""
    del fingerprint  # only part of the key
    return store.read_derived_base(db_path)


@dataclass(frozen=True)
class Facts:
    """What the sidebar needs to start: the first and latest session_date and the values of each filter column."""

    sessions: int
    first: pd.Timestamp
    latest: pd.Timestamp
    options: dict  # filter column -> the values offered (analytics.selection.choices)


def facts_of(data: pd.DataFrame) -> Facts:
    return Facts(len(data), pd.Timestamp(data["session_date"].min()).normalize(),
                 pd.Timestamp(data["session_date"].max()).normalize(), choices(data))


@st.cache_data(max_entries=4, show_spinner=False)
def _store_facts(db_path: str, fingerprint: str) -> Facts:
    """store.facts once per store state: a few aggregate queries, no session read into memory."""
    del fingerprint  # only part of the key
    found = store.facts(db_path)
    return Facts(found["sessions"], found["first"].normalize(), found["latest"].normalize(), found["options"])


def _accepted(result: IngestResult) -> IngestResult:
    if result.refused or len(result.data) == 0:
        raise RuntimeError("the data source has no accepted sessions: " + " ".join(result.file_errors))
    return result


def load_default_source() -> tuple[DataSource, Facts, Callable[[], IngestResult]]:
    """The configured file (OUTCOMES_DATA_FILE), else the clinic's store when it holds sessions, else the sample:
    the source, its facts, and how to get its sessions. The store's sessions are read only when a page needs them
    (the default view's first page is kept ready in the store: views/cache.py)."""
    path, kind = default_file()
    if kind == "sample":
        db_path = store.default_db_path()
        fingerprint = store_fingerprint(db_path)
        if fingerprint:
            source = DataSource(STORE_LABEL, "store", fingerprint, shared=True, path=str(db_path))
            return (source, _store_facts(str(db_path), fingerprint),
                    lambda: _accepted(_load_store(str(db_path), fingerprint)))
    if not path.exists():
        raise FileNotFoundError(f"The data file {path} does not exist (set {DATA_FILE_ENV} to a readable file).")
    stat = path.stat()
    key, result = _load_shared_file(str(path), stat.st_size, stat.st_mtime_ns)
    label = SAMPLE_LABEL if kind == "sample" else path.name
    source = DataSource(label, kind, key, shared=True)
    return source, _file_facts(source, _accepted(result)), lambda: result


def _file_facts(source: DataSource, result: IngestResult) -> Facts:
    return memo(source, "facts", ("facts",), facts_of, lambda: ((result.data,), {}))


def default_kind() -> str:
    """What the pages show without an upload: "file" (OUTCOMES_DATA_FILE), "store" (the clinic's store holds
    sessions) or "sample". Cheap: the store is only asked when its files changed."""
    _, kind = default_file()
    if kind == "sample" and store_fingerprint(store.default_db_path()):
        return "store"
    return kind


def back_label() -> str:
    """The words of the button that stops using an upload: back to what the pages show without it."""
    return "Back to the sample data" if default_kind() == "sample" else "Back to the clinic's data"


def use_upload(name: str, key: str, result: IngestResult) -> None:
    """Make an accepted upload the data of every page in this browser session."""
    st.session_state[keys.UPLOAD] = {"name": name, "key": key, "result": result}
    forget_session_results()


def use_default() -> None:
    """Back to the store, the sample or the configured file."""
    st.session_state.pop(keys.UPLOAD, None)
    forget_session_results()


def active_upload() -> dict | None:
    """The upload in use in this browser session: {"name", "key", "result"}, or None."""
    return st.session_state.get(keys.UPLOAD)


def active_source() -> tuple[DataSource, Facts, Callable[[], IngestResult]]:
    """The upload in use in this session, else the default source: the source, its facts and how to get its
    sessions. RuntimeError when it has no accepted session."""
    upload = active_upload()
    if upload:
        name = upload["name"]  # the ingest's label ("upload <time>, <rows> rows" or the user's), never a file name
        label = name[:1].upper() + name[1:] if name.startswith("upload ") else f"Upload: {name}"
        source, result = DataSource(label, "upload", upload["key"], shared=False), upload["result"]
        return source, _file_facts(source, _accepted(result)), lambda: result
    return load_default_source()
