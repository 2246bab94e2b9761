"""Checked conversions of raw strings and JSON values, shared by both release parsers."""

from __future__ import annotations

import math
from typing import Any, TypedDict

from ._errors import ByproductError


def to_float(value: Any, source: str, field: str) -> float:
    """A finite float, or a ByproductError naming the field."""
    if isinstance(value, bool) or value is None:
        raise ByproductError(source, f"{field} is {value!r}, expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ByproductError(source, f"{field} is {value!r}, expected a number") from None
    if not math.isfinite(number):
        raise ByproductError(source, f"{field} is {value!r}, expected a finite number")
    return number


def to_int(value: Any, source: str, field: str) -> int:
    """An integer; accepts "12" and "12.0" (the tool writes both) but not 12.5."""
    number = to_float(value, source, field)
    if not number.is_integer():
        raise ByproductError(source, f"{field} is {value!r}, expected a whole number")
    return int(number)


def to_time(value: Any, source: str, field: str) -> float:
    """A time in milliseconds: finite and not negative."""
    number = to_float(value, source, field)
    if number < 0:
        raise ByproductError(source, f"{field} is {value!r}, expected a time >= 0")
    return number


def to_unit(value: Any, source: str, field: str) -> float:
    """A coordinate normalised to the image: finite and within [0, 1]."""
    number = to_float(value, source, field)
    if not 0.0 <= number <= 1.0:
        raise ByproductError(source, f"{field} is {value!r}, expected a coordinate in [0, 1]")
    return number


def to_bool(value: Any, source: str, field: str) -> bool:
    """The tool's booleans: True/False strings in XML, true/false in JSON."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ByproductError(source, f"{field} is {value!r}, expected True or False")


class TracePoint(TypedDict):
    """One mouse-trace sample of either release: when, and where the pointer was."""

    time_ms: float
    x: float
    y: float


def to_trace_point(time: Any, x: Any, y: Any, source: str, names: tuple[str, str, str]) -> TracePoint:
    """A mouse-trace sample from its raw values (``None`` when missing); ``names`` name the three
    fields in errors. The pointer may leave the image, so x and y are finite but not bounded.

    Traces are most of a record's values, so the common case takes a fast path; any doubt falls
    back to the checked conversions, which name what is wrong.
    """
    if not (isinstance(time, bool) or isinstance(x, bool) or isinstance(y, bool)):
        try:
            time_ms, fx, fy = float(time), float(x), float(y)
            if time_ms >= 0 and math.isfinite(time_ms) and math.isfinite(fx) and math.isfinite(fy):
                return TracePoint(time_ms=time_ms, x=fx, y=fy)
        except (TypeError, ValueError):
            pass
    for value, name in zip((time, x, y), names):
        if value is None:
            raise ByproductError(source, f"missing {name}")
    return TracePoint(time_ms=to_time(time, source, names[0]), x=to_float(x, source, names[1]),
                      y=to_float(y, source, names[2]))
