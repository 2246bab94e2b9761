"""The bad-input corpus: every case, how to make it, and what must happen.

Each case damages a copy of a small clean synthetic release (or builds a bad model input) and
states the expected outcome:

- ``works``: the conversion succeeds and keeps every record (greyscale, CMYK images);
- ``skip``: stops with a message naming the file or record; with ``--skip-invalid`` it is
  counted in ``skipped.jsonl`` and the card, and rows + skipped = input records;
- ``fatal``: stops with such a message even with ``--skip-invalid`` (the input itself is broken);
- ``error``: a model/config case that raises a clear ``ValueError``/``OSError``.

In every failing conversion no output folder and no staging folder may be left behind.
``python -m tests.corpus RELIABILITY.md`` reruns the corpus and rewrites the table there.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.errors import StrictDataclassError
from PIL import Image

from luab_hf import synthetic
from luab_hf.byproducts.jsonstream import iter_array
from luab_hf.convert import coco_ab, imagenet_ab
from tests.hostile import pax_header


@dataclass(frozen=True)
class Case:
    name: str
    release: str  # "imagenet", "coco" or "model"
    expect: str  # works | skip | fatal | error
    damage: Callable[[Path], object]
    message: str  # a substring of the error / skip reason
    names: str = ""  # a substring the message must contain to name the file or record
    label_set: str = "present"  # ImageNet-AB cases: the converter's --label-set


# --------------------------------------------------------------------------- damage helpers


def _xmls(release: Path) -> list[Path]:
    return sorted((release / "train_xml").rglob("*.xml"))


def _jpegs(release: Path) -> list[Path]:
    return sorted((release / "train").rglob("*.JPEG"))


def _rewrite_xml(index: int, edit: Callable[[str], str]) -> Callable[[Path], None]:
    def damage(release: Path) -> None:
        path = _xmls(release)[index]
        path.write_text(edit(path.read_text()))
    return damage


def _replace_click(field: str, value: str) -> Callable[[Path], None]:
    """Set ``field`` of the first selected click of the first XML that has one."""
    def damage(release: Path) -> None:
        for path in _xmls(release):
            text = path.read_text()
            if "<selectedRecord>" in text:
                record = re.search(r"<selectedRecord>.*?</selectedRecord>", text).group(0)
                changed = re.sub(fr"<{field}>[^<]*</{field}>", f"<{field}>{value}</{field}>", record, count=1)
                path.write_text(text.replace(record, changed, 1))
                return
        raise AssertionError("no selected click in the release")
    return damage


def _replace_first(tag: str, value: str) -> Callable[[str], str]:
    return lambda text: re.sub(fr"<{tag}>[^<]*</{tag}>", f"<{tag}>{value}</{tag}>", text, count=1)


def _convert_image(index: int, mode: str) -> Callable[[Path], None]:
    def damage(release: Path) -> None:
        path = _jpegs(release)[index]
        Image.open(path).convert(mode).save(path, format="JPEG")
    return damage


def _tarball(release: Path, cut: bool = False, duplicate: bool = False) -> None:
    archive = release / "imagenet_ab_v1_0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in _xmls(release):
            tar.add(path, arcname=str(path.relative_to(release)))
        if duplicate:
            first = _xmls(release)[0]
            tar.add(first, arcname=f"again/{first.relative_to(release)}")
    if cut:
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    shutil.rmtree(release / "train_xml")


def _tarball_with(release: Path, huge: bool = False, link: str = "", concatenated: bool = False,
                  pax: bytes = b"") -> None:
    """The release as a .tar.gz holding one odd member: a huge XML, a link in place of an XML, a
    crafted pax header (``pax``: its records, as they are) before the first XML, or written as
    two gzip-compressed archives one after the other."""
    if pax:
        _tarball(release)
        archive = release / "imagenet_ab_v1_0.tar.gz"
        # the archive's first member is the first XML: the pax header goes before it
        archive.write_bytes(gzip.compress(pax_header(pax) + gzip.decompress(archive.read_bytes())))
        return
    archive = release / "imagenet_ab_v1_0.tar.gz"
    xmls = _xmls(release)
    parts = [xmls[: len(xmls) // 2], xmls[len(xmls) // 2:]] if concatenated else [xmls]
    with archive.open("wb") as raw:
        for part in parts:
            with tarfile.open(fileobj=raw, mode="w:gz") as tar:
                for path in part:
                    name = str(path.relative_to(release))
                    if path == xmls[0] and huge:
                        data = path.read_bytes().replace(b"</annotation>", b" " * (17 << 20) + b"</annotation>")
                        info = tarfile.TarInfo(name)
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
                    elif path == xmls[0] and link:
                        info = tarfile.TarInfo(name)
                        info.type = tarfile.LNKTYPE if link == "hard" else tarfile.SYMTYPE
                        info.linkname = str(xmls[1].relative_to(release))
                        tar.addfile(info)
                    else:
                        tar.add(path, arcname=name)
    shutil.rmtree(release / "train_xml")


def _bomb(path: Path) -> None:
    """A small PNG whose header declares 100,000 x 100,000 pixels, saved under the JPEG's name."""
    import struct
    import zlib

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + header
    png = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
           + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))
    path.write_bytes(png)


