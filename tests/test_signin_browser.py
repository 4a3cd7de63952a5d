"""Sign-in end to end: the dashboard under `streamlit run`, a real OpenID Connect provider (`oidc-provider-mock`,
started here on 127.0.0.1 with predefined users), Debian's chromium through Playwright.

Covers issue 10's "Checked by": no data before sign-in (not even in the page's HTML, at any page's address); an
account with no role, and an unverified claim of a lead's e-mail, refused; each role's pages and actions (a role
from the provider's `groups` claim too); a practitioner starts on their own sessions, sees the clinic's aggregates
without that filter, and only the patients they treated in every table download and patient timeline, and is
refused another practitioner's patient by code; a change in the roles file at the next page load; sign-out
(through the provider's end-session page); an expired sign-in; the audit rows of all of it. Prints the time from
clicking "Sign in" to the Overview's first chart.

The app reads a small file written here (tests/oidc_support.py: two practitioners, DR01 and DR02, and one patient
both treated) and keeps its store (the audit trail) in a temporary directory. The audit test reads the rows the
tests before it left, so it runs last and checks only the flows that ran. Skipped when chromium, Playwright or
oidc-provider-mock is missing.
"""
from __future__ import annotations

import csv
import importlib.util
import io
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from analytics import audit
from tests import oidc_support as oidc
from tests.browser_support import CHROMIUM, chromium

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright (python) is not installed")
if importlib.util.find_spec("oidc_provider_mock") is None:
    pytest.skip("oidc-provider-mock is not installed (requirements.txt)", allow_module_level=True)
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium): browser tests skipped",
                allow_module_level=True)

LEAD, PRACTITIONER, ANALYST, STRANGER, GROUP_LEAD = "lead", "drone", "analyst", "stranger", "grouplead"
IMPOSTOR = "impostor"  # claims the lead's e-mail, which the provider marks unverified
USERS = [  # the provider's predefined accounts (sub -> claims); the practitioner's e-mail in mixed case
    {"sub": LEAD, "email": "lead@clinic.example"},
    {"sub": PRACTITIONER, "email": "Dr.One@Clinic.Example"},
    {"sub": ANALYST, "email": "data@clinic.example"},
    {"sub": STRANGER, "email": "stranger@elsewhere.example"},
    {"sub": GROUP_LEAD, "email": "deputy@clinic.example", "groups": ["outcomes-leads"]},
    {"sub": IMPOSTOR, "email": "Lead@clinic.example", "email_verified": False},
]
EMAIL = {u["sub"]: u["email"].lower() for u in USERS}
ROLES_TOML = """\
[users."lead@clinic.example"]
role = "lead"

[users."dr.one@clinic.example"]
role = "practitioner"
practitioner_id = "DR01"

[users."data@clinic.example"]
role = "analyst"

[groups."outcomes-leads"]
role = "lead"
"""
NAV = {  # role -> the pages in the navigation, in order
    "practitioner": ["Overview", "Patients", "Compare"],
    "lead": ["Overview", "Patients", "Compare", "Data", "Audit"],
    "analyst": ["Overview", "Patients", "Compare", "Data", "Audit"],
}
OWN = oidc.patients_of("DR01")
OTHERS = [p for p in oidc.ALL_PATIENTS if p not in OWN]
CHART = '[data-testid="stPlotlyChart"]'
TABLE = '[data-testid="stDataFrame"]'
UPLOADER = '[data-testid="stFileUploader"]'
DONE: set[str] = set()  # the flows that ran, for the audit test


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("signin")


@pytest.fixture(scope="module")
def provider(workdir):
    provider = oidc.start_provider(USERS, workdir)
    yield provider
    oidc.stop(provider.process)


def _clinic_env(workdir: Path, name: str, **extra) -> dict:
    roles = workdir / f"{name}_roles.toml"
    roles.write_text(ROLES_TOML, encoding="utf-8")
    return {"OUTCOMES_DATA_FILE": str(oidc.tiny_sessions_csv(workdir / "sessions.csv")),
            "OUTCOMES_DB": str(workdir / f"{name}_store.duckdb"), "OUTCOMES_ROLES_FILE": str(roles), **extra}


