"""Benchmark: the outcome store on the 1.3-million-session file.

Run: .venv/bin/python bench/bench_store.py
1. Import into a fresh store (the file's SHA-256 and `store.import_result`: key, content hash, one transaction,
   written to disk) against a bare `pyarrow.csv.read_csv` of the same file: target <= 2. The checking of the
   file (`load_sessions`) comes before an import and is measured by bench_ingest.py; the whole `import`
   command (check + import) is shown too, for the record.
2. Re-import of the same file (every row compared, nothing written).
3. The summary from the store (`read_sessions` + `summarise`) against the summary from the CSV
   (`load_sessions` + `summarise`): target: the store no slower.
4. Removing text for good (analytics/store_compaction.py): the rewrite of the whole file (`store.compact`), the
   erasure of one patient (`store.purge`: delete in every table, log line, rewrite), the undo of a small batch
   (undo + rewrite) and the upgrade of the schema-1 bench store (bench/data/bench_store.duckdb, when there) by
   its first write, each on a copy of the big store, with the ratio to the import into a fresh store.
Each timed step runs in a fresh Python process, best of three (bench/common.py); the bare read and the import
alternate, best of five each. `--removal-only` runs one import (for the ratios) and step 4.
"""
from __future__ import annotations

import subprocess
import sys
import time

from common import ROOT, ensure_big_file, measure

path = ensure_big_file()
out = ROOT / "bench" / "out"
out.mkdir(parents=True, exist_ok=True)
db = out / "bench_store.duckdb"


def fresh(target) -> str:
    """Setup code that removes a store and its files."""
    return (f"import pathlib\nfor p in [pathlib.Path({str(target)!r}), pathlib.Path({str(target) + '.wal'!r})]:\n"
            "    p.unlink(missing_ok=True)\n")


def best_of(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["seconds"])
    return {"seconds": best["seconds"], "peak_mb": max(r["peak_mb"] for r in runs)}


load = f"from analytics.ingest import load_sessions; from analytics import store; r = load_sessions({str(path)!r})\n"


def removal(imported: dict) -> None:
    """Step 4: compaction, purge, undo and upgrade on copies of the big store; ratios to the import."""
    copy = out / "bench_store_copy.duckdb"
    setup = (f"import shutil, duckdb\nfrom analytics import store\n{fresh(copy)}"
             f"shutil.copyfile({str(db)!r}, {str(copy)!r})\n")
    compacted = measure(f"c = store.compact({str(copy)!r})", setup)
    first_patient = (f"con = duckdb.connect({str(copy)!r}, read_only=True)\n"
                     "code = con.execute('SELECT min(patient_id) FROM sessions').fetchone()[0]\ncon.close()\n")
    purged = measure(f"p = store.purge(code, {str(copy)!r})", setup + first_patient)
    small = out / "bench_small.csv"
    small.write_text("patient_id,session_date,product,total_units,baseline_pain,followup_pain\n"
                     + "".join(f"ZZ{i:04d},2025-01-06,Botox,100,6,3\n" for i in range(10)))
    add_small = (f"from analytics.ingest import load_sessions\nr = load_sessions({str(small)!r})\n"
                 f"b = store.import_result(r, 'h', None, None, {str(copy)!r}).batch_id\n")
    undone = measure(f"u = store.undo(b, {str(copy)!r})", setup + add_small)
    old = ROOT / "bench" / "data" / "bench_store.duckdb"
    upgraded = None
    if old.exists():
        upgrade_setup = (f"import shutil\nfrom analytics import store\nfrom analytics.ingest import load_sessions\n"
                         f"{fresh(copy)}shutil.copyfile({str(old)!r}, {str(copy)!r})\n"
                         f"r = load_sessions({str(small)!r})\n")
        upgraded = measure(f"rep = store.import_result(r, 'h', None, None, {str(copy)!r})", upgrade_setup)
    size = copy.stat().st_size / 1048576
    for suffix in ("", ".wal", ".lock"):
        (out / (copy.name + suffix)).unlink(missing_ok=True)
    small.unlink(missing_ok=True)
    base = imported["seconds"]
    print(f"removing text for good (store of {size:.0f} MB; import into a fresh store {base:.2f} s):")
    for name, run in (("compaction alone (store.compact)", compacted),
                      ("purge of one patient (delete everywhere + log line + compaction)", purged),
                      ("undo of a 10-session batch (+ compaction)", undone),
                      ("upgrade of the schema-1 bench store to schema 3 by a 10-session import (+ compaction)",
                       upgraded)):
        if run is not None:
            print(f"  {name}: {run['seconds']:.2f} s, peak {run['peak_mb']:.0f} MB, "
                  f"{run['seconds'] / base:.2f}x the import")