def _rotate_exif(path: Path) -> None:
    image = Image.open(path)
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(path, format="JPEG", exif=exif)


def _coco_edit(edit: Callable[[list], object]) -> Callable[[Path], None]:
    def damage(release: Path) -> None:
        path = release / "coco_ab_v1_0.json"
        records = json.loads(path.read_text())
        edit(records)
        path.write_text(json.dumps(records))
    return damage


def _first_action(records: list, **changes: object) -> None:
    records[1]["actionHistories"][0].update(changes)


def _prepend_action(records: list, action: dict) -> None:
    records[1]["actionHistories"].insert(0, action)


def _rewrite(path: Path, edit: Callable[[str], str]) -> None:
    path.write_text(edit(path.read_text()))


def _coco_text(edit: Callable[[str], str]) -> Callable[[Path], None]:
    """Edit the COCO-AB JSON as text: for what ``json.dumps`` cannot write (lone surrogates, ...)."""
    return lambda release: _rewrite(release / "coco_ab_v1_0.json", edit)


def _nth_record_edit(text: str, index: int, prefix: str) -> str:
    """``text`` (a JSON array of records, one per line as ``_coco_edit`` writes them) with the
    ``index``-th record's opening brace replaced by ``prefix`` (which opens it again)."""
    records = json.loads(text)
    lines = [json.dumps(record) for record in records]
    lines[index] = prefix + lines[index][1:]
    return "[" + ",\n".join(lines) + "]"


def _truncate(path_in_release: str, keep: float) -> Callable[[Path], None]:
    def damage(release: Path) -> None:
        path = release / path_in_release
        text = path.read_bytes()
        path.write_bytes(text[: int(len(text) * keep)])
    return damage


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
                  + ']><annotation><filename>&lol9;</filename></annotation>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
                   "<annotation><filename>&secret;</filename></annotation>")


def _unknown_backbone(_: Path) -> object:
    from luab_hf import LuabConfig

    return LuabConfig(backbone_config={"model_type": "bert"})


def _unknown_timm(_: Path) -> object:
    from luab_hf import create_luab_model

    return create_luab_model("convnext_does_not_exist", num_labels=2)


def _missing_weights(folder: Path) -> object:
    from transformers import AutoModelForImageClassification

    from luab_hf import create_luab_model

    create_luab_model("vit-micro", num_labels=2).save_pretrained(folder / "checkpoint")
    (folder / "checkpoint" / "model.safetensors").unlink()
    return AutoModelForImageClassification.from_pretrained(folder / "checkpoint")


def _pickle_weights(folder: Path) -> object:
    from luab_hf import create_luab_model

    return create_luab_model("test_resnet", num_labels=2, timm_weights=folder / "resnet.pth")


