"""analytics.memory: a command's freed columns go back to the machine (issue 12: `summary FILE` under 1 GB), and the
dashboard's server keeps them for the next filter change (issue 12: a filter change at 10M sessions).

Each check runs in a fresh process, since the allocators are set once per process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A column of 16 MB made and freed twice. glibc's default raises its threshold for mapping a block to the size of
# the first block freed, so the second comes from the heap and stays there once freed (the process keeps 15 MB it
# no longer uses); with the threshold fixed, both are handed back.
KEPT_AFTER_FREE = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
from analytics.memory import return_freed_memory
took = return_freed_memory() if sys.argv[1] == "fixed" else None
def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
column = np.ones(2_000_000); del column
before = resident_mb()
column = np.ones(2_000_000); del column
print(resident_mb() - before)
"""

glibc = pytest.mark.skipif(not sys.platform.startswith("linux") or not Path("/proc/self/statm").exists(),
                           reason="glibc's allocator and /proc: Linux")


def kept_after_free(mode: str) -> float:
    code = KEPT_AFTER_FREE.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


@glibc
def test_a_freed_column_is_handed_back_only_with_the_threshold_fixed():
    assert kept_after_free("default") > 10  # the process's allocator as it comes: 15 MB kept
    assert kept_after_free("fixed") < 1


