"""Checked conversions of raw strings and JSON values, shared by both release parsers."""

from __future__ import annotations

import math
import re
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


#: Times are int64 milliseconds (the ImageNet tool stamps 13-digit ``Date.now()`` epoch times).
INT64_MAX = 2**63 - 1
_WHOLE_TEXT = re.compile(r"\s*([+-]?)(\d+)(?:\.0*)?\s*", re.ASCII)


def to_time(value: Any, source: str, field: str) -> int:
    """Milliseconds as an exact integer >= 0 (never through float32: epoch milliseconds need 41
    bits). Integral decimals such as ``1687.0`` are accepted; fractions are not."""
    if isinstance(value, bool) or value is None:
        raise ByproductError(source, f"{field} is {value!r}, expected whole milliseconds")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ByproductError(source, f"{field} is {value!r}, expected whole milliseconds")
        number = int(value)
    else:
        match = _WHOLE_TEXT.fullmatch(str(value))
        if match is None:
            raise ByproductError(source, f"{field} is {value!r}, expected whole milliseconds")
        number = int(match.group(2)) * (-1 if match.group(1) == "-" else 1)
    if number < 0:
        raise ByproductError(source, f"{field} is {value!r}, expected a time >= 0")
    if number > INT64_MAX:
        raise ByproductError(source, f"{field} is {value!r}, beyond the int64 range of a time column")
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

    time_ms: int
    x: float
    y: float


def to_trace_point(time: Any, x: Any, y: Any, source: str, names: tuple[str, str, str]) -> TracePoint:
    """A mouse-trace sample from its raw values (``None`` when missing); ``names`` name the three
    fields in errors. The pointer may leave the image, so x and y are finite but not bounded.

    Traces are most of a record's values, so the common case takes a fast path; any doubt falls
    back to the checked conversions, which name what is wrong.
    """
    whole = type(time) is int or (type(time) is str and time.isascii() and time.isdigit())
    if whole and not (isinstance(x, bool) or isinstance(y, bool)):
        try:
            time_ms, fx, fy = int(time), float(x), float(y)
            if time_ms <= INT64_MAX and math.isfinite(fx) and math.isfinite(fy):
                return TracePoint(time_ms=time_ms, x=fx, y=fy)
        except (TypeError, ValueError):
            pass
    for value, name in zip((time, x, y), names):
        if value is None:
            raise ByproductError(source, f"missing {name}")
    return TracePoint(time_ms=to_time(time, source, names[0]), x=to_float(x, source, names[1]),
                      y=to_float(y, source, names[2]))
