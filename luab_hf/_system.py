"""Facts about the machine that the converters and the trainer both size themselves by."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import cache


def available_cpus() -> int:
    """The cores this process may run on (a container's or ``taskset``'s limit, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:
    """glibc's ``malloc_trim``, or None elsewhere (musl, macOS)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Hand the memory this process freed back to the system: Arrow's pool keeps freed blocks for
    reuse, and glibc keeps freed pages of its heap mapped (counted in RSS), however long a worker
    then runs something else."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if trim := _malloc_trim():
        trim(0)
