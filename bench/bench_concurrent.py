"""Benchmark: ten visitors opening the Overview on the 200,000-patient store (1.27M sessions) at the same moment.

Run: .venv/bin/python bench/bench_concurrent.py [--users 10] [--db bench/data/bench_store.duckdb]
Copies the store (the app writes audit rows into it), starts `streamlit run dashboard.py` on the copy, and opens
the Overview in `--users` separate browser contexts of Debian's chromium (Playwright) at the same moment, twice:

* warm: the server has served one visitor before (its caches hold the data and the default view), then ten new
  visitors arrive at once: what a clinic's morning meeting looks like;
* cold: right after the server started, ten visitors at once (each waits for the one reading of the store).

For each visitor: the seconds from its navigation start until the KPI tiles and the Headline's chart are drawn
with no spinner left, any error element on the page, any JavaScript error. The server's memory is the sum of the
resident set sizes of the streamlit process and its children, sampled every 0.1 s; the peak is printed. Targets
(issue 12, item 5): every page drawn within 6 s, server memory <= 4 GB, no error. Beside the ten, the same
browser opens one visitor alone on the warm server (the peer), so the ratio says what the crowd costs.

--peer: the same crowd opens bench/peer_page.py instead (ten tiles and one small plotly chart, no data, no
computation): the floor ten browsers on this machine's cores set, whatever the dashboard does.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import shutil
import threading
import time
from pathlib import Path

import bench_first_page
from bench_first_page import CHARTS, DONE, LAUNCH_ARGS, STORE, WATCH, start_app, stop

PAGE_TARGET = 6.0
PAGE_BODY = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) DEBUG outcomes\.app: page body: ([0-9.]+) s")
MEMORY_TARGET_GB = 4.0


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class MemoryWatch:
    """Samples tree_rss(pid) every 0.1 s in a thread; .peak is the largest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


async def one_visit(browser, url: str, start: asyncio.Event) -> dict:
    """A new browser context waits for `start`, then opens the Overview; seconds until it is drawn."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    await context.add_init_script(WATCH)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    await start.wait()
    began = time.perf_counter()
    try:
        await page.goto(url, timeout=300_000)
        await page.wait_for_function(DONE, arg=CHARTS, timeout=300_000, polling=50)
        seconds = await page.evaluate("() => performance.now()") / 1000.0
        wall = time.perf_counter() - began
        error_element = await page.locator(
            '[data-testid="stException"], [data-testid="stAlertContentError"]').count()
        metrics = await page.locator('[data-testid="stMetric"]').count()
        ws = await page.evaluate("() => window.__ws")
    finally:
        await context.close()
    last = max([t for t, _ in ws["messages"] if t <= seconds * 1000] or [ws["open"] or 0]) / 1000.0
    opened = (ws["open"] or 0) / 1000.0
    return {"seconds": seconds, "wall": wall, "errors": errors, "error_elements": error_element,
            "metrics": metrics, "boot": opened, "server": last - opened, "drawing": seconds - last}


async def crowd(browser, url: str, users: int) -> list[dict]:
    """`users` visitors at the same moment (their contexts are made first, then all navigate together)."""
    start = asyncio.Event()
    tasks = [asyncio.create_task(one_visit(browser, url, start)) for _ in range(users)]
    await asyncio.sleep(1.0)  # every context and page made
    crowd.started = dt.datetime.now()
    start.set()
    return await asyncio.gather(*tasks)


def server_runs(log_path: Path, since: dt.datetime) -> tuple[float, list[float]]:
    """From the server's log (OUTCOMES_LOG_LEVEL=DEBUG): seconds from `since` until the last page run ended, and
    each run's own time (the page body), for the runs that ended after `since`."""
    ends, bodies = [], []
    for line in log_path.read_text(errors="replace").splitlines():
        match = PAGE_BODY.match(line)
        if match:
            at = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
            if at >= since:
                ends.append(at)
                bodies.append(float(match.group(2)))
    return ((max(ends) - since).total_seconds() if ends else float("nan")), bodies


