"""The data, settings and selection in force for one run of a page, and the cached ways to compute from them."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from analytics import first_page, store
from analytics.access import Access, own_patients, patients_mask
from analytics.ingest import IngestResult
from analytics.selection import Selection, period_mask, take, value_mask
from analytics.settings import Settings
from analytics.store import derived_for
from views.cache import memo, settings_key
from views.sources import DataSource, store_base

LOG = logging.getLogger("outcomes")

# Worker threads for results a page starts ahead of needing them (Context.start): shared by every visitor of the
# process. Their jobs call analytics functions only, never Streamlit, on inputs the page's own thread made.
_AHEAD = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="ahead")
PRELOAD_MAX_SESSIONS = 2_000_000
_PRELOADING: set = set()  # (store state, settings) being read in the background
_PRELOADED: set = set()  # and those read (a later visit starts no thread: the caches hold them)
_PRELOADING_LOCK = threading.Lock()


def _timed(name: str, func: Callable, *args):
    """func(*args), its time in the debug log (OUTCOMES_LOG_LEVEL=DEBUG): what a worker thread spent on it."""
    started = time.perf_counter()
    try:
        return func(*args)
    finally:
        LOG.debug("ahead: %s: %.3f s", name, time.perf_counter() - started)


@dataclass
class Context:
    """The data, settings and selection in force for this run of a page."""

    source: DataSource
    load_result: Callable[[], IngestResult] = field(repr=False)  # the sessions: read when a page needs them
    settings: Settings
    selection: Selection
    as_of: pd.Timestamp
    as_of_chosen: bool
    first_date: pd.Timestamp
    _derived: Callable[[], pd.DataFrame] = field(repr=False, default=None)
    access: Access | None = None  # who is looking (views/signin.py); None only outside the app
    stored_sessions: int = 0  # the source's sessions, before any as-of date, setting or filter
    # results already being worked out in another thread, by their cache key (views/overview.py: the p-chart
    # beside the tiles); taken by the first that needs that very result
    ahead: dict[tuple, Future] = field(default_factory=dict, repr=False)

    @cached_property
    def result(self) -> IngestResult:
        """The accepted sessions of the source (for the clinic's store: read on first use, once per store
        state)."""
        return self.load_result()

    @cached_property
    def allowed_patients(self) -> pd.Index | None:
        """The patient codes this user may see one by one (a practitioner: those with any session of theirs in the
        data); None when every patient (leads, analysts, local mode). Aggregates are not limited by it."""
        if self.access is None or self.access.all_patients:
            return None
        ids = self.access.practitioner_ids
        return memo(self.source, "own_patients", ("own_patients", ids), own_patients,
                    lambda: ((self.result.data, ids), {}))

    def patient_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of a patient-level table this user may see: every patient-level table a page shows or offers
        for download is read through this."""
        if self.allowed_patients is None:
            return frame
        return frame.loc[patients_mask(frame, self.allowed_patients).to_numpy()]

    def may_see_patient(self, patient: str) -> bool:
        return self.allowed_patients is None or str(patient) in self.allowed_patients

    @property
    def skey(self) -> str:
        return settings_key(self.settings)

    @cached_property
    def derived(self) -> pd.DataFrame:
        """Every accepted session up to the as-of date with the per-session metrics (read-only). The clinic's store
        gives it from its derived table (store.derived_for on the one read kept per store state): nothing is
        derived again, only what the settings move."""
        if self.source.kind == "store" and self.source.path:
            base = store_base(self.source.path, self.source.key)
            if base is not None:
                return memo(self.source, "derive", ("derive", self.skey), derived_for,
                            lambda: ((base, self.settings), {}), big=True)
        return self._derived()

    def preload(self) -> None:
        """Read the clinic's store's sessions in the background (once per store state and settings): the first
        page was drawn from the results the store keeps ready, and the first filter, period or page change should
        not then wait for the read. The flags and the follow-up lag the store keeps are read first (every
        filter change needs them). A later run needing them waits for this one read (Streamlit's cache computes
        a value once). Every column up to PRELOAD_MAX_SESSIONS (at a clinic's size a second or two); past it only
        the Headline's columns (headline_base): reading every column holds the store's lock, and every visitor's
        audit row waits for it (8 s at 10M sessions), while the Headline's columns hold it 0.8 s."""
        if self.source.kind != "store" or "derived" in self.__dict__:
            return
        key = (self.source.key, self.skey)
        with _PRELOADING_LOCK:
            if key in _PRELOADING or key in _PRELOADED:
                return
            _PRELOADING.add(key)

        def read() -> None:
            started = time.perf_counter()
            try:
                self.flags()  # kept in the store: read once here, not by the first filter change (0.3 s at 10M)
                self.followup_lag()
                self.headline_base()  # cached in the process-wide cache
                LOG.debug("background read: the Headline's sessions: %.3f s", time.perf_counter() - started)
                if self.stored_sessions <= PRELOAD_MAX_SESSIONS:
                    self.derived  # noqa: B018 - the same
                    LOG.debug("background read: every column: %.3f s", time.perf_counter() - started)
                _PRELOADED.add(key)
            except Exception:  # noqa: BLE001 - a page that needs them reads them again and says what failed
                LOG.exception("reading the store's sessions in the background failed")
            finally:
                with _PRELOADING_LOCK:
                    _PRELOADING.discard(key)

        thread = threading.Thread(target=read, name="preload-store-sessions", daemon=True)
        add_script_run_ctx(thread, get_script_run_ctx())  # the caches it fills are this app's
        thread.start()

    @cached_property
    def scoped(self) -> pd.DataFrame:
        """Derived sessions of the chosen sites, practitioners, products and indications (any date), with the
        columns the filtered views read (first_page.ANALYSIS_COLUMNS); the whole rows stay in `derived`."""
        derived = self.derived
        slim = first_page.slim(derived)
        return take(slim, value_mask(slim, self.selection.values))

    @cached_property
    def window(self) -> first_page.Window:
        """Derived sessions of the chosen filters dated in the days the Headline reads (the period, the period
        before it and the p-chart's baseline months; first_page.HEADLINE_COLUMNS), with the filters' first session
        date: a filter change copies the numbers of those days, not every column of the whole history."""
        return first_page.window(self.headline_base(), self.selection, self.as_of)

    def headline_base(self) -> pd.DataFrame:
        """first_page.headline_base of the sessions, once per data and settings: from a registry-sized store (past
        PRELOAD_MAX_SESSIONS, where every column is not read in the background), a read of only its columns, so
        the Headline of a filter never waits for every column of every session; otherwise from `derived`, which
        is read anyway (one read of the store, not two)."""
        if self.source.kind == "store" and self.source.path and self.stored_sessions > PRELOAD_MAX_SESSIONS:
            def inputs() -> tuple:
                columns = list(first_page.HEADLINE_INPUT)
                return (store.read_derived(self.source.path, settings=self.settings, columns=columns),), {}
        else:
            def inputs() -> tuple:
                return (self.derived,), {}
        return self.cached("headline_base", first_page.headline_base, inputs, scope="all", big=True)

    @cached_property
    def sessions(self) -> pd.DataFrame:
        """Derived sessions obeying the whole selection, the period too: what the charts and tables show."""
        scoped = self.scoped
        return take(scoped, period_mask(scoped, self.selection.start, self.selection.end))

    def _key(self, name: str, scope: str, extra: tuple) -> tuple:
        """The cache key of `name` on this context (without the data's own key): settings, plus the selection
        (scope "sessions") or its filters only ("scoped"), plus `extra`."""
        key: tuple = (name, self.skey)
        if scope == "sessions":
            key += self.selection.key()
        elif scope == "scoped":
            key += (self.selection.values,)
        return key + tuple(extra)

    def cached(self, name: str, func: Callable, inputs: Callable[[], tuple], *, scope: str = "sessions",
               extra: tuple = (), big: bool = False):
        """func on this context's data, cached under data + settings (+ selection unless scope == 'all'). A
        result `start`ed for the same key is taken from its thread (on a miss) instead of being computed again."""
        key = self._key(name, scope, extra)
        job = self.ahead.pop(key, None)
        if job is not None:
            func, inputs = job.result, (lambda: ((), {}))
        return memo(self.source, name, key, func, inputs, big=big)

    def figure(self, name: str, build: Callable, inputs: Callable[[], tuple], **options):
        """A figure built once per data, settings and selection (plotly figures take a while to build), cached
        like the tables it is drawn from; inputs() gives the builder's (args, kwargs) and only runs on a miss."""
        return self.cached(f"figure_{name}", build, inputs, **options)

    def start(self, name: str, func: Callable, *args, scope: str = "sessions", extra: tuple = ()) -> None:
        """Begin func(*args) in a worker thread for the result `cached` will be asked for under the same name,
        scope and extra (once: a second call for the same key does nothing). func must be an analytics function:
        it runs outside the page's Streamlit context, on inputs this thread made."""
        key = self._key(name, scope, extra)
        if key not in self.ahead:
            self.ahead[key] = _AHEAD.submit(_timed, name, func, *args)

    def followup_lag(self) -> int:
        """How long follow-ups take here (days), over the whole data: kept in the store for the default settings
        (first_page.STORED)."""
        return self.cached("followup_lag", first_page.followup_lag, lambda: ((self.derived, self.settings), {}),
                           scope="all")

    def flags(self) -> pd.DataFrame:
        """Diminished / watch patients, each judged on their whole history (never on the filtered sessions); kept
        in the store for the default settings (first_page.STORED)."""
        return self.cached("flags", first_page.flags, lambda: ((self.derived, self.settings), {}), scope="all",
                           big=True)  # one object, read-only: not unpickled on every rerun (72 MB at 10M sessions)

    def n_sessions(self) -> int:
        """Sessions under the whole selection; cached, so a rerun does not filter the big table for it."""
        return self.cached("n_sessions", len, lambda: ((self.sessions,), {}))

    def period_text(self) -> str:
        start = self.selection.start or self.first_date.date()
        end = self.selection.end or self.as_of.date()
        return f"{start:%d %b %Y} to {end:%d %b %Y}"

    def as_of_text(self) -> str:
        how = "chosen" if self.as_of_chosen else "the latest session in the data"
        return f"{self.as_of:%d %b %Y} ({how})"

