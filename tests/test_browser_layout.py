"""Every page at a phone's width (390x844) and a desk's (1440x900) in chromium (issue 13): no sideways scroll, every
plot keeps at least 60% of its chart's width (legends go under the plot, never beside it), no chart text runs past
the chart's edge (titles, labels, legends), and the benefit chart's numbers at risk are cells of a table, not text
drawn under the plot.

One app server for the module. Screenshots of every page and tab go to tests/artifacts/layout/ (git-ignored): look
at them. Skipped when chromium or Playwright is not installed, like tests/test_browser.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from charts.theme import MIN_PLOT_SHARE
from tests.browser_support import CHROMIUM, chromium, stop_process

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped",
                allow_module_level=True)

from tests.test_browser import CUT_TILE_TEXT, SHOTS, start_app, wait_idle  # noqa: E402 - needs Playwright too

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "layout"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1440, "height": 900}}
OVERVIEW_TABS = ("Headline", "After an injection", "Over cycles", "Safety")
PAGES = ("patients", "compare", "data", "audit")  # url paths after the Overview; Audit is open in local mode

# The layout of the page as the browser drew it: the document's and the main area's scroll widths, and for every
# chart that is visible (a chart in a closed tab has no width) its width, its plot areas' widths (.nsewdrag: one per
# subplot) and any text of the chart that runs past its left or right edge.
LAYOUT = """() => {
  const se = document.scrollingElement;
  const main = document.querySelector('[data-testid="stMain"]');
  const charts = [];
  document.querySelectorAll('.js-plotly-plot').forEach(p => {
    const box = p.getBoundingClientRect();
    if (box.width === 0) return;
    const plots = [...p.querySelectorAll('.nsewdrag')].map(e => e.getBoundingClientRect().width);
    const outside = [...p.querySelectorAll('svg text')].filter(t => {
      const r = t.getBoundingClientRect();
      return t.textContent.trim() && r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1);
    }).map(t => t.textContent.trim());
    charts.push({width: box.width, plots: plots, outside: outside});
  });
  return {scrollWidth: se.scrollWidth, clientWidth: se.clientWidth,
          mainScrollWidth: main ? main.scrollWidth : 0, mainClientWidth: main ? main.clientWidth : 0, charts: charts};
}"""


@pytest.fixture(scope="module")
def server():
    SHOTS.mkdir(parents=True, exist_ok=True)  # start_app writes the server's log there
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    process, url = start_app()
    yield url
    stop_process(process)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def settle(page, charts: int = 0) -> None:
    """Wait until the script has run, the expected charts are drawn and plotly has laid them out."""
    wait_idle(page)
    if charts:
        page.wait_for_function(
            f"() => [...document.querySelectorAll('.js-plotly-plot')].filter(p => p.getBoundingClientRect().width > 0"
            f" && p.querySelector('.nsewdrag')).length >= {charts}", timeout=60_000)
    page.wait_for_timeout(800)


def check_layout(page, where: str) -> dict:
    """The assertions every page and tab must pass at every width; returns the measured layout."""
    layout = page.evaluate(LAYOUT)
    assert layout["scrollWidth"] <= layout["clientWidth"] + 1, (where, "sideways scroll", layout)
    assert layout["mainScrollWidth"] <= layout["mainClientWidth"] + 1, (where, "sideways scroll in the main area")
    cut = page.evaluate(CUT_TILE_TEXT)
    assert not cut, (where, "a tile's value or label cut off ('...')", cut)
    for chart in layout["charts"]:
        assert chart["plots"], (where, "a chart without a plot area", chart)
        assert min(chart["plots"]) >= MIN_PLOT_SHARE * chart["width"], (where, "plot squeezed", chart)
        assert not chart["outside"], (where, "chart text cut off at the chart's edge", chart["outside"])
    return layout


def screenshot(page, name: str) -> None:
    """The whole page (Streamlit scrolls inside its main area: the viewport is stretched to the content)."""
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 160, 12000)})
    page.wait_for_timeout(600)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.set_viewport_size(size)


@pytest.mark.parametrize("device", list(VIEWPORTS))
def test_every_page_fits_the_screen(server, browser, device):
    context = browser.new_context(viewport=VIEWPORTS[device])
    page = context.new_page()
    try:
        page.goto(server)
        settle(page, charts=1)
        for tab in OVERVIEW_TABS:
            page.get_by_role("tab", name=tab).click()
            settle(page, charts=1)
            assert page.locator('[data-testid="stException"]').count() == 0, tab
            layout = check_layout(page, f"Overview, {tab}, {device}")
            assert len(layout["charts"]) == 1, (tab, "one chart per tab")
            if tab == "After an injection":
                assert_at_risk_is_a_table(page)
            screenshot(page, f"overview_{tab.lower().replace(' ', '_')}_{device}")
        # the last 3 months of the sample: "Benefit lasts" is not reached, shown as "≥ 91 days", the longest value
        # a tile gets (it was cut to "≥ 91 d..." on a desk)
        page.goto(f"{server}/?period=3m")
        settle(page, charts=1)
        tiles = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
        assert "≥ 91 days" in [t.strip() for t in tiles], tiles
        check_layout(page, f"Overview, last 3 months, {device}")
        for path in PAGES:
            page.goto(f"{server}/{path}")
            settle(page)
            assert page.locator('[data-testid="stException"]').count() == 0, path
            check_layout(page, f"{path}, {device}")
            if path == "patients":  # the count tiles wrap two a row on a phone (they stacked one a row, each tall)
                tops = [round(page.locator('[data-testid="stMetric"]').nth(i).bounding_box()["y"]) for i in range(2)]
                assert tops[0] == tops[1], (device, "the first two count tiles are not side by side", tops)
            screenshot(page, f"{path}_{device}")
            if path == "compare":  # its tabs (funnels by site, breakdowns by indication, dose band, cycle)
                check_every_tab(page, device)
    finally:
        context.close()


def check_every_tab(page, device: str) -> None:
    """Open each tab of the page in turn (Streamlit draws a tab's charts when it is shown) and check the layout."""
    tabs = page.get_by_role("tab")
    names = [n.strip() for n in tabs.all_inner_texts()]
    assert len(names) >= 6, names  # Practitioners, Sites, Product, Indication, Dose band, Cycle
    for i, name in enumerate(names):
        tabs.nth(i).click()
        page.wait_for_timeout(800)
        settle(page, charts=1)
        check_layout(page, f"Compare, {name}, {device}")


def assert_at_risk_is_a_table(page) -> None:
    """The numbers at risk are cells of an HTML table under the chart (each in its own cell: they cannot run into
    one string), and no plot draws them as text any more."""
    table = page.locator('[data-testid="stTable"] table').filter(has_text="Sessions still followed up")
    assert table.count() == 1
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts() if h.strip()]
    assert headers == ["Day", "Sessions still followed up", "Still benefiting (95% CI)"]
    rows = table.locator("tbody tr")
    assert rows.count() >= 5
    for i in range(rows.count()):
        cells = [c.strip() for c in rows.nth(i).locator("td, th").all_inner_texts() if c.strip()]
        assert len(cells) == 3, cells
        assert cells[1].replace(",", "").isdigit(), cells  # one count per cell
    assert rows.nth(0).locator("td, th").first.inner_text().strip() == "0"
    assert "Number at risk" not in " ".join(page.locator(".js-plotly-plot").all_inner_texts())