@pytest.fixture(scope="module")
def app(workdir, provider):
    """The dashboard in signed-in mode, with the roles above and its own store."""
    started = oidc.start_app(oidc.ROOT / "dashboard.py", workdir / "app", provider, _clinic_env(workdir, "clinic"))
    yield started
    oidc.stop(started.process)


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture()
def page(browser):
    """A fresh browser profile (no cookie) per test; nothing leaves this machine."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    oidc.block_outside(page)
    yield page
    context.close()


# --- reading the page -------------------------------------------------------------------------------------------

def sidebar_text(page) -> str:
    sidebar = page.locator('[data-testid="stSidebar"]')
    return sidebar.inner_text() if sidebar.count() else ""


def nav_pages(page) -> list[str]:
    labels = page.locator('[data-testid="stSidebarNav"] a [data-testid="stMarkdownContainer"]')
    return [labels.nth(i).inner_text().strip() for i in range(labels.count())]


def go(page, app, path: str = "") -> None:
    page.goto(f"{app.url}/{path}")
    oidc.wait_idle(page)


def open_page(page, title: str) -> None:
    """Open a page through the navigation, as a user does (keeps the browser session)."""
    page.locator('[data-testid="stSidebarNav"] a').filter(
        has=page.locator('[data-testid="stMarkdownContainer"]', has_text=re.compile(rf"^\s*{title}\s*$"))).click()
    oidc.wait_idle(page)


def assert_no_data(page, app) -> None:
    """Nothing from the data: no chart, table, upload, sidebar data, file name or patient code, even in the HTML."""
    assert page.locator(CHART).count() == 0, "a chart is drawn"
    assert page.locator(TABLE).count() == 0, "a table is drawn"
    assert page.locator(UPLOADER).count() == 0, "an upload widget is shown"
    html = page.content()
    text = page.locator("body").inner_text()
    assert "Sessions from" not in text and "As of" not in text, "the sidebar's data settings are shown"
    assert "sessions.csv" not in html and "Sample data" not in html, "a data file is named"
    leaked = [code for code in [*oidc.ALL_PATIENTS, "DR01", "DR02"] if code in html]
    assert leaked == [], f"{len(leaked)} patient or practitioner codes are in the page"


def assert_no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "an exception is shown"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, [errors.nth(i).inner_text() for i in range(errors.count())]


def assert_sign_in_page(page, app) -> None:
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
    oidc.wait_idle(page)
    assert page.get_by_text("Toxin outcomes").count() >= 1, "the product name is missing"
    assert page.get_by_role("button", name="Sign in", exact=True).count() == 1
    assert "ask your clinic lead" in shown_text(page).lower(), "the sign-in page does not say who to ask"
    assert_no_data(page, app)


def downloads(page) -> dict[str, list[dict]]:
    """Every visible CSV download button on the page, pressed: label -> the rows of the file."""
    files = {}
    buttons = page.locator('[data-testid="stDownloadButton"] button')
    for i in range(buttons.count()):
        button = buttons.nth(i)
        if not button.is_visible():  # in a closed tab or expander
            continue
        label = button.inner_text().strip().splitlines()[-1].strip()  # without the icon's name
        with page.expect_download(timeout=30_000) as caught:
            button.click()
        text = Path(caught.value.path()).read_text(encoding="utf-8-sig")
        files[label] = list(csv.DictReader(io.StringIO(text)))
        oidc.wait_idle(page)
    return files


def metric_value(page, label: str) -> str:
    tile = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=re.compile(rf"^\s*{label}\s*$"))).first
    return tile.locator('[data-testid="stMetricValue"]').inner_text().strip()


def patients_in(rows: list[dict]) -> set[str]:
    return {row[c] for row in rows for c in ("patient_id", "patient", "Patient") if row.get(c)}


INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))  # markdown_text puts word joiners in e-mails


def shown_text(page, selector: str = "body") -> str:
    """The text a reader sees in `selector`: invisible joiners removed, spaces collapsed."""
    where = page.locator(selector)
    return " ".join(where.inner_text().translate(INVISIBLE).split()) if where.count() else ""


def wait_for_text(page, expected: str, selector: str = "body", timeout: float = 30) -> None:
    """Until `expected` (case-insensitive) is in the text shown in `selector`."""
    deadline = time.time() + timeout
    while expected.lower() not in shown_text(page, selector).lower():
        if time.time() > deadline:
            raise AssertionError(f"{expected!r} is not shown within {timeout} s")
        page.wait_for_timeout(200)


def signed_in_as(page, sub: str, role: str) -> None:
    wait_for_text(page, f"Signed in as {EMAIL[sub]} ({role})", '[data-testid="stSidebar"]')
    page.get_by_role("button", name="Sign out", exact=True).wait_for(timeout=30_000)


# --- the harness itself ----------------------------------------------------------------------------------------

def test_the_provider_round_trip_signs_in_and_out_of_a_minimal_app(workdir, provider, page):
    """The harness on its own: st.login against the mock provider, st.user's claims, st.logout (no dashboard)."""
    script = workdir / "minimal" / "minimal_app.py"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        "import streamlit as st\n"
        "if not st.user.is_logged_in:\n"
        "    if st.button('Sign in'):\n"
        "        st.login()\n"
        "else:\n"
        "    claims = st.user.to_dict()\n"
        "    st.markdown(f\"claims: {claims['sub']} / {claims['email']} / \"\n"
        "                f\"{claims['groups'][0]} / {'iat' in claims}\")\n"
        "    if st.button('Sign out'):\n"
        "        st.logout()\n", encoding="utf-8")
    minimal = oidc.start_app(script, workdir / "minimal", provider, cwd=script.parent)
    try:
        oidc.sign_in(page, minimal, GROUP_LEAD)
        claims = f"claims: {GROUP_LEAD} / deputy@clinic.example / outcomes-leads / True"
        page.get_by_text(claims).wait_for(timeout=10_000)
        oidc.sign_out(page, minimal)
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=10_000)
        page.reload()
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=10_000)
    finally:
        oidc.stop(minimal.process)


