"""The patient's own summary page in chromium (issue 16): read on a phone (390 px wide, nothing wider than the
screen, nothing fetched, no script error) and printed by chromium to ONE page, A4 and Letter, for a patient with
10 sessions (and the most any sample patient has, 12). Screenshots go to tests/screenshots/ (git-ignored): look at
them. Skipped when chromium or Playwright is not installed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_support import CHROMIUM, chromium, offline_page

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "screenshots"
SAMPLE = ROOT / "data" / "sample" / "sessions.csv"

pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped",
                allow_module_level=True)


def pdf_pages(pdf: bytes) -> int:
    """Pages in a PDF: the '/Type /Page' objects, not the '/Type /Pages' tree."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """The pages of two sample patients with 10 sessions and of the one with the most (12), as files."""
    import pandas as pd

    from analytics.ingest import load_sessions
    from analytics.patient_summary import patient_summary
    from analytics.sessions import derive_sessions
    from reports.patient_summary import patient_summary_html

    sessions = load_sessions(SAMPLE).data
    counts = sessions["patient_id"].astype(str).value_counts()
    ten = sorted(counts[counts == 10].index)[:2]
    most = sorted(counts[counts == counts.max()].index)[:1]
    derived = derive_sessions(sessions)
    folder = tmp_path_factory.mktemp("summaries")
    out = {}
    for patient in ten + most:
        summary = patient_summary(derived, patient)
        assert summary["sessions"] in (10, int(counts.max()))
        path = folder / f"{patient}.html"
        path.write_text(patient_summary_html(summary, show_code=True), encoding="utf-8")
        out[patient] = (path, summary["sessions"])
    assert pd.Series([n for _, n in out.values()]).tolist()[:2] == [10, 10]
    return out


def test_on_a_phone_and_printed_on_one_page(pages):
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        for patient, (path, n) in pages.items():
            outside, errors = [], []
            page = offline_page(browser, outside, errors, viewport={"width": 390, "height": 844})
            page.goto(path.as_uri())
            assert page.locator("h1").inner_text() == "Your treatment summary"
            assert page.locator("svg rect").count() >= 1  # the chart is drawn
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390, f"{patient}: the page is {width} px wide on a 390 px phone"
            font = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
            assert font >= 18  # large type on screen
            page.screenshot(path=str(SHOTS / f"patient_summary_{patient}_{n}_sessions_390.png"), full_page=True)
            for paper in ("A4", "Letter"):
                pdf = page.pdf(format=paper, print_background=True)
                assert pdf_pages(pdf) == 1, f"{patient} ({n} sessions) prints on {pdf_pages(pdf)} {paper} pages"
                (SHOTS / f"patient_summary_{patient}_{n}_sessions_{paper}.pdf").write_bytes(pdf)
            page.emulate_media(media="print")
            page.set_viewport_size({"width": 794, "height": 1123})  # an A4 page at 96 dpi, to look at
            page.screenshot(path=str(SHOTS / f"patient_summary_{patient}_{n}_sessions_print.png"), full_page=True)
            assert not outside and not errors, (outside, errors)
            page.close()


def test_pdf_page_count_reads_the_page_objects():
    assert pdf_pages(b"<< /Type /Pages /Count 2 >> << /Type /Page >> << /Type/Page >>") == 2
