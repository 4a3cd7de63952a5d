"""The shared report as one self-contained HTML file: KPI tiles, the main charts, breakdown tables, the settings in
force and the as-of date.

Why: clinic leads take the figures to a meeting, by e-mail or on a USB stick, often on machines without the app or
even a network. So the file carries everything it needs (plotly.js is inlined once; no request is made when it is
opened). It follows the display rules of analytics.presentation, as the app does: small groups suppressed (and
their complement), a selection with fewer than k patients shows no figures at all, patient codes appear nowhere
(only the count of flagged patients). Every text is escaped: the page's own with html.escape, the charts' (names
in hover labels, legends, tick labels, text on points) by the builders with charts.safe_text, so a practitioner
named `<a href=...>` is drawn as that text; and the charts' data cannot close their script element.
"""
from __future__ import annotations

import html
from datetime import datetime

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from analytics.effect_over_time import effect_markers, effect_over_time
from analytics.funnel import funnel
from analytics.kaplan_meier import km_curves_by_group
from analytics.labels import groups_in_words
from analytics.kpis import change_tone
from analytics.presentation import (
    BREAKDOWN_REPORT, GROUP_HEADINGS, PERIOD_HIDDEN, PREVIOUS_HIDDEN, display_table, format_cell, format_change,
    followup_note, format_figure, funnel_shown, hidden_note, kpi_tiles_shown, kpi_value, report_family, settings_rows,
    too_few_message,
)
from analytics.settings import DEFAULT_SETTINGS, Settings
from analytics.spc import limits_sentence
from analytics.suppression import SUPPRESSED
from charts.effect import effect_over_time_figure
from charts.funnel import funnel_figure
from charts.spc import p_chart_figure
from charts.survival import km_figure
from charts.waning import waning_figure
from reports.common import TITLE, as_of_text, derived_of, due_days_of, flags_of, pchart_of, tile_sessions

CHARTS = (  # element id, heading
    ("chart-kpi-effect", "After an injection: onset and how long the benefit lasts"),
    ("chart-km", "Benefit duration (Kaplan-Meier)"),
    ("chart-waning", "Across cycles: is the response fading?"),
    ("chart-pchart", "Responder rate month by month (SPC p-chart)"),
    ("chart-funnel", "Practitioners: funnel plot of the responder rate"),
)


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _tiles_html(tiles: pd.DataFrame, k: int) -> str:
    """The KPI tiles, the change against the period before coloured only when it is clear (the app's rule,
    analytics.kpis.clear_change: green better, red worse, with the word), grey 'no clear change' otherwise and for
    counts."""
    tone_style = {"better": "color:#1a7f37;font-weight:600", "worse": "color:#b42318;font-weight:600",
                  "neutral": "color:#666"}
    hidden = tiles.attrs.get("suppressed", [])
    cells = []
    for row in tiles.to_dict(orient="records"):
        ci, tone = "", "neutral"
        too_few = bool(row.get("ci_too_few", False)) and not pd.isna(row["value"])
        clear = row.get("clear_change", pd.NA)
        if PERIOD_HIDDEN in hidden:
            cells.append(f'<div class="tile"><div class="label">{_esc(row["label"])}</div>'
                         f'<div class="value">{_esc(SUPPRESSED)}</div><div class="detail"></div>'
                         f'<div class="detail">{_esc(f"fewer than {k} patients in the period")}</div></div>')
            continue
        if too_few:
            ci = "too few to give a range"
        elif not pd.isna(row["ci_low"]):
            high = "not reached" if pd.isna(row["ci_high"]) else format_figure(row["ci_high"], row["unit"], 1)
            ci = f"95% CI {format_figure(row['ci_low'], row['unit'], 1)} to {high}"
        change = format_change(row["change"] if row["previous_n"] else None, row["unit"], clear)
        if PREVIOUS_HIDDEN in hidden:
            change_text = f"{SUPPRESSED} (fewer than {k} patients)"
        elif change is None:
            change_text = "no figure to compare"
        else:
            tone = change_tone(row["kpi"], row["change"], clear)
            change_text = change + ("" if tone == "neutral" else f", a clear change ({tone})")
        value = kpi_value(row["kpi"], row["value"], row["unit"], decimals=1, at_least=row.get("at_least"))
        detail = f"n = {int(row['n']):,}"
        note = followup_note(row["kpi"], tiles.attrs.get("followup"))
        detail += f"; {note}" if note else ""
        shown = _esc(change_text) if tone == "neutral" else \
            f'<span class="change {tone}" style="{tone_style[tone]}">{_esc(change_text)}</span>'
        if tone == "neutral" and change is not None and PREVIOUS_HIDDEN not in hidden:
            shown = f'<span class="change neutral" style="{tone_style[tone]}">{shown}</span>'  # grey
        cells.append(
            f'<div class="tile"><div class="label">{_esc(row["label"])}</div>'
            f'<div class="value">{_esc(value)}</div>'
            f'<div class="detail">{_esc(ci)}</div>'
            f'<div class="detail">{_esc(detail)}; against the period before: {shown}</div></div>')
    period = tiles.attrs.get("period", {})
    caption = (f"Period {period.get('start')} to {period.get('end')} ({period.get('days')} days), against the "
               f"{period.get('days')} days before it ({period.get('previous_start')} to "
               f"{period.get('previous_end')}).") if period else ""
    if period.get("previous_before_data"):
        caption = (f"Period {period.get('start')} to {period.get('end')} ({period.get('days')} days). The data begin "
                   "with this period: there is nothing earlier to compare with.")
    return f'<div class="tiles">{"".join(cells)}</div><p class="note">{_esc(caption)}</p>'


