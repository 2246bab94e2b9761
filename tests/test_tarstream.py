"""The streaming tar reader against the standard library's ``tarfile``, the independent truth."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from luab_hf.byproducts.tarstream import TarFormatError, iter_members


def _archive(fmt: int) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        def add(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, link, len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)

        add("train_xml", kind=tarfile.DIRTYPE)
        add("train_xml/n01440764/n01440764_1.xml", b"<annotation>" + b"x" * 700 + b"</annotation>")
        add("train_xml/n01440764/" + "long_" * 40 + ".xml", b"<a/>")  # beyond ustar's 100 bytes
        add("train_xml/ünïcode/n01440764_2.xml", b"<b/>")
        add("train_xml/empty.xml")
        add("train_xml/hard.xml", kind=tarfile.LNKTYPE, link="train_xml/n01440764/n01440764_1.xml")
        add("train_xml/soft.xml", kind=tarfile.SYMTYPE, link="../elsewhere.xml")
        add("train_xml/exactly_512.xml", bytes(range(256)) * 2)
    return buffer.getvalue()


def _reference(data: bytes) -> list[tuple[str, bytes, int, str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*", ignore_zeros=True) as tar:
        members = []
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            members.append((member.name, member.type, member.size, member.linkname,
                            handle.read() if handle else b""))
        return members


def _ours(data: bytes) -> list[tuple[str, bytes, int, str, bytes]]:
    return [(m.name, m.type, m.size, m.linkname, m.data or b"")
            for m in iter_members(io.BytesIO(data), lambda name, kind, size: True)]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT],
                         ids=["ustar", "gnu", "pax"])
def test_members_equal_tarfiles_plain_gzipped_and_concatenated(fmt):
    if fmt == tarfile.USTAR_FORMAT:  # ustar cannot hold the long name
        with pytest.raises(ValueError):
            _archive(fmt)
        return
    plain = _archive(fmt)
    assert _ours(plain) == _reference(plain)
    assert _ours(gzip.compress(plain)) == _reference(plain)
    twice = gzip.compress(plain) + gzip.compress(plain)  # a multi-member gzip of two whole archives
    assert _ours(twice) == _reference(plain) * 2


def test_skipped_members_are_never_read():
    data = _archive(tarfile.PAX_FORMAT)
    members = list(iter_members(io.BytesIO(data), lambda name, kind, size: size < 600))
    regular = [m for m in members if m.type == b"0"]
    assert [m.size for m in regular if m.data is None] == [len(b"<annotation>" + b"x" * 700 + b"</annotation>")]
    assert all(m.data is not None for m in regular if m.size < 600)


@pytest.mark.parametrize(("damage", "message"), [
    (lambda data: data[:1024 + 300], "ends inside"),
    (lambda data: data[:700], "ends inside"),
    (lambda data: data[:512] + b"\x01" + data[513:], "bad checksum"),
    (lambda data: b"this is not a tar archive at all" * 40, "bad checksum"),
])
def test_damage_is_named(damage, message):
    data = _archive(tarfile.GNU_FORMAT)
    with pytest.raises(TarFormatError, match=message):
        _ours(damage(data))


def test_a_truncated_gzip_stream_is_named():
    with pytest.raises(TarFormatError, match="gzip stream ends early"):
        _ours(gzip.compress(_archive(tarfile.PAX_FORMAT))[:-200])
