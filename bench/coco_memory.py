"""COCO-AB memory: peak memory of the streamed conversion vs a plain ``json.load`` of the same file.

The conversion's memory is its process tree's summed PSS (the main process and its two forked
workers share ~150 MB of imported libraries; summed RSS counts them three times, and is reported
too).

The file is a synthetic COCO-AB release grown to the real one's size (398 MB) by repeating
generated records under new image ids.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from tempfile import TemporaryDirectory

import _util

from luab_hf import synthetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    target = 4 << 20 if args.quick else 398 << 20
    with TemporaryDirectory() as tmp:
        path, records = synthetic.write_release_json(Path(tmp), target)
        size_mib = path.stat().st_size / 2**20
        ours = _util.run_with_peak_rss(
            [sys.executable, str(_util.REPO / "dataset_scripts" / "coco_ab.py"), "--json", str(path),
             "--output", str(Path(tmp) / "out"), "--num-workers", "2"], pss=True)
        plain = _util.run_with_peak_rss([sys.executable, "-c", f"import json; json.load(open({str(path)!r}))"],
                                        pss=True)
    print(f"{size_mib:.0f} MiB, {records:,} records: ours {ours.peak_pss_mib:.0f} MiB PSS ({ours.peak_mib:.0f} MiB "
          f"summed RSS) in {ours.seconds:.0f} s; json.load {plain.peak_pss_mib:.0f} MiB in {plain.seconds:.0f} s",
          flush=True)
    _util.report({"coco_pss_mib": round(ours.peak_pss_mib, 1), "coco_rss_mib": round(ours.peak_mib, 1),
                  "json_load_rss_mib": round(plain.peak_mib, 1), "ratio": round(ours.peak_pss_mib / plain.peak_pss_mib, 4),
                  "file_mib": round(size_mib, 1), "records": records, "seconds": round(ours.seconds, 1)})


if __name__ == "__main__":
    main()
