"""Sharded Parquet output in a seeded, class-mixed row order, written by the workers themselves.

A release lists its records class by class, so rows in input order would give a streaming
shuffle buffer batches of one or two classes. Every split is therefore written in one order that
depends only on the seed and the rows: ascending ``key(seed, image_id)``, a 64-bit hash. Any
contiguous stretch of rows then mixes classes as a global shuffle does, and a tarball and a folder
holding the same records give the same shards, whatever their member order, chunking or number
of workers.

It takes two passes, both in one worker pool (the main process only coordinates):

1. **stage**: a worker converts a chunk of input records into an Arrow table, sorts it by key and
   writes it as one uncompressed Arrow IPC file under ``.rows-<split>/``; it returns, per key bucket (the
   key's top 12 bits), how many rows the chunk holds and roughly how many bytes.
2. **write**: from those counts the main process plans the shards (whole buckets, while they fit
   ``--shard-size`` rows and :data:`MAX_SHARD_BYTES`; a bucket too big alone is split evenly).
   A worker writes a shard run by run: consecutive buckets holding at most :data:`RUN_BYTES` of
   staged rows, whose rows are one contiguous slice of each (sorted) staged file, read through a
   memory map opened once per shard. It merges them in key order, drops repeated image ids (the first in input order
   stays, as the main process logged) and writes ``data/<config>/<split>-0000i-of-0000n.parquet``,
   row groups of at most :data:`MAX_ROW_GROUP_BYTES`, images stored as they are (JPEG does not
   compress), everything else zstd. When more than :data:`FAN_IN` files were staged, they are
   first merged in groups into fewer sorted files (as often as needed), so a shard never reads
   from more than that many.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import mmap
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datasets import Features
from tqdm.auto import tqdm

from .._system import release_free_memory
from .pool import WorkerPool, worker_pool
from .records import ConversionError

#: Key buckets (the key's top 12 bits): small enough that one bucket of a full release with its
#: images (~35 MB) is read at once, many enough that shards cut close to their size.
BUCKETS = 4096
_BUCKET_SHIFT = np.uint64(64 - 12)
#: Staged bytes a shard writer reads and merges at once: its memory is this plus a row group.
RUN_BYTES = 8 << 20
#: Staged files a shard is read from at most: more are first merged in groups of this many (about
#: 500 MB staged, where a merge starts to cost less than what it saves the write pass).
FAN_IN = 64
MAX_SHARD_BYTES = 512 << 20
MAX_ROW_GROUP_BYTES = 16 << 20
MAX_ROW_GROUP_ROWS = 10_000
DICTIONARY_PAGE_BYTES = 64 << 10
#: What a row's non-image columns are counted as when planning shards: a deterministic estimate,
#: so the plan does not depend on how the input was chunked.
ROW_BYTES = 8 << 10

_KEY, _POSITION, _SOURCE = "_key", "_position", "_source"


def row_key(seed: int, image_id: str) -> int:
    """The 64-bit sort key of a row: rows are written in ascending key order."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\0{image_id}".encode(), digest_size=8).digest(), "big")


def storage_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with extension types (``Json``) replaced by their storage type.

    Arrow cannot build nested extension columns from Python objects; workers build tables in
    storage types and cast them to the real schema when writing a shard.
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


def worker_schema(configs: dict[str, Features]) -> pa.Schema:
    """The schema workers build chunks in: the widest config's columns in storage types, plus
    ``_source`` (the input file or record each row came from, for error messages)."""
    widest = max(configs.values(), key=len)
    return storage_schema(widest.arrow_schema).append(pa.field(_SOURCE, pa.string()))


#: What a converter's chunk function returns: the rows, the bad records (source, reason), the
#: names of every input record the chunk held, and counts of its own to report (summed).
ChunkResult = tuple[pa.Table, list[tuple[str, str]], list[str], dict[str, int]]


@dataclass
class SplitResult:
    records: int  # input records the chunks held: rows + skipped
    rows: dict[str, int]  # per config
    counters: dict[str, int]