def _table_html(table: pd.DataFrame, columns, caption: str = "") -> str:
    present = [c for c in columns if c in table.columns]
    head = "".join(f"<th>{_esc(GROUP_HEADINGS[c][0])}</th>" for c in present)
    rows = []
    for record in table[present].to_dict(orient="records"):
        cells = []
        for column in present:
            value, kind = record[column], GROUP_HEADINGS[column][1]
            css = ' class="suppressed"' if value == SUPPRESSED else (' class="num"' if kind != "text" else "")
            cells.append(f"<td{css}>{_esc(format_cell(value, kind, blank='-'))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return f'<table>{cap}<thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _settings_html(settings: Settings, as_of: str) -> str:
    rows = "".join(f"<tr><th>{_esc(words)}</th><td>{_esc(value)}</td></tr>"
                   for words, value in settings_rows(settings, as_of))
    return f'<table class="settings"><tbody>{rows}</tbody></table>'


def _figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside a <script> element."""
    return fig.to_json().replace("</", "<\\/").replace("<!--", "<\\!--")


def _figures(derived: pd.DataFrame, settings: Settings, family: dict, pchart: tuple[pd.DataFrame, int]
             ) -> tuple[dict[str, go.Figure], dict[str, str]]:
    """Every chart of the report, built by charts/ (the app's own builders), and a note per chart. family: the
    report's tables suppressed together (analytics.presentation.report_family); pchart: reports.common.pchart_of."""
    figures = {
        "chart-kpi-effect": effect_over_time_figure(effect_over_time(derived, settings),
                                                    effect_markers(derived, settings), settings),
        "chart-km": km_figure(km_curves_by_group(derived), None, settings),
    }
    by_cycle = family["by_cycle"]
    figures["chart-waning"] = waning_figure(by_cycle, settings)
    chart, hidden_months = pchart
    figures["chart-pchart"] = p_chart_figure(chart, settings)
    shown = funnel_shown(funnel(derived, "practitioner_id"), settings, family["funnel_practitioner_id"])
    figures["chart-funnel"] = funnel_figure(shown, "Practitioner", settings)
    notes = {
        "chart-waning": hidden_note(int(by_cycle["suppressed"].sum()) if len(by_cycle) else 0, "cycle", settings),
        "chart-pchart": " ".join(filter(None, [limits_sentence(chart) if len(chart) else "", hidden_note(
            hidden_months, "month", settings, "patients with a response")])),
        "chart-funnel": " ".join(filter(None, (shown["caption"], hidden_note(
            int(shown["groups"]["suppressed"].sum()), "practitioner", settings)))),
    }
    return figures, {element: note for element, note in notes.items() if note}


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
thead th::first-letter{text-transform:uppercase}
td.suppressed{color:#888;font-style:italic;text-align:center}table.settings th{font-weight:normal;color:#444}
.banner{background:#fff4e5;border:1px solid #f0c36d;padding:10px 14px;border-radius:6px}
@media print{.chart{page-break-inside:avoid}}
"""


def html_report(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, filters_description: str = "",
                source_name: str = "", *, start=None, end=None, history: pd.DataFrame | None = None,
                baseline: pd.DataFrame | None = None) -> str:
    """A self-contained HTML report of the selection: KPI tiles, the main charts, breakdown tables, the settings
    in force and the as-of date, with small numbers suppressed and no patient codes.

    sessions: the selection (canonical columns, or already derived). filters_description: the filters in words,
    shown in the header. source_name: where the data came from (a file, or the outcome store).
    start / end: the KPI period (default: the whole selection up to the as-of date). history: every session of
    the patients (derived or not) when `sessions` is a selection, so flags are judged on whole histories.
    baseline: the sessions of the same filters at every date, so the p-chart shows its 24 baseline months before
    the period (default: the selection only).
    """
    derived = derived_of(sessions, settings)
    as_of = as_of_text(sessions, settings)
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    k = settings.min_group_patients
    header = [f"<h1>{_esc(TITLE)}</h1>",
              f'<p class="meta">Source: {_esc(source_name or "not named")}. As of {_esc(as_of)}. '
              f"Generated {_esc(generated)}.</p>",
              f'<p class="meta">Filters: {_esc(filters_description or "none (all sessions)")}.</p>']
    body: list[str] = []
    scripts: list[str] = []
    too_few = too_few_message(derived, settings)
    if too_few:
        body.append(f'<p class="banner">{_esc(too_few)}</p>')
    else:
        tiles = kpi_tiles_shown(tile_sessions(derived, settings, baseline), settings, start, end,
                                flags_of(derived, settings, history),
                                due_days=due_days_of(derived, settings, history))
        body.append('<section id="kpis"><h2>Headline figures</h2>' + _tiles_html(tiles, k) + "</section>")
        family = report_family(derived, settings)
        figures, notes = _figures(derived, settings, family, pchart_of(derived, settings, start, end, baseline,
                                                                          history))
        body.append('<section id="charts"><h2>Charts</h2>')
        for element, heading in CHARTS:
            body.append(f'<figure aria-label="{_esc(heading)}"><div class="chart" id="{element}"></div>'
                        + (f"<figcaption>{_esc(notes[element])}</figcaption>" if element in notes else "")
                        + "</figure>")
            scripts.append(f'Plotly.newPlot("{element}", FIG["{element}"].data, FIG["{element}"].layout, CONFIG);')
        body.append("</section>")
        body.append('<section id="breakdowns"><h2>Breakdowns</h2><p class="note">Every rate with the counts it '
                    f"rests on. Groups with fewer than {k} patients show \"suppressed\", and so do the groups "
                    "hidden so that no small one can be worked out from the total or from another table of this "
                    "report.</p>")
        for by, label, table in family["breakdowns"]:
            shown = display_table(groups_in_words(table, by), ["group_by", "group"])
            body.append(_table_html(shown, BREAKDOWN_REPORT, f"By {label.lower()}"))
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
