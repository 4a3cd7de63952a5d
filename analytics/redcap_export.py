"""A REDCap "flat" records export, read with its data dictionary, as the ordinary raw table the ingestion checks.

REDCap writes one row per record (its base row, with the record-level fields such as the site), one row per
repeat instance of a repeating instrument (`redcap_repeat_instrument`, `redcap_repeat_instance`) and, in a
longitudinal project, one row per event (`redcap_event_name`). Coded choices are written as their codes
("1" for Botox), checkboxes as one 0/1 column per choice (`muscles___1` ... `muscles___6`) and each form's status
as `<form>_complete` (0 incomplete, 1 unverified, 2 complete). `convert` turns that into one row per session:

- coded choices become their labels (then the usual vocabularies read brand names), except for a field read as a
  number, whose code is its value (PGIC 1-7); checkboxes become the list of the ticked choices' labels (';');
- a session is a repeat instance of the instrument that holds the session date, or a non-repeating row that holds a
  value in that instrument's fields (an event row with a session date); every other row is a base row, whose
  fields (of the other instruments) are carried onto each session of the same record. Two base rows of a record
  with different values for one field reject the sessions that would take it (never one chosen silently);
- a session whose form is not marked complete is kept out with a count (unverified ones too, unless asked);
- fields are matched to the data contract by their labels ("Date of injection") through the same alias table as
  ordinary headers, by the user's saved mapping (keyed by variable or label) before that, and the record ID is the
  patient code when nothing else is;
- each row keeps its export line and a reference (record, instance or event) for the validation report.

Every export row is accounted for (`Accounting`: a session given to the ingestion, kept out as unfinished, a base
row merged, or a row of another repeating instrument), asserted. `load_redcap` runs the ingestion's checks on the
result (ingest.py), so every rule of the data contract applies as for any file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from . import config
from .distinct import per_ingestion
from .identifiers import IdentifierFinding
from .free_text import label_problem
from .ingest import LABEL_LIMIT, IngestResult, _check, neutral_label
from .mapping import resolve_columns
from .reading import FileRefused, RawTable, read_table
from .reason_codes import Refusal, Rejection
from .redcap_dictionary import NO_DATA_TYPES, Dictionary, Field, looks_like_dictionary, read_dictionary
from .schema import ASSESSMENT_COLUMNS, SESSION_COLUMNS, Column, alias_table, normalise_header

EVENT = "redcap_event_name"
INSTRUMENT = "redcap_repeat_instrument"
INSTANCE = "redcap_repeat_instance"
# Columns REDCap adds that are about the export, not the session: left out of the table.
SYSTEM_COLUMNS = (EVENT, INSTRUMENT, INSTANCE, "redcap_survey_identifier")
# Words a label may add to a field's usual name: 'Pain before injection (0-10)' is read as 'Pain before'.
LABEL_FILLERS = ("injection", "injected", "injections", "session", "score", "recorded", "given")
# The fields whose value makes a row a session (or an assessment) rather than a base row.
KEY_FIELDS = {"sessions": ("session_date",), "assessments": ("assessment_date", "days_after", "week")}
COMPLETE, UNVERIFIED = "2", "1"


@dataclass
class Accounting:
    """Where every row of the export went; `check` asserts they add up."""

    export_rows: int = 0  # data rows of the export (blank lines not counted)
    sessions: int = 0  # rows given to the ingestion (then accepted or rejected there)
    base_rows: int = 0  # record-level rows whose fields were carried onto the record's sessions
    incomplete: int = 0  # kept out: a form not complete (status 0, or no status)
    unverified: int = 0  # kept out: status 1 (unverified) without include_unverified
    other_instrument: int = 0  # rows of another repeating instrument (not sessions)
    unreadable: int = 0  # rows the reader could not fit to the header (given to the ingestion, rejected there)

    def check(self) -> None:
        assert self.export_rows == (self.sessions + self.base_rows + self.incomplete + self.unverified
                                    + self.other_instrument + self.unreadable), "a REDCap row was lost"

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def sentence(self, include_unverified: bool) -> str:
        """The accounting in words, for the report's notes."""
        parts = [f"{self.sessions:,} session row(s) checked", f"{self.base_rows:,} base row(s) merged into their "
                 "record's sessions"]
        if self.incomplete:
            parts.append(f"{self.incomplete:,} kept out: form not marked complete (status 0 or blank)")
        if self.unverified:
            parts.append(f"{self.unverified:,} kept out: form unverified (status 1; include them with "
                         "--include-unverified)")
        if self.other_instrument:
            parts.append(f"{self.other_instrument:,} row(s) of another repeating instrument (not sessions)")
        if self.unreadable:
            parts.append(f"{self.unreadable:,} row(s) that do not fit the header (rejected)")
        taken = " Unverified forms (status 1) were included, as asked." if include_unverified else ""
        return f"REDCap export, {self.export_rows:,} row(s): " + "; ".join(parts) + "." + taken


