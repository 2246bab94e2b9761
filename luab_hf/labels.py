"""Class lists of the two releases: ImageNet-1K (from timm) and COCO's 80 object classes."""

from __future__ import annotations

from functools import cache

# COCO's 91 category ids, index + 1 = id; "N/A" marks the 11 ids COCO defines but never uses.
COCO_CATEGORY_NAMES_91: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "N/A", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "N/A", "backpack",
    "umbrella", "N/A", "N/A", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard",
    "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "N/A", "wine glass", "cup", "fork", "knife", "spoon", "bowl",
    "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
    "cake", "chair", "couch", "potted plant", "bed", "N/A", "dining table", "N/A", "N/A",
    "toilet", "N/A", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave",
    "oven", "toaster", "sink", "refrigerator", "N/A", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush", "N/A",
)  # fmt: skip

#: The 80 classes in COCO-id order; a class index is the position in this tuple.
COCO_CLASSES: tuple[str, ...] = tuple(name for name in COCO_CATEGORY_NAMES_91 if name != "N/A")
COCO_CLASS_INDEX: dict[str, int] = {name: index for index, name in enumerate(COCO_CLASSES)}
#: COCO category id (1..90) -> class index (0..79).
COCO_ID_TO_CLASS: dict[int, int] = {
    cid: COCO_CLASS_INDEX[name]
    for cid, name in enumerate(COCO_CATEGORY_NAMES_91, start=1)
    if name != "N/A"
}


@cache
def imagenet_classes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """ImageNet-1K's wnids in the standard sorted order, and a readable name for each."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    wnids = tuple(info.label_names())
    names = [info.index_to_description(i).split(",")[0].strip() for i in range(len(wnids))]
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
