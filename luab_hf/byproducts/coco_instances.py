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
from ._values import to_int
from .jsonstream import BadEntry, JsonStreamError, iter_object_arrays


@dataclass
class Instances:
    """What a conversion needs from a COCO instances file: file names and image-level labels."""

    file_names: dict[int, str] = field(default_factory=dict)
    labels: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


def read_instances(path: str | os.PathLike, max_value_bytes: int = 64 << 20) -> Instances:
    """Read ``images``, ``annotations`` and ``categories`` of a COCO instances file in one
    streaming pass (:mod:`.jsonstream`); memory holds one entry at a time.

    Raises :class:`ByproductError` naming the file (and entry) for anything malformed, or for a
    value longer than ``max_value_bytes``.
    """
    path = Path(path)
    instances = Instances()
    images = 0
    try:
        with path.open("rb") as handle:
            for key, index, item in iter_object_arrays(handle, _ARRAYS, max_value_bytes):
                if isinstance(item, BadEntry):
                    raise ByproductError(f"{path} {key}[{index}]", f"unreadable entry: {item.reason}")
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


def _field(item: Any, key: str, source: str) -> Any:
    if not isinstance(item, dict):
        raise ByproductError(source, f"entry is {type(item).__name__}, expected an object")
    if key not in item:
        raise ByproductError(source, f"missing {key}")
    return item[key]


def _id(item: Any, key: str, source: str) -> int:
    return to_int(_field(item, key, source), source, key, bits=64, minimum=0)


def _name(item: Any, key: str, source: str) -> str:
    value = _field(item, key, source)
    if not isinstance(value, str):
        raise ByproductError(source, f"{key} is {type(value).__name__}, expected a string")
    return value


def _take(instances: Instances, key: str, item: Any, source: str) -> None:
    if key == "images":
        instances.file_names[_id(item, "id", source)] = _name(item, "file_name", source)
    elif key == "annotations":
        category = _id(item, "category_id", source)
        if category not in COCO_ID_TO_CLASS:
            raise ByproductError(source, f"unknown COCO category id {category}")
        instances.labels[_id(item, "image_id", source)].add(COCO_ID_TO_CLASS[category])
    else:
        cid, name = _id(item, "id", source), _name(item, "name", source)
        if not 1 <= cid <= len(COCO_CATEGORY_NAMES_91) or COCO_CATEGORY_NAMES_91[cid - 1] != name:
            raise ByproductError(source, f"category {cid} {name!r:.60} is not COCO's category {cid}")
