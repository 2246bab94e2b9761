"""The dataset's ``preview.png``: its first train rows with every click and mouse trace drawn.

The Hub's dataset viewer shows the byproduct columns as JSON text and draws no points, so the
card shows this instead. Without images (the ``byproducts`` config alone) the byproducts are drawn
on a neutral square: their coordinates are normalised anyway.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

from ..transforms import decode_image
from ..visualization import draw_row, image_grid

PREVIEW = "preview.png"
TILE = 160
COLUMNS = 4
NEUTRAL = (215, 215, 215)


def _tile(row: dict) -> Image.Image:
    """One row drawn and fitted, centred, into a ``TILE`` square."""
    image = decode_image(row["image"]).convert("RGB") if row.get("image") else Image.new("RGB", (TILE, TILE), NEUTRAL)
    drawn = draw_row(dict(row, image=image), scale=max(1, TILE // max(image.size)))
    drawn.thumbnail((TILE, TILE))
    tile = Image.new("RGB", (TILE, TILE), (255, 255, 255))
    tile.paste(drawn, ((TILE - drawn.width) // 2, (TILE - drawn.height) // 2))
    return tile


def write_preview(folder: Path, rows: int = 8) -> bool:
    """Draw the first ``rows`` rows of the first train shard under ``folder/data`` into
    ``folder/preview.png``; whether there were rows to draw."""
    config = "default" if (folder / "data" / "default").is_dir() else "byproducts"
    shards = sorted((folder / "data" / config).glob("train-*.parquet"))
    if not shards:
        return False
    batch = next(pq.ParquetFile(shards[0]).iter_batches(batch_size=rows), None)
    if batch is None or batch.num_rows == 0:
        return False
    image_grid([_tile(row) for row in batch.to_pylist()], COLUMNS).save(folder / PREVIEW)
    return True
