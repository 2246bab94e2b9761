"""COCO instances files (``instances_train2014.json``): file names and image-level labels.

COCO-AB records carry only image ids; the instances file joins them with COCO's file names and
gives each image its 80-class multi-label target.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..labels import COCO_CATEGORY_NAMES_91, COCO_ID_TO_CLASS
from ._errors import ByproductError
from .jsonstream import JsonStreamError, iter_object_arrays


@dataclass
class Instances:
    """What a conversion needs from a COCO instances file: file names and image-level labels."""

    file_names: dict[int, str] = field(default_factory=dict)
    labels: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


def read_instances(path: str | os.PathLike) -> Instances:
    """Read ``images``, ``annotations`` and ``categories`` of a COCO instances file in one
    streaming pass (:mod:`.jsonstream`); memory holds one entry at a time.

    Raises :class:`ByproductError` naming the file (and entry) for anything malformed.
    """
    path = Path(path)
    instances = Instances()
    images = 0
    try:
        with path.open("rb") as handle:
            for key, index, item in iter_object_arrays(handle, _ARRAYS):
                _take(instances, key, item, f"{path} {key}[{index}]")
                images += key == "images"
    except JsonStreamError as error:
        raise ByproductError(str(path), f"malformed or truncated JSON ({error})") from None
    except OSError as error:
        raise ByproductError(str(path), f"cannot read file ({error.strerror})") from None
    if images == 0:
        raise ByproductError(str(path), "no 'images' entries; is this a COCO instances file?")
    return instances


_ARRAYS = {"images", "annotations", "categories"}


def _take(instances: Instances, key: str, item: Any, source: str) -> None:
    try:
        if key == "images":
            instances.file_names[int(item["id"])] = str(item["file_name"])
        elif key == "annotations":
            category = int(item["category_id"])
            if category not in COCO_ID_TO_CLASS:
                raise ByproductError(source, f"unknown COCO category id {category}")
            instances.labels[int(item["image_id"])].add(COCO_ID_TO_CLASS[category])
        else:
            cid, name = int(item["id"]), str(item["name"])
            if not 1 <= cid <= len(COCO_CATEGORY_NAMES_91) or COCO_CATEGORY_NAMES_91[cid - 1] != name:
                raise ByproductError(source, f"category {cid} {name!r} is not COCO's category {cid}")
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ByproductError):
            raise
        raise ByproductError(source, f"missing or malformed field ({error!r})") from None
