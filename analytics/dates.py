"""Dates as clinics write them: ISO, day-first or month-first, with the order read from the data or chosen.

`04/05/2025` is 4 May in London and April 5 in Boston. The order is taken from the file itself (a first
number above 12 means day-first, a second number above 12 means month-first); when no value tells and some
are ambiguous, the user must choose: nothing is guessed. A date before botulinum toxin's first licence
(1989-12-01), or Excel's zero date (what Excel writes for an empty date cell), cannot be a clinic's date.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import config
from .schema import EARLIEST_DATE, EXCEL_ZERO_DATES

DAYFIRST, MONTHFIRST = "dayfirst", "monthfirst"

_ZONED = r"^\s*\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)\s*$"
_ISO = r"^\s*(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*$"
_NUMERIC = r"^\s*(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?\s*$"
_NAMED = r"^\s*(?P<d>\d{1,2})[ \-/]?(?P<mon>[A-Za-z]{3,9})\.?[ \-/,]+(?P<y>\d{4})\s*$"
# Excel's day 0 as text: 1900-01-00, 00/01/1900 (day-first) or 01/00/1900 (month-first), maybe with 00:00.
_EXCEL_DAY_ZERO = (r"^\s*(?:1900[-/.]0?1[-/.]00?|0?0[-/.]0?1[-/.]1900|0?1[-/.]0?0[-/.]1900)"
                   r"(?:[ T]0?0:00(?::00)?)?\s*$")
TOO_EARLY_REASON = (f"before {EARLIEST_DATE.isoformat()}: botulinum toxin was first licensed for clinical use "
                    f"in December 1989")
EXCEL_ZERO_REASON = "Excel's zero date, which Excel writes for an empty date cell: enter the real date"
_MONTHS = {name: index for index, names in enumerate(
    [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")], start=1) for name in names}


class AmbiguousDates(Exception):
    """Some dates read both ways and nothing in the file says which order it uses."""


def detect_order(texts: list[pd.Series], counts: list[np.ndarray | None] | None = None) -> str | None:
    """'dayfirst' or 'monthfirst' when the file shows it, None when no value needs the order.

    counts: how many cells hold each text (texts given once per distinct value, in order of first appearance);
    None: one cell each. Raises AmbiguousDates when ambiguous values exist and nothing decides, or when the file
    shows both orders.
    """
    day_first = month_first = ambiguous = 0
    example = ""
    for series, weight in zip(texts, counts or [None] * len(texts)):
        numeric = pc.match_substring_regex(pa.array(series, type=pa.string(), from_pandas=True), _NUMERIC)
        keep = np.asarray(pc.fill_null(numeric, False).to_numpy(zero_copy_only=False), dtype=bool)
        series = series[keep]
        parts = series.str.extract(_NUMERIC).dropna()
        if parts.empty:
            continue
        a, b = parts["a"].astype(int), parts["b"].astype(int)
        n = (pd.Series(np.asarray(weight)[keep], index=series.index).loc[parts.index] if weight is not None
             else pd.Series(1, index=parts.index))
        day_first += int(n[(a > 12) & (b <= 12)].sum())
        month_first += int(n[(b > 12) & (a <= 12)].sum())
        both_small = (a <= 12) & (b <= 12) & (a != b)
        ambiguous += int(n[both_small].sum())
        if both_small.any() and not example:
            example = series.loc[both_small[both_small].index[0]].strip()
    if day_first and month_first:
        raise AmbiguousDates(
            f"The dates use both orders: {day_first} read only as day-first and {month_first} only as "
            "month-first. Choose the order the file uses (day-first or month-first); the other dates will "
            "be listed as rejected.")
    if day_first:
        return DAYFIRST
    if month_first:
        return MONTHFIRST
    if ambiguous:
        raise AmbiguousDates(
            f"Dates such as {example} can be read as day-first or month-first and no date in the file tells "
            "which. Choose the order (day-first, as 14/03/2025, or month-first, as 03/14/2025).")
    return None


def parse_dates(values: pd.Series, order: str | None) -> tuple[pd.Series, pd.Series]:
    """Parsed dates (datetime64[s], NaT where blank or bad) and a reason per bad cell (empty where fine)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.normalize().astype("datetime64[s]")
        return parsed, pd.Series("", index=values.index, dtype="str")
    fast = _iso_dates(values)
    if fast is not None:  # the usual column: ISO dates and blanks, read in one Arrow cast
        return fast, pd.Series("", index=values.index, dtype="str")
    text = values.astype("str").fillna("").str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    todo = parsed.isna() & (text != "")
    reasons = pd.Series("", index=values.index, dtype="str")
    if todo.any():
        rest = text[todo]
        year = pd.Series(np.nan, index=rest.index)
        month = year.copy()
        day = year.copy()
        recognised = pd.Series(False, index=rest.index)

        zone_problem = _zoned_to_local(rest, year, month, day, recognised)

        iso = rest.str.extract(_ISO)
        ok = iso["y"].notna() & ~recognised
        year[ok], month[ok], day[ok] = iso.loc[ok, "y"].astype(float), iso.loc[ok, "m"].astype(float), \
            iso.loc[ok, "d"].astype(float)
        recognised |= ok

        numeric = rest.str.extract(_NUMERIC)
        ok = numeric["a"].notna() & ~recognised
        if ok.any():
            a, b = numeric.loc[ok, "a"].astype(float), numeric.loc[ok, "b"].astype(float)
            y = numeric.loc[ok, "y"].astype(float)
            y = y.where(y >= 100, 2000 + y)
            if order == MONTHFIRST:
                first_is_day = pd.Series(False, index=a.index)
            elif order == DAYFIRST:
                first_is_day = pd.Series(True, index=a.index)
            else:  # no order needed: only values that read one way (or day == month) reach here
                first_is_day = (a > 12) | (a == b)
            day[ok] = a.where(first_is_day, b)
            month[ok] = b.where(first_is_day, a)
            year[ok] = y
            recognised |= ok

        named = rest.str.extract(_NAMED)
        ok = named["d"].notna() & ~recognised
        if ok.any():
            month_number = named.loc[ok, "mon"].str.lower().map(_MONTHS)
            ok_named = month_number.notna()
            index = ok_named[ok_named].index
            day[index] = named.loc[index, "d"].astype(float)
            month[index] = month_number[index].astype(float)
            year[index] = named.loc[index, "y"].astype(float)
            recognised[index] = True

        built = pd.to_datetime(
            pd.DataFrame({"year": year, "month": month, "day": day}).where(recognised), errors="coerce")
        parsed[todo] = built
        reasons[todo & ~recognised.reindex(values.index, fill_value=False)] = \
            "not a date (write it as 2025-03-14, or 14/03/2025 with one order for the whole file)"
        impossible = todo & recognised.reindex(values.index, fill_value=False) & parsed.isna()
        if order:
            label = "day-first" if order == DAYFIRST else "month-first"
            reasons[impossible] = f"not a real calendar date when read {label}"
        else:
            reasons[impossible] = "not a real calendar date"
        if zone_problem:
            reasons[rest.index[rest.str.contains(_ZONED, regex=True)]] = zone_problem
    return parsed.astype("datetime64[s]"), reasons


