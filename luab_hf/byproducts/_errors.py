"""The one error type every parser raises, so callers can name the bad file or record."""

from __future__ import annotations


class ByproductError(ValueError):
    """A raw byproduct record that cannot be read.

    ``source`` names the file (or ``file#record-index``) and ``reason`` says what is wrong, so a
    converter can either stop with a message a person can act on or count the record as skipped.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
