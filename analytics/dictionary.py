"""The data dictionary and an empty template, generated from the schema so the docs never drift from the code."""
from __future__ import annotations

import pandas as pd

from .schema import (
    ASSESSMENT_COLUMNS, EARLIEST_DATE, EXCEL_ZERO_DATES, EXPORT_BLANKS, NOT_RECORDED_TOKENS, SESSION_COLUMNS, Column,
)

_TYPES = {"text": "text", "date": "date", "number": "number", "integer": "whole number",
          "category": "category", "list": "list"}


def _rule(column: Column) -> str:
    if column.low is not None and column.high is not None:
        return f"{column.low:g} to {column.high:g}"
    if column.above_low:
        return f"above {column.low:g}"
    if column.low is not None:
        return f"{column.low:g} or more"
    if column.max_length:
        return f"at most {column.max_length} characters"
    return ""


def data_dictionary(kind: str = "sessions") -> pd.DataFrame:
    """One row per canonical column: name, type, required, allowed range, description, accepted header names."""
    columns = SESSION_COLUMNS if kind == "sessions" else ASSESSMENT_COLUMNS
    return pd.DataFrame({
        "column": [c.name for c in columns],
        "type": [_TYPES[c.kind] for c in columns],
        "required": ["yes" if c.required else "no" for c in columns],
        "range": [_rule(c) for c in columns],
        "description": [c.description for c in columns],
        "also accepted as": [", ".join(c.aliases) for c in columns],
    })


def template_csv(kind: str = "sessions") -> str:
    """An empty CSV with the canonical headers, ready to fill."""
    columns = SESSION_COLUMNS if kind == "sessions" else ASSESSMENT_COLUMNS
    return ",".join(c.name for c in columns) + "\n"


def dictionary_markdown() -> str:
    """The dictionary of both file kinds as Markdown (docs/data-dictionary.md is this text)."""
    parts = ["# Data dictionary",
             "",
             "Generated from `analytics/schema.py` by `python -m analytics dictionary`; do not edit by hand.",
             "Header names are matched regardless of case, spaces, punctuation and units in brackets.",
             "* Session records need at least one baseline score: baseline_pain or baseline_twstrs.",
             *_cell_rules(),
             ""]
    for kind, title in (("sessions", "Session records: one row per injection session"),
                        ("assessments", "Repeated assessments: one row per score after an injection")):
        table = data_dictionary(kind)
        parts += [f"## {title}", "", "| " + " | ".join(table.columns) + " |",
                  "|" + "---|" * len(table.columns)]
        for row in table.itertuples(index=False):
            parts.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
        parts.append("")
    return "\n".join(parts)


def _cell_rules() -> list[str]:
    """The rules every cell follows, from the schema's constants."""
    blanks = ", ".join(f"`{t}`" if t else "an empty cell" for t in EXPORT_BLANKS)
    tokens = ", ".join(f"`{t}`" for t in NOT_RECORDED_TOKENS)
    return [
        "* Every cell is read as written: codes such as `007` stay text (leading zeros and case kept, spaces "
        "around them trimmed).",
        f"* Blank cells: {blanks}. Not recorded: {tokens} (any case): blank in an optional column, with one "
        "warning per column; in a required column the row is rejected as blank.",
        "* Numbers must be finite: `inf`, `nan`, `Infinity` and numbers too large to hold (`1e309`) are rejected "
        "(in a text, date or category column `nan` is a blank).",
        f"* Dates before {EARLIEST_DATE.isoformat()} (botulinum toxin's first licence for clinical use) and Excel's "
        f"zero dates ({', '.join(EXCEL_ZERO_DATES)}) are rejected.",
        "* The muscles' units may differ from total_units by 1 U per muscle or 1% of the total, whichever is "
        "larger, before a warning.",
    ]
