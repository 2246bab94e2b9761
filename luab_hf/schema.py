"""The public row schemas of the converted datasets: ``datasets.Features`` and which column
holds what.

These names are a contract: the converters write them, the transforms, the trainer and the
visualisation read them (through :class:`TaskSchema`), and users rely on them after
``load_dataset``. Change them only with a new dataset version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from datasets import ClassLabel, Features, Image, Json, List, Value

from .labels import COCO_CLASSES

#: File suffixes read as images (compared in lower case): ImageNet's ``.JPEG``, COCO's ``.jpg``.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpeg", ".jpg", ".png")
#: Annotation byproducts a model can learn from beside the class.
ByproductTarget = Literal["click", "mouse_trace", "time"]

_F32 = Value("float32")
_I32 = Value("int32")
#: every time column: int64 milliseconds (epoch times need 41 bits; float32 would keep 24)
_MS = Value("int64")
_STR = Value("string")
XY = List(_F32, length=2)
TRACE = List({"time_ms": _MS, "x": _F32, "y": _F32})
CLICK = {"x": _F32, "y": _F32, "time_ms": _MS}

#: One ``<metadata>`` block of an ImageNet-AB XML file.
IMAGENET_ANNOTATION = {
    "assignment_id": _STR,
    "hit_id": _STR,
    "worker_id": _STR,
    "selected": Value("bool"),
    "selected_count": _I32,
    "click": CLICK,
    "clicks": List(CLICK),
    "estimate_time_ms": _MS,
    "hovers": List({"action": _STR, "time_ms": _MS}),
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
            {"action": _STR, "category": _STR, "point_from": point, "point_to": point, "time_ms": _MS}
        ),
        "category_history": List(
            {"category_index": _I32, "category_name": _STR, "time_ms": _MS, "using_keyboard": Value("bool")}
        ),
        "mouse_trace": TRACE,
        "time_spent_ms": _MS,
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


@dataclass(frozen=True)
class TaskSchema:
    """Which column holds what in one release's rows: the one place data loading, training and
    visualisation look it up."""

    name: Literal["imagenet-ab", "coco-ab"]
    #: the class target: an int ``ClassLabel`` (single label) or a list of them (multi-label)
    label_column: str
    multi_label: bool
    #: byproduct target -> the column it is read from
    target_columns: Mapping[str, str]
    #: every annotated click of a row, as drawn by ``visualization.draw_row``
    clicks_column: str

    def class_names(self, features: Features) -> list[str]:
        label = features[self.label_column]
        return list((label.feature if self.multi_label else label).names)

    def required_columns(self, targets: Iterable[str]) -> dict[str, str]:
        """column -> why it is needed, for training on ``targets``."""
        needed = {"image": "the images (use the dataset's 'default' config)", self.label_column: "the class labels"}
        for target in targets:
            needed[self.target_columns[target]] = f"the {target!r} byproduct target"
        return needed

    def clicks(self, row: Mapping[str, Any]) -> list[tuple[float, float]]:
        """Every annotated click of one row as ``(x, y)``."""
        return [(p[0], p[1]) if isinstance(p, (list, tuple)) else (p["x"], p["y"])
                for p in row.get(self.clicks_column) or []]

    def traces(self, row: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
        """Every mouse trace of one row, as ``(x, y)`` paths."""
        if self.name == "imagenet-ab":
            traces = [a.get("mouse_trace") or [] for a in row.get("annotations") or []]
        else:
            traces = [row.get("mouse_trace") or []]
        return [[(p["x"], p["y"]) for p in trace] for trace in traces]


IMAGENET_AB = TaskSchema(
    name="imagenet-ab", label_column="label", multi_label=False,
    target_columns={"click": "click_point", "mouse_trace": "annotations", "time": "annotations"},
    clicks_column="clicks",
)
COCO_AB = TaskSchema(
    name="coco-ab", label_column="labels", multi_label=True,
    target_columns={"click": "points", "mouse_trace": "mouse_trace", "time": "time_spent_ms"},
    clicks_column="points",
)
TASKS: dict[str, TaskSchema] = {task.name: task for task in (IMAGENET_AB, COCO_AB)}


def detect_task(columns: Iterable[str]) -> TaskSchema:
    """Which release's schema the columns follow."""
    columns = set(columns)
    if {"points", "labels"} <= columns:
        return COCO_AB
    if "label" in columns:
        return IMAGENET_AB
    raise ValueError(f"columns {sorted(columns)} follow neither the ImageNet-AB schema (label, click_point) "
                     "nor the COCO-AB schema (labels, points)")