@dataclass
class StagedChunk:
    """One chunk after the stage pass: where its sorted rows are, and what the main process needs."""

    path: Path
    image_ids: list[str]  # in input order, for the duplicate check
    sources: list[str]
    counts: np.ndarray  # rows per bucket
    sizes: np.ndarray  # estimated bytes per bucket (deterministic: the shard plan uses them)
    staged_bytes: np.ndarray  # about what each bucket's rows take staged (groups reads into runs)
    errors: list[tuple[str, str]]
    names: list[str]
    counters: dict[str, int]


@dataclass(frozen=True)
class _StageTask:
    convert: Callable[[Any], ChunkResult]
    index: int
    chunk: Any
    folder: Path
    seed: int


def bucket_of(key: int) -> int:
    return key >> int(_BUCKET_SHIFT)


def _buckets(keys: np.ndarray) -> np.ndarray:
    """:func:`bucket_of` for an array of keys, as indices."""
    return (keys >> _BUCKET_SHIFT).astype(np.int64)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A chunk's conversion builds ~100k small acyclic objects that all live until its table is
    built; the cyclic collector would rescan them over and over for nothing (a third of the parse)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _stage(task: _StageTask) -> StagedChunk:
    with _gc_paused():
        table, errors, names, counters = task.convert(task.chunk)
    image_ids, sources = table.column("image_id").to_pylist(), table.column(_SOURCE).to_pylist()
    keys = np.array([row_key(task.seed, i) for i in image_ids], dtype=np.uint64)
    image_bytes = np.zeros(len(keys), dtype=np.int64)
    if "image" in table.column_names:
        lengths = pc.binary_length(pc.struct_field(table.column("image"), "bytes")).fill_null(0)
        image_bytes += lengths.to_numpy(zero_copy_only=False).astype(np.int64)
    other_bytes = (table.nbytes - image_bytes.sum()) / max(1, len(keys))
    positions = np.arange(len(keys), dtype=np.int64) + (task.index << 32)
    table = table.append_column(_KEY, pa.array(keys)).append_column(_POSITION, pa.array(positions))
    table = table.take(np.argsort(keys, kind="stable"))  # stable: equal keys stay in input order
    table = table.replace_schema_metadata(None)  # the shard writer casts to each config's schema
    buckets = _buckets(keys)
    path = task.folder / f"{task.index:08d}.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return StagedChunk(path, image_ids, sources, np.bincount(buckets, minlength=BUCKETS),
                       np.bincount(buckets, weights=image_bytes + ROW_BYTES, minlength=BUCKETS),
                       np.bincount(buckets, weights=image_bytes + other_bytes, minlength=BUCKETS),
                       errors, names, counters)


@dataclass(frozen=True)
class _Read:
    """Rows of consecutive buckets, read from sorted staged files: ``segments`` are (bucket, first,
    stop) ranges of each bucket's merged rows."""

    segments: list[tuple[int, int, int]]
    files: list[Path]
    first_bucket: int  # the buckets are first_bucket, first_bucket + 1, ...
    offsets: np.ndarray  # [len(files), buckets + 1]: where each of its buckets starts in each staged file
    staged_bytes: np.ndarray  # [buckets]: staged bytes of each of its buckets, all files together


@dataclass(frozen=True)
class _ShardTask(_Read):
    """One output shard."""

    index: int
    total: int
    outputs: dict[str, tuple[Path, pa.Schema]]  # config -> (folder, schema)
    split: str


@dataclass(frozen=True)
class _MergeTask(_Read):
    """A group of staged files merged into one sorted staged file at ``path``."""

    path: Path


def _runs(task: _Read) -> Iterator[list[tuple[int, int, int]]]:
    """The segments in runs read together: consecutive, at most :data:`RUN_BYTES` staged
    (a bucket larger alone is a run of its own). A bucket split over shards is alone in its shard."""
    run: list[tuple[int, int, int]] = []
    size = 0.0
    for segment in task.segments:
        nbytes = float(task.staged_bytes[segment[0] - task.first_bucket])
        if run and size + nbytes > RUN_BYTES:
            yield run
            run, size = [], 0.0
        run.append(segment)
        size += nbytes
    if run:
        yield run


