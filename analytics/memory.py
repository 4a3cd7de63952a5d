"""How a process treats the memory it frees: a command-line run gives it back to the machine, the dashboard's
server keeps it for the next filter change.

Why: a command reads a whole file, checks it, then derives from it; the columns it no longer needs are freed, but
two allocators kept the freed pages for later instead of returning them, so the process's peak was the sum of
every step's tables. `summary FILE` on 1.27M sessions peaked at 1.30-1.36 GB; with the two settings below,
0.97 GB, in the same time (four interleaved runs each, bench/bench_peer.py); `first-page` of 10M sessions peaked at
5.5-5.8 GB, now 4.5-4.6 GB, at the cost of four times as many page faults (a freed column's pages are fresh again
when the next one is made):
- Arrow's buffers (the file's text columns) come from the system allocator instead of mimalloc, which held freed
  buffers in its own pages;
- glibc serves every block of 128 kB or more (every column of a big table) by its own mapping, handed back to the
  machine when freed, instead of raising that threshold as blocks are freed (its default), after which freed
  columns stay in the process's heap.
Nothing else changes: the same arrays, the same results.

Both kinds of process also stop numpy asking the kernel for huge pages (no_huge_pages). Numpy marks every array of
4 MB or more for transparent huge pages, so each first touch of one makes the kernel find, zero and map 2 MB at
once; on a virtual machine whose host backs its memory only when touched, that was most of the time of big work
here: `summary FILE` of 1.27M sessions took 9.4-9.6 s with them and 4.45 s without (system time 6.2-6.4 s against
1.7 s; the same 0.97 GB peak), and the first filter change at 10M sessions 5.2-5.4 s against 1.07 s (system time
4.1-5.1 s against 0.2 s). NUMPY_MADVISE_HUGEPAGE in the environment, numpy's own setting, is left to decide.

The dashboard's server is the other way round (SERVER_TUNABLES, keep_freed_memory). Every filter change makes and
frees the same few columns of the selection (10M sessions: up to 80 MB each); glibc maps each one afresh and hands
it back when freed, so the next change pays to have those pages found and zeroed again, and on a virtual machine
that hands freed pages back to its host that is the larger part of the time. Three settings keep them:
- no block gets its own mapping (mmap_max=0): every block comes from the heap;
- up to 2 GB free at the heap's top is kept (trim_threshold);
- one heap for every thread (arena_max=1). Streamlit runs each rerun in a new thread; glibc gives a thread its own
  arena of 64 MB heaps, which it unmaps as they empty whatever the other two settings say.
In one process, 12 filter changes over 10M sessions, each in a new thread as Streamlit runs them: 11.7-11.9 s a
pass with all three, 17.4 s with the first two (system time 0.0 / 5.1 s; page faults 300 / 130,000); in one
thread with none, 21-27 s (8-13 s; 170,000). The resident size stays at the server's peak (4.35 GB, against
3.51 GB between passes with none) and did not grow over five passes. A thread's arena is chosen when it first allocates, so arena_max
works only from the process's start: `./run.sh app` sets SERVER_TUNABLES in GLIBC_TUNABLES; keep_freed_memory
sets what can still be set once the server runs (for `streamlit run dashboard.py` without it).
"""
from __future__ import annotations

import ctypes
import functools
import os
import sys

import pyarrow as pa

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4
M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting threshold, here fixed
KEPT_TOP_BYTES = 2**31 - 1  # free memory at the top of the heap kept before any is handed back (mallopt takes an int)
#: The server's glibc settings from its start (GLIBC_TUNABLES; run.sh sets exactly this, tests/test_memory.py checks).
SERVER_TUNABLES = f"glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold={KEPT_TOP_BYTES}"


def _mallopt(*settings: tuple[int, int]) -> bool:
    """glibc's mallopt for each (parameter, value); False off Linux/glibc (musl has no mallopt) or if any was
    refused."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return all(bool(libc.mallopt(parameter, value)) for parameter, value in settings)
    except (OSError, AttributeError):
        return False


def return_freed_memory() -> dict[str, bool]:
    """Set the allocators for a process that reads big files (call it first thing). Returns which took effect:
    {"arrow_system_pool": ..., "glibc_mmap_threshold": ..., "numpy_huge_pages_off": ...} (the second False off
    Linux/glibc, where the platform's allocator already returns big blocks)."""
    pa.set_memory_pool(pa.system_memory_pool())
    fixed = _mallopt((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    return {"arrow_system_pool": pa.default_memory_pool().backend_name == "system", "glibc_mmap_threshold": fixed,
            "numpy_huge_pages_off": no_huge_pages()}


def no_huge_pages() -> bool:
    """Numpy stops marking its big arrays for transparent huge pages (see above); True when it took effect. Not when
    NUMPY_MADVISE_HUGEPAGE is set (the operator chose), nor where numpy has no such switch."""
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return False
    from numpy._core import multiarray

    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is None:
        return False
    switch(False)
    return not multiarray._get_madvise_hugepage()


@functools.cache  # once per process: the dashboard's script runs again on every rerun
def keep_freed_memory() -> bool:
    """For the dashboard's server, what of SERVER_TUNABLES can be set while it runs: glibc serves every block from
    the heap, keeps up to 2 GB free at its top, and makes no arena for a thread that has none yet (threads that
    have one keep it: hence GLIBC_TUNABLES from the start, as run.sh does). Call it once, early; True when it took
    effect. OUTCOMES_KEEP_MEMORY=0 leaves glibc's defaults (the server then hands freed columns back: smaller
    between visits, slower on big data; run.sh then sets no GLIBC_TUNABLES either)."""
    no_huge_pages()  # whether or not it keeps memory
    if not keeps_memory():
        return False
    return _mallopt((M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, KEPT_TOP_BYTES), (M_ARENA_MAX, 1))


def keeps_memory() -> bool:
    """Whether the server keeps freed memory (OUTCOMES_KEEP_MEMORY is not 0)."""
    return os.environ.get("OUTCOMES_KEEP_MEMORY", "1").strip() != "0"


if __name__ == "__main__":  # `python -m analytics.memory`: the GLIBC_TUNABLES a server starts with (none: opted out)
    print(SERVER_TUNABLES if keeps_memory() else "")
