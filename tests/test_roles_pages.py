"""The role rules on every page, with AppTest and st.user stubbed (the browser tests sign in for real against an
OpenID Connect provider: tests/test_signin_browser.py). Signed-in mode is on because the run's secrets hold an
[auth] section; each test has its own store (for the audit rows) and roles file."""
from __future__ import annotations

import re
import time

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import audit
from tests.app_support import DASHBOARD, TIMEOUT, no_errors, shown, texts

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "q3J9x_V2mKp8ZrT5wYbN1cLd4FgHs7UeAi0oXjQvRt6",
        "client_id": "outcomes", "client_secret": "s3cret",
        "server_metadata_url": "https://login.clinic.example/.well-known/openid-configuration"}
ROLES = """
[users."lead@clinic.example"]
role = "lead"
[users."dr.four@clinic.example"]
role = "practitioner"
practitioner_id = "PR04"
[users."data@clinic.example"]
role = "analyst"
[groups."outcomes-leads"]
role = "lead"
"""
SAMPLE = pd.read_csv(DASHBOARD.rsplit("/", 1)[0] + "/data/sample/sessions.csv",
                     usecols=["patient_id", "practitioner_id"])
PR04 = set(SAMPLE.loc[SAMPLE["practitioner_id"] == "PR04", "patient_id"])
NOT_PR04 = sorted(set(SAMPLE["patient_id"]) - PR04)
PAGES = {"overview": "views/overview.py", "patients": "views/patients.py", "compare": "views/compare.py",
         "data": "views/data.py", "audit": "views/audit_page.py"}


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """A store and a roles file of this test's own."""
    db = tmp_path / "outcomes.duckdb"
    roles = tmp_path / "roles.toml"
    roles.write_text(ROLES, encoding="utf-8")
    monkeypatch.setenv("OUTCOMES_DB", str(db))
    monkeypatch.setenv("OUTCOMES_ROLES_FILE", str(roles))
    monkeypatch.delenv("OUTCOMES_SESSION_HOURS", raising=False)
    monkeypatch.delenv("OUTCOMES_REQUIRE_SIGNIN", raising=False)
    return db, roles


def run_as(claims: dict | None, page: str | None = None, auth: dict | None = AUTH) -> AppTest:
    """The dashboard in signed-in mode (auth given) for an account with these ID-token claims (None: signed out)."""
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    if auth is not None:
        at.secrets["auth"] = auth
    at.user = {"is_logged_in": False} if claims is None else {"is_logged_in": True, "iat": time.time(), **claims}
    at.run()
    if page:
        at.switch_page(PAGES[page]).run()
    return at


def known_pages(at: AppTest) -> list[str]:
    """The pages the navigation registered for this user (AppTest names them when asked for another)."""
    with pytest.raises(ValueError, match="Known pages") as refused:
        at.switch_page("views/sidebar.py")  # a file, but no page
    return sorted(re.findall(r"views/(\w+)\.py", str(refused.value).split("Known pages")[1]))


def everything_shown(at: AppTest) -> str:
    parts = [texts(at), *(t.value for t in at.title), *(b.label for b in at.button)]
    parts += [str(df.value.to_csv()) for df in at.dataframe]
    return "\n".join(parts)