def _zoned_to_local(rest: pd.Series, year: pd.Series, month: pd.Series, day: pd.Series,
                    recognised: pd.Series) -> str:
    """Timestamps written with a zone ('2025-06-14T23:30:00Z', '...+02:00') are dated in the clinic's zone
    (config.timezone(), OUTCOMES_TIMEZONE): 23:30 UTC on 14 June is 15 June in London. Fills year/month/day and
    recognised in place; returns the reason for every zoned cell when the zone setting is unusable, else ''."""
    zoned = rest.str.contains(_ZONED, regex=True)
    if not zoned.any():
        return ""
    try:
        zone = config.timezone()
    except ValueError as err:
        return f"a timestamp with a time zone, which cannot be dated: {err}"
    stamps = pd.to_datetime(rest[zoned].str.strip(), utc=True, format="ISO8601", errors="coerce")
    local = stamps.dt.tz_convert(zone)
    read = local.notna()
    index = local.index[read.to_numpy()]
    year[index] = local[read].dt.year.astype(float)
    month[index] = local[read].dt.month.astype(float)
    day[index] = local[read].dt.day.astype(float)
    recognised[index] = True
    return ""


def too_early(parsed: pd.Series, written: pd.Series, unreadable: pd.Series) -> pd.Series:
    """Why a date cannot be a clinic's date ('' where it can): Excel's zero date, or before 1989-12-01.

    parsed: parse_dates' dates; written: the cells as written; unreadable: where parse_dates gave a reason
    (Excel's 1900-01-00 is not a calendar date, so it is found in the text).
    """
    reasons = pd.Series("", index=parsed.index, dtype="str")
    early = (parsed < pd.Timestamp(EARLIEST_DATE)).fillna(False).to_numpy(dtype=bool)
    if early.any():
        reasons[early] = TOO_EARLY_REASON
        zero = parsed[early].dt.strftime("%Y-%m-%d").isin(EXCEL_ZERO_DATES)
        reasons[zero[zero].index] = EXCEL_ZERO_REASON
    unreadable = np.asarray(unreadable, dtype=bool)
    if unreadable.any():
        day_zero = written[unreadable].astype("str").str.contains(_EXCEL_DAY_ZERO, regex=True).fillna(False)
        reasons[day_zero[day_zero].index] = EXCEL_ZERO_REASON
    return reasons


def _iso_dates(values: pd.Series) -> pd.Series | None:
    """datetime64[s] when every cell is blank (NA) or a strict, real YYYY-MM-DD date; None otherwise."""
    try:
        days = pc.cast(pa.array(values, type=pa.string(), from_pandas=True), pa.date32())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    parsed = pc.cast(days, pa.timestamp("s")).to_pandas()
    parsed.index = values.index
    return parsed.astype("datetime64[s]")