def report(name: str, runs: list[dict], peak: int, alone: float | None, server: tuple) -> bool:
    times = [r["seconds"] for r in runs]
    worst = max(times)
    errors = sum(len(r["errors"]) + r["error_elements"] for r in runs)
    print(f"\n{name}: {len(runs)} visitors at once")
    print("  each (s, navigation start to Overview drawn): " + ", ".join(f"{t:.2f}" for t in sorted(times)))
    print("  of which the server's answer (websocket open to the run's last message): " + ", ".join(
        f"{r['server']:.2f}" for r in sorted(runs, key=lambda r: r["seconds"]))
          + f"; max {max(r['server'] for r in runs):.2f} s")
    done, bodies = server
    if bodies:
        print(f"  the server, from its log: every run ended {done:.2f} s after the visitors set off; page bodies "
              + ", ".join(f"{b:.2f}" for b in sorted(bodies)) + " s")
    print(f"  boot (scripts fetched and compiled) max {max(r['boot'] for r in runs):.2f} s, drawing after the "
          f"last message max {max(r['drawing'] for r in runs):.2f} s (browser work: on this machine's 2 cores too)")
    print(f"  max {worst:.2f} s (target <= {PAGE_TARGET:g} s, ratio to target {worst / PAGE_TARGET:.2f})"
          + (f"; one visitor alone on the same server {alone:.2f} s (max / alone {worst / alone:.2f})"
             if alone else ""))
    print(f"  server memory peak {peak / 2**30:.2f} GB (target <= {MEMORY_TARGET_GB:g} GB, ratio "
          f"{peak / 2**30 / MEMORY_TARGET_GB:.2f})")
    print(f"  errors: {errors} (JS errors {[e for r in runs for e in r['errors']][:3]}, error elements "
          f"{sum(r['error_elements'] for r in runs)}); KPI tiles on every page: "
          f"{all(r['metrics'] >= 10 for r in runs)}")
    return worst <= PAGE_TARGET and peak / 2**30 <= MEMORY_TARGET_GB and errors == 0


async def main_async(args) -> None:
    from playwright.async_api import async_playwright  # noqa: PLC0415

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    db = args.copy
    bench_first_page.ensure_default_store(args.db)
    results = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, headless=True, args=LAUNCH_ARGS)
        try:
            for phase in ("cold", "warm"):
                if args.peer and phase == "cold":
                    continue  # the peer page has no data to read: warm and cold are alike
                shutil.copyfile(args.db, db)  # the app writes audit rows into its store: never into the shared one
                script = bench_first_page.ROOT / "bench" / "peer_page.py" if args.peer else \
                    args.app.resolve() / "dashboard.py"
                process, url = start_app(db, db.with_suffix(".log"), script)
                try:
                    with MemoryWatch(process.pid) as memory:
                        alone = None
                        if phase == "warm":
                            await crowd(browser, url, 1)  # the first visitor fills the caches
                            alone = (await crowd(browser, url, 1))[0]["seconds"]
                        runs = await crowd(browser, url, args.users)
                    results[phase] = (runs, memory.peak, alone, server_runs(db.with_suffix(".log"), crowd.started))
                finally:
                    stop(process)
        finally:
            await browser.close()
    for suffix in ("", ".wal", ".lock", ".log"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    db.with_suffix(".log").unlink(missing_ok=True)
    print(f"store: {args.db} ({args.db.stat().st_size / 1e6:.0f} MB), {os.cpu_count()} cores")
    if args.peer:
        ok = report("Peer page (bench/peer_page.py, no data), warm server", *results["warm"])
        print("\npeer page: " + ("within" if ok else "over") + " the dashboard's targets: the floor of "
              f"{args.users} browsers on {os.cpu_count()} cores")
        return
    ok = [report(f"{phase.capitalize()} server", *results[phase]) for phase in ("warm", "cold")]
    print("\nwarm: " + ("meets" if ok[0] else "misses") + " the targets; cold: " + ("meets" if ok[1] else "misses"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--db", type=Path, default=STORE, help="the store to copy and open")
    parser.add_argument("--app", type=Path, default=bench_first_page.ROOT,
                        help="the checkout whose dashboard.py is measured")
    parser.add_argument("--copy", type=Path, default=STORE.parent / "concurrent_store.duckdb",
                        help="where to copy it (deleted at the end)")
    parser.add_argument("--peer", action="store_true",
                        help="the crowd opens bench/peer_page.py (no data): the floor of the browsers alone")
    args = parser.parse_args()
    bench_first_page.APP = args.app.resolve()  # start_app runs the server in that checkout
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
