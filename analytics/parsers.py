"""Column parsers: text cells of one column -> canonical values, rejecting the cells that cannot be read.

Each column names its parser (`Column.parser`); the range, vocabulary and required flag come from the column
too, so no parser tests a column's name. Every parser is vectorised: per row with pandas/Arrow, or once per
distinct value (`per_unique`) where the rule needs Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .blanks import as_arrow_text, blank_cells
from .dates import parse_dates, too_early
from .distinct import Encoded, arrow_of, derived, encoding_for
from .ingest_report import DistinctReport, Report, as_written
from .reading import STR_DTYPE
from .reason_codes import Rejection
from .schema import SESSION_DTYPES, Column, normalise_token

_NAME = r"[a-z][a-z_]*"
_UNITS = r"(?::[1-9]\d*(?:\.\d*[1-9])?)?"
_CANONICAL_MUSCLES = rf"^{_NAME}{_UNITS}(?:;{_NAME}{_UNITS})*$"
# A number as written in a cell (after trimming; a decimal comma already turned into a point).
_NUMBER = r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$"
_NON_FINITE = r"(?i)^[-+]?(?:inf|infinity|nan(?:\([0-9a-z_]*\))?)$"
_DECIMAL_COMMA = r"^([-+]?\d*),(\d+)$"
_TEXT = {pa.string(): STR_DTYPE, pa.large_string(): STR_DTYPE}


@dataclass(frozen=True)
class ParseContext:
    """What parsing needs to know about the file: date order, today, decimal commas, multi-line records."""

    order: str | None
    today: date
    decimal_comma: bool
    lines: np.ndarray
    spans: dict[int, int] = field(default_factory=dict)


def parse_column(column: Column, values: pd.Series, context: ParseContext, report: Report) -> pd.Series:
    """The canonical values of one column (blank where a cell is blank or rejected); rejections go to report.

    A not-recorded token ('?', 'n/a', '—', ...) is a blank: rejected in a required column like any blank, and
    in an optional one reported by a single warning for the whole column.

    A text column whose values repeat is parsed once per distinct value (distinct.py): every check of a cell
    depends on its text alone, so each row gets its value's result and its value's rejections at its own line.
    """
    encoded = encoding_for(values) if is_text(values) and not context.spans else None
    if encoded is None:
        return parse_cells(column, values, context, report)
    distinct = pd.Series(encoded.values.to_pandas(types_mapper=_TEXT.get))
    header = report.header_of.get(column.name, column.name)
    sub = DistinctReport(distinct, header, column.name)
    parsed = parse_cells(column, distinct, replace(context, lines=sub.lines), sub)
    sub.spread_into(report, encoded.codes, context.lines)
    if parsed.dtype == "str" and values.dtype == "str" and not parsed.hasnans and (
            len(parsed) == 0 or pc.all(pc.equal(arrow_of(parsed), encoded.values)).as_py()):
        return values  # every value kept as written (the usual case): the column itself, no copy
    return spread_values(parsed, encoded, values.index)


def spread_values(parsed: pd.Series, encoded: Encoded, index: pd.Index) -> pd.Series:
    """One parsed value per distinct value -> one per row (blank for a missing cell), in the parsed dtype."""
    if pd.api.types.is_datetime64_any_dtype(parsed):
        values = parsed.to_numpy()
        return pd.Series(np.append(values, np.array(["NaT"], dtype=values.dtype))[encoded.codes], index=index,
                         copy=False)
    if parsed.dtype == "str":
        return derived(encoded, arrow_of(parsed), index)
    if isinstance(parsed.dtype, (pd.Float64Dtype, pd.Int64Dtype)):  # numpy takes: no Arrow round trip
        array = parsed.array
        data = np.append(array._data, array._data[:1] if len(array) else np.zeros(1, array._data.dtype))
        mask = np.append(array._mask, True)
        kind = pd.arrays.FloatingArray if isinstance(parsed.dtype, pd.Float64Dtype) else pd.arrays.IntegerArray
        return pd.Series(kind(data[encoded.codes], mask[encoded.codes]), index=index, copy=False)
    if parsed.dtype == np.float64:
        return pd.Series(encoded.spread(parsed.to_numpy(), np.nan), index=index, copy=False)
    rows = encoded.take(pa.array(parsed, from_pandas=True))
    if isinstance(parsed.dtype, pd.api.extensions.ExtensionDtype):
        out = rows.to_pandas(types_mapper=lambda t: parsed.dtype)
    else:
        out = rows.to_pandas().astype(parsed.dtype)
    out.index = index
    return out


def parse_cells(column: Column, values: pd.Series, context: ParseContext, report: Report) -> pd.Series:
    """parse_column's checks on the cells themselves (or on a column's distinct values)."""
    if column.parser == "number" and is_text(values):
        plain = plain_numbers(values)
        if plain is not None:  # the usual column: only export blanks and numbers, read in one Arrow cast
            numbers, not_finite, blank = plain
            if column.required:
                report.reject(column.name, blank, f"blank, but {column.name} is required", Rejection.BLANK_REQUIRED)
            return number_rules(column, numbers, blank, not_finite & ~blank, report)
    blank, not_recorded = blank_mask(values, nan_is_blank=column.parser != "number")
    if column.required:
        report.reject(column.name, blank, f"blank, but {column.name} is required", Rejection.BLANK_REQUIRED)
    elif not_recorded.any():
        report.warn_not_recorded(column.name, not_recorded.to_numpy())
    return PARSERS[column.parser](column, values, blank, context, report)


def missing_column(column: Column, n: int) -> pd.Series:
    """The all-blank values of a column the file does not have, in the column's canonical dtype."""
    if column.kind == "date":
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[s]")
    if column.kind in ("number", "integer"):
        dtype = SESSION_DTYPES.get(column.name) or ("Int64" if column.kind == "integer" else "Float64")
        return pd.Series(pd.NA, index=range(n), dtype=dtype)
    return pd.Series(pd.NA, index=range(n), dtype="str")


