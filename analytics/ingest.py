"""Load a clinic's file, check every rule of the data contract, and explain every problem.

`load_sessions(source)` and `load_assessments(source)` return an `IngestResult`: the accepted rows in
canonical columns and types, and a report of everything else: each rejected cell (file line, column, value
as written, reason), duplicates, conflicts, warnings and file-level errors. A problem in a row rejects that
row only; every data row of the file is either accepted or listed as rejected, never lost.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import config
from .dates import AmbiguousDates, detect_order, parse_dates
from .identifiers import IdentifierFinding, header_reason, pseudonymise, value_findings
from .mapping import resolve_columns
from .reading import BLANK_TOKENS, STR_DTYPE, FileRefused, RawTable, read_table
from .schema import (
    ADVERSE_EVENT_ALIASES, ADVERSE_EVENTS, ASSESSMENT_COLUMNS, IMPLAUSIBLE_UNITS,
    INDICATION_ALIASES, INDICATIONS, PRODUCT_ALIASES, PRODUCTS, SESSION_COLUMNS,
    SESSION_DTYPES, Column, normalise_token,
)

_NAME = r"[a-z][a-z_]*"
_UNITS = r"(?::[1-9]\d*(?:\.\d*[1-9])?)?"
_CANONICAL_MUSCLES = rf"^{_NAME}{_UNITS}(?:;{_NAME}{_UNITS})*$"
CELL_COLUMNS = ["line", "column", "field", "value", "reason"]
WARNING_COLUMNS = ["line", "column", "field", "value", "warning"]
ROW_PROBLEM = "(whole row)"
# Canonical columns whose values are free text and so are scanned for identifiers.
_SCANNED_TEXT = {"patient_id", "session_id", "site", "practitioner_id"}


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
    column_map: dict[str, str] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    suggestions: dict[str, str] = field(default_factory=dict)
    n_rows: int = 0
    blank_rows: int = 0
    date_order: str | None = None
    file_format: dict = field(default_factory=dict)
    source_name: str = ""
    spans: dict[int, int] = field(default_factory=dict)

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
        """The report's counts and messages as plain JSON-ready values."""
        return {
            "source": self.source_name,
            "kind": self.kind,
            "refused": self.refused,
            "file_errors": list(self.file_errors),
            "rows": self.n_rows,
            "accepted_rows": self.n_accepted,
            "rejected_rows": self.n_rejected_rows,
            "rejected_cells": len(self.rejected),
            "duplicate_rows": len(self.duplicates),
            "conflicting_rows": len(self.conflicts),
            "warnings": len(self.warnings),
            "blank_rows_ignored": self.blank_rows,
            "date_order": self.date_order,
            "format": self.file_format,
            "columns": self.column_map,
            "extra_columns": self.extra_columns,
            "suggestions": self.suggestions,
            "identifier_columns": [
                {"column": f.column, "reason": f.reason, "lines": list(f.lines)} for f in self.identifier_findings],
            "notes": list(self.notes),
        }


def load_sessions(source: str | Path | bytes | BinaryIO, **options) -> IngestResult:
    """Read and check a session-records file (one row per injection session); see `load` for the options."""
    return load(source, kind="sessions", **options)


def load_assessments(source: str | Path | bytes | BinaryIO, **options) -> IngestResult:
    """Read and check a repeated-assessments file (one row per score after an injection)."""
    return load(source, kind="assessments", **options)


def load(source: str | Path | bytes | BinaryIO, *, kind: str = "sessions", name: str | None = None,
         mapping: dict[str, str] | None = None, date_order: str | None = None, drop_identifiers: bool = False,
         pseudonymise_ids: bool = False, key: str | bytes | None = None, today: date | None = None,
         max_bytes: int | None = None) -> IngestResult:
    """Read, map, guard, check and split one file into accepted rows and a report.

    mapping: {file header: canonical column} chosen by the user, over the automatic aliases.
    date_order: 'dayfirst' or 'monthfirst' when the user chooses; None reads it from the data.
    drop_identifiers / pseudonymise_ids: the user's answer to the identifier guard.
    key: the pseudonymisation secret (else the OUTCOMES_PSEUDONYM_KEY environment variable).
    """
    columns = SESSION_COLUMNS if kind == "sessions" else ASSESSMENT_COLUMNS
    today = today or date.today()
    try:
        raw = read_table(source, name=name, max_bytes=max_bytes or config.max_file_bytes())
    except FileRefused as err:
        return _refused(kind, str(err), name)
    checker = _Checker(raw, kind, columns, today)
    checker.source_name = name or (Path(source).name if isinstance(source, (str, Path)) else "upload")
    return checker.run(mapping or {}, date_order, drop_identifiers, pseudonymise_ids, key)


