"""Helpers for the browser tests: Debian's chromium, the launch arguments, and a page that may not reach the
network (every request outside file:// is recorded and refused)."""
from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]


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