@dataclass
class Converted:
    """An export turned into one row per session, ready for the ingestion's checks."""

    raw: RawTable  # headers are REDCap variable names (a checkbox's base name); lines are the export's
    mapping: dict[str, str]  # variable -> field, from labels, the record ID and the user's mapping
    references: pd.DataFrame  # line, record, where ('instance 3 of injection_session', 'event visit_2_arm_1')
    accounting: Accounting
    identifier_fields: list[Field]  # fields the dictionary flags as identifiers that are in the table
    notes: list[str] = field(default_factory=list)
    identifier_lines: dict[str, tuple[int, ...]] = field(default_factory=dict)  # flagged field -> export lines


@dataclass
class RedcapImport:
    """The ingestion's result of a REDCap export, with where every export row went."""

    result: IngestResult
    accounting: Accounting | None  # None when the export or dictionary could not be read
    references: pd.DataFrame = field(default_factory=pd.DataFrame)


def looks_like_export(headers: list[str]) -> bool:
    """True when the headers are a REDCap records export's (a repeat or event column, or form status columns)."""
    return bool({INSTRUMENT, EVENT} & set(headers)) or any(str(h).endswith("_complete") for h in headers)


def field_mapping(dictionary: Dictionary, headers: list[str], columns: tuple[Column, ...],
                  mapping: dict[str, str] | None = None) -> dict[str, str]:
    """Variable -> field for the table's headers: the user's mapping (keyed by variable or label) first, then each
    field's label through the contract's aliases (with words such as 'injection' left out when the whole label is
    not an alias; a field the user maps is left to their choice); the record ID is patient_id when no other header
    is. Headers matched by their own name (the
    alias table) are left to resolve_columns, as for any file."""
    fields = dictionary.by_name
    by_label = {}
    for f in dictionary.fields:
        by_label.setdefault(f.label, f.name)
    chosen: dict[str, str] = {}
    for key, target in (mapping or {}).items():
        chosen[key if key in headers or key not in by_label else by_label[key]] = target
    aliases = alias_table(columns)
    by_hand = set(chosen.values())
    for header in headers:
        f = fields.get(header)
        if header in chosen or f is None or not f.label:
            continue
        target = _label_target(f.label, aliases)
        if target is not None and target not in by_hand:  # over the variable's name: people read the label
            chosen[header] = target
    resolved = resolve_columns(headers, columns, chosen)
    record_id = dictionary.record_id
    if "patient_id" not in resolved.column_map.values() and record_id in headers and record_id not in chosen:
        chosen[record_id] = "patient_id"
    return chosen


def _label_target(label: str, aliases: dict[str, str]) -> str | None:
    """The field a label names: the whole label as an alias, else without the filler words."""
    target = aliases.get(normalise_header(label))
    if target is not None:
        return target
    words = re.sub(r"[\(\[\{][^\)\]\}]*[\)\]\}]", " ", label.lower()).split()
    kept = [w for w in words if re.sub(r"[^a-z0-9]", "", w) not in LABEL_FILLERS]
    return aliases.get(normalise_header(" ".join(kept))) if kept and kept != words else None


def _columns_of(dictionary: Dictionary, headers: list[str]) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """(variable -> its export columns, status columns, extra columns) of an export; FileRefused when a checkbox
    column names a choice the dictionary lacks (the export and dictionary of different versions)."""
    present = set(headers)
    statuses = {f"{form}_complete" for form in dictionary.forms}
    timestamps = {f"{form}_timestamp" for form in dictionary.forms}
    fields: dict[str, list[str]] = {}
    claimed = set()
    for f in dictionary.fields:
        if f.field_type in NO_DATA_TYPES:
            continue
        if f.is_checkbox:
            cols = [c for c in f.checkbox_columns() if c in present]
            if cols:
                fields[f.name] = cols
                claimed.update(cols)
        elif f.name in present:
            fields[f.name] = [f.name]
            claimed.add(f.name)
    checkbox_names = {f.name for f in dictionary.fields if f.is_checkbox}
    stray = [h for h in headers if h not in claimed and "___" in h and h.split("___")[0] in checkbox_names]
    if stray:
        raise FileRefused("The export and the data dictionary do not match: the export has the checkbox column(s) "
                          + ", ".join(f"'{h}'" for h in stray) + " for a choice the dictionary does not list. "
                          "Download the dictionary and the records of the same project again.")
    status_columns = [h for h in headers if h in statuses]
    extras = [h for h in headers if h not in claimed and h not in statuses and h not in timestamps
              and h not in SYSTEM_COLUMNS]
    return fields, status_columns, extras


