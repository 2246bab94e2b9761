"""How a split is cut into shards and row groups: one object, set from the command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class ShardOptions:
    """The output's layout and the write pass's memory bounds; every field has a tested default."""

    #: rows per Parquet shard at most (``--shard-size``)
    shard_size: int = 100_000
    #: the row order: rows sorted by a hash of this and their image id (``--seed``)
    seed: int = 0
    #: bytes per shard, about: a shard of images is cut before its rows reach this
    max_shard_bytes: int = 512 << 20
    max_row_group_bytes: int = 16 << 20
    max_row_group_rows: int = 10_000
    #: a column's dictionary falls back to plain encoding past this: unique ids and epoch times
    #: stop trying early (Parquet's 1 MB default outlasts a whole row group), while repeating values
    #: (wnids, actions, 3-decimal coordinates) keep theirs: faster, and smaller files
    dictionary_page_bytes: int = 64 << 10
    #: staged bytes a shard writer reads and merges at once: its memory is this plus a row group
    run_bytes: int = 8 << 20
    #: staged files a shard is read from at most: more are first merged in groups of this many
    #: (about 500 MB staged, where a merge starts to cost less than what it saves the write pass)
    fan_in: int = 64
    #: staged files copied out of their maps together before their pages are dropped: every column
    #: buffer a slice touches maps 64 KB around it (the kernel's fault-around), a few MB per file
    files_at_once: int = 8

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ShardOptions:
        return cls(shard_size=args.shard_size, seed=args.seed)
