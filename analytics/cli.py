"""The command line: validate a file, and (with the metrics engine) summarise it.

`python -m analytics validate FILE [--mapping FILE] [--dayfirst | --monthfirst] [--drop-identifiers]
[--pseudonymise] [--assessments] [--json]` prints the report a person can act on and exits 0 when every row
was accepted, 1 when some rows were rejected and the rest are usable, 2 when the file is refused.
"""
from __future__ import annotations

import argparse
import json
import sys

from .ingest import IngestResult, load
from .mapping import load_mapping


def add_ingest_options(parser: argparse.ArgumentParser) -> None:
    """The ingestion options every file-reading command shares."""
    parser.add_argument("file", help="CSV, Excel .xlsx or Parquet file")
    parser.add_argument("--mapping", help="JSON file of {\"file header\": \"field\"} pairs, over the automatic names")
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", action="store_true", help="dates are day-first (14/03/2025)")
    order.add_argument("--monthfirst", action="store_true", help="dates are month-first (03/14/2025)")
    parser.add_argument("--drop-identifiers", action="store_true",
                        help="drop columns that look like direct identifiers instead of refusing the file")
    parser.add_argument("--pseudonymise", action="store_true",
                        help="replace patient codes by keyed HMAC codes (key in OUTCOMES_PSEUDONYM_KEY)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def ingest_from_args(args: argparse.Namespace, kind: str = "sessions") -> IngestResult:
    """Run the ingestion with the options given on the command line."""
    mapping = load_mapping(args.mapping) if args.mapping else None
    order = "dayfirst" if args.dayfirst else "monthfirst" if args.monthfirst else None
    return load(args.file, kind=kind, mapping=mapping, date_order=order,
                drop_identifiers=args.drop_identifiers, pseudonymise_ids=args.pseudonymise)


def report_json(result: IngestResult) -> dict:
    """The whole validation report as JSON-ready values."""
    out = result.summary()
    out["rejected"] = result.rejected.astype({"line": int}).to_dict(orient="records")
    out["warnings_list"] = result.warnings.astype({"line": int}).to_dict(orient="records")
    out["duplicates"] = result.duplicates.astype(int).to_dict(orient="records")
    out["conflicts"] = result.conflicts.to_dict(orient="records")
    return out


def report_text(result: IngestResult, limit: int = 200) -> str:
    """The validation report in plain words."""
    s = result.summary()
    out = []
    if result.refused:
        out.append(f"{s['source']}: REFUSED. Nothing was taken from this file.")
        out.extend(f"  {message}" for message in result.file_errors)
        if s["columns"]:
            out.append("Columns recognised: " + ", ".join(f"'{h}' -> {c}" for h, c in s["columns"].items()))
        return "\n".join(out)
    out.append(f"{s['source']}: {s['rows']} rows: {s['accepted_rows']} accepted, {s['rejected_rows']} rejected "
               f"({s['duplicate_rows']} exact duplicate(s), {s['conflicting_rows']} conflicting), "
               f"{s['warnings']} warning(s).")
    fmt = s["format"]
    separator = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(fmt.get("separator") or "", "")
    out.append(f"Read as {fmt.get('format')}" + (f", {fmt.get('encoding')}" if fmt.get("encoding") else "")
               + (f", {separator}-separated" if separator else "") + ".")
    out.append("Columns: " + ", ".join(f"'{h}' -> {c}" for h, c in s["columns"].items()))
    for header, field in s["suggestions"].items():
        out.append(f"  '{header}' was not recognised; did you mean {field}? (map it with --mapping)")
    out.extend(s["notes"])
    if len(result.rejected):
        out.append("")
        out.append("Rejected cells (line, column, value as written, reason):")
        for row in result.rejected.head(limit).itertuples(index=False):
            out.append(f"  line {row.line}: {row.column} = {row.value!r}: {row.reason}")
        if len(result.rejected) > limit:
            out.append(f"  ... and {len(result.rejected) - limit} more (use --json for all).")
    if len(result.warnings):
        out.append("")
        out.append("Warnings (rows accepted, worth a look):")
        for row in result.warnings.head(limit).itertuples(index=False):
            out.append(f"  line {row.line}: {row.column} = {row.value!r}: {row.warning}")
        if len(result.warnings) > limit:
            out.append(f"  ... and {len(result.warnings) - limit} more (use --json for all).")
    return "\n".join(out)


def cmd_validate(args: argparse.Namespace) -> int:
    kind = "assessments" if args.assessments else "sessions"
    result = ingest_from_args(args, kind)
    if args.json:
        print(json.dumps(report_json(result), indent=2, default=str))
    else:
        print(report_text(result))
    return result.exit_code


def cmd_dictionary(args: argparse.Namespace) -> int:
    from .dictionary import dictionary_markdown

    print(dictionary_markdown(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analytics",
                                     description="Botulinum toxin outcome analytics from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a file against the data contract and explain problems")
    add_ingest_options(validate)
    validate.add_argument("--assessments", action="store_true", help="the file holds repeated assessments")
    validate.set_defaults(run=cmd_validate)
    dictionary = commands.add_parser("dictionary", help="print the data dictionary (Markdown)")
    dictionary.set_defaults(run=cmd_dictionary)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:  # a mapping file that cannot be read, and the like
        print(f"error: {err}", file=sys.stderr)
        return 2
