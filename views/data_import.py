"""The Data page's processing, callable without a browser: read an upload with the user's choices, and turn the
ingestion report into one table. The choices for one file (mapping, date order, identifier answer) are kept in
st.session_state under the file's content hash; the checked result in this session's memo, never in a cache
shared with other users.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from analytics.ingest import IngestResult, load
from analytics.mapping import IGNORE, is_mapping
from analytics.reading import FileRefused
from analytics.reason_codes import IDENTIFIER_REFUSALS, Refusal
from analytics.report_stream import LISTED_WARNINGS, CellGroup, cell_groups
from analytics.report_stream import groups_table as stream_groups_table
from analytics.schema import ASSESSMENT_COLUMNS, SESSION_COLUMNS
from analytics.xlsx_reading import sheet_names
from views import keys, sources
from views.cache import session_memo

KINDS = {"sessions": "Session records (one row per injection)",
         "assessments": "Repeated assessments (scores after an injection)"}
KEEP_EXTRA = "(keep as an extra attribute)"
REPORT_COLUMNS = ["kind", "line", "column", "field", "value", "problem"]
SECRET_NAME = "OUTCOMES_PSEUDONYM_KEY"


@dataclass
class Choices:
    """What the user has decided about one uploaded file."""

    kind: str = "sessions"
    mapping: dict[str, str] = field(default_factory=dict)
    date_order: str | None = None  # None: read it from the file
    identifiers: tuple[str, ...] = ()  # the answers to the identifier guard: "drop", "pseudonymise"; or "cancel"
    sheet: str | None = None  # a workbook's sheet; None: the first whose header fits the contract
    redact: bool = False  # replace identifiers found inside free text by tags ([phone], [e-mail], ...)

    def key(self) -> dict:
        return {"kind": self.kind, "mapping": self.mapping, "date_order": self.date_order,
                "identifiers": self.identifiers, "sheet": self.sheet, "redact": self.redact}


def choices_for(file_hash: str) -> Choices:
    """The choices made for this file in this session (new files start with none)."""
    store = st.session_state.setdefault(keys.UPLOAD_CHOICES, {})
    if file_hash not in store:
        store.clear()  # one file at a time: a new upload starts afresh, its widgets too
        for key in [k for k in st.session_state if str(k).startswith(keys.UPLOAD_WIDGET_PREFIXES)]:
            del st.session_state[key]
        store[file_hash] = Choices()
    return store[file_hash]


def canonical_columns(kind: str) -> list[str]:
    return [c.name for c in (SESSION_COLUMNS if kind == "sessions" else ASSESSMENT_COLUMNS)]


def pseudonym_key() -> str | None:
    """The clinic's secret from Streamlit secrets, if configured (else ingestion reads the environment)."""
    try:
        value = st.secrets.get(SECRET_NAME)
    except Exception:  # noqa: BLE001 - no secrets file is the usual case
        return None
    return str(value) if value else None


def read_upload(data: bytes, name: str, choices: Choices) -> tuple[str, IngestResult]:
    """Check an uploaded file with the user's choices; (content key, result). Memoised in this session only."""
    key = sources.content_hash(data, **choices.key())

    def run() -> IngestResult:
        return load(data, kind=choices.kind, name=name, mapping=dict(choices.mapping),
                    date_order=choices.date_order, drop_identifiers="drop" in choices.identifiers,
                    pseudonymise_ids="pseudonymise" in choices.identifiers, key=pseudonym_key(),
                    sheet=choices.sheet, redact_free_text=choices.redact)

    result = session_memo(keys.INGEST_MEMO, 3, "ingest", (key,), lambda: run(), lambda: ((), {}))
    return key, result


def workbook_sheets(data: bytes) -> list[str]:
    """The worksheet names of an .xlsx upload (memoised in this session); [] for other files or a broken one."""
    if not data.startswith(b"PK\x03\x04"):  # not a zip, so not a workbook
        return []

    def names() -> list[str]:
        try:
            return sheet_names(data)
        except FileRefused:
            return []  # the reading step says why the workbook cannot be used

    return session_memo(keys.SHEETS_MEMO, 1, "sheets", (sources.content_hash(data),), names, lambda: ((), {}))


def asks_for_date_order(result: IngestResult) -> bool:
    """True when the file was refused because its dates read both ways (the page then asks for the order)."""
    return result.refusal is Refusal.AMBIGUOUS_DATE_ORDER


def identifier_block(result: IngestResult) -> bool:
    """True when the file was refused by the identifier guard (the page then asks what to do with them)."""
    return result.refusal in IDENTIFIER_REFUSALS


def patient_codes_flagged(result: IngestResult) -> bool:
    """True when the patient codes themselves look identifying (pseudonymising is then the way on)."""
    patient_header = next((h for h, c in result.column_map.items() if c == "patient_id"), None)
    return any(f.column == patient_header for f in result.identifier_findings)


