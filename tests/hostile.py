"""Seeded mutations of the inputs a user downloads, for the hostile-input tests.

Each generator takes a ``random.Random`` and returns one damaged input built from a valid one:
byte flips, truncations, repeated or dropped pieces, and edits aimed at each format's weak spots
(a tar header re-checksummed after the edit, so the reader gets past the checksum; pax records
with odd lengths; JSON nested deep, with huge numbers or lone surrogates). ``LUAB_HOSTILE_CASES``
multiplies how many of each the suite runs (1 by default: a few thousand in ~30 s).
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import tarfile

#: How many times the default number of mutated inputs the tests run.
SCALE = max(1, int(os.environ.get("LUAB_HOSTILE_CASES", "1")))


# --------------------------------------------------------------------------- tar


def _add(tar: tarfile.TarFile, name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = "",
         pax: dict[str, str] | None = None) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    if pax:
        info.pax_headers = pax
    tar.addfile(info, io.BytesIO(data) if data else None)


def tar_seeds() -> list[bytes]:
    """Valid archives of each format with what the release and odd writers put in them."""
    seeds = []
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
            _add(tar, "train_xml", kind=tarfile.DIRTYPE)
            _add(tar, "train_xml/n01440764/n01440764_1.xml", b"<annotation>" + b"x" * 700 + b"</annotation>")
            _add(tar, "train_xml/n01/" + "deep/" * 25 + "n01_2.xml", b"<a/>")  # the ustar prefix field
            if fmt != tarfile.USTAR_FORMAT:
                _add(tar, "train_xml/n01440764/" + "long_" * 40 + ".xml", b"<b/>")  # beyond 255 bytes
                _add(tar, "train_xml/ünïcode.xml", b"<c/>")
            _add(tar, "train_xml/empty.xml")
            _add(tar, "train_xml/hard.xml", kind=tarfile.LNKTYPE, link="train_xml/n01440764/n01440764_1.xml")
            _add(tar, "train_xml/soft.xml", kind=tarfile.SYMTYPE, link="../elsewhere.xml")
            _add(tar, "train_xml/exactly_512.xml", bytes(range(256)) * 2)
            if fmt == tarfile.PAX_FORMAT:
                _add(tar, "train_xml/with_pax.xml", b"<d/>", pax={"comment": "x" * 50, "path": "train_xml/renamed.xml"})
        seeds.append(buffer.getvalue())
    return seeds


def _checksummed(header: bytearray) -> bytearray:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return header


def pax_header(records: bytes, kind: bytes = b"x", name: bytes = b"././@PaxHeader") -> bytes:
    """A pax header block (``x`` or global ``g``) holding ``records`` as they are, padded."""
    header = bytearray(512)
    header[:len(name)] = name
    header[100:108] = b"0000644\0"
    header[124:136] = b"%011o\0" % len(records)
    header[156:157] = kind
    header[257:265] = b"ustar\x0000"
    return bytes(_checksummed(header)) + records + bytes(-len(records) % 512)


def pax_record(keyword: str, value: str) -> bytes:
    """A well-formed pax record: ``<length> <keyword>=<value>\n``, the length counting itself."""
    body = f" {keyword}={value}\n".encode()
    digits = 1
    while len(str(len(body) + digits)) != digits:
        digits += 1
    return str(len(body) + digits).encode() + body


def _headers(data: bytes) -> list[int]:
    """Offsets of the blocks that pass for headers (a ustar magic)."""
    return [offset for offset in range(0, len(data) - 511, 512) if data[offset + 257:offset + 262] == b"ustar"]


def mutate_tar(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        headers = _headers(bytes(data))
        if choice < 0.45 and headers:  # edit a header field, then fix its checksum (mostly)
            offset = rng.choice(headers)
            header = bytearray(data[offset:offset + 512])
            field = rng.choice([(0, 100), (100, 108), (124, 136), (136, 148), (156, 157), (157, 257), (345, 500),
                                (329, 345)])
            position = rng.randrange(*field)
            header[position] = rng.choice([0, 0x20, 0x2F, 0x30, 0x37, 0x38, 0x80, 0xFF, ord("L"), ord("x"),
                                           ord("g"), ord("K"), ord("S"), ord("5"), rng.randrange(256)])
            if rng.random() < 0.85:
                _checksummed(header)
            data[offset:offset + 512] = header
        elif choice < 0.6:  # a crafted pax header before a member
            records = rng.choice([
                b"0 path=a\n", b"-5 path=a\n", b"3 path=a\n", b"12 size=abc\n", b"11 size=-5\n", b"12 size=1_0\n",
                b"12 path=new\n", b"13 path=gdir/\n", b"16 linkpath=lnk\n", b"9 size=7\n", b"22 GNU.sparse.size=10\n",
                b"12 path=new" + b"\0" * 20, b"99999999999999999999999 path=a\n", b"12 path=new\nrubbish",
            ])
            kind = b"g" if rng.random() < 0.3 else b"x"
            position = rng.choice(headers or [0])
            data[position:position] = pax_header(records, kind)
        elif choice < 0.7:  # a GNU long name / link before a member
            name = rng.choice([b"gnu/long/name.xml", b"", b"dir/", "ünï".encode() + b"\xff"])
            header = bytearray(512)
            header[:13] = b"././@LongLink"
            header[124:136] = b"%011o\0" % (len(name) + 1)
            header[156:157] = rng.choice([b"L", b"K"])
            header[257:265] = b"ustar  \0"
            block = bytes(_checksummed(header)) + name + b"\0" + bytes(-(len(name) + 1) % 512)
            position = rng.choice(headers or [0])
            data[position:position] = block
        elif choice < 0.8:  # truncate
            del data[rng.randrange(len(data) + 1):]
        elif choice < 0.9:  # repeat or drop a block
            offset = rng.randrange(0, max(1, len(data) // 512)) * 512
            if rng.random() < 0.5:
                data[offset:offset] = data[offset:offset + 512]
            else:
                del data[offset:offset + 512]
        else:  # flip a random byte anywhere
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def tarfile_members(data: bytes) -> list[tuple[str, bytes, int, str, bytes]] | Exception:
    """What ``tarfile`` hands over (the reference), or the exception it raised."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|", ignore_zeros=True) as tar:
            members = []
            for member in tar:
                handle = tar.extractfile(member) if member.isreg() else None
                kind = b"0" if member.type == tarfile.AREGTYPE else member.type
                members.append((member.name, kind, member.size, member.linkname, handle.read() if handle else b""))
            return members
    except Exception as error:  # the reference may fail in any way; that is its business
        return error