def test_before_sign_in_there_is_only_the_sign_in_page(setup):
    at = run_as(None)
    no_errors(at)
    assert [t.value for t in at.title] == ["Toxin outcomes"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert "ask your clinic lead" in texts(at).lower()
    assert not at.get("plotly_chart") and not at.dataframe and not at.metric and not at.sidebar.children
    shown = everything_shown(at)
    assert not any(code in shown for code in SAMPLE["patient_id"].unique())
    assert "sessions.csv" not in shown and "Sample data" not in shown
    assert audit.read(setup[0]).empty  # nobody to audit yet


def test_a_signed_in_account_without_a_role_sees_no_data_and_the_refusal_is_audited(setup):
    at = run_as({"email": "Stranger@Elsewhere.example", "sub": "s1"})
    assert "You are signed in as **stranger@elsewhere.example** but have no access; ask your clinic lead." in texts(at)
    assert [b.label for b in at.button] == ["Sign out"]
    assert not at.get("plotly_chart") and not at.dataframe and not at.metric
    rows = audit.read(setup[0])
    assert rows[["user", "role", "action", "outcome"]].values.tolist() == [
        ["stranger@elsewhere.example", "none", "sign_in_refused", "refused: no role"]]


def test_an_unverified_email_is_refused(setup):
    at = run_as({"email": "lead@clinic.example", "email_verified": False})
    assert "but have no access" in texts(at) and not at.get("plotly_chart")


@pytest.mark.parametrize("email, pages", [
    ("dr.four@clinic.example", ["compare", "overview", "patients"]),
    ("lead@clinic.example", ["audit_page", "compare", "data", "overview", "patients"]),
    ("data@clinic.example", ["audit_page", "compare", "data", "overview", "patients"]),
])
def test_each_role_has_its_pages(setup, email, pages):
    at = run_as({"email": email})
    no_errors(at)
    assert known_pages(at) == pages
    role = {"dr.four": "practitioner", "lead": "lead", "data": "analyst"}[email.split("@")[0]]
    assert shown(at.sidebar.caption[0].value) == f":material/account_circle: Signed in as **{email}** ({role})"
    assert "Sign out" in [b.label for b in at.sidebar.button]


def test_a_group_claim_gives_its_role(setup):
    at = run_as({"email": "someone@clinic.example", "groups": ["outcomes-leads"]})
    assert at.sidebar.caption[0].value.endswith("(lead)")
    assert "data" in known_pages(at)


def test_a_practitioner_sees_the_whole_clinic_on_the_overview_but_starts_filtered_to_their_own(setup):
    at = run_as({"email": "dr.four@clinic.example"})
    no_errors(at)
    assert at.sidebar.multiselect(key="filter_practitioner_id").value == ["PR04"]
    assert at.get("plotly_chart")  # aggregates are theirs to see
    at.sidebar.multiselect(key="filter_practitioner_id").set_value([]).run()
    no_errors(at)
    assert at.get("plotly_chart")


def test_a_practitioner_sees_only_their_own_patients_on_the_patients_page(setup):
    at = run_as({"email": "dr.four@clinic.example"}, "patients")
    no_errors(at)
    assert "Your patients only: the 86 patients with a session by PR04." in texts(at)
    watchlist = at.dataframe[0].value
    assert len(watchlist) > 0 and set(watchlist["Patient"]) <= PR04  # the worklist (issue 13)
    choices = at.selectbox(key="patient_choice").options
    assert all(option.split(" · ")[0] in PR04 for option in choices)
    at.sidebar.multiselect(key="filter_practitioner_id").set_value([]).run()  # the whole clinic's sessions
    assert set(at.dataframe[0].value["Patient"]) <= PR04


def test_a_practitioner_typing_another_practitioners_patient_code_is_refused_and_audited(setup):
    at = run_as({"email": "dr.four@clinic.example"}, "patients")
    other = NOT_PR04[0]
    at.text_input(key="patient_code").input(other).run()
    no_errors(at)
    assert f"**{other}** is not one of your patients (no session by PR04), so their record is not shown." in texts(at)
    assert not [c for c in at.get("plotly_chart") if "fig_patient" in str(c.proto.id)]
    shown_tables = [df.value for df in at.dataframe]
    assert not any(other in df.to_csv() for df in shown_tables)
    viewed = audit.read(setup[0], action="view_patient")
    first = at.selectbox(key="patient_choice").value.split(" · ")[0]  # the watchlist's first, shown on arrival
    assert viewed[["user", "role", "object", "outcome"]].values.tolist() == [
        ["dr.four@clinic.example", "practitioner", other, "refused: not one of their patients"],
        ["dr.four@clinic.example", "practitioner", first, "ok"]]
    # a code that exists nowhere gets the same answer: a practitioner cannot probe which codes exist
    at.text_input(key="patient_code").input("ZZ-NO-SUCH").run()
    assert "**ZZ-NO-SUCH** is not one of your patients" in texts(at)


def test_a_practitioner_opening_their_own_patient_sees_the_record_and_it_is_audited(setup):
    at = run_as({"email": "dr.four@clinic.example"}, "patients")
    own = sorted(PR04)[0]
    at.text_input(key="patient_code").input(own).run()
    no_errors(at)
    assert "is not one of your patients" not in texts(at)
    assert any(own in df.value.to_csv() for df in at.dataframe)
    rows = audit.read(setup[0], action="view_patient")
    assert rows[["object", "outcome"]].values.tolist()[0] == [own, "ok"]


def test_a_lead_sees_every_patient_and_the_data_page_read_only(setup):
    at = run_as({"email": "lead@clinic.example"}, "patients")
    other = NOT_PR04[0]
    at.text_input(key="patient_code").input(other).run()
    assert "is not one of your patients" not in texts(at)
    at.switch_page(PAGES["data"]).run()
    no_errors(at)
    assert not at.get("file_uploader")
    labels = [b.label for b in at.button]
    assert not any(word in label for label in labels for word in ("Import", "Undo", "Erase"))
    assert "Uploading, importing, undoing and erasing are for the clinic's analysts." in texts(at)


def test_an_analyst_has_the_upload(setup):
    at = run_as({"email": "data@clinic.example"}, "data")
    no_errors(at)
    assert at.get("file_uploader")
    assert "Erase this patient" not in [b.label for b in at.button]  # nothing to erase in an empty store


def test_the_audit_page_lists_the_rows_for_a_lead(setup):
    at = run_as({"email": "lead@clinic.example"}, "patients")
    first = at.selectbox(key="patient_choice").value  # the watchlist's first patient, shown on arrival
    at.switch_page(PAGES["audit"]).run()
    no_errors(at)
    table = at.dataframe[0].value
    assert table[["user", "role", "action", "object"]].values.tolist()[:4] == [
        ["lead@clinic.example", "lead", "view_page", "Audit"],
        ["lead@clinic.example", "lead", "view_patient", first],
        ["lead@clinic.example", "lead", "view_page", "Patients"],
        ["lead@clinic.example", "lead", "view_page", "Overview"]]
    assert table["action"].tolist()[-1] == "sign_in"
    at.selectbox(key="audit_action").set_value("sign_in").run()
    assert at.dataframe[0].value["action"].tolist() == ["sign_in"]


def test_a_role_change_takes_effect_at_the_next_page_load(setup):
    _, roles = setup
    at = run_as({"email": "data@clinic.example"})
    assert "data" in known_pages(at)
    roles.write_text(ROLES.replace('[users."data@clinic.example"]\nrole = "analyst"',
                                   '[users."data@clinic.example"]\nrole = "practitioner"\npractitioner_id = "PR01"'),
                     encoding="utf-8")
    at.run()
    assert known_pages(at) == ["compare", "overview", "patients"]
    roles.write_text(ROLES.replace('[users."data@clinic.example"]\nrole = "analyst"\n', ""), encoding="utf-8")
    at.run()
    assert "but have no access" in texts(at) and not at.get("plotly_chart")


def test_an_old_sign_in_is_signed_out_and_audited(setup, monkeypatch):
    monkeypatch.setenv("OUTCOMES_SESSION_HOURS", "1")
    at = run_as({"email": "lead@clinic.example", "iat": time.time() - 3601})
    assert not at.get("plotly_chart") and not at.dataframe
    assert at.user.get("is_logged_in") is False  # st.logout() cleared the identity
    rows = audit.read(setup[0])
    assert rows[["user", "role", "action", "outcome"]].values.tolist() == [
        ["lead@clinic.example", "lead", "sign_out", "expired"]]


def test_a_broken_roles_file_serves_no_one(setup):
    _, roles = setup
    roles.write_text('[users."lead@clinic.example"]\nrole = "boss"\n', encoding="utf-8")
    at = run_as({"email": "lead@clinic.example"})
    assert "This dashboard is not set up correctly, so it shows nothing." in texts(at)
    assert "role must be one of lead, practitioner, analyst" in texts(at)
    assert not at.get("plotly_chart") and not at.dataframe


def test_a_weak_cookie_secret_refuses_to_serve_with_the_command_that_makes_one(setup):
    at = run_as({"email": "lead@clinic.example"}, auth=AUTH | {"cookie_secret": "my-secret"})
    shown = texts(at)
    assert "too short or too simple" in shown and "secrets.token_urlsafe(48)" in shown
    assert not at.get("plotly_chart") and not at.dataframe


def test_require_signin_without_auth_refuses_to_serve(setup, monkeypatch):
    monkeypatch.setenv("OUTCOMES_REQUIRE_SIGNIN", "1")
    at = run_as(None, auth=None)
    assert "OUTCOMES_REQUIRE_SIGNIN=1 asks for sign-in" in texts(at)
    assert not at.get("plotly_chart") and not at.dataframe


def test_local_mode_says_so_on_every_page_and_audits_the_os_user(setup):
    at = run_as(None, auth=None)
    user = audit.os_user()
    for page in PAGES:
        at.switch_page(PAGES[page]).run()
        no_errors(at)
        assert at.sidebar.caption[0].value.startswith(":material/computer: **Local mode: no sign-in, this computer "
                                                      "only**")
    rows = audit.read(setup[0], action="view_page")
    assert rows["object"].tolist() == ["Audit", "Data", "Compare", "Patients", "Overview"]
    assert set(rows["user"]) == {user} and set(rows["role"]) == {"local"}


def test_the_meeting_report_is_offered_to_a_lead_but_not_to_a_practitioner(setup):
    # issue 13: the report is two buttons above the Overview's tabs (built on click), no longer an expander
    lead = run_as({"email": "lead@clinic.example"})
    no_errors(lead)
    assert {"dl_report_html_overview", "dl_report_xlsx_overview"} <= {b.key for b in lead.get("download_button")}
    practitioner = run_as({"email": "dr.four@clinic.example"})
    assert not [b for b in practitioner.get("download_button") if b.key.startswith("dl_report")]


def test_an_analyst_erases_a_patient_and_the_audit_row_names_the_batch_not_the_code(setup, tmp_path):
    from analytics import store
    from tests.test_store_compaction import GONE, KEEP, do_import, write

    db, _ = setup
    do_import(write(tmp_path / "a.csv", KEEP, GONE), db)
    at = run_as({"email": "data@clinic.example"}, "data")
    at.text_input(key="purge_code").input("ZQXPURGE01").run()
    at.checkbox(key="purge_confirm").check().run()
    at.button(key="purge_button").click().run()
    no_errors(at)
    assert "Erased the patient's 1 session(s)" in texts(at)
    assert store.read_sessions(db)["patient_id"].tolist() == ["ZQXKEEP02"]
    rows = audit.read(db, action="purge")
    assert rows[["user", "role", "object", "outcome"]].values.tolist() == [
        ["data@clinic.example", "analyst", "batch 2", "ok"]]
    assert not audit.read(db)["object"].str.contains("ZQXPURGE01").any()


def test_a_secrets_file_with_a_typo_serves_no_one_instead_of_falling_back_to_local_mode(setup, tmp_path):
    from streamlit import config

    broken = tmp_path / "secrets.toml"
    broken.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback\n', encoding="utf-8")
    saved = config.get_option("secrets.files")
    config.set_option("secrets.files", [str(broken)])
    try:
        at = run_as(None, auth=None)  # Streamlit skips the broken file: st.secrets has no [auth]
    finally:
        config.set_option("secrets.files", saved)
    assert "This dashboard is not set up correctly, so it shows nothing." in texts(at)
    assert "is not valid TOML" in texts(at)
    assert not at.get("plotly_chart") and not at.dataframe and not at.sidebar.children
    assert audit.read(setup[0]).empty


def _store_action_as_lead(db_path: str) -> None:
    """A lead's run calling the store's undo and erasure directly (as a forged widget event would)."""
    import streamlit as st

    from analytics.access import Access
    from views import keys, store_panel

    st.session_state[keys.ACCESS] = Access("lead@clinic.example", "lead")
    store_panel._undo(1)
    store_panel._purge("ZQXPURGE01")
    st.write(st.session_state.get(keys.STORE_MESSAGE, ""))


def test_a_lead_cannot_change_the_store_even_by_calling_the_actions(setup, tmp_path):
    from analytics import store
    from tests.test_store_compaction import GONE, KEEP, do_import, write

    db, _ = setup
    do_import(write(tmp_path / "a.csv", KEEP, GONE), db)
    at = AppTest.from_function(_store_action_as_lead, args=(str(db),), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "Not done: your role does not change the clinic's store." in texts(at)
    assert sorted(store.read_sessions(db)["patient_id"]) == ["ZQXKEEP02", "ZQXPURGE01"]
    assert audit.read(db)[["user", "role", "action", "object", "outcome"]].values.tolist() == [
        ["lead@clinic.example", "lead", "purge", "", "refused: not in this role"],
        ["lead@clinic.example", "lead", "undo", "batch 1", "refused: not in this role"]]