# --- the dashboard -----------------------------------------------------------------------------------------------

def test_before_sign_in_every_address_shows_only_the_sign_in_page(app, page):
    for path in ("", "patients", "data"):
        go(page, app, path)
        assert_sign_in_page(page, app)
        assert nav_pages(page) == [], "the navigation is shown before sign-in"


def test_an_account_with_no_role_is_refused_and_sees_no_data(app, page):
    oidc.sign_in(page, app, STRANGER)
    wait_for_text(page, f"You are signed in as {EMAIL[STRANGER]} but have no access; ask your clinic lead.")
    assert page.get_by_role("button", name="Sign out", exact=True).count() == 1
    assert_no_data(page, app)
    for path in ("patients", "data", "audit"):
        go(page, app, path)
        assert_no_data(page, app)
    DONE.add("stranger")


def test_an_unverified_e_mail_gets_no_role_even_when_it_is_a_leads(app, page):
    oidc.sign_in(page, app, IMPOSTOR)
    page.get_by_role("button", name="Sign out", exact=True).wait_for(timeout=30_000)
    assert nav_pages(page) == []
    assert re.search(r"Signed in as .*\((lead|practitioner|analyst)\)", shown_text(page), re.I) is None
    assert_no_data(page, app)
    DONE.add("impostor")