def parse_text(column: Column, values: pd.Series, blank: pd.Series, context: ParseContext,
               report: Report) -> pd.Series:
    """Stripped text, case kept; a line break (quotes joining lines) or a text over max_length is rejected.

    A typed column (Parquet) becomes the text a person would write: 7, never 7.0.
    """
    text = values if values.dtype == "str" else as_written(values).where(values.notna())
    text = keep(text.astype("str").str.strip(), ~blank)
    if context.spans:
        broken = text.str.contains("\n", regex=False).fillna(False)
        reasons = pd.Series("", index=values.index, dtype="str")
        reasons[broken] = [f"holds a line break: a quote joined lines {n} to {context.spans.get(n, n)} "
                           "into one row; check the quotes on these lines"
                           for n in context.lines[broken.to_numpy()]]
        report.reject(column.name, broken, reasons, Rejection.LINE_BREAK)
    if column.max_length:
        report.reject(column.name, text.str.len() > column.max_length,
                      f"longer than {column.max_length} characters", Rejection.TOO_LONG)
    return text.astype("str")


def parse_date(column: Column, values: pd.Series, blank: pd.Series, context: ParseContext,
               report: Report) -> pd.Series:
    """Dates in the file's order; unreadable, too early (before 1989-12-01, Excel's zero date) and future dates
    are rejected."""
    written = keep(values, ~blank)
    parsed, reasons = parse_dates(written, context.order)
    early = too_early(parsed, written, reasons != "")
    report.reject(column.name, (reasons != "") & (early == ""), reasons, Rejection.BAD_DATE)
    report.reject(column.name, early != "", early, Rejection.TOO_EARLY)
    future = parsed > pd.Timestamp(context.today)
    report.reject(column.name, future, f"in the future (after {context.today.isoformat()})", Rejection.FUTURE_DATE)
    return keep(parsed, ~future & (early == ""))


def parse_number(column: Column, values: pd.Series, blank: pd.Series, context: ParseContext,
                 report: Report) -> pd.Series:
    """Numbers (whole numbers for integer columns) within the column's range.

    Text cells are read with Arrow kernels (no Python per cell); inf, nan, Infinity and numbers too large to
    hold (1e309) are rejected as not finite. A required number column holds a value on every accepted row, so
    it comes back as plain float64.
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("Float64")
        infinite = np.isinf(numbers.to_numpy(dtype="float64", na_value=np.nan))
        not_finite = pd.Series(infinite, index=values.index)
    else:
        numbers, not_number, not_finite = numbers_from_text(values, context.decimal_comma)
        report.reject(column.name, not_number & ~blank, "not a number", Rejection.NOT_A_NUMBER)
    return number_rules(column, numbers, blank, not_finite & ~blank, report)


def number_rules(column: Column, numbers: pd.Series, blank: pd.Series, not_finite: pd.Series,
                 report: Report) -> pd.Series:
    """A number column's rules on its read values: finite, whole for integer columns, within the range."""
    report.reject(column.name, not_finite, "not a finite number", Rejection.NOT_FINITE)
    numbers = keep(numbers, ~blank & ~not_finite)
    valid = numbers.notna()
    if column.kind == "integer":
        fractional = valid & (numbers != numbers.round())
        report.reject(column.name, fractional, "not a whole number", Rejection.NOT_WHOLE)
        valid &= ~fractional
    if column.above_low:
        report.reject(column.name, valid & (numbers <= column.low), f"must be above {fmt(column.low)}",
                      Rejection.OUT_OF_RANGE)
    elif column.low is not None or column.high is not None:
        low = column.low if column.low is not None else -np.inf
        high = column.high if column.high is not None else np.inf
        outside = valid & ((numbers < low) | (numbers > high))
        span = f"between {fmt(low)} and {fmt(high)}" if column.high is not None else f"{fmt(low)} or more"
        report.reject(column.name, outside, f"must be {span}", Rejection.OUT_OF_RANGE)
    if column.kind == "integer":
        return keep(numbers, (numbers == numbers.round()).fillna(True)).round().astype("Int64")
    return numbers.astype("float64") if column.required else numbers


