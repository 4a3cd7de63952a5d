"""What every page shares: the data source, the sidebar (period, filters, thresholds, as-of), caching, and the
guard that turns an exception into a short message for the user and a traceback in the server log.

Data source. The sample file (data/sample/sessions.csv) by default, or the file named by the environment
variable OUTCOMES_DATA_FILE, or the user's own upload once they press "Use this data" on the Data page. An
upload lives in this browser session's st.session_state only. `DataSource` is the seam where a database store
plugs in: the clinic's store (analytics/store.py, OUTCOMES_DB) is shown instead of the sample as soon as it holds
sessions; anything that can give an IngestResult and a content key will do.

Caching. Every cache key is made of the content hash of the data (plus the options it was read with), the
settings in force and the filters: never a DataFrame object, which Streamlit would hash from a sample of rows.
Frames go in as underscore arguments that Streamlit does not hash, through a zero-argument callable that only
runs on a cache miss (so a cached rerun does not even filter the table).
* Shared data (the sample, the configured file): small results in st.cache_data; the big per-session table
  (derive_sessions, read-only) in st.cache_resource so it is not pickled and copied on every rerun.
* Uploaded data: never in a process-wide cache. Results are kept in st.session_state, keyed the same way,
  with a small least-recently-used limit, and go when the browser session ends.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from analytics import store
from analytics.export import csv_name, to_csv_bytes
from analytics.ingest import IngestResult, load_sessions
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS, Settings

LOG = logging.getLogger("outcomes.app")
ROOT = Path(__file__).resolve().parent.parent
SAMPLE_FILE = ROOT / "data" / "sample" / "sessions.csv"
DATA_FILE_ENV = "OUTCOMES_DATA_FILE"
SAMPLE_LABEL = "Sample data (synthetic patients)"

# Session-state keys (one place, so pages and tests agree).
UPLOAD_KEY = "active_upload"  # the upload in use: {"name", "key", "result"}
MEMO_KEY = "_memo"  # per-session results for uploaded data
MEMO_BIG_KEY = "_memo_big"
MAX_SESSION_RESULTS = 64
MAX_SESSION_BIG = 2

FILTER_COLUMNS = {  # sidebar label -> column
    "Site": "site",
    "Practitioner": "practitioner_id",
    "Product": "product",
    "Indication": "indication",
}
# The columns the filtered views need (every analytics call of the Overview, Patients and Compare pages reads
# only these). Filtering a slim frame is several times faster than filtering all ~40 columns of 1.3M sessions.
ANALYSIS_COLUMNS = (
    "patient_id", "session_date", "site", "practitioner_id", "indication", "product", "total_units", "cycle",
    "interval_days", "short_interval", "booster", "response_pct", "twstrs_change", "has_response", "responder",
    "substantial", "onset_days", "peak_days", "duration_days", "duration_event", "any_adverse_event",
    "adverse_events",
)
PERIODS = ("Last 3 months", "Last 6 months", "Last 12 months", "All data", "Custom range")
DEFAULT_PERIOD = "Last 12 months"
_MONTHS = {"Last 3 months": 3, "Last 6 months": 6, "Last 12 months": 12}


# ---- thresholds in the sidebar ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Knob:
    """One adjustable setting: its Settings field, label, bounds and step, and the help text."""

    field: str
    label: str
    low: float
    high: float
    step: float
    help: str
    scale: float = 1.0  # widget value = setting x scale (fractions shown as %)

    @property
    def key(self) -> str:
        return f"setting_{self.field}"

    def default(self) -> float | int:
        value = getattr(DEFAULT_SETTINGS, self.field) * self.scale
        return int(round(value)) if isinstance(self.step, int) else float(value)


KNOBS = (
    Knob("responder_threshold_pct", "Responder: pain reduction of at least (%)", 5, 100, 5,
         "IMMPACT: 30% is a moderately important reduction, 50% a substantial one."),
    Knob("substantial_threshold_pct", "Substantial response: at least (%)", 5, 100, 5,
         "Shown as the 'substantial' line on charts of response."),
    Knob("twstrs_responder_drop", "TWSTRS responder: drop of at least (points)", 1, 40, 1,
         "Used where pain was not scored (cervical dystonia)."),
    Knob("short_interval_days", "Short interval: sooner than (days)", 7, 365, 7,
         "Re-injection sooner than 12 weeks (84 days) is linked to neutralising antibodies."),
    Knob("booster_days", "Booster: sooner than (days)", 1, 120, 1, "A top-up soon after an injection."),
    Knob("onset_within_days", "Onset expected within (days)", 1, 60, 1, "Share of sessions with onset by then."),
    Knob("peak_within_days", "Peak expected within (days)", 1, 120, 1, "Share of sessions peaking by then."),
    Knob("waning_last_n", "Diminished: last N responses all low, N =", 1, 6, 1,
         "How many of the latest responses must all be low for a 'diminished' flag."),
    Knob("waning_fraction_pct", "Low response: below (% of the patient's best)", 10, 90, 5,
         "A response below this share of the patient's best earlier response counts as low."),
    Knob("dose_raise_pct", "Factor: dose raised by at least (%)", 5, 200, 5,
         "Since the best cycle, same product."),
    Knob("muscle_keep_fraction", "Factor: muscles kept below (%)", 10, 100, 5,
         "Fewer than this share of the best cycle's muscles still injected.", scale=100.0),
    Knob("duration_shortened_pct", "Factor: benefit shorter by at least (%)", 5, 90, 5,
         "Latest recorded duration against the patient's earlier median."),
    Knob("min_group_patients", "Hide groups with fewer than (patients)", 1, 50, 1,
         "Small-number suppression: such groups show 'suppressed' in every table, chart and export."),
)
INT_FIELDS = {"short_interval_days", "booster_days", "onset_within_days", "peak_within_days", "waning_last_n",
              "min_group_patients"}


def _knob_value(knob: Knob) -> float | int:
    value = st.session_state.get(knob.key, knob.default())
    value = value / knob.scale
    return int(round(value)) if knob.field in INT_FIELDS else float(value)


def reset_settings() -> None:
    """Put every threshold and the as-of date back to the defaults of metrics.md."""
    for knob in KNOBS:
        st.session_state[knob.key] = _widget_default(knob)
    st.session_state["as_of"] = None


def _widget_default(knob: Knob):
    value = getattr(DEFAULT_SETTINGS, knob.field) * knob.scale
    return int(round(value)) if knob.field in INT_FIELDS or knob.scale != 1.0 else float(value)


def _keep(widget_key: str, store_key: str) -> None:
    """Copy a widget's value to the key that outlives it (widgets behind a closed expander are not drawn, and
    Streamlit forgets the state of widgets that were not drawn)."""
    st.session_state[store_key] = st.session_state[widget_key]


def thresholds(first: pd.Timestamp) -> None:
    """The as-of date and every threshold, in an expander whose widgets are only drawn while it is open."""
    with lazy_expander("Thresholds and as-of date", "exp_thresholds", ":material/tune:") as is_open:
        if not is_open:
            return
        st.session_state["w_as_of"] = st.session_state.get("as_of")
        st.date_input("As of (analysis date)", key="w_as_of", min_value=first.date(), format="DD/MM/YYYY",
                      on_change=_keep, args=("w_as_of", "as_of"),
                      help="Sessions after it are left out; benefit still running on it is censored there. "
                           "Empty: the latest session in the data.")
        for knob in KNOBS:
            cast = int if knob.field in INT_FIELDS or knob.scale != 1.0 else float
            widget = f"w_{knob.key}"
            st.session_state[widget] = st.session_state[knob.key]
            st.number_input(knob.label, min_value=cast(knob.low), max_value=cast(knob.high), step=cast(knob.step),
                            key=widget, help=knob.help, on_change=_keep, args=(widget, knob.key))
        st.button("Reset to the defaults", on_click=reset_settings, key="reset_settings")


def settings_key(settings: Settings) -> str:
    """A stable text key for a Settings value (part of every cache key)."""
    return json.dumps(settings.to_dict(), sort_keys=True)


# ---- data sources --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataSource:
    """Where the sessions come from. `key` is the content hash plus read options: the root of every cache key."""

    label: str
    kind: str  # "sample" | "file" | "store" | "upload"
    key: str
    shared: bool  # True: may use process-wide caches (not a user's upload)

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
    del stamp  # only part of the key
    if store.is_empty(db_path):
        return None
    log = store.history(db_path)
    return hashlib.blake2b(log.to_json(date_format="iso").encode("utf-8"), digest_size=16).hexdigest()


@st.cache_resource(max_entries=2, show_spinner=False)
def _load_store(db_path: str, fingerprint: str) -> IngestResult:
    """The store's sessions as an accepted-rows result, read once per store state (the fingerprint)."""
    data = store.read_sessions(db_path)
    empty = pd.DataFrame(columns=["line", "column", "field", "value", "reason"])
    return IngestResult("sessions", data, empty, empty.rename(columns={"reason": "warning"}),
                        pd.DataFrame(columns=["line", "duplicate_of"]),
                        pd.DataFrame(columns=["line", "key", "other_lines"]), [], n_rows=len(data),
                        source_name=Path(db_path).name)