def test_lead_sees_every_page_and_patient_but_cannot_change_the_store(app, page, capsys):
    go(page, app)
    page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
    started = time.perf_counter()
    oidc.click_sign_in(page)
    oidc.choose_user(page, app, LEAD)
    back = time.perf_counter() - started
    page.locator(CHART).first.wait_for(state="visible", timeout=60_000)
    seconds = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n[sign-in timing] clicking 'Sign in' to the Overview's first chart: {seconds:.2f} s, of which "
              f"{back:.2f} s to be back on the app from the provider (oidc-provider-mock on 127.0.0.1, headless "
              "chromium, the first Overview of this server process)")
    (app.workdir / "signin_seconds.txt").write_text(f"{seconds:.3f}\n", encoding="utf-8")
    oidc.wait_idle(page)
    signed_in_as(page, LEAD, "lead")
    assert nav_pages(page) == NAV["lead"]
    assert page.locator(CHART).count() >= 1
    assert metric_value(page, "Patients") == str(len(oidc.ALL_PATIENTS))
    assert "Download report (HTML)" in shown_text(page), "a lead is not offered the report"  # issue 13: buttons
    assert_no_error(page)

    open_page(page, "Patients")
    watchlist = downloads(page)
    listed = {label: patients_in(rows) for label, rows in watchlist.items()}
    assert listed["Download the worklist (CSV)"] == set(oidc.ALL_PATIENTS)

    open_page(page, "Data")
    assert page.locator(UPLOADER).count() == 0, "a lead is offered an upload"
    for action in ("Import", "Undo", "Purge"):
        assert page.get_by_role("button", name=re.compile(rf"^{action}\b")).count() == 0, f"a lead is offered {action}"
    assert_no_error(page)

    open_page(page, "Audit")
    assert page.locator(TABLE).count() >= 1, "the audit page shows no table"
    assert_no_error(page)
    DONE.add("lead")


def test_a_group_from_the_provider_gives_its_role(app, page):
    oidc.sign_in(page, app, GROUP_LEAD)
    signed_in_as(page, GROUP_LEAD, "lead")
    assert nav_pages(page) == NAV["lead"]


def test_analyst_has_the_lead_pages_and_the_upload(app, page):
    oidc.sign_in(page, app, ANALYST)
    signed_in_as(page, ANALYST, "analyst")
    assert nav_pages(page) == NAV["analyst"]
    open_page(page, "Data")
    assert page.locator(UPLOADER).count() >= 1, "an analyst has no upload widget"
    assert_no_error(page)
    DONE.add("analyst")


def test_practitioner_sees_only_own_patients_everywhere_and_is_refused_another_by_code(app, page):
    oidc.sign_in(page, app, PRACTITIONER)
    signed_in_as(page, PRACTITIONER, "practitioner")
    assert nav_pages(page) == NAV["practitioner"]
    assert page.locator(CHART).count() >= 1, "the clinic's Overview is not drawn for a practitioner"
    assert metric_value(page, "Patients") == str(len(OWN)), "the practitioner's own filter is not the default"
    assert "Download report (HTML)" not in shown_text(page), "a practitioner is offered the clinic's report"
    # Their own sessions are only the default filter: without it, the clinic's aggregates; patient-level tables
    # (below) stay limited to their patients all the same.
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Remove DR01").click()
    oidc.wait_idle(page)
    assert metric_value(page, "Patients") == str(len(oidc.ALL_PATIENTS)), "the clinic's Overview is not shown"

    for title in ("Overview", "Compare"):
        open_page(page, title)
        assert_no_error(page)
        html = page.content()
        assert [code for code in OTHERS if code in html] == [], f"another practitioner's patient on {title}"
        for label, rows in downloads(page).items():
            assert patients_in(rows) <= set(OWN), f"another practitioner's patient in {label} on {title}"
            if label == "Download breakdown by product (CSV)":  # Compare: the clinic's aggregates
                assert [row["patients"] for row in rows] == [str(len(oidc.ALL_PATIENTS))]

    open_page(page, "Patients")
    assert_no_error(page)
    files = downloads(page)
    assert patients_in(files["Download the worklist (CSV)"]) == set(OWN)
    for label, rows in files.items():
        assert patients_in(rows) <= set(OWN), f"another practitioner's patient in {label}"
    assert [code for code in OTHERS if code in page.content()] == []

    code_box = page.get_by_label("Or type any patient code")
    other = OTHERS[0]
    code_box.fill(other)
    code_box.press("Enter")
    oidc.wait_idle(page)
    wait_for_text(page, "not one of your patients")
    assert page.locator(CHART).count() == 0, "a timeline is drawn for another practitioner's patient"
    for label, rows in downloads(page).items():
        assert patients_in(rows) <= set(OWN), f"another practitioner's patient in {label}"
        assert other not in label
    assert [code for code in OTHERS if code != other and code in page.content()] == []

    code_box.fill(oidc.SHARED_PATIENT)  # treated by DR02 first, then by DR01: one of theirs
    code_box.press("Enter")
    oidc.wait_idle(page)
    assert "not one of your patients" not in shown_text(page)
    assert page.locator(CHART).count() >= 1, "no timeline for a patient the practitioner treated"
    files = downloads(page)
    assert any(patients_in(rows) == {oidc.SHARED_PATIENT} for rows in files.values()), list(files)

    for path in ("data", "audit"):  # typed addresses of pages the role does not have
        go(page, app, path)
        assert page.locator(UPLOADER).count() == 0, f"/{path} offers an upload to a practitioner"
        assert page.get_by_role("button", name=re.compile(r"^(Import|Undo|Purge)\b")).count() == 0
        assert EMAIL[LEAD] not in shown_text(page), f"/{path} shows the audit trail to a practitioner"
    DONE.add("practitioner")