class _StagedFiles:
    """The staged files a shard reads: each mapped once for the whole shard, zero-copy.

    A run reads a small slice of every file. The maps are advised for random access (the
    kernel's readahead would bring in, and count in this process's memory, megabytes around every
    slice), and the pages a run touched are dropped once its rows are copied out, so the process
    holds a few files' pages at a time, however many runs the shard has.
    """

    def __init__(self, paths: list[Path]) -> None:
        self.maps: list[mmap.mmap] = []
        self.tables: list[pa.Table] = []
        for path in paths:
            with path.open("rb") as handle:
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            mapped.madvise(mmap.MADV_RANDOM)
            self.maps.append(mapped)
            self.tables.append(pa.ipc.open_file(pa.py_buffer(mapped)).read_all())

    def release(self, files: list[int]) -> None:
        """Drop the pages touched in ``files`` from this process (they stay in the page cache; a
        read maps them again)."""
        for index in files:
            self.maps[index].madvise(mmap.MADV_DONTNEED)


#: Staged files copied out of their maps together before their pages are dropped: every column
#: buffer a slice touches maps 64 KB around it (the kernel's fault-around), a few MB per file.
_FILES_AT_ONCE = 8


def _run_rows(task: _Read, staged: _StagedFiles, first: int, last: int) -> pa.Table | None:
    """Every staged row of buckets ``first``..``last``, in key order, repeated image ids dropped
    (first kept). The buckets are one contiguous slice of each sorted staged file."""
    copies, pieces, files = [], [], []
    first, last = first - task.first_bucket, last - task.first_bucket
    for index, (table, offsets) in enumerate(zip(staged.tables, task.offsets)):
        start, stop = int(offsets[first]), int(offsets[last + 1])
        if stop > start:
            pieces.append(table.slice(start, stop - start))
            files.append(index)
        if len(pieces) == _FILES_AT_ONCE or (pieces and index == len(staged.tables) - 1):
            copies.append(pa.concat_tables(pieces).combine_chunks())
            staged.release(files)
            pieces, files = [], []
    if not copies:
        return None
    table = pa.concat_tables(copies).combine_chunks()  # take() over many chunks is ~7x slower
    del copies
    keys = table.column(_KEY).to_numpy()
    # Pieces come in input order, each sorted by (key, position): a stable sort by key alone is
    # the full order unless two keys are equal (a repeated id, or a 64-bit collision).
    order = np.argsort(keys, kind="stable")
    if np.any(keys[order[1:]] == keys[order[:-1]]):
        order = pc.sort_indices(table, [(_KEY, "ascending"), ("image_id", "ascending"), (_POSITION, "ascending")])
    table = table.take(order)
    ids = table.column("image_id")
    if len(ids) > 1:
        repeated = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
        if pc.any(repeated).as_py():
            table = table.filter(pa.concat_arrays([pa.array([True]), pc.invert(repeated.combine_chunks())]))
    return table