def test_the_command_line_sets_both_allocators_before_reading():
    code = ("import runpy, sys, json\nimport pyarrow as pa\nsys.argv = ['analytics', '--help']\n"
            "try:\n    runpy.run_module('analytics', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(json.dumps(pa.default_memory_pool().backend_name))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "system"


@glibc
def test_return_freed_memory_says_what_took_effect():
    code = (f"import sys, json\nsys.path.insert(0, {str(ROOT)!r})\nfrom analytics.memory import "
            "return_freed_memory\nprint(json.dumps(return_freed_memory()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env=_without_numpy_switch())
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"arrow_system_pool": True,
                                                                 "glibc_mmap_threshold": True,
                                                                 "numpy_huge_pages_off": True}


# The dashboard's server the other way round: a freed 80 MB column (10M sessions' dates) stays in the process, and
# the next column of that size is made in those pages, none new (glibc's default maps each such column afresh and
# unmaps it when freed: the pages go and come back on every filter change).
KEPT_FOR_NEXT = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
from analytics.memory import keep_freed_memory
took = keep_freed_memory() if sys.argv[1] == "keep" else None
def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
before = resident_mb()
column = np.ones(10_000_000); del column
after_free = resident_mb()
column = np.ones(10_000_000)
print(took, after_free - before, resident_mb() - after_free)
"""


def kept_for_next(mode: str, env: dict | None = None) -> tuple[str, float, float]:
    code = KEPT_FOR_NEXT.format(root=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, check=True,
                          env=env)
    took, kept, grown = done.stdout.strip().splitlines()[-1].split()
    return took, float(kept), float(grown)


@glibc
def test_the_server_keeps_a_freed_column_for_the_next_one():
    took, kept, grown = kept_for_next("keep")
    assert took == "True"
    assert kept > 70  # the freed 76 MB stayed in the process
    assert grown < 2  # and the next column was made in them
    took, kept, grown = kept_for_next("default")
    assert kept < 2  # glibc's default hands the column back...
    assert grown > 70  # ...and maps the next one afresh


@glibc
def test_the_server_can_be_told_to_hand_freed_memory_back(monkeypatch):
    import os
    env = {**os.environ, "OUTCOMES_KEEP_MEMORY": "0"}
    took, kept, grown = kept_for_next("keep", env)
    assert took == "False"
    assert kept < 2 and grown > 70


def test_the_dashboard_keeps_freed_memory_once_per_server(monkeypatch, tmp_path):
    from analytics import memory
    from tests.app_support import app

    monkeypatch.setenv("OUTCOMES_DB", str(tmp_path / "empty.duckdb"))  # the sample, not a store
    memory.keep_freed_memory.cache_clear()
    at = app()
    at.run()  # a rerun runs the script again, not the setting
    info = memory.keep_freed_memory.cache_info()
    assert (info.misses, info.hits) == (1, 1)


# Streamlit runs each rerun in a new thread. Three 40 MB columns made and freed by one thread, then three made by the
# next: with the server's settings from the start (GLIBC_TUNABLES, as run.sh sets them) the next are made in the
# freed pages. With glibc's defaults each was a mapping of its own, handed back when freed; with every setting but
# arena_max=1 the first thread's arena made 64 MB heaps for them and unmapped them as they emptied. Both times the
# next thread's columns are made in fresh pages.
NEXT_THREAD = """
import threading
import numpy as np
def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
def make_and_free():
    columns = [np.ones(5_000_000) for _ in range(3)]; del columns
def make_and_measure(out):
    before = resident_mb()
    columns = [np.ones(5_000_000) for _ in range(3)]
    out.append(resident_mb() - before)
for target in (make_and_free,):
    thread = threading.Thread(target=target); thread.start(); thread.join()
grown = []
thread = threading.Thread(target=make_and_measure, args=(grown,)); thread.start(); thread.join()
print(grown[0])
"""


def grown_in_next_thread(tunables: str | None) -> float:
    import os
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if tunables:
        env["GLIBC_TUNABLES"] = tunables
    done = subprocess.run([sys.executable, "-c", NEXT_THREAD], capture_output=True, text=True, check=True, env=env)
    return float(done.stdout.strip().splitlines()[-1])


@glibc
def test_the_servers_tunables_let_the_next_rerun_thread_reuse_freed_pages():
    from analytics.memory import SERVER_TUNABLES
    assert grown_in_next_thread(SERVER_TUNABLES) < 2
    assert grown_in_next_thread(None) > 100  # glibc's defaults: 114 MB of fresh pages
    without_one_arena = SERVER_TUNABLES.replace("glibc.malloc.arena_max=1:", "")
    assert without_one_arena != SERVER_TUNABLES
    assert grown_in_next_thread(without_one_arena) > 60  # 76 MB: two of the thread's heaps went


def test_run_sh_starts_the_server_with_those_tunables_unless_told_not_to():
    import os
    from analytics.memory import SERVER_TUNABLES
    printed = subprocess.run([sys.executable, "-m", "analytics.memory"], capture_output=True, text=True,
                             check=True, cwd=ROOT).stdout.strip()
    assert printed == SERVER_TUNABLES
    opted_out = subprocess.run([sys.executable, "-m", "analytics.memory"], capture_output=True, text=True,
                               check=True, cwd=ROOT, env={**os.environ, "OUTCOMES_KEEP_MEMORY": "0"}).stdout
    assert opted_out.strip() == ""
    app_branch = (ROOT / "run.sh").read_text().split("  app)")[1].split(";;")[0]
    assert 'tunables=$(.venv/bin/python -m analytics.memory)' in app_branch
    assert 'export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}$tunables"' in app_branch
    assert app_branch.index("GLIBC_TUNABLES") < app_branch.index("streamlit run")



def _without_numpy_switch(**extra: str) -> dict:
    import os
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    return {**env, **extra}


# A 64 MB array's huge pages (AnonHugePages of the process): numpy asks for them on every array of 4 MB or more;
# after no_huge_pages it does not, and the kernel (in its "madvise" mode, this machine's and Debian's default) gives
# none. Each huge page is 2 MB found, zeroed and mapped at once: on a VM that backs memory when touched, the cost of
# big work here (docstring of analytics.memory).
HUGE_PAGES = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
from analytics.memory import no_huge_pages
took = no_huge_pages() if sys.argv[1] == "off" else None
def huge_kb():
    with open("/proc/self/smaps_rollup") as f:
        return sum(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))
before = huge_kb()
column = np.ones(8_000_000)
print(took, huge_kb() - before)
"""


def huge_pages_of_a_column(mode: str, env: dict) -> tuple[str, int]:
    done = subprocess.run([sys.executable, "-c", HUGE_PAGES.format(root=str(ROOT)), mode], capture_output=True,
                          text=True, check=True, env=env)
    took, kb = done.stdout.strip().splitlines()[-1].split()
    return took, int(kb)


def _thp_mode() -> str:
    path = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    text = path.read_text() if path.exists() else ""
    return text[text.find("[") + 1:text.find("]")] if "[" in text else ""


@pytest.mark.skipif(_thp_mode() != "madvise" or not Path("/proc/self/smaps_rollup").exists(),
                    reason="transparent huge pages on request (the kernel's 'madvise' mode) and /proc")
def test_numpy_asks_for_no_huge_pages_after_no_huge_pages():
    assert huge_pages_of_a_column("off", _without_numpy_switch()) == ("True", 0)
    took, kb = huge_pages_of_a_column("default", _without_numpy_switch())
    assert kb >= 2048  # numpy's default: huge pages for the 64 MB column
    took, kb = huge_pages_of_a_column("off", _without_numpy_switch(NUMPY_MADVISE_HUGEPAGE="1"))
    assert took == "False" and kb >= 2048  # the operator's own choice stands


def test_the_command_line_and_the_server_both_turn_numpy_huge_pages_off():
    code = ("import runpy, sys, json\nsys.argv = ['analytics', '--help']\n"
            "try:\n    runpy.run_module('analytics', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "from numpy._core.multiarray import _get_madvise_hugepage\nprint(json.dumps(_get_madvise_hugepage()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                          env=_without_numpy_switch())
    assert json.loads(done.stdout.strip().splitlines()[-1]) is False
    server = ("import json\nfrom analytics.memory import keep_freed_memory\nkeep_freed_memory()\n"
              "from numpy._core.multiarray import _get_madvise_hugepage\nprint(json.dumps(_get_madvise_hugepage()))")
    for keep in ("1", "0"):  # whether or not the server keeps freed memory
        done = subprocess.run([sys.executable, "-c", server], capture_output=True, text=True, check=True, cwd=ROOT,
                              env=_without_numpy_switch(OUTCOMES_KEEP_MEMORY=keep))
        assert json.loads(done.stdout.strip().splitlines()[-1]) is False
