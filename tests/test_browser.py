"""The dashboard in a real browser: `streamlit run` in a subprocess, Debian's chromium through Playwright.

Every page loads with its charts drawn and no error element; the messy export uploaded through the page's file
input (identifier column dropped, data used) changes the KPI tiles. Screenshots of every page go to
tests/screenshots/ (git-ignored): look at them. Skipped when chromium or Playwright is not installed.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, chromium, stop_process

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "screenshots"
MESSY = ROOT / "data" / "sample" / "messy_export.csv"
PAGES = {  # url path -> (title, plotly charts expected at least)
    "": ("Overview", 1),  # the Headline tab: the p-chart (the other tabs draw theirs when opened)
    "patients": ("Patients to review", 1),
    "compare": ("Compare", 2),
    "data": ("Data", 0),
}
# The text of every KPI or count tile (value and label) that the browser cut short with '...': it should fit.
CUT_TILE_TEXT = """() => [...document.querySelectorAll(
    '[data-testid="stMetricValue"], [data-testid="stMetricValue"] *, [data-testid="stMetricLabel"] *')]
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent.trim())"""
# The app is idle: the script is not running, the sidebar is drawn and no spinner is left.
IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !!document.querySelector('[data-testid="stSidebarUserContent"] [data-testid="stMarkdown"]')
    && !document.querySelector('[data-testid="stSpinner"]')
    && !document.querySelector('[data-testid="stSkeleton"]');
}"""

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped",
                allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url}/_stcore/health did not answer within {timeout} s")


def start_app(env_extra: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run dashboard.py` on a free port; returns the process and the base URL once healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "OUTCOMES_DATA_FILE"}
    env.update(env_extra or {})
    log = open(ROOT / "tests" / "screenshots" / f"streamlit_{port}.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_file = log
    url = f"http://localhost:{port}"
    try:
        wait_healthy(url, process)
    except Exception:
        stop_app(process)
        raise
    return process, url


stop_app = stop_process


def wait_idle(page, timeout: float = 90_000) -> None:
    page.wait_for_timeout(300)  # let a rerun start before asking whether it has finished
    page.wait_for_function(IDLE, timeout=timeout)


def screenshot(page, name: str) -> Path:
    """The whole page: the viewport is stretched to the content's height (Streamlit scrolls inside a div)."""
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 160, 12000)})
    page.wait_for_timeout(600)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    return path


def metric_value(page, label: str) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)).first
    return metric.locator('[data-testid="stMetricValue"]').inner_text().strip()


def assert_no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "an exception is shown"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, [errors.nth(i).inner_text() for i in range(errors.count())]


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


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def test_every_page_loads_with_its_charts_and_no_error(server, page):
    for path, (title, charts) in PAGES.items():
        page.goto(f"{server}/{path}")
        wait_idle(page)
        page.wait_for_selector("h1", timeout=30_000)
        assert title in page.locator("h1").first.inner_text()
        if charts:
            page.wait_for_function(
                f"() => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= {charts}",
                timeout=60_000)
        assert_no_error(page)
        sidebar = page.locator('[data-testid="stSidebarUserContent"]').inner_text()
        assert "Data:" in sidebar and "As of:" in sidebar
        if path != "data":
            assert "Sample data" in page.locator('[data-testid="stMain"]').inner_text()
        screenshot(page, path or "overview")


def test_an_upload_through_the_page_changes_the_kpis(server, page):
    page.goto(server)
    wait_idle(page)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    sample_sessions = metric_value(page, "Sessions")

    page.locator('[data-testid="stSidebarNav"] a', has_text="Data").click()
    page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached", timeout=30_000)
    page.set_input_files('[data-testid="stFileUploaderDropzoneInput"]', str(MESSY))
    page.wait_for_selector("text=direct identifiers", timeout=60_000)
    assert "NHS Number" in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    screenshot(page, "data_identifier_guard")

    page.get_by_role("button", name="Drop 'NHS Number' and continue").click()
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    wait_idle(page)
    assert metric_value(page, "Rejected rows") == "11"
    assert metric_value(page, "Accepted") == "496"
    cut = page.evaluate(CUT_TILE_TEXT)
    assert not cut, ("a tile's text is cut off", cut)  # 'Duplicates / conf...' was
    screenshot(page, "data_after_upload")

    page.get_by_role("button", name="Look at this file without importing").click()
    page.wait_for_selector("text=is in use on every page", timeout=60_000)
    wait_idle(page)  # the sidebar's page links are disabled while the page's script still runs
    page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").click(timeout=90_000)
    page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebarUserContent\"]')"
                           ".innerText.includes('507 rows')", timeout=60_000)
    wait_idle(page)
    page.wait_for_selector('[data-testid="stMetric"]', timeout=60_000)
    assert_no_error(page)
    assert metric_value(page, "Sessions") != sample_sessions
    assert "Sample data" not in page.locator('[data-testid="stMain"]').inner_text()
    screenshot(page, "overview_uploaded")
