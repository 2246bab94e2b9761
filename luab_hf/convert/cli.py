"""``luab-convert``: the command line of the converters, and the flags they share."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

from .._system import available_cpus
from ..byproducts.imagenet_ab_release import DEFAULT_MAX_RECORD_BYTES
from ..stopping import sigterm_interrupts
from .images import DEFAULT_MAX_IMAGE_PIXELS
from .options import ShardOptions
from .records import ConversionError

#: ``luab-convert <command>`` -> the module whose ``build_parser``/``main`` it runs.
COMMANDS = {
    "imagenet-ab": "luab_hf.convert.imagenet_ab",
    "coco-ab": "luab_hf.convert.coco_ab",
    "synthetic": "luab_hf.synthetic.cli",
}


def positive_int(text: str) -> int:
    """argparse type: a whole number > 0 (``--shard-size 0`` would write empty shards forever)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a number > 0")
    return value


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every converter shares: where the output goes and how bad records are handled."""
    parser.add_argument("--output", required=True, type=Path, help="the dataset folder to write")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="skip and count bad records (skipped.jsonl and the card) instead of stopping")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    parser.add_argument("--num-workers", type=positive_int, default=available_cpus(), help="parser processes")
    parser.add_argument("--shard-size", type=positive_int, default=ShardOptions.shard_size,
                        help="rows per Parquet shard at most")
    parser.add_argument("--seed", type=int, default=ShardOptions.seed,
                        help="row order: rows are written sorted by a hash of this seed and their image id, so any "
                             "stretch of rows mixes classes like a global shuffle (the same for tarball and folder "
                             "input)")
    parser.add_argument("--max-image-pixels", type=positive_int, default=DEFAULT_MAX_IMAGE_PIXELS,
                        help="refuse images with more pixels than this (decompression bombs); default: Pillow's limit")
    parser.add_argument("--max-record-bytes", type=positive_int, default=DEFAULT_MAX_RECORD_BYTES,
                        help="refuse an XML file, tarball member, tar extended header or long name, or JSON record "
                             "or value larger than this, without holding it (default 16 MiB; real ones are a few KB)")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="upload the finished folder as a dataset repo")


def parse_named_paths(values: list[str] | None, flag: str, folders: bool = True) -> dict[str, Path]:
    """Repeated ``NAME=PATH`` flags (``--eval-split``, ``--eval-instances``) as a mapping, checked
    up front: well formed, names unique and not ``train``, paths existing folders (or files)."""
    paths: dict[str, Path] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise ConversionError(f"{flag} {value!r}: expected NAME={'DIR' if folders else 'FILE'}")
        if name == "train" or name in paths:
            raise ConversionError(f"{flag} {value!r}: split name {name!r} is already used")
        if not (Path(path).is_dir() if folders else Path(path).is_file()):
            raise ConversionError(f"{flag} {value!r}: {path} is not a {'folder' if folders else 'file'}")
        paths[name] = Path(path)
    return paths


def run_cli(parser: argparse.ArgumentParser, convert: Callable[..., Path], argv: list[str] | None) -> int:
    """Parse, convert, and turn a ConversionError into one line on stderr and exit status 1.

    Ctrl-C and SIGTERM stop the workers and remove the staging folder: nothing half-written
    stays, and the exit status is 130.
    """
    args = parser.parse_args(argv)
    try:
        with sigterm_interrupts():
            output = convert(args, argv)
    except ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was written (the output folder is as it was)", file=sys.stderr)
        return 130
    print(f"wrote {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``luab-convert imagenet-ab|coco-ab|synthetic ...``: each takes exactly its script's flags."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="luab-convert",
        description="Convert the annotation-byproduct releases (or write a synthetic one) into Hub-layout datasets.",
        usage="luab-convert {imagenet-ab,coco-ab,synthetic} ...",
    )
    parser.add_argument("command", choices=list(COMMANDS), help="run `luab-convert COMMAND --help` for its flags")
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv[:1])  # help, or what is wrong: exits
    return import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