CASES: list[Case] = [
    # ImageNet-AB XML
    Case("truncated XML", "imagenet", "skip", _rewrite_xml(0, lambda t: t[: len(t) // 2]), "malformed XML", "train_xml/"),
    Case("not XML at all", "imagenet", "skip", _rewrite_xml(0, lambda t: "hello, world"), "malformed XML", "train_xml/"),
    Case("empty XML file", "imagenet", "skip", _rewrite_xml(0, lambda t: ""), "malformed XML", "train_xml/"),
    Case("wrong root element", "imagenet", "skip", _rewrite_xml(0, lambda t: t.replace("annotation>", "record>")),
         "root element is <record>", "train_xml/"),
    Case("missing <selected>", "imagenet", "skip", _rewrite_xml(0, lambda t: re.sub(r"<selected>[^<]*</selected>", "", t, count=1)),
         "missing <selected>", "train_xml/"),
    Case("selected without selectedRecord", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"<selectedRecord>.*?</selectedRecord>", "", t.replace("<selected>False", "<selected>True"), flags=re.S)),
         "no <selectedRecord>", "train_xml/"),
    Case("selectedRecord without x", "imagenet", "skip", lambda r: _rewrite_selected_field(r, "x"), "has no <x>", "train_xml/"),
    Case("selectedRecord without time", "imagenet", "skip", lambda r: _rewrite_selected_field(r, "time"), "has no <time>", "train_xml/"),
    Case("non-numeric click x", "imagenet", "skip", _replace_click("x", "left"), "expected a number", "train_xml/"),
    Case("NaN click x", "imagenet", "skip", _replace_click("x", "nan"), "finite", "train_xml/"),
    Case("infinite click y", "imagenet", "skip", _replace_click("y", "inf"), "finite", "train_xml/"),
    Case("click x above 1", "imagenet", "skip", _replace_click("x", "1.5"), "in [0, 1]", "train_xml/"),
    Case("click y below 0", "imagenet", "skip", _replace_click("y", "-0.1"), "in [0, 1]", "train_xml/"),
    Case("negative click time", "imagenet", "skip", _replace_click("time", "-5"), "time >= 0", "train_xml/"),
    Case("negative estimateTime", "imagenet", "skip", _rewrite_xml(0, _replace_first("estimateTime", "-3")), "estimateTime", "train_xml/"),
    Case("negative hover time", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"(<hoveredRecord><action>\w+</action><time>)[^<]*", r"\g<1>-1", t, count=1)),
         "time >= 0", "train_xml/"),
    Case("non-numeric mouse x", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"(<mouseTracking><time>[^<]*</time><x>)[^<]*", r"\g<1>abc", t, count=1)),
         "expected a number", "train_xml/"),
    Case("NaN in mouse trace", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"(<mouseTracking><time>[^<]*</time><x>[^<]*</x><y>)[^<]*", r"\g<1>NaN", t, count=1)),
         "finite", "train_xml/"),
    Case("selected is neither True nor False", "imagenet", "skip", _rewrite_xml(0, _replace_first("selected", "maybe")),
         "expected True or False", "train_xml/"),
    Case("fractional selectedCount", "imagenet", "skip", _rewrite_xml(0, _replace_first("selectedCount", "1.5")),
         "whole number", "train_xml/"),
    Case("missing <filename>", "imagenet", "skip", _rewrite_xml(0, lambda t: re.sub(r"<filename>[^<]*</filename>", "", t)),
         "missing <filename>", "train_xml/"),
    Case("filename differs from the file name", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"<filename>(n\d+)_\d+</filename>", r"<filename>\1_999999</filename>", t)),
         "does not match the file name", "train_xml/"),
    Case("folder differs from the wnid", "imagenet", "skip", _rewrite_xml(0, _replace_first("folder", "n09999999")),
         "does not match filename", "train_xml/"),
    Case("billion laughs (entity expansion)", "imagenet", "skip", _rewrite_xml(0, lambda t: BILLION_LAUGHS), "DTD", "train_xml/"),
    Case("external entity", "imagenet", "skip", _rewrite_xml(0, lambda t: EXTERNAL_ENTITY), "DTD", "train_xml/"),
    Case("duplicate image id (tarball)", "imagenet", "skip", lambda r: _tarball(r, duplicate=True), "duplicate image_id", "train_xml/"),
    Case("truncated .tar.gz", "imagenet", "fatal", lambda r: _tarball(r, cut=True), "truncated tarball", ".tar.gz"),
    Case("17 MiB XML file", "imagenet", "skip", _rewrite_xml(0, lambda t: t.replace("</annotation>", " " * (17 << 20) + "</annotation>")),
         "above --max-record-bytes", "train_xml/"),
    Case("17 MiB tarball member", "imagenet", "skip", lambda r: _tarball_with(r, huge=True), "above --max-record-bytes",
         "train_xml/"),
    Case("hard-link member in the tarball", "imagenet", "skip", lambda r: _tarball_with(r, link="hard"), "hard link",
         "train_xml/"),
    Case("symbolic-link member in the tarball", "imagenet", "skip", lambda r: _tarball_with(r, link="symbolic"),
         "symbolic link", "train_xml/"),
    Case("two concatenated .tar.gz archives", "imagenet", "works", lambda r: _tarball_with(r, concatenated=True), ""),
    Case("64 unclosed start tags (193 bytes)", "imagenet", "skip", _rewrite_xml(0, lambda t: "<a>" * 64 + "\n"),
         "malformed XML", "train_xml/"),
    Case("5,000-digit integer in the XML", "imagenet", "skip", _rewrite_xml(0, _replace_first("selectedCount", "9" * 5000)),
         "beyond the int64 range", "train_xml/"),
    Case("5,000-digit trace time", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"(<mouseTracking><time>)[^<]*", r"\g<1>" + "1" * 5000, t, count=1)),
         "beyond the int64 range", "train_xml/"),
    Case("pax header record of length 0 (tarball)", "imagenet", "fatal", lambda r: _tarball_with(r, pax=b"0 path=a\n"),
         "length 0 does not end it", ".tar.gz"),
    Case("pax header record of negative length (tarball)", "imagenet", "fatal", lambda r: _tarball_with(r, pax=b"-5 path=a\n"),
         "malformed pax header record", ".tar.gz"),
    Case("pax size that is not a number (tarball)", "imagenet", "fatal", lambda r: _tarball_with(r, pax=b"12 size=abc\n"),
         "is not a whole number", ".tar.gz"),
    Case("pax size -5 (tarball)", "imagenet", "fatal", lambda r: _tarball_with(r, pax=b"11 size=-5\n"),
         "is not a whole number", ".tar.gz"),
    Case("pax size 1_0 (tarball)", "imagenet", "fatal", lambda r: _tarball_with(r, pax=b"12 size=1_0\n"),
         "is not a whole number", ".tar.gz"),
    Case("XML whose image is missing", "imagenet", "skip", lambda r: _jpegs(r)[0].unlink(), "image file is missing", "train_xml/"),
    Case("image without XML", "imagenet", "skip", lambda r: _xmls(r)[0].unlink(), "image without XML", ".JPEG"),
    Case("corrupt JPEG", "imagenet", "skip", lambda r: _jpegs(r)[1].write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64),
         "corrupt or unreadable image", "train_xml/"),
    Case("truncated JPEG", "imagenet", "skip", lambda r: _jpegs(r)[2].write_bytes(_jpegs(r)[2].read_bytes()[:300]),
         "corrupt or unreadable image", "train_xml/"),
    Case("zero-size image file", "imagenet", "skip", lambda r: _jpegs(r)[1].write_bytes(b""), "empty (0 bytes)", "train_xml/"),
    Case("greyscale JPEG", "imagenet", "works", _convert_image(0, "L"), ""),
    Case("image declaring 100,000 x 100,000 pixels (decompression bomb)", "imagenet", "skip", lambda r: _bomb(_jpegs(r)[0]),
         "too large to decode safely", "train_xml/"),
    Case("EXIF-rotated JPEG", "imagenet", "works", lambda r: _rotate_exif(_jpegs(r)[0]), ""),
    Case("CMYK JPEG", "imagenet", "works", _convert_image(1, "CMYK"), ""),
    Case("wnid outside ImageNet-1K", "imagenet", "skip", lambda r: _move_to_class(r, "n00000001"),
         "not in the label set", "train_xml/n00000001", label_set="imagenet-1k"),
    Case("selectedCount past int32", "imagenet", "skip", _rewrite_xml(0, _replace_first("selectedCount", "3000000000")),
         "beyond the int32 range", "train_xml/"),
    Case("selectedCount in exponent form", "imagenet", "skip", _rewrite_xml(0, _replace_first("selectedCount", "1e20")),
         "expected a whole number", "train_xml/"),
    Case("negative selectedCount", "imagenet", "skip", _rewrite_xml(0, _replace_first("selectedCount", "-7")),
         "expected 0 or more", "train_xml/"),
    Case("trace x beyond float32", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"(<mouseTracking><time>[^<]*</time><x>)[^<]*", r"\g<1>1e300", t, count=1)),
         "float32 range", "train_xml/"),
    Case("time beyond int64", "imagenet", "skip",
         _rewrite_xml(0, lambda t: re.sub(r"(<mouseTracking><time>)[^<]*", r"\g<1>1e300", t, count=1)),
         "expected whole milliseconds", "train_xml/"),
    Case("number with an underscore", "imagenet", "skip", _replace_click("x", "0.2_5"), "expected a number", "train_xml/"),
    Case("Arabic-Indic digits", "imagenet", "skip", _replace_click("x", "\u0660.\u0665"), "expected a number", "train_xml/"),
    Case("full-width digits", "imagenet", "skip", _replace_click("x", "\uff10.\uff15"), "expected a number", "train_xml/"),
    Case("external entity in UTF-16", "imagenet", "skip",
         lambda r: _xmls(r)[0].write_bytes(EXTERNAL_ENTITY.replace('version="1.0"', 'version="1.0" encoding="UTF-16"')
                                           .encode("utf-16")), "DTD", "train_xml/"),
    Case("a non-wnid folder beside the classes (--label-set present)", "imagenet", "works", lambda r: _stray_folder(r), ""),
    Case("an image path that is a FIFO", "imagenet", "skip", lambda r: _fifo_for(_jpegs(r)[0]), "not a regular file",
         "train_xml/"),
    # COCO-AB JSON
    Case("JSON truncated mid-array", "coco", "fatal", _truncate("coco_ab_v1_0.json", 0.6), "truncated JSON", "coco_ab_v1_0.json"),
    Case("JSON object instead of array", "coco", "fatal",
         lambda r: (r / "coco_ab_v1_0.json").write_text('{"records": []}'), "JSON array", "coco_ab_v1_0.json"),
    Case("unknown actionType", "coco", "skip", _coco_edit(lambda rs: _first_action(rs, actionType="rotate")),
         "unknown actionType", "coco_ab_v1_0.json#1"),
    Case("unknown iconType", "coco", "skip", _coco_edit(lambda rs: _first_action(rs, iconType="unicorn")),
         "unknown COCO category", "coco_ab_v1_0.json#1"),
    Case("move of an icon never added", "coco", "skip",
         _coco_edit(lambda rs: _prepend_action(rs, {"actionType": "move", "iconType": "kite", "pointFrom": {"x": 0.1, "y": 0.1},
                                                    "pointTo": {"x": 0.2, "y": 0.2}, "timeAt": 0})), "never added", "coco_ab_v1_0.json#1"),
    Case("remove of an icon never added", "coco", "skip",
         _coco_edit(lambda rs: _prepend_action(rs, {"actionType": "remove", "iconType": "kite", "pointFrom": None,
                                                    "pointTo": None, "timeAt": 0})), "never added", "coco_ab_v1_0.json#1"),
    Case("NaN literal in the JSON (invalid JSON)", "coco", "skip",
         _coco_edit(lambda rs: _first_action(rs, pointTo={"x": float("nan"), "y": 0.5})),
         "NaN, which is not JSON", "coco_ab_v1_0.json#1"),
    Case("lone surrogate in a string", "coco", "skip", _coco_text(lambda t: _nth_record_edit(t, 1, '{"note": "A\\ud800B", ')),
         "lone surrogate", "coco_ab_v1_0.json#1"),
    Case("lone surrogate in a key", "coco", "skip", _coco_text(lambda t: _nth_record_edit(t, 1, '{"\\udc00k": 1, ')),
         "lone surrogate", "coco_ab_v1_0.json#1"),
    Case("5,000-digit integer in the JSON", "coco", "skip", _coco_text(lambda t: _nth_record_edit(t, 1, '{"page_id": ' + "7" * 5000 + ", ")),
         "an integer of 5,000 digits", "coco_ab_v1_0.json#1"),
    Case("record nested 100,000 deep", "coco", "skip", _coco_text(lambda t: _nth_record_edit(t, 1, '{"extra": ' + "[" * 100_000 + "]" * 100_000 + ", ")),
         "nested too deeply", "coco_ab_v1_0.json#1"),
    Case("instances file nested 100,000 deep", "coco", "fatal",
         lambda r: _rewrite(r / "annotations" / "instances_train2014.json",
                            lambda t: t.replace('"images": [', '"images": [' + "[" * 100_000 + "]" * 100_000 + ", ", 1)),
         "nested too deeply", "instances_train2014.json"),
    Case("NaN icon position as a string", "coco", "skip", _coco_edit(lambda rs: _first_action(rs, pointTo={"x": "NaN", "y": 0.5})),
         "finite", "coco_ab_v1_0.json#1"),
    Case("icon position out of range", "coco", "skip", _coco_edit(lambda rs: _first_action(rs, pointTo={"x": 0.5, "y": 1.7})),
         "in [0, 1]", "coco_ab_v1_0.json#1"),
    Case("negative action time", "coco", "skip", _coco_edit(lambda rs: _first_action(rs, timeAt=-100)), "time >= 0", "coco_ab_v1_0.json#1"),
    Case("non-numeric image_id", "coco", "skip", _coco_edit(lambda rs: rs[1].update(image_id="abc")), "image_id", "coco_ab_v1_0.json#1"),
    Case("record that is not an object", "coco", "skip", _coco_edit(lambda rs: rs.insert(1, 42)), "expected an object", "coco_ab_v1_0.json#1"),
    Case("duplicate COCO image_id", "coco", "skip", _coco_edit(lambda rs: rs.append(dict(rs[0]))), "duplicate image_id", "coco_ab_v1_0.json#"),
    Case("COCO record whose image is missing", "coco", "skip", lambda r: sorted((r / "train2014").iterdir())[0].unlink(),
         "image file is missing", "coco_ab_v1_0.json#"),
    Case("image_id absent from instances", "coco", "skip", _coco_edit(lambda rs: rs[1].update(image_id=987654321)),
         "not in the --instances file", "coco_ab_v1_0.json#1"),
    Case("page_id past int32", "coco", "skip", _coco_edit(lambda rs: rs[1].update(page_id=3_000_000_000)),
         "beyond the int32 range", "coco_ab_v1_0.json#1"),
    Case("categoryIndex past int32", "coco", "skip",
         _coco_edit(lambda rs: rs[1]["categoryHistories"][0].update(categoryIndex=3_000_000_000)),
         "beyond the int32 range", "coco_ab_v1_0.json#1"),
    Case("image_id above 2^53 written as a float", "coco", "skip", _coco_edit(lambda rs: rs[1].update(image_id=2.0**60)),
         "expected a whole number", "coco_ab_v1_0.json#1"),
    Case("image_id in exponent form", "coco", "skip", _coco_edit(lambda rs: rs[1].update(image_id="2.0486e4")),
         "expected a whole number", "coco_ab_v1_0.json#1"),
    Case("iconType that is a list", "coco", "skip", _coco_edit(lambda rs: _first_action(rs, iconType=["cat"])),
         "unknown COCO category", "coco_ab_v1_0.json#1"),
    Case("timeAt beyond int64", "coco", "skip", _coco_edit(lambda rs: _first_action(rs, timeAt=1e300)),
         "beyond the int64 range", "coco_ab_v1_0.json#1"),
    Case("unknown key nested 5,000 deep", "coco", "skip", lambda r: _deep_key(r), "nested too deeply", "coco_ab_v1_0.json#1"),
    Case("JSON starting with a byte-order mark", "coco", "works",
         lambda r: (r / "coco_ab_v1_0.json").write_bytes(b"\xef\xbb\xbf" + (r / "coco_ab_v1_0.json").read_bytes()), ""),
    Case("JSON after 10 KB of whitespace", "coco", "works",
         lambda r: (r / "coco_ab_v1_0.json").write_bytes(b" \n" * 5000 + (r / "coco_ab_v1_0.json").read_bytes()), ""),
    Case("a 17 MiB string in the JSON", "coco", "fatal",
         _coco_edit(lambda rs: rs[1].update(note="x" * (17 << 20))), "longer than --max-record-bytes", "coco_ab_v1_0.json#1"),
    Case("truncated instances file", "coco", "fatal", _truncate("annotations/instances_train2014.json", 0.5),
         "truncated JSON", "instances_train2014.json"),
    # models and checkpoints
    Case("config with an unknown backbone type", "model", "error", _unknown_backbone, "unknown backbone type 'bert'"),
    Case("unknown timm model name", "model", "error", _unknown_timm, "unknown backbone 'convnext_does_not_exist'"),
    Case("checkpoint folder without weights", "model", "error", _missing_weights, "model.safetensors", "checkpoint"),
    Case("pickle timm weights", "model", "error", _pickle_weights, "only .safetensors", "resnet.pth"),
]