def test_a_role_change_in_the_roles_file_applies_at_the_next_page_load(app, page):
    roles = Path(app.env["OUTCOMES_ROLES_FILE"])
    oidc.sign_in(page, app, ANALYST)
    signed_in_as(page, ANALYST, "analyst")
    try:
        roles.write_text(ROLES_TOML.replace('[users."data@clinic.example"]\nrole = "analyst"',
                                            '[users."data@clinic.example"]\nrole = "practitioner"\n'
                                            'practitioner_id = "DR02"'), encoding="utf-8")
        go(page, app, "data")
        signed_in_as(page, ANALYST, "practitioner")
        assert nav_pages(page) == NAV["practitioner"]
        assert page.locator(UPLOADER).count() == 0
        go(page, app, "patients")
        assert patients_in(downloads(page)["Download the worklist (CSV)"]) == set(oidc.patients_of("DR02"))
        roles.write_text(ROLES_TOML.replace('[users."data@clinic.example"]\nrole = "analyst"\n', ""),
                         encoding="utf-8")
        go(page, app)
        wait_for_text(page, f"You are signed in as {EMAIL[ANALYST]} but have no access")
        assert_no_data(page, app)
    finally:
        roles.write_text(ROLES_TOML, encoding="utf-8")
    DONE.add("role_change")


def test_sign_out_returns_to_the_sign_in_page(app, page):
    oidc.sign_in(page, app, LEAD)
    signed_in_as(page, LEAD, "lead")
    oidc.sign_out(page, app)
    assert_sign_in_page(page, app)
    page.reload()
    assert_sign_in_page(page, app)
    DONE.add("sign_out")


def test_an_expired_sign_in_shows_the_sign_in_page_again(workdir, provider, page):
    hours = 0.002  # 7.2 s: long enough for the first page after the provider on a busy machine, short for a test
    expiring = oidc.start_app(oidc.ROOT / "dashboard.py", workdir / "expiring", provider,
                              _clinic_env(workdir, "expiring", OUTCOMES_SESSION_HOURS=str(hours)))
    try:
        go(page, expiring)
        page.get_by_role("button", name="Sign in", exact=True).wait_for(timeout=30_000)
        oidc.click_sign_in(page)
        signed = time.time()
        oidc.choose_user(page, expiring, LEAD)
        signed_in_as(page, LEAD, "lead")
        time.sleep(max(0.0, signed + hours * 3600 + 1.0 - time.time()))
        page.reload()  # the app ends the sign-in (st.logout: the provider's end-session page, then the app)
        oidc.back_to_sign_in(page, expiring)
        assert_sign_in_page(page, expiring)
        assert "signed in as" not in shown_text(page).lower()
    finally:
        oidc.stop(expiring.process)
    ended = audit.read(Path(expiring.env["OUTCOMES_DB"]), action="sign_out")
    assert ended[["user", "role", "outcome"]].values.tolist() == [[EMAIL[LEAD], "lead", "expired"]]


