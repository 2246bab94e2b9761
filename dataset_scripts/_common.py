"""Pieces both converters share: staged output, sharded Parquet, skip log, images, workers."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from luab_hf.byproducts import ByproductError
from luab_hf.cards import DatasetSummary, dataset_card
from luab_hf.hub import upload_folder

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


class ConversionError(Exception):
    """A conversion that cannot finish; the message names the file or record at fault."""


# --------------------------------------------------------------------------- output folder


@contextmanager
def staged_output(output: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary folder beside ``output`` that replaces it only if the block succeeds.

    A failed or killed conversion never leaves a half-written ``output``: either the old folder
    (or nothing) is there, or the complete new one. Staging folders left by killed runs (their
    process is gone) are removed on the next run.
    """
    output = Path(output).absolute()
    if output.exists() and not overwrite:
        raise ConversionError(f"{output}: already exists (pass --overwrite to replace it)")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(output)
        staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.tmp-{os.getpid()}-", dir=output.parent))
    except OSError as error:
        raise ConversionError(f"{output.parent}: cannot write the output here ({error.strerror or error})") from None
    try:
        yield staging
        if output.exists():
            retired = output.with_name(f".{output.name}.old-{os.getpid()}")
            output.rename(retired)
            staging.rename(output)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(output)
    except OSError as error:
        raise ConversionError(f"{output}: could not write the output ({error.strerror or error}); "
                              "nothing was changed there") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _remove_stale_staging(output: Path) -> None:
    for leftover in output.parent.glob(f".{output.name}.tmp-*"):
        pid = leftover.name.removeprefix(f".{output.name}.tmp-").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- parquet shards


class ShardWriter:
    """Write one split of one config as ``data/<config>/<split>-0000i-of-0000n.parquet``.

    Shards roll over at ``max_rows`` rows or ``max_bytes`` of Arrow data, so memory stays at one
    chunk whatever the split size. The Hugging Face features travel in the Parquet schema, so
    ``load_dataset`` restores ``ClassLabel``, ``Image`` and ``Json`` columns.
    """

    def __init__(self, root: Path, config: str, split: str, features: Features,
                 max_rows: int = 100_000, max_bytes: int = 512 << 20) -> None:
        self.folder = root / "data" / config
        self.folder.mkdir(parents=True, exist_ok=True)
        self.split, self.schema = split, features.arrow_schema
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self.rows = 0
        self._paths: list[Path] = []
        self._writer: pq.ParquetWriter | None = None
        self._shard_rows = self._shard_bytes = 0

    def write(self, table: pa.Table) -> None:
        table = table.cast(self.schema)
        while table.num_rows:
            if self._writer is None or self._shard_rows >= self.max_rows or self._shard_bytes >= self.max_bytes:
                self._roll()
            piece = table.slice(0, self.max_rows - self._shard_rows)
            try:
                self._writer.write_table(piece, row_group_size=1000)
            except OSError:
                self._discard()
                raise
            self.rows += piece.num_rows
            self._shard_rows += piece.num_rows
            self._shard_bytes += piece.nbytes
            table = table.slice(piece.num_rows)

    def _discard(self) -> None:
        """Drop the open shard after a write error (its folder is staging, removed anyway), so
        no later close retries the failing write."""
        with contextlib.suppress(OSError):
            self._close_shard()

    def _close_shard(self) -> None:
        writer, self._writer = self._writer, None
        try:
            writer.close()
        finally:
            writer.is_open = False  # a failed close would otherwise be retried, noisily, at exit

    def __del__(self) -> None:
        if getattr(self, "_writer", None) is not None:
            self._discard()

    def _roll(self) -> None:
        if self._writer is not None:
            self._close_shard()
        path = self.folder / f"{self.split}-{len(self._paths):05d}.parquet"
        self._paths.append(path)
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self._shard_rows = self._shard_bytes = 0

    def close(self) -> int:
        """Close the last shard, name every shard ``-of-N``, and return the rows written."""
        if self._writer is None:
            self._roll()  # an empty split still gets one (empty) shard, so its config loads
        self._close_shard()
        total = len(self._paths)
        for index, path in enumerate(self._paths):
            path.rename(self.folder / f"{self.split}-{index:05d}-of-{total:05d}.parquet")
        return self.rows


