"""Bad records: stop at the first, or count and list each with its reason. Never drop silently."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
from tqdm.auto import tqdm

from ..byproducts import ByproductError
from .shards import SplitWriters


class ConversionError(Exception):
    """A conversion that cannot finish; the message names the file or record at fault."""


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


#: What a worker returns for one chunk: the rows, the bad records (source, reason), and the
#: names of every input record the chunk held.
ChunkResult = tuple[pa.Table, list[tuple[str, str]], list[str]]


def write_chunks(results: Iterable[ChunkResult], writers: SplitWriters, skips: SkipLog,
                 seen: set, bar: tqdm) -> int:
    """Write each worker chunk, refusing repeated image ids.

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
