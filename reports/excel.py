"""The shared report as an Excel workbook of the tables behind the charts: About (settings, as-of, filters),
KPIs, Breakdowns, By cycle, Monthly, Funnel, Safety and Flags.

The same display rules as the app and the HTML report (analytics.presentation): small groups read "suppressed",
and so does the next smallest when only one would be hidden. The Flags sheet lists flagged patients by their
pseudonymous codes, for the care team's review. Every text cell that begins with = + - @ (or a tab or carriage
return) is neutralised with a leading quote (analytics.export.neutralise_formulas), so no cell runs as a formula.
"""
from __future__ import annotations

import io
import json
from datetime import datetime

import numpy as np
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from analytics.export import neutralise_formulas
from analytics.funnel import funnel
from analytics.presentation import (
    display_table, funnel_shown, kpi_table, kpi_tiles_shown, report_family, too_few_patients,
)
from analytics.settings import DEFAULT_SETTINGS, Settings
from analytics.suppression import SUPPRESSED
from reports.common import TITLE, as_of_text, derived_of, due_days_of, flags_of, pchart_of, tile_sessions


def _printable(value):
    """Text without the control characters a worksheet cannot hold (openpyxl refuses the whole workbook, and its
    error would quote the cell): a name with a stray \x01 is written without it."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _cellable(table: pd.DataFrame) -> pd.DataFrame:
    """Values openpyxl can write: lists and dicts as text, NA as blank, no time zones, no control characters."""
    out = table.copy()
    for position, column in enumerate(table.columns):
        values = out.iloc[:, position]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            out.isetitem(position, values.astype(object).map(
                lambda v: _printable("; ".join(map(str, v)) if isinstance(v, (list, tuple, set, np.ndarray))
                                     else (json.dumps(v) if isinstance(v, dict) else v))))
        elif isinstance(values.dtype, pd.CategoricalDtype):
            out.isetitem(position, values.astype(object).map(_printable))
        elif isinstance(values.dtype, pd.DatetimeTZDtype):
            out.isetitem(position, values.dt.tz_localize(None))
    out.columns = [_printable(c) for c in table.columns]
    return out


def _sheets(derived: pd.DataFrame, settings: Settings, start, end, history, baseline) -> dict[str, pd.DataFrame]:
    """Every sheet after About, display-ready."""
    flags = flags_of(derived, settings, history)
    tiles = kpi_tiles_shown(tile_sessions(derived, settings, baseline), settings, start, end, flags,
                            due_days=due_days_of(derived, settings, history))
    family = report_family(derived, settings)  # every sheet's groups suppressed together, as in the HTML
    tables = [t for _, _, t in family["breakdowns"]]
    chart, _ = pchart_of(derived, settings, start, end, baseline, history)
    return {
        "KPIs": kpi_table(tiles),
        "Breakdowns": display_table(pd.concat(tables, ignore_index=True), ["group_by", "group"]),
        "By cycle": display_table(family["by_cycle"], ["cycle"]),
        "Monthly": chart.drop(columns=[c for c in ("relative_to_centre", "sigma", "sigma_p") if c in chart.columns]),
        "Funnel": display_table(funnel_shown(funnel(derived, "practitioner_id"), settings,
                                             family["funnel_practitioner_id"])["groups"], ["group_by", "group"]),
        "Safety": display_table(family["adverse_events"], ["group_by", "group", "event"]),
        "Flags": flags,
    }


def excel_report(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, filters_description: str = "",
                 source_name: str = "", *, start=None, end=None, history: pd.DataFrame | None = None,
                 baseline: pd.DataFrame | None = None) -> bytes:
    """An .xlsx workbook of the report's tables for the selection (see the module docstring); the options are
    html_report's."""
    derived = derived_of(sessions, settings)
    k = settings.min_group_patients
    about = [("Report", TITLE), ("Source", source_name or "not named"), ("As of", as_of_text(sessions, settings)),
             ("Filters", filters_description or "none (all sessions)"),
             ("Generated", datetime.now().strftime("%Y-%m-%d %H:%M")),
             ("Small-number suppression", f"groups with fewer than {k} patients show '{SUPPRESSED}', and so do the "
                                          "groups hidden so that no small one can be worked out from the total "
                                          "or from another sheet"),
             ("Flags sheet", "patients flagged for review, by pseudonymous code: for the care team only")]
    about += [(f"Setting: {key}", ", ".join(map(str, value)) if isinstance(value, list) else
               ("" if value is None else value)) for key, value in settings.to_dict().items()]
    sheets: dict[str, pd.DataFrame] = {"About": pd.DataFrame(about, columns=["item", "value"])}
    if too_few_patients(derived, settings):
        about_sheet = sheets["About"]
        about_sheet.loc[len(about_sheet)] = ["Figures", f"suppressed: the selection has fewer than {k} patients"]
    else:
        sheets.update(_sheets(derived, settings, start, end, history, baseline))
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, table in sheets.items():
            safe = neutralise_formulas(_cellable(table.reset_index(drop=True)))
            safe.to_excel(writer, sheet_name=name, index=False)
            sheet = writer.sheets[name]
            sheet.freeze_panes = "A2"
            for i, column in enumerate(safe.columns, start=1):
                width = max([len(str(column))] + [len(str(v)) for v in safe[column].head(200)])
                sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = min(max(width + 2, 8), 60)
    return buffer.getvalue()
