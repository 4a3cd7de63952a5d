"""Issue 8, items 5 and 7 (reading): a quoted cell over the csv module's 128 KB default is read with the right
line numbers; a folder, a missing or an unreadable path is a plain refusal, never a traceback."""
import re
from datetime import date
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.ingest import load_sessions
from analytics.reading import FileRefused, read_bytes
from tests.helpers import HEADER, csv_bytes, good_row

TODAY = date(2026, 11, 25)


def letter(lines: int = 2800) -> str:
    """A pasted letter of about 200 KB: many lines, no separators, in quotes."""
    return '"' + "\n".join(f"Dear colleague, line {i} of the referral letter about this patient's neck"
                           .replace(",", "") for i in range(lines)) + '"'


def test_a_200_kb_quoted_multi_line_cell_is_read_and_later_lines_keep_their_numbers():
    note = letter()
    assert len(note) > 200_000 and note.count("\n") == 2799
    rows = [good_row() + ["short"], good_row("P2") + [note], good_row("P3") + ["x"], good_row("P4") + ["y"]]
    result = load_sessions(csv_bytes(rows, HEADER + ["Notes"]), today=TODAY)
    assert not result.refused and result.exit_code == 0
    assert result.data["patient_id"].tolist() == ["P1", "P2", "P3", "P4"]
    assert result.data["line"].tolist() == [2, 3, 2803, 2804]
    assert result.spans == {3: 2802}
    assert result.data["Notes"].iloc[1] == note[1:-1]


def test_cli_validate_accepts_the_long_cell(tmp_path, capsys):
    path = tmp_path / "letter.csv"
    path.write_bytes(csv_bytes([good_row() + [letter()], good_row("P2", after="x") + ["y"]], HEADER + ["Notes"]))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert re.match(r"upload \d{4}-\d\d-\d\d \d\d:\d\d, 2 rows: 1 accepted, 1 rejected", out)
    assert "  line 2802: followup_pain = 'x': not a number" in out


def test_a_folder_is_refused_plainly(tmp_path, capsys):
    with pytest.raises(FileRefused, match=r"^The path is a folder, not a file: give the path of a CSV, Excel \.xlsx or "
                                          r"Parquet file\.$"):
        read_bytes(tmp_path)
    result = load_sessions(tmp_path, today=TODAY)
    assert result.refused and result.refusal == "unreadable_file"
    assert result.file_errors == ["The path is a folder, not a file: give the path of a CSV, Excel .xlsx or "
                                  "Parquet file."]  # the path is not repeated: a file's name may name a patient
    assert main(["validate", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "  The path is a folder, not a file" in out and "Traceback" not in out and str(tmp_path) not in out


def test_a_missing_file_is_refused_plainly(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert main(["validate", str(missing)]) == 2
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert re.fullmatch(r"upload \d{4}-\d\d-\d\d \d\d:\d\d: REFUSED\. Nothing was taken from this file\.", lines[0])
    assert lines[1:3] == ["  Why (unreadable_file): the file could not be read.", "  File not found: check the path."]
    assert "nope" not in out


def test_an_unreadable_file_is_refused_plainly(tmp_path, monkeypatch, capsys):
    path = tmp_path / "locked.csv"
    path.write_bytes(csv_bytes([good_row()]))

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # chmod does not stop root, so the OS answer is simulated
    with pytest.raises(FileRefused, match=r"cannot be read: permission denied\.$"):
        read_bytes(path)
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "  The file cannot be read: permission denied." in out and "locked" not in out
