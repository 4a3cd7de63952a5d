"""Reports to share: one self-contained HTML file of the current selection, and an Excel workbook of its tables.

Why: clinic leads take the figures to a meeting, by e-mail or on a USB stick, often on machines without the
app or even a network. So the HTML file carries everything it needs (plotly.js is inlined once; no request is
made when it is opened) and the workbook holds the tables behind the charts.

Both apply the product's rules for sharing:
* small-number suppression (analytics.suppression, k = settings.min_group_patients): every group table shows
  "suppressed" for a group with fewer than k patients, and the complementary group so a small one cannot be
  worked out; charts leave such groups out and say so. A selection with fewer than k patients in all shows no
  figures at all, only that they are suppressed;
* no identifying values: patient codes appear nowhere in the HTML (only the count of flagged patients); the
  workbook lists the flagged patients by their pseudonymous codes, for the care team's review;
* every text cell of the workbook that begins with = + - @ (or a tab or carriage return) is neutralised with a
  leading quote (analytics.export.neutralise_formulas), so no cell can run as a formula; every text in the
  HTML is escaped, and the charts' data cannot close their script element.

Input: a session table in canonical columns (as load_sessions or store.read_sessions give it, already filtered
to what the report should show), or the same table after analytics.sessions.derive_sessions.
"""
from __future__ import annotations

import html
import io
import json
import math
from datetime import datetime

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from analytics.breakdowns import breakdown
from analytics.effect_over_time import effect_markers, effect_over_time
from analytics.export import neutralise_formulas
from analytics.flags import flag_patients
from analytics.funnel import funnel
from analytics.kaplan_meier import km_curves_by_group
from analytics.kpis import kpi_tiles
from analytics.safety import SUPPRESSION_OPTIONS, adverse_event_rates
from analytics.sessions import DERIVED_COLUMNS, derive_sessions, resolve_as_of
from analytics.settings import DEFAULT_SETTINGS, Settings
from analytics.spc import p_chart
from analytics.suppression import SUPPRESSED, for_display, suppress_small_groups
from analytics.waning import waning_by_cycle

TITLE = "Botulinum toxin outcomes"
BREAKDOWN_DIMENSIONS = (("product", "Product"), ("indication", "Indication"), ("site", "Site"),
                        ("practitioner_id", "Practitioner"), ("dose_band", "Dose band"), ("cycle", "Cycle"))
BREAKDOWN_COLUMNS = {  # column -> heading, kind of value
    "group": ("Group", "text"), "patients": ("Patients", "count"), "sessions": ("Sessions", "count"),
    "sessions_with_response": ("With a response", "count"), "responders": ("Responders", "count"),
    "responder_rate": ("Responder rate", "proportion"), "responder_ci_low": ("95% CI from", "proportion"),
    "responder_ci_high": ("95% CI to", "proportion"), "mean_response_pct": ("Mean response", "percent"),
    "median_onset_days": ("Median onset (days)", "number"),
    "median_duration_days": ("Median benefit (days, KM)", "number"),
    "short_interval_share": ("Short intervals", "proportion"), "ae_rate": ("Adverse events", "proportion"),
}
CHARTS = (  # element id, heading
    ("chart-kpi-effect", "After an injection: onset and how long the benefit lasts"),
    ("chart-km", "Benefit duration (Kaplan-Meier)"),
    ("chart-waning", "Across cycles: is the response fading?"),
    ("chart-pchart", "Responder rate month by month (SPC p-chart)"),
    ("chart-funnel", "Practitioners: funnel plot of the responder rate"),
)


