"""REDCap on the Data page: the project's data dictionary uploaded beside its records export.

`reader(data)` draws the dictionary's uploader (open when the upload looks like a REDCap export, folded away
otherwise) and returns the function the page reads the upload with: analytics/redcap_export.py with that
dictionary, or the ordinary `data_import.read_upload`. The result is memoised in this browser session like any
upload, keyed by both files and the choices.
"""
from __future__ import annotations

import csv
import io
from typing import Callable

import streamlit as st

from analytics.ingest import IngestResult
from analytics.redcap_dictionary import looks_like_dictionary
from analytics.redcap_export import load_redcap, looks_like_export
from views import data_import as imp
from views import keys, sources
from views.cache import session_memo

DICTIONARY_UPLOAD = "redcap_dictionary_upload"
UNVERIFIED = "redcap_include_unverified"


def first_row(data: bytes) -> list[str]:
    """The header row of a CSV upload ([] for a workbook, Parquet or unreadable bytes)."""
    if data[:4] in (b"PK\x03\x04", b"PAR1"):
        return []
    head = data[:65536].decode("utf-8-sig", errors="replace").splitlines()[:1]
    if not head:
        return []
    try:
        return next(csv.reader(io.StringIO(head[0]), delimiter=";" if head[0].count(";") > head[0].count(",")
                               else ","))
    except (csv.Error, StopIteration):
        return []


def reader(data: bytes) -> Callable[[bytes, str, imp.Choices], tuple[str, IngestResult]]:
    """Draw the REDCap dictionary's uploader for this upload; the function to read the upload with."""
    headers = first_row(data)
    if looks_like_dictionary(headers):
        st.info("This file is a **REDCap data dictionary**. Upload the project's records export (REDCap: Data "
                "Exports, CSV raw data) in the box above, and this dictionary in the REDCap box below it.",
                icon=":material/info:")
    is_export = looks_like_export(headers)
    with st.expander("REDCap export? Add the project's data dictionary", expanded=is_export):
        dictionary = st.file_uploader(
            "REDCap data dictionary (CSV)", type=["csv"], key=DICTIONARY_UPLOAD,
            help="REDCap: Project Setup > Data Dictionary > Download the current Data Dictionary. With it, coded "
                 "choices are read as their labels, checkboxes as lists, repeat instances and events as sessions, "
                 "and unfinished forms are kept out (counted).")
        unverified = st.checkbox("Also take forms marked unverified (status 1)", key=UNVERIFIED,
                                 help="Forms marked incomplete (0) are always kept out; complete ones (2) are "
                                      "always taken.")
    if dictionary is None:
        if is_export:
            st.warning("This looks like a **REDCap export**: add its data dictionary above, so that coded choices, "
                       "checkboxes and repeat instances are read as sessions.", icon=":material/table_view:")
        return imp.read_upload
    project = dictionary.getvalue()

    def read(upload: bytes, name: str, choices: imp.Choices) -> tuple[str, IngestResult]:
        key = sources.content_hash(upload, **choices.key(), redcap=sources.content_hash(project),
                                   unverified=unverified)

        def run() -> IngestResult:
            return load_redcap(upload, project, kind=choices.kind, mapping=dict(choices.mapping),
                               date_order=choices.date_order, drop_identifiers="drop" in choices.identifiers,
                               pseudonymise_ids="pseudonymise" in choices.identifiers, key=imp.pseudonym_key(),
                               redact_free_text=choices.redact, include_unverified=unverified).result

        return key, session_memo(keys.INGEST_MEMO, 3, "ingest", (key,), run, lambda: ((), {}))

    return read
