"""User words in the pages' Markdown are shown as written (issue 9, item 6): a site, practitioner, patient code or
file label such as `[click](http://evil.example)`, `**x**` or `:smile:` is no link, bold run or emoji.

analytics.presentation.markdown_text is checked three ways: its exact output, the pages passing user words
through it (AppTest on a file with such names), and Streamlit's own renderer in chromium (skipped only when
Playwright or chromium is missing).
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from analytics.presentation import markdown_text
from tests.app_support import app, no_errors, texts
from tests.browser_support import CHROMIUM, LAUNCH_ARGS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "sessions.csv"
WJ = "\u2060"
LINK = "[click](http://evil.example)"
PAGE_LINK = "[click](evil)"
SITE = "_North_ <b>x</b> :red[y]"
HOSTILE = [LINK, "**x**", "http://evil.example", "www.evil.example", "jane@example.com", ":red[x]", ":smile:",
           ":material/home:", "$x^2$", "<b>x</b>", "A&E", "![i](http://e/x.png)", "# head", "- item", "~~s~~", "`c`",
           "<https://evil.example>", "&lt;b&gt;", "> q", "| a | b |", "___x___", "a\\", "x<!-- c -->y"]


# ---- the helper ------------------------------------------------------------------------------------------------
def test_markdown_text_escapes_what_markdown_reads():
    assert markdown_text(LINK) == f"\\[click\\]\\(http{WJ}\\:\\/\\/evil{WJ}\\.example\\)"
    assert markdown_text("**x**") == "\\*\\*x\\*\\*"
    assert markdown_text(":smile:") == "\\:smile\\:"
    assert markdown_text(":red[x]") == "\\:red\\[x\\]"
    assert markdown_text("www.evil.example") == f"www{WJ}\\.evil{WJ}\\.example"
    assert markdown_text("jane@example.com") == f"jane{WJ}@example{WJ}\\.com"
    assert markdown_text("$x^2$") == "\\$x\\^2\\$"
    assert markdown_text("A&E") == "A\\&E"


def test_plain_names_and_our_own_colons_are_unchanged():
    for plain in ("North Wing", "DR04", "P00091", "site: North, South; product: onabotulinumtoxinA", "Mary's"):
        assert markdown_text(plain) == plain
    assert markdown_text("St. Mary") == "St\\. Mary"
    assert markdown_text("line\nbreak\r\nhere") == "line break here"


# ---- the pages -------------------------------------------------------------------------------------------------
@pytest.fixture
def hostile_file(tmp_path, monkeypatch) -> Path:
    """The sample with markup in practitioner and site names, under a file name with markup (the source label)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    base, follow = header.index("baseline_pain"), header.index("followup_pain")

    def no_relief(line: str) -> str:  # PR04's patients get no pain relief: a clear outlier on the Compare funnel
        cells = line.split(",")
        if len(cells) == len(header) and cells[header.index("practitioner_id")] == "PR04" and cells[base]:
            cells[follow] = cells[base]
        return ",".join(cells)

    lines = [lines[0]] + [no_relief(line) for line in lines[1:]]
    # (no web address: the identifier guard refuses a column of them)
    text = "\n".join(lines).replace(",PR04,", f",{PAGE_LINK},").replace(",PR06,", ",**x** :smile:,")
    text = text.replace(",North,", f",{SITE},")
    path = tmp_path / "**label** [f](x).csv"
    path.write_text(text + "\n", encoding="utf-8")
    monkeypatch.setenv("OUTCOMES_DATA_FILE", str(path))
    return path


def test_the_pages_pass_user_words_through_markdown_text(hostile_file):
    at = app("views/compare.py")
    no_errors(at)
    said = texts(at, raw=True)
    assert markdown_text(hostile_file.name) in said  # the header's source label
    assert "[click](" not in said and "**x** :smile:" not in said
    assert f"**{markdown_text(PAGE_LINK)}**" in said or f"**{markdown_text('**x** :smile:')}**" in said  # outliers
    at.sidebar.multiselect(key="filter_site").select(SITE).run()
    no_errors(at)
    said = texts(at, raw=True)
    assert markdown_text(f"site: {SITE}") in said and SITE not in said

    at.switch_page("views/patients.py").run()
    at.text_input(key="patient_code").input(LINK).run()
    no_errors(at)
    assert f"patient code '{markdown_text(LINK)}'" in texts(at, raw=True)


# ---- Streamlit's renderer --------------------------------------------------------------------------------------
APP = """
import sys
sys.path.insert(0, {root!r})
import streamlit as st
from analytics.presentation import markdown_text
for i, case in enumerate({cases!r}):
    st.caption(f"**ours** CASE{{i}}: {{markdown_text(case)}} END")
st.button(f"Download {{markdown_text({link!r})}} (CSV)")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_streamlit_draws_escaped_words_as_written(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
    script = tmp_path / "page.py"
    script.write_text(APP.format(root=str(ROOT), cases=HOSTILE, link=LINK), encoding="utf-8")
    port = free_port()
    log = open(tmp_path / "streamlit.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                                "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                               cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://localhost:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.3)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            try:
                page = browser.new_page()
                page.goto(url)
                page.get_by_role("button", name="Download").wait_for(timeout=60_000)
                page.wait_for_timeout(500)
                shown = page.evaluate("""() => Array.from(document.querySelectorAll(
                    '[data-testid="stCaptionContainer"], button [data-testid="stMarkdownContainer"]')).map(el => ({
                    text: el.innerText, made: Array.from(el.querySelectorAll('*')).map(e => e.tagName.toLowerCase())
                        .filter(t => !['p', 'strong'].includes(t))}))""")
            finally:
                browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
    captions = [s for s in shown if "CASE" in s["text"]]
    assert len(captions) == len(HOSTILE)
    for i, (case, caption) in enumerate(zip(HOSTILE, captions)):
        assert caption["made"] == [], (i, caption["made"])  # no a, img, em, span, code, del, katex...
        expected = " ".join(case.split())
        assert caption["text"].replace(WJ, "") == f"ours CASE{i}: {expected} END", i
    button = [s for s in shown if s["text"].startswith("Download")]
    assert button and button[0]["made"] == [] and button[0]["text"].replace(WJ, "") == f"Download {LINK} (CSV)"
