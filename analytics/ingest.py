"""Load a clinic's file, check every rule of the data contract, and explain every problem.

`load_sessions(source)` and `load_assessments(source)` return an `IngestResult`: the accepted rows in
canonical columns and types, and a report of everything else: each rejected cell (file line, column, value
as written, reason), duplicates, conflicts, warnings and file-level errors. A problem in a row rejects that
row only; every data row of the file is either accepted or listed as rejected, never lost. A refused file
carries its reason code (`IngestResult.refusal`), each rejected cell and warning its `code`.

This module runs the steps in order; each step lives in its own module: reading (reading.py), columns
(mapping.py), the identifier guard (identifiers.py), date order (dates.py), column parsers (parsers.py),
cross-field and cross-row rules (rules.py), copies and conflicts (duplicates.py), the report (ingest_report.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from . import config
from .dates import AmbiguousDates, detect_order
from .distinct import encode_columns, encoding_for, per_ingestion
from .duplicates import duplicates_and_conflicts
from .column_classifier import cutoff_year
from .free_text import ColumnScan, label_problem
from .identifiers import IdentifierFinding, guard
from .ingest_report import (
    CELL_COLUMNS, CONFLICT_COLUMNS, DUPLICATE_COLUMNS, WARNING_COLUMNS, Report, as_written, empty_table,
)
from .mapping import missing_required, resolve_columns
from .parsers import ParseContext, is_text, missing_column, parse_column
from .reading import FileRefused, RawTable, read_table
from .reason_codes import Refusal
from .rules import check_assessments, check_sessions, late_followups
from .schema import ASSESSMENT_COLUMNS, SESSION_COLUMNS, Column


@dataclass
class IngestResult:
    """Accepted rows and the full report of one file."""

    kind: str
    data: pd.DataFrame
    rejected: pd.DataFrame
    warnings: pd.DataFrame
    duplicates: pd.DataFrame
    conflicts: pd.DataFrame
    file_errors: list[str]
    notes: list[str] = field(default_factory=list)
    identifier_findings: list[IdentifierFinding] = field(default_factory=list)
    free_text_findings: list[ColumnScan] = field(default_factory=list)  # identifiers inside free text, by column
    redacted: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> kind -> how many replaced
    pseudonym_key_id: str | None = None  # identifiers.key_id of the key the codes were keyed with (None: not keyed)
    column_map: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    suggestions: dict[str, str] = field(default_factory=dict)
    n_rows: int = 0
    blank_rows: int = 0
    date_order: str | None = None
    file_format: dict = field(default_factory=dict)
    source_name: str = ""  # the user's label or a neutral 'upload <date time>, <n> rows'; never the file's name
    spans: dict[int, int] = field(default_factory=dict)
    refusal: Refusal | None = None  # why the file was refused (file_errors says it in words)

    @classmethod
    def refused_with(cls, kind: str, refusal: Refusal, message: str, source_name: str = "",
                     **details) -> IngestResult:
        """A refused file: no rows, the refusal's code and message; details are what was learnt before it."""
        return cls(kind, pd.DataFrame(), *_empty_report(), [message], source_name=source_name,
                   refusal=refusal, **details)

    @classmethod
    def from_accepted(cls, data: pd.DataFrame, source_name: str, kind: str = "sessions") -> IngestResult:
        """Rows accepted earlier (e.g. read back from the store) as a result with an empty report."""
        return cls(kind, data, *_empty_report(), [], n_rows=len(data), source_name=source_name)

    @property
    def refused(self) -> bool:
        """True when the whole file was refused (see file_errors)."""
        return bool(self.file_errors)

    @property
    def n_rejected_rows(self) -> int:
        return int(self.rejected["line"].nunique()) if len(self.rejected) else 0

    @property
    def n_accepted(self) -> int:
        return len(self.data)

    @property
    def exit_code(self) -> int:
        """0 every row accepted, 1 some rows rejected, 2 file refused (the CLI's exit code)."""
        if self.refused:
            return 2
        return 1 if self.n_rejected_rows else 0

    def summary(self) -> dict:
        """The report's counts and messages as plain JSON-ready values, with the reason codes."""
        return {
            "source": self.source_name,
            "kind": self.kind,
            "refused": self.refused,
            "refusal": str(self.refusal) if self.refusal else None,
            "file_errors": list(self.file_errors),
            "rows": self.n_rows,
            "accepted_rows": self.n_accepted,
            "rejected_rows": self.n_rejected_rows,
            "rejected_cells": len(self.rejected),
            "rejected_cells_by_code": _counts(self.rejected),
            "duplicate_rows": len(self.duplicates),
            "conflicting_rows": len(self.conflicts),
            "warnings": len(self.warnings),
            "warnings_by_code": _counts(self.warnings),
            "blank_rows_ignored": self.blank_rows,
            "date_order": self.date_order,
            "format": self.file_format,
            "columns": self.column_map,
            "extra_columns": self.extra_columns,
            "suggestions": self.suggestions,
            "identifier_columns": [
                {"column": f.column, "reason": f.reason, "lines": list(f.lines)} for f in self.identifier_findings],
            "free_text_identifiers": [
                {"column": f.column, "found": dict(f.counts), "lines": list(f.lines), "masked": list(f.masked)}
                for f in self.free_text_findings],
            "redacted": {column: dict(counts) for column, counts in self.redacted.items()},
            "notes": list(self.notes),
        }


