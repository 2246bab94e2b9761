"""Reading an ImageNet-AB release: its tarball as a stream, or its ``train_xml/`` folder, file by
file, without unpacking; each XML as its name and bytes (or path) for :mod:`.imagenet_ab` to parse.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from ._errors import ByproductError
from .imagenet_ab import read_xml_file
from .tarstream import (
    DIRECTORY,
    HARD_LINK,
    REGULAR,
    SYMBOLIC_LINK,
    Member,
    TarFormatError,
    iter_members,
)

#: The largest XML file or tarball member read (real ones are a few KB): a bigger one is a record
#: error, never read into memory.
DEFAULT_MAX_RECORD_BYTES = 16 << 20

#: What a release yields per XML: its bytes (tarball), its path (folder, read by the parser), or
#: the reason it cannot be read (too large, a link, not a regular file), counted as a skip.
Source = bytes | str | ByproductError


def iter_imagenet_ab_files(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[tuple[str, bytes]]:
    """Yield ``(name, xml_bytes)`` for every XML of a release, without unpacking it.

    ``path`` is the release tarball (read as a stream, member by member), a folder holding
    ``train_xml/``, or that ``train_xml/`` folder itself (walked in sorted order). ``name`` is the
    path inside the release, e.g. ``train_xml/n02490219/n02490219_6469.xml``, so the same file has
    the same name whichever way it is read. An XML that cannot be read raises its ByproductError.
    """
    for name, source in iter_imagenet_ab_sources(path, max_bytes):
        if isinstance(source, ByproductError):
            raise source
        yield name, source if isinstance(source, bytes) else read_xml_file(source, name)


def iter_imagenet_ab_sources(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[tuple[str, Source]]:
    """Like :func:`iter_imagenet_ab_files`, but a folder's files come as paths, unread (parallel
    parsers then read them themselves instead of funnelling every byte through one process), and
    an XML that cannot be read comes as its ByproductError, so a converter counts it."""
    path = Path(path)
    if path.is_dir():
        yield from _iter_folder(path, max_bytes)
    elif path.is_file():
        yield from _iter_tarball(path, max_bytes)
    else:
        raise ByproductError(str(path), "no such file or folder")


def _iter_folder(path: Path, max_bytes: int) -> Iterator[tuple[str, Source]]:
    root = path / "train_xml" if (path / "train_xml").is_dir() else path
    found = False
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        with os.scandir(class_dir) as entries:  # one stat per file, no Path objects: ~1.3M files
            files = sorted((entry for entry in entries if entry.name.endswith(".xml")), key=lambda e: e.name)
        for entry in files:
            found = True
            name = f"train_xml/{class_dir.name}/{entry.name}"
            if not entry.is_file():
                yield name, ByproductError(name, "not a regular file")
            elif (size := entry.stat().st_size) > max_bytes:
                yield name, ByproductError(name, f"file of {size:,} bytes is above --max-record-bytes {max_bytes:,}")
            else:
                yield name, entry.path
    if not found:
        raise ByproductError(str(path), "no train_xml/<wnid>/*.xml files found")


def tarball_members(path: Path, max_bytes: int = DEFAULT_MAX_RECORD_BYTES, read: bool = True) -> Iterator[Member]:
    """The members of a release tarball, as a stream (:mod:`.tarstream`): every gzip member of a
    concatenated stream and every archive of concatenated archives. Only ``.xml`` members up to
    ``max_bytes`` are read (when ``read``); the rest are skipped unread. An extended header or
    long name above ``max_bytes`` stops the reading."""
    with path.open("rb") as raw:
        yield from iter_members(raw, lambda name, kind, size: read and size <= max_bytes and name.endswith(".xml"),
                                max_header_bytes=max_bytes)


def _iter_tarball(path: Path, max_bytes: int) -> Iterator[tuple[str, Source]]:
    found = False
    try:
        for member in tarball_members(path, max_bytes):
            if not member.name.endswith(".xml") or member.type == DIRECTORY:
                continue
            name = member.name.removeprefix("./")
            found = True
            if member.type in (HARD_LINK, SYMBOLIC_LINK):
                kind = "hard" if member.type == HARD_LINK else "symbolic"
                yield name, ByproductError(name, f"a {kind} link in the tarball (to {member.linkname}): links are "
                                                 "not followed")
            elif member.type != REGULAR:
                yield name, ByproductError(name, "not a regular file in the tarball")
            elif member.size > max_bytes:  # never read: the stream skips its data
                yield name, ByproductError(name, f"member of {member.size:,} bytes is above --max-record-bytes "
                                                 f"{max_bytes:,}")
            else:
                yield name, member.data
    except (TarFormatError, OSError) as error:
        raise ByproductError(str(path), f"unreadable or truncated tarball ({error})") from None
    if not found:
        raise ByproductError(str(path), "no .xml files in the tarball")
