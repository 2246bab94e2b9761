"""What both converters do around their own records: a staged output folder, one
:func:`~.split.write_split` per split with a progress bar, the card and skip list, the push."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Features
from tqdm.auto import tqdm

from ..byproducts import ByproductError
from ..cards import DatasetSummary
from .chunks import ChunkFunction
from .options import ShardOptions
from .output import finish, push, staged_output
from .records import ConversionError, SkipLog
from .split import SplitResult, write_split


@dataclass
class Conversion:
    """A conversion in progress: where it writes, and what its splits have written so far."""

    staging: Path
    configs: dict[str, Features]
    options: ShardOptions
    workers: int
    skips: SkipLog
    #: config -> split -> rows written ("default" first, as the card lists them)
    rows: dict[str, dict[str, int]] = field(init=False)
    #: input records read, whether written or skipped
    records: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.rows = {name: {} for name in sorted(self.configs, key=lambda name: name != "default")}

    def write_split(self, split: str, convert: ChunkFunction, chunks: Iterable[Any], job: Any, *, desc: str,
                    unit: str, total: int | None = None, configs: Iterable[str] | None = None,
                    seen: set | None = None) -> SplitResult:
        """Write ``split`` into ``configs`` (default: all) from ``convert(job, chunk)`` over ``chunks``.
        ``seen`` collects its image ids (a fresh set unless given). A release that cannot be read
        on stops the conversion, naming the file."""
        names = list(self.configs) if configs is None else list(configs)
        with tqdm(total=total, desc=desc, unit=unit, mininterval=1.0) as bar:
            try:
                result = write_split(convert, chunks, job, staging=self.staging, split=split,
                                     configs={name: self.configs[name] for name in names}, options=self.options,
                                     workers=self.workers, skips=self.skips, seen=set() if seen is None else seen,
                                     bar=bar)
            except ByproductError as error:
                raise ConversionError(str(error)) from None
        self.records += result.records
        for config, count in result.rows.items():
            self.rows[config][split] = count
        return result


def run_conversion(args: argparse.Namespace, inputs: Iterable[tuple[str, Path | None]], configs: dict[str, Features],
                   write: Callable[[Conversion], DatasetSummary]) -> Path:
    """Stage the output of ``args`` (the shared flags), let ``write`` fill it and describe it, then
    finish the folder and push it. ``inputs`` are (flag, path) pairs the output must stay apart from."""
    skips = SkipLog(args.skip_invalid)
    with staged_output(args.output, args.overwrite, inputs) as staging:
        conversion = Conversion(staging, configs, ShardOptions.from_args(args), max(1, args.num_workers), skips)
        finish(staging, write(conversion), skips, configs)
    push(args.output, args.push_to_hub)
    return args.output
