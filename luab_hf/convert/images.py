"""Image files: which files are images, finding one by id, reading and checking it."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ..byproducts import ByproductError
from ..schema import IMAGE_SUFFIXES


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def list_images(folder: Path) -> Iterator[Path]:
    """Image files directly in ``folder``, sorted."""
    return (p for p in sorted(folder.iterdir()) if is_image_file(p))


def find_image(folder: Path, stem: str) -> Path:
    """The image file ``folder/stem.<suffix>`` (ImageNet's ``.JPEG`` first, any case of the others);
    the ``.JPEG`` path when there is none, so the error names what was expected."""
    for suffix in IMAGE_SUFFIXES:
        for spelling in (suffix.upper(), suffix):
            if (path := folder / f"{stem}{spelling}").is_file():
                return path
    return folder / f"{stem}.JPEG"


#: Pillow's own decompression-bomb limit (it refuses twice this outright).
DEFAULT_MAX_IMAGE_PIXELS = int(Image.MAX_IMAGE_PIXELS or 89_478_485)
#: EXIF orientations that turn the image by 90 degrees (its stored width and height swap).
_TRANSPOSED = {5, 6, 7, 8}


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[dict[str, Any], int, int]:
    """An image file as an ``Image()`` cell plus its size as shown (after EXIF orientation, as
    ``datasets`` decodes it), checked by a cheap reduced decode.

    JPEG's draft mode decodes at 1/8 scale, which still reads every byte, so corrupt and
    truncated files fail here rather than in a training run. Greyscale and CMYK are fine: the
    bytes are stored as they are and converted to RGB by the transforms. Only regular files are
    read (a FIFO would block), and images above ``max_pixels`` are refused before decoding.
    """
    if path.exists() and not path.is_file():
        raise ByproductError(str(path), "not a regular file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ByproductError(str(path), "image file is missing") from None
    except OSError as error:
        raise ByproductError(str(path), f"cannot read image ({error.strerror})") from None
    if not data:
        raise ByproductError(str(path), "image file is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as image:  # the bytes stored are the bytes checked
            width, height = image.size
            if width * height > max_pixels:
                raise ByproductError(str(path), f"image of {width} x {height} pixels is above --max-image-pixels "
                                                f"{max_pixels} (a decompression bomb?)")
            if image.getexif().get(0x0112, 1) in _TRANSPOSED:
                width, height = height, width
            image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except Image.DecompressionBombError as error:
        raise ByproductError(str(path), f"image too large to decode safely ({error})") from None
    except UnidentifiedImageError:
        raise ByproductError(str(path), "corrupt or unreadable image (not a format Pillow can identify)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ByproductError(str(path), f"corrupt or unreadable image ({error})") from None
    if width == 0 or height == 0:
        raise ByproductError(str(path), f"image has zero size ({width}x{height})")
    return {"bytes": data, "path": path.name}, width, height
