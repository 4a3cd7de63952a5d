"""Which sessions a view counts: a period of whole days and chosen values of site, practitioner, product and
indication. The app's sidebar and the command line's --site/--practitioner/--product/--indication/--from/--to
both make a `Selection` and apply it here, so a figure means the same on every surface."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

FILTER_COLUMNS = {  # words -> column
    "Site": "site",
    "Practitioner": "practitioner_id",
    "Product": "product",
    "Indication": "indication",
}
PERIODS = ("Last 3 months", "Last 6 months", "Last 12 months", "All data", "Custom range")
DEFAULT_PERIOD = "Last 12 months"
_MONTHS = {"Last 3 months": 3, "Last 6 months": 6, "Last 12 months": 12}


@dataclass(frozen=True)
class Selection:
    """A period of whole days (None: open) and the chosen values per column (empty: all)."""

    period: str = DEFAULT_PERIOD
    start: date | None = None
    end: date | None = None
    values: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (column, chosen values)

    def key(self) -> tuple:
        """A hashable key of what the selection keeps (for caches)."""
        return (self.start.isoformat() if self.start else None, self.end.isoformat() if self.end else None,
                self.values)

    def describe(self) -> str:
        """The chosen values in words (the period is said apart)."""
        parts = [f"{column.replace('_id', '')}: {', '.join(chosen)}" for column, chosen in self.values if chosen]
        return "; ".join(parts) if parts else "all sites, practitioners, products and indications"

    def describe_dates(self) -> str:
        """The period in words, for a report header."""
        if self.start and self.end:
            return f"sessions from {self.start.isoformat()} to {self.end.isoformat()}"
        if self.start:
            return f"sessions from {self.start.isoformat()}"
        if self.end:
            return f"sessions up to {self.end.isoformat()}"
        return ""


def by_values(**chosen) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Selection.values from column=values keywords, blank choices left out: by_values(site=["North"])."""
    return tuple((column, tuple(sorted(str(v) for v in values))) for column, values in chosen.items() if values)


def unmatched(frame: pd.DataFrame, selection: Selection) -> list[str]:
    """What the selection asks for that the data does not hold anywhere (a column it lacks, a value no session
    has), in words; empty when everything chosen exists. A typed choice that matches nothing must be said, not
    silently counted as 'no sessions' or, for a missing column, as 'every session'."""
    problems = []
    for column, chosen in selection.values:
        if not chosen:
            continue
        known = set(frame[column].dropna().astype("str")) if column in frame.columns else set()
        if not known:  # the file had no such column (the importer keeps it, blank)
            problems.append(f"the data has no {column.replace('_id', '')} recorded")
            continue
        missing = [value for value in chosen if value not in known]
        if missing:
            offered = ", ".join(sorted(known)[:20]) + (", ..." if len(known) > 20 else "")
            problems.append(f"no {column.replace('_id', '')} {', '.join(repr(v) for v in missing)} in the data "
                            f"(it has: {offered})")
    return problems


def value_mask(frame: pd.DataFrame, values: tuple) -> np.ndarray:
    """True on rows whose value is among the chosen ones, for every column with a choice (a missing column keeps
    every row: there is nothing to choose from)."""
    keep = np.ones(len(frame), dtype=bool)
    for column, chosen in values:
        if chosen and column in frame.columns:
            series = frame[column]
            if isinstance(series.dtype, pd.CategoricalDtype):  # by code: no text compared
                wanted = series.cat.categories.get_indexer(pd.Index(list(chosen), dtype=series.cat.categories.dtype))
                keep &= _has_code(series.cat.codes.to_numpy(), np.unique(wanted[wanted >= 0]),
                                  len(series.cat.categories))
            else:
                keep &= series.isin(list(chosen)).to_numpy(dtype=bool, na_value=False)
    return keep


def _has_code(codes: np.ndarray, wanted: np.ndarray, n_codes: int) -> np.ndarray:
    """True where a categorical's code (one of n_codes, or -1 for a blank cell: never) is one of `wanted`. A few are
    compared one by one in the codes' own small type (10M sessions: 3 ms a code); more by a lookup table, which
    first widens every code (35 ms)."""
    if len(wanted) <= 4:
        found = np.zeros(len(codes), dtype=bool)
        for code in wanted:
            found |= codes == code
        return found
    chosen_code = np.zeros(n_codes + 1, dtype=bool)
    chosen_code[wanted + 1] = True  # position 0: a blank cell (code -1), never chosen
    return chosen_code[codes.astype(np.intp) + 1]


def period_mask(frame: pd.DataFrame, start: date | None, end: date | None) -> np.ndarray:
    """True on rows whose session_date falls on a day in [start, end] (None: open on that side)."""
    days = frame["session_date"].to_numpy().astype("datetime64[D]")
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= days >= np.datetime64(start, "D")
    if end is not None:
        keep &= days <= np.datetime64(end, "D")
    return keep


def period_positions(frame: pd.DataFrame, start: date | None, end: date | None) -> slice | None:
    """The positions of the rows dated on a day in [start, end] (None: open) of a frame sorted by session_date,
    found by binary search; None when the frame is not in date order (period_mask then)."""
    dates = frame["session_date"]
    if not dates.is_monotonic_increasing or dates.hasnans:
        return None
    moments = dates.to_numpy()  # searched as they are (a day's bounds in their unit), not copied as days

    def midnight(day) -> np.datetime64:
        return np.datetime64(day, "D").astype(moments.dtype)

    first = np.searchsorted(moments, midnight(start), "left") if start is not None else 0
    last = (np.searchsorted(moments, midnight(end) + np.timedelta64(1, "D"), "left") if end is not None
            else len(frame))  # the end day's last moment: before the next midnight
    return slice(int(first), int(last))


def period_rows(frame: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    """The rows dated on a day in [start, end] (None: open), as take(frame, period_mask(...)) gives them; from a
    frame sorted by session_date, a slice of it, which copies nothing."""
    span = period_positions(frame, start, end)
    if span is None:
        return take(frame, period_mask(frame, start, end))
    return frame if (span.start, span.stop) == (0, len(frame)) else frame.iloc[span]


def take(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows; the frame itself (no copy) when every row is kept."""
    return frame if keep.all() else frame.loc[keep].reset_index(drop=True)


def select(frame: pd.DataFrame, selection: Selection) -> pd.DataFrame:
    """The sessions the selection keeps: chosen values and period."""
    keep = value_mask(frame, selection.values) & period_mask(frame, selection.start, selection.end)
    return take(frame, keep)


def period_bounds(period: str, as_of: pd.Timestamp, first: pd.Timestamp) -> tuple[date | None, date | None]:
    """The days of a named period ending on the as-of date ("Last 12 months": the 12 months up to and including
    it), never starting before the first session; "All data" has no start."""
    if period == "All data":
        return None, as_of.date()
    months = _MONTHS[period]
    start = (as_of - pd.DateOffset(months=months) + pd.Timedelta(days=1)).date()
    return max(start, first.date()), as_of.date()


def choices(data: pd.DataFrame) -> dict[str, list[str]]:
    """The values offered for each filter column, sorted; a column the data lacks offers none."""
    return choices_of({column: data[column].dropna().astype("str").unique()
                       for column in FILTER_COLUMNS.values() if column in data.columns})


def choices_of(found: dict) -> dict[str, list[str]]:
    """choices from each filter column's distinct values as text (a column not in `found` offers none): blanks
    dropped, sorted."""
    return {column: sorted(v for v in found.get(column, ()) if v.strip()) for column in FILTER_COLUMNS.values()}