def load_default_source() -> tuple[DataSource, IngestResult]:
    """The configured file (OUTCOMES_DATA_FILE), else the clinic's store when it holds sessions, else the sample."""
    path, kind = default_file()
    if kind == "sample":
        db_path = store.default_db_path()
        fingerprint = store_fingerprint(db_path)
        if fingerprint:
            result = _load_store(str(db_path), fingerprint)
            return DataSource(f"Clinic store ({db_path.name})", "store", fingerprint, shared=True), result
    if not path.exists():
        raise FileNotFoundError(f"The data file {path} does not exist (set {DATA_FILE_ENV} to a readable file).")
    stat = path.stat()
    key, result = _load_shared_file(str(path), stat.st_size, stat.st_mtime_ns)
    label = SAMPLE_LABEL if kind == "sample" else path.name
    return DataSource(label, kind, key, shared=True), result


def use_upload(name: str, key: str, result: IngestResult) -> None:
    """Make an accepted upload the data of every page in this browser session."""
    st.session_state[UPLOAD_KEY] = {"name": name, "key": key, "result": result}
    st.session_state.pop(MEMO_KEY, None)
    st.session_state.pop(MEMO_BIG_KEY, None)


def use_default() -> None:
    """Back to the sample (or configured) file."""
    st.session_state.pop(UPLOAD_KEY, None)
    st.session_state.pop(MEMO_KEY, None)
    st.session_state.pop(MEMO_BIG_KEY, None)


