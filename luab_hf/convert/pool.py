"""The worker pool: chunks of input records parsed in parallel, results in input order."""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .records import ConversionError

__all__ = ["WorkerDied", "WorkerPool", "chunked", "current_job", "parallel_map", "worker_pool"]

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


class WorkerPool:
    """Worker processes that run one map after another (a split's stage and write passes): the
    workers are forked once, before the main process's bookkeeping grows, so what they inherit
    from it stays that of a fresh converter, however large the input."""

    def __init__(self, pool: Any, workers: int, signals: list[int]) -> None:
        self._pool, self._workers, self._signals = pool, workers, signals
        #: the worker processes as the pool started: a death even between two maps stops the next
        self._processes = {process.pid: process for process in pool._pool} if pool is not None else {}
        self._closing: list[threading.Event] = []

    def map(self, func: Callable[[Any], Any], chunks: Iterable[Any]) -> Iterator[Any]:
        """``map(func, chunks)`` in order. At most ``IN_FLIGHT_PER_WORKER * workers`` chunks are out
        at once, so memory stays flat however slowly the caller takes the results."""
        if self._pool is None:
            yield from map(func, chunks)
            return
        failures: list[BaseException] = []
        slots = threading.Semaphore(IN_FLIGHT_PER_WORKER * self._workers)
        closing = threading.Event()
        self._closing.append(closing)

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

        try:
            for item in _drain(self._pool.imap(func, guarded(), chunksize=1), self._signals, self._pool,
                               self._processes):
                slots.release()
                yield item
        except BaseException:
            self.close(failed=True)
            raise
        closing.set()
        if failures:
            raise failures[0]

    def close(self, failed: bool) -> None:
        """End the workers; ``failed``: without ever waiting on them forever (see :func:`_stop`)."""
        for closing in self._closing:
            closing.set()
        if self._pool is None:
            return
        if failed:
            _stop(self._pool)
        else:
            self._pool.terminate()


@contextmanager
def worker_pool(workers: int, job: Any) -> Iterator[WorkerPool]:
    """A :class:`WorkerPool` of ``workers`` processes (or this one, when 1) whose tasks read the
    shared, read-only ``job`` through :func:`current_job`. Order is kept, so the output is the
    same whatever the number of workers."""
    if workers <= 1:
        _set_job(job)
        yield WorkerPool(None, 1, [])
        return
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with _signals_as_flags() as stop:
        # Workers (and the pool's threads, which fork replacements) start with the two signals
        # blocked and unblock them once their own handlers are set: a worker stopped right after
        # its fork still dies of the pool's SIGTERM instead of running an inherited handler.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pool = WorkerPool(context.Pool(workers, initializer=_init_worker, initargs=(job,)), workers, stop)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        try:
            yield pool
        except BaseException:
            pool.close(failed=True)
            raise
        pool.close(failed=False)


def parallel_map(func: Callable[[Any], Any], chunks: Iterable[Any], workers: int, job: Any) -> Iterator[Any]:
    """One map over a pool of its own: see :func:`worker_pool` and :meth:`WorkerPool.map`."""
    with worker_pool(workers, job) as pool:
        yield from pool.map(func, chunks)


class WorkerDied(ConversionError):
    """A worker process ended while the pool ran (killed, out of memory): its chunk is lost."""


def _drain(results: Iterator[Any], stop: list[int], pool: Any, workers: dict[int, Any]) -> Iterator[Any]:
    """The pool's results in order. Ctrl-C / SIGTERM only set a flag while the pool runs, read here
    between chunks: an interrupt raised inside the pool's own locking could deadlock its exit.

    ``Pool`` replaces a worker that dies and never returns the chunk it held, so a dead worker
    would leave this waiting forever: ``workers`` (pid -> process, as the pool started) are
    watched, and any change stops the run.
    """
    while True:
        if stop:
            raise KeyboardInterrupt
        try:
            item = results.next(timeout=0.1)
        except StopIteration:
            return
        except multiprocessing.TimeoutError:
            running = {process.pid for process in pool._pool}
            gone = [process for pid, process in workers.items() if pid not in running or process.exitcode is not None]
            if gone:
                code = _exit_code(gone[0])
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                raise WorkerDied(f"a worker process died ({how}) while converting; nothing was written "
                                 "(out of memory? see the system log)") from None
            continue
        yield item


def _exit_code(process: Any, wait: float = 1.0) -> int | None:
    """A dead worker's exit code. The pool's own thread may have just reaped it (``exitcode`` reads
    None until that thread records the status): wait for it a moment."""
    deadline = time.monotonic() + wait
    while process.exitcode is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return process.exitcode


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

