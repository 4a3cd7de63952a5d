"""The diminished-response flag against the patients the generator made to fade (ground truth).

Issue 3 asks for precision and recall >= 0.85 on generated data; checked on the committed sample and on a
fresh data set of another seed and size, both through the real ingestion and analytics.flags.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from analytics.flags import diminished_patients
from analytics.ingest import load_sessions
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS
from tests.test_sample_data import load_generator

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def precision_recall(flagged: set[str], truth: set[str]) -> tuple[float, float]:
    hits = len(flagged & truth)
    return hits / max(len(flagged), 1), hits / len(truth)


def flagged_in(path: Path) -> set[str]:
    result = load_sessions(path)
    assert result.exit_code == 0
    return set(diminished_patients(derive_sessions(result.data, DEFAULT_SETTINGS), DEFAULT_SETTINGS))


def test_committed_sample():
    truth = set((SAMPLE / "faded_patients.csv").read_text().splitlines()[1:])
    truth = {line.split(",")[0] for line in truth}
    precision, recall = precision_recall(flagged_in(SAMPLE / "sessions.csv"), truth)
    assert precision >= 0.85 and recall >= 0.85, (precision, recall)
    assert (precision, recall) == (1.0, 1.0)  # what it gives today; a drop here is a change to look at


@pytest.mark.parametrize("patients, seed", [(3000, 11)])
def test_fresh_generated_data(tmp_path, patients, seed):
    generator = load_generator()
    sessions, truth = generator.build_sessions(patients, seed)
    path = tmp_path / "sessions.csv"
    generator.write_sessions_csv(generator.session_table(sessions), path)
    precision, recall = precision_recall(flagged_in(path), set(truth["patient_id"]))
    assert len(truth) >= 100
    assert precision >= 0.85 and recall >= 0.85, (precision, recall)