def _stray_folder(release: Path) -> None:
    """A folder that is no wnid (a user's ``ds/``) holding one of the XML files."""
    xml = _xmls(release)[0]
    (release / "train_xml" / "ds").mkdir()
    xml.rename(release / "train_xml" / "ds" / xml.name)


def _fifo_for(path: Path) -> None:
    """Replace a file by a named pipe: reading it would block forever."""
    path.unlink()
    os.mkfifo(path)


def _deep_key(release: Path) -> None:
    path = release / "coco_ab_v1_0.json"
    records = json.loads(path.read_text())
    text = json.dumps(records[1])[:-1] + ', "extra": ' + "[" * 5000 + "]" * 5000 + "}"
    path.write_text("[" + ", ".join([json.dumps(records[0]), text, *map(json.dumps, records[2:])]) + "]")


def _move_to_class(release: Path, wnid: str) -> None:
    """Move the first image and its XML to class ``wnid``, consistently."""
    xml, image = _xmls(release)[0], _jpegs(release)[0]
    old_id = xml.stem
    new_id = old_id.replace(xml.parent.name, wnid)
    (release / "train_xml" / wnid).mkdir()
    (release / "train" / wnid).mkdir()
    (release / "train_xml" / wnid / f"{new_id}.xml").write_text(xml.read_text().replace(xml.parent.name, wnid))
    image.rename(release / "train" / wnid / f"{new_id}.JPEG")
    xml.unlink()


