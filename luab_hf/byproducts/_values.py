"""Checked conversions of raw strings and JSON values, shared by both release parsers."""

from __future__ import annotations

import math
import re
from typing import Any, TypedDict

from ._errors import ByproductError

_WHOLE_TEXT = re.compile(r"\s*([+-]?)(\d+)(?:\.0*)?\s*", re.ASCII)


#: Digits of the longest integer any column holds (int64 and uint64 take at most 20).
_MAX_DIGITS = 20


def _shown(value: Any) -> str:
    """A value as an error message shows it: its repr, cut short (a hostile value may be megabytes)."""
    text = repr(value)
    return text if len(text) <= 48 else f"{text[:40]}... ({len(text):,} characters)"


#: The largest finite float32: a value beyond it would be stored as infinity.
FLOAT32_MAX = 3.4028234663852886e38
#: Integers a float represents exactly; JSON readers hand larger ones back as floats.
_EXACT_FLOAT_INT = 2**53


def to_float(value: Any, source: str, field: str) -> float:
    """A finite float that fits its float32 column, or a ByproductError naming the field. Text must
    be a plain ASCII number: no ``_`` separators, no other scripts' digits."""
    if isinstance(value, bool) or value is None:
        raise ByproductError(source, f"{field} is {_shown(value)}, expected a number")
    if isinstance(value, str) and (not value.isascii() or "_" in value):
        raise ByproductError(source, f"{field} is {_shown(value)}, expected a number")
    try:
        number = float(value)
    except OverflowError:  # an integer past every float
        raise ByproductError(source, f"{field} is {_shown(value)}, beyond the float32 range of its column") from None
    except (TypeError, ValueError):
        raise ByproductError(source, f"{field} is {_shown(value)}, expected a number") from None
    if not math.isfinite(number):
        raise ByproductError(source, f"{field} is {_shown(value)}, expected a finite number")
    if abs(number) > FLOAT32_MAX:
        raise ByproductError(source, f"{field} is {_shown(value)}, beyond the float32 range of its column")
    return number


def _whole(value: Any, source: str, field: str, expected: str) -> int:
    """An exact integer from text (ASCII digits, an optional ``.0``) or JSON, never via float."""
    if isinstance(value, bool) or value is None:
        raise ByproductError(source, f"{field} is {_shown(value)}, expected {expected}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not (math.isfinite(value) and value.is_integer()):
            raise ByproductError(source, f"{field} is {_shown(value)}, expected {expected}")
        return int(value)
    match = _WHOLE_TEXT.fullmatch(str(value))
    if match is None:
        raise ByproductError(source, f"{field} is {_shown(value)}, expected {expected}")
    digits = match.group(2).lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:  # past every column (and never handed to int(): 5,000 digits raise there)
        raise ByproductError(source, f"{field} is {_shown(value)}, beyond the int64 range of any integer column")
    return int(digits) * (-1 if match.group(1) == "-" else 1)


def to_int(value: Any, source: str, field: str, bits: int = 32, minimum: int | None = None) -> int:
    """An integer of a ``bits``-wide column, never through ``float``: ``"12"`` and ``"12.0"`` (the
    tool writes both) or a JSON integer; not 12.5, ``"2.0486e4"`` or a float past 2**53 (where
    floats stop telling integers apart)."""
    if isinstance(value, float) and abs(value) > _EXACT_FLOAT_INT:
        raise ByproductError(source, f"{field} is {_shown(value)}, expected a whole number")
    number = _whole(value, source, field, "a whole number")
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if not low <= number <= high:
        raise ByproductError(source, f"{field} is {_shown(value)}, beyond the int{bits} range of its column")
    if minimum is not None and number < minimum:
        raise ByproductError(source, f"{field} is {_shown(value)}, expected {minimum} or more")
    return number


#: Times are int64 milliseconds (the ImageNet tool stamps 13-digit ``Date.now()`` epoch times).
INT64_MAX = 2**63 - 1


def to_time(value: Any, source: str, field: str) -> int:
    """Milliseconds as an exact integer >= 0 (never through float32: epoch milliseconds need 41
    bits). Integral decimals such as ``1687.0`` are accepted; fractions are not."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 18:  # the common case
        return int(value)
    number = _whole(value, source, field, "whole milliseconds")
    if number < 0:
        raise ByproductError(source, f"{field} is {_shown(value)}, expected a time >= 0")
    if number > INT64_MAX:
        raise ByproductError(source, f"{field} is {_shown(value)}, beyond the int64 range of a time column")
    return number


def to_unit(value: Any, source: str, field: str) -> float:
    """A coordinate normalised to the image: finite and within [0, 1]."""
    number = to_float(value, source, field)
    if not 0.0 <= number <= 1.0:
        raise ByproductError(source, f"{field} is {_shown(value)}, expected a coordinate in [0, 1]")
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
    raise ByproductError(source, f"{field} is {_shown(value)}, expected True or False")


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
    if whole and _plain_number(x) and _plain_number(y):
        try:
            time_ms, fx, fy = int(time), float(x), float(y)
            if time_ms <= INT64_MAX and abs(fx) <= FLOAT32_MAX and abs(fy) <= FLOAT32_MAX:  # NaN fails too
                return TracePoint(time_ms=time_ms, x=fx, y=fy)
        except (TypeError, ValueError, OverflowError):
            pass
    for value, name in zip((time, x, y), names):
        if value is None:
            raise ByproductError(source, f"missing {name}")
    return TracePoint(time_ms=to_time(time, source, names[0]), x=to_float(x, source, names[1]),
                      y=to_float(y, source, names[2]))


def _plain_number(value: Any) -> bool:
    """A value ``float()`` may read as :func:`to_float` would: a number, or ASCII text without ``_``."""
    if type(value) is str:
        return value.isascii() and "_" not in value
    return type(value) in (int, float)


def plain_trace(times: list[str | None], xs: list[str | None], ys: list[str | None]) -> list[TracePoint] | None:
    """A whole trace from the texts of its points' fields, when every value is the common case of
    :func:`to_trace_point` (ASCII digit times that fit int64; ASCII coordinates without ``_``,
    finite, within float32): the same points, converted in bulk. None when any value needs the
    checked, point-by-point conversion (which then names it)."""
    if not times:
        return []
    try:
        digits, coordinates = "".join(times), "".join(xs) + "".join(ys)
    except TypeError:  # an empty element (None)
        return None
    if not (digits.isascii() and digits.isdigit() and coordinates.isascii()) or "_" in coordinates:
        return None
    if max(map(len, times)) > 18:  # maybe past int64
        return None
    try:
        fx, fy = list(map(float, xs)), list(map(float, ys))
    except ValueError:
        return None
    if not all(abs(value) <= FLOAT32_MAX for value in fx + fy):  # NaN fails too
        return None
    return [TracePoint(time_ms=t, x=x, y=y) for t, x, y in zip(map(int, times), fx, fy)]
