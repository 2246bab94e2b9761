"""Staged files: each chunk's rows sorted by key in one uncompressed Arrow IPC file, read back
bucket range by bucket range, and merged in groups when there are too many.

The stage pass writes one file per chunk and returns, per key bucket, how many rows it holds and
roughly how many bytes. A reader takes consecutive buckets as one contiguous slice of each
(sorted) file, through a memory map opened once per task, and merges them in key order, dropping
repeated image ids (the first in input order stays).
"""

from __future__ import annotations

import gc
import itertools
import mmap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._system import release_free_memory
from .chunks import SOURCE, ChunkFunction
from .options import ShardOptions
from .order import BUCKETS, ROW_BYTES, Segments, buckets, row_key
from .pool import WorkerPool, current_job

KEY, POSITION = "_key", "_position"


@dataclass(frozen=True)
class StageTask:
    """One chunk of input records to convert (with the pool's job) and stage at ``folder``."""

    convert: ChunkFunction
    index: int
    chunk: Any
    folder: Path
    seed: int


@dataclass
class StagedChunk:
    """One chunk after the stage pass: where its sorted rows are, and what the main process needs."""

    path: Path
    image_ids: list[str]  # in input order, for the duplicate check
    keys: np.ndarray  # their keys, in the same order
    sources: list[str]
    counts: np.ndarray  # rows per bucket
    sizes: np.ndarray  # estimated bytes per bucket (deterministic: the shard plan uses them)
    staged_bytes: np.ndarray  # about what each bucket's rows take staged (groups reads into runs)
    errors: list[tuple[str, str]]
    names: list[str]
    counters: dict[str, int]


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


def stage_chunk(task: StageTask) -> StagedChunk:
    """Convert a chunk (in a worker: the job is the pool's), sort its rows by key, write them."""
    with _gc_paused():
        table, errors, names, counters = task.convert(current_job(), task.chunk)
    image_ids, sources = table.column("image_id").to_pylist(), table.column(SOURCE).to_pylist()
    keys = np.array([row_key(task.seed, i) for i in image_ids], dtype=np.uint64)
    image_bytes = np.zeros(len(keys), dtype=np.int64)
    if "image" in table.column_names:
        lengths = pc.binary_length(pc.struct_field(table.column("image"), "bytes")).fill_null(0)
        image_bytes += lengths.to_numpy(zero_copy_only=False).astype(np.int64)
    other_bytes = (table.nbytes - image_bytes.sum()) / max(1, len(keys))
    positions = np.arange(len(keys), dtype=np.int64) + (task.index << 32)
    table = table.append_column(KEY, pa.array(keys)).append_column(POSITION, pa.array(positions))
    table = table.take(np.argsort(keys, kind="stable"))  # stable: equal keys stay in input order
    table = table.replace_schema_metadata(None)  # the shard writer casts to each config's schema
    bucket = buckets(keys)
    path = task.folder / f"{task.index:08d}.arrow"
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return StagedChunk(path, image_ids, keys, sources, np.bincount(bucket, minlength=BUCKETS),
                       np.bincount(bucket, weights=image_bytes + ROW_BYTES, minlength=BUCKETS),
                       np.bincount(bucket, weights=image_bytes + other_bytes, minlength=BUCKETS),
                       errors, names, counters)


@dataclass(frozen=True)
class Read:
    """Rows of consecutive buckets, read from sorted staged files: ``segments`` are (bucket, first,
    stop) ranges of each bucket's merged rows."""

    segments: Segments
    files: list[Path]
    first_bucket: int  # the buckets are first_bucket, first_bucket + 1, ...
    offsets: np.ndarray  # [len(files), buckets + 1]: where each of its buckets starts in each staged file
    staged_bytes: np.ndarray  # [buckets]: staged bytes of each of its buckets, all files together
    options: ShardOptions


def _runs(task: Read) -> Iterator[Segments]:
    """The segments in runs read together: consecutive, at most ``run_bytes`` staged (a bucket
    larger alone is a run of its own). A bucket split over shards is alone in its shard."""
    run: Segments = []
    size = 0.0
    for segment in task.segments:
        nbytes = float(task.staged_bytes[segment[0] - task.first_bucket])
        if run and size + nbytes > task.options.run_bytes:
            yield run
            run, size = [], 0.0
        run.append(segment)
        size += nbytes
    if run:
        yield run


