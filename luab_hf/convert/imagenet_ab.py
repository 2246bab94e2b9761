"""Convert the ImageNet-AB release (joined with your ImageNet train images) into a Hub dataset.

    luab-convert imagenet-ab --xml imagenet_ab_v1_0.tar.gz \\
        --images /data/imagenet/train --eval-split validation=/data/imagenet/val \\
        --output ImageNet-AB [--push-to-hub ORG/ImageNet-AB]

The output folder is laid out like a Hub dataset repo: ``load_dataset(folder)`` gives rows with
images (config ``default``, when ``--images`` is given), ``load_dataset(folder, "byproducts")``
the byproducts alone.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from ..byproducts import ByproductError, iter_imagenet_ab_sources, parse_imagenet_ab_xml
from ..byproducts.imagenet_ab_release import Source, tarball_members
from ..byproducts.tarstream import TarFormatError
from ..cards import DatasetSummary, command_line
from ..labels import imagenet_classes, imagenet_name
from ..schema import imagenet_ab_features
from .chunks import ChunkResult, worker_schema
from .cli import add_output_arguments, parse_named_paths, run_cli
from .driver import Conversion, run_conversion
from .images import find_image, list_images, read_image
from .pool import chunked
from .records import ConversionError

LABEL_SETS = ("imagenet-1k", "present")
WNID = re.compile(r"n\d{8}")
#: Input records per worker task: XML files alone are small, joined images are not.
CHUNK, IMAGE_CHUNK = 2048, 256


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="luab-convert imagenet-ab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--xml", required=True, type=Path,
                        help="the release tarball (read directly), a folder holding train_xml/, or train_xml/ itself")
    parser.add_argument("--images", type=Path,
                        help="your ImageNet train/<wnid>/*.JPEG tree (or its parent); adds config 'default'")
    parser.add_argument("--eval-split", action="append", metavar="NAME=DIR",
                        help="add an image-only split from a <wnid>/*.JPEG tree (repeatable; needs --images)")
    parser.add_argument("--label-set", choices=LABEL_SETS, default="imagenet-1k",
                        help="'imagenet-1k': the 1000 classes in sorted-wnid order; 'present': only the wnids in the input")
    add_output_arguments(parser)
    return parser


# --------------------------------------------------------------------------- worker side


@dataclass(frozen=True)
class Job:
    """What every chunk of a run shares: the label of each wnid, where the images are, the schema."""

    label_of: dict[str, int]
    images: Path | None
    schema: pa.Schema
    max_pixels: int


def _label(job: Job, wnid: str, source: str) -> int:
    label = job.label_of.get(wnid)
    if label is None:
        raise ByproductError(source, f"class {wnid!r} is not in the label set (see --label-set)")
    return label


def convert_xml_chunk(job: Job, chunk: list[tuple[str, Source]]) -> ChunkResult:
    """Parse XML files (and read their images) into one Arrow table, plus the bad ones."""
    rows, errors = [], []
    for name, data in chunk:
        try:
            if isinstance(data, ByproductError):  # a member or file that could not be read
                raise data
            row = parse_imagenet_ab_xml(data, source=name)
            if row["image_id"] != os.path.splitext(os.path.basename(name))[0]:  # Path(name).stem, 10x cheaper
                raise ByproductError(name, f"<filename> {row['image_id']!r} does not match the file name")
            row["label"] = _label(job, row["wnid"], name)
            row["_source"] = name
            if job.images is not None:
                path = find_image(job.images / row["wnid"], row["image_id"])
                try:
                    row["image"], row["width"], row["height"] = read_image(path, job.max_pixels)
                except ByproductError as error:
                    raise ByproductError(name, f"{error.reason}: {error.source}") from None
        except ByproductError as error:
            errors.append((error.source, error.reason))
            continue
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=job.schema), errors, [name for name, _ in chunk], {}


def convert_image_chunk(job: Job, chunk: list[tuple[str, Path]]) -> ChunkResult:
    """Image-only rows for an evaluation split: byproduct columns stay null."""
    rows, errors = [], []
    for wnid, path in chunk:
        try:
            image, width, height = read_image(path, job.max_pixels)
            rows.append({"image_id": path.stem, "image": image, "label": _label(job, wnid, str(path)),
                         "wnid": wnid, "width": width, "height": height, "_source": str(path)})
        except ByproductError as error:
            errors.append((error.source, error.reason))
    return pa.Table.from_pylist(rows, schema=job.schema), errors, [str(p) for _, p in chunk], {}


# --------------------------------------------------------------------------- main side


def _class_folders(root: Path) -> list[Path]:
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise ConversionError(f"{root}: expected class folders <wnid>/ holding images")
    return folders


def _images_root(images: Path | None) -> Path | None:
    if images is None:
        return None
    if not images.is_dir():
        raise ConversionError(f"--images {images}: not a folder")
    return images / "train" if (images / "train").is_dir() else images


def _present_wnids(xml: Path, max_bytes: int) -> list[str]:
    """The classes in the input, for ``--label-set present``: wnid-shaped folders only (any other
    folder's records then fail as "not in the label set", counted, instead of shifting labels)."""
    if xml.is_dir():
        root = xml / "train_xml" if (xml / "train_xml").is_dir() else xml
        return sorted(p.name for p in root.iterdir() if p.is_dir() and WNID.fullmatch(p.name))
    try:
        return sorted({Path(m.name).parent.name for m in tarball_members(xml, max_bytes, read=False)
                       if m.name.endswith(".xml") and WNID.fullmatch(Path(m.name).parent.name)})
    except (TarFormatError, OSError) as error:
        raise ConversionError(f"{xml}: unreadable or truncated tarball ({error})") from None


def _label_set(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    if args.label_set == "imagenet-1k":
        wnids, names = imagenet_classes()
        return list(wnids), list(names)
    wnids = _present_wnids(args.xml, args.max_record_bytes)
    return wnids, [imagenet_name(w) for w in wnids]


def convert(args: argparse.Namespace, argv: list[str] | None = None) -> Path:
    """Run the conversion described by ``args``; returns the finished output folder."""
    images = _images_root(args.images)
    eval_splits = parse_named_paths(args.eval_split, "--eval-split")
    if eval_splits and images is None:
        raise ConversionError("--eval-split needs --images: evaluation splits live in the 'default' config with images")
    if not args.xml.exists():
        raise ConversionError(f"--xml {args.xml}: no such file or folder")
    wnids, class_names = _label_set(args)
    configs = {"byproducts": imagenet_ab_features(class_names, with_image=False)}
    if images is not None:
        configs["default"] = imagenet_ab_features(class_names, with_image=True)
    job = Job({wnid: index for index, wnid in enumerate(wnids)}, images, worker_schema(configs), args.max_image_pixels)

    def write(conversion: Conversion) -> DatasetSummary:
        seen: set[str] = set()
        chunks = chunked(iter_imagenet_ab_sources(args.xml, args.max_record_bytes),
                         CHUNK if images is None else IMAGE_CHUNK)
        conversion.write_split("train", convert_xml_chunk, chunks, job, desc="ImageNet-AB train", unit=" xml",
                               seen=seen)
        if images is not None:
            named = {Path(source).stem for source, _ in conversion.skips.entries} | seen
            for folder in _class_folders(images):
                for path in list_images(folder):
                    if path.stem not in named:
                        conversion.records += 1
                        conversion.skips.add(str(path), "image without XML: the release has no byproducts for it")
        for split, folder in eval_splits.items():
            files = [(f.name, p) for f in _class_folders(folder) for p in list_images(f)]
            conversion.write_split(split, convert_image_chunk, chunked(files, IMAGE_CHUNK), job, configs=["default"],
                                   desc=f"ImageNet-AB {split}", unit=" img", total=len(files))
        return _summary(args, argv, conversion, len(wnids), images is not None, list(eval_splits))

    inputs = [("--xml", args.xml), ("--images", args.images), *((f"--eval-split {n}", f) for n, f in eval_splits.items())]
    return run_conversion(args, inputs, configs, write)


def _summary(args: argparse.Namespace, argv: list[str] | None, conversion: Conversion, classes: int,
             with_images: bool, eval_splits: list[str]) -> DatasetSummary:
    return DatasetSummary(
        name="ImageNet-AB",
        description="ImageNet-1K train images with the annotation byproducts of their labelling "
                    "sessions: selection clicks, hover events and mouse traces.",
        rows=conversion.rows,
        input_records=conversion.records,
        options={"label set": f"{args.label_set} ({classes} classes)",
                 "images joined": "yes" if with_images else "no",
                 "evaluation splits": ", ".join(eval_splits) or "none"},
        command=command_line("luab-convert imagenet-ab", argv),
        notes=[
            "One row per XML file of the release (`train_xml/<wnid>/<wnid>_<n>.xml`).",
            "`click_point` is the mean over the file's selected `<metadata>` blocks of each block's "
            "first `<selectedRecord>` (the published LUAB target); null when no worker selected the "
            "image. `clicks` lists those points; `annotations[].clicks` keeps every select in file "
            "order (a select-deselect-select leaves two), `annotations[].click` is the first.",
            "Every time is int64 milliseconds: click, hover and trace times are the tool's "
            "`Date.now()` epoch milliseconds, `estimate_time_ms` a duration.",
            "`annotations` keeps every `<metadata>` block; elements the parser does not know "
            "are kept as JSON in `raw` columns.",
            "Mouse-trace points are finite but may leave [0, 1] (the pointer left the image); "
            "click coordinates must lie in [0, 1].",
            f"Rows are in a seeded order (`--seed {args.seed}`): sorted by a hash of the seed and the image id, "
            "so any stretch of rows mixes classes as a global shuffle would, whatever the input order "
            "(a tarball and a folder give the same shards).",
            "`width`/`height` of joined images are as shown, after EXIF orientation (as `datasets` "
            "decodes them).",
        ],
    )


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), convert, argv)


if __name__ == "__main__":
    sys.exit(main())