def parse_category(column: Column, values: pd.Series, blank: pd.Series, context: ParseContext,
                   report: Report) -> pd.Series:
    """One value of the column's vocabulary, any spelling it knows; other values are rejected."""
    aliases = column.vocabulary.aliases
    mapped, _ = per_unique(keep(values, ~blank), lambda u: (aliases.get(normalise_token(u)), ""))
    report.reject(column.name, ~blank & mapped.isna(),
                  f"unknown {column.name.replace('_', ' ')} (accepted: {column.vocabulary.accepted})",
                  Rejection.UNKNOWN_VALUE)
    return mapped


def parse_muscles(column: Column, values: pd.Series, blank: pd.Series, context: ParseContext,
                  report: Report) -> pd.Series:
    """Muscle lists in the canonical form muscle[:units];...; values already in it skip the Python parser."""
    text = keep(values, ~blank).astype("str").str.strip()
    array = pa.array(text, type=pa.string(), from_pandas=True)
    done = pc.fill_null(pc.match_substring_regex(array, _CANONICAL_MUSCLES), False).to_numpy(zero_copy_only=False)
    if done.all():  # every value already canonical: nothing to parse
        return text
    parsed, reasons = per_unique(keep(text, ~done), muscle_list)
    if done.any():
        parsed = parsed.where(~done, text)
    report.reject(column.name, reasons != "", reasons, Rejection.BAD_LIST)
    return keep(parsed, reasons == "")


def parse_events(column: Column, values: pd.Series, blank: pd.Series, context: ParseContext,
                 report: Report) -> pd.Series:
    """Adverse-event lists as canonical names separated by ;."""
    text = keep(values, ~blank).astype("str").str.strip()
    vocabulary = column.vocabulary
    parsed, reasons = per_unique(text, lambda value: event_list(value, vocabulary.aliases, vocabulary.accepted))
    report.reject(column.name, reasons != "", reasons, Rejection.BAD_LIST)
    return keep(parsed, reasons == "")


def plain_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series] | None:
    """(numbers, not_finite, blank) when every cell is empty or a number Arrow reads as written; None when some
    cell needs a closer look (NA, spaces, decimal commas, '?', text): numbers_from_text reads those.

    Arrow's cast reads exactly what numbers_from_text calls a number, plus inf, nan and Infinity, which come
    back as not finite; one cast of the whole column is the fast path of every clean export.
    """
    raw = as_arrow_text(values)
    blank = pc.fill_null(pc.equal(pc.binary_length(raw), 0), True)
    try:
        floats = pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), raw), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    numbers, not_finite = _finite(floats, values.index)
    return numbers, not_finite, _mask(blank, values.index)