def active_source() -> tuple[DataSource, IngestResult]:
    """The upload in use in this session, else the default file."""
    upload = st.session_state.get(UPLOAD_KEY)
    if upload:
        return DataSource(f"Upload: {upload['name']}", "upload", upload["key"], shared=False), upload["result"]
    return load_default_source()


# ---- caching ------------------------------------------------------------------------------------------------

@st.cache_data(max_entries=512, show_spinner=False)
def _shared_result(name: str, key: tuple, _func: Callable, _inputs: Callable[[], tuple]):
    """A small result (a table, a dict) for shared data; Streamlit hashes only name and key."""
    args, kwargs = _inputs()
    return _func(*args, **kwargs)


@st.cache_resource(max_entries=6, show_spinner=False)
def _shared_big(name: str, key: tuple, _func: Callable, _inputs: Callable[[], tuple]):
    """A big read-only result (the derived session table) for shared data: kept as one object, not copied."""
    args, kwargs = _inputs()
    return _func(*args, **kwargs)


def _session_memo(store_key: str, limit: int, name: str, key: tuple, func: Callable, inputs: Callable):
    memo: OrderedDict = st.session_state.setdefault(store_key, OrderedDict())
    full = (name, key)
    if full in memo:
        memo.move_to_end(full)
        return memo[full]
    args, kwargs = inputs()
    value = func(*args, **kwargs)
    memo[full] = value
    while len(memo) > limit:
        memo.popitem(last=False)
    return value


