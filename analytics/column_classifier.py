"""Three outcomes per column of an upload: identifying (refused until dropped), free text (scanned), or safe.

- identifying: the header names a direct identifier (schema.IDENTIFIER_HEADERS), or the values are identifiers
  (identifiers.value_findings: any e-mail, phone, NHS/CHI number, postcode...; names or dates of birth in a
  clear share of the cells; in a code column, any one, even inside the code). A recognised canonical column is
  never identifying by its header: 'site', 'practitioner' or 'product name' are fields of the contract.
- free text: a text column that is no vocabulary (extra columns such as notes or comments, and the site,
  practitioner and muscle columns): every cell is scanned for identifiers inside sentences (free_text.py).
- safe: typed columns (numbers, dates, categories and lists with a vocabulary) whose parsers accept nothing
  else, and typed extra columns without identifier-like values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from .distinct import arrow_of, encoding_for
from .identifier_patterns import ORDER, default_cutoff_year
from .identifiers import IdentifierFinding, header_reason, value_findings
from .schema import normalise_header

IDENTIFYING, FREE_TEXT, SAFE = "identifying", "free text", "safe"
CODE_COLUMNS = frozenset({"patient_id", "session_id"})
# Canonical text columns scanned as free text, and what is looked for in them. A site or a practitioner may be
# named after a person ('Mary Seacole Ward', 'Dr Patel'): names are not looked for there, other identifiers are.
NOT_NAMES = tuple(k for k in ORDER if k != "name")
FREE_TEXT_FIELDS = {"site": NOT_NAMES, "practitioner_id": NOT_NAMES, "muscles": NOT_NAMES}
# Headers of columns meant for sentences: their whole-cell identifiers are findings to redact, not a column to drop.
FREE_TEXT_HEADER = re.compile(r"note|comment|remark|freetext|narrative|observation|memo|feedback|description"
                              r"|detail|message|letter|^text$|^plan$|summary|history|clinicalinfo")
WORDY_SHARE = 0.2  # a column with at least this share of filled cells of three words or more is free text


@dataclass
class ColumnClass:
    """One column's outcome: identifying (with its findings), free text (with the kinds to look for), or safe."""

    header: str
    canonical: str | None
    outcome: str
    findings: list[IdentifierFinding] = field(default_factory=list)
    kinds: tuple[str, ...] = ()


def is_text(values: pd.Series) -> bool:
    return values.dtype == "str" or values.dtype == object


def wordy(values: pd.Series) -> bool:
    """True when a clear share of the filled cells are sentences (three words or more)."""
    text = values.dropna().astype("str").str.strip()
    text = text[text != ""]
    if not len(text):
        return False
    return bool((text.str.count(r"\s+") >= 2).mean() >= WORDY_SHARE)


def classify(header: str, values: pd.Series, canonical: str | None, lines: np.ndarray,
             cutoff_year: int | None = None) -> ColumnClass:
    """The outcome of one column (see the module docstring)."""
    if canonical is None:
        reason = header_reason(header)
        if reason:
            return ColumnClass(header, None, IDENTIFYING, [IdentifierFinding(header, reason)])
    if canonical in CODE_COLUMNS:
        found = value_findings(header, values, lines, cutoff_year, code=True)
        return ColumnClass(header, canonical, IDENTIFYING if found else SAFE, found)
    if canonical in FREE_TEXT_FIELDS:
        found = value_findings(header, values, lines, cutoff_year, names="name" in FREE_TEXT_FIELDS[canonical])
        if found:
            return ColumnClass(header, canonical, IDENTIFYING, found)
        return ColumnClass(header, canonical, FREE_TEXT, kinds=FREE_TEXT_FIELDS[canonical])
    if canonical is not None:
        return ColumnClass(header, canonical, SAFE)
    if is_text(values):
        if FREE_TEXT_HEADER.search(normalise_header(header)) or wordy(values):
            return ColumnClass(header, None, FREE_TEXT, kinds=ORDER)
        found = value_findings(header, values, lines, cutoff_year)
        if found:
            return ColumnClass(header, None, IDENTIFYING, found)
        return ColumnClass(header, None, FREE_TEXT, kinds=ORDER)
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
        shown = values if pd.api.types.is_datetime64_any_dtype(values) else values.astype("str")
        found = value_findings(header, shown, lines, cutoff_year)
        return ColumnClass(header, None, IDENTIFYING if found else SAFE, found)
    return ColumnClass(header, None, SAFE)


def classify_columns(frame: pd.DataFrame, lines: np.ndarray, column_map: dict[str, str],
                     cutoff_year: int | None = None) -> list[ColumnClass]:
    """Every column's outcome, in the file's order."""
    return [classify(h, frame[h], column_map.get(h), lines, cutoff_year) for h in frame.columns]


_SESSION_YEAR = r"(?:^|\D)(?P<year>19[89]\d|20\d\d)(?:\D|$)"


def cutoff_year(frame: pd.DataFrame, column_map: dict[str, str]) -> int:
    """The latest year a date of birth can have in this file: 18 years before its earliest session (or
    assessment) year; 18 years before today when the file has no dates to go by."""
    years = []
    for header, canonical in column_map.items():
        if canonical in ("session_date", "assessment_date") and header in frame.columns:
            column = frame[header]
            if pd.api.types.is_datetime64_any_dtype(column):
                found = column.dt.year.dropna()
            else:  # distinct texts only, through RE2: a session column has few of them among millions of rows
                encoded = encoding_for(column.astype("str"))
                distinct = encoded.values if encoded is not None else pc.unique(arrow_of(column.astype("str")))
                parts = pc.extract_regex(pc.fill_null(distinct, ""), _SESSION_YEAR)
                found = pd.to_numeric(pd.Series(parts.field("year").to_pylist()), errors="coerce").dropna()
            if len(found):
                years.append(int(found.min()))
    return default_cutoff_year(min(years) if years else None)
