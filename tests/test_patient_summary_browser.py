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


def test_the_tallest_sample_page_prints_on_one_page():
    """The sample pages with the most to say (side effects, lines to discuss, window lines, sessions), laid out for
    print at Letter's width (the shorter page); the tallest three are printed by chromium on A4 and Letter: one page
    each. (Laying out all 500 takes minutes; on 2026-12-01 the tallest of all 500 was 924 px of Letter's ~980.)"""
    from analytics.ingest import load_sessions
    from analytics.patient_summary import patient_summary
    from analytics.sessions import derive_sessions
    from reports.patient_summary import patient_summary_html

    derived = derive_sessions(load_sessions(SAMPLE).data)
    summaries = {p: patient_summary(derived, p) for p in derived["patient_id"].unique()}

    def bulk(s):
        return (2 * len(s["adverse_events"]) + 2 * len(s["discuss"]) + s["window_passed"] + s["last_unscored"]
                + (s["benefit"]["median"] is None) + s["sessions"] / 6)

    chosen = sorted(summaries, key=lambda p: bulk(summaries[p]))[-12:]
    html = {p: patient_summary_html(summaries[p], show_code=True) for p in chosen}
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 725, "height": 1000})  # Letter less 12 mm margins, 96 dpi
        page.emulate_media(media="print")
        heights = {}
        for patient, text in html.items():
            page.set_content(text)
            heights[patient] = page.evaluate("() => document.querySelector('main').getBoundingClientRect().height")
        tallest = sorted(heights, key=heights.get)[-3:]
        for patient in tallest:
            page.set_content(html[patient])
            for paper in ("A4", "Letter"):
                assert pdf_pages(page.pdf(format=paper)) == 1, (patient, paper, heights[patient])
