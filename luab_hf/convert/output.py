"""The output folder of a conversion: staged, finished with its card and skip list, pushed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datasets import Features

from ..cards import DatasetSummary, dataset_card
from ..hub import upload_folder
from ..staging import publish, remove_stale_staging, staging_path
from .records import ConversionError, SkipLog


@contextmanager
def staged_output(output: Path, overwrite: bool) -> Iterator[Path]:
    """Yield a staging folder beside ``output`` that replaces it only if the block succeeds.

    A failed or killed conversion never leaves a half-written ``output``: either the old folder
    (or nothing) is there, or the complete new one.
    """
    output = Path(output).absolute()
    if output.exists() and not overwrite:
        raise ConversionError(f"{output}: already exists (pass --overwrite to replace it)")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(output)
        staging = staging_path(output)
        staging.mkdir()
    except OSError as error:
        raise ConversionError(f"{output.parent}: cannot write the output here ({error.strerror or error})") from None
    try:
        yield staging
        publish(staging, output, replace=overwrite)
    except FileExistsError:
        raise ConversionError(f"{output}: appeared while converting (another conversion?); "
                              "pass --overwrite to replace it") from None
    except OSError as error:
        raise ConversionError(f"{output}: could not write the output ({error.strerror or error}); "
                              "nothing was changed there") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


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
    dataset_card(summary).save(staging / "README.md")


def push(output: Path, repo_id: str | None) -> None:
    if repo_id:
        url = upload_folder(output, repo_id, repo_type="dataset", commit_message="Upload dataset converted with luab-hf")
        print(f"pushed {output} to {url}")
