"""One pass over a large JSON document, an array entry at a time, with the standard library's decoder.

COCO instances files are one object whose ``images``, ``annotations`` and ``categories`` arrays
hold ~700k entries (330 MB); the COCO-AB release is one array of ~80k records (398 MB).
``json.load`` would hold either whole (GBs). Here the top level is walked by hand and each entry
decoded by ``json.JSONDecoder.raw_decode`` (the C decoder) from a sliding buffer, so memory holds
one entry and the buffer.

What it guarantees on any input, checked against ``json.loads`` by the suite's mutation tests:

- every entry it hands over equals what ``json.loads`` makes of it; an entry ``json.loads``
  cannot take or that holds what a dataset column cannot (a lone surrogate ``"\\ud800"``, an
  integer of thousands of digits, ``NaN``, nesting past the decoder's depth) comes as a
  :class:`BadEntry` saying why, and the stream reads on past it;
- anything else (malformed or truncated JSON, a value longer than ``max_value_bytes``) raises a
  :class:`JsonStreamError` naming the entry or character where it went wrong;
- memory holds at most about ``max_value_bytes`` of text, and the reader always moves forward.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

_WHITESPACE = " \t\n\r"
_CHUNK = 1 << 20
#: Integers ``int()`` reads by default (Python refuses longer digit strings; no column holds them).
_MAX_INTEGER_DIGITS = 4300


class JsonStreamError(ValueError):
    """The JSON is malformed or truncated; the message says where (an entry, or a character offset)."""


class ValueTooLong(JsonStreamError):
    """A value runs on past ``max_value_bytes``: the rest of the file cannot be read within it."""


@dataclass(frozen=True)
class BadEntry:
    """An entry that is delimited JSON but cannot be taken as a value; ``reason`` says why."""

    reason: str


class _Refused(Exception):
    """Raised by the decoder's hooks for a value no column can hold."""


def _integer(text: str) -> int:
    if len(text) > _MAX_INTEGER_DIGITS:
        raise _Refused(f"an integer of {len(text):,} digits")
    return int(text)


def _constant(text: str) -> float:
    raise _Refused(f"{text}, which is not JSON")


_DECODER = json.JSONDecoder(parse_int=_integer, parse_constant=_constant)
#: The same grammar, no value kept: finds where a refused entry ends, checking its syntax.
_SYNTAX = json.JSONDecoder(parse_int=len, parse_float=len, parse_constant=len)
#: A ``\uD800``-``\uDFFF`` escape: a surrogate, which must pair up to be Unicode.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: One step of :func:`_value_end`: separators, then a whole string, a bracket, or a bare number/literal.
_TOKEN = re.compile(r'[\s,:]*(?:"[^"\\]*(?:\\.[^"\\]*)*"|([\[\]{}])|[^\s,:\[\]{}"]+)', re.S)


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (or key) in ``value`` holds a surrogate that is not part of a pair."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _value_end(text: str, start: int, complete: bool) -> int | None:
    """Where the value at ``start`` ends, by its brackets and whole strings alone (a value the
    decoder refused); None when ``text`` ends first and is not ``complete``. Raises
    :class:`JsonStreamError` where no value can end."""
    depth, position = 0, start
    while True:
        token = _TOKEN.match(text, position)
        if token is None or token.end() == position:  # the end of the text, or inside a string
            if complete:
                raise JsonStreamError(f"malformed JSON (character {position:,}): a value that never ends")
            return None
        position = token.end()
        if (bracket := token.group(1)) is not None:
            depth += 1 if bracket in "[{" else -1
        if depth < 0:
            raise JsonStreamError(f"malformed JSON (character {position:,}): a bracket closes nothing")
        if depth == 0:
            return None if position == len(text) and not complete else position  # a number may go on


