"""Write tests/data/store_v2.duckdb: a small outcome store in schema 2 whose import log holds file names.

Run with the code of the commit that still writes schema 2 (e4c5a04), e.g.:
    git archive e4c5a04 | tar -x -C /tmp/v2 && PYTHONPATH=/tmp/v2 python tests/data/make_v2_store.py OUT.duckdb
Schema 2 kept each imported file's name in import_log.file_name; a clinic's export named after a patient
(`Jane_Doe_DOB_1961-03-02.csv`) kept that name forever. The store also holds a batch that was undone: its rows
were removed logically, but their text stayed in the file's free space. tests/test_store_label.py checks that
the upgrade to schema 3 replaces the names by neutral labels and rewrites the file so none of it can be read.
"""
import sys
import tempfile
from pathlib import Path

from analytics import store
from analytics.ingest import load_assessments, load_sessions

HEADER = "session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain,Referral\n"
FILES = [
    ("sessions", "Jane_Doe_DOB_1961-03-02.csv",
     HEADER + "S1,P1,2025-01-06,Botox,200,8,4,GP\nS2,P1,2025-04-07,Botox,200,8,5,GP\n"
              "S3,P2,2025-02-03,Dysport,500,6,2,self\n"),
    ("sessions", "corrected_by_Jane_Doe.csv",  # S2 corrected: its old row goes to the history
     HEADER + "S2,P1,2025-04-07,Botox,200,8,3,GP\n"),
    ("assessments", "Jane_Doe_DOB_1961-03-02_scores.csv",
     "patient_id,session_id,days_after,pain\nP1,S1,0,8\nP1,S1,14,4\n"),
    ("sessions", "wrong_file_1961-03-02.csv",  # imported by mistake, then undone (batch 4)
     HEADER + "S9,P9,2025-03-03,Xeomin,100,7,7,undonetext-v2fix\n"),
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
    print(store.undo(4, target).message())
    Path(str(target) + ".lock").unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1])
