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


def run_with_peak_rss(command: list[str], interval: float = 0.02, **kwargs) -> Run:
    """Run ``command``; its wall time, peak memory (its process tree's summed RSS) and output."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    handle = psutil.Process(process.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                total = handle.memory_info().rss + sum(c.memory_info().rss for c in handle.children(recursive=True))
                peak = max(peak, total)
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
    return Run(time.perf_counter() - start, peak / 2**20, stdout)


def report(figures: dict) -> None:
    """The one line every benchmark ends with: its figures as JSON, including ``ratio``."""
    print(json.dumps(figures, sort_keys=True), flush=True)
