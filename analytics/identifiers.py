"""The identifier guard and keyed pseudonymisation (data contract, section 4).

The product works on de-identified records only. A column whose header or values look like a direct
identifier stops the upload until the user drops it; patient codes that look like identifiers (an NHS number
passing the modulus-11 check, an e-mail, a phone number) are refused unless the user asks to pseudonymise
them with the clinic's secret key. Messages name columns, counts and line numbers, never the values.
A recognised optional column with identifying values (e-mails in `site`) is dropped like any other when the user
asks, and the field is then absent; a required one cannot be dropped, so the file is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import config
from .reason_codes import Refusal
from .schema import IDENTIFIER_HEADERS, normalise_header

_VALUE_PATTERNS = {
    "e-mail addresses": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "phone numbers": r"^\s*(?:\+\d{1,3}[\s\-]?|0)(?:\(?\d{2,5}\)?[\s\-]?)\d{3,4}[\s\-]?\d{3,4}\s*$",
    "web addresses": r"^(?:https?://|www\.)\S+$",
    "IP addresses": r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$",
    "postcodes": r"^[A-Za-z]{1,2}\d[A-Za-z\d]?\s+\d[A-Za-z]{2}$",
    "social security numbers": r"^\d{3}-\d{2}-\d{4}$",
}
_TEN_DIGITS = r"^\s*(\d{3})[\s\-]?(\d{3})[\s\-]?(\d{4})\s*$"
PSEUDONYM_PREFIX = "px-"


@dataclass(frozen=True)
class IdentifierFinding:
    """One column that looks identifying, and why (no values)."""

    column: str
    reason: str
    lines: tuple[int, ...] = ()

    def message(self) -> str:
        where = ""
        if self.lines:
            shown = ", ".join(str(n) for n in self.lines[:5])
            where = f" (lines {shown}{', ...' if len(self.lines) > 5 else ''})"
        return f"'{self.column}': {self.reason}{where}"


def header_reason(header: str) -> str | None:
    """Why a header names a direct identifier, or None."""
    key = normalise_header(header)
    for pattern, what in IDENTIFIER_HEADERS:
        if re.search(pattern, key):
            return f"the header looks like {what}"
    return None


def nhs_number_mask(values: pd.Series) -> pd.Series:
    """True where a value is ten digits passing the NHS modulus-11 check."""
    digits = values.astype("str").str.extract(_TEN_DIGITS)
    ok = digits[0].notna()
    mask = pd.Series(False, index=values.index)
    if not ok.any():
        return mask
    joined = (digits.loc[ok, 0] + digits.loc[ok, 1] + digits.loc[ok, 2]).to_numpy(dtype="U10")
    matrix = np.frombuffer(joined.astype("S10").tobytes(), dtype=np.uint8).reshape(-1, 10) - 48
    total = (matrix[:, :9] * np.arange(10, 1, -1)).sum(axis=1)
    check = 11 - total % 11
    check = np.where(check == 11, 0, check)
    mask.loc[ok] = (check != 10) & (check == matrix[:, 9])
    return mask


# Any value an identifier check could flag matches this; RE2 scans millions of cells in milliseconds.
_ANY_IDENTIFIER = "|".join(f"(?:{p})" for p in (*_VALUE_PATTERNS.values(), _TEN_DIGITS))


def value_findings(column: str, values: pd.Series, lines: np.ndarray) -> list[IdentifierFinding]:
    """Identifier-like values in one text column: counts and line numbers, never the values themselves."""
    array = pa.array(values.astype("str"), type=pa.string(), from_pandas=True)
    suspect = pc.fill_null(pc.match_substring_regex(array, _ANY_IDENTIFIER), False).to_numpy(zero_copy_only=False)
    if not suspect.any():
        return []
    positions = np.flatnonzero(suspect)
    text = pd.Series(values.iloc[positions].astype("str").str.strip().to_numpy(), index=positions)
    findings = []
    checks = {"NHS numbers": nhs_number_mask(text)}
    for what, pattern in _VALUE_PATTERNS.items():
        checks[what] = text.str.contains(pattern, regex=True)
    for what, mask in checks.items():
        count = int(mask.sum())
        if count:
            found_lines = tuple(int(n) for n in lines[mask[mask].index.to_numpy()][:20])
            findings.append(IdentifierFinding(column, f"{count} value(s) look like {what}", found_lines))
    return findings


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed HMAC-SHA256 codes: the same patient and key give the same code in every upload."""
    uniques = values.dropna().unique()
    codes = {
        value: PSEUDONYM_PREFIX + hmac.new(key, str(value).strip().encode("utf-8"), hashlib.sha256).hexdigest()[:20]
        for value in uniques
    }
    return values.map(codes).astype("str")