def _labelled(f: Field, frame: pd.DataFrame, columns: list[str], lines: np.ndarray, rejections: list) -> pd.Series:
    """A field's cells as a person reads them: a code as its label, ticked checkboxes as 'A; B'. A cell that is not
    one of the choices' codes is kept as written (the field's own check then says what is wrong with it)."""
    if not f.is_checkbox:
        values = frame[columns[0]]
        if not f.choices:
            return values
        codes = values.str.strip()
        return codes.map(f.choices).fillna(values).astype("str")
    code_of = f.checkbox_columns()
    out = pd.Series("", index=frame.index, dtype="str")
    for column in columns:
        cells = frame[column].str.strip()
        ticked = (cells == "1").to_numpy()
        bad = ~cells.isin(["0", "1", ""]).to_numpy()
        for line, value in zip(lines[bad], frame[column].to_numpy()[bad]):
            rejections.append((int(line), f.name, str(value), f"the checkbox column '{column}' holds neither 0 "
                               "nor 1", str(Rejection.BAD_LIST)))
        label = f.choices[code_of[column]]
        joined = np.where(out.to_numpy() == "", label, out.to_numpy() + "; " + label)
        out = pd.Series(np.where(ticked, joined, out.to_numpy()), index=frame.index, dtype="str")
    return out