def _refused(kind: str, message: str, name: str | None, **extra) -> IngestResult:
    empty = pd.DataFrame(columns=CELL_COLUMNS)
    return IngestResult(kind, pd.DataFrame(), empty, pd.DataFrame(columns=WARNING_COLUMNS),
                        pd.DataFrame(columns=["line", "duplicate_of"]),
                        pd.DataFrame(columns=["line", "key", "other_lines"]), [message],
                        source_name=name or "", **extra)


class _Checker:
    """One file's validation: collects rejected cells and warnings column by column, all vectorised."""

    def __init__(self, raw: RawTable, kind: str, columns: tuple[Column, ...], today: date):
        self.raw, self.kind, self.columns, self.today = raw, kind, columns, today
        self.by_name = {c.name: c for c in columns}
        self.frame = raw.frame.reset_index(drop=True)
        self.lines = raw.lines
        self.problems: list[pd.DataFrame] = []
        self.warnings: list[pd.DataFrame] = []
        self.notes: list[str] = []
        self.source_name = ""
        self.header_of: dict[str, str] = {}

    # ---- collecting problems -------------------------------------------------------------------------
    def reject(self, canonical: str, mask: pd.Series, reason: str | pd.Series, values: pd.Series | None = None):
        """Record a rejected cell for every row where mask is True."""
        mask = mask.fillna(False).astype(bool) if mask.dtype != bool else mask
        if not mask.any():
            return
        self.problems.append(self._cells(canonical, mask, reason, values))

    def warn(self, canonical: str, mask: pd.Series, message: str | pd.Series, values: pd.Series | None = None):
        """Record a warning (accepted, but worth a look) for every row where mask is True."""
        mask = mask.fillna(False).astype(bool) if mask.dtype != bool else mask
        if not mask.any():
            return
        cells = self._cells(canonical, mask, message, values).rename(columns={"reason": "warning"})
        self.warnings.append(cells)

    def _cells(self, canonical: str, mask: pd.Series, reason, values) -> pd.DataFrame:
        positions = np.flatnonzero(mask.to_numpy())
        header = self.header_of.get(canonical, canonical)
        if values is None:
            values = self.frame[header] if header in self.frame.columns else pd.Series("", index=mask.index)
        written = _as_written(values.iloc[positions])
        reasons = reason.iloc[positions].to_numpy() if isinstance(reason, pd.Series) else reason
        return pd.DataFrame({"line": self.lines[positions], "column": header, "field": canonical,
                             "value": written.to_numpy(), "reason": reasons})

    # ---- the run ---------------------------------------------------------------------------------------
    def run(self, mapping, date_order, drop_identifiers, pseudonymise_ids, key) -> IngestResult:
        raw = self.raw
        fmt = {"format": raw.file_format, "encoding": raw.encoding, "separator": raw.separator}
        resolved = resolve_columns(raw.headers, self.columns, mapping)
        self.header_of = {canonical: header for header, canonical in resolved.column_map.items()}
        base = dict(column_map=resolved.column_map, extra_columns=resolved.extra_columns,
                    suggestions=resolved.suggestions, file_format=fmt, blank_rows=raw.blank_rows,
                    spans=raw.spans)
        if resolved.errors:
            return _refused(self.kind, " ".join(resolved.errors), self.source_name, **base)
        n_rows = len(self.frame) + len(raw.bad_rows)
        if n_rows == 0:
            return _refused(self.kind, "The file has a header but no data rows.", self.source_name, **base)
        missing = self._missing_required()
        if missing:
            return _refused(self.kind, missing, self.source_name, **base)

        findings, refuse = self._identifier_guard(drop_identifiers, pseudonymise_ids, key)
        base["identifier_findings"] = findings
        if refuse:
            return _refused(self.kind, refuse, self.source_name, **base)

        try:
            order = date_order or self._detect_date_order()
        except AmbiguousDates as err:
            return _refused(self.kind, str(err), self.source_name, date_order=None, **base)
        if date_order:
            self.notes.append(f"Dates read {'day-first' if date_order == 'dayfirst' else 'month-first'}, "
                              "as chosen.")
        elif order:
            self.notes.append(f"Dates read {'day-first' if order == 'dayfirst' else 'month-first'}: "
                              "the file shows it (a number above 12).")

        parsed = self._parse_columns(order)
        if self.kind == "sessions":
            self._check_sessions(parsed)
        else:
            parsed = self._check_assessments(parsed)
        for line, reason in raw.bad_rows:
            self.problems.append(pd.DataFrame({"line": [line], "column": [ROW_PROBLEM], "field": [ROW_PROBLEM],
                                               "value": [""], "reason": [f"the row {reason}"]}))
        duplicates, conflicts = self._duplicates_and_conflicts(parsed)

        rejected = (pd.concat(self.problems, ignore_index=True) if self.problems
                    else pd.DataFrame(columns=CELL_COLUMNS))
        rejected = rejected.sort_values(["line"], kind="stable").reset_index(drop=True)
        bad_lines = set(rejected["line"].tolist()) if len(rejected) else set()
        keep = ~np.isin(self.lines, np.fromiter(bad_lines, dtype=np.int64, count=len(bad_lines)))
        data = parsed if keep.all() else parsed.loc[keep].reset_index(drop=True)
        if self.kind == "sessions":
            self._cross_row_warnings(data)
        warnings = (pd.concat(self.warnings, ignore_index=True) if self.warnings
                    else pd.DataFrame(columns=WARNING_COLUMNS))
        warnings = warnings.sort_values(["line", "column"], kind="stable").reset_index(drop=True)
        if raw.blank_rows:
            self.notes.append(f"{raw.blank_rows} blank row(s) ignored.")
        kept = [h for h in resolved.extra_columns if h in self.frame.columns]
        base["extra_columns"] = kept
        if kept:
            self.notes.append("Kept as extra attributes: " + ", ".join(kept) + ".")
        result = IngestResult(self.kind, data, rejected, warnings, duplicates, conflicts, [], self.notes,
                              n_rows=n_rows, date_order=order, source_name=self.source_name, **base)
        assert result.n_accepted + result.n_rejected_rows == n_rows, "a row was lost"
        return result

    def _missing_required(self) -> str | None:
        found = set(self.header_of)
        needed = [c.name for c in self.columns if c.required and c.name not in found]
        if self.kind == "sessions" and not {"baseline_pain", "baseline_twstrs"} & found:
            needed.append("baseline_pain (or baseline_twstrs)")
        if self.kind == "assessments":
            if not {"days_after", "week", "assessment_date"} & found:
                needed.append("days_after (or week, or assessment_date)")
            if not {"pain", "twstrs", "pgic"} & found:
                needed.append("a score: pain, twstrs or pgic")
            if "assessment_date" in found and "days_after" not in found and "week" not in found \
                    and "session_date" not in found:
                needed.append("session_date (to count days from the injection to assessment_date)")
        if not needed:
            return None
        headers = ", ".join(f"'{h}'" for h in self.raw.headers)
        hints = []
        for name in needed:
            canonical = name.split(" ")[0]
            column = self.by_name.get(canonical)
            if column is None:
                continue
            candidates = [h for h in self.raw.headers if h not in self.header_of.values()]
            close = difflib.get_close_matches(
                canonical, [str(h).lower() for h in candidates], n=1, cutoff=0.5)
            known = ", ".join(f"'{a}'" for a in column.aliases[:4])
            hint = f"'{canonical}' is also recognised as {known}"
            if close:
                hint += f"; the nearest column in the file is '{candidates[[str(h).lower() for h in candidates].index(close[0])]}'"
            hints.append(hint)
        message = (f"Required column(s) missing: {', '.join(needed)}. Columns found: {headers}. "
                   + (" ".join(h + "." for h in hints) + " " if hints else "")
                   + "Rename the column or map it by hand.")
        if self.kind == "sessions" and _looks_like_assessments(self.raw.headers):
            message = ("This looks like a repeated-assessments file (scores by time after an injection): "
                       "load it as assessments (validate --assessments). " + message)
        return message

    def _identifier_guard(self, drop: bool, pseudonymise_ids: bool, key) -> tuple[list[IdentifierFinding], str | None]:
        """Find identifying columns; drop them if asked, else refuse the file. Pseudonymise patient codes if asked."""
        findings: list[IdentifierFinding] = []
        canonical_of = {h: c for h, c in self.header_of_items()}
        for header in self.raw.headers:
            canonical = canonical_of.get(header)
            reason = header_reason(header) if canonical is None else None
            if reason:
                findings.append(IdentifierFinding(header, reason))
                continue
            column = self.frame[header]
            if canonical in _SCANNED_TEXT or (canonical is None and (column.dtype == "str" or column.dtype == object)):
                findings.extend(value_findings(header, column, self.lines))
            elif canonical is None and pd.api.types.is_integer_dtype(column):
                findings.extend(value_findings(header, column.astype("str"), self.lines))
        patient_header = self.header_of.get("patient_id")
        id_findings = [f for f in findings if f.column == patient_header]
        other = [f for f in findings if f.column != patient_header]
        messages = []
        if other:
            if drop:
                self.frame = self.frame.drop(columns=sorted({f.column for f in other}))
                self.notes.append("Dropped identifying column(s): "
                                  + ", ".join(sorted({f"'{f.column}'" for f in other})) + ".")
            else:
                messages.append("The file holds direct identifiers: "
                                + "; ".join(f.message() for f in other)
                                + ". Drop these columns (--drop-identifiers) or cancel; identifying data is "
                                  "never stored.")
        if pseudonymise_ids and patient_header:
            secret = config.pseudonym_key(key)
            if secret is None:
                messages.append(f"Pseudonymisation was asked for but no key is set: put the clinic's secret in "
                                f"{config.PSEUDONYM_KEY_ENV} (or the app's secrets) and try again.")
            else:
                self.frame[patient_header] = pseudonymise(self.frame[patient_header], secret)
                self.notes.append("Patient codes pseudonymised with the clinic's key (HMAC-SHA256).")
        elif id_findings:
            messages.append("Patient codes look like direct identifiers: "
                            + "; ".join(f.message() for f in id_findings)
                            + ". Pseudonymise them with the clinic's key (--pseudonymise) or cancel.")
        return findings, (" ".join(messages) or None)

    def header_of_items(self):
        return ((header, canonical) for canonical, header in self.header_of.items())

    def _detect_date_order(self) -> str | None:
        texts = []
        for name, column in self.by_name.items():
            header = self.header_of.get(name)
            if column.kind == "date" and header is not None and not pd.api.types.is_datetime64_any_dtype(
                    self.frame[header]):
                texts.append(self.frame[header].astype("str").fillna(""))
        return detect_order(texts) if texts else None

    # ---- parsing every column --------------------------------------------------------------------------
    def _parse_columns(self, order: str | None) -> pd.DataFrame:
        out: dict[str, pd.Series] = {}
        n = len(self.frame)
        for column in self.columns:
            header = self.header_of.get(column.name)
            if header is None:
                out[column.name] = _empty(column, n)
                continue
            values = self.frame[header]
            out[column.name] = self._parse(column, values, order)
        for header in self.raw.headers:
            if header in self.frame.columns and header not in self.header_of.values():
                out[header] = self.frame[header].astype("str")
        parsed = pd.DataFrame(out)
        parsed["line"] = self.lines
        return parsed

    def _parse(self, column: Column, values: pd.Series, order: str | None) -> pd.Series:
        blank = _blank_mask(values)
        if column.required:
            self.reject(column.name, blank, f"blank, but {column.name} is required")
        if column.kind == "text":
            text = _keep(values.astype("str").str.strip(), ~blank)
            if self.raw.spans:
                broken = text.str.contains("\n", regex=False).fillna(False)
                reasons = pd.Series("", index=values.index, dtype="str")
                reasons[broken] = [f"holds a line break: a quote joined lines {n} to {self.raw.spans.get(n, n)} "
                                   "into one row; check the quotes on these lines" for n in self.lines[broken.to_numpy()]]
                self.reject(column.name, broken, reasons)
            if column.max_length:
                self.reject(column.name, text.str.len() > column.max_length,
                            f"longer than {column.max_length} characters")
            return text.astype("str")
        if column.kind == "date":
            parsed, reasons = parse_dates(_keep(values, ~blank), order)
            self.reject(column.name, reasons != "", reasons)
            future = parsed > pd.Timestamp(self.today)
            self.reject(column.name, future, f"in the future (after {self.today.isoformat()})")
            return _keep(parsed, ~future)
        if column.kind in ("number", "integer"):
            return self._parse_number(column, values, blank)
        if column.kind == "category":
            return self._parse_category(column, values, blank)
        return self._parse_list(column, values, blank)

    def _parse_number(self, column: Column, values: pd.Series, blank: pd.Series) -> pd.Series:
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.astype("Float64")
        else:
            text = values.astype("str").str.strip()
            if self.raw.separator != ",":
                text = text.str.replace(r"^([-+]?\d*),(\d+)$", r"\1.\2", regex=True)
            numbers = pd.to_numeric(_keep(text, ~blank), errors="coerce").astype("Float64")
            self.reject(column.name, ~blank & numbers.isna(), "not a number")
        numbers = _keep(numbers, ~blank)
        valid = numbers.notna()
        if column.kind == "integer":
            fractional = valid & (numbers != numbers.round())
            self.reject(column.name, fractional, "not a whole number")
            valid &= ~fractional
        if column.name == "total_units":
            self.reject(column.name, valid & (numbers <= 0), "must be above 0")
        elif column.low is not None or column.high is not None:
            low = column.low if column.low is not None else -np.inf
            high = column.high if column.high is not None else np.inf
            outside = valid & ((numbers < low) | (numbers > high))
            span = (f"between {_fmt(low)} and {_fmt(high)}" if column.high is not None
                    else f"{_fmt(low)} or more")
            self.reject(column.name, outside, f"must be {span}")
        if column.kind == "integer":
            return _keep(numbers, (numbers == numbers.round()).fillna(True)).round().astype("Int64")
        return numbers.astype("float64") if column.name == "total_units" else numbers

    def _parse_category(self, column: Column, values: pd.Series, blank: pd.Series) -> pd.Series:
        aliases, allowed = ((PRODUCT_ALIASES, PRODUCTS) if column.name == "product"
                            else (INDICATION_ALIASES, INDICATIONS))
        mapped, _ = _per_unique(_keep(values, ~blank), lambda u: (aliases.get(normalise_token(u)), ""))
        unknown = ~blank & mapped.isna()
        if column.name == "product":
            accepted = "Botox, Dysport, Xeomin, Myobloc/NeuroBloc, their generic names, or other"
        else:
            accepted = ", ".join(allowed)
        self.reject(column.name, unknown, f"unknown {column.name.replace('_', ' ')} (accepted: {accepted})")
        return mapped

    def _parse_list(self, column: Column, values: pd.Series, blank: pd.Series) -> pd.Series:
        text = _keep(values, ~blank).astype("str").str.strip()
        canonical_form = _CANONICAL_MUSCLES if column.name == "muscles" else None
        if canonical_form is not None:
            # most exports are already canonical: only the other values go through the Python parser
            array = pa.array(text, type=pa.string(), from_pandas=True)
            done = pc.fill_null(pc.match_substring_regex(array, canonical_form), False).to_numpy(
                zero_copy_only=False)
        else:
            done = np.zeros(len(text), dtype=bool)
        if done.all():  # every value already canonical: nothing to parse
            return text
        parser = _parse_muscles if column.name == "muscles" else _parse_events
        parsed, reasons = _per_unique(_keep(text, ~done), parser)
        if done.any():
            parsed = parsed.where(~done, text)
        self.reject(column.name, reasons != "", reasons)
        return _keep(parsed, reasons == "")

    # ---- rules across columns --------------------------------------------------------------------------
    def _check_sessions(self, parsed: pd.DataFrame) -> None:
        no_baseline = parsed["baseline_pain"].isna() & parsed["baseline_twstrs"].isna()
        bad_baseline_cell = self._rejected_mask(parsed, {"baseline_pain", "baseline_twstrs"})
        self.reject("baseline_pain", no_baseline & ~bad_baseline_cell,
                    "no baseline score: baseline_pain or baseline_twstrs is required")
        onset, peak = parsed["onset_days"], parsed["peak_days"]
        self.warn("peak_days", (peak < onset).fillna(False), "peak_days is before onset_days",
                  parsed["peak_days"])
        limits = parsed["product"].map(IMPLAUSIBLE_UNITS).astype("float64")
        too_much = (parsed["total_units"] > limits).fillna(False)
        self.warn("total_units", too_much, "an unusually high dose for this product (please check)",
                  parsed["total_units"])
        muscle_units = _muscle_unit_totals(parsed["muscles"])
        mismatch = muscle_units.notna() & ((muscle_units - parsed["total_units"]).abs() > 0.5)
        self.warn("muscles", mismatch.fillna(False), "the muscles' units do not add up to total_units")

    def _check_assessments(self, parsed: pd.DataFrame) -> pd.DataFrame:
        days = parsed["days_after"].astype("Float64")
        from_week = parsed["week"].astype("Float64") * 7
        days = days.fillna(from_week)
        if "assessment_date" in self.header_of and "session_date" in self.header_of:
            gap = (parsed["assessment_date"] - parsed["session_date"]).dt.days.astype("Float64")
            self.reject("assessment_date", (gap < 0).fillna(False), "before the injection date")
            days = days.fillna(gap.where(gap >= 0))
        no_time = days.isna() & ~self._rejected_mask(parsed, {"days_after", "week", "assessment_date", "session_date"})
        self.reject("days_after", no_time, "no time after the injection: give days_after, week or assessment_date")
        scores = [s for s in ("pain", "twstrs", "pgic") if s in self.header_of]
        no_score = parsed[scores].isna().all(axis=1) & ~self._rejected_mask(parsed, set(scores))
        self.reject(scores[0], no_score, "no score: give pain, twstrs or pgic")
        parsed["days_after"] = days
        return parsed.drop(columns=["week"])

    def _rejected_mask(self, parsed: pd.DataFrame, fields: set[str]) -> pd.Series:
        """True on rows that already have a rejected cell in one of these fields."""
        lines = [p.loc[p["field"].isin(fields), "line"] for p in self.problems]
        bad = pd.concat(lines).to_numpy() if lines else np.array([], dtype=np.int64)
        return pd.Series(np.isin(self.lines, bad), index=parsed.index)

    def _duplicates_and_conflicts(self, parsed: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Exact copies are listed and counted once; different rows for one session are conflicts.

        Two rows can only be copies or conflicts when they share a session key (session_id, else patient and
        date), so whole rows are compared only within repeated keys: one pass over two integer columns.
        """
        no_conflicts = pd.DataFrame(columns=["line", "key", "other_lines"])
        keys = self._session_keys(parsed)
        usable = keys["usable"].to_numpy()
        repeated = keys.duplicated(subset=["a", "b"], keep=False).to_numpy() & usable
        candidates = np.flatnonzero(repeated | ~usable)
        copy = np.zeros(len(parsed), dtype=bool)
        first_line = self.lines.copy()
        if len(candidates):
            subset = self.frame.iloc[candidates]
            hashes = pd.Series(pd.util.hash_pandas_object(subset, index=False).to_numpy())
            copy[candidates] = hashes.duplicated(keep="first").to_numpy()
            first_line[candidates] = pd.Series(self.lines[candidates]).groupby(hashes).transform("first").to_numpy()
        duplicates = pd.DataFrame({"line": self.lines[copy], "duplicate_of": first_line[copy]})
        if copy.any():
            reasons = pd.Series([f"an exact copy of line {n}; counted once" for n in first_line[copy]],
                                index=np.flatnonzero(copy), dtype="str").reindex(range(len(copy)), fill_value="")
            self.reject("(row)", pd.Series(copy), reasons, values=pd.Series("", index=range(len(copy))))
        if self.kind != "sessions":
            return duplicates, no_conflicts
        live = keys.loc[usable & ~copy, ["a", "b"]]
        clash_index = live.index[live.duplicated(keep=False).to_numpy()]
        if not len(clash_index):
            return duplicates, no_conflicts
        label = keys.loc[clash_index, "label"]
        clash_lines = pd.Series(self.lines[clash_index], index=clash_index)
        groups = clash_lines.groupby(label).agg(list)
        others = [", ".join(str(n) for n in groups[k] if n != line) for k, line in zip(label, clash_lines)]
        conflicts = pd.DataFrame({"line": clash_lines.to_numpy(), "key": label.to_numpy(), "other_lines": others})
        mask = pd.Series(False, index=parsed.index)
        mask[clash_index] = True
        reasons = pd.Series("", index=parsed.index, dtype="str")
        reasons[clash_index] = [f"conflicts with line {o}: same session ({k}) with different values; fix or "
                                "remove one" for o, k in zip(others, label)]
        values = pd.Series("", index=parsed.index, dtype="str")
        values[clash_index] = label.to_numpy()
        self.reject("(row)", mask, reasons, values=values)
        return duplicates, conflicts

    def _patient_codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Integer codes of patient_id (-1 where blank), worked out once per table."""
        cached = getattr(self, "_codes", None)
        if cached is not None and cached[0] is frame:
            return cached[1]
        codes = pd.factorize(frame["patient_id"])[0].astype(np.int64)
        self._codes = (frame, codes)
        return codes

    def _session_keys(self, parsed: pd.DataFrame) -> pd.DataFrame:
        """Integer session keys (a, b): session_id where given, else patient and date; and a label for messages."""
        patient_code = self._patient_codes(parsed)
        day = parsed["session_date"]
        day_code = np.where(day.isna(), -1, day.to_numpy().astype("datetime64[D]").astype(np.int64))
        has_id = parsed["session_id"].notna().to_numpy()
        id_code = pd.factorize(parsed["session_id"])[0].astype(np.int64)
        keys = pd.DataFrame({
            "a": np.where(has_id, id_code, patient_code),
            "b": np.where(has_id, -2, day_code),
            "usable": has_id | ((patient_code >= 0) & (day_code >= 0)),
        }, index=parsed.index)
        repeated = keys.duplicated(subset=["a", "b"], keep=False) & keys["usable"]
        label = pd.Series("", index=parsed.index, dtype="str")
        if repeated.any():
            rows = parsed.loc[repeated]
            by_id = "session_id " + rows["session_id"]
            by_day = "patient " + rows["patient_id"] + " on " + rows["session_date"].dt.strftime("%Y-%m-%d")
            label[repeated] = by_id.where(rows["session_id"].notna(), by_day)
        keys["label"] = label
        return keys

    def _cross_row_warnings(self, data: pd.DataFrame) -> None:
        """Warnings that need a patient's other sessions: a follow-up after the next injection."""
        if data.empty or data["followup_days"].isna().all():
            return
        patient = self._patient_codes(data)
        day = data["session_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        order = np.lexsort((day, patient))
        same_patient_next = np.append(patient[order][1:] == patient[order][:-1], False)
        gap = np.append(day[order][1:] - day[order][:-1], 0).astype(float)
        gap[~same_patient_next] = np.nan
        followup = data["followup_days"].to_numpy(dtype=float, na_value=np.nan)[order]
        late = order[followup > gap]
        if len(late):
            rows = data.iloc[np.sort(late)]
            self.warnings.append(pd.DataFrame({
                "line": rows["line"].to_numpy(), "column": self.header_of.get("followup_days", "followup_days"),
                "field": "followup_days", "value": _as_written(rows["followup_days"]).to_numpy(),
                "warning": "the follow-up review is dated after the patient's next injection"}))


def _looks_like_assessments(headers: list[str]) -> bool:
    """True when the headers name a time after injection and a score, as a repeated-assessments file does."""
    found = set(resolve_columns(headers, ASSESSMENT_COLUMNS).column_map.values())
    return bool(found & {"days_after", "week", "assessment_date"}) and bool(found & {"pain", "twstrs", "pgic"})


# ---- helpers ---------------------------------------------------------------------------------------------
def _keep(values: pd.Series, keep) -> pd.Series:
    """values where keep is True, blank elsewhere; no copy when every value is kept (the common case)."""
    keep = np.asarray(keep, dtype=bool)
    return values if keep.all() else values.where(keep)


def _blank_mask(values: pd.Series) -> pd.Series:
    if values.dtype == "str" or values.dtype == object:
        return values.isna() | values.astype("str").str.strip().isin(BLANK_TOKENS)
    return values.isna()


def _as_written(values: pd.Series) -> pd.Series:
    """Cell values as text for the report: numbers without a trailing .0, blanks as ''."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("")
    if pd.api.types.is_float_dtype(values):
        values = values.astype("Float64")
        whole = values == values.round()
        text = values.astype("str")
        text = text.where(~whole.fillna(False), values.round().astype("Int64").astype("str"))
        return text.fillna("")
    return values.astype("str").fillna("")


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def _empty(column: Column, n: int) -> pd.Series:
    dtype = SESSION_DTYPES.get(column.name)
    if column.kind == "date":
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[s]")
    if column.kind in ("number", "integer"):
        return pd.Series(pd.NA, index=range(n), dtype=dtype or ("Int64" if column.kind == "integer" else "Float64"))
    return pd.Series(pd.NA, index=range(n), dtype="str")


def _parse_muscles(text: str) -> tuple[str | None, str]:
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
            items.append(f"{name}:{_fmt(amount)}")
        else:
            items.append(name)
    if not items:
        return None, "no muscle named"
    return ";".join(items), ""


def _parse_events(text: str) -> tuple[str | None, str]:
    """'Dysphagia; Flu-like' -> ('dysphagia;flu_like', '') or (None, reason)."""
    events = []
    for item in text.replace("|", ";").replace(",", ";").split(";"):
        if not item.strip():
            continue
        event = ADVERSE_EVENT_ALIASES.get(normalise_token(item))
        if event is None:
            return None, f"unknown adverse event '{item.strip()}' (accepted: {', '.join(ADVERSE_EVENTS)})"
        if event not in events:
            events.append(event)
    if not events:
        return None, "no adverse event named (write none when there was none)"
    if "none" in events and len(events) > 1:
        return None, "says none and also names an adverse event"
    return ";".join(events), ""


def _muscle_unit_totals(muscles: pd.Series) -> pd.Series:
    """Sum of the per-muscle units where every muscle in the list gives its units; NA otherwise.

    Worked out once per distinct muscle list (Arrow string kernels), then spread back to the rows.
    """
    codes, uniques = pd.factorize(muscles, use_na_sentinel=True)
    array = pa.array(np.asarray(uniques, dtype=object), type=pa.string())
    items = pc.split_pattern(array, ";")
    flat = pc.list_flatten(items)
    parents = pc.list_parent_indices(items).to_numpy()
    units = pc.replace_substring_regex(flat, r"^[^:]*:?", "")
    units = pc.if_else(pc.equal(units, ""), pa.scalar(None, pa.string()), units)
    amounts = pc.cast(units, pa.float64()).to_numpy(zero_copy_only=False)
    n = len(uniques)
    missing = np.bincount(parents, weights=np.isnan(amounts), minlength=n)
    totals = np.bincount(parents, weights=np.nan_to_num(amounts), minlength=n)
    has_items = np.bincount(parents, minlength=n) > 0
    per_unique = np.append(np.where(has_items & (missing == 0), totals, np.nan), np.nan)
    return pd.Series(per_unique[codes], index=muscles.index).astype("Float64")


def _per_unique(values: pd.Series, parse) -> tuple[pd.Series, pd.Series]:
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
