"""Issue 13 in a real browser: a shared link opens that view (`/?site=North&period=6m` shows North's figures for
six months), and the report downloads from the Overview and holds plotly charts that draw offline. Screenshots go to
tests/screenshots/ at 1440x900 and 390x844. Skipped when chromium or Playwright is not installed."""
from __future__ import annotations

import os

import pytest

from analytics import audit

from tests.app_support import app, metric
from tests.browser_support import CHROMIUM, chromium, offline_page
from tests.test_browser import SHOTS, assert_no_error, metric_value, screenshot, start_app, stop_app, wait_idle

pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
if CHROMIUM is None:
    pytest.skip("chromium is not installed: browser tests skipped", allow_module_level=True)

WIDTHS = {"desk": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def server():
    SHOTS.mkdir(parents=True, exist_ok=True)
    process, url = start_app()
    yield url
    stop_app(process)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def north_six_months() -> dict:
    """North's figures for the last six months, chosen in the sidebar by hand (AppTest)."""
    at = app()
    at.multiselect(key="filter_site").select("North").run()
    at.selectbox(key="period").select("Last 6 months").run()
    return {label: metric(at, label) for label in ("Patients", "Sessions", "Responder rate")}


@pytest.mark.parametrize("width", list(WIDTHS))
def test_a_shared_link_opens_that_sites_figures(server, browser, north_six_months, width):
    context = browser.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    try:
        page.goto(f"{server}/?site=North&period=6m")
        wait_idle(page)
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        assert_no_error(page)
        for label, value in north_six_months.items():
            assert metric_value(page, label) == value, label
        assert "site: North" in page.locator('[data-testid="stMain"]').inner_text()
        # the address keeps the view (written back by the app)
        assert "site=North" in page.url and "period=6m" in page.url
        screenshot(page, f"shared_link_north_{width}")
    finally:
        context.close()


def test_the_report_downloads_from_the_overview_and_holds_plotly_charts(server, browser, tmp_path):
    context = browser.new_context(viewport=WIDTHS["desk"], accept_downloads=True)
    page = context.new_page()
    try:
        page.goto(f"{server}/?site=North&period=6m")
        wait_idle(page)
        page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
        screenshot(page, "overview_report_buttons_desk")
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="Download report (HTML)").click()
        path = tmp_path / "report.html"
        download.value.save_as(path)
        assert download.value.suggested_filename == "toxin_outcomes_report.html"
        text = path.read_text(encoding="utf-8")
        assert "site: North" in text and "Plotly.newPlot" in text
        with page.expect_download(timeout=120_000) as book:
            page.get_by_role("button", name="Download tables (Excel)").click()
        assert book.value.suggested_filename == "toxin_outcomes_tables.xlsx"
        assert (tmp_path / "book.xlsx").write_bytes(open(book.value.path(), "rb").read()) > 1000
        wait_idle(page)
        # audited like every download: one row per file, naming the view (the store the server was started on)
        rows = audit.read(os.environ["OUTCOMES_DB"], action="report")
        for name in ("toxin_outcomes_report.html", "toxin_outcomes_tables.xlsx"):
            assert any(o.startswith(name) and "site: North" in o for o in rows["object"]), (name, rows["object"])
    finally:
        context.close()
    outside, errors = [], []
    report = offline_page(browser, outside, errors, WIDTHS["desk"])
    try:
        report.goto(path.as_uri())
        report.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3",
                                 timeout=60_000)
        assert not errors and not outside, (errors, outside)
        report.screenshot(path=str(SHOTS / "report_from_overview.png"), full_page=True)
    finally:
        report.close()
