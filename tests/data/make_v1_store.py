"""Write tests/data/store_v1.duckdb: a small outcome store in schema 1 (sessions keyed by session_id when given).

Run with the code of the commit that still writes schema 1 (787d403), e.g.:
    git archive 787d403 | tar -x -C /tmp/v1 && PYTHONPATH=/tmp/v1 python tests/data/make_v1_store.py OUT.duckdb
It imports four small files the way a clinic would, including the bug of schema 1: the same sessions given
first with a session_id and then without one are stored twice (tests/test_store_migration.py checks the upgrade).
"""
import sys
import tempfile
from pathlib import Path

from analytics import store
from analytics.ingest import load_assessments, load_sessions

FILES = [
    ("sessions", "jan_with_ids.csv",
     "session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain,Referral\n"
     "S1,P1,2025-01-06,Botox,200,8,4,GP\n"
     "S2,P1,2025-04-07,Botox,200,8,5,GP\n"
     "S3,P2,2025-02-03,Dysport,500,6,2,self\n"),
    ("sessions", "jan_without_ids.csv",  # S1 again (identical), S3 again (followup 1), a new session
     "patient_id,session_date,product,total_units,baseline_pain,followup_pain\n"
     "P1,2025-01-06,Botox,200,8,4\n"
     "P2,2025-02-03,Dysport,500,6,1\n"
     "P3,2025-03-03,Xeomin,100,7,7\n"),
    ("sessions", "s2_corrected.csv",  # an ordinary correction of S2: its old row goes to the history
     "session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain,Referral\n"
     "S2,P1,2025-04-07,Botox,200,8,3,GP\n"),
    ("assessments", "assessments.csv",
     "patient_id,session_id,days_after,pain\nP1,S1,0,8\nP1,S1,14,4\n"),
]


def main(out: str) -> None:
    target = Path(out)
    for suffix in ("", ".wal", ".lock"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for kind, name, text in FILES:
            path = Path(tmp) / name
            path.write_text(text)
            result = (load_sessions if kind == "sessions" else load_assessments)(path)
            report = store.import_result(result, store.file_hash(path), name, None, target)
            print(report.message())
    Path(str(target) + ".lock").unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1])