def convert(export: RawTable, dictionary: Dictionary, kind: str = "sessions", mapping: dict[str, str] | None = None,
            include_unverified: bool = False) -> Converted:
    """One row per session from a REDCap flat export (see the module docstring); FileRefused when the export does
    not fit the dictionary."""
    columns = SESSION_COLUMNS if kind == "sessions" else ASSESSMENT_COLUMNS
    headers = export.headers
    if looks_like_dictionary(headers):
        raise FileRefused("This is a REDCap data dictionary, not a records export: give the records (Data Exports, "
                          "CSV raw data) as the file and this as the dictionary.")
    record_id = dictionary.record_id
    if record_id not in headers:
        raise FileRefused(f"The export has no column '{record_id}', the record ID field of the data dictionary: "
                          "give the records export of the same project (CSV, raw data, not labels).")
    field_columns, status_columns, extras = _columns_of(dictionary, headers)
    frame, lines = export.frame.reset_index(drop=True), np.asarray(export.lines, dtype=np.int64)
    fields = dictionary.by_name
    rejections: list[tuple] = []
    out_headers = list(field_columns) + extras
    chosen = field_mapping(dictionary, out_headers, columns, mapping)
    resolved = resolve_columns(out_headers, columns, chosen)
    header_of = {c: h for h, c in resolved.column_map.items()}
    kind_of = {c.name: c.kind for c in columns}
    numeric = {h for h, c in resolved.column_map.items() if kind_of[c] in ("number", "integer")}
    table = pd.DataFrame({name: (frame[cols[0]] if name in numeric and not fields[name].is_checkbox else
                                 _labelled(fields[name], frame, cols, lines, rejections))
                          for name, cols in field_columns.items()}, index=frame.index)
    blank = pd.Series("", index=frame.index, dtype="str")
    instrument = frame[INSTRUMENT].str.strip() if INSTRUMENT in frame else blank
    instance = frame[INSTANCE].str.strip() if INSTANCE in frame else blank
    event = frame[EVENT].str.strip() if EVENT in frame else blank
    records = frame[record_id].str.strip()

    keys = [header_of[k] for k in KEY_FIELDS[kind] if k in header_of and header_of[k] in fields]
    key_form = fields[keys[0]].form if keys else None
    form_fields = [name for name in field_columns if name != record_id and fields[name].form == key_form]
    filled = table[form_fields].ne("").any(axis=1).to_numpy() if form_fields else np.zeros(len(frame), bool)
    repeat = (instrument != "").to_numpy()
    if key_form is None:  # no session date (or assessment time) found: every row goes on, the checks refuse it
        session = np.ones(len(frame), bool)
        other = np.zeros(len(frame), bool)
    else:
        session = (repeat & (instrument == key_form).to_numpy()) | (~repeat & filled)
        other = repeat & ~session
    base = ~session & ~other

    # before the base rows' values are carried: a row's forms are those it holds itself
    status = _form_status(frame, table, dictionary, field_columns, status_columns, record_id, key_form, instrument)
    carried = [n for n in field_columns if n != record_id and fields[n].form != key_form]
    conflicts = pd.DataFrame(False, index=frame.index, columns=carried)
    if base.any() and carried and session.any():
        base_values = table.loc[base, carried].replace("", np.nan)
        grouped = base_values.groupby(records[base].to_numpy())
        firsts, counts = grouped.first(), grouped.nunique()
        session_records = records[session]
        for name in carried:
            own = table.loc[session, name]
            take = own.eq("") & session_records.map(firsts[name]).notna()
            table.loc[own.index[take], name] = session_records[take].map(firsts[name]).astype("str")
            clash = own.eq("") & session_records.map(counts[name]).fillna(0).gt(1)
            conflicts.loc[own.index[clash], name] = True

    threshold = 1 if include_unverified else 2
    finished = status >= threshold
    keep = session & finished
    accounting = Accounting(export_rows=len(frame) + len(export.bad_rows), sessions=int(keep.sum()),
                            base_rows=int(base.sum()), incomplete=int((session & (status < 1)).sum()),
                            unverified=int((session & (status == 1) & ~finished).sum()),
                            other_instrument=int(other.sum()), unreadable=len(export.bad_rows))
    accounting.check()  # rows that do not fit the header go on to the ingestion, which rejects them

    for name in carried:
        for line in lines[keep & conflicts[name].to_numpy()]:
            rejections.append((int(line), name, "", "the record's non-repeating rows hold different values for "
                               "this field, so which one belongs to this session is unknown: correct it in REDCap",
                               str(Rejection.CONFLICT)))
    kept_lines = set(int(n) for n in lines[keep])
    out = pd.concat([table, frame[extras]], axis=1).loc[keep, out_headers].reset_index(drop=True)
    where = np.where(instrument != "", "instance " + instance + " of " + instrument,
                     np.where(instance != "", "instance " + instance, ""))  # a repeating event's instance
    where = np.where(event != "", np.where(where != "", "event " + event + ", " + where, "event " + event), where)
    references = pd.DataFrame({"line": lines[keep], "record": records[keep].to_numpy(),
                               "where": pd.Series(where, dtype="str").to_numpy()[keep]})
    raw = RawTable(out, lines[keep], out_headers, export.file_format, export.encoding, export.separator,
                   bad_rows=list(export.bad_rows), blank_rows=export.blank_rows,
                   spans={k: v for k, v in export.spans.items() if k in kept_lines},
                   notes=list(export.notes),
                   cell_rejections=[r for r in [*export.cell_rejections, *rejections] if r[0] in kept_lines],
                   cell_warnings=[w for w in export.cell_warnings if w[0] in kept_lines])
    notes = []
    if not status_columns:
        notes.append("The export has no form status columns (<form>_complete): every session row was read. Export "
                     "them to keep unfinished forms out.")
    flagged = [f for f in dictionary.identifiers() if f.name in out_headers]
    written = {f.name: frame[field_columns[f.name]].ne("0" if f.is_checkbox else "").any(axis=1).to_numpy()
               & frame[field_columns[f.name]].ne("").any(axis=1).to_numpy() for f in flagged}
    where_flagged = {name: tuple(int(n) for n in lines[mask][:20]) for name, mask in written.items()}
    return Converted(raw, chosen, references, accounting, flagged, notes, where_flagged)


