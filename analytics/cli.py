"""The command line: validate a file, summarise its outcomes, compare groups, and draw a repeated-assessments timeline.

`python -m analytics validate FILE [--mapping FILE] [--dayfirst | --monthfirst] [--drop-identifiers]
[--pseudonymise] [--assessments] [--json [--all]]` prints the report a person can act on and exits 0 when every
row was accepted, 1 when some rows were rejected and the rest are usable, 2 when the file is refused. Problems are
grouped by reason: every rejected cell is listed, the first 20 warnings of each kind (`--json --all`: every cell;
analytics/report_stream.py, docs/validation-report.md).

The outcome store (analytics/store.py): `import FILE [--db PATH] [--label TEXT]` validates like `validate`, then
adds the accepted rows to the store (same exit codes; a refused file imports nothing; the store keeps the label,
never the file's name); `history [--db PATH] [--json]` lists the imports; `undo BATCH [--db PATH]` undoes one;
`purge --patient CODE [--pseudonymise] [--db PATH]` erases every row of one patient (exit 1 when the store holds
no such code); `summary --db PATH` reads the store. `audit [--db PATH] [--since DATE] [--user EMAIL] [--action ACTION]
[--json]` lists the audit trail (analytics/audit.py), newest first; import, undo and purge each add a row to it
(user: the operating-system user, role "command line", object: the batch and the file's SHA-256, the batch undone,
or the erasure's batch; outcome "ok" or "refused: <short reason>"); a row that cannot be written is a warning, not a
failure.
`report --out FILE [FILE | --db PATH] [--format html|xlsx]` writes the shareable report (reports/: the command
line is an entry point like dashboard.py, and the one place in analytics/ that reaches up to it, lazily).

`patient-summary FILE|--db PATH --patient CODE --out FILE.html [--json] [--show-code]` writes one patient's own
summary page (analytics/patient_summary.py, reports/patient_summary.py); audited as viewing that patient
(`view_patient`, outcome "ok: summary for the patient", in --db or the default store); `--json` prints the
figures the page shows.

`compare FILE|--db PATH --by practitioner_id|site|product|indication [--adjust casemix|none] [--json]` gives the
funnel plot's figures (analytics/compare_command.py, analytics/funnel.py). An `--as-of` date after the latest
session is refused (exit 2).

Every command that reads a file takes `--redcap-dictionary DICT.csv [--include-unverified]` for a REDCap export
(analytics/redcap_export.py); `import --redcap-url URL` pulls one from REDCap's API, the token in REDCAP_API_TOKEN
(analytics/redcap_api.py).

`summary`, `compare` and `report` take the app's selection (--site, --practitioner, --product, --indication,
--from, --to; analytics/selection.py), applied after each patient's whole history is worked out, and every
threshold as an option made from its Settings field (analytics/settings.py).
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from datetime import date, datetime
from pathlib import Path

import pandas as pd

from . import audit, redcap_api, redcap_export, store
from .assessments import SCORES, timeline
from .ingest import IngestResult, load
from .log_privacy import scrubbed_traceback
from .mapping import load_mapping
from .reason_codes import Refusal
from .report_groups import group_lines
from .report_stream import LISTED_WARNINGS, cell_groups, groups_table, warning_lines, write_report_json
from .schema import INDICATION_ALIASES, PRODUCT_ALIASES, normalise_token
from .selection import FILTER_COLUMNS, Selection, by_values, select, unmatched
from .sessions import as_of_after_data, derive_sessions
from .settings import DEFAULT_SETTINGS, Knob, Settings, knobs
from .summary import summarise


def add_ingest_options(parser: argparse.ArgumentParser, file_required: bool = True, instead: str = "--db") -> None:
    """The ingestion options every file-reading command shares (FILE optional where --db can replace it)."""
    if file_required:
        parser.add_argument("file", help="CSV, Excel .xlsx or Parquet file")
    else:
        parser.add_argument("file", nargs="?", help=f"CSV, Excel .xlsx or Parquet file (or give {instead} instead)")
    redcap_export.add_options(parser)
    parser.add_argument("--mapping", help="JSON file of {\"file header\": \"field\"} pairs, over the automatic names")
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", action="store_true", help="dates are day-first (14/03/2025)")
    order.add_argument("--monthfirst", action="store_true", help="dates are month-first (03/14/2025)")
    parser.add_argument("--drop-identifiers", action="store_true",
                        help="drop columns that look like direct identifiers instead of refusing the file")
    parser.add_argument("--pseudonymise", action="store_true",
                        help="replace patient and session codes by keyed HMAC codes (key in OUTCOMES_PSEUDONYM_KEY)")
    parser.add_argument("--redact-free-text", action="store_true",
                        help="replace identifiers found inside free text (notes, comments) by tags such as [phone] "
                             "instead of refusing the file")
    parser.add_argument("--label", help="what to call this upload in reports and the import log (at most 80 "
                                        "characters, no patient details; default: 'upload <date time>, <n> rows'); "
                                        "the file's own name is never kept")
    parser.add_argument("--sheet", metavar="NAME|N",
                        help="for an Excel workbook, the worksheet to read: its name, or its number from 1 "
                             "(default: the first whose header row fits the data contract)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_metric_options(parser: argparse.ArgumentParser) -> None:
    """Every threshold of Settings as an option (--field-name, plus the Knob's extra spellings), in the units the
    app shows it in, and the as-of date."""
    parser.add_argument("--as-of", help="the as-of date (default: the latest session date)")
    for name, knob in knobs().items():
        default = knob.shown(getattr(DEFAULT_SETTINGS, name))
        metavar = {"%": "PERCENT"}.get(knob.unit, knob.unit.upper())
        parser.add_argument(f"--{name.replace('_', '-')}", *knob.cli, dest=name, metavar=metavar,
                            type=_bounded(knob), help=f"{knob.label}; default {default:g}".replace("%", "%%"))


def _bounded(knob: Knob):
    """An argparse type: a number within the knob's bounds, whole where the knob is."""
    def parse(text: str) -> float | int:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not knob.low <= value <= knob.high or (knob.integer and not value.is_integer()):
            whole = "a whole number " if knob.integer else ""
            raise argparse.ArgumentTypeError(f"{text} is out of range: give {whole}from {knob.low:g} to "
                                             f"{knob.high:g} ({knob.unit})")
        return value
    return parse


def add_selection_options(parser: argparse.ArgumentParser) -> None:
    """The filters of the app's sidebar: values of site, practitioner, product, indication, and a period."""
    for words, column in FILTER_COLUMNS.items():
        parser.add_argument(f"--{words.lower()}", dest=f"select_{column}", action="append", metavar="VALUE",
                            help=f"only this {words.lower()} (repeat for several)")
    parser.add_argument("--from", dest="date_from", metavar="DATE", help="only sessions on or after this date")
    parser.add_argument("--to", dest="date_to", metavar="DATE", help="only sessions on or before this date")


def _date(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be a date like 2025-03-14, not {text!r}") from None


def selection_from_args(args: argparse.Namespace) -> Selection:
    """The selection the options ask for (everything when none is given)."""
    start, end = _date(args.date_from, "--from"), _date(args.date_to, "--to")
    if start and end and end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    chosen = {column: getattr(args, f"select_{column}") for column in FILTER_COLUMNS.values()}
    for column, aliases in (("product", PRODUCT_ALIASES), ("indication", INDICATION_ALIASES)):
        # brand names and other spellings, as the importer reads them: --product Botox
        chosen[column] = [aliases.get(normalise_token(v), v) for v in chosen[column] or ()]
    return Selection("Custom range", start, end, by_values(**chosen))


def _checked_selection(args: argparse.Namespace, sessions) -> Selection:
    """The selection the options ask for; ValueError (exit 2) when it names a column or value the data lacks, or
    when --as-of falls after the latest session."""
    chosen = selection_from_args(args)
    late = as_of_after_data(sessions, _date(getattr(args, "as_of", None), "--as-of"))
    if late:
        raise ValueError(f"--as-of: {late}")
    problems = unmatched(sessions, chosen)
    if problems:
        raise ValueError("the selection does not match the data: " + "; ".join(problems))
    return chosen


def _selection_words(chosen: Selection) -> str:
    """The selection in words; '' when nothing was chosen."""
    return "; ".join(w for w in (chosen.describe_dates(), chosen.describe() if chosen.values else "") if w)


def ingest_from_args(args: argparse.Namespace, kind: str = "sessions") -> IngestResult:
    """Run the ingestion with the options given on the command line."""
    mapping = load_mapping(args.mapping) if args.mapping else None
    order = "dayfirst" if args.dayfirst else "monthfirst" if args.monthfirst else None
    options = dict(kind=kind, mapping=mapping, date_order=order, drop_identifiers=args.drop_identifiers,
                   pseudonymise_ids=args.pseudonymise, redact_free_text=getattr(args, "redact_free_text", False),
                   label=getattr(args, "label", None))
    redcap = redcap_export.from_args(args, options)  # a REDCap export read with its data dictionary, else None
    return redcap if redcap is not None else load(args.file, sheet=args.sheet, **options)


def report_json(result: IngestResult, every_cell: bool = False) -> dict:
    """The validation report as JSON-ready values: what `validate --json` writes (analytics/report_stream.py)."""
    out = io.StringIO()
    write_json_report(result, out, every_cell)
    return json.loads(out.getvalue())


def write_json_report(result: IngestResult, stream, every_cell: bool = False) -> None:
    """Write `validate --json` to a text stream piece by piece: the counts, the groups by reason (every rejected
    cell, the first warnings of each kind), duplicates and conflicts; every_cell adds one object per cell."""
    write_report_json(stream, result.summary(), result.rejected, result.warnings, result.duplicates,
                      result.conflicts, every_cell=every_cell)


# How a terminal reader is told why a file was refused (the code follows, for scripts).
REFUSAL_WORDS = {
    Refusal.UNREADABLE_FILE: "the file could not be read",
    Refusal.TOO_LARGE: "the file is larger than the limit (OUTCOMES_MAX_FILE_MB)",
    Refusal.EMPTY_FILE: "the file is empty",
    Refusal.NO_DATA_ROWS: "the file has a header but no data rows",
    Refusal.BAD_MAPPING: "the column mapping does not fit the file",
    Refusal.MISSING_COLUMNS: "a required column is missing",
    Refusal.IDENTIFIERS_FOUND: "the file holds direct identifiers (use --drop-identifiers)",
    Refusal.IDENTIFYING_PATIENT_CODES: "the patient codes look like identifiers (use --pseudonymise)",
    Refusal.NO_PSEUDONYM_KEY: "pseudonymising needs the clinic's key (OUTCOMES_PSEUDONYM_KEY)",
    Refusal.AMBIGUOUS_DATE_ORDER: "the dates read both ways (use --dayfirst or --monthfirst)",
    Refusal.NO_SUCH_SHEET: "the workbook has no such sheet (use --sheet NAME or NUMBER)",
    Refusal.FREE_TEXT_IDENTIFIERS: "free text holds identifiers (use --redact-free-text or --drop-identifiers)",
    Refusal.IDENTIFYING_LABEL: "the label cannot be kept (type another with --label)",
}


def report_text(result: IngestResult, limit: int = 200) -> str:
    """The validation report in plain words."""
    s = result.summary()
    out = []
    if result.refused:
        out.append(f"{s['source']}: REFUSED. Nothing was taken from this file.")
        if result.refusal:
            out.append(f"  Why ({result.refusal}): {REFUSAL_WORDS[result.refusal]}.")
        out.extend(f"  {message}" for message in result.file_errors)
        if s["columns"]:
            out.append("Columns recognised: " + ", ".join(f"'{h}' -> {c}" for h, c in s["columns"].items()))
        return "\n".join(out)
    counted = s["source"].endswith((f", {s['rows']:,} rows", f", {s['rows']:,} row"))  # a neutral label counts them
    rows = "" if counted else f"{s['rows']} rows: "
    out.append(f"{s['source']}: {rows}{s['accepted_rows']} accepted, {s['rejected_rows']} rejected "
               f"({s['duplicate_rows']} exact duplicate(s), {s['conflicting_rows']} conflicting), "
               f"{s['warnings']} warning(s).")
    fmt = s["format"]
    separator = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(fmt.get("separator") or "", "")
    out.append(f"Read as {fmt.get('format')}" + (f", {fmt.get('encoding')}" if fmt.get("encoding") else "")
               + (f", {separator}-separated" if separator else "") + ".")
    out.append("Columns: " + ", ".join(f"'{h}' -> {c}" for h, c in s["columns"].items()))
    for header, field in s["suggestions"].items():
        out.append(f"  '{header}' was not recognised; did you mean {field}? (map it with --mapping)")
    out.extend(s["notes"])
    groups = cell_groups(result.rejected, result.warnings)  # the problem_groups table, with the cells to list
    if groups:
        out += ["", "Problems by reason (rejections first, then warnings; counts first, the rows follow):"]
        out += group_lines(groups_table(groups))
    out += _listing("Rejected cells (line, column, value as written, reason):", result.rejected, "reason", limit)
    if len(result.warnings):  # by reason, the first of each: a thousand copies of one warning stay one short list
        out += ["", f"Warnings (rows accepted, worth a look; the first {LISTED_WARNINGS} of each kind):"]
        out += warning_lines(groups)
    return "\n".join(out)


def _listing(title: str, table, message: str, limit: int) -> list[str]:
    """One report section: a line per cell (line, column, value as written, message), at most `limit`."""
    if not len(table):
        return []
    lines = ["", title]
    for line, column, value, text in table[["line", "column", "value", message]].head(limit).itertuples(
            index=False, name=None):
        lines.append(f"  line {line}: {column} = {value!r}: {text}")
    if len(table) > limit:
        lines.append(f"  ... and {len(table) - limit} more (use --json for all).")
    return lines


def cmd_validate(args: argparse.Namespace) -> int:
    kind = "assessments" if args.assessments else "sessions"
    result = ingest_from_args(args, kind)
    if args.json:
        write_json_report(result, sys.stdout, every_cell=args.all)
    else:
        print(report_text(result))
    return result.exit_code


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings with the thresholds given on the command line, defaults elsewhere."""
    changes = {name: knob.stored(getattr(args, name)) for name, knob in knobs().items()
               if getattr(args, name, None) is not None}
    as_of = _date(getattr(args, "as_of", None), "--as-of")
    if as_of:
        changes["as_of"] = as_of
    return DEFAULT_SETTINGS.with_changes(**changes)


def _refused(result: IngestResult, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"refused": True, "refusal": result.refusal, "file_errors": result.file_errors}, indent=2))
    else:
        print(report_text(result))
    return 2


def _file_or_store(args: argparse.Namespace) -> None:
    """Exactly one of FILE and --db (ValueError otherwise)."""
    if args.file and args.db:
        raise ValueError("give a FILE or --db PATH, not both")
    if not args.file and not args.db:
        raise ValueError("give a FILE, or --db PATH to use the outcome store")


def read_sessions(args: argparse.Namespace) -> tuple[pd.DataFrame, str, int] | int:
    """The sessions of FILE or of --db (exactly one), the source in words and the rows rejected on reading; or
    the exit code 2, the refusal printed, when the file is refused. The analysis commands (summary, compare,
    report) all read their input this way."""
    _file_or_store(args)
    if args.db:
        # rows rejected at import are not in the store; `history` lists them per import
        store.require_store(args.db)  # a mistyped path is refused, never summarised as empty
        return store.read_sessions(args.db), f"outcome store {args.db}", 0
    result = ingest_from_args(args, "sessions")
    if result.refused:
        return _refused(result, args.json)
    return result.data, result.source_name, result.n_rejected_rows


def cmd_summary(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.db:  # the store's derived table, filters in DuckDB (analytics/store_derived.py); nothing derived again
        _file_or_store(args)
        store.require_store(args.db)  # a mistyped path is refused, never summarised as empty
        chosen = _checked_selection(args, store.selection_values(args.db))
        ready = store.read_derived_with(args.db, settings=settings, selection=chosen, columns=store.SUMMARY_COLUMNS,
                                        patients_of_selection=True)  # flags judge whole histories
        summary = summarise(ready.frame, settings, selection=chosen, ready=ready)
        source = f"outcome store {args.db}"
    else:
        read = read_sessions(args)
        if isinstance(read, int):
            return read
        sessions, source, rejected = read
        chosen = _checked_selection(args, sessions)
        summary = summarise(sessions, settings, rejected_rows=rejected, selection=chosen)
    words = _selection_words(chosen)
    if words:
        summary["selection"] = words
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(summary_text(summary, source, settings))
    return 0


# ---- the outcome store: import, history, undo --------------------------------------------------------------
def add_db_option(parser: argparse.ArgumentParser, default_store: bool = True) -> None:
    where = (f"default: ${store.DB_ENV}, else data/outcomes.duckdb" if default_store
             else "instead of a FILE")
    parser.add_argument("--db", help=f"the outcome store, a DuckDB file ({where})")


# ---- the audit rows of the commands that change the store --------------------------------------------------
def _short_reason(err: Exception) -> str:
    """A few fixed words for why the store refused (the trail never copies a message, which may name values)."""
    for kind, words in ((store.StoreBusy, "store busy"), (store.StoreMissing, "no store"),
                        (store.PatientNotFound, "no such patient"), (store.ClearingNeeded, "would clear values"),
                        (store.KeyMismatch, "another pseudonym key")):
        if isinstance(err, kind):
            return words
    text = str(err)
    for needle, words in (("already undone", "already undone"), ("cannot be undone yet", "later batches first"),
                          ("erasure of a patient", "an erasure cannot be undone"),
                          ("There is no batch", "no such batch"), ("not a batch number", "not a batch number"),
                          ("repeat the key", "repeated keys"), ("not an outcome store", "not a store"),
                          ("cannot be opened", "not a store"), ("another version", "another version")):
        if needle in text:
            return words
    return "store error"


_NOT_A_STORE = ("no store", "not a store", "another version")  # refusals with no store to record them in


def _audit(db, action: str, object_: str, outcome: str = "ok", *, create: bool = True) -> None:
    """Record a store-changing command (create=False: only when the store exists, so a refusal never makes one);
    a row that cannot be written is a warning on stderr, the command's outcome stands."""
    if not create and (not Path(db).exists() or outcome.endswith(_NOT_A_STORE)):
        return
    try:
        audit.record(audit.os_user(), audit.COMMAND_LINE_ROLE, action, object_, outcome, db_path=db)
    except audit.AuditError as err:
        print(f"warning: {err}", file=sys.stderr)


def _file_object(path) -> str:
    """An import's object in the trail: its file's SHA-256 ('' when the file cannot be read)."""
    try:
        return f"file {store.file_hash(path)}"
    except OSError:
        return ""


def cmd_import(args: argparse.Namespace) -> int:
    kind = "assessments" if args.assessments else "sessions"
    db = args.db or store.default_db_path()
    try:
        typed = store.check_label(args.label)  # a label that could identify someone is refused before any work
    except store.StoreError:
        _audit(db, "import", _file_object(args.file) if args.file else "", "refused: label refused", create=False)
        raise
    redcap_api.prepare_import(args)  # --redcap-url: the export and its dictionary from REDCap's API, as bytes
    result = ingest_from_args(args, kind)
    if result.refused:
        _audit(db, "import", _file_object(args.file), f"refused: file refused ({result.refusal or 'unreadable'})",
               create=False)
        if args.json:
            print(json.dumps({"validation": result.summary(), "import": None}, indent=2, default=str))
        else:
            print(report_text(result))
            print("Nothing was imported.")
        return 2
    label = store.stored_label(typed or result.source_name, int(result.n_rows))  # never the file's name
    digest = store.file_hash(args.file)
    try:
        report = store.import_result(result, digest, label,
                                     load_mapping(args.mapping) if args.mapping else None, db,
                                     allow_clearing=args.allow_clearing, first_page=not args.no_first_page)
    except store.StoreError as err:
        _audit(db, "import", f"file {digest}", f"refused: {_short_reason(err)}", create=False)
        return _import_refused(args, result, label, err)
    batch = f"batch {report.batch_id}, " if report.batch_id is not None else ""
    _audit(db, "import", f"{batch}file {digest}", create=report.batch_id is not None)
    if args.json:
        print(json.dumps({"validation": result.summary(), "import": report.to_dict()}, indent=2, default=str))
    else:
        print(report_text(result))
        print("")
        print(report.message())
        for row in report.held_back[:50]:
            print(f"  line {row['line']}: {row['message']}")
        if len(report.held_back) > 50:
            print(f"  ... and {len(report.held_back) - 50:,} more held-back row(s) (--json lists them all)")
        print(f"Store: {report.db_path}")
    return max(result.exit_code, 1 if report.held_back else 0)


def _import_refused(args: argparse.Namespace, result: IngestResult, label: str, err: store.StoreError) -> int:
    """The messages of an import the store refused (exit 2)."""
    if isinstance(err, store.ClearingNeeded):
        lines = [f"  {column}: {count:,} stored value(s)" for column, count in err.counts.items()]
        message = (f"This file ({label}) has blank cells where the store holds values; importing it would clear "
                   f"{sum(err.counts.values()):,} stored value(s):\n" + "\n".join(lines)
                   + "\nNothing was imported: run again with --allow-clearing to clear them.")
        if args.json:
            print(json.dumps({"validation": result.summary(), "import": None, "would_clear": err.counts},
                             indent=2, default=str))
        else:
            print(report_text(result))
        print(message, file=sys.stderr)
        return 2
    if not args.json:
        print(report_text(result))
    print(f"error: {err}", file=sys.stderr)
    return 2


def _history_records(log) -> list[dict]:
    out = []
    for row in log.to_dict(orient="records"):
        row = {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}  # NaN: missing (a purge)
        for key in ("imported_at", "undone_at"):
            value = row[key]
            row[key] = None if value is None or value != value else str(value)
        row["mapping"] = json.loads(row["mapping"]) if isinstance(row["mapping"], str) else {}
        row["extra_columns"] = json.loads(row["extra_columns"]) if isinstance(row["extra_columns"], str) else []
        row["date_order"] = row["date_order"] if isinstance(row["date_order"], str) else None
        row["can_undo"] = bool(row["can_undo"])
        out.append(row)
    return out


def cmd_first_page(args: argparse.Namespace) -> int:
    """Compute the dashboard's first page for the store (after an import in parts made with --no-first-page)."""
    db = args.db or store.default_db_path()
    started = time.perf_counter()
    if not store.prepare_first_page(db):
        print(f"The store {db} holds no session: there is no first page to compute.")
        return 0
    print(f"The dashboard's first page is kept ready in {db} ({time.perf_counter() - started:.1f} s).")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    db = args.db or store.default_db_path()
    store.require_store(db)
    log = store.history(db)
    if args.json:
        print(json.dumps({"db": str(db), "imports": _history_records(log)}, indent=2))
        return 0
    if len(log) == 0:
        print(f"No imports yet in {db}.")
        return 0
    print(f"Imports into {db}, newest first:")
    for row in _history_records(log):
        state = row["status"]
        if row["kind"] == store.PURGE:
            print(f"  batch {row['batch_id']}: {row['imported_at']}  {row['kind']}  {row['label']}: "
                  f"{row['rows']} rows erased (one patient, in every import); cannot be undone")
            continue
        if state == "active" and not row["can_undo"]:
            state += f" (undo batch {row['blocked_by']} first)"
        elif state == "undone":
            state += f" on {row['undone_at']}"
        print(f"  batch {row['batch_id']}: {row['imported_at']}  {row['kind']}  {row['label']}: "
              f"{row['rows']} rows, {row['accepted']} accepted, {row['rejected']} rejected; {row['new']} new, "
              f"{row['updated']} updated, {row['unchanged']} unchanged; {state}")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    db = args.db or store.default_db_path()
    try:
        batch = f"batch {int(str(args.batch).strip())}"
    except ValueError:
        batch = ""  # not a number: the text typed is not kept
    try:
        done = store.undo(args.batch, db)
    except store.StoreError as err:
        _audit(db, "undo", batch, f"refused: {_short_reason(err)}", create=False)
        print(f"error: {err}", file=sys.stderr)
        return 2
    _audit(db, "undo", batch)
    print(done.message())
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Erase one patient's rows; exit 0 done, 1 no such patient (nothing changed), 2 refused. The code is never
    printed: the messages name no patient, and neither does the audit row: its object is the erasure's batch
    (its line in the import history), so the erased code is not written back into the store."""
    db = args.db or store.default_db_path()
    code = args.patient.strip()
    if args.pseudonymise:
        import pandas as pd

        from .config import PSEUDONYM_KEY_ENV, pseudonym_key
        from .identifiers import pseudonymise

        key = pseudonym_key()
        if key is None:
            _audit(db, "purge", "", "refused: no pseudonym key", create=False)
            print(f"error: --pseudonymise needs the clinic's key ({PSEUDONYM_KEY_ENV}), the one the imports used; "
                  "nothing was changed.", file=sys.stderr)
            return 2
        from .identifiers import key_id

        if store.key_fingerprint(db) not in (None, key_id(key)):
            _audit(db, "purge", "", "refused: another pseudonym key", create=False)
            print("error: this key is not the one the store's codes were made with, so no patient can be found by "
                  f"it; set {PSEUDONYM_KEY_ENV} to the clinic's key. Nothing was changed.", file=sys.stderr)
            return 2
        code = str(pseudonymise(pd.Series([code], dtype="object"), key).iloc[0]) if code else ""
    try:
        done = store.purge(code, db)
    except store.StoreError as err:
        _audit(db, "purge", "", f"refused: {_short_reason(err)}", create=False)
        if not isinstance(err, store.PatientNotFound):
            raise
        if args.json:
            print(json.dumps({"db": str(db), "purge": None, "error": str(err)}, indent=2))
        print(f"error: {err}", file=sys.stderr)
        return 1
    _audit(db, "purge", f"batch {done.batch_id}")  # the erasure's log line; the erased code is not written back
    if args.json:
        print(json.dumps({"db": str(db), "purge": done.to_dict()}, indent=2))
    else:
        print(done.message())
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """List the audit trail, newest first (a table, or a JSON list); exit 2 for a bad date or unknown action."""
    db = args.db or store.default_db_path()
    if args.action and args.action not in audit.ACTIONS:
        raise ValueError(f"--action {audit.clean_text(args.action, 40)!r} is not an audit action; give one of: "
                         f"{', '.join(audit.ACTIONS)}")
    try:
        since = audit.since_utc(args.since)
    except ValueError:
        raise ValueError(f"--since must be a date like 2025-03-14 (or a UTC time like 2025-03-14T09:00Z), not "
                         f"{audit.clean_text(args.since, 40)!r}") from None
    store.require_store(db)  # a mistyped path is refused, never shown as an empty trail
    rows = audit.read(db, since=since, user=args.user, action=args.action)
    if args.json:
        print(json.dumps(audit.records(rows), indent=2))
        return 0
    if not len(rows):
        print("No audit rows.")
        return 0
    print(audit_table(rows))
    return 0


def audit_table(rows) -> str:
    """The audit rows as a plain left-aligned table: a header line, then one line per row."""
    shown = rows[audit.COLUMNS].astype("object").astype(str)
    shown["at"] = rows["at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace(".000000Z", "Z", regex=False)
    cells = []
    for column in audit.COLUMNS:
        width = max(len(column), int(shown[column].str.len().max()))
        cells.append(pd.concat([pd.Series([column]), shown[column]], ignore_index=True).str.ljust(width))
    return "\n".join(cells[0].str.cat(cells[1:], sep="  ").str.rstrip())


def summary_text(summary: dict, source: str, settings: Settings) -> str:
    """The summary in plain words, for a person at a terminal."""
    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}%"

    def num(value, unit=""):
        return "n/a" if value is None else f"{value:.1f}".removesuffix(".0") + unit

    duration = summary["median_duration_days"]
    flagged = summary["diminished_patients"]
    chosen = f" ({summary['selection']})" if summary.get("selection") else ""
    return "\n".join([
        f"{source}, as of {summary['as_of']}{chosen}: {summary['sessions']} sessions, {summary['patients']} "
        f"patients ({summary['rejected_rows']} rows rejected; run validate for the list).",
        f"Responder rate (pain drop >= {summary['responder_threshold_pct']:g}%): {pct(summary['responder_rate'])} "
        f"of {summary['sessions_with_response']} sessions with a response.",
        f"Median response {num(summary['median_response_pct'], '%')}; median onset "
        f"{num(summary['median_onset_days'], ' days')}; median time to peak "
        f"{num(summary['median_peak_days'], ' days')}.",
        "Median benefit duration (Kaplan-Meier): "
        + ("not reached" if duration is None else f"{duration:g} days ({duration / 7:.1f} weeks)") + ".",
        f"Short intervals (under {settings.short_interval_days} days): {pct(summary['short_interval_share'])} of "
        "intervals.",
        f"Patients whose response is diminishing: {len(flagged)}"
        + (": " + ", ".join(flagged[:20]) + (", ..." if len(flagged) > 20 else "") if flagged else ""),
    ])


def cmd_timeline(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    result = ingest_from_args(args, "assessments")
    if result.refused:
        return _refused(result, args.json)
    data = result.data
    score = args.score or next((s for s in SCORES if data[s].notna().any()), None)
    if score is None:
        print("error: the file has no pain or twstrs scores to draw a timeline from", file=sys.stderr)
        return 2
    if args.by and args.by not in data.columns:
        print(f"error: no column {args.by!r}; columns: {', '.join(map(str, data.columns))}", file=sys.stderr)
        return 2
    table = timeline(data, score=score, by=args.by, settings=settings)
    if args.json:
        records = json.loads(table.to_json(orient="records"))
        print(json.dumps({"score": score, "by": args.by, "rejected_rows": result.n_rejected_rows,
                          "records": records}, indent=2))
    else:
        shown = table.drop(columns=["responders"]).copy()
        for column in ("mean_change", "ci_low", "ci_high"):
            shown[column] = shown[column].astype(float).round(1)
        shown["responder_share"] = (100 * shown["responder_share"].astype(float)).round(1)
        print(f"Change in {score} from baseline (negative = better), 95% CI, responder share in %:")
        print(shown.to_string(index=False))
    return 0


def cmd_dictionary(args: argparse.Namespace) -> int:
    from .dictionary import dictionary_markdown

    print(dictionary_markdown(), end="")
    return 0


def _writable_target(out: str) -> Path:
    """The report's path, checked before any work: its folder exists and it is not a folder (ValueError)."""
    path = Path(out)
    if path.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name such as {path / 'report.html'}")
    if not path.parent.exists():
        raise ValueError(f"--out {out}: the folder {path.parent} does not exist; create it first")
    if not path.parent.is_dir():
        raise ValueError(f"--out {out}: {path.parent} is not a folder")
    return path


def cmd_report(args: argparse.Namespace) -> int:
    from reports import excel_report, html_report  # the command line is an entry point, like dashboard.py

    settings = settings_from_args(args)
    _file_or_store(args)
    _writable_target(args.out)
    fmt = args.format or ("xlsx" if str(args.out).lower().endswith(".xlsx") else "html")
    read = read_sessions(args)
    if isinstance(read, int):
        return read
    sessions, source, _ = read
    chosen = _checked_selection(args, sessions)
    history = derive_sessions(sessions, settings)  # each patient's whole history first
    sessions = select(history, chosen)
    filters = _selection_words(chosen)
    if not filters and settings.as_of:
        filters = f"sessions up to {settings.as_of.isoformat()}"
    # the p-chart's baseline months before the period: the same filters at every date
    baseline = select(history, dataclasses.replace(chosen, start=None, end=None))
    period = {"start": chosen.start, "end": chosen.end, "history": history, "baseline": baseline}
    if fmt == "xlsx":
        Path(args.out).write_bytes(excel_report(sessions, settings, filters, source, **period))
    else:
        Path(args.out).write_text(html_report(sessions, settings, filters, source, **period), encoding="utf-8")
    if args.json:
        print(json.dumps({"out": str(args.out), "format": fmt, "sessions": len(sessions), "source": source}))
    else:
        print(f"Wrote the {fmt.upper()} report from {len(sessions):,} sessions ({source}) to {args.out}.")
    return 0


def cmd_patient_summary(args: argparse.Namespace) -> int:
    """One patient's own summary page (issue 16); the sessions of FILE or --db, each patient's whole history."""
    from reports.patient_summary import patient_summary_html  # an entry point, like `report`

    from .patient_summary import AUDIT_OUTCOME, patient_summary, summary_json
    settings = settings_from_args(args)
    _file_or_store(args)
    target = _writable_target(args.out)
    if args.db:
        store.require_store(args.db)
        sessions = store.selection_values(args.db)  # the latest session_date, for the as-of check
    else:
        read = read_sessions(args)
        if isinstance(read, int):
            return read
        sessions = read[0]
    late = as_of_after_data(sessions, settings.as_of)
    if late:
        raise ValueError(f"--as-of: {late}")
    derived = store.read_derived(args.db, settings=settings) if args.db else derive_sessions(sessions, settings)
    summary = patient_summary(derived, args.patient, settings)  # ValueError (exit 2) for an unknown code
    target.write_text(patient_summary_html(summary, show_code=args.show_code), encoding="utf-8")
    _audit(args.db or store.default_db_path(), "view_patient", summary["patient"], AUDIT_OUTCOME)
    if args.json:
        print(json.dumps(summary_json(summary), indent=2))
    else:
        print(f"Wrote the summary for patient {summary['patient']} ({summary['sessions']} sessions) to {args.out}.")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare_command import run  # the command's logic and output live there

    return run(args)


def _analysis_command(commands, name: str, help_text: str) -> argparse.ArgumentParser:
    """A command that measures a session file or the store: ingestion options, --db, thresholds, selection."""
    parser = commands.add_parser(name, help=help_text)
    add_ingest_options(parser, file_required=False)
    add_db_option(parser, default_store=False)
    add_metric_options(parser)
    add_selection_options(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analytics",
                                     description="Botulinum toxin outcome analytics from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a file against the data contract and explain problems")
    add_ingest_options(validate)
    validate.add_argument("--assessments", action="store_true", help="the file holds repeated assessments")
    validate.add_argument("--all", action="store_true",
                          help="with --json, also list every rejected cell and every warning, one object each "
                               "(`rejected`, `warnings_list`); without it, warnings are grouped by reason with "
                               "their first lines")
    validate.set_defaults(run=cmd_validate)
    summary = _analysis_command(commands, "summary", "headline outcome figures of a session file or of the store "
                                                     "(the keys of docs/metrics.md)")
    summary.set_defaults(run=cmd_summary)
    timeline_parser = commands.add_parser(
        "timeline", help="mean change from baseline by days after injection, from a repeated-assessments file")
    add_ingest_options(timeline_parser)
    add_metric_options(timeline_parser)
    timeline_parser.add_argument("--by", help="a column to group by (e.g. a trial arm)")
    timeline_parser.add_argument("--score", choices=SCORES, help="the score to use (default: twstrs, else pain)")
    timeline_parser.set_defaults(run=cmd_timeline)
    dictionary = commands.add_parser("dictionary", help="print the data dictionary (Markdown)")
    dictionary.set_defaults(run=cmd_dictionary)
    importer = commands.add_parser("import", help="check a file, then add its accepted rows to the outcome store")
    add_ingest_options(importer, file_required=False, instead="--redcap-url")
    importer.add_argument("--redcap-url", metavar="URL", help="import from a REDCap project's API (e.g. "
                          "https://redcap.example/api/), the token in REDCAP_API_TOKEN (analytics/redcap_api.py)")
    add_db_option(importer)
    importer.add_argument("--assessments", action="store_true", help="the file holds repeated assessments")
    importer.add_argument("--allow-clearing", action="store_true",
                          help="let blank cells clear the values the store holds (without it such an import is "
                               "refused and lists how many values per column it would clear)")
    importer.add_argument("--no-first-page", action="store_true",
                          help="do not compute the dashboard's first page for the store (for the parts of a large "
                               "import in parts; then run first-page once, else the dashboard computes it on first "
                               "use)")
    importer.set_defaults(run=cmd_import)
    ready = commands.add_parser("first-page", help="compute the dashboard's first page for the store (after "
                                "imports made with --no-first-page)")
    add_db_option(ready)
    ready.set_defaults(run=cmd_first_page)
    log = commands.add_parser("history", help="the imports into the outcome store, newest first")
    add_db_option(log)
    log.add_argument("--json", action="store_true", help="print JSON instead of text")
    log.set_defaults(run=cmd_history)
    undo_parser = commands.add_parser("undo", help="undo one import (see history for the batch numbers)")
    undo_parser.add_argument("batch", help="the batch number of the import")
    add_db_option(undo_parser)
    undo_parser.set_defaults(run=cmd_undo)
    purge_parser = commands.add_parser(
        "purge", help="erase every session and assessment of one patient from the store (the right to erasure); "
                      "cannot be undone")
    purge_parser.add_argument("--patient", required=True, metavar="CODE", help="the patient's code in the store")
    purge_parser.add_argument("--pseudonymise", action="store_true",
                              help="the store holds pseudonyms: give the clinic's own code, hashed with the key "
                                   "(OUTCOMES_PSEUDONYM_KEY) the imports used")
    add_db_option(purge_parser)
    purge_parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    purge_parser.set_defaults(run=cmd_purge)
    trail = commands.add_parser("audit", help="the audit trail (who saw or changed what, when), newest first")
    add_db_option(trail)
    trail.add_argument("--since", metavar="DATE", help="only rows on or after this date (UTC), e.g. 2025-03-14")
    trail.add_argument("--user", metavar="EMAIL", help="only this user's rows (any case)")
    trail.add_argument("--action", metavar="ACTION", help="only this action: " + ", ".join(audit.ACTIONS))
    trail.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    trail.set_defaults(run=cmd_audit)
    compare = _analysis_command(commands, "compare", "practitioners, sites, products or indications on a funnel: "
                                                     "who is beyond the limits chance gives (docs/metrics.md)")
    compare.add_argument("--by", required=True, choices=("practitioner_id", "site", "product", "indication"))
    compare.add_argument("--adjust", choices=("casemix", "none"),
                         help="adjust for case mix (default: casemix for practitioner_id and site, else none)")
    compare.set_defaults(run=cmd_compare)
    report = _analysis_command(commands, "report", "a self-contained HTML report or an Excel workbook of the "
                                                   "tables, from a session file or the store")
    report.add_argument("--out", required=True, help="the file to write (.html or .xlsx)")
    report.add_argument("--format", choices=("html", "xlsx"),
                        help="html or xlsx (default: from the --out name, else html)")
    report.set_defaults(run=cmd_report)
    summary_page = commands.add_parser("patient-summary", help="one patient's own summary page (HTML), written "
                                                               "for the patient; audited as viewing the patient")
    add_ingest_options(summary_page, file_required=False)
    add_db_option(summary_page, default_store=False)
    add_metric_options(summary_page)
    summary_page.add_argument("--patient", required=True, metavar="CODE", help="the patient's code")
    summary_page.add_argument("--out", required=True, help="the HTML file to write")
    summary_page.add_argument("--show-code", action="store_true", help="print the patient's code on the page")
    summary_page.set_defaults(run=cmd_patient_summary)
    return parser


LOG_FILE_ENV = "OUTCOMES_LOG_FILE"
DEFAULT_LOG_FILE = Path(__file__).resolve().parent.parent / "logs" / "outcomes-cli.log"
LOG = logging.getLogger("outcomes.cli")


def log_path() -> Path:
    """Where the command line writes internal errors: OUTCOMES_LOG_FILE, else logs/outcomes-cli.log."""
    value = os.environ.get(LOG_FILE_ENV, "").strip()
    return Path(value) if value else DEFAULT_LOG_FILE


def _log_internal_error(argv: list[str] | None) -> str:
    """Write the traceback of the error being handled to the log (or a temporary file when the log cannot be
    written); return where it went. Arguments are logged by count only (they may name a patient's file), and
    the traceback's messages are scrubbed of cell values and identifiers (analytics/log_privacy.py)."""
    reference = uuid.uuid4().hex[:8]
    text = (f"{datetime.now().isoformat(timespec='seconds')} internal error {reference} in "
            f"'{(argv or sys.argv[1:] or ['?'])[0]}' ({len(argv or sys.argv[1:])} argument(s))\n"
            f"{scrubbed_traceback(sys.exc_info()[1])}\n")
    for path in (log_path(), Path(tempfile.gettempdir()) / "outcomes-cli.log"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(text)
            return f"{path} (reference {reference})"
        except OSError:
            continue
    sys.stderr.write(text)
    return f"standard error above (reference {reference})"


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit codes: 0 done, 1 some rows rejected, 2 an unusable input or a refusal (a plain
    message on stderr), 3 an internal error (a short message; the traceback goes to the log)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, store.StoreError) as err:  # a mapping file that cannot be read, a busy store, ...
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a file or folder that cannot be read or written
        where = f": {err.filename}" if getattr(err, "filename", None) else ""
        print(f"error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; a store import in progress was rolled back", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - the last line of defence: no traceback on a user's terminal
        where = _log_internal_error(argv)
        print(f"internal error: this is a fault in the program, not in your file. Details are in {where}; "
              "please send them to whoever supports this installation.", file=sys.stderr)
        return 3
