"""One patient's own summary page (issue 16): a single self-contained HTML page written for the patient.

Why: the practitioner hands it over at the visit to set expectations from the patient's own history. Plain
words, large type, one small inline SVG chart (no script, nothing fetched: the page works offline and prints the
same), print CSS that fits one A4 or Letter page, and a layout that reads on a phone. It shows only the figures
of analytics.patient_summary: nothing of any other patient (the "patients like you" figures are the clinic's
medians over at least min_group_patients patients), no practitioner or site, and the pseudonymous code only when
`show_code` is asked for (to file the printout). Every text is escaped with html.escape.
"""
from __future__ import annotations

import html
import math
from datetime import date

import numpy as np
import pandas as pd

from analytics.patient_summary import MIN_GAP_DAYS

TITLE = "Your treatment summary"

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; font-size: 19px;
       line-height: 1.45; color: #1a1a1a; background: #fff; }
main { max-width: 760px; margin: 0 auto; padding: 20px 18px 28px; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 20px 0 6px; border-bottom: 2px solid #d7dde4; padding-bottom: 2px; }
p { margin: 4px 0; }
.sub { color: #444; }
.code { font-weight: 600; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { flex: 1 1 180px; border: 2px solid #d7dde4; border-radius: 10px; padding: 8px 12px; }
.card .what { font-size: 0.95em; color: #333; }
.card .value { font-size: 1.45em; font-weight: 700; }
.card .basis { font-size: 0.8em; color: #444; }
.window { font-size: 1.2em; font-weight: 700; }
ul { margin: 4px 0; padding-left: 1.2em; }
li { margin: 2px 0; }
svg { width: 100%; height: auto; max-height: 230px; display: block; }
.note { font-size: 0.8em; color: #444; margin-top: 14px; }
@page { margin: 10mm 12mm; }
@media print {
  body { font-size: 12pt; line-height: 1.22; }
  main { max-width: none; padding: 0; }
  h1 { font-size: 1.45em; }
  h2 { font-size: 1.08em; margin: 7px 0 2px; padding-bottom: 1px; }
  p { margin: 2px 0; }
  li { margin: 0; }
  .cards { gap: 8px; }
  .card { padding: 3px 10px; break-inside: avoid; }
  .card .value { font-size: 1.15em; }
  .window { font-size: 1.1em; }
  svg { max-height: 31mm; }
  .note { margin-top: 8px; }
  section { break-inside: avoid; }
}
"""


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def date_words(day) -> str:
    """A date as '3 March 2025' (no leading zero, month in words)."""
    day = pd.Timestamp(day).date() if not isinstance(day, date) else day
    return f"{day.day} {day:%B %Y}"


def _round(value: float) -> int:
    return int(math.floor(value + 0.5))


def days_words(days: float) -> str:
    """A number of days as the page says it: 'about 3 days' under two weeks, else 'about 16 weeks'."""
    if days < 14:
        n = max(_round(days), 0)
        return f"about {n} day" + ("" if n == 1 else "s")
    return f"about {_round(days / 7.0)} weeks"


def _basis(figure: dict) -> str:
    """Where a figure comes from, in words."""
    if figure["median"] is None:
        return ""
    if figure["basis"] == "own":
        return f"From {figure['n']} of your injections."
    return "From patients like you at this clinic. You do not have enough of your own figures yet."


def _card(what: str, figure: dict, missing: str) -> str:
    value = days_words(figure["median"]) if figure["median"] is not None else missing
    return (f'<div class="card"><div class="what">{_esc(what)}</div><div class="value">{_esc(value)}</div>'
            f'<div class="basis">{_esc(_basis(figure))}</div></div>')


def _benefit_value(benefit: dict) -> tuple[str, str]:
    """The benefit card's value and its basis line."""
    if benefit["median"] is not None:
        return days_words(benefit["median"]), _basis(benefit)
    if benefit["basis"] == "own":
        return "longer than we could measure", (f"From {benefit['n']} of your injections. It was often still "
                                                 "working at your next injection.")
    if benefit["patients"]:  # the clinic's curve never fell to half
        return "longer than we could measure", "From patients like you at this clinic."
    return "not known yet", "There are not enough figures yet."


def chart_svg(points: pd.DataFrame, measure: str) -> str:
    """A small bar chart of the response to each injection (pain: how much the pain went down, in %; TWSTRS:
    points), inline SVG with escaped text; a missing score is marked 'no score'."""
    n = len(points)
    width, height, left, right, top, bottom = max(520, 48 * n + 60), 210, 50, 10, 26, 44
    values = points["response"].to_numpy(dtype="float64")
    if measure == "pain":
        y_max, unit, label = 100.0, "%", "How much your pain went down"
    else:
        finite = values[~np.isnan(values)]
        y_max = max(10.0, float(np.ceil(max(finite.max(), 0) / 10.0) * 10)) if len(finite) else 10.0
        unit, label = "", "How many points your TWSTRS score fell"
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(n, 1)
    bar_w = min(48.0, slot * 0.6)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(label)}, injection by injection" '
             f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, Arial, sans-serif">',
             f'<text x="{left}" y="16" font-size="16" fill="#333">{_esc(label + ", injection by injection")}</text>']
    for tick in (0.0, y_max / 2, y_max):
        y = top + plot_h * (1 - tick / y_max)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d7dde4" />')
        parts.append(f'<text x="{left - 6}" y="{y + 5:.1f}" font-size="14" text-anchor="end" fill="#555">'
                     f'{_esc(f"{tick:g}{unit}")}</text>')
    for i, (injection, day, value) in enumerate(zip(points["injection"], points["date"], values)):
        cx = left + slot * (i + 0.5)
        if np.isnan(value):
            text, h = "no score", 0.0
        else:
            shown = min(max(value, 0.0), y_max)
            h = plot_h * shown / y_max
            text = f"{_round(value)}{unit}" if value >= 0 else "worse"
        y = top + plot_h - h
        if h > 0:
            parts.append(f'<rect x="{cx - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="#2f6db5" rx="3" />')
        size = 12 if np.isnan(value) else 16
        parts.append(f'<text x="{cx:.1f}" y="{y - 5:.1f}" font-size="{size}" text-anchor="middle" fill="#1a1a1a">'
                     f'{_esc(text)}</text>')
        when = pd.Timestamp(day)
        parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 18}" font-size="16" text-anchor="middle" '
                     f'fill="#333">{_esc(int(injection))}</text>')
        parts.append(f'<text x="{cx:.1f}" y="{height - bottom + 36}" font-size="13" text-anchor="middle" '
                     f'fill="#555">{_esc(f"{when:%b %y}")}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _side_effects(events: list[dict]) -> str:
    if not events:
        return "<p>No side effects were noted after your injections.</p>"
    items = []
    for event in events:
        times = "once" if event["times"] == 1 else f"{event['times']} times"
        last = f", last in {pd.Timestamp(event['last_date']):%B %Y}" if event["last_date"] else ""
        text = f"{event['words'][0].upper()}{event['words'][1:]}: {times}{last}."
        items.append(f"<li>{_esc(text)}</li>")
    return "<p>These were noted after your injections:</p><ul>" + "".join(items) + "</ul>"


def window_sentences(summary: dict) -> list[str]:
    """The next-appointment lines: the window, the earliest date and why."""
    last = pd.Timestamp(summary["last_date"]).date()
    start, end = summary["next_window_start"], summary["next_window_end"]
    lines = [f"Between {date_words(start)} and {date_words(end)}."]
    earliest = date_words(last + pd.Timedelta(days=MIN_GAP_DAYS))
    lines.append(f"Your last injection was on {date_words(last)}. The next one should not be before {earliest}, "
                 "which is 12 weeks later.")
    if summary.get("window_passed"):
        lines.append("These dates have passed. Ask the team when your next injection should be.")
    if summary["window_from_median"]:
        lines.append("This is around the time your benefit usually wears off.")
    else:
        lines.append("We cannot yet tell when your benefit usually wears off, so this is the usual 3 to 6 months.")
    lines.append(summary["why_not_sooner"])
    return lines


def patient_summary_html(summary: dict, show_code: bool = False) -> str:
    """The page for one patient (analytics.patient_summary.patient_summary's dict) as a complete HTML document.
    show_code: print the pseudonymous code (for filing); off by default."""
    code = (f'<p class="code">Patient code: {_esc(summary["patient"])}</p>' if show_code else "")
    count = summary["sessions"]
    injections = "1 injection" if count == 1 else f"{count} injections"
    span = (f"on {date_words(summary['first_date'])}" if count == 1 else
            f"from {date_words(summary['first_date'])} to {date_words(summary['last_date'])}")
    benefit_value, benefit_basis = _benefit_value(summary["benefit"])
    window = window_sentences(summary)
    discuss = "".join(f"<li>{_esc(line['text'])}</li>" for line in summary["discuss"])
    unscored = (" " + _esc(f"Your last injection, on {date_words(summary['last_date'])}, has no score yet, so it "
                           "is not counted.") if summary.get("last_unscored") else "")
    chart = (chart_svg(summary["points"], summary["measure"]) if len(summary["points"]) else "")
    body = f"""<main>
<h1>{_esc(TITLE)}</h1>
<p class="sub">{_esc(f"Made from your {injections} at this clinic, {span}.")}</p>
{code}
<section>
<h2>What to expect after an injection</h2>
<div class="cards">
{_card("It starts to work", summary["onset"], "not known yet")}
{_card("It works best", summary["peak"], "not known yet")}
<div class="card"><div class="what">It keeps working for</div><div class="value">{_esc(benefit_value)}</div>
<div class="basis">{_esc(benefit_basis)}</div></div>
</div>
<p>{_esc("Everyone is different, and one injection can differ from the next.")}</p>
</section>
<section>
<h2>How your injections have helped</h2>
<p><strong>{_esc(summary["trend_sentence"])}</strong>{unscored}</p>
{chart}
</section>
<section>
<h2>Your next injection</h2>
<p class="window">{_esc(window[0])}</p>
{"".join(f"<p>{_esc(line)}</p>" for line in window[1:])}
</section>
<section>
<h2>Side effects you have had</h2>
{_side_effects(summary["adverse_events"])}
</section>
<section>
<h2>Things to talk about at your visit</h2>
<ul>{discuss}</ul>
</section>
<section>
<h2>Keep a diary</h2>
<p>{_esc(summary["diary"])}</p>
</section>
<p class="note">{_esc("These figures come from your own records at this clinic. They are a guide, not a promise.")}</p>
</main>"""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_esc(TITLE)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
