"""Markup in the data stays text in a real browser (issue 9, item 6): the HTML report, and a page of every chart
builder, opened in Debian's chromium through Playwright; every point and bar of every figure is hovered.

Practitioner, site, product, muscle, adverse-event and grouping names carry `<a href>`, `<b>`, `<img onerror>`
and a MathJax `\\href`; the source label and the filters too. The document must hold no link, image or bold
run made from them (in the hover layer, legends, axes, annotations and the page), and the names must be
readable as written. Skipped only when Playwright or chromium is missing.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from analytics import breakdowns, funnel, kaplan_meier, safety
from analytics.assessments import timeline
from analytics.ingest import load_assessments, load_sessions
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS, Settings
from charts.assessments import assessment_timeline_figure
from charts.breakdown import breakdown_figure
from charts.funnel import funnel_figure
from charts.patient import patient_timeline_figure
from charts.safety import adverse_events_figure
from charts.survival import km_figure
from reports import CHARTS, html_report
from tests.browser_support import CHROMIUM, LAUNCH_ARGS, offline_page

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
LINK = '<a href="https://evil.example">x</a>'
BOLD = "<b>bold</b>"
IMG = "<img src=x onerror=alert(1)>"
TEX = "$\\href{https://evil.example}{y}$"
AMP = "A&E"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

# Hover every point of every trace that has a hover label, and after each hover look for elements made from
# the data: any <a> or <img> in the page (the modebar's buttons aside), a bold run reading 'bold' (plotly draws
# <b> as a bold tspan), a MathJax container. Returns what the hover labels said and the counts.
HOVER_ALL = """
(ids) => {
  // Plotly.Fx.hover is throttled (one hover per 50 ms of Date.now(), later ones deferred): let the clock run
  // 100 ms per call, so that each hover below is drawn at once and ~2,000 of them take a second, not minutes.
  let clock = Date.now();
  Date.now = () => (clock += 100);
  const texts = new Set();
  const bad = [];
  let hovers = 0;
  const check = (where) => {
    for (const a of document.querySelectorAll('a')) {
      if (!a.closest('.modebar')) bad.push(where + ': <a> ' + a.outerHTML.slice(0, 120));
    }
    for (const img of document.querySelectorAll('img, b, mjx-container, foreignObject')) {
      bad.push(where + ': ' + img.outerHTML.slice(0, 120));
    }
    for (const t of document.querySelectorAll('tspan')) {
      const style = t.getAttribute('style') || '';
      if (t.textContent === 'bold' && style.includes('bold')) bad.push(where + ': bold tspan');
    }
  };
  check('drawn');
  for (const id of ids) {
    const gd = document.getElementById(id);
    gd._fullData.forEach((trace, i) => {
      if (trace.visible !== true || trace.hoverinfo === 'skip') return;
      const subplot = (trace.xaxis || 'x') + (trace.yaxis || 'y');
      for (let j = 0; j < trace._length; j++) {
        Plotly.Fx.hover(gd, [{curveNumber: i, pointNumber: j}], subplot);
        hovers += 1;
        const layer = gd.querySelector('.hoverlayer');
        if (layer && layer.textContent) texts.add(layer.textContent);
        if (layer && layer.querySelector('a, img, b')) bad.push(id + ' hover ' + i + '/' + j);
      }
      check(id + ' trace ' + i);
    });
    Plotly.Fx.unhover(gd);
  }
  const drawn = [];
  for (const el of document.querySelectorAll('.legend, .xtick, .ytick, .infolayer, .annotation, .textpoint, '
                                             + '.bartext, .g-gtitle, .g-xtitle, .g-ytitle')) {
    drawn.push(el.textContent);
  }
  return {hovers: hovers, texts: Array.from(texts), bad: bad, drawn: drawn.join('\\n'),
          page: document.body.innerText, title: document.title};
}
"""


def hostile_sessions():
    data = load_sessions(SAMPLE / "sessions.csv").data.drop(columns="line")
    data["practitioner_id"] = data["practitioner_id"].replace(
        {"PR01": LINK, "PR02": BOLD, "PR03": IMG, "PR04": TEX, "PR05": AMP})
    data["site"] = data["site"].replace({"North": LINK, "Central": BOLD, "South": IMG})
    data["product"] = data["product"].replace({"onabotulinumtoxinA": LINK, "abobotulinumtoxinA": BOLD,
                                               "incobotulinumtoxinA": IMG, "rimabotulinumtoxinB": TEX})
    data["muscles"] = data["muscles"].str.replace("trapezius", BOLD).str.replace("scalenes", IMG)
    data["adverse_events"] = data["adverse_events"].str.replace("headache", IMG).str.replace("dysphagia", BOLD)
    return data


def gallery_figures(data) -> dict:
    """Every builder that draws a user label, from the hostile data."""
    s = Settings(min_group_patients=1)
    derived = derive_sessions(data, s)
    result = funnel.funnel(derived, "site")
    result["groups"] = result["groups"].assign(position="above 99.8%")  # every point named on the chart
    switched = derived.groupby("patient_id")["product"].nunique()
    patient = derived.loc[derived["patient_id"] == switched[switched > 1].index[0]].assign(patient_id=BOLD)
    assessments = load_assessments(SAMPLE / "assessments.csv").data
    bands = sorted(assessments["dose_band"].dropna().unique())
    assessments["dose_band"] = assessments["dose_band"].replace(dict(zip(bands, (LINK, BOLD, IMG))))
    return {
        "g-km": km_figure(kaplan_meier.km_curves_by_group(derived, "site"), None, s, group_label=f"Site {IMG}",
                          summary=kaplan_meier.km_by_group(derived, "site", s)),
        "g-breakdown": breakdown_figure(breakdowns.breakdown(derived, "practitioner_id", s, km=False),
                                        "practitioner_id", settings=s, by_label=f"practitioner {LINK}"),
        "g-funnel": funnel_figure(result, f"Site {BOLD}", s),
        "g-safety": adverse_events_figure({"type": safety.adverse_event_rates(derived, None),
                                           "product": safety.adverse_event_rates(derived, "product")}),
        "g-patient": patient_timeline_figure(patient, s),
        "g-assessments": assessment_timeline_figure(timeline(assessments, "pain", by="dose_band", settings=s),
                                                    "pain", "dose_band", by_label=TEX, settings=s),
    }


def gallery_html(figures: dict) -> str:
    divs = "".join(f'<div id="{k}" style="width:1100px;height:700px"></div>' for k in figures)
    data = ",".join(f'"{k}":' + f.to_json().replace("</", "<\\/") for k, f in figures.items())
    plots = "".join(f'Plotly.newPlot("{k}",FIG["{k}"].data,FIG["{k}"].layout);' for k in figures)
    js = get_plotlyjs().replace("</script", "<\\/script")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>gallery</title><script>{js}</script></head>"
            f"<body>{divs}<script>var FIG={{{data}}};{plots}</script></body></html>")


def hover_everything(path: Path, ids: list[str]) -> dict:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            errors, dialogs, outside = [], [], []
            page = offline_page(browser, outside, errors)
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(path.as_uri())
            page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= {len(ids)}",
                                   timeout=60_000)
            result = page.evaluate(HOVER_ALL, ids)
        finally:
            browser.close()
    result.update(errors=errors, dialogs=dialogs, outside=outside)
    return result


def assert_nothing_made_from_the_data(result: dict) -> str:
    assert result["bad"] == []
    assert result["errors"] == [] and result["dialogs"] == [] and result["outside"] == []
    assert result["hovers"] > 0
    return "\n".join(result["texts"])


def test_the_html_report_shows_markup_in_names_as_text(tmp_path):
    report = html_report(hostile_sessions(), DEFAULT_SETTINGS, f"practitioner {LINK}", f"upload {IMG}")
    path = tmp_path / "report.html"
    path.write_text(report, encoding="utf-8")
    result = hover_everything(path, [element for element, _ in CHARTS])
    hovered = assert_nothing_made_from_the_data(result)
    for name in (LINK, BOLD, IMG, TEX, AMP):  # the funnel's hover names each practitioner as written
        assert name in hovered, name
    assert result["title"].startswith(f"Botulinum toxin outcomes: upload {IMG}, as of ")
    for text in (f"Source: upload {IMG}.", f"Filters: practitioner {LINK}.", f"{LINK}\t", f"{BOLD}\t"):
        assert text in result["page"], text  # header and tables read as written


def test_every_chart_builder_shows_markup_in_names_as_text_in_the_browser(tmp_path):
    figures = gallery_figures(hostile_sessions())
    path = tmp_path / "gallery.html"
    path.write_text(gallery_html(figures), encoding="utf-8")
    result = hover_everything(path, list(figures))
    hovered = assert_nothing_made_from_the_data(result)
    for name in (LINK, BOLD, IMG, TEX):
        assert name in hovered, name
        assert name in result["drawn"], name  # legends, tick labels, titles, text on points
    assert "Patient <b>bold</b>: response" in result["drawn"]
    assert f"by practitioner {LINK}" in result["drawn"] and f"Site {IMG}" in result["drawn"]
    assert AMP not in json.dumps(result["bad"])
