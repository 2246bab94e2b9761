"""Writing one shard: ``data/<config>/<split>-0000i-of-0000n.parquet`` for every config, from
staged rows, run by run; row groups sized by bytes, images stored as they are (JPEG does not
compress), everything else zstd."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .._system import release_free_memory
from .options import ShardOptions
from .staged import Read, StagedFiles, run_tables


@dataclass(frozen=True)
class ShardTask(Read):
    """One output shard."""

    index: int
    total: int
    outputs: dict[str, tuple[Path, pa.Schema]]  # config -> (folder, schema)
    split: str


class ShardFile:
    """One config's Parquet file of a shard: row groups by bytes, images stored uncompressed."""

    def __init__(self, path: Path, schema: pa.Schema, options: ShardOptions) -> None:
        compression = {field.name: "zstd" for field in schema}
        if "image" in schema.names:
            compression["image"] = "none"
        self.schema, self.options = schema, options
        self.writer = pq.ParquetWriter(path, schema, compression=leaf_compression(schema, compression),
                                       dictionary_pagesize_limit=options.dictionary_page_bytes)
        self.pending: list[pa.Table] = []
        self.pending_bytes = self.pending_rows = 0

    def add(self, table: pa.Table) -> None:
        self.pending.append(table.select(self.schema.names).cast(self.schema))
        self.pending_bytes += self.pending[-1].nbytes
        self.pending_rows += table.num_rows
        while (self.pending_bytes >= self.options.max_row_group_bytes
               or self.pending_rows >= self.options.max_row_group_rows):
            self._write_group()

    def _write_group(self) -> None:
        """Write one full row group from the pending rows (all of them when they are fewer)."""
        table = pa.concat_tables(self.pending)
        limit = self.options.max_row_group_bytes
        rows = max(1, min(self.options.max_row_group_rows, table.num_rows * limit // max(table.nbytes, 1)))
        self.writer.write_table(table.slice(0, rows), row_group_size=rows)
        rest = table.slice(rows)
        self.pending = [rest] if rest.num_rows else []
        self.pending_bytes, self.pending_rows = rest.nbytes, rest.num_rows

    def close(self) -> None:
        while self.pending_rows:
            self._write_group()
        self.writer.close()


def leaf_compression(schema: pa.Schema, by_column: dict[str, str]) -> dict[str, str]:
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


def write_shard(task: ShardTask) -> int:
    """Write the shard's file in every config; returns its rows."""
    release_free_memory()  # what the stage pass left in this worker (once a task: trimming costs refaults)
    name = f"{task.split}-{task.index:05d}-of-{task.total:05d}.parquet"
    files = [ShardFile(folder / name, schema, task.options) for folder, schema in task.outputs.values()]
    rows = 0
    staged = StagedFiles(task.files)
    for run, table in run_tables(task, staged):
        if len(run) == 1:  # maybe part of a bucket split over shards
            _, first, stop = run[0]
            table = table.slice(first, stop - first)
        rows += table.num_rows
        for file in files:
            file.add(table)
        del table
    for file in files:
        file.close()
    del staged
    return rows
