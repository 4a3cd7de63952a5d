"""Benchmark: the dashboard on the 200,000-patient file (1.3 million sessions), measured in the browser.

Run: .venv/bin/python bench/bench_dashboard.py [--runs 3]
Starts `streamlit run dashboard.py` with OUTCOMES_DATA_FILE pointing at bench/data/sessions_200k.csv (generated
the first time by data/sample/generate.py), drives Debian's chromium with Playwright, and prints:

* first render of the Overview: from the browser's navigation start until the first page (the Headline tab: the
  KPI tiles and the p-chart) is drawn and no spinner is left (target < 3 s). Measured for the very first visit
  after the server starts (cold: the file is read and checked, the first page's figures computed), then for
  new app sessions once the server has the data and the default view cached (what every later visitor gets):
  in a new browser profile (the browser downloads and compiles Streamlit's and plotly's scripts too) and in a
  new tab of a browser that has been there before;
* a filter change: from the click on a sidebar filter value until the KPI tile shows the new figure (target
  < 1 s), and until the whole page has been redrawn. Each filter value is chosen for the first time, so
  nothing for it is cached.
Each figure is printed with its ratio to the target. The same is then measured with the sessions read from a
DuckDB store (analytics/store.py, OUTCOMES_DB) into which the file was imported once, as a clinic runs it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from common import ROOT, ensure_big_file

sys.path.insert(0, str(ROOT))
from analytics.memory import SERVER_TUNABLES  # noqa: E402 - the server's glibc settings, as run.sh sets them

FIRST_RENDER_TARGET = 3.0
FILTER_TARGET = 1.0
CHARTS = 1  # the Overview opens on its Headline tab: the KPI tiles and the p-chart
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]
DONE = """(charts) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= charts
    && document.querySelectorAll('[data-testid="stMetric"]').length >= 10
    && !document.querySelector('[data-testid="stSpinner"]')
    && !document.querySelector('[data-testid="stSkeleton"]');
}"""
SESSIONS_VALUE = """() => {
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const label = m.querySelector('[data-testid="stMetricLabel"]');
    if (label && label.innerText.trim() === 'Sessions') {
      return m.querySelector('[data-testid="stMetricValue"]').innerText.trim();
    }
  }
  return null;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env_extra: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`streamlit run dashboard.py` on a free port with these environment variables; returns once healthy."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OUTCOMES_DATA_FILE", "OUTCOMES_DB")}
    env.update(env_extra)
    if env.get("OUTCOMES_KEEP_MEMORY", "1") != "0":  # as `./run.sh app` starts it (analytics/memory.py)
        env["GLIBC_TUNABLES"] = SERVER_TUNABLES
    log = open(ROOT / "bench" / "data" / "streamlit_bench.log", "w")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), "--server.port", str(port),
         "--server.headless", "true"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_file = log
    url = f"http://localhost:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.terminate()
    log.close()
    raise TimeoutError("the app did not become healthy")


def ensure_store(data_file: Path) -> Path:
    """The big file imported once into a DuckDB store of its own (git-ignored, beside the file)."""
    db = data_file.parent / "bench_store.duckdb"
    if not db.exists():
        sys.path.insert(0, str(ROOT))
        from analytics import store  # noqa: PLC0415
        from analytics.ingest import load_sessions  # noqa: PLC0415
        print(f"Importing {data_file.name} into {db.name} (once) ...", flush=True)
        result = load_sessions(data_file)
        store.import_result(result, store.file_hash(data_file), data_file.name, db_path=db)
    return db


def first_render(browser, url: str, context=None) -> tuple[float, object]:
    """Seconds from navigation start until the Overview is fully drawn, in a new app session: in a new browser
    profile (nothing in the browser's cache), or in a new tab of `context` (the browser has the app's scripts)."""
    context = context or browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.wait_for_function(DONE, arg=CHARTS, timeout=300_000, polling=50)
    return page.evaluate("() => performance.now()") / 1000.0, page


def choose_filter(page, label: str, value: str) -> tuple[float, float]:
    """Pick a value in a sidebar multiselect; seconds until the Sessions tile changes and until all is drawn."""
    before = page.evaluate(SESSIONS_VALUE)
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text=label).first
    box.click()
    option = page.get_by_role("option", name=value, exact=True)
    option.wait_for(timeout=10_000)
    start = page.evaluate("() => performance.now()")
    option.click()
    page.wait_for_function(f"(before) => ({SESSIONS_VALUE})() !== before", arg=before, timeout=120_000, polling=20)
    kpi = page.evaluate("() => performance.now()")
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    page.wait_for_function(DONE, arg=CHARTS, timeout=300_000, polling=50)
    done = page.evaluate("() => performance.now()")
    return (kpi - start) / 1000.0, (done - start) / 1000.0 - 0.2


