"""The Patients page's "Summary for the patient" button (issue 16) in AppTest: offered under the chosen patient's
timeline for a patient the user may see, never for another practitioner's patient. The click itself (a download,
audited from its on_click) is exercised in a real browser: tests/test_patient_summary_browser_app.py."""
from __future__ import annotations

from analytics import audit
from analytics.patient_summary import AUDIT_OUTCOME
from tests.app_support import no_errors, texts
from tests.test_roles_pages import NOT_PR04, PR04, run_as, setup  # noqa: F401 - setup is a fixture

BUTTON = "dl_patient_summary"


def downloads(at) -> set:
    return {b.key for b in at.get("download_button")}


def test_offered_for_a_practitioners_own_patient(setup):  # noqa: F811
    at = run_as({"email": "dr.four@clinic.example"}, "patients")
    own = sorted(PR04)[0]
    at.text_input(key="patient_code").input(own).run()
    no_errors(at)
    assert BUTTON in downloads(at)
    assert "**Summary for the patient**: one page in plain words" in texts(at)
    at.checkbox(key="summary_show_code").check().run()
    no_errors(at)
    assert BUTTON in downloads(at)
    # building the page is not the event: the row is written when the page is taken (the button's on_click)
    assert not (audit.read(setup[0], action="view_patient")["outcome"] == AUDIT_OUTCOME).any()


def test_never_offered_for_another_practitioners_patient(setup):  # noqa: F811
    at = run_as({"email": "dr.four@clinic.example"}, "patients")
    other = NOT_PR04[0]
    at.text_input(key="patient_code").input(other).run()
    no_errors(at)
    assert BUTTON not in downloads(at)
    assert "Summary for the patient" not in texts(at)


def test_offered_to_a_lead_for_any_patient(setup):  # noqa: F811
    at = run_as({"email": "lead@clinic.example"}, "patients")
    at.text_input(key="patient_code").input(NOT_PR04[0]).run()
    no_errors(at)
    assert BUTTON in downloads(at)