class StagedFiles:
    """The staged files a task reads: each mapped once for the whole task, zero-copy.

    A run reads a small slice of every file. The maps are advised for random access (the
    kernel's readahead would bring in, and count in this process's memory, megabytes around every
    slice), and the pages a run touched are dropped once its rows are copied out, so the process
    holds a few files' pages at a time, however many runs the task has.
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


def _run_rows(task: Read, staged: StagedFiles, first: int, last: int) -> pa.Table | None:
    """Every staged row of buckets ``first``..``last``, in key order, repeated image ids dropped
    (first kept). The buckets are one contiguous slice of each sorted staged file."""
    copies, pieces, files = [], [], []
    first, last = first - task.first_bucket, last - task.first_bucket
    for index, (table, offsets) in enumerate(zip(staged.tables, task.offsets)):
        start, stop = int(offsets[first]), int(offsets[last + 1])
        if stop > start:
            pieces.append(table.slice(start, stop - start))
            files.append(index)
        if len(pieces) == task.options.files_at_once or (pieces and index == len(staged.tables) - 1):
            copies.append(pa.concat_tables(pieces).combine_chunks())
            staged.release(files)
            pieces, files = [], []
    if not copies:
        return None
    table = pa.concat_tables(copies).combine_chunks()  # take() over many chunks is ~7x slower
    del copies
    keys = table.column(KEY).to_numpy()
    # Pieces come in input order, each sorted by (key, position): a stable sort by key alone is
    # the full order unless two keys are equal (a repeated id, or a 64-bit collision).
    order = np.argsort(keys, kind="stable")
    if np.any(keys[order[1:]] == keys[order[:-1]]):
        order = pc.sort_indices(table, [(KEY, "ascending"), ("image_id", "ascending"), (POSITION, "ascending")])
    table = table.take(order)
    ids = table.column("image_id")
    if len(ids) > 1:
        repeated = pc.equal(ids.slice(1), ids.slice(0, len(ids) - 1))
        if pc.any(repeated).as_py():
            table = table.filter(pa.concat_arrays([pa.array([True]), pc.invert(repeated.combine_chunks())]))
    return table


def run_tables(task: Read, staged: StagedFiles) -> Iterator[tuple[Segments, pa.Table]]:
    """Each run of ``task`` with its rows (runs without any skipped). What a run freed goes back to
    the system before the next is read: drop each table before taking the next."""
    for run in _runs(task):
        table = _run_rows(task, staged, run[0][0], run[-1][0])
        if table is None:
            continue
        yield run, table
        del table
        pa.default_memory_pool().release_unused()


@dataclass(frozen=True)
class MergeTask(Read):
    """A group of staged files merged into one sorted staged file at ``path``."""

    path: Path


def merge(task: MergeTask) -> np.ndarray:
    """Merge a group of staged files into one (repeated ids dropped, the first in input order
    kept, as the write pass would) and delete them; return its rows per bucket."""
    release_free_memory()  # what the stage pass left in this worker
    counts = np.zeros(BUCKETS, dtype=np.int64)
    staged = StagedFiles(task.files)
    with pa.OSFile(str(task.path), "wb") as sink, pa.ipc.new_file(sink, staged.tables[0].schema) as writer:
        for _, table in run_tables(task, staged):
            counts += np.bincount(buckets(table.column(KEY).to_numpy()), minlength=BUCKETS)
            writer.write_table(table)
            del table
    del staged
    for path in task.files:
        path.unlink()
    return counts


def merge_tasks(folder: Path, level: int, files: list[Path], offsets: np.ndarray, staged_bytes: np.ndarray,
                options: ShardOptions) -> Iterator[MergeTask]:
    """Consecutive files in as few groups of at most ``fan_in`` as can be, of even sizes."""
    groups = -(-len(files) // options.fan_in)
    bounds = [len(files) * i // groups for i in range(groups + 1)]
    for group, (start, stop) in enumerate(itertools.pairwise(bounds)):
        rows = (offsets[start:stop, 1:] - offsets[start:stop, :-1]).sum(axis=0)
        segments = [(int(b), 0, int(rows[b])) for b in np.flatnonzero(rows)]
        # a group's staged bytes per bucket, about (they only size the runs)
        share = staged_bytes * ((stop - start) / len(files))
        yield MergeTask(segments, files[start:stop], 0, offsets[start:stop], share, options,
                        folder / f"merged-{level}-{group:05d}.arrow")


def merge_groups(pool: WorkerPool, folder: Path, files: list[Path], offsets: np.ndarray, staged_bytes: np.ndarray,
                 options: ShardOptions) -> tuple[list[Path], np.ndarray]:
    """Merge staged files in groups until at most ``fan_in`` remain; the files and their bucket
    offsets.

    Each run of the write pass reads a slice of every staged file, faulting in the pages around
    each of its column buffers: runs and files both grow with the input, so without this the
    write pass would grow with its square (24 s instead of 12 at the full release).
    """
    level = 0
    while len(files) > options.fan_in:
        tasks = list(merge_tasks(folder, level, files, offsets, staged_bytes, options))
        counts = np.array(list(pool.map(merge, tasks)))
        files = [task.path for task in tasks]
        offsets = np.concatenate([np.zeros((len(tasks), 1), dtype=np.int64), np.cumsum(counts, axis=1)], axis=1)
        level += 1
    return files, offsets