def line(name: str, seconds: float, target: float | None) -> str:
    ratio = f"  ratio to target {seconds / target:.2f} (target < {target:g} s)" if target else ""
    return f"{name:<58} {seconds:6.2f} s{ratio}"


def measure(browser, env_extra: dict[str, str], runs: int, settle: float = 0.0) -> dict:
    """Cold and warm first renders and three filter changes against one freshly started server; `settle`
    seconds after the cold visit before the warm ones (the store's background read after a first page)."""
    process, url = start_app(env_extra)
    try:
        cold, page = first_render(browser, url)
        sessions = page.evaluate(SESSIONS_VALUE)
        page.context.close()
        time.sleep(settle)
        fresh = []
        for _ in range(runs):
            seconds, page = first_render(browser, url)
            fresh.append(seconds)
            page.context.close()
        returning = browser.new_context(viewport={"width": 1440, "height": 1000})
        first_render(browser, url, returning)[1].close()  # the browser fetches the app's scripts once
        tabs = []
        for _ in range(runs):
            seconds, page = first_render(browser, url, returning)
            tabs.append(seconds)
            page.close()
        returning.close()
        seconds, page = first_render(browser, url)
        filters = [choose_filter(page, "Site", "North"), choose_filter(page, "Product", "onabotulinumtoxinA"),
                   choose_filter(page, "Site", "South")]
        page.context.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
        process.log_file.close()
    return {"cold": cold, "sessions": sessions, "fresh": fresh, "tabs": tabs, "filters": filters}


def report(title: str, result: dict, runs: int) -> None:
    print(f"\n{title}  (Sessions tile on the default view: {result['sessions']})")
    print(line("first render, first visit after the server starts (cold)", result["cold"], FIRST_RENDER_TARGET))
    print(line(f"first render, new session, new browser profile (median of {runs})",
               statistics.median(result["fresh"]), FIRST_RENDER_TARGET))
    print("  runs: " + ", ".join(f"{s:.2f}" for s in result["fresh"]))
    print(line(f"first render, new session, returning browser (median of {runs})",
               statistics.median(result["tabs"]), FIRST_RENDER_TARGET))
    print("  runs: " + ", ".join(f"{s:.2f}" for s in result["tabs"]))
    for (kpi, done), name in zip(result["filters"], ("site North", "+ product onabotulinumtoxinA", "+ site South")):
        print(line(f"filter change ({name}): KPI tile updated", kpi, FILTER_TARGET))
        print(line(f"filter change ({name}): whole page redrawn", done, None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm first renders to time (the median is reported)")
    parser.add_argument("--no-store", action="store_true", help="only the file, not the DuckDB store")
    parser.add_argument("--db", type=Path, help="only this store (copied first: the app writes audit rows), e.g. "
                        "bench/data/registry_10m/registry_store.duckdb; not the file")
    parser.add_argument("--settle", type=float, default=0.0,
                        help="seconds to wait after the cold visit before the warm ones: the store's sessions are "
                             "read in the background once the first page is drawn (about 10 s at 10M sessions), "
                             "and visits during that read share the two cores with it")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        sys.exit("chromium is not installed: apt-get install chromium")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    if args.db:
        data_file, db = None, args.db.with_name("dashboard_copy.duckdb")
        shutil.copyfile(args.db, db)
        print(f"store: {args.db} ({args.db.stat().st_size / 1048576:,.0f} MB), measured on a copy")
    else:
        data_file = ensure_big_file()
        print(f"file: {data_file.name}, {data_file.stat().st_size / 1048576:.0f} MB")
        db = None if args.no_store else ensure_store(data_file)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        from_file = None if data_file is None else measure(browser, {"OUTCOMES_DATA_FILE": str(data_file)},
                                                           args.runs)
        from_store = None if db is None else measure(browser, {"OUTCOMES_DB": str(db)}, args.runs, args.settle)
        browser.close()
    if from_file:
        report("The file (OUTCOMES_DATA_FILE): read and checked when the server starts", from_file, args.runs)
    if from_store:
        report("The clinic's store (OUTCOMES_DB) holding the same sessions", from_store, args.runs)


if __name__ == "__main__":
    main()
