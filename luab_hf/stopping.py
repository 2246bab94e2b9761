"""Ctrl-C (SIGINT) and SIGTERM, for the trainer and the converters alike.

A stop signal is recorded, never raised in the middle of something: the main thread blocks both
signals and polls for them where stopping is safe (between training steps, between a converter
pool's results), and the worker processes it forks leave Ctrl-C to it (loader workers ignore
SIGTERM too; converter workers die of it, which is how their executor ends them). ``accelerate launch`` forwards SIGTERM to the training processes and torchrun's agent does
the same for every rank; Ctrl-C reaches the whole process group, workers included. The trainer
makes its ranks agree on the step they stop at; a converter stops its pool and removes its
staging folder. Outside those loops, :func:`sigterm_interrupts` makes SIGTERM act as Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingStopped(Exception):
    """The run was asked to stop; ``exit_code`` is the shell's convention (128 + the signal)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class StopRequest:
    """The first stop signal received once :meth:`listen` was called, if any.

    While listening, the main thread blocks both signals and polls for them between steps, and a
    handler records any that another thread receives. Blocked is what matters for the DataLoader
    workers the loop forks: they inherit the mask, so a signal sent to the whole process group (as
    torchrun's agent does) cannot kill one in the moment before it sets its own handling.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def __bool__(self) -> bool:
        if self.signum is None and self._previous:
            pending = signal.sigpending() & set(STOP_SIGNALS)
            if pending:
                self._record(signal.sigwait(pending), None)  # consumed here, never delivered
        return self.signum is not None

    def _record(self, signum: int, frame: object) -> None:
        if self.signum is None:
            self.signum = signum

    def listen(self) -> None:
        """Record both signals from now on (main thread only; elsewhere they stay as they are).
        Called when training begins: during setup, Ctrl-C still interrupts at once."""
        if threading.current_thread() is threading.main_thread() and not self._previous:
            self._previous = {number: signal.signal(number, self._record) for number in STOP_SIGNALS}
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)

    def restore(self) -> None:
        if not self._previous:
            return
        bool(self)  # take any pending signal while our handler is still the one installed
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a stop request"


@contextmanager
def stop_requests() -> Iterator[StopRequest]:
    """A :class:`StopRequest` whose handlers are removed again on exit."""
    request = StopRequest()
    try:
        yield request
    finally:
        request.restore()


def ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave both signals to the training process, which shuts them down; a
    worker dying of Ctrl-C first would turn a clean stop into a 'worker killed' error. (They start
    with both blocked, inherited from the loop; ignoring also drops one already pending.)"""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does, while active (main thread only): a
    command line tool then cleans up the same way for both."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
