"""The command line never shows a traceback: exit 2 and a plain message for an unusable input, exit 3 and a
short message for an internal error (the traceback goes to the log)."""
from analytics import cli
from analytics.cli import main
from tests.helpers import csv_bytes, good_row


def sample(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(csv_bytes([good_row(), good_row("P2")]))
    return path


def test_report_into_a_missing_folder_exits_2_before_any_work(tmp_path, capsys):
    out = tmp_path / "no" / "such" / "report.html"
    assert main(["report", str(sample(tmp_path)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --out {out}: the folder {out.parent} does not exist; create it first\n"
    assert not out.parent.exists()


def test_report_onto_a_folder_exits_2(tmp_path, capsys):
    assert main(["report", str(sample(tmp_path)), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: --out {tmp_path} is a folder")


def test_an_internal_error_exits_3_with_the_traceback_in_the_log(tmp_path, capsys, monkeypatch):
    log = tmp_path / "logs" / "cli.log"
    monkeypatch.setenv(cli.LOG_FILE_ENV, str(log))

    def broken(*args, **kwargs):
        raise RuntimeError("a fault inside")

    monkeypatch.setattr(cli, "summarise", broken)
    assert main(["summary", str(sample(tmp_path))]) == 3
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "a fault inside" not in captured.err
    assert captured.err.startswith("internal error: this is a fault in the program, not in your file. "
                                   f"Details are in {log} (reference ")
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: a fault inside" in text
    assert str(tmp_path / "f.csv") not in text  # the file's path is not logged


def test_an_unwritable_log_falls_back_and_still_exits_3(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv(cli.LOG_FILE_ENV, str(blocker / "cannot" / "be.log"))
    monkeypatch.setattr(cli, "summarise", lambda *a, **k: 1 / 0)
    assert main(["summary", str(sample(tmp_path))]) == 3
    assert "outcomes-cli.log (reference " in capsys.readouterr().err
