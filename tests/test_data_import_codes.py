"""The Data page tells a date-order question and an identifier question from other refusals by reason code."""
from datetime import date

import pytest

from analytics.ingest import IngestResult, load_sessions
from analytics.reason_codes import Refusal
from tests.helpers import HEADER, csv_bytes, good_row
from views.data_import import asks_for_date_order, identifier_block


def refused(code: Refusal, message: str = "Refused.") -> IngestResult:
    return IngestResult.refused_with("sessions", code, message, "f.csv")


def test_the_date_order_question_is_chosen_by_code_not_by_wording():
    assert asks_for_date_order(refused(Refusal.AMBIGUOUS_DATE_ORDER, "Dates read both ways."))
    assert not asks_for_date_order(refused(Refusal.MISSING_COLUMNS, "Choose the order of the columns."))


@pytest.mark.parametrize("code", list(Refusal))
def test_only_identifier_refusals_ask_about_identifiers(code):
    expected = code in (Refusal.IDENTIFIERS_FOUND, Refusal.IDENTIFYING_PATIENT_CODES, Refusal.FREE_TEXT_IDENTIFIERS)
    assert identifier_block(refused(code, "identifier")) is expected
    assert asks_for_date_order(refused(code)) is (code is Refusal.AMBIGUOUS_DATE_ORDER)


def test_real_files_reach_the_right_question():
    ambiguous = load_sessions(csv_bytes([good_row(day="04/05/2025"), good_row("P2", "01/02/2025")]),
                              today=date(2026, 11, 25))
    assert asks_for_date_order(ambiguous) and not identifier_block(ambiguous)
    named = load_sessions(csv_bytes([good_row()[:5] + ["Jane Doe"]], HEADER[:5] + ["Patient Name"]))
    assert identifier_block(named) and not asks_for_date_order(named)
    accepted = load_sessions(csv_bytes([good_row()]))
    assert not identifier_block(accepted) and not asks_for_date_order(accepted)
