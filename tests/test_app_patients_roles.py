"""The Patients page's worklist for a practitioner (signed-in mode, AppTest): only their own patients, and a
case-insensitive search that cannot be used to probe which codes exist elsewhere in the clinic."""
from __future__ import annotations

from tests.app_support import no_errors, texts
from tests.test_roles_pages import NOT_PR04, PR04, run_as, setup  # noqa: F401 - setup is a fixture


def test_a_practitioner_finds_their_own_patient_in_any_case(setup):  # noqa: F811
    at = run_as({"email": "dr.four@clinic.example"}, "patients")
    own = sorted(PR04)[0]
    at.text_input(key="patient_code").input(f" {own.lower()} ").run()
    no_errors(at)
    assert f"{own} · " in texts(at) and "is not one of your patients" not in texts(at)


def test_a_practitioner_typing_another_patients_code_in_lower_case_learns_nothing(setup):  # noqa: F811
    at = run_as({"email": "dr.four@clinic.example"}, "patients")
    other = NOT_PR04[0]
    at.text_input(key="patient_code").input(other.lower()).run()
    no_errors(at)
    text = texts(at)
    # refused with the code as typed: the canonical case would tell them the code exists
    assert f"**{other.lower()}** is not one of your patients" in text and other not in text
