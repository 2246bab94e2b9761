"""ImageNet-AB ingest: the whole conversion vs the published loader's approach.

Ours: every field parsed, Parquet written, both cores (``dataset_scripts/imagenet_ab.py``).
Theirs (reimplemented): stdlib ``xml.etree.ElementTree``, one file at a time, clicks only, one
core. Both read the same synthetic XML files, warm in the page cache. Also the peak RSS of our
conversion at two input sizes, to show it stays flat.
"""

from __future__ import annotations

import argparse
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from tempfile import TemporaryDirectory

import _util
import numpy as np

from luab_hf.convert import synthetic

FULL_RELEASE = 1_281_167


def write_xml_release(root: Path, records: int, seed: int = 0, classes: int = 100) -> Path:
    """``records`` XML files in the release layout (no images: the ingest is about the XML)."""
    rng = np.random.default_rng(seed)
    wnids = synthetic.pick_wnids(classes)
    style = synthetic.Style()
    for index in range(records):
        wnid = wnids[index % classes]
        folder = root / "train_xml" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        centre = (float(rng.uniform(0.2, 0.8)), float(rng.uniform(0.2, 0.8)))
        drawn = synthetic.Drawn(None, centre, (10, 10, 50, 50))
        image_id = f"{wnid}_{index}"
        (folder / f"{image_id}.xml").write_text(synthetic._imagenet_xml(rng, wnid, image_id, drawn, style, 64))
    return root


def published_loader(root: Path) -> int:
    """The published loader's way: parse each file with ElementTree, keep the mean selected click."""
    targets = {}
    for path in sorted((root / "train_xml").rglob("*.xml")):
        tree = ET.parse(path)
        clicks = [(float(m.find("selectedRecord/x").text), float(m.find("selectedRecord/y").text))
                  for m in tree.getroot().iter("metadata") if m.findtext("selected") == "True"]
        if clicks:
            targets[path.stem] = (sum(c[0] for c in clicks) / len(clicks), sum(c[1] for c in clicks) / len(clicks))
    return len(targets)


def convert_command(root: Path, output: Path) -> list[str]:
    return [sys.executable, str(_util.REPO / "dataset_scripts" / "imagenet_ab.py"), "--xml", str(root),
            "--output", str(output), "--overwrite", "--num-workers", "2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    small, large = (500, 2_000) if args.quick else (10_000, 100_000)
    with TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        release = write_xml_release(tmp / "small", small)
        published_loader(release)  # warm the page cache
        start = time.perf_counter()
        published_loader(release)
        theirs = small / (time.perf_counter() - start)
        seconds, rss_small = _util.run_with_peak_rss(convert_command(release, tmp / "out_small"))
        ours = small / seconds
        big = write_xml_release(tmp / "large", large)
        big_seconds, rss_large = _util.run_with_peak_rss(convert_command(big, tmp / "out_large"))
    ours_large = large / big_seconds
    print(f"published approach: {theirs:,.0f} records/s; ours: {ours:,.0f} records/s at {small:,}, "
          f"{ours_large:,.0f} at {large:,}", flush=True)
    _util.report({
        "records_per_second": round(ours_large), "published_records_per_second": round(theirs),
        "ratio": round(ours_large / theirs, 3), "projected_full_release_seconds": round(FULL_RELEASE / ours_large, 1),
        "rss_mib_small": round(rss_small, 1), "rss_mib_large": round(rss_large, 1),
        "rss_growth": round(rss_large / rss_small, 3), "records_small": small, "records_large": large,
    })


if __name__ == "__main__":
    main()