def _rewrite_selected_field(release: Path, field: str) -> None:
    """Remove ``field`` from the first selected click."""
    for path in _xmls(release):
        text = path.read_text()
        if "<selectedRecord>" in text:
            path.write_text(re.sub(fr"(<selectedRecord>.*?)<{field}>[^<]*</{field}>", r"\1", text, count=1, flags=re.S))
            return
    raise AssertionError("no selected click in the release")


# --------------------------------------------------------------------------- clean releases


def clean_releases(root: Path) -> dict[str, Path]:
    """Small clean releases to damage: ImageNet-AB (2 classes x 4) and COCO-AB (5 records)."""
    imagenet = synthetic.write_imagenet_ab(root / "imagenet", classes=2, images_per_class=4, seed=7, val_per_class=1,
                                           style=synthetic.Style(image_size=32, unselected_rate=0.0))
    coco = synthetic.write_coco_ab(root / "coco", images=5, seed=7, classes=3, val_images=1,
                                   style=synthetic.Style(image_size=32))
    return {"imagenet": imagenet, "coco": coco}


# --------------------------------------------------------------------------- running a case


def _convert(case: Case, release: Path, output: Path, *extra: str) -> tuple[int, str]:
    if case.release == "imagenet":
        archive = release / "imagenet_ab_v1_0.tar.gz"
        xml = archive if archive.exists() else release
        argv = ["--xml", str(xml), "--images", str(release), "--output", str(output), "--num-workers", "1",
                "--label-set", case.label_set]
        main = imagenet_ab.main
    else:
        argv = ["--json", str(release / "coco_ab_v1_0.json"), "--images", str(release / "train2014"),
                "--instances", str(release / "annotations" / "instances_train2014.json"),
                "--output", str(output), "--num-workers", "1"]
        main = coco_ab.main
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main([*argv, *extra])
    return code, stderr.getvalue()


