"""The identifier guard and keyed pseudonymisation (data contract, section 4).

The product works on de-identified records only. A column whose header or values look like a direct
identifier stops the upload until the user drops it; patient codes that look like identifiers (an NHS number
passing the modulus-11 check, an e-mail, a phone number) are refused unless the user asks to pseudonymise
them with the clinic's secret key. Messages name columns, counts and line numbers, never the values.
A recognised optional column with identifying values (e-mails in `site`) is dropped like any other when the user
asks, and the field is then absent; a required one cannot be dropped, so the file is refused.
Free-text columns (column_classifier.py) are scanned for identifiers inside sentences (free_text.py): refused
naming the column, lines and masked forms, unless dropped or redacted. With pseudonymisation, every code that can
carry an identifier is keyed: patient_id and session_id always, practitioner_id when it looks identifying.
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
from .identifier_patterns import (
    DATE,
    PLURALS,
    TAGS,
    WHOLE_NAME,
    chi_check,
    date_year,
    default_cutoff_year,
    is_name,
)
from .distinct import per_value
from .reason_codes import Refusal
from .regex_scan import matches
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
_WHOLE_DATE = rf"(?i)^\s*{DATE}\s*$"
NAME_SHARE = 0.3  # names or dates of birth in at least this share of a column's filled cells make it identifying
# Identifiers a code (patient_id, session_id) must not hold even inside it: '9434765919-01'.
CODE_KINDS = ("e-mail", "web address", "IP address", "date of birth", "NHS number", "social security number", "phone")


def _mask_of(values: pd.Series | pa.Array, pattern: str) -> np.ndarray:
    return matches(values, pattern)


def _filled(text: pa.Array) -> pa.Array:
    """True where a cell holds something other than spaces (null: False)."""
    return pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(text), ""), False)


def name_mask(values: pd.Series, strict: bool = False) -> pd.Series:
    """True where a whole cell reads as a personal name ('Jane Doe', "Mary O'Brien", 'DOE, Jane'), not a product,
    muscle, site or code. strict: a known given name or a title is also needed."""
    mask = pd.Series(False, index=values.index)
    text = values.astype("str")
    shaped = _mask_of(text, WHOLE_NAME)
    if shaped.any():
        candidates = text[shaped]
        verdict = {t: is_name(t, strict) for t in candidates.unique()}
        mask.loc[candidates.index] = candidates.map(verdict).to_numpy(dtype=bool)
    return mask


def birth_date_mask(values: pd.Series, cutoff_year: int) -> pd.Series:
    """True where a whole cell is a date (text, or a typed date) no later than cutoff_year: a date of birth."""
    if pd.api.types.is_datetime64_any_dtype(values):
        years = values.dt.year
        return ((years >= 1900) & (years <= cutoff_year)).fillna(False).astype(bool)
    mask = pd.Series(False, index=values.index)
    text = values.astype("str")
    dated = _mask_of(text, _WHOLE_DATE)
    if dated.any():
        candidates = text[dated]
        verdict = {t: 1900 <= (date_year(t) or 0) <= cutoff_year for t in candidates.unique()}
        mask.loc[candidates.index] = candidates.map(verdict).to_numpy(dtype=bool)
    return mask


def chi_number_mask(values: pd.Series) -> pd.Series:
    """True where a value is ten digits starting with a valid date DDMMYY (a Scottish CHI number)."""
    digits = values.astype("str").str.extract(_TEN_DIGITS)
    ok = digits[0].notna()
    mask = pd.Series(False, index=values.index)
    if ok.any():
        joined = digits.loc[ok, 0] + digits.loc[ok, 1] + digits.loc[ok, 2]
        mask.loc[ok] = joined.map(chi_check).to_numpy(dtype=bool)
    return mask


def value_findings(column: str, values: pd.Series, lines: np.ndarray, cutoff_year: int | None = None,
                   code: bool = False, names: bool = True) -> list[IdentifierFinding]:
    """Identifier-like values in one column: counts and line numbers, never the values themselves.

    Any one e-mail, phone, NHS/CHI number, postcode, web/IP address or SSN makes a finding. Names and dates of
    birth make one when they fill at least NAME_SHARE of the filled cells (a name needs a known given name or
    a title in one of them); in a code column (code=True) any one does, and an identifier inside a code
    ('9434765919-01') does too. names=False: names are not looked for (a site or practitioner may be named).
    """
    cutoff = cutoff_year if cutoff_year is not None else default_cutoff_year()
    if (values.dtype == "str" or values.dtype == object) and not _mask_of(
            values.astype("str"), _could_find(code)).any():
        return []  # no cell could be any identifier (the usual code column): one RE2 pass instead of several
    filled = pd.Series(values.notna().to_numpy(dtype=bool) & per_value(values.astype("str"), _filled),
                       index=values.index)
    findings: list[IdentifierFinding] = []
    flagged = pd.Series(False, index=values.index)

    def add(what: str, mask: pd.Series, verb: str = "look like") -> None:
        nonlocal flagged
        mask = mask & filled
        count = int(mask.sum())
        if count:
            flagged = flagged | mask
            positions = np.flatnonzero(mask.to_numpy())
            findings.append(IdentifierFinding(column, f"{count} value(s) {verb} {what}",
                                              tuple(int(n) for n in lines[positions][:20])))

    suspect = _mask_of(values.astype("str"), _ANY_IDENTIFIER)
    if suspect.any():
        positions = np.flatnonzero(suspect)
        text = pd.Series(values.iloc[positions].astype("str").str.strip().to_numpy(), index=values.index[positions])
        checks = {"NHS numbers": nhs_number_mask(text)}
        for what, pattern in _VALUE_PATTERNS.items():
            checks[what] = text.str.contains(pattern, regex=True)
        checks["CHI numbers"] = chi_number_mask(text) & ~checks["NHS numbers"]
        for what, mask in checks.items():
            add(what, mask.reindex(values.index, fill_value=False))
    n_filled = int(filled.sum())
    named = name_mask(values) if names else pd.Series(False, index=values.index)
    if named.any() and (code or (named[filled].mean() >= NAME_SHARE and name_mask(values[named], True).any())):
        add("personal names", named)
    births = birth_date_mask(values, cutoff)
    if births.any() and (code or births[filled].mean() >= NAME_SHARE):
        add("dates of birth", births)
    if code and n_filled:
        from .free_text import scan  # free_text builds on this module's neighbours; imported where used
        inside = scan(column, values.where(~flagged) if flagged.any() else values, lines, cutoff, CODE_KINDS)
        if inside.total:
            mask = pd.Series(False, index=values.index)
            mask.iloc[inside.positions] = True
            add(", ".join(PLURALS[k] for k in inside.counts), mask, "hold")
    return findings


def _could_find(code: bool) -> str:
    """One RE2 pattern every cell a value check could flag matches (a superset of all of them)."""
    from .free_text import _unflag, candidate_pattern  # free_text builds on this module's neighbours

    patterns = [_ANY_IDENTIFIER, WHOLE_NAME, _WHOLE_DATE] + ([candidate_pattern(CODE_KINDS)] if code else [])
    return "|".join(f"(?:{_unflag(p)})" for p in patterns)


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed HMAC-SHA256 codes: the same patient and key give the same code in every upload."""
    uniques = values.dropna().unique()
    codes = {
        value: PSEUDONYM_PREFIX + hmac.new(key, str(value).strip().encode("utf-8"), hashlib.sha256).hexdigest()[:20]
        for value in uniques
    }
    return values.map(codes).astype("str")


