"""How a command-line process gives the memory it frees back to the machine.

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
"""
from __future__ import annotations

import ctypes
import sys

import pyarrow as pa

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting threshold, here fixed


def return_freed_memory() -> dict[str, bool]:
    """Set both allocators for a process that reads big files (call it first thing). Returns which took effect:
    {"arrow_system_pool": ..., "glibc_mmap_threshold": ...} (the latter False off Linux/glibc, where the
    platform's allocator already returns big blocks)."""
    pa.set_memory_pool(pa.system_memory_pool())
    fixed = False
    if sys.platform.startswith("linux"):
        try:
            fixed = bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
        except (OSError, AttributeError):  # not glibc (musl has no mallopt)
            fixed = False
    return {"arrow_system_pool": pa.default_memory_pool().backend_name == "system", "glibc_mmap_threshold": fixed}
