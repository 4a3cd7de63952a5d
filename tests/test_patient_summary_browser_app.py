"""The "Summary for the patient" button in a real browser (issue 16): clicking it downloads the patient's own page
(no code on it unless ticked) and writes one audit row, view_patient, the code, outcome "ok: summary for the patient".
Screenshots of the Patients page with the button, at 1440 and 390 px, go to tests/screenshots/ (look at them).
Skipped when chromium or Playwright is not installed."""
from __future__ import annotations

import time

import pytest

from analytics import audit
from analytics.patient_summary import AUDIT_OUTCOME
from tests.browser_support import CHROMIUM, chromium

pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped",
                allow_module_level=True)

from tests.test_browser import SHOTS, assert_no_error, screenshot, start_app, stop_app, wait_idle  # noqa: E402


def summary_rows(db, expect: int, timeout: float = 60) -> int:
    """The number of summary rows in the trail, once it has reached `expect` (polled; fails after `timeout` s)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = audit.read(db, action="view_patient")
        n = int((rows["outcome"] == AUDIT_OUTCOME).sum()) if len(rows) else 0
        if n >= expect or time.monotonic() > deadline:
            assert n == expect, f"{n} summary rows, {expect} expected"
            return n
        time.sleep(0.2)


def test_the_button_downloads_the_page_and_is_audited(tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    db = tmp_path / "outcomes.duckdb"
    process, url = start_app({"OUTCOMES_DB": str(db)})
    texts = []
    try:
        with chromium() as browser:
            for width, height in ((1440, 900), (390, 844)):
                context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
                page = context.new_page()
                page.goto(f"{url}/patients")
                wait_idle(page)
                assert_no_error(page)
                button = page.get_by_role("button", name="Summary for the patient")
                button.scroll_into_view_if_needed()
                screenshot(page, f"patient_summary_button_{width}")
                with page.expect_download() as info:
                    button.click()
                download = info.value
                assert download.suggested_filename == "treatment_summary.html"
                path = tmp_path / f"summary_{width}.html"
                download.save_as(path)
                texts.append(path.read_text(encoding="utf-8"))
                summary_rows(db, expect=len(texts))  # the click's rerun writes the row; wait for it
                context.close()
    finally:
        stop_app(process)
    rows = audit.read(db, action="view_patient")
    code = rows.loc[rows["object"].str.fullmatch(r"P\d{5}"), "object"].iloc[0]  # the patient shown on arrival
    for text in texts:
        assert "Your treatment summary" in text and code not in text
    summaries = rows.loc[rows["outcome"] == AUDIT_OUTCOME]
    assert summaries[["object", "outcome"]].values.tolist() == [[code, AUDIT_OUTCOME]] * 2, \
        rows.values.tolist()
