"""The output folder of a conversion: staged, finished with its card and skip list, pushed."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from datasets import Features

from ..cards import DatasetSummary, dataset_card
from ..hub import upload_folder
from ..staging import (
    claim,
    publish,
    release_claim,
    remove_stale_staging,
    staging_path,
)
from .preview import PREVIEW, write_preview
from .records import ConversionError, SkipLog


def check_output_apart(output: Path, inputs: Iterable[tuple[str, Path | None]]) -> None:
    """Refuse an output that is an input or holds one: replacing it would delete the user's data."""
    target = Path(output).resolve()
    for flag, path in inputs:
        if path is None:
            continue
        source = Path(path).resolve()
        if source == target or target in source.parents:
            relation = "is" if source == target else "contains"
            raise ConversionError(f"--output {output} {relation} the input {flag} {path}; writing there would "
                                  "replace your data: choose an output folder outside the inputs")


@contextmanager
def staged_output(output: Path, overwrite: bool, inputs: Iterable[tuple[str, Path | None]] = ()) -> Iterator[Path]:
    """Yield a staging folder beside ``output`` that replaces it only if the block succeeds.

    A failed or killed conversion never leaves a half-written ``output``: either the old folder
    (or nothing) is there, or the complete new one. ``inputs`` (flag, path) pairs are never
    replaced: an output that is or contains one is refused before anything is written.
    """
    check_output_apart(output, inputs)
    output = Path(output).absolute()
    if output.exists() and not overwrite:
        raise ConversionError(f"{output}: already exists (pass --overwrite to replace it)")
    marker = None
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if not overwrite:  # claimed now, atomically: a second conversion into it stops here
            try:
                marker = claim(output)
            except FileExistsError:
                raise ConversionError(f"{output}: already exists (another conversion is writing it?); "
                                      "pass --overwrite to replace it") from None
        remove_stale_staging(output)
        staging = staging_path(output)
        staging.mkdir()
    except OSError as error:
        if marker is not None:
            release_claim(marker)
        raise ConversionError(f"{output.parent}: cannot write the output here ({error.strerror or error})") from None
    try:
        yield staging
        publish(staging, output, replace=overwrite)
    except FileExistsError:
        raise ConversionError(f"{output}: appeared while converting; pass --overwrite to replace it") from None
    except OSError as error:
        raise ConversionError(f"{output}: could not write the output ({error.strerror or error}); "
                              "nothing was changed there") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if marker is not None:
            release_claim(marker)


def finish(staging: Path, summary: DatasetSummary, skips: SkipLog, configs: dict[str, Features]) -> None:
    """Write the skip list and card into the staged folder (which then moves into place)."""
    summary.skipped = skips.entries
    summary.features = configs
    summary.sizes = {
        config: {split: sum(p.stat().st_size for p in (staging / "data" / config).glob(f"{split}-*.parquet"))
                 for split in splits}
        for config, splits in summary.rows.items()
    }
    skips.write(staging)
    summary.preview = PREVIEW if write_preview(staging) else None
    dataset_card(summary).save(staging / "README.md")


def push(output: Path, repo_id: str | None) -> None:
    if repo_id:
        url = upload_folder(output, repo_id, repo_type="dataset", commit_message="Upload dataset converted with luab-hf")
        print(f"pushed {output} to {url}")
