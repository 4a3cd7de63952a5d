"""Free text is scanned, not trusted: identifiers inside sentences are found, shown masked, and redacted on request.

`scan(values, cutoff_year)` finds every e-mail, phone, NHS/CHI number, postcode, date of birth, titled or given
name, street address, web/IP address inside the cells of one text column; `redact(values, ...)` replaces each
finding with a tag such as `[phone]`; `redact_text(text)` does it to one string (for log lines and labels).

Vectorised where it counts: RE2 (pyarrow.compute) picks the cells that could hold a finding in one pass over
the column, and Python's `re` looks only at the distinct texts among those, so a clean column of millions of
notes costs one regex pass.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .identifier_patterns import (
    _DOB_WORDS,
    COMPILED,
    DATE,
    EMBEDDED,
    ORDER,
    PLURALS,
    SINGULARS,
    TAGS,
    accept,
    default_cutoff_year,
    mask,
    name_span,
)
from .distinct import arrow_of
from .regex_scan import matches

SHOWN_LINES = 10  # line numbers a message lists
SHOWN_EXAMPLES = 3  # masked examples a message shows


@dataclass(frozen=True)
class Finding:
    """One identifier found in a text: where (character span), and of which kind."""

    start: int
    end: int
    kind: str


def find(text: str, cutoff_year: int | None = None, kinds: tuple[str, ...] = ORDER) -> list[Finding]:
    """Every identifier inside one text, left to right; a span claimed by an earlier kind is not reused."""
    cutoff = cutoff_year if cutoff_year is not None else default_cutoff_year()
    found: list[Finding] = []
    taken = np.zeros(len(text) + 1, dtype=bool)
    for kind in (k for k in ORDER if k in kinds):
        for match in COMPILED[kind].finditer(text):
            start, span = match.start(), match.group(0)
            if kind == "name":
                span = name_span(span)
                if span is None:
                    continue
            elif not accept(kind, span, cutoff):
                continue
            end = start + len(span)
            if taken[start:end].any():
                continue
            taken[start:end] = True
            found.append(Finding(start, end, kind))
    return sorted(found, key=lambda f: f.start)


def redact_text(text: str, cutoff_year: int | None = None, kinds: tuple[str, ...] = ORDER) -> str:
    """The text with every identifier found replaced by its tag: 'call 07700 900123' -> 'call [phone]'."""
    if not isinstance(text, str) or not text:
        return text
    out, last = [], 0
    for f in find(text, cutoff_year, kinds):
        out += [text[last:f.start], TAGS[f.kind]]
        last = f.end
    return "".join(out) + text[last:]


def _years(first: int, last: int) -> str:
    return "|".join(str(y) for y in range(first, last + 1)) or "(?!)"


def _unflag(pattern: str) -> str:
    """A pattern with its leading (?i) made a scoped group, so several can be joined with |."""
    return f"(?i:{pattern[4:]})" if pattern.startswith("(?i)") else pattern


def candidate_pattern(kinds: tuple[str, ...] = ORDER) -> str:
    """One RE2 pattern matching every cell `_candidates` could pick (a superset: dates of birth by any date)."""
    parts = [f"(?:{_unflag(EMBEDDED[k])})" for k in kinds if k != "date of birth"]
    if "date of birth" in kinds:
        parts.append(rf"(?i:\b{_DOB_WORDS}\s*[:\-]?\s*(?:{DATE}|\d{{4}}))|(?i:\b\d{{1,2}}[/\-]\d{{1,2}}[/\-]\d{{2}}\b)"
                     rf"|(?i:(?:{DATE}))")
    return "|".join(parts) or "(?!)"


def _candidates(array: pa.Array, cutoff_year: int, kinds: tuple[str, ...]) -> np.ndarray:
    """True on the cells RE2 says could hold a finding."""
    others = tuple(k for k in kinds if k != "date of birth")
    hit = np.zeros(len(array), dtype=bool)
    if others:
        pattern = "|".join(f"(?:{_unflag(EMBEDDED[k])})" for k in others)
        hit |= matches(array, pattern)
    if "date of birth" in kinds:
        old = _years(1900, cutoff_year)
        dob = (rf"(?i:\b{_DOB_WORDS}\s*[:\-]?\s*(?:{DATE}|\d{{4}}))"
               rf"|(?i:\b\d{{1,2}}[/\-]\d{{1,2}}[/\-]\d{{2}}\b)"
               rf"|(?i:(?:{DATE}))")
        maybe = matches(array, dob)
        if maybe.any():
            positions = np.flatnonzero(maybe & ~hit)
            if len(positions):
                sub = array.take(pa.array(positions))
                keyword_or_short = (rf"(?i:\b{_DOB_WORDS}\s*[:\-]?\s*(?:{DATE}|\d{{4}}))"
                                    rf"|(?i:\b\d{{1,2}}[/\-]\d{{1,2}}[/\-]\d{{2}}\b)|(?:^|\D)(?:{old})(?:\D|$)")
                keep = pc.fill_null(pc.match_substring_regex(sub, keyword_or_short), False).to_numpy(
                    zero_copy_only=False)
                hit[positions[keep]] = True
    return hit


@dataclass
class ColumnScan:
    """What the scan of one column found: counts by kind, the lines, masked examples (never the values)."""

    column: str
    counts: dict[str, int] = field(default_factory=dict)
    lines: tuple[int, ...] = ()
    masked: tuple[str, ...] = ()
    positions: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def kinds_text(self) -> str:
        return ", ".join(f"{n} {PLURALS[k] if n != 1 else SINGULARS.get(k, k)}" for k, n in self.counts.items())

    def message(self) -> str:
        shown = ", ".join(str(n) for n in self.lines[:SHOWN_LINES]) + (", ..." if len(self.lines) > SHOWN_LINES
                                                                         else "")
        examples = ", ".join(f"'{m}'" for m in self.masked[:SHOWN_EXAMPLES])
        return (f"'{self.column}': {self.kinds_text()} on line{'s' if len(self.lines) != 1 else ''} {shown}"
                + (f" (e.g. {examples})" if examples else ""))


def _text_array(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The column's text as Arrow (the column's own buffers for reader text: its encoding is then shared)."""
    return arrow_of(values.astype("str"))


