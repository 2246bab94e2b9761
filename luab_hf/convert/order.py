"""The row order and the shard plan: pure functions of the seed, the image ids and their counts.

A release lists its records class by class, so rows in input order would give a streaming
shuffle buffer batches of one or two classes. Every split is therefore written in one order that
depends only on the seed and the rows: ascending ``row_key(seed, image_id)``, a 64-bit hash. Any
contiguous stretch of rows then mixes classes as a global shuffle does, and a tarball and a folder
holding the same records give the same shards, whatever their member order, chunking or number
of workers. Rows are counted per key bucket (the key's top 12 bits) and shards cut at buckets.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Key buckets (the key's top 12 bits): small enough that one bucket of a full release with its
#: images (~35 MB) is read at once, many enough that shards cut close to their size.
BUCKETS = 4096
_BUCKET_SHIFT = np.uint64(64 - 12)
#: What a row's non-image columns are counted as when planning shards: a deterministic estimate,
#: so the plan does not depend on how the input was chunked.
ROW_BYTES = 8 << 10

#: A shard's rows: (bucket, first, stop) ranges of each bucket's rows in key order.
Segments = list[tuple[int, int, int]]


def row_key(seed: int, image_id: str) -> int:
    """The 64-bit sort key of a row: rows are written in ascending key order."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\0{image_id}".encode(), digest_size=8).digest(), "big")


def bucket_of(key: int) -> int:
    return key >> int(_BUCKET_SHIFT)


def buckets(keys: np.ndarray) -> np.ndarray:
    """:func:`bucket_of` for an array of keys, as indices."""
    return (keys >> _BUCKET_SHIFT).astype(np.int64)


def plan_shards(counts: np.ndarray, sizes: np.ndarray, max_rows: int, max_bytes: int) -> list[Segments]:
    """Cut the buckets (in key order) into shards of at most ``max_rows`` rows and about
    ``max_bytes``: whole buckets while they fit, a bucket too big alone split evenly."""
    shards: list[Segments] = []
    current: Segments = []
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
