"""COCO-AB: one JSON array of per-image records of an icon-dragging annotation tool.

Workers drag category icons onto a COCO-2014 train image; the tool logs every ``add``, ``move``
and ``remove``. :func:`replay_points` turns that log into where each category's icon finally
stands. The file is read as a stream (:func:`iter_coco_ab_json`), never loaded whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, TypedDict

from ..labels import COCO_CATEGORY_NAMES_91, COCO_CLASS_INDEX
from ._errors import ByproductError
from ._values import TracePoint, to_bool, to_int, to_time, to_trace_point, to_unit
from .jsonstream import BadEntry, JsonStreamError, ValueTooLong, iter_array

#: ``final``: replay add/move/remove in time order (the icons as the worker left them).
#: ``add-only``: the published loader's reading (only ``add``, walked in file order: a later add
#: of a category *in the list* wins, whatever the times say).
PointReading = Literal["final", "add-only"]
POINT_READINGS: tuple[str, ...] = ("final", "add-only")


class XY(TypedDict):
    x: float
    y: float


class Point(TypedDict):
    category: int
    x: float
    y: float


class Action(TypedDict):
    action: str
    category: str
    point_from: XY | None
    point_to: XY | None
    time_ms: int


class CategoryClick(TypedDict):
    category_index: int
    category_name: str
    time_ms: int
    using_keyboard: bool | None


class CocoABRecord(TypedDict):
    image_id: int
    points: list[Point]
    actions: list[Action]
    category_history: list[CategoryClick]
    mouse_trace: list[TracePoint]
    time_spent_ms: int | None
    worker_id: str | None
    hit_id: str | None
    page_id: int | None
    image_width: int | None
    image_height: int | None
    original_image_width: int | None
    original_image_height: int | None
    raw: str | None


_ACTIONS = ("add", "move", "remove")
COCO_NAMES = frozenset(COCO_CATEGORY_NAMES_91)
_KNOWN_KEYS = {
    "image_id", "imageHeight", "imageWidth", "originalImageHeight", "originalImageWidth",
    "worker_id", "hit_id", "page_id", "timeSpent", "actionHistories", "categoryHistories",
    "mouseTracking",
}  # fmt: skip


def parse_coco_ab_record(
    record: Any, source: str, reading: PointReading = "final"
) -> CocoABRecord:
    """Check and type one COCO-AB record; ``source`` names it in errors (``file#index``)."""
    if not isinstance(record, dict):
        raise ByproductError(source, f"record is {type(record).__name__}, expected an object")
    if "image_id" not in record:
        raise ByproductError(source, "missing image_id")
    image_id = to_int(record["image_id"], source, "image_id", bits=64, minimum=0)
    source = f"{source} (image_id {image_id})"
    actions = [_action(a, f"{source} actionHistories[{i}]") for i, a in enumerate(_list(record, "actionHistories", source))]
    history = [_category_click(c, f"{source} categoryHistories[{i}]") for i, c in enumerate(_list(record, "categoryHistories", source))]
    trace = [_trace_point(p, f"{source} mouseTracking[{i}]") for i, p in enumerate(_list(record, "mouseTracking", source))]
    unknown = {k: v for k, v in record.items() if k not in _KNOWN_KEYS}
    time_spent = _optional(record, "timeSpent", source, to_int)
    if time_spent is not None and time_spent < 0:
        raise ByproductError(source, f"timeSpent is {time_spent}, expected a time >= 0")
    return CocoABRecord(
        image_id=image_id,
        points=replay_points(actions, reading, source),
        actions=actions,
        category_history=history,
        mouse_trace=trace,
        time_spent_ms=time_spent,
        worker_id=_optional(record, "worker_id", source, _string),
        hit_id=_optional(record, "hit_id", source, _string),
        page_id=_optional(record, "page_id", source, _size),
        image_width=_optional(record, "imageWidth", source, _size),
        image_height=_optional(record, "imageHeight", source, _size),
        original_image_width=_optional(record, "originalImageWidth", source, _size),
        original_image_height=_optional(record, "originalImageHeight", source, _size),
        raw=_raw(unknown, source),
    )


def replay_points(actions: list[Action], reading: PointReading, source: str) -> list[Point]:
    """Where each category's icon stands after the worker's actions, sorted by class index.

    Icons of COCO's 91 names outside the 80 classes (``street sign``, ...) are no target, as in
    the published loader; they stay in the record's ``actions``.
    """
    if reading not in POINT_READINGS:
        raise ValueError(f"reading must be one of {POINT_READINGS}, got {reading!r}")
    placed: dict[int, XY] = {}
    ordered = actions if reading == "add-only" else sorted(actions, key=lambda a: a["time_ms"])
    for action in ordered:
        category = COCO_CLASS_INDEX.get(action["category"])
        if category is None:
            continue
        kind = action["action"]
        if kind == "add":
            placed[category] = action["point_to"]  # type: ignore[assignment]
        elif reading == "add-only":
            continue
        elif category not in placed:
            raise ByproductError(
                source, f"{kind} of a {action['category']!r} icon at {action['time_ms']} ms that was never added"
            )
        elif kind == "move":
            placed[category] = action["point_to"]  # type: ignore[assignment]
        else:
            del placed[category]
    return [Point(category=c, x=p["x"], y=p["y"]) for c, p in sorted(placed.items())]


def _list(record: dict, key: str, source: str) -> list:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ByproductError(source, f"{key} is {type(value).__name__}, expected a list")
    return value


def _object(value: Any, source: str) -> dict:
    if not isinstance(value, dict):
        raise ByproductError(source, f"entry is {type(value).__name__}, expected an object")
    return value


def _field(entry: dict, key: str, source: str) -> Any:
    if key not in entry:
        raise ByproductError(source, f"missing {key}")
    return entry[key]


def _optional(record: dict, key: str, source: str, convert) -> Any:
    value = record.get(key)
    return None if value is None else convert(value, source, key)


def _size(value: Any, source: str, key: str) -> int:
    return to_int(value, source, key, minimum=0)


def _raw(unknown: dict, source: str) -> str | None:
    """Unknown keys as JSON text; a structure too deep to write is the record's fault, named."""
    if not unknown:
        return None
    try:
        return json.dumps(unknown, sort_keys=True, default=str)
    except RecursionError:
        raise ByproductError(source, f"unknown keys {sorted(unknown)[:3]} hold values nested too deeply to keep") from None


def _string(value: Any, source: str, key: str) -> str:
    return str(value)


def _xy(value: Any, source: str, key: str) -> XY | None:
    if value is None:
        return None
    value = _object(value, f"{source} {key}")
    return XY(
        x=to_unit(_field(value, "x", source), source, f"{key}.x"),
        y=to_unit(_field(value, "y", source), source, f"{key}.y"),
    )


def _action(entry: Any, source: str) -> Action:
    entry = _object(entry, source)
    kind = _field(entry, "actionType", source)
    if kind not in _ACTIONS:
        raise ByproductError(source, f"unknown actionType {kind!r}, expected one of {_ACTIONS}")
    category = _field(entry, "iconType", source)
    if not isinstance(category, str) or category not in COCO_NAMES:
        raise ByproductError(source, f"unknown COCO category {category!r} in iconType (not one of COCO's 91 names)")
    point_to = _xy(entry.get("pointTo"), source, "pointTo")
    if point_to is None and kind != "remove":
        raise ByproductError(source, f"{kind} action without pointTo")
    return Action(
        action=kind,
        category=category,
        point_from=_xy(entry.get("pointFrom"), source, "pointFrom"),
        point_to=point_to,
        time_ms=to_time(_field(entry, "timeAt", source), source, "timeAt"),
    )


def _category_click(entry: Any, source: str) -> CategoryClick:
    entry = _object(entry, source)
    keyboard = entry.get("usingKeyboard")
    return CategoryClick(
        category_index=to_int(_field(entry, "categoryIndex", source), source, "categoryIndex", minimum=0),
        category_name=str(_field(entry, "categoryName", source)),
        time_ms=to_time(_field(entry, "timeAt", source), source, "timeAt"),
        using_keyboard=None if keyboard is None else to_bool(keyboard, source, "usingKeyboard"),
    )


def _trace_point(entry: Any, source: str) -> TracePoint:
    entry = _object(entry, source)
    return to_trace_point(entry.get("timeAt"), entry.get("x"), entry.get("y"), source, ("timeAt", "x", "y"))


def iter_coco_ab_json(path: str | os.PathLike, max_record_bytes: int = 16 << 20
                      ) -> Iterator[tuple[str, Any | ByproductError]]:
    """Yield ``(source, record)`` for each element of the release's top-level array, streamed
    (:mod:`.jsonstream`): memory stays at one record whatever the file size. ``source`` is
    ``file#index``.

    A record that is JSON but no value a row can hold (a lone surrogate, an integer of thousands of
    digits, ``NaN``, nesting too deep to decode) comes as its :class:`ByproductError`, for the
    converter to count. A file that is not a JSON array, that ends mid-array or is malformed, or
    that holds a record longer than ``max_record_bytes`` (real ones are a few KB) raises
    :class:`ByproductError` after the records before the damage were yielded.
    """
    path = Path(path)
    index = -1
    try:
        with path.open("rb") as handle:
            for index, record in iter_array(handle, max_record_bytes):
                source = f"{path}#{index}"
                yield source, ByproductError(source, f"unreadable record: {record.reason}") if isinstance(
                    record, BadEntry) else record
    except ValueTooLong:
        raise ByproductError(f"{path}#{index + 1}", f"record longer than --max-record-bytes {max_record_bytes:,} "
                                                    "(a runaway value?); the rest of the file cannot be read") from None
    except JsonStreamError as error:
        raise ByproductError(str(path), f"malformed or truncated JSON after record {index} ({error})") from None
    except OSError as error:
        raise ByproductError(str(path), f"cannot read file ({error.strerror})") from None
