"""Convert the COCO-AB release (joined with your COCO-2014 train images) into a Hub dataset.

    luab-convert coco-ab --json coco_ab_v1_0.json \\
        --instances annotations/instances_train2014.json --images /data/coco/train2014 \\
        --eval-split validation=/data/coco/val2014 \\
        --eval-instances validation=annotations/instances_val2014.json \\
        --output COCO-AB [--push-to-hub ORG/COCO-AB]

The JSON is streamed: memory stays flat whatever its size. Points are read as the icons' final
positions (``--points final``, replaying add/move/remove) or as the published loader read them
(``--points add-only``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from ..byproducts import ByproductError, iter_coco_ab_json, parse_coco_ab_record
from ..byproducts.coco_ab import POINT_READINGS
from ..byproducts.coco_instances import Instances, read_instances
from ..cards import DatasetSummary, command_line
from ..labels import COCO_CLASSES
from ..schema import coco_ab_features
from .chunks import ChunkResult, worker_schema
from .cli import add_output_arguments, parse_named_paths, run_cli
from .driver import Conversion, run_conversion
from .images import list_images, read_image
from .pool import chunked
from .records import ConversionError

#: Input records per worker task (and per staged file: fewer files, fewer maps per shard).
CHUNK = 1024


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="luab-convert coco-ab", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", required=True, type=Path, help="the release's coco_ab_v1_0.json")
    parser.add_argument("--images", type=Path, help="your COCO train2014 image folder; adds config 'default'")
    parser.add_argument("--instances", type=Path, help="instances_train2014.json: gives the 80-class 'labels'")
    parser.add_argument("--points", choices=POINT_READINGS, default="final",
                        help="'final': icons where the worker left them (add/move/remove replayed in time order); "
                             "'add-only': the published loader's reading (last add per category wins)")
    parser.add_argument("--eval-split", action="append", metavar="NAME=DIR",
                        help="add an image-only split from an image folder (repeatable; needs --eval-instances)")
    parser.add_argument("--eval-instances", action="append", metavar="NAME=JSON",
                        help="the COCO instances file that labels --eval-split NAME")
    add_output_arguments(parser)
    return parser


# --------------------------------------------------------------------------- worker side


@dataclass(frozen=True)
class Job:
    """What every chunk of a split shares: the point reading, the labels, the images, the schema."""

    reading: str
    instances: Instances | None
    images: Path | None
    schema: pa.Schema
    max_pixels: int


def _file_name(image_id: int, instances: Instances | None) -> str:
    if instances is not None and image_id in instances.file_names:
        return instances.file_names[image_id]
    return f"COCO_train2014_{image_id:012d}.jpg"


def _join(job: Job, row: dict, source: str) -> None:
    """Add labels, file name and image to a row, or raise naming the record."""
    image_id = row["image_id"]
    row["file_name"] = _file_name(image_id, job.instances)
    if job.instances is not None:
        if image_id not in job.instances.file_names:
            raise ByproductError(source, f"image_id {image_id} is not in the --instances file")
        row["labels"] = sorted(job.instances.labels.get(image_id, ()))
    if job.images is not None:
        try:
            row["image"], _, _ = read_image(job.images / row["file_name"], job.max_pixels)
        except ByproductError as error:
            raise ByproductError(source, f"{error.reason}: {error.source}") from None
    row["_source"] = source


def convert_record_chunk(job: Job, chunk: list[tuple[str, Any]]) -> ChunkResult:
    rows, errors = [], []
    for source, record in chunk:
        try:
            if isinstance(record, ByproductError):  # a record the JSON reader could not take
                raise record
            row = parse_coco_ab_record(record, source, job.reading)
            _join(job, row, source)
        except ByproductError as error:
            errors.append((error.source, error.reason))
            continue
        rows.append(row)
    table = pa.Table.from_pylist(rows, schema=job.schema)
    return table, errors, [source for source, _ in chunk], {"icons_outside_80": _icons_outside_80(table)}


def _icons_outside_80(table: pa.Table) -> int:
    """Icon actions whose category is one of COCO's 91 names outside the 80 classes: kept in
    ``actions``, never a point target."""
    categories = pc.list_flatten(table.column("actions")).combine_chunks().field("category")
    return len(categories) - pc.sum(pc.is_in(categories, value_set=_CLASSES_80)).as_py() if len(categories) else 0


def convert_eval_chunk(job: Job, chunk: list[int]) -> ChunkResult:
    rows, errors = [], []
    for image_id in chunk:
        row = {"image_id": image_id}
        try:
            _join(job, row, str(job.images / _file_name(image_id, job.instances)))
        except ByproductError as error:
            errors.append((error.source, error.reason))
            continue
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=job.schema), errors, [str(i) for i in chunk], {}


# --------------------------------------------------------------------------- main side


_CLASSES_80 = pa.array(COCO_CLASSES)


def _instances(path: Path, max_bytes: int) -> Instances:
    try:
        return read_instances(path, max_bytes)
    except ByproductError as error:
        raise ConversionError(str(error)) from None


def convert(args: argparse.Namespace, argv: list[str] | None = None) -> Path:
    """Run the conversion described by ``args``; returns the finished output folder."""
    if not args.json.is_file():
        raise ConversionError(f"--json {args.json}: no such file")
    if args.images is not None and not args.images.is_dir():
        raise ConversionError(f"--images {args.images}: not a folder")
    eval_splits = parse_named_paths(args.eval_split, "--eval-split")
    eval_instances = parse_named_paths(args.eval_instances, "--eval-instances", folders=False)
    if eval_splits and args.images is None:
        raise ConversionError("--eval-split needs --images: evaluation splits live in the 'default' config with images")
    for name in eval_splits:
        if name not in eval_instances:
            raise ConversionError(f"--eval-split {name}=... needs --eval-instances {name}=JSON for its labels")
    instances = _instances(args.instances, args.max_record_bytes) if args.instances else None
    configs = {"byproducts": coco_ab_features(with_image=False)}
    if args.images is not None:
        configs["default"] = coco_ab_features(with_image=True)
    schema = worker_schema(configs)

    def write(conversion: Conversion) -> DatasetSummary:
        seen: set[int] = set()
        job = Job(args.points, instances, args.images, schema, args.max_image_pixels)
        chunks = chunked(iter_coco_ab_json(args.json, args.max_record_bytes), CHUNK)
        train = conversion.write_split("train", convert_record_chunk, chunks, job, desc="COCO-AB train", unit=" rec",
                                       seen=seen)
        notes = [f"icons outside the 80 classes: {train.counters.get('icons_outside_80', 0)}"]
        if args.images is not None:
            ids = {_file_name(i, instances) for i in seen}
            unmatched = sum(1 for path in list_images(args.images) if path.name not in ids)
            if unmatched:
                notes.append(f"{unmatched} images in the --images folder have no COCO-AB record and are not "
                             "included (COCO-2014 train has a few more images than the release).")
        for split, folder in eval_splits.items():
            split_instances = _instances(eval_instances[split], args.max_record_bytes)
            split_job = Job(args.points, split_instances, folder, schema, args.max_image_pixels)
            image_ids = sorted(split_instances.file_names)
            conversion.write_split(split, convert_eval_chunk, chunked(image_ids, CHUNK), split_job,
                                   configs=["default"], desc=f"COCO-AB {split}", unit=" img", total=len(image_ids))
        return _summary(args, argv, conversion, instances is not None, list(eval_splits), notes)

    inputs = [("--json", args.json), ("--images", args.images), ("--instances", args.instances),
              *((f"--eval-split {n}", f) for n, f in eval_splits.items()),
              *((f"--eval-instances {n}", f) for n, f in eval_instances.items())]
    return run_conversion(args, inputs, configs, write)


def _summary(args: argparse.Namespace, argv: list[str] | None, conversion: Conversion, with_labels: bool,
             eval_splits: list[str], notes: list[str]) -> DatasetSummary:
    return DatasetSummary(
        name="COCO-AB",
        description="COCO-2014 train images with the annotation byproducts of their re-annotation: "
                    "where workers dragged each category icon, the full action log, "
                    "super-category clicks and mouse traces.",
        rows=conversion.rows,
        input_records=conversion.records,
        options={"points": args.points, "labels": "from --instances" if with_labels else "none (no --instances)",
                 "images joined": "yes" if args.images is not None else "no",
                 "evaluation splits": ", ".join(eval_splits) or "none"},
        command=command_line("luab-convert coco-ab", argv),
        notes=[
            "One row per record of `coco_ab_v1_0.json`.",
            "`points`: one entry per category icon, "
            + ("where the worker finally left it (add/move/remove replayed in time order)."
               if args.points == "final" else
               "read as the published loader does: only `add` actions, the last add of a category wins."),
            "`labels`: the image's COCO categories (80-class multi-label) from the instances file. "
            "A point of a class the labels lack (a stray icon) is kept in the row but is no training "
            "target by default (`LuabBatchTransform(keep_points_of_absent_classes=True)` keeps it), "
            "as in the published loader.",
            "Icons named with one of COCO's 91 names outside the 80 classes (e.g. `street sign`) are kept "
            "in `actions` and are no point (counted below). A name outside the 91 is a "
            "record error.",
            "Every time is int64 milliseconds since the image was shown (`timeAt`).",
            "Click and icon coordinates must lie in [0, 1]; mouse-trace points are finite but may "
            "leave [0, 1] (the pointer left the image). Unknown record keys are kept in `raw`.",
            *notes,
        ],
    )


def main(argv: list[str] | None = None) -> int:
    return run_cli(build_parser(), convert, argv)


if __name__ == "__main__":
    sys.exit(main())
