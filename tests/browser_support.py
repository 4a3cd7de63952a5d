"""Helpers for the browser tests: Debian's chromium, the launch arguments, a page that may not reach the
network (every request outside file:// is recorded and refused), and stopping a server a test started."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]


@contextmanager
def chromium() -> Iterator:
    """Debian's chromium, headless, through Playwright (which cannot download its own browser here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def stop_process(process: subprocess.Popen) -> None:
    """Stop a server a test started (and only it): terminate, kill after 10 s, then close its log file."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log = getattr(process, "log_file", None)
    if log is not None:
        log.close()


def offline_page(browser, outside: list, errors: list, viewport: dict | None = None):
    """A new page whose JavaScript errors go to `errors` and whose requests outside file:// go to `outside`
    (and are aborted), so a test can assert a self-contained file stayed self-contained."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    page.on("pageerror", lambda err: errors.append(str(err)))

    def block(route):
        if not route.request.url.startswith("file://"):
            outside.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route("**/*", block)
    return page
