"""Checked conversions of raw strings and JSON values, shared by both release parsers."""

from __future__ import annotations

import math
from typing import Any

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