def _empty_report() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(rejected, warnings, duplicates, conflicts) with no rows and their columns."""
    return (empty_table(CELL_COLUMNS), empty_table(WARNING_COLUMNS), empty_table(DUPLICATE_COLUMNS),
            empty_table(CONFLICT_COLUMNS))


def _counts(table: pd.DataFrame) -> dict[str, int]:
    """How many report rows carry each reason code."""
    if not len(table):
        return {}
    return {str(k): int(v) for k, v in table["code"].value_counts(sort=False).sort_index().items()}


def load_sessions(source: str | Path | bytes | BinaryIO, **options) -> IngestResult:
    """Read and check a session-records file (one row per injection session); see `load` for the options."""
    return load(source, kind="sessions", **options)


def load_assessments(source: str | Path | bytes | BinaryIO, **options) -> IngestResult:
    """Read and check a repeated-assessments file (one row per score after an injection)."""
    return load(source, kind="assessments", **options)


def load(source: str | Path | bytes | BinaryIO, *, kind: str = "sessions", name: str | None = None,
         mapping: dict[str, str] | None = None, date_order: str | None = None, drop_identifiers: bool = False,
         pseudonymise_ids: bool = False, key: str | bytes | None = None, today: date | None = None,
         max_bytes: int | None = None, sheet: str | int | None = None, redact_free_text: bool = False,
         label: str | None = None, now: datetime | None = None) -> IngestResult:
    """Read, map, guard, check and split one file into accepted rows and a report.

    name: the file's name, used only to tell a format apart (never kept: file names are data).
    mapping: {file header: canonical column} chosen by the user, over the automatic aliases.
    date_order: 'dayfirst' or 'monthfirst' when the user chooses; None reads it from the data.
    drop_identifiers / pseudonymise_ids / redact_free_text: the user's answer to the identifier guard.
    key: the pseudonymisation secret (else the OUTCOMES_PSEUDONYM_KEY environment variable).
    sheet: for a workbook, the worksheet's name or 1-based number (None: the first that fits the contract).
    label: what the user calls this upload (at most LABEL_LIMIT characters, no identifier in it); without one,
    `source_name` is a neutral 'upload 2026-11-30 14:05, 2,600 rows' at `now` (default: the clinic's clock).
    """
    columns = SESSION_COLUMNS if kind == "sessions" else ASSESSMENT_COLUMNS
    today = today or date.today()
    label = label.strip() if isinstance(label, str) and label.strip() else None
    if label is not None:
        problem = label_problem(label, LABEL_LIMIT)
        if problem:
            return IngestResult.refused_with(kind, Refusal.IDENTIFYING_LABEL, problem, neutral_label(now))
    with per_ingestion():  # each column encoded at most once (distinct.py)
        return _load(source, kind, columns, today, label, name, mapping, date_order, drop_identifiers,
                     pseudonymise_ids, key, max_bytes, sheet, redact_free_text, now)


def _load(source, kind, columns, today, label, name, mapping, date_order, drop_identifiers, pseudonymise_ids, key,
          max_bytes, sheet, redact_free_text, now) -> IngestResult:
    """load's steps: read, then check (_check)."""
    try:
        raw = read_table(source, name=name, max_bytes=max_bytes or config.max_file_bytes(), sheet=sheet)
        if sheet not in (None, "") and raw.file_format != "xlsx":  # said, not silently ignored
            raw.notes.insert(0, f"A sheet ({sheet}) was asked for, but this is a {raw.file_format} file, which has "
                                "no sheets: the whole file was read.")
    except FileRefused as err:
        return IngestResult.refused_with(kind, err.code, _without_file_name(str(err), source, name),
                                         label or neutral_label(now))
    source_name = label or neutral_label(now, len(raw.frame) + len(raw.bad_rows))
    return _check(raw, kind, columns, today, source_name, mapping or {}, date_order, drop_identifiers,
                  pseudonymise_ids, key, redact_free_text)


LABEL_LIMIT = 80  # characters of a typed upload label


def neutral_label(now: datetime | None = None, rows: int | None = None) -> str:
    """How an upload is named when the user types no label: 'upload 2026-11-30 14:05, 2,600 rows' (the clinic's
    local time). The file's own name is never used: it may name a patient."""
    try:
        zone = ZoneInfo(config.timezone())
    except ValueError:  # an unknown zone is refused where dates depend on it; a label takes the machine's clock
        zone = None
    moment = now or datetime.now(zone)
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone)
    text = f"upload {moment:%Y-%m-%d %H:%M}"
    return text if rows is None else f"{text}, {rows:,} row{'s' if rows != 1 else ''}"


