"""Benchmark: `validate FILE --json` against the text report `validate FILE` on a file where almost every row has
the same warning (issue 12: 806,000 copies of one warning once took 14 s, 3.1 GB and 188 MB of JSON).

The hostile file, bench/data/vjson_warnings.csv, is the 1.3-million-session bench file (sessions_200k.csv) with
every `muscles` cell replaced by 'trapezius:1', so nearly every row is accepted with the warning
muscle_units_mismatch, and 4 rows given followup_pain 12 (rejected). It is made once, git-ignored.

Run: .venv/bin/python bench/bench_validate_json.py [--data-dir DIR] [--repeats 3] [--with-all]
Prints, for each run (best of the repeats, each a fresh process): wall time, peak memory and output size; then
the ratio --json / text (target <= 2), the --json peak memory (target < 2 GB) and the --json size;
--with-all also times `--json --all` (every cell listed, one run; no target).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REJECTED_AT = (1_000, 400_000, 800_000, 1_200_000)  # data rows (from 1) given followup_pain 12


def make_hostile(source: Path, target: Path) -> None:
    """Copy the bench file with every muscles cell 'trapezius:1' and 4 rows with followup_pain 12."""
    print(f"Making {target} from {source.name} ...", flush=True)
    with source.open(encoding="utf-8") as src, tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, delete=False, newline="") as out:
        header = src.readline().rstrip("\n").split(",")
        muscles, followup = header.index("muscles"), header.index("followup_pain")
        out.write(",".join(header) + "\n")
        for n, line in enumerate(src, start=1):
            cells = line.rstrip("\n").split(",")
            if len(cells) != len(header):  # a quoted comma: keep the row as it is
                out.write(line)
                continue
            cells[muscles] = "trapezius:1"
            if n in REJECTED_AT:
                cells[followup] = "12"
            out.write(",".join(cells) + "\n")
    os.chmod(out.name, 0o644)
    os.replace(out.name, target)


def run(argv: list[str], out_path: Path) -> tuple[float, float, int]:
    """(seconds, peak MB, bytes written) of one `python -m analytics ...` process, its stdout to out_path."""
    with out_path.open("wb") as out:
        done = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-m", "analytics", *argv],
                              cwd=ROOT, stdout=out, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"validate exited {done.returncode}: {done.stderr[-2000:]}")
    seconds, kb = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb) / 1024, out_path.stat().st_size


def best(argv: list[str], out_path: Path, repeats: int) -> tuple[float, float, int]:
    runs = [run(argv, out_path) for _ in range(repeats)]
    return min(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT / "bench" / "data"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--with-all", action="store_true",
                        help="also time `validate FILE --json --all` (one object per cell), for the record")
    args = parser.parse_args()
    data = Path(args.data_dir)
    hostile = data / "vjson_warnings.csv"
    if not hostile.exists():
        source = data / "sessions_200k.csv"
        if not source.exists():  # the shared bench file, generated once (bench/common.py)
            sys.path.insert(0, str(ROOT / "bench"))
            from common import ensure_big_file
            source = ensure_big_file()
        make_hostile(source, hostile)
    with tempfile.TemporaryDirectory() as tmp:
        text = best(["validate", str(hostile)], Path(tmp) / "out.txt", args.repeats)
        as_json = best(["validate", str(hostile), "--json"], Path(tmp) / "out.json", args.repeats)
        every = best(["validate", str(hostile), "--json", "--all"], Path(tmp) / "all.json", 1) if args.with_all \
            else None
    print(f"file: {hostile.name}, {hostile.stat().st_size / 1048576:.0f} MB")
    print(f"validate FILE         : {text[0]:6.2f} s, peak {text[1]:6.0f} MB, {text[2] / 1024:9.1f} kB of text")
    print(f"validate FILE --json  : {as_json[0]:6.2f} s, peak {as_json[1]:6.0f} MB, "
          f"{as_json[2] / 1024:9.1f} kB of JSON")
    if every:
        print(f"validate --json --all : {every[0]:6.2f} s, peak {every[1]:6.0f} MB, "
              f"{every[2] / 1048576:7.1f} MB of JSON (every cell; no target)")
    print(f"ratio --json / text   : {as_json[0] / text[0]:.2f} (target <= 2)")
    print(f"--json peak memory    : {as_json[1]:.0f} MB (target < 2048 MB)")
    print(f"--json size           : {as_json[2] / 1024:.1f} kB (the per-cell report was 271 MB on this file)")


if __name__ == "__main__":
    main()
