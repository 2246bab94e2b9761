"""Facts about the machine that the converters and the trainer both size themselves by."""

from __future__ import annotations

import os


def available_cpus() -> int:
    """The cores this process may run on (a container's or ``taskset``'s limit, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