@dataclass
class GuardOutcome:
    """The identifier guard's answer: the cells to go on with, what was found, what was done, or a refusal."""

    frame: pd.DataFrame
    findings: list[IdentifierFinding]
    notes: list[str]
    refusal: Refusal | None = None
    message: str | None = None
    dropped: list[str] = field(default_factory=list)  # headers dropped (recognised ones are then absent fields)
    free_text: list = field(default_factory=list)  # free_text.ColumnScan of each column with findings
    redacted: dict[str, dict[str, int]] = field(default_factory=dict)  # column -> kind -> replaced
    key_id: str | None = None  # key_id() of the key the codes were pseudonymised with; None when not keyed


KEY_CHECK = b"toxin-outcomes: which key made these codes"


def key_id(secret: bytes) -> str:
    """A fingerprint of the pseudonymisation key (HMAC of a fixed text): the store keeps it, so codes made with
    another key (a rotated or mistyped secret, which would split every patient in two) are refused, while the
    key itself cannot be read back from it."""
    return hmac.new(secret, KEY_CHECK, hashlib.sha256).hexdigest()[:16]


# The code columns keyed by --pseudonymise: patient_id and session_id always (a session code may hold the patient's
# own identifier), practitioner_id when its values look identifying.
KEYED_ALWAYS = ("patient_id", "session_id")