def numbers_from_text(values: pd.Series, decimal_comma: bool) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(numbers as Float64, not_number, not_finite) of text cells, with Arrow kernels.

    A number is an optional sign, digits with an optional point and an optional exponent, spaces trimmed;
    decimal_comma: '232,7' reads as 232.7. not_finite: inf, nan, Infinity (any case, any sign) and numbers
    that overflow a double (1e309); their numbers are NA. Neither mask excludes blank cells: the caller does.
    """
    text = pc.utf8_trim_whitespace(as_arrow_text(values))
    if decimal_comma:
        text = pc.replace_substring_regex(text, _DECIMAL_COMMA, r"\1.\2")
    readable = pc.or_(pc.fill_null(pc.match_substring_regex(text, _NUMBER), False),
                      pc.fill_null(pc.match_substring_regex(text, _NON_FINITE), False))
    floats = pc.cast(pc.if_else(readable, text, pa.scalar(None, pa.string())), pa.float64())
    numbers, not_finite = _finite(floats, values.index)
    return numbers, _mask(pc.invert(readable), values.index), not_finite


def _finite(floats, index: pd.Index) -> tuple[pd.Series, pd.Series]:
    """Arrow doubles as a pandas Float64 column with NA where not finite, and the not-finite mask."""
    not_finite = pc.fill_null(pc.invert(pc.is_finite(floats)), False)
    if pc.any(not_finite).as_py():
        floats = pc.if_else(not_finite, pa.scalar(None, pa.float64()), floats)
    numbers = floats.to_pandas(types_mapper={pa.float64(): pd.Float64Dtype()}.get)
    numbers.index = index
    return numbers, _mask(not_finite, index)


def _mask(array, index: pd.Index) -> pd.Series:
    """An Arrow boolean array (no nulls) as a pandas boolean Series."""
    return pd.Series(np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool), index=index, copy=False)


def is_text(values: pd.Series) -> bool:
    """True for a column of text cells (what the CSV and Excel readers give), False for a typed one."""
    return values.dtype == "str" or values.dtype == object


PARSERS = {"text": parse_text, "date": parse_date, "number": parse_number, "category": parse_category,
           "muscles": parse_muscles, "events": parse_events}


def muscle_list(text: str) -> tuple[str | None, str]:
    """'Splenius capitis: 50 | trapezius:30' -> ('splenius_capitis:50;trapezius:30', '') or (None, reason)."""
    items = []
    for item in text.replace("|", ";").split(";"):
        item = item.strip()
        if not item:
            continue
        name, _, units = item.partition(":")
        name = "_".join(name.strip().lower().replace("-", " ").split())
        if not name or not name.replace("_", "").isalpha():
            return None, f"'{item}' is not a muscle name (write muscle[:units] separated by ;)"
        if units.strip():
            try:
                amount = float(units.strip().replace(",", "."))
            except ValueError:
                return None, f"the units of '{item}' are not a number"
            if amount <= 0:
                return None, f"the units of '{item}' must be above 0"
            items.append(f"{name}:{fmt(amount)}")
        else:
            items.append(name)
    if not items:
        return None, "no muscle named"
    return ";".join(items), ""


def event_list(text: str, aliases: dict[str, str], accepted: str) -> tuple[str | None, str]:
    """'Dysphagia; Flu-like' -> ('dysphagia;flu_like', '') or (None, reason)."""
    events = []
    for item in text.replace("|", ";").replace(",", ";").split(";"):
        if not item.strip():
            continue
        event = aliases.get(normalise_token(item))
        if event is None:
            return None, f"unknown adverse event '{item.strip()}' (accepted: {accepted})"
        if event not in events:
            events.append(event)
    if not events:
        return None, "no adverse event named (write none when there was none)"
    if "none" in events and len(events) > 1:
        return None, "says none and also names an adverse event"
    return ";".join(events), ""


def per_unique(values: pd.Series, parse) -> tuple[pd.Series, pd.Series]:
    """Apply parse(text) -> (value or None, reason) once per distinct value, then spread back to every row."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    results = [parse(str(u)) for u in uniques]
    index = np.where(codes < 0, len(results), codes)
    parsed = pa.array([r[0] for r in results] + [None], type=pa.string()).take(index)
    reasons = pa.array([r[1] for r in results] + [""], type=pa.string()).take(index)
    as_str = {pa.string(): STR_DTYPE}.get
    parsed, reasons = parsed.to_pandas(types_mapper=as_str), reasons.to_pandas(types_mapper=as_str)
    parsed.index = reasons.index = values.index
    return parsed, reasons


def keep(values: pd.Series, kept) -> pd.Series:
    """values where kept is True, blank elsewhere; no copy when every value is kept (the common case)."""
    kept = np.asarray(kept, dtype=bool)
    return values if kept.all() else values.where(kept)


def blank_mask(values: pd.Series, nan_is_blank: bool = True) -> tuple[pd.Series, pd.Series]:
    """(blank, not_recorded): True where a cell holds no value (an export blank or a not-recorded token), and
    where that is a not-recorded token ('?', 'n/a', '—', ...); see blanks.py. nan_is_blank: False for numbers."""
    blank, not_recorded = blank_cells(values, nan_is_blank)
    return (pd.Series(blank | not_recorded, index=values.index, copy=False),
            pd.Series(not_recorded, index=values.index, copy=False))


def fmt(number: float) -> str:
    """A number as a message writes it: 3 rather than 3.0."""
    return str(int(number)) if float(number).is_integer() else str(number)
