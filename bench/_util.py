"""Helpers shared by the benchmark scripts: timing, peak memory of a process tree, output."""

from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent


def interleaved_times(functions: dict[str, Callable[[], None]], repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of each run of each function, in turns whose order flips every round (A B B A ...)
    so drift, and whatever one leaves behind for the next, hits all alike."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for round_ in range(repeats):
        order = list(functions.items())
        for name, function in order if round_ % 2 == 0 else reversed(order):
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return times


def interleaved_medians(functions: dict[str, Callable[[], None]], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each function over :func:`interleaved_times`."""
    return {name: statistics.median(values) for name, values in interleaved_times(functions, repeats, warmup).items()}


@dataclass
class Run:
    seconds: float  # wall time of the whole process, start-up included
    peak_mib: float  # the summed RSS of it and its children, sampled
    stdout: str
    #: the summed PSS (each page shared by n processes counts 1/n: forked workers share the main
    #: process's imports), sampled; with ``pss=True`` only
    peak_pss_mib: float | None = None


def run_with_peak_rss(command: list[str], interval: float = 0.02, pss: bool = False, **kwargs) -> Run:
    """Run ``command``; its wall time, peak memory (its process tree's summed RSS, and summed PSS
    when ``pss``: reading it costs CPU, so not in timed runs) and output."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    handle = psutil.Process(process.pid)
    peak = peak_pss = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss
        while not done.is_set():
            try:
                processes = [handle, *handle.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in processes))
                if pss:
                    peak_pss = max(peak_pss, sum(p.memory_full_info().pss for p in processes))
            except psutil.Error:
                pass
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    stdout, stderr = process.communicate()
    done.set()
    thread.join()
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {stderr[-2000:]}")
    return Run(time.perf_counter() - start, peak / 2**20, stdout, peak_pss / 2**20 if pss else None)


def report(figures: dict) -> None:
    """The one line every benchmark ends with: its figures as JSON, including ``ratio``."""
    print(json.dumps(figures, sort_keys=True), flush=True)