def guard(frame: pd.DataFrame, lines: np.ndarray, column_map: dict[str, str], drop: bool,
          pseudonymise_ids: bool, key: str | bytes | None, required: frozenset[str] = frozenset(),
          redact_free_text: bool = False, cutoff_year: int | None = None) -> GuardOutcome:
    """Classify every column (column_classifier.py) and act on the outcome.

    Identifying columns: dropped if asked (drop), else the file is refused; patient codes that look identifying
    are pseudonymised if asked, else refused. Free-text columns with identifiers inside: redacted if asked
    (redact_free_text), else dropped if asked, else the file is refused naming the columns, lines and masked
    forms. column_map: file header -> canonical name; required: the canonical columns a file must have (one of
    them with identifying values cannot be dropped).
    """
    from .column_classifier import FREE_TEXT, IDENTIFYING, classify_columns  # it builds on this module
    from .free_text import redact, scan

    classes = classify_columns(frame, lines, column_map, cutoff_year)
    findings = [f for c in classes if c.outcome == IDENTIFYING for f in c.findings]
    header_of = {c: h for h, c in column_map.items()}
    patient_header = header_of.get("patient_id")
    keyed = {header_of[c] for c in KEYED_ALWAYS if c in header_of} if pseudonymise_ids else set()
    if pseudonymise_ids and "practitioner_id" in header_of and any(
            f.column == header_of["practitioner_id"] for f in findings):
        keyed.add(header_of["practitioner_id"])
    id_findings = [f for f in findings if f.column == patient_header]
    other = [f for f in findings if f.column != patient_header and f.column not in keyed]
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
            codes = " or pseudonymise the codes (--pseudonymise)" if any(
                column_map.get(f.column) == "session_id" for f in other) else ""
            refusals.append((Refusal.IDENTIFIERS_FOUND,
                             "The file holds direct identifiers: " + "; ".join(f.message() for f in other)
                             + f". Drop these columns (--drop-identifiers){codes} or cancel; identifying data is "
                               "never stored."))
    scans, redacted = [], {}
    fingerprint = None
    for c in classes:
        if c.outcome != FREE_TEXT or c.header in dropped:
            continue
        found = scan(c.header, frame[c.header], lines, cutoff_year, c.kinds)
        if not found.total:
            continue
        scans.append(found)
        if redact_free_text:
            values, counts = redact(frame[c.header], cutoff_year, c.kinds, found.positions)
            frame = frame.assign(**{c.header: values})
            redacted[c.header] = counts
            notes.append(f"Redacted {sum(counts.values())} identifier(s) in '{c.header}': "
                         + ", ".join(f"{n} {TAGS[k]}" for k, n in counts.items()) + ".")
        elif drop:
            frame = frame.drop(columns=[c.header])
            dropped.append(c.header)
            field_name = column_map.get(c.header)
            notes.append(f"Dropped free-text column '{c.header}': {found.kinds_text()} inside its text"
                         + (f"; {field_name} is read as not in the file." if field_name else "."))
    if scans and not (redact_free_text or drop):
        refusals.append((Refusal.FREE_TEXT_IDENTIFIERS,
                         "Free text holds identifiers: " + "; ".join(s.message() for s in scans)
                         + ". Drop these columns (--drop-identifiers) or redact them (--redact-free-text: each one "
                           "becomes a tag such as [phone]); identifying data is never stored."))
    if pseudonymise_ids and keyed:
        secret = config.pseudonym_key(key)
        if secret is None:
            refusals.append((Refusal.NO_PSEUDONYM_KEY,
                             f"Pseudonymisation was asked for but no key is set: put the clinic's secret in "
                             f"{config.PSEUDONYM_KEY_ENV} (or the app's secrets) and try again."))
        else:
            frame = frame.assign(**{h: pseudonymise(frame[h], secret).where(frame[h].notna()) for h in keyed})
            fingerprint = key_id(secret)
            names = [column_map[h] for h in sorted(keyed, key=list(frame.columns).index)]
            if names == ["patient_id"]:
                notes.append("Patient codes pseudonymised with the clinic's key (HMAC-SHA256).")
            else:
                notes.append("Codes pseudonymised with the clinic's key (HMAC-SHA256): " + ", ".join(names) + ".")
    elif id_findings:
        refusals.append((Refusal.IDENTIFYING_PATIENT_CODES,
                         "Patient codes look like direct identifiers: " + "; ".join(f.message() for f in id_findings)
                         + ". Pseudonymise them with the clinic's key (--pseudonymise) or cancel."))
    if refusals:
        return GuardOutcome(frame, findings, notes, refusals[0][0], " ".join(m for _, m in refusals), dropped,
                            scans, redacted)
    return GuardOutcome(frame, findings, notes, dropped=dropped, free_text=scans, redacted=redacted,
                        key_id=fingerprint)


def _cannot_drop(findings: list[IdentifierFinding], column_map: dict[str, str]) -> str:
    """The refusal when identifying values sit in a required column, which dropping would leave missing."""
    fields = sorted({column_map[f.column] for f in findings})
    return ("The file holds direct identifiers in required column(s): " + "; ".join(f.message() for f in findings)
            + f". {', '.join(fields)} {'is' if len(fields) == 1 else 'are'} required, so "
            + ("it cannot be dropped" if len(fields) == 1 else "they cannot be dropped")
            + ": remove the identifying values from the file and upload it again; identifying data is never stored.")
