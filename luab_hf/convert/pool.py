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

from .records import ConversionError

__all__ = ["WorkerDied", "chunked", "current_job", "parallel_map"]

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


#: Chunks handed to the pool and not yet taken back, per worker: the input is read no further
#: ahead than this, and results wait for a slow consumer in bounded numbers.
IN_FLIGHT_PER_WORKER = 2


def parallel_map(func: Callable[[Any], Any], chunks: Iterable[Any], workers: int, job: Any) -> Iterator[Any]:
    """``map(func, chunks)`` in order, over ``workers`` processes (in this one when 1); ``func``
    reads the shared, read-only ``job`` through :func:`current_job`.

    Order is kept, so the output is the same whatever the number of workers. At most
    ``IN_FLIGHT_PER_WORKER * workers`` chunks are out at once, so memory stays flat however
    slowly the caller takes the results.
    """
    if workers <= 1:
        _set_job(job)
        yield from map(func, chunks)
        return
    failures: list[BaseException] = []
    slots = threading.Semaphore(IN_FLIGHT_PER_WORKER * workers)
    closing = threading.Event()

    def guarded() -> Iterator[Any]:
        # Pool.imap reads the input in a helper thread, where an exception (a truncated input
        # file) would hang the pool; catch it there and raise it here after the good chunks.
        try:
            for chunk in chunks:
                while not slots.acquire(timeout=0.1):  # a free slot, or the pool is going away
                    if closing.is_set():
                        return
                yield chunk
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
            for item in _drain(pool.imap(func, guarded(), chunksize=1), stop, pool):
                slots.release()
                yield item
        except BaseException:
            closing.set()
            _stop(pool)
            raise
        closing.set()
        pool.terminate()
    if failures:
        raise failures[0]


class WorkerDied(ConversionError):
    """A worker process ended while the pool ran (killed, out of memory): its chunk is lost."""


def _drain(results: Iterator[Any], stop: list[int], pool: Any) -> Iterator[Any]:
    """The pool's results in order. Ctrl-C / SIGTERM only set a flag while the pool runs, read here
    between chunks: an interrupt raised inside the pool's own locking could deadlock its exit.

    ``Pool`` replaces a worker that dies and never returns the chunk it held, so a dead worker
    would leave this waiting forever: its workers are watched, and any change stops the run.
    """
    workers = {process.pid: process for process in pool._pool}
    while True:
        if stop:
            raise KeyboardInterrupt
        try:
            item = results.next(timeout=0.1)
        except StopIteration:
            return
        except multiprocessing.TimeoutError:
            dead = [process for process in workers.values() if process.exitcode is not None]
            if dead or {process.pid for process in pool._pool} - workers.keys():
                code = dead[0].exitcode if dead else None
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                raise WorkerDied(f"a worker process died ({how}) while converting; nothing was written "
                                 "(out of memory? see the system log)") from None
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

