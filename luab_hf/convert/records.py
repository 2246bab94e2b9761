"""Bad records: stop at the first, or count and list each with its reason. Never drop silently."""

from __future__ import annotations

import json
from pathlib import Path

from ..byproducts import ByproductError


class ConversionError(Exception):
    """A conversion that cannot finish; the message names the file or record at fault."""


class SkipLog:
    """Bad records: by default the first one stops the conversion; with ``skip_invalid`` each is
    counted with its reason and listed in ``skipped.jsonl`` and the card. Never dropped silently."""

    def __init__(self, skip_invalid: bool) -> None:
        self.skip_invalid = skip_invalid
        self.entries: list[tuple[str, str]] = []

    def add(self, source: str, reason: str) -> None:
        if not self.skip_invalid:
            raise ConversionError(f"{source}: {reason}\n(pass --skip-invalid to skip and count bad records instead)")
        self.entries.append((source, reason))

    def add_error(self, error: ByproductError) -> None:
        self.add(error.source, error.reason)

    def write(self, folder: Path) -> None:
        if self.entries:
            with (folder / "skipped.jsonl").open("w") as handle:
                for source, reason in self.entries:
                    handle.write(json.dumps({"source": source, "reason": reason}) + "\n")