def storage_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with extension types (``Json``) replaced by their storage type.

    Arrow cannot build nested extension columns from Python objects; workers build tables in
    storage types and :class:`ShardWriter` casts them to the real schema on write.
    """

    def storage(field: pa.Field) -> pa.Field:
        kind = field.type
        if isinstance(kind, pa.BaseExtensionType):
            kind = kind.storage_type
        elif pa.types.is_fixed_size_list(kind):
            kind = pa.list_(storage(kind.value_field), kind.list_size)
        elif pa.types.is_list(kind):
            kind = pa.list_(storage(kind.value_field))
        elif pa.types.is_struct(kind):
            kind = pa.struct([storage(kind.field(i)) for i in range(kind.num_fields)])
        return field.with_type(kind)

    return pa.schema([storage(f) for f in schema], metadata=schema.metadata)


class SplitWriters:
    """One split written to several configs at once, each keeping the columns it declares
    (``byproducts`` drops the image column that ``default`` keeps)."""

    def __init__(self, staging: Path, split: str, configs: dict[str, Features], shard_size: int) -> None:
        self.writers = [ShardWriter(staging, name, split, features, shard_size) for name, features in configs.items()]

    def write(self, table: pa.Table) -> None:
        for writer in self.writers:
            writer.write(table.select(writer.schema.names))

    def close(self) -> dict[str, int]:
        return {writer.folder.name: writer.close() for writer in self.writers}


def worker_schema(configs: dict[str, Features]) -> pa.Schema:
    """The schema workers build chunks in: the widest config's columns in storage types, plus
    ``_source`` (the input file or record each row came from, for error messages)."""
    widest = max(configs.values(), key=len)
    return storage_schema(widest.arrow_schema).append(pa.field("_source", pa.string()))


# --------------------------------------------------------------------------- bad records


class SkipLog:
    """Bad records: by default the first one stops the conversion; with ``skip_invalid`` each is
    counted with its reason and listed in ``skipped.jsonl`` and the card. Never dropped silently."""

    def __init__(self, skip_invalid: bool) -> None:
        self.skip_invalid = skip_invalid
        self.entries: list[tuple[str, str]] = []

    def add(self, source: str, reason: str) -> None:
        if not self.skip_invalid:
            raise ConversionError(f"{source}: {reason}\n(pass --skip-invalid to skip and count bad records instead)")
        self.entries.append((source, reason))

    def add_error(self, error: ByproductError) -> None:
        self.add(error.source, error.reason)

    def write(self, folder: Path) -> None:
        if self.entries:
            with (folder / "skipped.jsonl").open("w") as handle:
                for source, reason in self.entries:
                    handle.write(json.dumps({"source": source, "reason": reason}) + "\n")


# --------------------------------------------------------------------------- images


def read_image(path: Path) -> tuple[dict[str, Any], int, int]:
    """An image file as an ``Image()`` cell plus its size, checked by a cheap reduced decode.

    JPEG's draft mode decodes at 1/8 scale, which still reads every byte, so corrupt and
    truncated files fail here rather than in a training run. Greyscale and CMYK are fine: the
    bytes are stored as they are and converted to RGB by the transforms.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ByproductError(str(path), "image file is missing") from None
    except OSError as error:
        raise ByproductError(str(path), f"cannot read image ({error.strerror})") from None
    if not data:
        raise ByproductError(str(path), "image file is empty (0 bytes)")
    try:
        with Image.open(path) as image:
            width, height = image.size
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ByproductError(str(path), f"corrupt or unreadable image ({error})") from None
    if width == 0 or height == 0:
        raise ByproductError(str(path), f"image has zero size ({width}x{height})")
    return {"bytes": data, "path": path.name}, width, height