def _without_file_name(message: str, source, name: str | None) -> str:
    """A reader's message with the file's path and name replaced by 'the file' (they may name a patient)."""
    words = [str(source), Path(str(source)).name] if isinstance(source, (str, Path)) else []
    for word in sorted({w for w in [*words, name or ""] if w}, key=len, reverse=True):
        message = message.replace(f"'{word}'", "the file").replace(word, "the file")
    return message


def _check(raw: RawTable, kind: str, columns: tuple[Column, ...], today: date, source_name: str,
           mapping: dict[str, str], date_order: str | None, drop_identifiers: bool, pseudonymise_ids: bool,
           key, redact_free_text: bool = False) -> IngestResult:
    """The steps after reading: columns, file-level refusals, identifier guard, date order, parsing, rules."""
    fmt = {"format": raw.file_format, "encoding": raw.encoding, "separator": raw.separator}
    if raw.sheet is not None:
        fmt["sheet"] = raw.sheet
    resolved = resolve_columns(raw.headers, columns, mapping)
    details = dict(column_map=resolved.column_map, extra_columns=resolved.extra_columns,
                   suggestions=resolved.suggestions, file_format=fmt, blank_rows=raw.blank_rows, spans=raw.spans)

    def refuse(refusal: Refusal, message: str, **more) -> IngestResult:
        return IngestResult.refused_with(kind, refusal, message, source_name, **details, **more)

    if resolved.errors:
        return refuse(Refusal.BAD_MAPPING, " ".join(resolved.errors))
    n_rows = len(raw.frame) + len(raw.bad_rows)
    if n_rows == 0:
        return refuse(Refusal.NO_DATA_ROWS, "The file has a header but no data rows.")
    missing = missing_required(raw.headers, resolved.column_map, columns, kind)
    if missing:
        return refuse(Refusal.MISSING_COLUMNS, missing)

    lines = raw.lines
    frame = _codes_as_text(raw.frame.reset_index(drop=True), resolved.column_map, columns)
    encode_columns(frame)  # every repeating text column encoded once, in parallel, for all the checks below
    guarded = guard(frame, lines, resolved.column_map, drop_identifiers, pseudonymise_ids, key,
                    frozenset(c.name for c in columns if c.required), redact_free_text,
                    cutoff_year(frame, resolved.column_map))
    details["identifier_findings"] = guarded.findings
    details["free_text_findings"] = guarded.free_text
    details["redacted"] = guarded.redacted
    details["pseudonym_key_id"] = guarded.key_id
    if guarded.refusal:
        return refuse(guarded.refusal, guarded.message)
    if guarded.dropped:  # a dropped recognised column is a field the file does not have
        details["column_map"] = {h: c for h, c in resolved.column_map.items() if h not in guarded.dropped}
    frame, notes = guarded.frame, [*raw.notes, *guarded.notes]
    header_of = {canonical: header for header, canonical in details["column_map"].items()}

    try:
        order = date_order or _detect_date_order(frame, columns, header_of)
    except AmbiguousDates as err:
        return refuse(Refusal.AMBIGUOUS_DATE_ORDER, str(err), date_order=None)
    if date_order:
        notes.append(f"Dates read {'day-first' if date_order == 'dayfirst' else 'month-first'}, as chosen.")
    elif order:
        notes.append(f"Dates read {'day-first' if order == 'dayfirst' else 'month-first'}: "
                     "the file shows it (a number above 12).")

    report = Report(frame, lines, header_of)
    report.reader_cells(raw.cell_rejections, raw.cell_warnings)  # first: the reader's reason is the one kept
    context = ParseContext(order, today, raw.separator != ",", lines, raw.spans)
    parsed = _parse_columns(frame, raw.headers, columns, header_of, context, report)
    if kind == "sessions":
        check_sessions(parsed, report)
    else:
        parsed = check_assessments(parsed, report, set(header_of))
    if raw.bad_rows:
        bad_lines, bad_reasons = zip(*raw.bad_rows)
        report.reject_rows(list(bad_lines), [f"the row {reason}" for reason in bad_reasons])
    patient_codes = _codes(parsed["patient_id"])
    duplicates, conflicts = duplicates_and_conflicts(parsed, frame, lines, kind, patient_codes, report)

    rejected = report.rejected()
    keep = ~np.isin(lines, rejected["line"].to_numpy(dtype=np.int64))
    data = parsed if keep.all() else parsed.loc[keep].reset_index(drop=True)
    if kind == "sessions":
        late_followups(data, patient_codes[keep], report)
    if raw.blank_rows:
        notes.append(f"{raw.blank_rows} blank row(s) ignored.")
    kept = [h for h in resolved.extra_columns if h in frame.columns]
    details["extra_columns"] = kept
    if kept:
        notes.append("Kept as extra attributes: " + ", ".join(kept) + ".")
    result = IngestResult(kind, data, rejected, report.warnings(), duplicates, conflicts, [], notes,
                          n_rows=n_rows, date_order=order, source_name=source_name, **details)
    assert result.n_accepted + result.n_rejected_rows == n_rows, "a row was lost"
    return result


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a column (equal code = equal value, -1 for a missing cell), from its encoding when the
    ingestion made one (distinct.py), as pandas.factorize would tell the rows apart."""
    encoded = encoding_for(values) if is_text(values) else None
    if encoded is None:
        return pd.factorize(values)[0].astype(np.int64)
    return encoded.unique_codes()


def _codes_as_text(frame: pd.DataFrame, column_map: dict[str, str], columns: tuple[Column, ...]) -> pd.DataFrame:
    """Typed (Parquet) columns read as codes become the text a person would write: 7 -> '7', never '7.0'.

    The CSV readers give text already; this keeps codes alike on every path, for the identifier guard and for
    the comparison of rows as written.
    """
    text_fields = {c.name for c in columns if c.kind == "text"}
    typed = [h for h, c in column_map.items() if c in text_fields and h in frame.columns
             and not (frame[h].dtype == "str" or frame[h].dtype == object)]
    if not typed:
        return frame
    return frame.assign(**{h: as_written(frame[h]).where(frame[h].notna()).astype("str") for h in typed})


def _detect_date_order(frame: pd.DataFrame, columns: tuple[Column, ...], header_of: dict[str, str]) -> str | None:
    """'dayfirst' / 'monthfirst' when the file's text dates show it, None when they need no order."""
    texts, counts = [], []
    for c in columns:
        if c.kind != "date" or c.name not in header_of:
            continue
        values = frame[header_of[c.name]]
        if pd.api.types.is_datetime64_any_dtype(values):
            continue
        encoded = encoding_for(values) if is_text(values) else None
        if encoded is None:
            texts.append(values.astype("str").fillna(""))
            counts.append(None)
        else:  # once per distinct date, each counted as often as it is written (a missing cell tells nothing)
            texts.append(pd.Series(encoded.values.to_pylist(), dtype="str"))
            codes = encoded.codes
            counts.append(np.bincount(codes[codes >= 0], minlength=len(encoded.values)))
    return detect_order(texts, counts) if texts else None


def _parse_columns(frame: pd.DataFrame, headers: list[str], columns: tuple[Column, ...],
                   header_of: dict[str, str], context: ParseContext, report: Report) -> pd.DataFrame:
    """Every canonical column parsed (blank when the file lacks it), the extra columns as text, and `line`."""
    out: dict[str, pd.Series] = {}
    for column in columns:
        header = header_of.get(column.name)
        out[column.name] = (missing_column(column, len(frame)) if header is None
                            else parse_column(column, frame[header], context, report))
    mapped = set(header_of.values())
    for header in headers:
        if header in frame.columns and header not in mapped:
            out[header] = frame[header].astype("str")
    parsed = pd.DataFrame(out, copy=False)
    parsed["line"] = context.lines
    return parsed