def memo(source: DataSource, name: str, key: tuple, func: Callable, inputs: Callable[[], tuple],
         big: bool = False):
    """func(*args, **kwargs) with (args, kwargs) = inputs(), cached under (name, source.key, *key).

    Shared data: st.cache_data (big=False) or st.cache_resource (big=True). Uploads: this session only.
    """
    full_key = (source.key, *key)
    if source.shared:
        cache = _shared_big if big else _shared_result
        return cache(name, full_key, func, inputs)
    if big:
        return _session_memo(MEMO_BIG_KEY, MAX_SESSION_BIG, name, full_key, func, inputs)
    return _session_memo(MEMO_KEY, MAX_SESSION_RESULTS, name, full_key, func, inputs)


# ---- filters and the context every page reads ------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The sidebar's choices: a period of whole days and the chosen values per column (empty = all)."""

    period: str = DEFAULT_PERIOD
    start: date | None = None
    end: date | None = None
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (column, chosen values)

    def key(self) -> tuple:
        return (self.start.isoformat() if self.start else None, self.end.isoformat() if self.end else None,
                self.values)

    def describe(self) -> str:
        parts = [f"{column.replace('_id', '')}: {', '.join(chosen)}" for column, chosen in self.values if chosen]
        return "; ".join(parts) if parts else "all sites, practitioners, products and indications"


def _mask(frame: pd.DataFrame, values: tuple) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    for column, chosen in values:
        if chosen and column in frame.columns:
            keep &= frame[column].isin(list(chosen)).to_numpy(dtype=bool, na_value=False)
    return keep


def _in_period(frame: pd.DataFrame, start: date | None, end: date | None) -> np.ndarray:
    days = frame["session_date"].to_numpy().astype("datetime64[D]")
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= days >= np.datetime64(start, "D")
    if end is not None:
        keep &= days <= np.datetime64(end, "D")
    return keep


