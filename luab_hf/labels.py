"""Class lists of the two releases: ImageNet-1K (from timm) and COCO's 80 object classes."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

#: COCO's 91 category names, index + 1 = category id (the list the published COCO-AB loader maps
#: ``iconType`` through). Eleven of them never got annotations: see :data:`COCO_UNUSED_IDS`.
COCO_CATEGORY_NAMES_91: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "street sign", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "hat", "backpack",
    "umbrella", "shoe", "eye glasses", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "plate", "wine glass", "cup", "fork", "knife", "spoon", "bowl",
    "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
    "cake", "chair", "couch", "potted plant", "bed", "mirror", "dining table", "window", "desk",
    "toilet", "door", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave",
    "oven", "toaster", "sink", "refrigerator", "blender", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush", "hair brush",
)  # fmt: skip
#: The ids COCO defines but never annotated (instances files do not use them).
COCO_UNUSED_IDS: frozenset[int] = frozenset({12, 26, 29, 30, 45, 66, 68, 69, 71, 83, 91})

#: The 80 classes in COCO-id order; a class index is the position in this tuple.
COCO_CLASSES: tuple[str, ...] = tuple(
    name for cid, name in enumerate(COCO_CATEGORY_NAMES_91, start=1) if cid not in COCO_UNUSED_IDS)
COCO_CLASS_INDEX: dict[str, int] = {name: index for index, name in enumerate(COCO_CLASSES)}
#: COCO category id (1..90) -> class index (0..79).
COCO_ID_TO_CLASS: dict[int, int] = {
    cid: COCO_CLASS_INDEX[name]
    for cid, name in enumerate(COCO_CATEGORY_NAMES_91, start=1)
    if cid not in COCO_UNUSED_IDS
}


def _timm_info_file(name: str) -> list[str]:
    """A line list from timm's ImageNet metadata, read without importing timm (and torch)."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("timm is needed for the ImageNet-1K class list")
    path = Path(spec.submodule_search_locations[0]) / "data" / "_info" / name
    return path.read_text().splitlines()


@cache
def imagenet_classes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ImageNet-1K's wnids in the standard sorted order, and a readable name for each.

    The same lists as timm's ``ImageNetInfo`` (its package data), without importing timm.
    """
    wnids = tuple(line.strip() for line in _timm_info_file("imagenet_synsets.txt") if line.strip())
    lemmas = dict(line.split("\t", 1) for line in _timm_info_file("imagenet_synset_to_lemma.txt") if "\t" in line)
    names = [lemmas[wnid].split(",")[0].strip() for wnid in wnids]
    # A few first synonyms repeat ("crane" the bird and the machine): keep labels unique.
    repeated = {name for name in names if names.count(name) > 1}
    names = [f"{name} ({wnid})" if name in repeated else name for name, wnid in zip(names, wnids)]
    return wnids, tuple(names)


def imagenet_name(wnid: str) -> str:
    """A readable class name for a wnid; the wnid itself when ImageNet-1K does not know it."""
    wnids, names = imagenet_classes()
    try:
        return names[wnids.index(wnid)]
    except ValueError:
        return wnid
