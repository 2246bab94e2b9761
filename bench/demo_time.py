"""End to end: wall time of the demo's main job (generate, convert, train both models, report)."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from tempfile import TemporaryDirectory

import _util

GOAL_SECONDS = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        command = [sys.executable, str(_util.REPO / "training" / "demo.py"), "--output", tmp]
        start = time.perf_counter()
        subprocess.run([*command, *(["--quick"] if args.quick else [])], check=True, capture_output=True)
        seconds = time.perf_counter() - start
    print(f"demo main job: {seconds:.0f} s{' (quick)' if args.quick else ''}", flush=True)
    _util.report({"demo_seconds": round(seconds, 1), "ratio": round(seconds / GOAL_SECONDS, 3), "quick": args.quick})


if __name__ == "__main__":
    main()