def _form_status(frame: pd.DataFrame, table: pd.DataFrame, dictionary: Dictionary, field_columns: dict,
                 status_columns: list[str], record_id: str, key_form: str | None, instrument: pd.Series
                 ) -> np.ndarray:
    """Each row's lowest status over the forms it holds: its own values' forms and the session's form (2
    complete, 1 unverified, 0 incomplete; a blank status on a form with values is 0). 2 when the export has no
    status columns."""
    status = np.full(len(frame), 2, dtype=np.int64)
    present = set(status_columns)
    fields = dictionary.by_name
    for form in dictionary.forms:
        column = f"{form}_complete"
        if column not in present:
            continue
        names = [n for n in field_columns if n != record_id and fields[n].form == form]
        holds = table[names].ne("").any(axis=1).to_numpy() if names else np.zeros(len(frame), bool)
        if form == key_form:
            holds = holds | (instrument == form).to_numpy()
        value = pd.to_numeric(frame[column].str.strip(), errors="coerce").fillna(0).clip(0, 2).astype(np.int64)
        status = np.where(holds, np.minimum(status, value.to_numpy()), status)
    return status


def load_redcap(export: str | Path | bytes | BinaryIO, dictionary: str | Path | bytes | BinaryIO | Dictionary, *,
                kind: str = "sessions", mapping: dict[str, str] | None = None, date_order: str | None = None,
                drop_identifiers: bool = False, pseudonymise_ids: bool = False, key: str | bytes | None = None,
                include_unverified: bool = False, today: date | None = None, max_bytes: int | None = None,
                redact_free_text: bool = False, label: str | None = None, now: datetime | None = None
                ) -> RedcapImport:
    """Read a REDCap export with its data dictionary and check it like any file (ingest.load's options, plus
    include_unverified); the fields the dictionary flags as identifiers are refused unless dropped."""
    columns = SESSION_COLUMNS if kind == "sessions" else ASSESSMENT_COLUMNS
    label = label.strip() if isinstance(label, str) and label.strip() else None
    if label is not None and (problem := label_problem(label, LABEL_LIMIT)):
        return RedcapImport(IngestResult.refused_with(kind, Refusal.IDENTIFYING_LABEL, problem, neutral_label(now)),
                            None)
    try:
        project = dictionary if isinstance(dictionary, Dictionary) else read_dictionary(dictionary)
    except FileRefused as err:
        message = str(err) if "dictionary" in str(err) else f"The data dictionary: {err}"
        if _swapped(export, dictionary):
            message = ("The two files are the other way round: the file given as the export is the data dictionary, "
                       "and the one given as the dictionary is the records export. Swap them.")
        return RedcapImport(IngestResult.refused_with(kind, err.code, message, label or neutral_label(now)), None)
    with per_ingestion():
        try:
            raw = read_table(export, max_bytes=max_bytes or config.max_file_bytes())
            converted = convert(raw, project, kind, mapping, include_unverified)
        except FileRefused as err:
            return RedcapImport(IngestResult.refused_with(kind, err.code, str(err), label or neutral_label(now)),
                                None)
        accounting = converted.accounting  # the rows checked are the sessions (the notes count the export's rows)
        source_name = label or neutral_label(now, accounting.sessions + accounting.unreadable)
        if not len(converted.raw.frame) and not converted.raw.bad_rows:
            return RedcapImport(IngestResult.refused_with(
                kind, Refusal.NO_DATA_ROWS, "No session to check in this REDCap export. "
                + converted.accounting.sentence(include_unverified), source_name), converted.accounting)
        refusal = _identifier_refusal(converted, kind, columns, drop_identifiers, pseudonymise_ids, source_name)
        if refusal is not None:
            return RedcapImport(refusal, converted.accounting, converted.references)
        result = _check(converted.raw, kind, columns, today or date.today(), source_name, converted.mapping,
                        date_order, drop_identifiers, pseudonymise_ids, key, redact_free_text)
    accounting = converted.accounting
    assert result.refused or result.n_rows == accounting.sessions + accounting.unreadable, "a REDCap row was lost"
    result.notes[:0] = [accounting.sentence(include_unverified), *converted.notes]
    _refer(result, converted.references)
    return RedcapImport(result, accounting, converted.references)


def _swapped(export, dictionary) -> bool:
    """True when the export is a data dictionary and the dictionary an export (the two files given crosswise)."""
    try:
        return (looks_like_dictionary(read_table(export).headers)
                and looks_like_export(read_table(dictionary).headers))
    except (FileRefused, TypeError, ValueError):
        return False