# ---- shared preparation --------------------------------------------------------------------------------------
def _derived(sessions: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    if all(c in sessions.columns for c in DERIVED_COLUMNS):
        return sessions
    return derive_sessions(sessions, settings)


def _as_of(sessions: pd.DataFrame, settings: Settings) -> str:
    if len(sessions) == 0:
        return "no sessions"
    as_of = resolve_as_of(sessions, settings)
    return "no sessions" if pd.isna(as_of) else as_of.date().isoformat()


def _too_few(derived: pd.DataFrame, settings: Settings) -> bool:
    """The whole selection has fewer patients than the suppression threshold."""
    return derived["patient_id"].nunique() < settings.min_group_patients if len(derived) else True


def _flags(derived: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    return flag_patients(derived, settings)


def _kpis(derived: pd.DataFrame, settings: Settings, start, end, flags: pd.DataFrame) -> pd.DataFrame:
    """The KPI tiles with small periods suppressed: a period (this one or the one before) with fewer than k
    patients shows no figures. Suppressed cells are NA; attrs["suppressed"] names the periods."""
    tiles = kpi_tiles(derived, settings, start=start, end=end, flags=flags)
    k = settings.min_group_patients
    patients = tiles.set_index("kpi")
    hidden = []
    if patients.loc["patients", "value"] < k:
        tiles[["value", "ci_low", "ci_high", "change"]] = np.nan
        hidden.append("period")
    previous = patients.loc["patients", "previous"]
    if 0 < previous < k:
        tiles[["previous", "change"]] = np.nan
        hidden.append("previous period")
    tiles.attrs["suppressed"] = hidden
    return tiles


def _pchart_shown(derived: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, int]:
    """The monthly p-chart with months of fewer than k patients (and their complement) left out; how many."""
    chart = p_chart(derived, settings)
    if len(chart) == 0:
        return chart, 0
    month = pd.to_datetime(derived["session_date"]).dt.to_period("M").dt.to_timestamp()
    has_response = derived["has_response"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    patients = derived.loc[has_response, "patient_id"].groupby(month[has_response]).nunique()
    counted = chart.assign(patients=pd.to_datetime(chart["month"]).map(patients).fillna(0).astype("int64"))
    marked = suppress_small_groups(counted[["month", "patients"]], settings, group_cols=["month"])
    keep = ~marked["suppressed"].to_numpy(dtype=bool)
    shown = chart.loc[keep].reset_index(drop=True)
    shown.attrs = dict(chart.attrs)
    return shown, int((~keep).sum())


def _breakdowns(derived: pd.DataFrame, settings: Settings) -> list[tuple[str, str, pd.DataFrame]]:
    """(dimension, label, suppressed table) for every breakdown dimension present in the data."""
    out = []
    for by, label in BREAKDOWN_DIMENSIONS:
        if by not in ("dose_band", "cycle") and (by not in derived.columns or derived[by].isna().all()):
            continue
        table = breakdown(derived, by, settings, km=True)
        out.append((by, label, suppress_small_groups(table, settings)))
    return out


# ---- HTML --------------------------------------------------------------------------------------------------
def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _fmt(value, kind: str) -> str:
    if isinstance(value, str):
        return value
    if _missing(value):
        return "-"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "proportion":
        return f"{100 * float(value):.1f}%"
    if kind == "percent":
        return f"{float(value):.1f}%"
    if kind == "number":
        return f"{float(value):,.1f}".removesuffix(".0")
    return str(value)


def _kpi_value(value, unit: str) -> str:
    if _missing(value):
        return "-"
    if unit == "proportion":
        return f"{100 * value:.1f}%"
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "days":
        return f"{value:,.1f}".removesuffix(".0") + " days"
    return f"{value:,.0f}"


def _kpi_change(change, unit: str) -> str:
    if _missing(change):
        return "no figure to compare"
    if unit == "proportion":
        return f"{100 * change:+.1f} points"
    if unit == "%":
        return f"{change:+.1f} points"
    if unit == "days":
        return f"{change:+,.1f} days".replace(".0 ", " ")
    return f"{change:+,.0f}"


def _tiles_html(tiles: pd.DataFrame, k: int) -> str:
    hidden = tiles.attrs.get("suppressed", [])
    cells = []
    for row in tiles.itertuples(index=False):
        ci = ""
        if not _missing(row.ci_low) and not _missing(row.ci_high):
            ci = f"95% CI {_kpi_value(row.ci_low, row.unit)} to {_kpi_value(row.ci_high, row.unit)}"
        if "period" in hidden:
            value, detail = SUPPRESSED, f"fewer than {k} patients in the period"
        else:
            before = (f"{SUPPRESSED} (fewer than {k} patients)" if "previous period" in hidden
                      else _kpi_change(row.change if row.previous_n else None, row.unit))
            value, detail = _kpi_value(row.value, row.unit), f"n = {int(row.n):,}; against the period before: {before}"
        cells.append(
            f'<div class="tile"><div class="label">{_esc(row.label)}</div>'
            f'<div class="value">{_esc(value)}</div>'
            f'<div class="detail">{_esc(ci)}</div>'
            f'<div class="detail">{_esc(detail)}</div></div>')
    period = tiles.attrs.get("period", {})
    caption = (f"Period {period.get('start')} to {period.get('end')} ({period.get('days')} days), against the "
               f"{period.get('days')} days before it ({period.get('previous_start')} to "
               f"{period.get('previous_end')}).") if period else ""
    return f'<div class="tiles">{"".join(cells)}</div><p class="note">{_esc(caption)}</p>'


def _table_html(table: pd.DataFrame, columns: dict, caption: str = "") -> str:
    present = [c for c in columns if c in table.columns]
    head = "".join(f"<th>{_esc(columns[c][0])}</th>" for c in present)
    rows = []
    for record in table[present].to_dict(orient="records"):
        cells = []
        for column in present:
            value = record[column]
            text = _fmt(value, columns[column][1])
            css = ' class="suppressed"' if value == SUPPRESSED else (
                ' class="num"' if columns[column][1] != "text" else "")
            cells.append(f"<td{css}>{_esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return f'<table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _settings_html(settings: Settings, as_of: str) -> str:
    words = {
        "responder_threshold_pct": "Responder: pain reduction of at least (%)",
        "substantial_threshold_pct": "Substantial response: pain reduction of at least (%)",
        "twstrs_responder_drop": "TWSTRS responder: drop of at least (points)",
        "short_interval_days": "Short interval: fewer than (days)",
        "booster_days": "Booster: fewer than (days)",
        "onset_within_days": "Onset counted within (days)",
        "peak_within_days": "Peak counted within (days)",
        "waning_last_n": "Diminished response: last N sessions",
        "waning_fraction_pct": "Diminished response: below this % of the best",
        "dose_raise_pct": "Dose raised: by at least (%)",
        "muscle_keep_fraction": "Muscle change: fewer than this share of muscles kept",
        "duration_shortened_pct": "Duration shortened: by at least (%)",
        "min_group_patients": "Small-number suppression: groups with fewer patients than",
        "landmark_days": "Share still benefiting at (days)",
        "as_of": "As-of date",
    }
    values = settings.to_dict()
    values["as_of"] = values["as_of"] or f"{as_of} (the latest session date)"
    rows = "".join(f"<tr><th>{_esc(words.get(k, k))}</th><td>{_esc(v if not isinstance(v, list) else ', '.join(map(str, v)))}</td></tr>"
                   for k, v in values.items())
    return f'<table class="settings"><tbody>{rows}</tbody></table>'


def _figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside a <script> element."""
    return fig.to_json().replace("</", "<\\/").replace("<!--", "<\\!--")


def _figures(derived: pd.DataFrame, settings: Settings) -> tuple[dict[str, go.Figure], dict[str, str]]:
    """Every chart of the report, built by charts/ (the app's own builders), and a note per chart."""
    from charts.effect import effect_over_time_figure
    from charts.funnel import funnel_figure
    from charts.spc import p_chart_figure
    from charts.survival import km_figure
    from charts.waning import waning_figure

    k = settings.min_group_patients
    notes: dict[str, str] = {}
    figures: dict[str, go.Figure] = {}
    figures["chart-kpi-effect"] = effect_over_time_figure(effect_over_time(derived, settings),
                                                          effect_markers(derived, settings), settings)
    figures["chart-km"] = km_figure(km_curves_by_group(derived), None, settings)
    by_cycle = suppress_small_groups(waning_by_cycle(derived, settings), settings, patients_col="n_patients",
                                     group_cols=["cycle"])
    figures["chart-waning"] = waning_figure(by_cycle, settings)
    hidden = int(by_cycle["suppressed"].sum()) if len(by_cycle) else 0
    if hidden:
        notes["chart-waning"] = f"{hidden} cycle(s) not shown: fewer than {k} patients, or hidden so a small one " \
                                "cannot be worked out."
    chart, hidden = _pchart_shown(derived, settings)
    figures["chart-pchart"] = p_chart_figure(chart, settings)
    if hidden:
        notes["chart-pchart"] = f"{hidden} month(s) not shown: fewer than {k} patients with a response, or " \
                                "hidden so a small one cannot be worked out."
    result = funnel(derived, "practitioner_id")
    groups = suppress_small_groups(result["groups"], settings)
    visible = groups.loc[~groups["suppressed"].astype(bool)]
    shown = dict(result, groups=groups,
                 outliers=result["outliers"].loc[result["outliers"]["group"].isin(visible["group"])])
    figures["chart-funnel"] = funnel_figure(shown, "Practitioner", settings)
    hidden = int(groups["suppressed"].sum())
    if hidden:
        notes["chart-funnel"] = f"{hidden} practitioner(s) not shown: fewer than {k} patients, or hidden so a " \
                                "small one cannot be worked out."
    return figures, notes


_CSS = """
body{font-family:"Source Sans Pro",Arial,Helvetica,sans-serif;color:#262730;margin:0 auto;max-width:1180px;
padding:24px 32px;line-height:1.4}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}.meta{color:#555;margin:2px 0}.note{color:#555;font-size:13px}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px}
.tile{border:1px solid #ddd;border-radius:6px;padding:10px 12px}.tile .label{font-size:13px;color:#555}
.tile .value{font-size:24px;font-weight:600;margin:2px 0}.tile .detail{font-size:12px;color:#666}
.chart{width:100%;min-height:380px}figure{margin:0 0 18px}figcaption{font-size:13px;color:#555}
table{border-collapse:collapse;font-size:13px;margin:6px 0 16px}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}td.num{text-align:right}
td.suppressed{color:#888;font-style:italic;text-align:center}table.settings th{font-weight:normal;color:#444}
.banner{background:#fff4e5;border:1px solid #f0c36d;padding:10px 14px;border-radius:6px}
@media print{.chart{page-break-inside:avoid}}
"""


def html_report(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, filters_description: str = "",
                source_name: str = "", *, start=None, end=None) -> str:
    """A self-contained HTML report of the selection: KPI tiles, the main charts, breakdown tables, the settings
    in force and the as-of date, with small numbers suppressed and no patient codes.

    sessions: the selection (canonical columns, or already derived). filters_description: the filters in words,
    shown in the header. source_name: where the data came from (a file, or the outcome store).
    start / end: the KPI period (default: the whole selection up to the as-of date).
    """
    derived = _derived(sessions, settings)
    as_of = _as_of(sessions, settings)
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    k = settings.min_group_patients
    header = [f"<h1>{_esc(TITLE)}</h1>",
              f'<p class="meta">Source: {_esc(source_name or "not named")}. As of {_esc(as_of)}. '
              f"Generated {_esc(generated)}.</p>",
              f'<p class="meta">Filters: {_esc(filters_description or "none (all sessions)")}.</p>']
    body: list[str] = []
    scripts: list[str] = []
    if _too_few(derived, settings):
        what = "no sessions" if len(derived) == 0 else f"fewer than {k} patients, so its figures are suppressed " \
                                                       "to protect them"
        body.append(f'<p class="banner">This selection has {_esc(what)}. Widen the period or the filters.</p>')
    else:
        tiles = _kpis(derived, settings, start, end, _flags(derived, settings))
        body.append('<section id="kpis"><h2>Headline figures</h2>' + _tiles_html(tiles, k) + "</section>")
        figures, notes = _figures(derived, settings)
        body.append('<section id="charts"><h2>Charts</h2>')
        for element, heading in CHARTS:
            fig = figures[element]
            body.append(f'<figure aria-label="{_esc(heading)}"><div class="chart" id="{element}"></div>'
                        + (f"<figcaption>{_esc(notes[element])}</figcaption>" if element in notes else "")
                        + "</figure>")
            scripts.append(f'Plotly.newPlot("{element}", FIG["{element}"].data, FIG["{element}"].layout, CONFIG);')
        body.append("</section>")
        body.append('<section id="breakdowns"><h2>Breakdowns</h2><p class="note">Every rate with the counts it '
                    f"rests on. Groups with fewer than {k} patients show \"suppressed\", and so does the next "
                    "smallest when only one would be hidden, so that it cannot be worked out from the total.</p>")
        for _by, label, table in _breakdowns(derived, settings):
            shown = for_display(table, ["group_by", "group"])
            body.append(_table_html(shown, BREAKDOWN_COLUMNS, f"By {label.lower()}"))
        body.append("</section>")
        figure_data = ",".join(f'"{e}":{_figure_json(f)}' for e, f in figures.items())
        scripts.insert(0, f"var FIG={{{figure_data}}};"
                          'var CONFIG={"displaylogo":false,"responsive":true,'
                          '"modeBarButtonsToRemove":["lasso2d","select2d"]};')
    body.append('<section id="settings"><h2>Settings in force</h2>' + _settings_html(settings, as_of) + "</section>")
    body.append('<footer><p class="note">Definitions: docs/metrics.md. Benefit duration is a Kaplan-Meier estimate '
                "(benefit still going at the next injection counts as 'at least this long'). The diminished-response "
                "flag is a prompt to review, never a diagnosis. This report holds no patient identifiers.</p>"
                "</footer>")
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(TITLE)}: {_esc(source_name or 'report')}, as of {_esc(as_of)}</title>"
            f"<style>{_CSS}</style>\n<script>{plotly_js}</script>\n</head><body>\n"
            + "\n".join(header + body)
            + ("\n<script>" + "\n".join(scripts) + "</script>" if scripts else "")
            + "\n</body></html>\n")


# ---- Excel -------------------------------------------------------------------------------------------------
def _cellable(table: pd.DataFrame) -> pd.DataFrame:
    """Values openpyxl can write: lists and dicts as text, NA as blank, no time zones."""
    out = table.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object:
            out[column] = values.map(lambda v: "; ".join(map(str, v)) if isinstance(v, (list, tuple, set, np.ndarray))
                                     else (json.dumps(v) if isinstance(v, dict) else v))
        elif isinstance(values.dtype, pd.DatetimeTZDtype):
            out[column] = values.dt.tz_localize(None)
    return out


def _kpi_sheet(tiles: pd.DataFrame) -> pd.DataFrame:
    """The tiles as a table; the figures of a suppressed period read "suppressed"."""
    table = tiles[["label", "value", "ci_low", "ci_high", "n", "previous", "previous_n", "change", "unit"]].copy()
    hidden = tiles.attrs.get("suppressed", [])
    columns = (["value", "ci_low", "ci_high", "n", "change"] if "period" in hidden else []) + (
        ["previous", "previous_n", "change"] if "previous period" in hidden else [])
    for column in dict.fromkeys(columns):
        table[column] = SUPPRESSED
    period = tiles.attrs.get("period", {})
    table.insert(1, "period", f"{period.get('start')} to {period.get('end')}")
    table.insert(2, "previous_period", f"{period.get('previous_start')} to {period.get('previous_end')}")
    return table.rename(columns={"label": "figure"})


def excel_report(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, filters_description: str = "",
                 source_name: str = "", *, start=None, end=None) -> bytes:
    """An .xlsx workbook of the report's tables: About (settings, as-of, filters), KPIs, Breakdowns, By cycle,
    Monthly, Funnel, Safety and Flags (flagged patients by their pseudonymous codes, for the care team).

    Small groups show "suppressed"; every text cell beginning with = + - @ is neutralised.
    """
    derived = _derived(sessions, settings)
    as_of = _as_of(sessions, settings)
    k = settings.min_group_patients
    about = [("Report", TITLE), ("Source", source_name or "not named"), ("As of", as_of),
             ("Filters", filters_description or "none (all sessions)"),
             ("Generated", datetime.now().strftime("%Y-%m-%d %H:%M")),
             ("Small-number suppression", f"groups with fewer than {k} patients show '{SUPPRESSED}', and the next "
                                          "smallest group when only one would be hidden"),
             ("Flags sheet", "patients flagged for review, by pseudonymous code: for the care team only")]
    about += [(f"Setting: {key}", ", ".join(map(str, value)) if isinstance(value, list) else
               ("" if value is None else value)) for key, value in settings.to_dict().items()]
    sheets: dict[str, pd.DataFrame] = {"About": pd.DataFrame(about, columns=["item", "value"])}
    if _too_few(derived, settings):
        sheets["About"].loc[len(sheets["About"])] = [
            "Figures", f"suppressed: the selection has fewer than {k} patients"]
    else:
        flags = _flags(derived, settings)
        sheets["KPIs"] = _kpi_sheet(_kpis(derived, settings, start, end, flags))
        tables = [t for _, _, t in _breakdowns(derived, settings)]
        sheets["Breakdowns"] = for_display(pd.concat(tables, ignore_index=True), ["group_by", "group"])
        by_cycle = suppress_small_groups(waning_by_cycle(derived, settings), settings, patients_col="n_patients",
                                         group_cols=["cycle"])
        sheets["By cycle"] = for_display(by_cycle, ["cycle"])
        chart, _ = _pchart_shown(derived, settings)
        sheets["Monthly"] = chart.drop(columns=[c for c in ("relative_to_centre", "sigma") if c in chart.columns])
        groups = suppress_small_groups(funnel(derived, "practitioner_id")["groups"], settings)
        sheets["Funnel"] = for_display(groups, ["group_by", "group"])
        rates = pd.concat([adverse_event_rates(derived, None), adverse_event_rates(derived, "product")],
                          ignore_index=True)
        sheets["Safety"] = for_display(suppress_small_groups(rates, settings, **SUPPRESSION_OPTIONS),
                                       ["group_by", "group", "event"])
        sheets["Flags"] = flags
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
