"""One split, from chunks of input records to its Parquet shards, in two passes over one pool.

1. **stage**: workers convert chunks and stage their rows sorted by key (:mod:`.staged`); the main
   process logs bad records and repeated ids as the chunks return, in input order.
2. **write**: from the counts per key bucket the main process plans the shards (:mod:`.order`);
   when more than ``fan_in`` files were staged, they are first merged in groups; then workers
   write the shards (:mod:`.parquet`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from datasets import Features
from tqdm.auto import tqdm

from .chunks import ChunkFunction
from .options import ShardOptions
from .order import BUCKETS, Segments, bucket_of, plan_shards
from .parquet import ShardTask, write_shard
from .pool import WorkerPool, worker_pool
from .records import ConversionError, SkipLog
from .staged import StageTask, merge_groups, stage_chunk


@dataclass
class SplitResult:
    records: int  # input records the chunks held: rows + skipped
    rows: dict[str, int]  # per config
    counters: dict[str, int]


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


def _stage_split(pool: WorkerPool, tasks: Iterable[StageTask], skips: SkipLog, seen: set, bar: tqdm) -> _StagedSplit:
    """Run the stage pass; log bad records and repeated ids to ``skips`` as their chunks return,
    in input order."""
    files, offsets = [], []
    counts = np.zeros(BUCKETS, dtype=np.int64)
    sizes = np.zeros(BUCKETS, dtype=np.float64)
    staged_bytes = np.zeros(BUCKETS, dtype=np.float64)
    records, counters = 0, {}
    for staged in pool.map(stage_chunk, tasks):
        records += len(staged.names)
        for name, value in staged.counters.items():
            counters[name] = counters.get(name, 0) + value
        bar.update(len(staged.names))
        for source, reason in staged.errors:
            skips.add(source, reason)
        for image_id, key, name in zip(staged.image_ids, staged.keys, staged.sources):
            if image_id in seen:
                skips.add(name, f"duplicate image_id {image_id!r}: an earlier record has the same id")
                counts[bucket_of(int(key))] -= 1  # dropped when the shard is written
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


def _shard_tasks(plan: list[Segments], files: list[Path], offsets: np.ndarray, staged_bytes: np.ndarray,
                 outputs: dict[str, tuple[Path, pa.Schema]], split: str, options: ShardOptions) -> Iterator[ShardTask]:
    """The write pass's tasks, built as the pool takes them: each carries its own buckets only."""
    for index, segments in enumerate(plan):
        first, last = segments[0][0], segments[-1][0]
        span = offsets[:, first:last + 2]
        keep = np.flatnonzero(span[:, -1] > span[:, 0])  # the staged files holding any of its rows
        yield ShardTask(segments, [files[i] for i in keep], first, span[keep], staged_bytes[first:last + 1], options,
                        index=index, total=len(plan), outputs=outputs, split=split)


def _nothing_to_write(split: str, records: int, skips: SkipLog) -> str:
    """Why a split has no rows: no input at all, or every record skipped (with the first reasons)."""
    if not records:
        return f"{split}: the input holds no records"
    reasons = "\n".join(f"  {source}: {reason}" for source, reason in skips.entries[:5])
    more = f"\n  ... and {len(skips.entries) - 5:,} more" if len(skips.entries) > 5 else ""
    return (f"{split}: all {records:,} input records are invalid, so there is nothing to write; the first "
            f"reasons:\n{reasons}{more}")


def write_split(convert: ChunkFunction, chunks: Iterable[Any], job: Any, *, staging: Path, split: str,
                configs: dict[str, Features], options: ShardOptions, workers: int, skips: SkipLog, seen: set,
                bar: tqdm) -> SplitResult:
    """Convert ``chunks`` with ``convert(job, chunk)`` in ``workers`` processes and write the split
    into every config of ``configs`` under ``staging/data``, in key order.

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
            tasks = (StageTask(convert, index, chunk, folder, options.seed) for index, chunk in enumerate(chunks))
            staged = _stage_split(pool, tasks, skips, seen, bar)
            if not staged.counts.any():
                raise ConversionError(_nothing_to_write(split, staged.records, skips))
            plan = plan_shards(staged.counts, staged.sizes, options.shard_size, options.max_shard_bytes)
            files, offsets = merge_groups(pool, folder, staged.files, staged.offsets, staged.staged_bytes, options)
            tasks = _shard_tasks(plan, files, offsets, staged.staged_bytes, outputs, split, options)
            written = sum(pool.map(write_shard, tasks))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return SplitResult(staged.records, dict.fromkeys(configs, written), staged.counters)
