"""Text timestamps that carry a time zone ('...Z', '...+02:00') are dated in the clinic's zone (OUTCOMES_TIMEZONE),
as Parquet timestamps are: 23:30 UTC on 14 June is 15 June in London."""
import pandas as pd
import pytest

from analytics.cli import main
from analytics.dates import parse_dates
from analytics.ingest import load
from tests.helpers import csv_bytes, good_row


def parse(*texts):
    parsed, reasons = parse_dates(pd.Series(list(texts), dtype="str"), None)
    return parsed.dt.strftime("%Y-%m-%d").fillna("").tolist(), reasons.tolist()


def test_zoned_timestamps_are_dated_in_london_by_default(monkeypatch):
    monkeypatch.delenv("OUTCOMES_TIMEZONE", raising=False)
    dates, reasons = parse("2025-06-14T23:30:00Z", "2025-01-14T23:30:00Z", "2025-06-14T23:30:00+02:00",
                           "2025-06-14 00:30:00+0100", "2025-06-14T23:30:00.250-05", "14/06/2025")
    # BST is UTC+1: 23:30 UTC -> 00:30 on the 15th; GMT in January keeps the 14th; 21:30 UTC -> 22:30 the 14th;
    # 00:30+01:00 is 23:30 UTC on the 13th -> 00:30 BST on the 14th; 04:30 UTC on the 15th -> 05:30 BST
    assert dates == ["2025-06-15", "2025-01-14", "2025-06-14", "2025-06-14", "2025-06-15", "2025-06-14"]
    assert reasons == [""] * 6


def test_the_clinic_zone_comes_from_outcomes_timezone(monkeypatch):
    monkeypatch.setenv("OUTCOMES_TIMEZONE", "America/New_York")
    assert parse("2025-06-15T02:00:00Z")[0] == ["2025-06-14"]


def test_an_unknown_zone_setting_rejects_the_zoned_cells_naming_the_setting(monkeypatch):
    monkeypatch.setenv("OUTCOMES_TIMEZONE", "Mars/Olympus")
    dates, reasons = parse("2025-06-14T23:30:00Z", "2025-06-14")
    assert dates == ["", "2025-06-14"]
    assert reasons[0].startswith("a timestamp with a time zone, which cannot be dated: OUTCOMES_TIMEZONE is set "
                                 "to 'Mars/Olympus'") and reasons[1] == ""


def test_a_csv_export_with_utc_timestamps_through_load_and_the_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OUTCOMES_TIMEZONE", raising=False)
    rows = [good_row("P1", day="2025-06-14T23:30:00Z"), good_row("P2", day="2025-06-14T10:00:00Z")]
    result = load(csv_bytes(rows))
    assert result.n_rejected_rows == 0
    assert result.data["session_date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-06-15", "2025-06-14"]
    path = tmp_path / "utc.csv"
    path.write_bytes(csv_bytes(rows))
    assert main(["validate", str(path)]) == 0


@pytest.mark.parametrize("text", ["2025-06-14T23:30:00ZZ", "2025-06-14T25:30:00Z", "2025-06-14 Z"])
def test_malformed_zoned_text_is_not_a_date(text, monkeypatch):
    monkeypatch.delenv("OUTCOMES_TIMEZONE", raising=False)
    dates, reasons = parse(text)
    assert dates == [""] and reasons[0] != ""