def test_the_audit_trail_holds_every_flow(app):
    """The rows the flows above left in the store, read as the audit page and command line read them."""
    if not DONE:
        pytest.skip("no sign-in flow ran before this test (run the whole file)")
    rows = audit.read(Path(app.env["OUTCOMES_DB"]))
    assert list(rows.columns) == ["at", "user", "role", "action", "object", "outcome"]
    assert rows["at"].is_monotonic_decreasing, "not newest first"

    def of(sub: str, action: str | None = None) -> pd.DataFrame:
        mine = rows.loc[rows["user"] == EMAIL[sub]]
        return mine if action is None else mine.loc[mine["action"] == action]

    if "stranger" in DONE:  # refused once, and nothing else recorded: no page or patient was served
        assert of(STRANGER)[["role", "action", "outcome"]].values.tolist() == [
            ["none", "sign_in_refused", "refused: no role"]]
    if "impostor" in DONE:  # the unverified claim of the lead's e-mail, as claimed
        claimed = rows.loc[rows["user"] == "Lead@clinic.example"]
        assert claimed[["role", "action", "outcome"]].values.tolist() == [
            ["none", "sign_in_refused", "refused: no verified e-mail"]]
    if "lead" in DONE:
        assert set(of(LEAD, "sign_in")["role"]) == {"lead"}
        pages = of(LEAD, "view_page")
        assert {"Overview", "Patients", "Data", "Audit"} <= set(pages["object"])
        assert set(pages["role"]) == {"lead"} and set(pages["outcome"]) == {"ok"}
        assert f"worklist.csv ({len(oidc.ALL_PATIENTS)} rows)" in set(of(LEAD, "download")["object"])
    if "analyst" in DONE:
        assert set(of(ANALYST, "sign_in")["role"]) == {"analyst"}
        assert "Data" in set(of(ANALYST, "view_page").query("role == 'analyst'")["object"])
    if "practitioner" in DONE:
        assert set(of(PRACTITIONER)["role"]) == {"practitioner"}
        assert len(of(PRACTITIONER, "sign_in")) == 1
        patients = of(PRACTITIONER, "view_patient")
        assert patients.loc[patients["object"] == OTHERS[0], "outcome"].tolist() == [
            "refused: not one of their patients"]
        assert set(patients.loc[patients["object"] != OTHERS[0], "object"]) <= set(OWN)
        assert oidc.SHARED_PATIENT in set(patients.loc[patients["outcome"] == "ok", "object"])
        downloaded = of(PRACTITIONER, "download")["object"]
        watchlists = downloaded[downloaded.str.startswith("worklist.csv")]
        assert len(watchlists) >= 1 and set(watchlists) == {f"worklist.csv ({len(OWN)} rows)"}
        assert f"patient_{oidc.SHARED_PATIENT.lower()}.csv (4 rows)" in set(downloaded)
        assert not downloaded.str.contains("|".join(p.lower() for p in OTHERS)).any()
        assert set(of(PRACTITIONER, "view_page")["object"]) <= set(NAV["practitioner"])
    if "role_change" in DONE:  # the same account, as the roles file said at each page load
        changed = of(ANALYST)
        assert {"analyst", "practitioner", "none"} <= set(changed["role"])
        assert "refused: no role" in set(changed.loc[changed["action"] == "sign_in_refused", "outcome"])
    if "sign_out" in DONE:
        out = of(LEAD, "sign_out")
        assert out[["role", "outcome"]].values.tolist() == [["lead", "ok"]]