def scan(column: str, values: pd.Series, lines: np.ndarray, cutoff_year: int | None = None,
         kinds: tuple[str, ...] = ORDER) -> ColumnScan:
    """Identifiers inside the cells of one text column, as counts, lines and masked examples."""
    cutoff = cutoff_year if cutoff_year is not None else default_cutoff_year()
    array = _text_array(values)
    hit = _candidates(array, cutoff, kinds)
    result = ColumnScan(column)
    if not hit.any():
        return result
    positions = np.flatnonzero(hit)
    texts = pd.Series(array.take(pa.array(positions)).to_pylist(), dtype="object")
    uniques, inverse = np.unique(texts.to_numpy(dtype="str"), return_inverse=True)
    per_unique = [find(t, cutoff, kinds) for t in uniques]
    has = np.array([bool(f) for f in per_unique])[inverse]
    counts: Counter = Counter()
    masked: list[str] = []
    for u, n in zip(*np.unique(inverse[has], return_counts=True)):
        for f in per_unique[u]:
            counts[f.kind] += int(n)
    for u in inverse[has]:
        for f in per_unique[u]:
            if len(masked) < SHOWN_EXAMPLES:
                example = mask(uniques[u][f.start:f.end], f.kind)
                if example not in masked:
                    masked.append(example)
        if len(masked) >= SHOWN_EXAMPLES:
            break
    result.counts = {k: counts[k] for k in ORDER if counts.get(k)}
    result.positions = positions[has]
    result.lines = tuple(int(n) for n in lines[result.positions])
    result.masked = tuple(masked)
    return result


def redact(values: pd.Series, cutoff_year: int | None = None, kinds: tuple[str, ...] = ORDER,
           positions: np.ndarray | None = None) -> tuple[pd.Series, dict[str, int]]:
    """The column with every finding replaced by its tag, and how many it replaced by kind.

    positions: the cells to look at when a scan of the column already found them (ColumnScan.positions), so
    the column is not searched twice; else every cell RE2 says could hold a finding."""
    cutoff = cutoff_year if cutoff_year is not None else default_cutoff_year()
    if positions is None:
        positions = np.flatnonzero(_candidates(_text_array(values), cutoff, kinds))
    if not len(positions):
        return values, {}
    texts = values.iloc[positions].astype("str")
    counts: Counter = Counter()
    replaced = {}
    for text, n in texts.value_counts(sort=False).items():
        findings = find(text, cutoff, kinds)
        if findings:
            replaced[text] = redact_text(text, cutoff, kinds)
            for f in findings:
                counts[f.kind] += int(n)
    if not replaced:
        return values, {}
    changed = texts.map(replaced)
    out = values.astype("str").copy()
    out.iloc[positions] = changed.where(changed.notna(), texts).to_numpy()
    return out.where(values.notna()), {k: counts[k] for k in ORDER if counts.get(k)}


def label_problem(label: str, limit: int = 80) -> str | None:
    """Why a typed upload label cannot be kept (too long, a line break, or an identifier in it), else None."""
    if len(label) > limit:
        return f"The label is {len(label)} characters long; keep it to {limit}."
    if re.search(r"[\r\n\t\x00-\x1f]", label):
        return "The label holds a line break or a control character; type it on one line."
    found = find(re.sub(r"[_+]", " ", label), default_cutoff_year())
    if found:
        kinds = ", ".join(dict.fromkeys(f.kind for f in found))
        return (f"The label looks like it holds an identifier ({kinds}); a label is kept in the store and shown in "
                "reports, so type one that names no patient (e.g. 'March clinic export').")
    return None
