"""Which file column holds which canonical field: automatic aliases, overridden by the user's own mapping.

A mapping is a plain {file header: canonical name} dictionary; it can be saved as JSON and reused for the
next month's export. A canonical name of "" or "ignore" keeps the column as an extra attribute.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .schema import Column, alias_table, normalise_header

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


def save_mapping(mapping: dict[str, str], path: str | Path) -> None:
    """Write a mapping as JSON for the next upload."""
    Path(path).write_text(json.dumps(mapping, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_mapping(path: str | Path) -> dict[str, str]:
    """Read a mapping saved by save_mapping; raises ValueError with a plain message when it is not one."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"The mapping file {path} cannot be read: {err}") from None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ValueError(f"The mapping file {path} must be a JSON object of 'file header': 'field' pairs.")
    return value