def list_images(folder: Path) -> Iterator[Path]:
    """Image files directly in ``folder``, sorted."""
    return (p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


# --------------------------------------------------------------------------- workers


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def parallel_map(func: Callable[[Any], Any], chunks: Iterable[Any], workers: int,
                 initializer: Callable[..., None], initargs: tuple) -> Iterator[Any]:
    """``map(func, chunks)`` in order, over ``workers`` processes (in this one when 1).

    Order is kept, so the output is the same whatever the number of workers.
    """
    if workers <= 1:
        initializer(*initargs)
        yield from map(func, chunks)
        return
    failures: list[BaseException] = []

    def guarded() -> Iterator[Any]:
        # Pool.imap reads the input in a helper thread, where an exception (a truncated input
        # file) would hang the pool; catch it there and raise it here after the good chunks.
        try:
            yield from chunks
        except Exception as error:
            failures.append(error)

    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with context.Pool(workers, initializer=initializer, initargs=initargs) as pool:
        yield from pool.imap(func, guarded(), chunksize=1)
    if failures:
        raise failures[0]


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


ChunkResult = tuple[pa.Table, list[tuple[str, str]], list[str]]


def write_chunks(results: Iterable[ChunkResult], writers: SplitWriters, skips: SkipLog,
                 seen: set, bar: tqdm) -> int:
    """Write each worker chunk (rows, bad records, input names), refusing repeated image ids.

    Returns how many input records the chunks held, so rows + skipped = input records.
    """
    records = 0
    for table, errors, names in results:
        records += len(names)
        bar.update(len(names))
        for source, reason in errors:
            skips.add(source, reason)
        keep = []
        for image_id, name in zip(table.column("image_id").to_pylist(), table.column("_source").to_pylist()):
            repeated = image_id in seen
            keep.append(not repeated)
            if repeated:
                skips.add(name, f"duplicate image_id {image_id!r}: an earlier record has the same id")
            seen.add(image_id)
        writers.write(table if all(keep) else table.filter(pa.array(keep)))
    return records


# --------------------------------------------------------------------------- finishing


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


def finish(staging: Path, summary: DatasetSummary, skips: SkipLog, configs: dict[str, Features]) -> None:
    """Write the skip list and card into the staged folder (which then moves into place)."""
    summary.skipped = skips.entries
    summary.features = configs
    summary.sizes = {
        config: {split: sum(p.stat().st_size for p in (staging / "data" / config).glob(f"{split}-*.parquet"))
                 for split in splits}
        for config, splits in summary.rows.items()
    }
    skips.write(staging)
    dataset_card(summary).save(staging / "README.md")


def push(output: Path, repo_id: str | None) -> None:
    if repo_id:
        url = upload_folder(output, repo_id, repo_type="dataset", commit_message="Upload dataset converted with luab-hf")
        print(f"pushed {output} to {url}")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every converter shares: where the output goes and how bad records are handled."""
    parser.add_argument("--output", required=True, type=Path, help="the dataset folder to write")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="skip and count bad records (skipped.jsonl and the card) instead of stopping")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")
    parser.add_argument("--num-workers", type=int, default=default_workers(), help="parser processes")
    parser.add_argument("--shard-size", type=int, default=100_000, help="rows per Parquet shard at most")
    parser.add_argument("--push-to-hub", metavar="ORG/NAME", help="upload the finished folder as a dataset repo")


def run_cli(parser: argparse.ArgumentParser, convert: Callable[..., Path], argv: list[str] | None) -> int:
    """Parse, convert, and turn a ConversionError into one line on stderr and exit status 1."""
    args = parser.parse_args(argv)
    try:
        output = convert(args, argv)
    except ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0


def command_line(argv: list[str] | None, script: str) -> str:
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python", f"dataset_scripts/{script}", *args])
