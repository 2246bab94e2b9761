"""The worker pool: chunks of input records converted in parallel, results in input order.

Built on ``concurrent.futures.ProcessPoolExecutor``: a worker that dies (killed, out of memory)
breaks the pool, which the executor reports for every pending chunk and answers by ending its
other workers itself; nothing here signals a process. Ctrl-C and SIGTERM are polled between
results (:mod:`luab_hf.stopping`); a stop cancels the chunks not yet started and waits for the
ones in progress.
"""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from ..stopping import STOP_SIGNALS, StopRequest, stop_requests
from .records import ConversionError

__all__ = ["WorkerDied", "WorkerPool", "chunked", "current_job", "parallel_map", "worker_pool"]

_JOB: Any = None


def current_job() -> Any:
    """The job description :func:`worker_pool` handed to this worker (labels, folders, schema)."""
    return _JOB


def _set_job(job: Any) -> None:
    global _JOB
    _JOB = job


def _init_worker(job: Any) -> None:
    """A worker leaves Ctrl-C to the main process, and dies of SIGTERM: that is how the executor
    ends the other workers when one died (a worker ignoring it would keep the executor waiting)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _set_job(job)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


#: Chunks handed to the pool and not yet taken back, per worker: the input is read no further
#: ahead than this, and results wait for a slow consumer in bounded numbers.
IN_FLIGHT_PER_WORKER = 2
#: How often the main thread looks for a stop signal while it waits on a chunk (seconds).
_POLL = 0.1


class WorkerDied(ConversionError):
    """A worker process ended while the pool ran (killed, out of memory): its chunk is lost."""


class WorkerPool:
    """Worker processes that run one map after another (a split's stage and write passes): the
    workers are forked once, at the first chunk, before the main process's bookkeeping grows, so
    what they inherit from it stays that of a fresh converter, however large the input."""

    def __init__(self, executor: ProcessPoolExecutor | None, workers: int, stop: StopRequest | None) -> None:
        self._executor, self._workers, self._stop = executor, workers, stop

    def map(self, func: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``map(func, items)`` in order. At most ``IN_FLIGHT_PER_WORKER * workers`` items are out
        at once, so memory stays flat however slowly the caller takes the results."""
        if self._executor is None:
            yield from map(func, items)
            return
        pending: deque[Future] = deque()
        source = iter(items)
        exhausted, failure = False, None
        while True:
            while not exhausted and len(pending) < IN_FLIGHT_PER_WORKER * self._workers:
                try:
                    item = next(source, _END)
                except Exception as error:  # the input broke (a truncated file): after the items before it
                    exhausted, failure = True, error
                    break
                if item is _END:
                    exhausted = True
                else:
                    pending.append(self._executor.submit(func, item))
            if not pending:
                if failure is not None:
                    raise failure
                return
            yield self._result(pending.popleft())

    def _result(self, future: Future) -> Any:
        while not wait([future], timeout=_POLL, return_when=FIRST_COMPLETED).done:
            if self._stop:
                raise KeyboardInterrupt
        try:
            return future.result()
        except BrokenProcessPool:
            if self._stop:  # a SIGTERM to the whole process group ended the workers too
                raise KeyboardInterrupt from None
            raise WorkerDied("a worker process died while converting (killed, or out of memory? see the system "
                             "log); nothing was written") from None

    def close(self, failed: bool) -> None:
        """End the workers: chunks not yet started are dropped when ``failed``; a chunk in progress
        is waited for (the executor ends the workers itself when one died)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=failed)


_END = object()


@contextmanager
def worker_pool(workers: int, job: Any) -> Iterator[WorkerPool]:
    """A :class:`WorkerPool` of ``workers`` processes (or this one, when 1) whose tasks read the
    shared, read-only ``job`` through :func:`current_job`. Order is kept, so the output is the
    same whatever the number of workers. Ctrl-C or SIGTERM while it runs stop it (raised as
    KeyboardInterrupt once its workers are gone)."""
    if workers <= 1:
        _set_job(job)
        yield WorkerPool(None, 1, None)
        return
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with stop_requests() as stop:
        stop.listen()  # the workers, forked from here on, start with both signals blocked
        executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(job,))
        pool = WorkerPool(executor, workers, stop)
        try:
            yield pool
        except BaseException:
            pool.close(failed=True)
            raise
        pool.close(failed=bool(stop))
        if stop:
            raise KeyboardInterrupt


def parallel_map(func: Callable[[Any], Any], chunks: Iterable[Any], workers: int, job: Any) -> Iterator[Any]:
    """One map over a pool of its own: see :func:`worker_pool` and :meth:`WorkerPool.map`."""
    with worker_pool(workers, job) as pool:
        yield from pool.map(func, chunks)
