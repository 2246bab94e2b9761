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

import ijson

from ..labels import COCO_CATEGORY_NAMES_91, COCO_ID_TO_CLASS
from ._errors import ByproductError


@dataclass
class Instances:
    """What a conversion needs from a COCO instances file: file names and image-level labels."""

    file_names: dict[int, str] = field(default_factory=dict)
    labels: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


def read_instances(path: str | os.PathLike) -> Instances:
    """Stream ``images``, ``annotations`` and ``categories`` of a COCO instances file.

    Raises :class:`ByproductError` naming the file (and entry) for anything malformed.
    """
    path = Path(path)
    instances = Instances()
    prefixes = ("images.item", "annotations.item", "categories.item")
    sinks = {prefix: ijson.sendable_list() for prefix in prefixes}
    coroutines = [ijson.items_coro(sinks[prefix], prefix, use_float=True) for prefix in prefixes]
    counts = dict.fromkeys(prefixes, 0)
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                for coroutine in coroutines:
                    coroutine.send(chunk)
                for prefix, sink in sinks.items():
                    for item in sink:
                        _take(instances, prefix, item, f"{path} {prefix.split('.')[0]}[{counts[prefix]}]")
                        counts[prefix] += 1
                    del sink[:]
            for coroutine in coroutines:
                coroutine.close()
    except ijson.JSONError as error:
        raise ByproductError(str(path), f"malformed or truncated JSON ({error})") from None
    except OSError as error:
        raise ByproductError(str(path), f"cannot read file ({error.strerror})") from None
    if counts["images.item"] == 0:
        raise ByproductError(str(path), "no 'images' entries; is this a COCO instances file?")
    return instances


def _take(instances: Instances, prefix: str, item: Any, source: str) -> None:
    try:
        if prefix == "images.item":
            instances.file_names[int(item["id"])] = str(item["file_name"])
        elif prefix == "annotations.item":
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
