"""`python -m analytics compare FILE|--db DB --by practitioner_id|site|product|indication [--adjust casemix|none]
[--json]`: the Compare page's funnel comparison at a terminal (docs/metrics.md "Comparing practitioners or sites").

The figures come from analytics.funnel.funnel, the function the page and the report call, and small groups are
suppressed with analytics.presentation.funnel_shown as on the page (every figure of a suppressed group is null,
its name kept). JSON keys are fixed: by, adjust, overall_rate, dispersion {method, value}, groups [{group,
patients, sessions, observed_rate, expected_rate, lower_95, upper_95, lower_998, upper_998, beyond, direction,
suppressed}].
"""
from __future__ import annotations

import math

import pandas as pd

from analytics.funnel import GROUP_WORDS, funnel
from analytics.presentation import funnel_shown
from analytics.settings import DEFAULT_SETTINGS, Settings

BY_CHOICES = ("practitioner_id", "site", "product", "indication")
GROUP_KEYS = ("group", "patients", "sessions", "observed_rate", "expected_rate", "lower_95", "upper_95", "lower_998",
              "upper_998", "beyond", "direction", "suppressed")
FIGURES = GROUP_KEYS[1:-1]
COLUMN = {"observed_rate": "rate"}  # JSON key -> column of analytics.funnel's group table


def _plain(value):
    """A JSON-ready plain value: None for NA / not finite, int for counts, float for rates, str otherwise."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compare_groups(sessions: pd.DataFrame, by: str, settings: Settings = DEFAULT_SETTINGS,
                   adjust: str | None = None) -> tuple[dict, dict]:
    """(the JSON-ready comparison, the suppressed funnel result it came from) for the derived, selected sessions."""
    shown = funnel_shown(funnel(sessions, by, adjust), settings)
    rows = []
    for record in shown["groups"].to_dict(orient="records"):
        hidden = bool(record.get("suppressed", False))
        row = {"group": str(record["group"])}
        for key in FIGURES:
            row[key] = None if hidden else _plain(record.get(COLUMN.get(key, key)))
        for key in ("patients", "sessions"):
            row[key] = None if row[key] is None else int(row[key])
        row["suppressed"] = hidden
        rows.append(row)
    spread = shown["dispersion"]
    out = {"by": by, "adjust": shown["adjust"], "overall_rate": _plain(shown["overall_rate"]),
           "dispersion": {"method": spread["method"], "value": _plain(spread["value"])}, "groups": rows}
    return out, shown


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def compare_text(result: dict, shown: dict, source: str) -> str:
    """The comparison as a table a person can read at a terminal, with the caption under it."""
    words = GROUP_WORDS.get(result["by"], result["by"])
    lines = [f"{source}: {words}s compared on the patient-level responder rate "
             f"({'adjusted for case mix' if result['adjust'] == 'casemix' else 'raw rates'}); overall rate "
             f"{_pct(result['overall_rate'])}.", ""]
    header = ("group", "patients", "sessions", "observed", "expected", "95% limits", "99.8% limits", "beyond")
    rows = []
    for g in result["groups"]:
        if g["suppressed"]:
            rows.append((g["group"], "suppressed", "", "", "", "", "", ""))
            continue
        beyond = "" if g["beyond"] is None else f"{g['beyond']}% {g['direction']}"
        rows.append((g["group"], f"{g['patients']:,}", f"{g['sessions']:,}", _pct(g["observed_rate"]),
                     _pct(g["expected_rate"]), f"{_pct(g['lower_95'])} to {_pct(g['upper_95'])}",
                     f"{_pct(g['lower_998'])} to {_pct(g['upper_998'])}", beyond))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        lines.append("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in
                               enumerate(zip(r, widths))).rstrip())
    lines += ["", shown["caption"]]
    return "\n".join(lines)


def run(args) -> int:
    """The `compare` command: read the file or the store as `summary` does, work out each patient's whole
    history, select, compare; print JSON or the table. Exit 0, or 2 for a refused file (as `summary`)."""
    import json

    from analytics import cli
    from analytics.selection import select
    from analytics.sessions import derive_sessions

    settings = cli.settings_from_args(args)
    read = cli.read_sessions(args)
    if isinstance(read, int):
        return read
    sessions, source, _ = read
    chosen = cli._checked_selection(args, sessions)
    derived = select(derive_sessions(sessions, settings), chosen)
    out, shown = compare_groups(derived, args.by, settings, args.adjust)
    print(json.dumps(out, indent=2) if args.json else compare_text(out, shown, source))
    return 0