# Canonical columns whose values are free text and so are scanned for identifiers.
SCANNED_TEXT = frozenset({"patient_id", "session_id", "site", "practitioner_id"})


@dataclass
class GuardOutcome:
    """The identifier guard's answer: the cells to go on with, what was found, what was done, or a refusal."""

    frame: pd.DataFrame
    findings: list[IdentifierFinding]
    notes: list[str]
    refusal: Refusal | None = None
    message: str | None = None
    dropped: list[str] = field(default_factory=list)  # headers dropped (recognised ones are then absent fields)


def guard(frame: pd.DataFrame, lines: np.ndarray, column_map: dict[str, str], drop: bool,
          pseudonymise_ids: bool, key: str | bytes | None, required: frozenset[str] = frozenset()
          ) -> GuardOutcome:
    """Find identifying columns; drop them if asked, else refuse the file. Pseudonymise patient codes if asked.

    column_map: file header -> canonical name for the recognised columns; the other headers are scanned too.
    required: the canonical columns the file must have; one of them with identifying values cannot be dropped.
    """
    findings: list[IdentifierFinding] = []
    for header in frame.columns:
        canonical = column_map.get(header)
        reason = header_reason(header) if canonical is None else None
        if reason:
            findings.append(IdentifierFinding(header, reason))
            continue
        column = frame[header]
        if canonical in SCANNED_TEXT or (canonical is None and (column.dtype == "str" or column.dtype == object)):
            findings.extend(value_findings(header, column, lines))
        elif canonical is None and pd.api.types.is_integer_dtype(column):
            findings.extend(value_findings(header, column.astype("str"), lines))
    patient_header = next((h for h, c in column_map.items() if c == "patient_id"), None)
    id_findings = [f for f in findings if f.column == patient_header]
    other = [f for f in findings if f.column != patient_header]
    refusals: list[tuple[Refusal, str]] = []
    notes: list[str] = []
    dropped: list[str] = []
    if other:
        needed = [f for f in other if column_map.get(f.column) in required]
        if drop and needed:
            refusals.append((Refusal.IDENTIFIERS_FOUND, _cannot_drop(needed, column_map)))
        elif drop:
            dropped = sorted({f.column for f in other})
            frame = frame.drop(columns=dropped)
            extras = [h for h in dropped if h not in column_map]
            if extras:
                notes.append("Dropped identifying column(s): " + ", ".join(f"'{h}'" for h in extras) + ".")
            for header in (h for h in dropped if h in column_map):
                why = "; ".join(f.reason for f in other if f.column == header)
                notes.append(f"Dropped column '{header}' ({column_map[header]}): {why}; {column_map[header]} is "
                             "read as not in the file.")
        else:
            refusals.append((Refusal.IDENTIFIERS_FOUND,
                             "The file holds direct identifiers: " + "; ".join(f.message() for f in other)
                             + ". Drop these columns (--drop-identifiers) or cancel; identifying data is "
                               "never stored."))
    if pseudonymise_ids and patient_header:
        secret = config.pseudonym_key(key)
        if secret is None:
            refusals.append((Refusal.NO_PSEUDONYM_KEY,
                             f"Pseudonymisation was asked for but no key is set: put the clinic's secret in "
                             f"{config.PSEUDONYM_KEY_ENV} (or the app's secrets) and try again."))
        else:
            frame = frame.assign(**{patient_header: pseudonymise(frame[patient_header], secret)})
            notes.append("Patient codes pseudonymised with the clinic's key (HMAC-SHA256).")
    elif id_findings:
        refusals.append((Refusal.IDENTIFYING_PATIENT_CODES,
                         "Patient codes look like direct identifiers: " + "; ".join(f.message() for f in id_findings)
                         + ". Pseudonymise them with the clinic's key (--pseudonymise) or cancel."))
    if refusals:
        return GuardOutcome(frame, findings, notes, refusals[0][0], " ".join(m for _, m in refusals), dropped)
    return GuardOutcome(frame, findings, notes, dropped=dropped)


def _cannot_drop(findings: list[IdentifierFinding], column_map: dict[str, str]) -> str:
    """The refusal when identifying values sit in a required column, which dropping would leave missing."""
    fields = sorted({column_map[f.column] for f in findings})
    return ("The file holds direct identifiers in required column(s): " + "; ".join(f.message() for f in findings)
            + f". {', '.join(fields)} {'is' if len(fields) == 1 else 'are'} required, so "
            + ("it cannot be dropped" if len(fields) == 1 else "they cannot be dropped")
            + ": remove the identifying values from the file and upload it again; identifying data is never stored.")
