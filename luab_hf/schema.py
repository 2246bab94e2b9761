"""The public row schemas of the converted datasets, as ``datasets.Features``.

These names are a contract: the converters write them, the transforms and the trainer read them,
and users rely on them after ``load_dataset``. Change them only with a new dataset version.
"""

from __future__ import annotations

from collections.abc import Sequence

from datasets import ClassLabel, Features, Image, Json, List, Value

from .labels import COCO_CLASSES

_F32 = Value("float32")
_I32 = Value("int32")
_STR = Value("string")
XY = List(_F32, length=2)
TRACE = List({"time_ms": _F32, "x": _F32, "y": _F32})

#: One ``<metadata>`` block of an ImageNet-AB XML file.
IMAGENET_ANNOTATION = {
    "assignment_id": _STR,
    "hit_id": _STR,
    "worker_id": _STR,
    "selected": Value("bool"),
    "selected_count": _I32,
    "click": {"x": _F32, "y": _F32, "time_ms": _F32},
    "estimate_time_ms": _I32,
    "hovers": List({"action": _STR, "time_ms": _F32}),
    "mouse_trace": TRACE,
    "image_width": _I32,
    "image_height": _I32,
    "original_image_width": _I32,
    "original_image_height": _I32,
    "image_position": _STR,
    "raw": Json(),
}


def imagenet_ab_features(class_names: Sequence[str], with_image: bool) -> Features:
    """Rows of ImageNet-AB: the image, its class, and every byproduct of its XML file."""
    columns: dict = {"image_id": _STR}
    if with_image:
        columns["image"] = Image()
    columns |= {
        "label": ClassLabel(names=list(class_names)),
        "wnid": _STR,
        "click_point": XY,
        "clicks": List(XY),
        "annotations": List(IMAGENET_ANNOTATION),
        "width": _I32,
        "height": _I32,
        "depth": _I32,
        "source_database": _STR,
        "segmented": _I32,
        "objects": List(
            {"name": _STR, "pose": _STR, "truncated": _I32, "difficult": _I32, "bbox": List(_F32, length=4)}
        ),
        "raw": Json(),
    }
    return Features(columns)


def coco_ab_features(with_image: bool) -> Features:
    """Rows of COCO-AB: the image, its 80-class multi-label target and the worker's icon log."""
    coco_class = ClassLabel(names=list(COCO_CLASSES))
    point = {"x": _F32, "y": _F32}
    columns: dict = {"image_id": Value("int64")}
    if with_image:
        columns["image"] = Image()
    columns |= {
        "labels": List(coco_class),
        "points": List({"category": coco_class, "x": _F32, "y": _F32}),
        "actions": List(
            {"action": _STR, "category": _STR, "point_from": point, "point_to": point, "time_ms": _F32}
        ),
        "category_history": List(
            {"category_index": _I32, "category_name": _STR, "time_ms": _F32, "using_keyboard": Value("bool")}
        ),
        "mouse_trace": TRACE,
        "time_spent_ms": Value("int64"),
        "worker_id": _STR,
        "hit_id": _STR,
        "page_id": _I32,
        "image_width": _I32,
        "image_height": _I32,
        "original_image_width": _I32,
        "original_image_height": _I32,
        "file_name": _STR,
        "raw": Json(),
    }
    return Features(columns)
