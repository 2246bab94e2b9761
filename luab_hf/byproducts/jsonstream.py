"""One pass over a large JSON object, an array entry at a time, with the standard library's C decoder.

COCO instances files are one object whose ``images``, ``annotations`` and ``categories`` arrays
hold ~700k entries (330 MB). ``json.load`` holds it all (~2.6 GB); reading each wanted array with
its own streaming parser reads the file once per array. Here the top-level object is walked by
hand, each entry of a wanted array decoded with ``json.JSONDecoder.raw_decode`` from a sliding
buffer (about 10x faster than per-event parsing) and every other value decoded and dropped, so
memory holds one entry and the buffer.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any, BinaryIO

_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"
_CHUNK = 1 << 20


class JsonStreamError(ValueError):
    """The JSON is malformed or truncated; the message says where (an entry, or a byte offset)."""


class _Buffer:
    def __init__(self, handle: BinaryIO, max_value_bytes: int) -> None:
        self.handle = handle
        self.max_value_bytes = max_value_bytes
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.consumed = 0  # characters dropped from the front of ``text``
        self.eof = False

    def fill(self) -> bool:
        """Read more (at least as much as is buffered, so a value read again and again stays
        linear); False at the end of the file."""
        if self.eof:
            return False
        data = self.handle.read(max(_CHUNK, len(self.text) - self.pos))
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

    def value(self, where: str) -> Any:
        """The next value, however many reads it spans."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                # Cut off by the buffer's end (within a literal's length of it, or inside a string,
                # which reports where it starts): read on. Anywhere else the JSON itself is wrong.
                cut = len(self.text) - error.pos < 16 or error.msg.startswith("Unterminated string")
                if cut and len(self.text) - self.pos <= self.max_value_bytes and self.fill():
                    continue
                if cut and not self.eof:
                    raise JsonStreamError(f"{where}: a value of more than {self.max_value_bytes:,} characters") from None
                raise JsonStreamError(f"{where}: {error.msg} (character {self.consumed + error.pos:,})") from None
            # a number near the buffer's end may go on ("12" of "12.5e3"): read on, decode again
            if len(self.text) - end < 16 and self.fill():
                continue
            self.pos = end
            return value


def iter_object_arrays(handle: BinaryIO, keys: set[str], max_value_bytes: int = 64 << 20) -> Iterator[tuple[str, int, Any]]:
    """``(key, index, entry)`` for every entry of the arrays under ``keys`` in the top-level JSON
    object of ``handle``, in file order; other values are read and dropped. Raises
    :class:`JsonStreamError` naming the entry for malformed or truncated JSON."""
    buffer = _Buffer(handle, max_value_bytes)
    buffer.expect("{", "the start of the file")
    if buffer.peek() == "}":
        buffer.pos += 1
    else:
        while True:
            key = buffer.value("a key of the top-level object")
            if not isinstance(key, str):
                raise JsonStreamError(f"a key of the top-level object is {key!r}, not a string")
            buffer.expect(":", f"after key {key!r}")
            if key in keys and buffer.peek() == "[":
                buffer.pos += 1
                index = 0
                if buffer.peek() == "]":
                    buffer.pos += 1
                else:
                    while True:
                        yield key, index, buffer.value(f"{key}[{index}]")
                        if buffer.expect(",]", f"after {key}[{index}]") == "]":
                            break
                        index += 1
            else:
                buffer.value(f"the value of {key!r}")
            if buffer.expect(",}", f"after the value of {key!r}") == "}":
                break
    if buffer.peek():
        raise JsonStreamError("text after the top-level object")
