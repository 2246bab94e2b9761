"""Sharded Parquet output: ``data/<config>/<split>-0000i-of-0000n.parquet``, as the Hub lays it out."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Features


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