def _take(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    return frame if keep.all() else frame.loc[keep].reset_index(drop=True)


@dataclass
class Context:
    """The data, settings and filters in force for this run of a page."""

    source: DataSource
    result: IngestResult
    settings: Settings
    filters: Filters
    as_of: pd.Timestamp
    as_of_chosen: bool
    first_date: pd.Timestamp
    _derived: Callable[[], pd.DataFrame] = field(repr=False, default=None)

    @property
    def skey(self) -> str:
        return settings_key(self.settings)

    @cached_property
    def derived(self) -> pd.DataFrame:
        """Every accepted session up to the as-of date with the per-session metrics (read-only)."""
        return self._derived()

    @cached_property
    def scoped(self) -> pd.DataFrame:
        """Derived sessions of the chosen sites, practitioners, products and indications (any date), with the
        columns the filtered views read (ANALYSIS_COLUMNS); the whole rows stay in `derived`."""
        derived = self.derived
        slim = derived[[c for c in ANALYSIS_COLUMNS if c in derived.columns]]
        return _take(slim, _mask(slim, self.filters.values))

    @cached_property
    def sessions(self) -> pd.DataFrame:
        """Derived sessions obeying every filter, the period too: what the charts and tables show."""
        scoped = self.scoped
        return _take(scoped, _in_period(scoped, self.filters.start, self.filters.end))

    def cached(self, name: str, func: Callable, inputs: Callable[[], tuple], *, scope: str = "sessions",
               extra: tuple = (), big: bool = False):
        """func on this context's data, cached under data + settings (+ filters unless scope == 'all')."""
        key: tuple = (name, self.skey)
        if scope == "sessions":
            key += self.filters.key()
        elif scope == "scoped":
            key += (self.filters.values,)
        return memo(self.source, name, key + tuple(extra), func, inputs, big=big)

    def n_sessions(self) -> int:
        """Sessions under every filter; cached, so a rerun does not filter the big table for it."""
        return self.cached("n_sessions", len, lambda: ((self.sessions,), {}))

    def period_text(self) -> str:
        start = self.filters.start or self.first_date.date()
        end = self.filters.end or self.as_of.date()
        return f"{start:%d %b %Y} to {end:%d %b %Y}"

    def as_of_text(self) -> str:
        how = "chosen" if self.as_of_chosen else "the latest session in the data"
        return f"{self.as_of:%d %b %Y} ({how})"


def _derive(data: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    return derive_sessions(data, settings)


def _choices(data: pd.DataFrame) -> dict[str, list[str]]:
    """The values offered in each filter, sorted."""
    out = {}
    for column in FILTER_COLUMNS.values():
        if column in data.columns:
            values = data[column].dropna().astype("str").unique()
            out[column] = sorted(v for v in values if v.strip())
        else:
            out[column] = []
    return out


def _period_bounds(period: str, as_of: pd.Timestamp, first: pd.Timestamp) -> tuple[date | None, date | None]:
    if period == "All data":
        return None, as_of.date()
    months = _MONTHS[period]
    start = (as_of - pd.DateOffset(months=months) + pd.Timedelta(days=1)).date()
    return max(start, first.date()) if start < first.date() else start, as_of.date()


def sidebar() -> Context:
    """Draw the shared sidebar and return the context every page reads. Call once per run, before the page."""
    for knob in KNOBS:
        st.session_state.setdefault(knob.key, _widget_default(knob))
    st.session_state.setdefault("period", DEFAULT_PERIOD)
    st.session_state.setdefault("as_of", None)

    with st.spinner("Loading and checking the data..."):
        source, result = active_source()
    data = result.data
    if result.refused or len(data) == 0:
        raise RuntimeError("the data source has no accepted sessions: " + " ".join(result.file_errors))

    side = st.sidebar
    latest = pd.Timestamp(data["session_date"].max()).normalize()
    first = pd.Timestamp(data["session_date"].min()).normalize()
    chosen_as_of = st.session_state.get("as_of")
    as_of = pd.Timestamp(chosen_as_of).normalize() if chosen_as_of else latest

    side.markdown(f"**Data:** {source.label}  \n**As of:** {as_of:%d %b %Y}"
                  + ("" if chosen_as_of else " (latest session)"))
    if source.kind == "upload":
        side.button("Back to the sample data", on_click=use_default, key="back_to_default",
                    help="Stop using your upload in this browser session.")

    side.subheader("Period")
    period = side.selectbox("Sessions from", PERIODS, key="period",
                            help="Every page counts the sessions dated in this period. KPI tiles compare it with "
                                 "the period of the same length just before it.")
    if period == "Custom range":
        default_range = (max(first, as_of - pd.DateOffset(months=12) + pd.Timedelta(days=1)).date(), as_of.date())
        chosen = side.date_input("From - to", value=default_range, min_value=first.date(),
                                 max_value=max(latest, as_of).date(), key="custom_range", format="DD/MM/YYYY")
        if isinstance(chosen, (tuple, list)) and len(chosen) == 2:
            start, end = chosen
        else:  # the user has picked the first day only so far
            start, end = (chosen[0] if isinstance(chosen, (tuple, list)) and chosen else first.date()), as_of.date()
    else:
        start, end = _period_bounds(period, as_of, first)

    side.subheader("Filters")
    options = memo(source, "choices", ("choices",), _choices, lambda: ((data,), {}))
    values = []
    for label, column in FILTER_COLUMNS.items():
        if not options.get(column):
            continue
        chosen = side.multiselect(label, options[column], key=f"filter_{column}", placeholder="All")
        values.append((column, tuple(sorted(chosen))))

    with side:
        thresholds(first)

    changes = {knob.field: _knob_value(knob) for knob in KNOBS}
    settings = DEFAULT_SETTINGS.with_changes(**changes, as_of=as_of.date() if chosen_as_of else None)
    changed = [knob.label for knob in KNOBS if getattr(settings, knob.field) != getattr(DEFAULT_SETTINGS, knob.field)]
    if changed:
        side.caption("Thresholds changed from the defaults: " + "; ".join(changed) + ".")

    filters = Filters(period, start, end, tuple(values))

    def derived() -> pd.DataFrame:
        with st.spinner("Working out cycles, intervals, responses and benefit durations..."):
            return memo(source, "derive", ("derive", settings_key(settings)), _derive,
                        lambda: ((data, settings), {}), big=True)

    return Context(source, result, settings, filters, as_of, bool(chosen_as_of), first, derived)


def context() -> Context:
    """The context the entry point built for this run; stops the page with a message when there is none."""
    if "_context" not in st.session_state:  # a page run without the entry point: build it here
        st.session_state["_context"] = sidebar()
    ctx = st.session_state["_context"]
    if ctx is None:
        st.error("The data could not be opened, so there is nothing to show. Upload your sessions file on the "
                 "**Data** page.", icon=":material/error:")
        st.stop()
    return ctx


# ---- shared page furniture ------------------------------------------------------------------------------------

def header(ctx: Context, title: str, intro: str) -> None:
    """Page title, the sample-data banner, and one line with source, as-of, period and filters."""
    st.title(title)
    if ctx.source.is_sample:
        st.info("**Sample data**: synthetic patients made up for this demonstration, not a clinic's records; the "
                "clinic's store is empty. Upload your clinic's export on the **Data** page and import it to see your "
                "own figures.", icon=":material/science:")
    st.caption(f"{intro}  \n**Data:** {ctx.source.label} · **as of** {ctx.as_of_text()} · "
               f"**period** {ctx.period_text()} · {ctx.filters.describe()}")


def no_sessions_message(ctx: Context) -> None:
    """The empty state: say why nothing is shown and what to do."""
    st.warning(f"No sessions match the filters: {ctx.filters.describe()}, {ctx.period_text()}. "
               "Choose a longer period or clear a filter in the sidebar.", icon=":material/filter_alt_off:")


def download(table: pd.DataFrame, label: str, name: str, key: str | None = None) -> None:
    """A CSV download of a table, with formula injection neutralised (analytics.export)."""
    st.download_button(f"Download {label} (CSV)", data=to_csv_bytes(table), file_name=csv_name(name),
                       mime="text/csv", key=key or f"download_{csv_name(name)}", icon=":material/download:")


def table_with_download(table: pd.DataFrame, label: str, name: str, *, height: int | None = None,
                        column_config: dict | None = None, key: str | None = None,
                        screen: pd.DataFrame | None = None) -> None:
    """A table (or its screen form) and the CSV download of the table beneath it."""
    options: dict[str, Any] = {"hide_index": True, "width": "stretch"}
    if height:
        options["height"] = height
    if column_config:
        options["column_config"] = column_config
    st.dataframe(table if screen is None else screen, **options)
    download(table, label, name, key=key)


@contextmanager
def lazy_expander(label: str, key: str, icon: str | None = None):
    """An expander whose content is only built while it is open (Streamlit reruns when it opens): what is
    behind it costs nothing on the first render. Yields True when open."""
    expander = st.expander(label, key=key, on_change="rerun", icon=icon)
    with expander:
        yield bool(expander.open)


def table_expander(label: str, key: str):
    """A lazy expander for tables (and their downloads)."""
    return lazy_expander(label, key, ":material/table:")


def chart(fig, key: str) -> None:
    """A plotly figure, full width, with the toolbar kept small."""
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False,
                                                           "modeBarButtonsToRemove": ["lasso2d", "select2d"]})


@contextmanager
def timed(step: str):
    """Log how long a step of a page took (DEBUG level: set OUTCOMES_LOG_LEVEL=DEBUG to see it)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        LOG.debug("%s: %.3f s", step, time.perf_counter() - started)


def run_page(body: Callable[[], None]) -> None:
    """Run a page body; an unexpected error shows a short message and its traceback goes to the server log."""
    started = time.perf_counter()
    try:
        body()
    except ScriptControlException:
        raise  # st.stop() / st.rerun(): Streamlit's own control flow
    except Exception:  # noqa: BLE001 - the last line of defence of a page
        reference = uuid.uuid4().hex[:8]
        LOG.exception("page failed (reference %s)", reference)
        st.error(f"Something went wrong while preparing this page (reference {reference}). Try another filter "
                 "or reload the page; if it keeps happening, give the reference to whoever runs this app.",
                 icon=":material/error:")
    finally:
        LOG.debug("page body: %.3f s", time.perf_counter() - started)
