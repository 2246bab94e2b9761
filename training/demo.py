"""The demo's main job: synthetic shortcut benchmark -> real converter -> Hub-layout dataset.

    python training/demo.py --output demo_output
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datasets import load_dataset

from dataset_scripts import imagenet_ab, synthetic


def build_dataset(output: Path, classes: int, images_per_class: int, seed: int) -> Path:
    """Generate a raw synthetic ImageNet-AB release and convert it with the real converter."""
    raw = synthetic.write_imagenet_ab(output / "raw", classes, images_per_class, seed)
    dataset = output / "ImageNet-AB"
    code = imagenet_ab.main([
        "--xml", str(raw), "--images", str(raw), "--label-set", "present", "--overwrite",
        "--eval-split", f"validation={raw / 'val'}", "--eval-split", f"validation_shifted={raw / 'val_shifted'}",
        "--output", str(dataset),
    ])
    if code:
        raise SystemExit(code)
    return dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("demo_output"))
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--images-per-class", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    shutil.rmtree(args.output / "raw", ignore_errors=True)
    dataset = build_dataset(args.output, args.classes, args.images_per_class, args.seed)
    splits = load_dataset(str(dataset))
    for name, split in splits.items():
        print(f"{name:>20}: {split.num_rows} rows")
    row = splits["train"][0]
    print("a row:", {k: v for k, v in row.items() if k not in ("annotations", "image")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