def _input_records(release_kind: str, release: Path) -> int:
    if release_kind == "coco":  # streamed: a record may be nested deeper than json.loads allows
        with (release / "coco_ab_v1_0.json").open("rb") as handle:
            return sum(1 for _ in iter_array(handle))
    return len(_xmls(release)) if (release / "train_xml").exists() else 0


def _card_numbers(output: Path) -> tuple[int, int, int]:
    card = (output / "README.md").read_text()
    found = re.search(r"Input records: (\d+); skipped: (\d+); train rows: (\d+)", card)
    return int(found.group(1)), int(found.group(2)), int(found.group(3))


def run_case(case: Case, clean: dict[str, Path], workdir: Path) -> dict:
    """Make the bad input, run it, check every expectation; returns what was observed."""
    workdir.mkdir(parents=True, exist_ok=True)
    if case.release == "model":
        try:
            case.damage(workdir)
        except (ValueError, OSError, StrictDataclassError) as error:
            text = str(error)
            assert case.message in text, f"{case.name}: {text!r} lacks {case.message!r}"
            assert case.names in text, f"{case.name}: {text!r} does not name {case.names!r}"
            return {"case": case.name, "expect": case.expect, "outcome": f"{type(error).__name__}: {_short(text)}", "lost": 0}
        raise AssertionError(f"{case.name}: no error raised")

    release = Path(shutil.copytree(clean[case.release], workdir / "release"))
    case.damage(release)
    output = workdir / f"out-{case.name.replace(' ', '_')}"
    code, error = _convert(case, release, output)
    if case.expect == "works":
        assert code == 0, f"{case.name}: {error}"
        total, skipped, rows = _card_numbers(output)
        assert skipped == 0 and rows == total, f"{case.name}: {rows} rows of {total}"
        return {"case": case.name, "expect": "works", "outcome": f"converted, {rows}/{total} rows", "lost": 0}

    assert code == 1, f"{case.name}: exit {code}, expected 1"
    assert case.message in error and case.names in error, f"{case.name}: unclear message {error!r}"
    assert not output.exists() and not list(output.parent.glob(f".{output.name}.tmp-*")), f"{case.name}: output left"
    outcome = f"stops: {_short(error)}"
    lost = 0
    code_skip, error_skip = _convert(case, release, output, "--skip-invalid")
    if case.expect == "fatal":
        assert code_skip == 1 and case.message in error_skip and not output.exists(), f"{case.name}: {error_skip}"
        return {"case": case.name, "expect": "fatal", "outcome": outcome + " (also with --skip-invalid)", "lost": 0}
    assert code_skip == 0, f"{case.name}: {error_skip}"
    total, skipped, rows = _card_numbers(output)
    listed = [json.loads(line) for line in (output / "skipped.jsonl").read_text().splitlines()]
    assert skipped == len(listed) >= 1 and any(case.message in s["reason"] for s in listed), f"{case.name}: {listed}"
    lost = total - rows - skipped
    assert lost == 0, f"{case.name}: {lost} records unaccounted for"
    expected_total = _input_records(case.release, release) + (1 if case.name == "image without XML" else 0)
    if case.release == "coco" or (release / "train_xml").exists():
        assert total == expected_total, f"{case.name}: card says {total} inputs, there are {expected_total}"
    return {"case": case.name, "expect": "skip", "outcome": outcome + f"; --skip-invalid: {rows} rows + {skipped} skipped = {total}",
            "lost": lost}


