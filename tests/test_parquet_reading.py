"""Parquet timestamps into dates: a zoned timestamp is converted to the clinic's time zone (OUTCOMES_TIMEZONE,
default Europe/London) before its date is taken; a naive timestamp or a date is taken as it is."""
from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import config
from analytics.cli import main
from analytics.ingest import load
from analytics.reading import FileRefused, read_table
from analytics.reason_codes import Refusal

UTC = timezone.utc
# The hostile case: 30 sessions exported with UTC timestamps. 17 were late in the evening during British Summer
# Time (23:30 UTC is 00:30 the next day in London); 8 late on winter evenings (London is on UTC then) and 5 at
# midday in summer keep their date.
LATE_SUMMER = [date(2025, 4, 1) + timedelta(days=7 * i) for i in range(17)]  # 1 April .. 22 July
LATE_WINTER = [date(2025, 1, 6) + timedelta(days=7 * i) for i in range(8)]  # 6 January .. 24 February
MIDDAY_SUMMER = [date(2025, 8, 4) + timedelta(days=7 * i) for i in range(5)]  # 4 August .. 1 September
STAMPS = ([datetime(d.year, d.month, d.day, 23, 30, tzinfo=UTC) for d in LATE_SUMMER]
          + [datetime(d.year, d.month, d.day, 23, 30, tzinfo=UTC) for d in LATE_WINTER]
          + [datetime(d.year, d.month, d.day, 12, 0, tzinfo=UTC) for d in MIDDAY_SUMMER])
LONDON_DATES = [d + timedelta(days=1) for d in LATE_SUMMER] + LATE_WINTER + MIDDAY_SUMMER
UTC_NOTE = ("Column 'session_date': timestamps in UTC were converted to the clinic's time zone (Europe/London, "
            "OUTCOMES_TIMEZONE) before taking the date; 17 of 30 fall on another date than in UTC.")


