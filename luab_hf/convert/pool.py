"""The worker pool: chunks of input records parsed in parallel, results in input order."""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["chunked", "current_job", "parallel_map"]

_JOB: Any = None
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def current_job() -> Any:
    """The job description :func:`parallel_map` handed to this worker (labels, folders, schema)."""
    return _JOB


def _set_job(job: Any) -> None:
    global _JOB
    _JOB = job


def _init_worker(job: Any) -> None:
    """A worker leaves Ctrl-C to the main process, which stops the pool as a whole (a worker that
    died of its own KeyboardInterrupt could leave the pool waiting for it forever), and dies
    quietly of the SIGTERM the pool stops it with (not of the main process's handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    _set_job(job)


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
    with _signals_as_flags() as stop:
        # Workers (and the pool's threads, which fork replacements) start with the two signals
        # blocked and unblock them once their own handlers are set: a worker stopped right after
        # its fork still dies of the pool's SIGTERM instead of running an inherited handler.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pool = context.Pool(workers, initializer=_init_worker, initargs=(job,))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        try:
            yield from _drain(pool.imap(func, guarded(), chunksize=1), stop)
        except BaseException:
            _stop(pool)
            raise
        pool.terminate()
    if failures:
        raise failures[0]


def _drain(results: Iterator[Any], stop: list[int]) -> Iterator[Any]:
    """The pool's results in order. Ctrl-C / SIGTERM only set a flag while the pool runs, read here
    between chunks: an interrupt raised inside the pool's own locking could deadlock its exit."""
    while True:
        if stop:
            raise KeyboardInterrupt
        try:
            item = results.next(timeout=0.1)
        except StopIteration:
            return
        except multiprocessing.TimeoutError:
            continue
        yield item


def _stop(pool: Any) -> None:
    """Terminate an interrupted pool without ever waiting on it forever: ``Pool.terminate`` can
    block on the task queue's lock, so after a few seconds the workers are killed outright."""
    stopper = threading.Thread(target=pool.terminate, daemon=True)
    stopper.start()
    stopper.join(timeout=5)
    if stopper.is_alive():
        for child in multiprocessing.active_children():
            child.kill()
        stopper.join(timeout=5)


@contextmanager
def _signals_as_flags() -> Iterator[list[int]]:
    """While active (main thread only), SIGINT and SIGTERM are recorded instead of raised."""
    stop: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.signal(number, lambda received, frame: stop.append(received))
                for number in _STOP_SIGNALS}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if stop:
        raise KeyboardInterrupt

