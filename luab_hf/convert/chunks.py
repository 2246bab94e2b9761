"""The contract between a converter and the split writer: what a chunk function returns, and
the schema its rows are built in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa
from datasets import Features

#: The column naming the input file or record each row came from, for error messages; dropped
#: when the shards are written.
SOURCE = "_source"

#: What a converter's chunk function returns: the rows, the bad records (source, reason), the
#: names of every input record the chunk held, and counts of its own to report (summed).
ChunkResult = tuple[pa.Table, list[tuple[str, str]], list[str], dict[str, int]]
#: A chunk function: ``convert(job, chunk)``, the job being the converter's read-only description
#: of the run (labels, folders, schema). It runs in the workers, or anywhere else.
ChunkFunction = Callable[[Any, Any], ChunkResult]


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
    """The schema chunk functions build rows in: the widest config's columns in storage types,
    plus :data:`SOURCE`."""
    widest = max(configs.values(), key=len)
    return storage_schema(widest.arrow_schema).append(pa.field(SOURCE, pa.string()))