class _Buffer:
    def __init__(self, handle: BinaryIO, max_value_bytes: int) -> None:
        self.handle = handle
        self.max_value_bytes = max_value_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8-sig")()  # a byte-order mark is tolerated
        self.text = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of ``text``
        self.eof = False

    def fill(self, at_most: int | None = None) -> bool:
        """Read more (as much as is buffered, so a value read again and again stays linear, but
        at most ``at_most`` bytes); False at the end of the file."""
        if self.eof:
            return False
        size = max(_CHUNK, len(self.text) - self.pos)
        data = self.handle.read(size if at_most is None else max(1, min(size, at_most)))
        self.eof = not data
        try:
            more = self.utf8.decode(data, final=self.eof)
        except UnicodeDecodeError as error:
            raise JsonStreamError(f"not UTF-8 near character {self.consumed + len(self.text):,} ({error.reason})") from None
        self.consumed += self.pos
        self.text = self.text[self.pos:] + more
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not whitespace ("" at the end of the file)."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.fill():
                return ""

    def expect(self, allowed: str, where: str) -> str:
        char = self.peek()
        if not char or char not in allowed:
            found = repr(char) if char else "the end of the file"
            raise JsonStreamError(f"{where}: expected {' or '.join(map(repr, allowed))}, found {found} (truncated?)")
        self.pos += 1
        return char

    def _more_for(self, where: str) -> None:
        """Read on for a value that runs past the buffer, within ``max_value_bytes``."""
        buffered = len(self.text) - self.pos
        if buffered > self.max_value_bytes:
            raise ValueTooLong(f"{where}: a value of more than {self.max_value_bytes:,} characters")
        if not self.fill(at_most=self.max_value_bytes + 1 - buffered):
            raise JsonStreamError(f"{where}: the file ends inside this value (truncated?)")

    def value(self, where: str) -> Any:
        """The next value, however many reads it spans, or a :class:`BadEntry`."""
        self.peek()
        refused = None  # why the decoder refused the value: then only its extent and syntax are read
        while True:
            start = self.pos
            try:
                value, end = (_DECODER if refused is None else _SYNTAX).raw_decode(self.text, start)
            except json.JSONDecodeError as error:
                # Cut off by the buffer's end (within a literal's length of it, or inside a string,
                # which reports where it starts): read on. Anywhere else the JSON itself is wrong.
                cut = len(self.text) - error.pos < 16 or error.msg.startswith("Unterminated string")
                if cut and not self.eof:
                    self._more_for(where)
                    continue
                raise JsonStreamError(f"{where}: {error.msg} (character {self.consumed + error.pos:,})") from None
            except _Refused as error:
                refused = f"it holds {error}"
                continue
            except RecursionError:  # stepped over by its brackets alone: its inside stays unchecked
                return self._step_over(where, "it is nested too deeply to decode")
            # a number near the buffer's end may go on ("12" of "12.5e3"): read on, decode again
            if len(self.text) - end < 16 and not self.eof:
                self._more_for(where)
                continue
            if end - start > self.max_value_bytes:
                raise ValueTooLong(f"{where}: a value of more than {self.max_value_bytes:,} characters")
            self.pos = end
            if refused is not None:
                return BadEntry(refused)
            if _SURROGATE_ESCAPE.search(self.text, start, end) and _has_lone_surrogate(value):
                return BadEntry("it holds a string that is not valid Unicode (a lone surrogate escape such as \\ud800)")
            return value

    def _step_over(self, where: str, reason: str) -> BadEntry:
        while (end := _value_end(self.text, self.pos, self.eof)) is None:
            self._more_for(where)
        self.pos = end
        return BadEntry(reason)


def _array(buffer: _Buffer, name: str) -> Iterator[tuple[int, Any]]:
    """The entries of the array whose ``[`` was just read."""
    if buffer.peek() == "]":
        buffer.pos += 1
        return
    index = 0
    while True:
        yield index, buffer.value(f"{name}[{index}]")
        if buffer.expect(",]", f"after {name}[{index}]") == "]":
            return
        index += 1


def iter_array(handle: BinaryIO, max_value_bytes: int = 64 << 20) -> Iterator[tuple[int, Any]]:
    """``(index, entry)`` for every entry of the top-level JSON array in ``handle``, in order;
    an entry that cannot be taken comes as a :class:`BadEntry`. Raises :class:`JsonStreamError`
    for anything else, after the entries before it were handed over."""
    buffer = _Buffer(handle, max_value_bytes)
    if buffer.peek() != "[":
        raise JsonStreamError("expected a JSON array at the top level" + ("" if buffer.peek() else " (the file is empty)"))
    buffer.pos += 1
    yield from _array(buffer, "record")
    if buffer.peek():
        raise JsonStreamError("text after the top-level array")


def iter_object_arrays(handle: BinaryIO, keys: set[str], max_value_bytes: int = 64 << 20) -> Iterator[tuple[str, int, Any]]:
    """``(key, index, entry)`` for every entry of the arrays under ``keys`` in the top-level JSON
    object of ``handle``, in file order; other values are read and dropped. An entry that cannot
    be taken comes as a :class:`BadEntry`; malformed or truncated JSON raises
    :class:`JsonStreamError` naming the entry."""
    buffer = _Buffer(handle, max_value_bytes)
    buffer.expect("{", "the start of the file")
    if buffer.peek() == "}":
        buffer.pos += 1
    else:
        while True:
            key = buffer.value("a key of the top-level object")
            if not isinstance(key, str):
                raise JsonStreamError(f"a key of the top-level object is {key!r:.60}, not a string")
            buffer.expect(":", f"after key {key!r}")
            if key in keys and buffer.peek() == "[":
                buffer.pos += 1
                for index, entry in _array(buffer, key):
                    yield key, index, entry
            else:
                buffer.value(f"the value of {key!r}")
            if buffer.expect(",}", f"after the value of {key!r}") == "}":
                break
    if buffer.peek():
        raise JsonStreamError("text after the top-level object")