# --------------------------------------------------------------------------- JSON


def mutate_json(rng: random.Random, text: str) -> str:
    """A damaged JSON text: cut, characters changed, or a value replaced by something hostile."""
    chars = list(text)
    choice = rng.random()
    hostile = [
        "1" * 5000, "-" + "9" * 30, "1e400", "NaN", "-Infinity", '"A\\ud800B"', '"\\udc00"', '"\\ud83d\\ude00"',
        "[" * 3000 + "]" * 3000, '{"a":' * 2000 + "1" + "}" * 2000, '"' + "x" * 3000 + '"', "tru", "nul", '"\\x"',
        "1.5", '"12"', "-0", "0.0", "true", "{}", "[]", '"\\u00e9"', "\"\u0000\"",
    ]
    if choice < 0.4:  # a value token replaced by a hostile one
        starts = [i for i, c in enumerate(chars) if c in "0123456789-\"tfn[{"]
        if starts:
            start = rng.choice(starts)
            end = start + 1
            while end < len(chars) and chars[end] not in ",]}:":
                end += 1
            chars[start:end] = rng.choice(hostile)
    elif choice < 0.55:  # a key replaced
        starts = [i for i, c in enumerate(chars) if c == '"' and i + 1 < len(chars)]
        if starts:
            start = rng.choice(starts)
            chars[start:start] = '"\\ud800key": 1, ' if rng.random() < 0.5 else '"dup": 1, "dup": 2, '
    elif choice < 0.7:
        del chars[rng.randrange(len(chars) + 1):]
    elif choice < 0.85:
        for _ in range(rng.randint(1, 4)):
            if chars:
                chars[rng.randrange(len(chars))] = rng.choice(list('{}[],:"\\ 0a\u00e9\x00') + ["\n"])
    else:
        position = rng.randrange(len(chars) + 1)
        chars[position:position] = rng.choice(hostile)
    return "".join(chars)


def json_values(text: str) -> object | Exception:
    """``json.loads`` (the reference) with its depth and integer-length limits raised, so that a
    document is refused only for its syntax; or the exception it raised."""
    depth, digits = sys.getrecursionlimit(), sys.get_int_max_str_digits()
    sys.setrecursionlimit(20_000)
    sys.set_int_max_str_digits(0)
    try:
        return json.loads(text)
    except Exception as error:  # the reference may fail in any way; that is its business
        return error
    finally:
        sys.setrecursionlimit(depth)
        sys.set_int_max_str_digits(digits)