class _ShardFile:
    """One config's Parquet file of a shard: row groups by bytes, images stored uncompressed."""

    def __init__(self, folder: Path, schema: pa.Schema, name: str) -> None:
        compression = {field.name: "zstd" for field in schema}
        if "image" in schema.names:
            compression["image"] = "none"
        self.schema = schema
        # A column's dictionary falls back to plain once it passes this: unique ids and epoch times
        # stop trying early (Parquet's 1 MB default outlasts a whole row group), while repeating values
        # (wnids, actions, 3-decimal coordinates) keep theirs: faster, and smaller files.
        self.writer = pq.ParquetWriter(folder / name, schema, compression=_leaf_compression(schema, compression),
                                       dictionary_pagesize_limit=DICTIONARY_PAGE_BYTES)
        self.pending: list[pa.Table] = []
        self.pending_bytes = self.pending_rows = 0

    def add(self, table: pa.Table) -> None:
        self.pending.append(table.select(self.schema.names).cast(self.schema))
        self.pending_bytes += self.pending[-1].nbytes
        self.pending_rows += table.num_rows
        while self.pending_bytes >= MAX_ROW_GROUP_BYTES or self.pending_rows >= MAX_ROW_GROUP_ROWS:
            self._write_group()

    def _write_group(self) -> None:
        """Write one full row group from the pending rows (all of them when they are fewer)."""
        table = pa.concat_tables(self.pending)
        rows = max(1, min(MAX_ROW_GROUP_ROWS, table.num_rows * MAX_ROW_GROUP_BYTES // max(table.nbytes, 1)))
        self.writer.write_table(table.slice(0, rows), row_group_size=rows)
        rest = table.slice(rows)
        self.pending = [rest] if rest.num_rows else []
        self.pending_bytes, self.pending_rows = rest.nbytes, rest.num_rows

    def close(self) -> None:
        while self.pending_rows:
            self._write_group()
        self.writer.close()


def _leaf_compression(schema: pa.Schema, by_column: dict[str, str]) -> dict[str, str]:
    """Parquet compression is set per leaf column (``image.bytes``, ``annotations.list.element...``)."""
    result: dict[str, str] = {}

    def walk(prefix: str, kind: pa.DataType, codec: str) -> None:
        if pa.types.is_struct(kind):
            for i in range(kind.num_fields):
                walk(f"{prefix}.{kind.field(i).name}", kind.field(i).type, codec)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            walk(f"{prefix}.list.element", kind.value_type, codec)  # Parquet's compliant nested names
        elif isinstance(kind, pa.BaseExtensionType):
            walk(prefix, kind.storage_type, codec)
        else:
            result[prefix] = codec

    for field in schema:
        walk(field.name, field.type, by_column[field.name])
    return result


def _run_tables(task: _Read, staged: _StagedFiles) -> Iterator[tuple[list[tuple[int, int, int]], pa.Table]]:
    """Each run of ``task`` with its rows (runs without any skipped). What a run freed goes back to
    the system before the next is read: drop each table before taking the next."""
    for run in _runs(task):
        table = _run_rows(task, staged, run[0][0], run[-1][0])
        if table is None:
            continue
        yield run, table
        del table
        pa.default_memory_pool().release_unused()


def _write_shard(task: _ShardTask) -> int:
    release_free_memory()  # what the stage pass left in this worker (once a task: trimming costs refaults)
    name = f"{task.split}-{task.index:05d}-of-{task.total:05d}.parquet"
    files = {config: _ShardFile(folder, schema, name) for config, (folder, schema) in task.outputs.items()}
    rows = 0
    staged = _StagedFiles(task.files)
    for run, table in _run_tables(task, staged):
        if len(run) == 1:  # maybe part of a bucket split over shards
            _, first, stop = run[0]
            table = table.slice(first, stop - first)
        rows += table.num_rows
        for file in files.values():
            file.add(table)
        del table
    for file in files.values():
        file.close()
    del staged
    return rows


def _merge(task: _MergeTask) -> np.ndarray:
    """Merge a group of staged files into one (repeated ids dropped, the first in input order
    kept, as the write pass would) and delete them; return its rows per bucket."""
    release_free_memory()  # what the stage pass left in this worker
    counts = np.zeros(BUCKETS, dtype=np.int64)
    staged = _StagedFiles(task.files)
    with pa.OSFile(str(task.path), "wb") as sink, pa.ipc.new_file(sink, staged.tables[0].schema) as writer:
        for _, table in _run_tables(task, staged):
            counts += np.bincount(_buckets(table.column(_KEY).to_numpy()), minlength=BUCKETS)
            writer.write_table(table)
            del table
    del staged
    for path in task.files:
        path.unlink()
    return counts


def _merge_tasks(folder: Path, level: int, files: list[Path], offsets: np.ndarray, staged_bytes: np.ndarray
                 ) -> Iterator[_MergeTask]:
    """Consecutive files in as few groups of at most :data:`FAN_IN` as can be, of even sizes."""
    groups = -(-len(files) // FAN_IN)
    bounds = [len(files) * i // groups for i in range(groups + 1)]
    for group, (start, stop) in enumerate(itertools.pairwise(bounds)):
        rows = (offsets[start:stop, 1:] - offsets[start:stop, :-1]).sum(axis=0)
        segments = [(int(b), 0, int(rows[b])) for b in np.flatnonzero(rows)]
        # a group's staged bytes per bucket, about (they only size the runs)
        share = staged_bytes * ((stop - start) / len(files))
        yield _MergeTask(segments, files[start:stop], 0, offsets[start:stop], share,
                         folder / f"merged-{level}-{group:05d}.arrow")


def _merge_groups(pool: WorkerPool, folder: Path, files: list[Path], offsets: np.ndarray, staged_bytes: np.ndarray
                  ) -> tuple[list[Path], np.ndarray]:
    """Merge staged files in groups until at most :data:`FAN_IN` remain; the files and their
    bucket offsets.

    Each run of the write pass reads a slice of every staged file, faulting in the pages around
    each of its column buffers: runs and files both grow with the input, so without this the
    write pass would grow with its square (24 s instead of 12 at the full release).
    """
    level = 0
    while len(files) > FAN_IN:
        tasks = list(_merge_tasks(folder, level, files, offsets, staged_bytes))
        counts = np.array(list(pool.map(_merge, tasks)))
        files = [task.path for task in tasks]
        offsets = np.concatenate([np.zeros((len(tasks), 1), dtype=np.int64), np.cumsum(counts, axis=1)], axis=1)
        level += 1
    return files, offsets


def plan_shards(counts: np.ndarray, sizes: np.ndarray, max_rows: int, max_bytes: int = MAX_SHARD_BYTES
                ) -> list[list[tuple[int, int, int]]]:
    """Cut the buckets (in key order) into shards of at most ``max_rows`` rows and about
    ``max_bytes``: whole buckets while they fit, a bucket too big alone split evenly."""
    shards: list[list[tuple[int, int, int]]] = []
    current: list[tuple[int, int, int]] = []
    rows = size = 0
    for bucket in range(BUCKETS):
        count, nbytes = int(counts[bucket]), float(sizes[bucket])
        if count == 0:
            continue
        if current and (rows + count > max_rows or size + nbytes > max_bytes):
            shards.append(current)
            current, rows, size = [], 0, 0
        parts = max(1, -(-count // max_rows), int(np.ceil(nbytes / max_bytes)))
        if parts == 1:
            current.append((bucket, 0, count))
            rows, size = rows + count, size + nbytes
            continue
        bounds = [count * i // parts for i in range(parts + 1)]
        shards.extend([[(bucket, bounds[i], bounds[i + 1])] for i in range(parts)])
    if current or not shards:
        shards.append(current)
    return shards


@dataclass
class _StagedSplit:
    """What the stage pass leaves: the staged files and, per key bucket, their rows and bytes."""

    files: list[Path]
    offsets: np.ndarray  # [len(files), BUCKETS + 1]: where each bucket starts in each staged file
    counts: np.ndarray  # rows per bucket, repeated ids not counted
    sizes: np.ndarray  # estimated output bytes per bucket (plans the shards)
    staged_bytes: np.ndarray  # staged bytes per bucket (sizes the runs)
    records: int
    counters: dict[str, int]


def _stage_split(pool: WorkerPool, tasks: Iterable[_StageTask], seed: int, skips: Any, seen: set, bar: tqdm
                 ) -> _StagedSplit:
    """Run the stage pass; log bad records and repeated ids to ``skips`` as their chunks return,
    in input order."""
    files, offsets = [], []
    counts = np.zeros(BUCKETS, dtype=np.int64)
    sizes = np.zeros(BUCKETS, dtype=np.float64)
    staged_bytes = np.zeros(BUCKETS, dtype=np.float64)
    records, counters = 0, {}
    for staged in pool.map(_stage, tasks):
        records += len(staged.names)
        for name, value in staged.counters.items():
            counters[name] = counters.get(name, 0) + value
        bar.update(len(staged.names))
        for source, reason in staged.errors:
            skips.add(source, reason)
        for image_id, name in zip(staged.image_ids, staged.sources):
            if image_id in seen:
                skips.add(name, f"duplicate image_id {image_id!r}: an earlier record has the same id")
                counts[bucket_of(row_key(seed, image_id))] -= 1  # dropped when the shard is written
            seen.add(image_id)
        files.append(staged.path)
        # where each bucket starts, in the smallest type that holds the chunk's rows (a release
        # stages hundreds to thousands of chunks)
        starts = np.concatenate([[0], np.cumsum(staged.counts)])
        offsets.append(starts.astype(np.min_scalar_type(starts[-1])))
        counts += staged.counts
        sizes += staged.sizes
        staged_bytes += staged.staged_bytes
    offset_table = np.array(offsets).reshape(len(files), BUCKETS + 1)
    return _StagedSplit(files, offset_table, counts, sizes, staged_bytes, records, counters)


def _shard_tasks(plan: list[list[tuple[int, int, int]]], files: list[Path], offsets: np.ndarray,
                 staged_bytes: np.ndarray, outputs: dict[str, tuple[Path, pa.Schema]], split: str
                 ) -> Iterator[_ShardTask]:
    """The write pass's tasks, built as the pool takes them: each carries its own buckets only."""
    for index, segments in enumerate(plan):
        first, last = segments[0][0], segments[-1][0]
        span = offsets[:, first:last + 2]
        keep = np.flatnonzero(span[:, -1] > span[:, 0])  # the staged files holding any of its rows
        yield _ShardTask(segments, [files[i] for i in keep], first, span[keep], staged_bytes[first:last + 1],
                         index=index, total=len(plan), outputs=outputs, split=split)


def _nothing_to_write(split: str, records: int, skips: Any) -> str:
    """Why a split has no rows: no input at all, or every record skipped (with the first reasons)."""
    if not records:
        return f"{split}: the input holds no records"
    reasons = "\n".join(f"  {source}: {reason}" for source, reason in skips.entries[:5])
    more = f"\n  ... and {len(skips.entries) - 5:,} more" if len(skips.entries) > 5 else ""
    return (f"{split}: all {records:,} input records are invalid, so there is nothing to write; the first "
            f"reasons:\n{reasons}{more}")


def write_split(convert: Callable[[Any], ChunkResult], chunks: Iterable[Any], job: Any, *, staging: Path, split: str,
                configs: dict[str, Features], shard_size: int, seed: int, workers: int, skips: Any, seen: set,
                bar: tqdm) -> SplitResult:
    """Convert ``chunks`` with ``convert`` (run in the workers, reading ``job``) and write the
    split into every config of ``configs``, in key order.

    Bad records go to ``skips``; an image id already in ``seen`` (or repeated) is refused there.
    Returns how many input records the chunks held (rows + skipped = records), the rows written
    per config and the sum of the chunks' own counters.
    """
    folder = staging / f".rows-{split}"
    folder.mkdir()
    outputs = {}
    for config, features in configs.items():
        (staging / "data" / config).mkdir(parents=True, exist_ok=True)
        outputs[config] = (staging / "data" / config, features.arrow_schema)
    try:
        with worker_pool(workers, job) as pool:  # one pool, forked once, for every pass
            tasks = (_StageTask(convert, index, chunk, folder, seed) for index, chunk in enumerate(chunks))
            staged = _stage_split(pool, tasks, seed, skips, seen, bar)
            if not staged.counts.any():
                raise ConversionError(_nothing_to_write(split, staged.records, skips))
            plan = plan_shards(staged.counts, staged.sizes, shard_size)
            files, offsets = _merge_groups(pool, folder, staged.files, staged.offsets, staged.staged_bytes)
            written = sum(pool.map(_write_shard, _shard_tasks(plan, files, offsets, staged.staged_bytes, outputs, split)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return SplitResult(staged.records, dict.fromkeys(configs, written), staged.counters)
