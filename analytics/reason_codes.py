"""Reason codes of ingestion outcomes: why a file was refused, why a cell was rejected, why a row is flagged.

The human messages say what to do; the codes let each surface (the Data page, the JSON report, the CLI) tell
one outcome from another without reading the message text, and word it for its own reader.
"""
from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why a whole file was refused (no row of it is used)."""

    UNREADABLE_FILE = "unreadable_file"  # missing, wrong format, undecodable bytes, broken CSV/Excel/Parquet
    TOO_LARGE = "too_large"
    EMPTY_FILE = "empty_file"
    NO_DATA_ROWS = "no_data_rows"
    BAD_MAPPING = "bad_mapping"  # the user's mapping or several columns claiming one field
    MISSING_COLUMNS = "missing_columns"
    IDENTIFIERS_FOUND = "identifiers_found"  # columns of direct identifiers, not dropped
    IDENTIFYING_PATIENT_CODES = "identifying_patient_codes"  # patient codes look like identifiers
    NO_PSEUDONYM_KEY = "no_pseudonym_key"  # pseudonymisation asked for without the clinic's key
    AMBIGUOUS_DATE_ORDER = "ambiguous_date_order"
    NO_SUCH_SHEET = "no_such_sheet"  # the worksheet asked for is not in the workbook
    FREE_TEXT_IDENTIFIERS = "free_text_identifiers"  # identifiers inside free text, neither dropped nor redacted
    IDENTIFYING_LABEL = "identifying_label"  # the upload's typed label holds an identifier, or is too long


# Refusals the user answers by choosing what to do with identifying data (drop the columns, pseudonymise, redact).
# A missing pseudonym key or a label to retype is not one of them: no choice of those fixes it.
IDENTIFIER_REFUSALS = frozenset({Refusal.IDENTIFIERS_FOUND, Refusal.IDENTIFYING_PATIENT_CODES,
                                 Refusal.FREE_TEXT_IDENTIFIERS})


class Rejection(StrEnum):
    """Why a cell (and so its row) was rejected."""

    MALFORMED_ROW = "malformed_row"
    BLANK_REQUIRED = "blank_required"
    LINE_BREAK = "line_break"
    TOO_LONG = "too_long"
    BAD_DATE = "bad_date"
    FUTURE_DATE = "future_date"
    NOT_A_NUMBER = "not_a_number"
    NOT_WHOLE = "not_whole_number"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_VALUE = "unknown_value"  # not in the column's vocabulary
    BAD_LIST = "bad_list"  # a muscle or adverse-event list that cannot be read
    NO_BASELINE = "no_baseline"
    BEFORE_INJECTION = "before_injection"
    NO_TIME = "no_time_after_injection"
    NO_SCORE = "no_score"
    EXACT_COPY = "exact_copy"
    CONFLICT = "conflict"
    NOT_FINITE = "not_finite"  # inf, nan, Infinity, or a number too large to hold
    TOO_EARLY = "too_early"  # a date before botulinum toxin was licensed, or an Excel zero date
    FORMULA_NOT_CALCULATED = "formula_not_calculated"  # an Excel formula saved without its value


class Caution(StrEnum):
    """Why an accepted row is worth a look (a warning)."""

    PEAK_BEFORE_ONSET = "peak_before_onset"
    HIGH_DOSE = "high_dose"
    MUSCLE_UNITS_MISMATCH = "muscle_units_mismatch"
    FOLLOWUP_AFTER_NEXT_INJECTION = "followup_after_next_injection"
    NOT_RECORDED = "not_recorded"  # cells such as '?', 'n.a.', '—' read as not recorded (one warning per column)
    MERGED_CELLS = "merged_cells"  # a merged range in a workbook, filled down