def report_table(result: IngestResult) -> pd.DataFrame:
    """Every rejected cell and every warning in one table: kind, line, column, field, value, problem.

    Rejected cells first (by line), then warnings (by line): what kept rows out comes before what merely
    deserves a look."""
    parts = []
    if len(result.rejected):
        parts.append(result.rejected.rename(columns={"reason": "problem"}).assign(kind="rejected"))
    if len(result.warnings):
        parts.append(result.warnings.rename(columns={"warning": "problem"}).assign(kind="warning"))
    if not parts:
        return report_table_empty()
    table = pd.concat(parts, ignore_index=True)[REPORT_COLUMNS]
    table["value"] = table["value"].astype("str").where(table["value"].notna(), "")
    table["order"] = (table["kind"] != "rejected").astype("int64")
    return table.sort_values(["order", "line"], kind="stable").drop(columns="order").reset_index(drop=True)


GROUP_HEADINGS = {"kind": "kind", "cells": "cells", "rows": "rows", "code": "reason code", "column": "column",
                  "reason": "reason (first example)", "first_lines": "first lines"}


def report_groups(result: IngestResult) -> list[CellGroup]:
    """The report's problems by type (kind, reason code, column), rejections first, then the largest: each with
    every rejected cell, or the first LISTED_WARNINGS warnings (analytics.report_stream: numpy over group codes,
    no copy of the report's text columns, so a file with a million identical warnings groups in a moment)."""
    return cell_groups(result.rejected, result.warnings, LISTED_WARNINGS)


def groups_table(groups: list[CellGroup]) -> pd.DataFrame:
    """The problems by type with their counts, headed for the page: one row per reason and column."""
    return stream_groups_table(groups)[list(GROUP_HEADINGS)].rename(columns=GROUP_HEADINGS)


def listed_entries(groups: list[CellGroup]) -> pd.DataFrame:
    """The report's rows shown before any filter: every rejected cell (by line), then the first LISTED_WARNINGS
    cells of each type of warning (type by type, in the order of the summary), in the columns of report_table.
    A thousand identical warnings never hide the few rejected rows."""
    parts = [g.listed.rename(columns={"reason": "problem"}).assign(kind=g.kind, column=g.column, field=g.field)
             for g in groups if len(g.listed)]
    if not parts:
        return report_table_empty()
    table = pd.concat(parts, ignore_index=True)[REPORT_COLUMNS]
    table["line"] = table["line"].astype("int64")
    table["value"] = table["value"].astype("str").where(table["value"].notna(), "")
    rejected = table["kind"] == "rejected"
    return pd.concat([table.loc[rejected].sort_values("line", kind="stable"), table.loc[~rejected]],
                     ignore_index=True)


def not_listed(groups: list[CellGroup]) -> int:
    """How many warnings listed_entries leaves out (every one is in the full report)."""
    return sum(g.not_listed for g in groups)


def report_table_empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="str" if c != "line" else "int64") for c in REPORT_COLUMNS})


def filter_report(report: pd.DataFrame, kinds=(), columns=(), text: str = "") -> pd.DataFrame:
    """The report rows of the chosen kinds and columns whose problem or value contains the text."""
    keep = pd.Series(True, index=report.index)
    if kinds:
        keep &= report["kind"].isin(list(kinds))
    if columns:
        keep &= report["column"].isin(list(columns))
    if text:
        needle = text.lower()
        keep &= (report["problem"].astype("str").str.lower().str.contains(needle, regex=False)
                 | report["value"].astype("str").str.lower().str.contains(needle, regex=False))
    return report.loc[keep]


def mapping_table(result: IngestResult, kind: str) -> pd.DataFrame:
    """Every header of the file and the field it was matched to (or that it is kept as an extra attribute)."""
    rows = [{"column in your file": header, "read as": canonical} for header, canonical in result.column_map.items()]
    rows += [{"column in your file": header, "read as": KEEP_EXTRA} for header in result.extra_columns]
    return pd.DataFrame(rows, columns=["column in your file", "read as"])


def parse_mapping(data: bytes) -> dict[str, str]:
    """A mapping saved by this page (analytics.mapping.mapping_json); ValueError with a plain message."""
    try:
        value = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"The mapping file is not JSON: {err}") from None
    if not is_mapping(value):
        raise ValueError("The mapping file must be a JSON object of \"file column\": \"field\" pairs.")
    return value


def clean_mapping(mapping: dict[str, str], headers: list[str]) -> dict[str, str]:
    """The entries that apply to this file (a saved mapping may name columns another export had)."""
    return {h: v for h, v in mapping.items() if h in headers and (v in IGNORE or v)}
