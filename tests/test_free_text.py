"""Issue 9, item 2: free text is scanned, not trusted. The issue's five notes are refused with masked forms and
lines, dropped with --drop-identifiers, or redacted into tags with a count per column and kind."""
import numpy as np
import pandas as pd

from analytics.cli import main
from analytics.free_text import redact, redact_text, scan
from analytics.ingest import load_sessions
from analytics.reason_codes import IDENTIFIER_REFUSALS, Refusal
from tests.privacy_helpers import with_column

FIVE = ["call her on 07700 900123", "jane.doe@example.com", "NHS no 943 476 5919", "12 Acacia Avenue, LS6 2AB",
        "DOB 02/03/1961"]
SECRETS = ["07700 900123", "jane.doe@example.com", "943 476 5919", "Acacia", "LS6 2AB", "02/03/1961"]


def notes_file() -> bytes:
    return with_column("notes", [*FIVE, "EMG guided, review in 12 weeks"])


def test_the_issues_five_notes_refuse_the_file_with_masked_forms_only():
    result = load_sessions(notes_file())
    assert result.refused and result.refusal is Refusal.FREE_TEXT_IDENTIFIERS
    assert Refusal.FREE_TEXT_IDENTIFIERS in IDENTIFIER_REFUSALS
    assert result.file_errors == [
        "Free text holds identifiers: 'notes': 1 e-mail address, 1 date of birth, 1 NHS number, 1 phone number, "
        "1 street address, 1 postcode on lines 2, 3, 4, 5, 6 (e.g. '0770• ••••••', 'j•••@example.com', "
        "'943 ••• ••••'). Drop these columns (--drop-identifiers) or redact them (--redact-free-text: each one "
        "becomes a tag such as [phone]); identifying data is never stored."]
    words = " ".join(result.file_errors) + str(result.summary())
    assert not any(secret in words for secret in SECRETS)
    assert result.summary()["free_text_identifiers"] == [{
        "column": "notes", "found": {"e-mail": 1, "date of birth": 1, "NHS number": 1, "phone": 1, "address": 1,
                                     "postcode": 1},
        "lines": [2, 3, 4, 5, 6], "masked": ["0770• ••••••", "j•••@example.com", "943 ••• ••••"]}]


def test_redacting_replaces_each_finding_with_its_tag_and_counts_them():
    result = load_sessions(notes_file(), redact_free_text=True)
    assert not result.refused and result.n_accepted == 6
    assert result.data["notes"].tolist() == [
        "call her on [phone]", "[e-mail]", "NHS no [NHS number]", "[address], [postcode]", "[date of birth]",
        "EMG guided, review in 12 weeks"]
    assert "Redacted 6 identifier(s) in 'notes': 1 [e-mail], 1 [date of birth], 1 [NHS number], 1 [phone], " \
           "1 [address], 1 [postcode]." in result.notes
    assert result.redacted == {"notes": {"e-mail": 1, "date of birth": 1, "NHS number": 1, "phone": 1,
                                         "address": 1, "postcode": 1}}
    assert not any(secret in result.data.to_csv() for secret in SECRETS)


def test_dropping_removes_the_free_text_column():
    result = load_sessions(notes_file(), drop_identifiers=True)
    assert not result.refused and "notes" not in result.data.columns
    assert "Dropped free-text column 'notes': 1 e-mail address, 1 date of birth, 1 NHS number, 1 phone number, " \
           "1 street address, 1 postcode inside its text." in result.notes


def test_cli_redact_free_text_on_validate(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_bytes(notes_file())
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "Why (free_text_identifiers): free text holds identifiers (use --redact-free-text or " \
           "--drop-identifiers)." in out
    assert main(["validate", str(path), "--redact-free-text"]) == 0
    out = capsys.readouterr().out
    assert "Redacted 6 identifier(s) in 'notes'" in out and not any(secret in out for secret in SECRETS)


def test_embedded_identifiers_in_the_site_column_follow_the_same_rule():
    data = with_column("site", ["North Wing", "Central, ring 07700 900123"])
    assert load_sessions(data).refusal is Refusal.FREE_TEXT_IDENTIFIERS
    redacted = load_sessions(data, redact_free_text=True)
    assert redacted.data["site"].tolist() == ["North Wing", "Central, ring [phone]"]
    dropped = load_sessions(data, drop_identifiers=True)
    assert dropped.data["site"].isna().all()


def test_session_dates_and_doses_are_not_dates_of_birth():
    values = pd.Series(["Reviewed 14/03/2025", "200 U in 4 mL", "booster 2 wk", "born 1961", "seen 02/03/1961"])
    found = scan("notes", values, np.arange(2, 7), cutoff_year=2007)
    assert found.counts == {"date of birth": 2} and found.lines == (5, 6)


def test_redact_text_for_log_lines():
    assert redact_text("import of jane.doe@example.com by Mrs Jones, tel 07700 900123") == \
        "import of [e-mail] by [name], tel [phone]"
    assert redact_text("batch 3: 2,600 rows, 12 rejected") == "batch 3: 2,600 rows, 12 rejected"
    assert redact_text("") == ""


def test_redact_keeps_blanks_and_untouched_cells():
    values = pd.Series(["EMG guided", None, "ring 07700 900123"], dtype="str")
    out, counts = redact(values, 2007)
    assert out.tolist()[0] == "EMG guided" and pd.isna(out.iloc[1]) and out.iloc[2] == "ring [phone]"
    assert counts == {"phone": 1}


def test_redact_reuses_the_scans_cells_and_gives_the_same_column():
    values = pd.Series(["EMG guided", "call her on 07700 900123", None, "Mrs Jones rang", "EMG guided",
                        "jane.doe@example.com"] * 300, dtype="object")
    found = scan("notes", values, np.arange(2, len(values) + 2))
    assert len(found.positions) == 900  # the three cells of six with a finding
    again, counts = redact(values, positions=found.positions)
    alone, counts_alone = redact(values)
    assert again.equals(alone) and counts == counts_alone == {"e-mail": 300, "phone": 300, "name": 300}
    assert again.iloc[1] == "call her on [phone]" and pd.isna(again.iloc[2]) and again.iloc[0] == "EMG guided"