def parquet(columns: dict[str, pa.Array]) -> bytes:
    """A Parquet file's bytes from Arrow arrays; the session columns the contract requires are added."""
    n = len(next(iter(columns.values())))
    table = pa.table({"patient_id": pa.array([f"P{i + 1:02d}" for i in range(n)]), **columns,
                      "product": pa.array(["Botox"] * n), "total_units": pa.array([200.0] * n),
                      "baseline_pain": pa.array([7] * n)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def london(monkeypatch):
    monkeypatch.delenv(config.TIMEZONE_ENV, raising=False)


@pytest.fixture
def utc_sessions() -> bytes:
    return parquet({"session_date": pa.array(STAMPS, pa.timestamp("us", tz="UTC"))})


def test_utc_timestamps_are_dated_in_london(utc_sessions):
    table = read_table(utc_sessions)
    assert table.frame["session_date"].tolist() == [d.isoformat() for d in LONDON_DATES]
    assert table.frame["session_date"].tolist()[:3] == ["2025-04-02", "2025-04-09", "2025-04-16"]
    assert table.lines.tolist() == list(range(2, 32))
    assert table.notes == [UTC_NOTE]


def test_utc_timestamps_are_dated_in_london_through_load(utc_sessions):
    result = load(utc_sessions, name="export.parquet")
    assert not result.refused and len(result.rejected) == 0
    assert result.data["session_date"].tolist() == [pd.Timestamp(d) for d in LONDON_DATES]
    assert result.data["patient_id"].tolist()[:2] == ["P01", "P02"]
    assert result.data["line"].tolist() == list(range(2, 32))
    assert UTC_NOTE in result.notes


def test_cli_says_the_timestamps_were_converted(tmp_path, capsys, utc_sessions):
    path = tmp_path / "export.parquet"
    path.write_bytes(utc_sessions)
    assert main(["validate", str(path), "--label", "UTC export"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == ("UTC export: 30 rows: 30 accepted, 0 rejected (0 exact duplicate(s), 0 conflicting), "
                      "0 warning(s).")
    assert UTC_NOTE in out


def test_the_clinic_zone_comes_from_outcomes_timezone(monkeypatch):
    monkeypatch.setenv(config.TIMEZONE_ENV, "America/New_York")
    stamps = [datetime(2025, 6, 15, 2, 0, tzinfo=UTC), datetime(2025, 6, 15, 5, 0, tzinfo=UTC)]
    table = read_table(parquet({"session_date": pa.array(stamps, pa.timestamp("ms", tz="UTC"))}))
    assert table.frame["session_date"].tolist() == ["2025-06-14", "2025-06-15"]
    assert table.notes == ["Column 'session_date': timestamps in UTC were converted to the clinic's time zone "
                           "(America/New_York, OUTCOMES_TIMEZONE) before taking the date; 1 of 2 fall on another "
                           "date than in UTC."]


def test_timestamps_zoned_elsewhere_than_utc_are_dated_in_london():
    berlin = pd.DatetimeIndex(["2025-06-15 00:30", "2025-06-15 09:00"]).tz_localize("Europe/Berlin")
    tokyo = pd.DatetimeIndex(["2025-01-15 08:00", "2025-01-15 09:00"]).tz_localize("Asia/Tokyo")
    data = parquet({"session_date": pa.array(berlin), "review_at": pa.array(tokyo)})
    table = read_table(data)
    assert table.frame["session_date"].tolist() == ["2025-06-14", "2025-06-15"]
    assert table.frame["review_at"].tolist() == ["2025-01-14", "2025-01-15"]
    assert table.notes == [
        "Column 'session_date': timestamps in Europe/Berlin were converted to the clinic's time zone "
        "(Europe/London, OUTCOMES_TIMEZONE) before taking the date; 1 of 2 fall on another date than in "
        "Europe/Berlin.",
        "Column 'review_at': timestamps in Asia/Tokyo were converted to the clinic's time zone (Europe/London, "
        "OUTCOMES_TIMEZONE) before taking the date; 1 of 2 fall on another date than in Asia/Tokyo."]
    assert load(data).data["session_date"].tolist() == [pd.Timestamp("2025-06-14"), pd.Timestamp("2025-06-15")]


def test_naive_timestamps_and_dates_are_taken_as_they_are(monkeypatch):
    monkeypatch.setenv(config.TIMEZONE_ENV, "Mars/Base")  # never read: nothing here carries a zone
    naive = [datetime(2025, 6, 14, 23, 30), None, datetime(2025, 1, 14, 0, 5)]
    days = [date(2025, 6, 14), date(2025, 6, 15), None]
    table = read_table(parquet({"session_date": pa.array(naive, pa.timestamp("us")),
                                "review_date": pa.array(days, pa.date32())}))
    assert table.frame["session_date"].fillna("").tolist() == ["2025-06-14", "", "2025-01-14"]
    assert table.frame["review_date"].fillna("").tolist() == ["2025-06-14", "2025-06-15", ""]
    assert table.notes == []


def test_an_unknown_clinic_zone_refuses_a_file_with_zoned_timestamps(monkeypatch, utc_sessions):
    monkeypatch.setenv(config.TIMEZONE_ENV, "Mars/Base")
    message = ("Column 'session_date' holds timestamps with a time zone, which are read as dates in the clinic's "
               "time zone, but OUTCOMES_TIMEZONE is set to 'Mars/Base', which is not a time zone name (use an IANA "
               "name such as Europe/London or America/New_York).")
    with pytest.raises(FileRefused) as caught:
        read_table(utc_sessions)
    assert str(caught.value) == message
    result = load(utc_sessions, name="export.parquet")
    assert result.refusal == Refusal.UNREADABLE_FILE
    assert result.file_errors == [message]


@pytest.mark.parametrize("value, expected", [(None, "Europe/London"), ("", "Europe/London"),
                                             ("  ", "Europe/London"), ("America/New_York", "America/New_York"),
                                             (" UTC ", "UTC")])
def test_timezone_setting(monkeypatch, value, expected):
    if value is not None:
        monkeypatch.setenv(config.TIMEZONE_ENV, value)
    assert config.timezone() == expected


@pytest.mark.parametrize("value", ["Mars/Base", "Europe", "/etc/localtime", "../UTC"])
def test_an_unknown_timezone_setting_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv(config.TIMEZONE_ENV, value)
    with pytest.raises(ValueError) as caught:
        config.timezone()
    assert str(caught.value) == (f"OUTCOMES_TIMEZONE is set to '{value}', which is not a time zone name (use an "
                                 "IANA name such as Europe/London or America/New_York).")
