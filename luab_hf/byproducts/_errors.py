"""The one error type every parser raises, so callers can name the bad file or record."""

from __future__ import annotations


class ByproductError(ValueError):
    """A raw byproduct record that cannot be read.

    ``source`` names the file (or ``file#record-index``) and ``reason`` says what is wrong, so a
    converter can either stop with a message a person can act on or count the record as skipped.
    """

    #: A reason longer than this is cut in the middle: it may quote a hostile value of megabytes.
    MAX_REASON = 500

    def __init__(self, source: str, reason: str) -> None:
        if len(reason) > self.MAX_REASON:
            reason = f"{reason[:300]} [... {len(reason) - 450:,} characters ...] {reason[-150:]}"
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
