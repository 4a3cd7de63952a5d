"""Caching every page's results without mixing users' data.

Every cache key is made of the content hash of the data (plus the options it was read with), the settings in
force and the selection: never a DataFrame object, which Streamlit would hash from a sample of rows. Frames go in
as underscore arguments that Streamlit does not hash, through a zero-argument callable that only runs on a miss
(so a cached rerun does not even filter the table).
* Shared data (the sample, the configured file, the clinic's store): small results in st.cache_data; the big
  per-session table (derive_sessions, read-only) in st.cache_resource so it is not pickled and copied on every
  rerun.
* Uploaded data: never in a process-wide cache. Results are kept in st.session_state, keyed the same way, with a
  small least-recently-used limit, and go when the browser session ends.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import duckdb
import streamlit as st

from analytics import store, store_results
from analytics.first_page import STORED
from analytics.settings import Settings
from analytics.store import StoreError
from views import keys

MAX_SESSION_RESULTS = 64
MAX_SESSION_BIG = 4  # the derived sessions, the Headline's base and the flags, and one more


def settings_key(settings: Settings) -> str:
    """A stable text key for a Settings value (part of every cache key)."""
    return settings.key()


@st.cache_data(max_entries=512, show_spinner=False)
def _shared_result(name: str, key: tuple, _func: Callable, _inputs: Callable[[], tuple]):
    """A small result (a table, a dict) for shared data; Streamlit hashes only name and key."""
    args, kwargs = _inputs()
    return _func(*args, **kwargs)


@st.cache_resource(max_entries=9, show_spinner=False)  # derived, Headline base, flags: 3 settings
def _shared_big(name: str, key: tuple, _func: Callable, _inputs: Callable[[], tuple]):
    """A big read-only result (the derived session table) for shared data: kept as one object, not copied."""
    args, kwargs = _inputs()
    return _func(*args, **kwargs)


def session_memo(store_key: str, limit: int, name: str, key: tuple, func: Callable, inputs: Callable):
    """func(*inputs()) kept in this browser session under st.session_state[store_key], at most `limit` results
    (least recently used go first)."""
    memo_: OrderedDict = st.session_state.setdefault(store_key, OrderedDict())
    full = (name, key)
    if full in memo_:
        memo_.move_to_end(full)
        return memo_[full]
    args, kwargs = inputs()
    value = func(*args, **kwargs)
    memo_[full] = value
    while len(memo_) > limit:
        memo_.popitem(last=False)
    return value


@st.cache_data(ttl=60, max_entries=16, show_spinner=False)
def _kept_keys(path: str, version: str) -> frozenset[str] | None:
    """The keys of the results the store keeps for its state `version` (None: they cannot be listed now), listed
    at most once a minute: a filter change then opens the store only for a result it may hold (it keeps the
    default view's), not three times to find nothing (30 ms each)."""
    try:
        return store.kept_result_keys(version, path, lock_timeout=1.0)
    except (StoreError, duckdb.Error):  # busy (an import is writing) or unreadable: look each one up as before
        return None


def _kept_or_computed(source, key: tuple, func: Callable, inputs: Callable[[], tuple]) -> tuple[Callable, Callable]:
    """(func, inputs) that first read the result the clinic's store keeps ready under `key` for its current state
    (analytics/store_results.py) and only compute when it holds none (or cannot be read now): the default view's
    first page is then drawn without reading a single session."""
    def read_or_compute():
        listed = _kept_keys(str(source.path), source.key)
        try:
            if listed is not None and store_results.key_text(key) not in listed:
                kept = store_results.MISSING  # not kept: nothing to open the store for
            else:
                kept = store.read_result(key, source.key, source.path, lock_timeout=1.0)
        except (StoreError, duckdb.Error):  # busy (an import is writing) or unreadable: compute as always
            kept = store_results.MISSING
        if kept is not store_results.MISSING:
            return kept
        args, kwargs = inputs()
        return func(*args, **kwargs)
    return read_or_compute, lambda: ((), {})


def memo(source, name: str, key: tuple, func: Callable, inputs: Callable[[], tuple], big: bool = False):
    """func(*args, **kwargs) with (args, kwargs) = inputs(), cached under (name, source.key, *key).

    Shared data: st.cache_data (big=False) or st.cache_resource (big=True). Uploads: this session only. On a miss,
    a result the store keeps ready (first_page.STORED) is read from it instead of computed.
    """
    full_key = (source.key, *key)
    if source.kind == "store" and source.path and name in STORED and key and key[0] == name:
        func, inputs = _kept_or_computed(source, key, func, inputs)
    if source.shared:
        cache = _shared_big if big else _shared_result
        return cache(name, full_key, func, inputs)
    if big:
        return session_memo(keys.MEMO_BIG, MAX_SESSION_BIG, name, full_key, func, inputs)
    return session_memo(keys.MEMO, MAX_SESSION_RESULTS, name, full_key, func, inputs)


def forget_session_results() -> None:
    """Drop this session's results (the data in use changed)."""
    st.session_state.pop(keys.MEMO, None)
    st.session_state.pop(keys.MEMO_BIG, None)