def _short(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    line = next((line for line in lines if line.startswith("error: ")), lines[0] if lines else "")
    line = line.removeprefix("error: ")
    line = re.sub(r"/\S*/(release|out-[^/ ]*|checkpoint)", r"…/\1", line)
    return (line[:150] + "…") if len(line) > 150 else line


def write_report(path: Path) -> None:
    """Rerun every case and rewrite the corpus table in ``path`` (RELIABILITY.md)."""
    with tempfile.TemporaryDirectory() as tmp:
        clean = clean_releases(Path(tmp) / "clean")
        rows = [run_case(case, clean, Path(tmp) / f"case{i}") for i, case in enumerate(CASES)]
    table = ["| # | case | expected | outcome | records lost |", "|---|---|---|---|---|"]
    table += [f"| {i + 1} | {r['case']} | {r['expect']} | {r['outcome'].replace('|', '/')} | {r['lost']} |"
              for i, r in enumerate(rows)]
    figures = (f"Cases tried: **{len(rows)}**; outcome as expected: **{len(rows)}**; "
               f"records lost: **{sum(r['lost'] for r in rows)}**.")
    text = path.read_text()
    start, end = "<!-- corpus:start -->", "<!-- corpus:end -->"
    before, rest = text.split(start)
    _, after = rest.split(end)
    path.write_text(f"{before}{start}\n{figures}\n\n" + "\n".join(table) + f"\n{end}{after}")


if __name__ == "__main__":
    import sys

    write_report(Path(sys.argv[1] if len(sys.argv) > 1 else "RELIABILITY.md"))
