"""The worker pool: chunks of input records parsed in parallel, results in input order."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["chunked", "current_job", "default_workers", "parallel_map"]

_JOB: Any = None


def current_job() -> Any:
    """The job description :func:`parallel_map` handed to this worker (labels, folders, schema)."""
    return _JOB


def _set_job(job: Any) -> None:
    global _JOB
    _JOB = job


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def parallel_map(func: Callable[[Any], Any], chunks: Iterable[Any], workers: int, job: Any) -> Iterator[Any]:
    """``map(func, chunks)`` in order, over ``workers`` processes (in this one when 1); ``func``
    reads the shared, read-only ``job`` through :func:`current_job`.

    Order is kept, so the output is the same whatever the number of workers.
    """
    if workers <= 1:
        _set_job(job)
        yield from map(func, chunks)
        return
    failures: list[BaseException] = []

    def guarded() -> Iterator[Any]:
        # Pool.imap reads the input in a helper thread, where an exception (a truncated input
        # file) would hang the pool; catch it there and raise it here after the good chunks.
        try:
            yield from chunks
        except Exception as error:
            failures.append(error)

    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with context.Pool(workers, initializer=_set_job, initargs=(job,)) as pool:
        yield from pool.imap(func, guarded(), chunksize=1)
    if failures:
        raise failures[0]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
