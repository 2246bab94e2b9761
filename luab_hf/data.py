"""Dataset rows -> model inputs: a ``set_transform``-able function and a collator.

Rows follow the ImageNet-AB or COCO-AB schema (``luab_hf.schema``). Absent byproducts become NaN
targets marked invalid, so every batch has the same keys and shapes whatever it holds.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from .schema import TASKS, TaskSchema, detect_task
from .transforms import PointTransform

__all__ = ["LuabBatchTransform", "collate_byproducts", "detect_task", "resample_trace"]

_NAN2 = (math.nan, math.nan)


def resample_trace(trace: Sequence[dict] | None, steps: int) -> np.ndarray:
    """A mouse trace as ``steps`` points evenly spaced in time; NaN when there is none."""
    if not trace:
        return np.full((steps, 2), np.nan, dtype=np.float32)
    ordered = sorted(trace, key=lambda p: p["time_ms"])
    times = np.array([p["time_ms"] for p in ordered], dtype=np.float64)
    xy = np.array([(p["x"], p["y"]) for p in ordered], dtype=np.float64)
    if len(ordered) == 1 or times[-1] == times[0]:
        return np.repeat(xy[-1:], steps, axis=0).astype(np.float32)
    grid = np.linspace(times[0], times[-1], steps)
    return np.stack([np.interp(grid, times, xy[:, 0]), np.interp(grid, times, xy[:, 1])], axis=1).astype(np.float32)


def _log_seconds(milliseconds: float | None) -> float:
    return math.log1p(milliseconds / 1000.0) if milliseconds is not None and milliseconds >= 0 else math.nan


class LuabBatchTransform:
    """Turn a batch of rows into ``pixel_values``, ``labels``, ``points`` ``[K, 2]`` and
    ``points_valid`` ``[K]`` per example (plus ``trace``/``annotation_time`` when asked).

    K is 1 for ImageNet-AB (the mean click) and ``num_labels`` for COCO-AB (one point per class,
    with multi-hot ``labels``). Use with ``dataset.set_transform(...)`` or ``.map``-free
    streaming via ``IterableDataset.map(..., batched=True)``.

    COCO-AB: when the rows carry labels (converted with ``--instances``), a point of a class the
    image does not have is not a target (``points_valid`` false), as in the published loader;
    ``keep_points_of_absent_classes=True`` keeps them.
    ``drop_labels_outside_crop`` reproduces the published COCO loader, which also drops a class
    *label* when its click leaves the random crop. It is off by default: the object may well
    still be in the crop even when the click is not.

    With ``seed``, each example's random augmentation is drawn from ``(seed, epoch, image_id)``
    alone, not from the global RNG: a resumed run sees exactly the crops an uninterrupted one
    would (data loaders prefetch, so the global RNG at a checkpoint is already ahead), and the
    crops do not depend on the number of processes or workers. Call :meth:`set_epoch` per epoch.

    ``decode_on_device`` (with :meth:`RandomResizedCropFlip.plan <luab_hf.transforms.RandomResizedCropFlip.plan>`):
    stored JPEGs leave the workers encoded, with their drawn crop, for
    :func:`~luab_hf.transforms.decode_crops` to decode in batches on the accelerator.
    """

    def __init__(
        self,
        transform: PointTransform,
        task: TaskSchema | str | None = None,
        num_labels: int | None = None,
        targets: Sequence[str] = ("click",),
        trace_steps: int = 8,
        drop_labels_outside_crop: bool = False,
        seed: int | None = None,
        keep_points_of_absent_classes: bool = False,
        decode_on_device: bool = False,
    ) -> None:
        if decode_on_device and not hasattr(transform, "plan"):
            raise ValueError("decode_on_device needs the built-in training transform (PointTransform.for_training)")
        self.transform = transform
        self.decode_on_device = decode_on_device
        if isinstance(task, str) and task not in TASKS:
            raise ValueError(f"unknown task {task!r}: expected one of {sorted(TASKS)}, or a TaskSchema")
        self.task = TASKS[task] if isinstance(task, str) else task
        self.num_labels = num_labels
        self.targets = tuple(targets)
        self.trace_steps = trace_steps
        self.drop_labels_outside_crop = drop_labels_outside_crop
        self.keep_points_of_absent_classes = keep_points_of_absent_classes
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _example_seed(self, image_id: Any) -> int:
        return zlib.crc32(f"{self.seed}:{self.epoch}:{image_id}".encode())

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        task = self.task or detect_task(batch)
        if "image" not in batch:
            raise ValueError("rows have no 'image' column: load the dataset's 'default' config (with images)")
        out: dict[str, list[Any]] = {}
        # only the columns this task's targets read (rows may carry every byproduct)
        wanted = [key for key in (task.label_column, "image_id", *task.target_columns.values()) if key in batch]
        convert = self._coco if task.multi_label else self._imagenet
        for index, image in enumerate(batch["image"]):
            row = {key: batch[key][index] for key in wanted}
            generator = None
            if self.seed is not None:  # a generator of its own: the global RNG is never touched
                generator = torch.Generator().manual_seed(self._example_seed(row.get("image_id", index)))
            example = convert(task, row, image, generator)
            for key, value in example.items():
                out.setdefault(key, []).append(value)
        return out

    # -- per schema ---------------------------------------------------------------------------

    def _imagenet(self, task: TaskSchema, row: dict[str, Any], image: Any, generator: torch.Generator | None) -> dict[str, Any]:
        columns = task.target_columns
        click = row.get(columns["click"]) or _NAN2
        trace, seconds = None, math.nan
        if "mouse_trace" in self.targets or "time" in self.targets:
            annotations = row.get(columns["mouse_trace"]) or []
            selected = [a for a in annotations if a.get("selected")]
            trace = next((a["mouse_trace"] for a in selected + annotations if a.get("mouse_trace")), None)
            times = [a["estimate_time_ms"] for a in selected if a.get("estimate_time_ms") is not None]
            seconds = _log_seconds(sum(times) / len(times)) if times else math.nan
        example = self._geometry(image, np.asarray([click], dtype=np.float64), trace, seconds, generator)
        example["labels"] = int(row[task.label_column])
        return example

    def _coco(self, task: TaskSchema, row: dict[str, Any], image: Any, generator: torch.Generator | None) -> dict[str, Any]:
        classes = self.num_labels or 80
        columns = task.target_columns
        points = np.full((classes, 2), np.nan, dtype=np.float32)
        for point in row.get(columns["click"]) or []:
            points[point["category"]] = (point["x"], point["y"])
        present = row.get(task.label_column)
        if present is not None and not self.keep_points_of_absent_classes:
            # a click for a class the image's labels lack (a stray icon) is no target, as in the
            # published loader: training a class's point on an absent class is inconsistent
            absent = np.ones(classes, bool)
            absent[list(present)] = False
            points[absent] = np.nan
        example = self._geometry(image, points, row.get(columns["mouse_trace"]), _log_seconds(row.get(columns["time"])),
                                 generator)
        labels = torch.zeros(classes, dtype=torch.float32)
        labels[list(present or [])] = 1.0
        if self.drop_labels_outside_crop:
            left_crop = torch.from_numpy(np.isfinite(points).all(1)) & ~example["points_valid"]
            labels[left_crop] = 0.0
        example["labels"] = labels
        return example

    def _geometry(self, image: Any, points: np.ndarray, trace: Sequence[dict] | None, seconds: float,
                  generator: torch.Generator | None) -> dict[str, Any]:
        """Move the click points and the trace through one draw of the random transform."""
        with_trace = "mouse_trace" in self.targets
        if with_trace:
            points = np.concatenate([points, resample_trace(trace, self.trace_steps)])
        if self.decode_on_device:
            out = self.transform.plan(image, points, generator=generator)
        else:
            out = self.transform(image, points, generator=generator)
        example = {key: out[key] for key in ("pixel_values", "points", "points_valid", "jpeg", "crop") if key in out}
        if with_trace:
            k = len(points) - self.trace_steps
            example["points"], example["points_valid"] = out["points"][:k], out["points_valid"][:k]
            example["trace"], example["trace_valid"] = out["points"][k:], out["points_valid"][k:]
        if "time" in self.targets:
            example["annotation_time"] = torch.tensor(0.0 if math.isnan(seconds) else seconds)
            example["annotation_time_valid"] = torch.tensor(not math.isnan(seconds))
        return example


#: target -> (its validity mask, whether it is a point in normalised image coordinates)
_CHECKED_TARGETS = {"points": ("points_valid", True), "trace": ("trace_valid", True),
                    "annotation_time": ("annotation_time_valid", False)}


def with_stored_images(dataset: Any) -> Any:
    """``dataset`` with its ``image`` column left as stored (``{"bytes", "path"}``): the built-in
    training transform decodes JPEGs itself, faster and at reduced size when its crop allows
    (see :class:`~luab_hf.transforms.RandomResizedCropFlip`); any other transform decodes them
    as ``datasets`` would."""
    import datasets

    return dataset.cast_column("image", datasets.Image(decode=False))


def collate_byproducts(examples: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack examples from :class:`LuabBatchTransform` into a batch for the model.

    Targets marked valid are checked here, on the CPU side of the pipeline (finite; points in
    [0, 1]), so the model's loss never has to look at values and wait for the device. Stacking is
    ``default_collate``'s, which in a loader worker writes the batch straight into shared memory
    (no extra copy of the pixels on their way to the main process).
    """
    if not examples:
        raise ValueError("cannot collate an empty batch")
    encoded = [example["jpeg"] for example in examples] if "jpeg" in examples[0] else None
    batch = default_collate([{k: v for k, v in e.items() if k != "jpeg"} for e in examples] if encoded else list(examples))
    if encoded is not None:  # JPEGs of different lengths, decoded later on the device
        batch["jpeg"] = encoded
    for key, (mask, is_point) in _CHECKED_TARGETS.items():
        if key in batch and mask in batch:
            check_targets(key, batch[key], batch[mask], is_point)
    return batch


def check_targets(name: str, targets: torch.Tensor, valid: torch.Tensor, is_point: bool) -> None:
    """Refuse valid targets that are not finite, or points outside [0, 1], naming the example."""
    values = targets if targets.dim() == valid.dim() else targets.flatten(valid.dim())
    good = torch.isfinite(values)
    if is_point:
        good &= (values >= 0) & (values <= 1)
    if good.dim() > valid.dim():
        good = good.all(-1)
    bad = valid.to(torch.bool) & ~good
    if bad.any():
        example = int(bad.flatten(1).any(1).nonzero()[0]) if bad.dim() > 1 else int(bad.nonzero()[0])
        rule = "finite and in [0, 1] (normalised image coordinates)" if is_point else "finite"
        raise ValueError(f"`{name}` marked valid must be {rule}; example {example} of the batch is not")
