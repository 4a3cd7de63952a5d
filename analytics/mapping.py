"""Which file column holds which canonical field: automatic aliases, overridden by the user's own mapping.

A mapping is a plain {file header: canonical name} dictionary; it can be saved as JSON and reused for the
next month's export. A canonical name of "" or "ignore" keeps the column as an extra attribute.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .schema import ASSESSMENT_COLUMNS, Column, alias_table, normalise_header

IGNORE = ("", "ignore", "(extra)")


@dataclass
class ResolvedColumns:
    """The outcome of matching a file's headers to canonical columns."""

    column_map: dict[str, str]  # file header -> canonical name
    extra_columns: list[str]  # headers kept as grouping attributes
    suggestions: dict[str, str] = field(default_factory=dict)  # extra header -> nearest canonical name
    errors: list[str] = field(default_factory=list)


def resolve_columns(headers: list[str], columns: tuple[Column, ...], mapping: dict[str, str] | None = None
                    ) -> ResolvedColumns:
    """Match headers through the user's mapping first, then the alias table; report clashes as errors."""
    mapping = mapping or {}
    names = {c.name for c in columns}
    aliases = alias_table(columns)
    errors = [f"The mapping names '{target}' for column '{header}', which is not a known field."
              for header, target in mapping.items() if target not in names and target not in IGNORE]
    missing_headers = [h for h in mapping if h not in headers]
    if missing_headers:
        errors.append("The mapping names column(s) not in this file: "
                      + ", ".join(f"'{h}'" for h in missing_headers) + ".")
    column_map: dict[str, str] = {}
    claimed: dict[str, list[str]] = {}
    extra: list[str] = []
    for header in headers:
        if header in mapping:
            target = mapping[header]
            if target in IGNORE:
                extra.append(header)
                continue
        else:
            target = aliases.get(normalise_header(header))
            if target is None:
                extra.append(header)
                continue
        claimed.setdefault(target, []).append(header)
    for target, claimants in claimed.items():
        by_hand = [h for h in claimants if h in mapping]
        if len(claimants) > 1 and len(by_hand) != 1:
            errors.append(f"Columns {', '.join(repr(h) for h in claimants)} all look like '{target}': "
                          "map one of them by hand.")
            continue
        chosen = by_hand[0] if by_hand else claimants[0]
        column_map[chosen] = target
        extra.extend(h for h in claimants if h != chosen)
    suggestions = {}
    for header in extra:
        close = difflib.get_close_matches(normalise_header(header), list(aliases), n=1, cutoff=0.75)
        if close and aliases[close[0]] not in column_map.values():
            suggestions[header] = aliases[close[0]]
    ordered = {h: column_map[h] for h in headers if h in column_map}
    return ResolvedColumns(ordered, [h for h in headers if h in extra], suggestions, errors)


def missing_required(headers: list[str], column_map: dict[str, str], columns: tuple[Column, ...], kind: str
                     ) -> str | None:
    """The refusal message when the file lacks a required column (or one of a required group); None otherwise.

    The message names the headers found, the known names of each missing column and the nearest header.
    """
    found = set(column_map.values())
    by_name = {c.name: c for c in columns}
    needed = [c.name for c in columns if c.required and c.name not in found]
    if kind == "sessions" and not {"baseline_pain", "baseline_twstrs"} & found:
        needed.append("baseline_pain (or baseline_twstrs)")
    if kind == "assessments":
        if not {"days_after", "week", "assessment_date"} & found:
            needed.append("days_after (or week, or assessment_date)")
        if not {"pain", "twstrs", "pgic"} & found:
            needed.append("a score: pain, twstrs or pgic")
        if "assessment_date" in found and not {"days_after", "week", "session_date"} & found:
            needed.append("session_date (to count days from the injection to assessment_date)")
    if not needed:
        return None
    hints = []
    candidates = [h for h in headers if h not in column_map]
    lowered = [str(h).lower() for h in candidates]
    for name in needed:
        canonical = name.split(" ")[0]
        column = by_name.get(canonical)
        if column is None:
            continue
        close = difflib.get_close_matches(canonical, lowered, n=1, cutoff=0.5)
        known = ", ".join(f"'{a}'" for a in column.aliases[:4])
        hint = f"'{canonical}' is also recognised as {known}"
        if close:
            hint += f"; the nearest column in the file is '{candidates[lowered.index(close[0])]}'"
        hints.append(hint)
    listed = ", ".join(f"'{h}'" for h in headers)
    message = (f"Required column(s) missing: {', '.join(needed)}. Columns found: {listed}. "
               + (" ".join(h + "." for h in hints) + " " if hints else "")
               + "Rename the column or map it by hand.")
    if kind == "sessions" and looks_like_assessments(headers):
        message = ("This looks like a repeated-assessments file (scores by time after an injection): "
                   "load it as assessments (validate --assessments). " + message)
    return message


def looks_like_assessments(headers: list[str]) -> bool:
    """True when the headers name a time after injection and a score, as a repeated-assessments file does."""
    found = set(resolve_columns(headers, ASSESSMENT_COLUMNS).column_map.values())
    return bool(found & {"days_after", "week", "assessment_date"}) and bool(found & {"pain", "twstrs", "pgic"})


def mapping_json(mapping: dict[str, str]) -> bytes:
    """A mapping as the JSON bytes the Data page offers for download (read back by parse_mapping)."""
    return (json.dumps(mapping, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def is_mapping(value: object) -> bool:
    """True for a {file header: field} object of strings, as a saved mapping holds."""
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def load_mapping(path: str | Path) -> dict[str, str]:
    """Read a saved mapping (mapping_json's bytes) from a file; raises ValueError with a plain message."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"The mapping file {path} cannot be read: {err}") from None
    if not is_mapping(value):
        raise ValueError(f"The mapping file {path} must be a JSON object of 'file header': 'field' pairs.")
    return value