if "--removal-only" in sys.argv[1:]:
    once = measure(f"h = store.file_hash({str(path)!r}); rep = store.import_result(r, h, None, None, {str(db)!r})",
                   load + fresh(db), repeats=1)
    print(f"import into a fresh store (file hash + import_result): {once['seconds']:.2f} s, "
          f"peak {once['peak_mb']:.0f} MB")
    removal(once)
    sys.exit(0)
# The bare read and the import alternate, five times each, so that other work on the machine weighs on both alike.
bare_runs, import_runs = [], []
for _ in range(5):
    bare_runs.append(measure(f"import pyarrow.csv as c; t = c.read_csv({str(path)!r})", "import pyarrow.csv",
                             repeats=1))
    import_runs.append(measure(
        f"h = store.file_hash({str(path)!r}); rep = store.import_result(r, h, None, None, {str(db)!r})",
        load + fresh(db), repeats=1))
bare, imported = best_of(bare_runs), best_of(import_runs)
reimport = measure(f"h = store.file_hash({str(path)!r}); rep = store.import_result(r, h, None, None, {str(db)!r})",
                   load)
read = measure(f"s = store.read_sessions({str(db)!r})", "from analytics import store")
from_store = measure(f"s = summarise(store.read_sessions({str(db)!r}))",
                     "from analytics import store; from analytics.summary import summarise")
from_csv = measure(f"r = load_sessions({str(path)!r}); s = summarise(r.data, rejected_rows=r.n_rejected_rows)",
                   "from analytics.ingest import load_sessions; from analytics.summary import summarise")

command_db = out / "bench_store_cli.duckdb"
for suffix in ("", ".wal"):
    (out / (command_db.name + suffix)).unlink(missing_ok=True)
start = time.perf_counter()
subprocess.run([sys.executable, "-m", "analytics", "import", str(path), "--db", str(command_db)], cwd=ROOT,
               check=True, stdout=subprocess.DEVNULL)
command = time.perf_counter() - start
for suffix in ("", ".wal", ".lock"):
    (out / (command_db.name + suffix)).unlink(missing_ok=True)

rows = sum(1 for _ in open(path, "rb")) - 1
print(f"file: {path.name}, {path.stat().st_size / 1048576:.0f} MB, {rows:,} sessions; store {db.stat().st_size / 1048576:.0f} MB")
print(f"bare pyarrow.csv.read_csv: {bare['seconds']:.2f} s")
print(f"import into a fresh store (file hash + import_result): {imported['seconds']:.2f} s, "
      f"peak {imported['peak_mb']:.0f} MB (with the checked file in memory)")
print(f"ratio import / bare read: {imported['seconds'] / bare['seconds']:.2f} (target <= 2)")
print(f"re-import of the same file (nothing changes): {reimport['seconds']:.2f} s")
print(f"the whole `import` command (check every cell + import, with interpreter start): {command:.2f} s "
      f"({command / bare['seconds']:.1f}x the bare read; the check is bench_ingest.py's subject)")
print(f"read_sessions alone: {read['seconds']:.2f} s")
print(f"summary from the store (read_sessions + summarise): {from_store['seconds']:.2f} s, "
      f"peak {from_store['peak_mb']:.0f} MB")
print(f"summary from the CSV (load_sessions + summarise): {from_csv['seconds']:.2f} s, peak {from_csv['peak_mb']:.0f} MB")
print(f"ratio store / CSV: {from_store['seconds'] / from_csv['seconds']:.2f} (target <= 1)")
removal(imported)