def _identifier_refusal(converted: Converted, kind: str, columns: tuple[Column, ...], drop: bool,
                        pseudonymise_ids: bool, source_name: str) -> IngestResult | None:
    """The fields the dictionary flags as identifiers: a refusal, or (asked to drop them) the table without them.

    A flagged field read as the patient or session code goes on when pseudonymised (the guard keys it); a flagged
    required field cannot be dropped."""
    raw = converted.raw
    resolved = resolve_columns(raw.headers, columns, converted.mapping)
    target = resolved.column_map
    keyed = {"patient_id", "session_id"} if pseudonymise_ids else set()
    flagged = [f for f in converted.identifier_fields if target.get(f.name) not in keyed]
    if not flagged:
        return None
    findings = [IdentifierFinding(f.name, "the REDCap data dictionary marks it as an identifier (Identifier? = y)",
                                  converted.identifier_lines.get(f.name, ())) for f in flagged]
    required = {c.name for c in columns if c.required}
    codes = [f for f in flagged if target.get(f.name) == "patient_id"]
    if codes:
        return IngestResult.refused_with(
            kind, Refusal.IDENTIFYING_PATIENT_CODES,
            "The REDCap data dictionary marks the patient code's field as an identifier: "
            + "; ".join(f"'{f.name}' ({f.label})" for f in codes)
            + ". Pseudonymise the codes with the clinic's key (--pseudonymise) or cancel.", source_name,
            identifier_findings=findings, column_map=target, extra_columns=resolved.extra_columns)
    needed = [f for f in flagged if target.get(f.name) in required]
    if not drop or needed:
        names = "; ".join(f"'{f.name}' ({f.label})" for f in flagged)
        tail = (f"{', '.join(target[f.name] for f in needed)} is required, so it cannot be dropped: export the "
                "records without that flag or map another field to it." if drop else
                "Drop these columns (--drop-identifiers) or export the records de-identified (REDCap's export "
                "option 'remove identifier fields'); identifying data is never stored.")
        return IngestResult.refused_with(
            kind, Refusal.IDENTIFIERS_FOUND, f"The REDCap data dictionary marks field(s) as identifiers: {names}. "
            + tail, source_name, identifier_findings=findings, column_map=target,
            extra_columns=resolved.extra_columns)
    dropped = [f.name for f in flagged]
    raw.frame = raw.frame.drop(columns=dropped)
    raw.headers = [h for h in raw.headers if h not in dropped]
    raw.cell_rejections = [r for r in raw.cell_rejections if r[1] not in dropped]
    converted.mapping = {h: t for h, t in converted.mapping.items() if h not in dropped}
    converted.notes.append("Dropped the field(s) the REDCap data dictionary marks as identifiers: "
                           + ", ".join(f"'{n}'" for n in dropped) + ".")
    return None


def _refer(result: IngestResult, references: pd.DataFrame) -> None:
    """Each rejected cell and warning named by its REDCap record and instance or event beside its line: columns
    `redcap_record` and `redcap_row`, and the reason starts with them ('record 12, instance 3 of
    injection_session: ...'), so every surface of the report says it."""
    if not len(references):
        return
    record = dict(zip(references["line"], references["record"]))
    where = dict(zip(references["line"], references["where"]))
    for name, text in (("rejected", "reason"), ("warnings", "warning")):
        table = getattr(result, name)
        if not len(table):
            continue
        rec = table["line"].map(record).astype("str").fillna("")
        row = table["line"].map(where).astype("str").fillna("")
        prefix = ("record " + rec + (", " + row).where(row != "", "") + ": ").where(rec != "", "")
        setattr(result, name, table.assign(**{text: prefix + table[text].astype("str"), "redcap_record": rec,
                                              "redcap_row": row}))


def add_options(parser) -> None:
    """The command line's REDCap options, on every command that reads a file."""
    parser.add_argument("--redcap-dictionary", metavar="DICT.csv",
                        help="the file is a REDCap records export (CSV, raw data): read it with the project's data "
                             "dictionary (docs/redcap/, README 'REDCap')")
    parser.add_argument("--include-unverified", action="store_true",
                        help="with a REDCap export, also take forms marked unverified (status 1); incomplete ones "
                             "(0) are always kept out")


def from_args(args, options: dict) -> IngestResult | None:
    """The ingestion of a REDCap export when the command line names its dictionary, else None (an ordinary file).
    options: ingest.load's keyword arguments."""
    dictionary = getattr(args, "redcap_dictionary", None)
    if not dictionary:
        if getattr(args, "include_unverified", False):
            raise ValueError("--include-unverified applies to a REDCap export: give --redcap-dictionary DICT.csv too")
        return None
    return load_redcap(args.file, dictionary, include_unverified=args.include_unverified, **options).result
