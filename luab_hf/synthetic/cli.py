"""``luab-convert synthetic imagenet-ab|coco-ab ...``: write a synthetic release."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..labels import COCO_CLASSES
from . import __doc__ as DESCRIPTION
from .coco_ab import write_coco_ab
from .imagenet_ab import write_imagenet_ab
from .style import CLICK_MODELS, CUES, Style


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="luab-convert synthetic", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="release", required=True)
    for name in ("imagenet-ab", "coco-ab"):
        p = sub.add_parser(name, help=f"write a synthetic {name} release")
        p.add_argument("--out", required=True, type=Path)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--image-size", type=int, default=Style.image_size)
        p.add_argument("--cue-strength", type=float, default=Style.cue_strength,
                       help="how often the background colour matches the class in train and val")
        p.add_argument("--object-scale", type=float, nargs=2, default=Style.object_scale, metavar=("MIN", "MAX"),
                       help="object diameter as a fraction of the image side")
        add_click_arguments(p)
        p.add_argument("--unselected-rate", type=float, default=Style.unselected_rate)
        p.add_argument("--distractors", type=int, default=Style.distractors,
                       help="smaller shapes of other classes per image (ImageNet-AB)")
        p.add_argument("--cue", choices=CUES, default=Style.cue,
                       help="the shortcut: the background colour, or a small patch of the class colour")
        p.add_argument("--patch-size", type=float, default=Style.patch_size,
                       help="the patch's side as a fraction of the image side (--cue patch)")
        if name == "imagenet-ab":
            p.add_argument("--classes", type=int, default=10)
            p.add_argument("--images-per-class", type=int, default=40)
            p.add_argument("--val-per-class", type=int, help="default: a quarter of --images-per-class")
        else:
            p.add_argument("--images", type=int, default=200)
            p.add_argument("--classes", type=int, default=8, help="how many of COCO's 80 classes appear")
            p.add_argument("--val-images", type=int, help="default: a quarter of --images")
    return parser


def add_click_arguments(parser: argparse.ArgumentParser) -> None:
    """How simulated annotators click: shared by ``luab-convert synthetic`` and the demo."""
    parser.add_argument("--click-model", choices=CLICK_MODELS, default=Style.click_model,
                        help="where a click lands: the object's centre, anywhere on it, or near its boundary")
    parser.add_argument("--click-noise", type=float, default=Style.click_noise,
                        help="the click's standard deviation, a fraction of the image side")
    parser.add_argument("--miss-rate", type=float, default=Style.miss_rate,
                        help="the fraction of images whose selecting clicks land off the object, on the background")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    style = Style(args.image_size, args.cue_strength, tuple(args.object_scale), args.click_noise, args.unselected_rate,
                  args.distractors, args.cue, args.patch_size, click_model=args.click_model, miss_rate=args.miss_rate)
    if args.release == "imagenet-ab":
        write_imagenet_ab(args.out, args.classes, args.images_per_class, args.seed, args.val_per_class, style)
    else:
        if not 1 <= args.classes <= len(COCO_CLASSES):
            raise SystemExit(f"--classes must be between 1 and {len(COCO_CLASSES)}")
        write_coco_ab(args.out, args.images, args.seed, args.classes, args.val_images, style)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
