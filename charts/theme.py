"""The look every chart shares: a colour-blind-safe palette, a base layout, labelled reference lines and the
"no data" figure.

Why one module: a clinic lead reading several charts side by side should meet the same colours, fonts and
wording for the same things (thresholds, "no data", special causes), and each builder stays short.
"""
from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics.settings import DEFAULT_SETTINGS, Settings

# Okabe & Ito (2008) "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
#: Series colours in order of use (yellow last: it is faint on white).
PALETTE = [OKABE_ITO[name] for name in
           ("blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "black", "yellow")]
GREY = "#7F7F7F"
LIGHT_GREY = "#D9D9D9"
GRID = "#EBEBEB"
REFERENCE = "#595959"  # threshold and reference lines

# NHS England "Making Data Count": blue improvement, orange concern, grey common cause.
SPC_COLOURS = {
    "special_cause_improvement": "#289DE0",
    "special_cause_concern": "#FAB428",
    "special_cause_neutral_high": "#361475",
    "special_cause_neutral_low": "#361475",
    "common_cause": "#7B7D7D",
}

FONT = dict(family="Source Sans Pro, Arial, Helvetica, sans-serif", size=13, color="#262730")
NO_DATA = "No data to show for this selection."
SUPPRESSED_TEXT = "suppressed (fewer than {k} patients)"
COMPLEMENTARY_TEXT = "suppressed (so a small group cannot be worked out)"


def colour(i: int) -> str:
    """The i-th series colour, cycling through the palette."""
    return PALETTE[i % len(PALETTE)]


def dash(i: int) -> str:
    """Line dash for the i-th series: solid for the first round of colours, then dashed, then dotted."""
    return ("solid", "dash", "dot")[(i // len(PALETTE)) % 3]


def text_colour(hex_colour: str) -> str:
    """The colour for text in that series' colour: yellow darkened so it reads on white."""
    return "#9A8C00" if hex_colour == OKABE_ITO["yellow"] else hex_colour


def rgba(hex_colour: str, alpha: float) -> str:
    """'#0072B2', 0.2 -> 'rgba(0,114,178,0.2)': a see-through fill for confidence bands."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


#: The plot's side margins (px): room for the y axis's ticks and title on the left, a little air on the right.
#: Nothing else sits beside the plot (the legend goes under it), so on a 360 px phone the plot keeps well over
#: 60% of the chart's width (MIN_PLOT_SHARE, checked in tests/test_browser_layout.py).
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_BOTTOM = 64, 24, 48
MIN_PLOT_SHARE = 0.6


def base_layout(fig: go.Figure, title: str, subtitle: str = "", hovermode: str = "closest",
                height: int | None = None, legend_title: str = "") -> go.Figure:
    """White background, light grid, the shared font and margins, a title with a caption-like subtitle, and the
    legend in rows under the plot.

    Why under: plotly lays a figure out for the width it is given, which the server cannot know (390 px on a
    phone, 1,000 on a desk). A legend beside the plot takes its width from the plot (on a phone, all of it) and a
    legend inside covers bars; a horizontal legend under the plot wraps into as many rows as the width needs and
    pushes the plot up instead (plotly's automargin), whatever the screen.
    """
    fig.update_layout(
        template="plotly_white",
        font=FONT,
        title=dict(text=title, x=0.01, xanchor="left", xref="container", y=0.98, yanchor="top",
                   font=dict(size=17), subtitle=dict(text=subtitle, font=dict(size=12, color="#555555"))),
        margin=dict(l=MARGIN_LEFT, r=MARGIN_RIGHT, t=title_space(subtitle), b=MARGIN_BOTTOM),
        paper_bgcolor="white",
        plot_bgcolor="white",
        hovermode=hovermode,
        hoverlabel=dict(bgcolor="white", font_size=12, align="left"),
        separators=".,",
        legend=legend_below(legend_title),
    )
    if height:
        fig.update_layout(height=height)
    fig.update_xaxes(showgrid=True, gridcolor=GRID, zeroline=False, linecolor="#BBBBBB", showline=True,
                     ticks="outside", tickcolor="#BBBBBB")
    fig.update_yaxes(showgrid=True, gridcolor=GRID, zeroline=False, linecolor="#BBBBBB", showline=True,
                     ticks="outside", tickcolor="#BBBBBB")
    return fig


def legend_below(title: str = "") -> dict:
    """The legend as rows at the bottom of the figure, under the x axis's title (container coordinates: plotly
    makes room for it below the plot, however many rows it wraps into at the width it is drawn)."""
    return dict(orientation="h", x=0.0, xanchor="left", xref="container", y=0.0, yanchor="bottom",
                yref="container", bgcolor="rgba(255,255,255,0.8)", title_text=title, title_side="top left",
                itemsizing="constant", traceorder="normal")


#: One category's row in a horizontal bar chart (px): its label line above the bar, then the bar.
BAR_ROW_PX = 54


BAR_LABEL = "bar label"
#: Characters of a label line above a bar that fit a 360 px phone (12 px text across the plot's whole width).
BAR_LABEL_CHARS = 44
BAR_THICKNESS_PX = BAR_ROW_PX // 2


def bar_label_lines(names: Sequence[str], figures: Sequence[str]) -> tuple[list[str], int]:
    """Each bar's label and the row height it needs: 'name: figures' on one line, or the name and the figures on
    two lines for every bar when any one line would not fit a phone ('abobotulinumtoxinA middle (440-630 U): 85.2%
    n = 88, 39 patients'); a bar without figures (suppressed) is its name alone."""
    one = [f"{n}: {f}" if f else str(n) for n, f in zip(names, figures)]
    if max((len(" ".join(plain_lines(t))) for t in one), default=0) <= BAR_LABEL_CHARS:
        return one, BAR_ROW_PX
    return [f"{n}<br>{f}" if f else str(n) for n, f in zip(names, figures)], BAR_ROW_PX + 16


def labels_above_bars(fig: go.Figure, categories: Sequence[str], texts: Sequence[str], bargap: float = 0.5,
                      row_px: float = BAR_ROW_PX) -> go.Figure:
    """A horizontal bar chart's category labels (each with its figures) written inside the plot, on a line above
    each bar, instead of beside the axis.

    Why: labels beside the axis take their width from the plot, all of it on a phone for names like
    'abobotulinumtoxinA'; a line above the bar costs height, which a page has. The bars are thinner (bargap) to
    leave the line room, and the figure's height should give each category row_px; the first category is the top
    row, with room above it for its label. The labels are annotations (named BAR_LABEL; `bar_labels` reads them),
    not tick labels drawn inside: plotly hides the x axis's numbers under inside tick labels.
    """
    lift = int(round(row_px * (1 - bargap) / 2)) + 1  # half the bars' thickness
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, title_text="", automargin=False,
                     range=[-0.5, len(categories) - 0.1], categoryorder="array", categoryarray=list(categories)[::-1])
    for category, text in zip(categories, texts):
        fig.add_annotation(x=0, xref="x domain", y=category, yref="y", text=text, showarrow=False, xanchor="left",
                           yanchor="bottom", yshift=lift, align="left", font=dict(size=12), name=BAR_LABEL)
    fig.update_layout(bargap=bargap, margin=dict(l=12))
    return fig


def bar_labels(fig: go.Figure) -> dict[str, str]:
    """{category: its line above the bar} of a chart drawn with `labels_above_bars` (for tests and checks)."""
    return {a.y: a.text for a in fig.layout.annotations if a.name == BAR_LABEL}


def title_space(subtitle: str) -> int:
    """Top margin in pixels for the title and the subtitle's lines."""
    lines = subtitle.count("<br>") + 1 if subtitle else 0
    return 48 + 16 * lines


def plain_lines(text: str) -> list[str]:
    """Plotly title text as plain lines: split at <br>, tags dropped, entities decoded ('A&amp;E' -> 'A&E')."""
    if not text:
        return []
    lines = re.split(r"<br\s*/?>", str(text), flags=re.IGNORECASE)
    return [line for line in (html.unescape(re.sub(r"<[^>]*>", "", part)).strip() for part in lines) if line]


def without_heading(fig: go.Figure) -> tuple[str, list[str], go.Figure]:
    """(title, subtitle lines, a copy of the figure without them), for a page that writes the heading above the
    chart as text that wraps.

    Why: plotly draws a title on one line per <br> and cuts it at the figure's edge; on a phone a subtitle of
    100 characters loses half of itself. The copy keeps both in layout.meta ("title", "subtitle") and its top
    margin shrinks by the room they took (title_space), so the plot gains the height.
    """
    title = fig.layout.title.text or ""
    subtitle = fig.layout.title.subtitle.text or "" if fig.layout.title.subtitle else ""
    if not title and not subtitle:
        return "", [], fig
    copy = go.Figure(fig)
    meta = dict(copy.layout.meta) if isinstance(copy.layout.meta, dict) else {}
    meta.update(title=title, subtitle=subtitle)
    top = copy.layout.margin.t if copy.layout.margin.t is not None else title_space(subtitle)
    copy.update_layout(title=dict(text="", subtitle=dict(text="")), meta=meta,
                       margin=dict(t=max(top - title_space(subtitle), 0) + 20))
    return " ".join(plain_lines(title)), plain_lines(subtitle), copy


def empty_figure(message: str = NO_DATA, title: str = "") -> go.Figure:
    """A figure with no traces and the message in the middle; every builder returns it for an empty table.

    layout.meta["empty"] is True so callers (and tests) can tell it apart from a real chart.
    """
    fig = go.Figure()
    base_layout(fig, title)
    fig.update_layout(meta={"empty": True, "message": message}, height=300)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=15, color=GREY))
    return fig


def is_empty_figure(fig: go.Figure) -> bool:
    """True for the figure `empty_figure` returns."""
    meta = fig.layout.meta
    return isinstance(meta, dict) and bool(meta.get("empty"))


def is_empty(table) -> bool:
    """No table, or a table without rows."""
    return table is None or len(table) == 0


def _axis_ref(row: int | None, col: int | None):
    """Subplot placement for add_vline / add_hline (drawn even before the panel has its traces)."""
    return {} if row is None else {"row": row, "col": col or 1, "exclude_empty_subplots": False}


def add_vline(fig: go.Figure, x, label: str, row: int | None = None, col: int | None = None,
              dash: str = "dash", color: str = REFERENCE, label_y: float = 0.98, width: float = 1.2,
              side: str = "right") -> go.Figure:
    """A vertical reference line with its label in plain text beside its top (e.g. '12 weeks (84 days)').

    label_y is the label's height as a share of the panel (stagger close lines: 0.98, 0.90, ...); side puts
    the text right or left of the line. The shape carries the label as its name (see `reference_lines`).
    """
    fig.add_vline(x=x, line=dict(color=color, dash=dash, width=width), layer="below", name=label,
                  **_axis_ref(row, col))
    shape = fig.layout.shapes[-1]
    fig.add_annotation(x=x, y=label_y, xref=shape.xref, yref=f"{shape.yref.split()[0]} domain",
                       text=label, showarrow=False, xanchor="left" if side == "right" else "right",
                       yanchor="top", xshift=3 if side == "right" else -3, font=dict(size=11, color=color),
                       bgcolor="rgba(255,255,255,0.85)", name=label)
    return fig


def add_hline(fig: go.Figure, y, label: str, row: int | None = None, col: int | None = None,
              dash: str = "dash", color: str = REFERENCE, position: str = "end", width: float = 1.2,
              text: str | None = None) -> go.Figure:
    """A horizontal reference line with its label above its right end (e.g. '30% responder threshold').

    text: the words drawn, when they differ from the label (a long label broken into lines with <br> so that it
    fits a phone's plot); the shape keeps the label as its name (see `reference_lines`)."""
    fig.add_hline(y=y, line=dict(color=color, dash=dash, width=width), layer="below", name=label,
                  label=dict(text=text or label, textposition=position, font=dict(size=11, color=color),
                             yanchor="bottom"),
                  **_axis_ref(row, col))
    return fig


def reference_lines(fig: go.Figure) -> list[tuple[str, float, str]]:
    """(orientation 'v' or 'h', position, label) of every labelled reference line: for tests and checks."""
    out = []
    for shape in fig.layout.shapes:
        if not shape.name:
            continue
        vertical = shape.x0 == shape.x1 and str(shape.yref).endswith("domain")
        out.append(("v", shape.x0, shape.name) if vertical else ("h", shape.y0, shape.name))
    return out


def observed_end(day, at_risk, fraction: float = 0.1, minimum: float = 0.0) -> float:
    """The last day on which at least `fraction` of the sessions are still observed (at least `minimum`).

    Used as the default end of the x axis: beyond it the curve rests on a handful of sessions (the whole
    range stays one double-click / "autoscale" away).
    """
    day = floats(day)
    at_risk = floats(at_risk)
    if len(day) == 0 or np.all(np.isnan(at_risk)):
        return minimum
    start = np.nanmax(at_risk)
    enough = day[at_risk >= fraction * start]
    end = float(np.nanmax(enough)) if len(enough) else float(np.nanmax(day))
    return max(end, minimum)


def weeks_label(days: float) -> str:
    """84 -> '12 weeks (84 days)'; 100 -> '100 days'."""
    days_i = int(days)
    if days_i == days and days_i % 7 == 0:
        weeks = days_i // 7
        return f"{weeks} week{'s' if weeks != 1 else ''} ({days_i} days)"
    return f"{fmt_num(days)} days"


def fmt_num(value, digits: int = 0) -> str:
    """A number with thousands separators; '-' for missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    return f"{float(value):,.{digits}f}"


def count(n, word: str) -> str:
    """1, 'session' -> '1 session'; 2,357 -> '2,357 sessions'."""
    return f"{fmt_num(n)} {word}{'' if n == 1 else 's'}"


def fmt_day(value) -> str:
    """A day count: whole days without decimals, a median between two days with one (3 -> '3', 1.5 -> '1.5')."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt_num(value, 0 if float(value).is_integer() else 1)


def fmt_pct(proportion, digits: int = 0) -> str:
    """0.869 -> '87%'; '-' for missing."""
    if proportion is None or proportion is pd.NA or (isinstance(proportion, float) and math.isnan(proportion)):
        return "-"
    return f"{100 * float(proportion):.{digits}f}%"


def threshold_text(value: float) -> str:
    """30.0 -> '30'; 12.5 -> '12.5'."""
    return f"{value:g}"


def responder_rule(settings: Settings = DEFAULT_SETTINGS) -> str:
    """The responder definition in force, in words, for subtitles."""
    return (f"Responder: ≥ {threshold_text(settings.responder_threshold_pct)}% pain reduction "
            f"(TWSTRS drop ≥ {threshold_text(settings.twstrs_responder_drop)} points where pain was not scored)")


def floats(values) -> np.ndarray:
    """A column as float64 with NaN for missing (plotly draws a gap), whatever its nullable dtype."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def ints_text(values: Sequence) -> list[str]:
    """Counts as text with thousands separators ('-' for missing)."""
    return [fmt_num(v) for v in floats(values)]


def suppressed_mask(table: pd.DataFrame) -> np.ndarray:
    """True for the rows analytics.suppression blanked (all False when the table was not suppressed)."""
    if "suppressed" not in table.columns:
        return np.zeros(len(table), dtype=bool)
    return table["suppressed"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def suppression_label(table: pd.DataFrame, settings: Settings | None = None) -> list[str]:
    """The words for each suppressed row: the small-group rule or the complementary one."""
    k = table.attrs.get("min_group_patients") or (settings or DEFAULT_SETTINGS).min_group_patients
    reasons = table["suppression"].astype("str") if "suppression" in table.columns else \
        pd.Series("", index=table.index)
    return [COMPLEMENTARY_TEXT if r == "complementary" else SUPPRESSED_TEXT.format(k=k) for r in reasons]


def pretty(name) -> str:
    """'injection_site_pain' -> 'injection site pain'; other values as text."""
    return str(name).replace("_", " ")


def percent_ticks(low: float, high: float) -> str:
    """The tick format of a percentage axis from `low` to `high` (proportions): whole percents, or one decimal when
    the axis spans under 10 points, so that neighbouring ticks never read the same ("85%, 85%" on a funnel of
    200,000 patients, whose limits are a point apart)."""
    return ".1%" if round(high - low, 9) < 0.1 else ".0%"
