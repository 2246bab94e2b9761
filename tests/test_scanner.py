"""The compiled ImageNet-AB scanner against lxml, the reference: the same row (or the same error)
for every file, and the same Arrow table for a converter's chunk.

Files the scanner reads are checked to be read by it (not silently handed to lxml), and files
outside its grammar to be handed over."""

from __future__ import annotations

import random
import shutil
import sysconfig

import pyarrow as pa
import pytest

from luab_hf.byproducts import ByproductError
from luab_hf.byproducts import imagenet_ab as parser
from luab_hf.convert import imagenet_ab as converter
from luab_hf.convert import synthetic
from luab_hf.convert.pool import _set_job
from luab_hf.convert.shards import worker_schema
from luab_hf.labels import imagenet_classes
from luab_hf.schema import imagenet_ab_features

needs_scanner = pytest.mark.skipif(parser._scan is None, reason="the compiled scanner is not built")

BLOCK = """  <metadata>
    <assignment_id>3K772S5NP8BL0ZQ3TD8WE1D0Q2XEHG</assignment_id>
    <estimateTime>1707</estimateTime>
    <hit_id>3HEA4ZVWVDC8JBJYCY6KZL9P2JW5SE</hit_id>
    <worker_id>A3FQ1RZ5QK9B2M</worker_id>
    <selected>True</selected>
    <selectedCount>1</selectedCount>
    <selectedRecord>
      <x>0.2471</x>
      <y>0.6032</y>
      <time>1668002386805</time>
    </selectedRecord>
    <hoveredRecord><action>enter</action><time>1668002385743</time></hoveredRecord>
    <hoveredRecord><action>leave</action><time>1668002386874</time></hoveredRecord>
    <mouseTracking><time>1668002385743</time><x>0.814</x><y>0.199</y></mouseTracking>
    <mouseTracking><time>1668002385830</time><x>-0.05</x><y>1.25</y></mouseTracking>
    <mouseTracking>
      <time>88.0</time>
      <x>0.412</x>
      <y>0.133</y>
    </mouseTracking>
{extra}  </metadata>
"""


def annotation(block_extra: str = "", root_extra: str = "", blocks: int = 2, head: str = "") -> str:
    """A release-shaped file; ``*_extra`` go inside the first block / at the end of the root."""
    body = "".join(BLOCK.replace("{extra}", block_extra if i == 0 else "") for i in range(blocks))
    return (f"{head}<annotation>\n  <folder>n01440764</folder>\n  <filename>n01440764_10026</filename>\n"
            f"{body}{root_extra}</annotation>\n")


VOC = """  <source><database>ILSVRC_2012</database></source>
  <size><width>500</width><height>375</height><depth>3</depth></size>
  <segmented>0</segmented>
  <object><name>n01440764</name><pose>Unspecified</pose><truncated>0</truncated><difficult>1</difficult>
    <bndbox><xmin>121</xmin><ymin>64.5</ymin><xmax>398</xmax><ymax>341</ymax></bndbox></object>
"""

#: Files inside the scanner's grammar: it must read them itself, to lxml's row.
SCANNED = {
    "plain": annotation(),
    "pascal-voc fields": annotation(root_extra=VOC),
    "unknown leaf elements": annotation("    <hoveredCount>3</hoveredCount>\n    <error></error>\n",
                                        "  <imageLoaded>true</imageLoaded>\n"),
    "unknown nested, repeated": annotation(
        "    <imageInner><x>3</x><x>4</x><y>5</y><deep><a>1</a></deep></imageInner>\n"
        "    <ratioX>0.5</ratioX><ratioX>0.7</ratioX>\n",
        "  <source><database>a</database><annotation>b</annotation></source>\n  <extra><k>v</k></extra>\n"),
    "tool's size fields": annotation("    <imageWidth>451</imageWidth><imageHeight>300</imageHeight>\n"
                                     "    <originalImageWidth>500.0</originalImageWidth>"
                                     "<originalImageHeight>375</originalImageHeight>\n"),
    "imagePosition leaf": annotation("    <imagePosition>12,40</imagePosition>\n"),
    "imagePosition nested": annotation("    <imagePosition><left>12</left><top>40</top><left>3</left></imagePosition>\n"),
    "reordered children": annotation().replace(
        "  <folder>n01440764</folder>\n  <filename>n01440764_10026</filename>\n",
        "  <filename>n01440764_10026.JPEG</filename>\n  <folder>n01440764</folder>\n").replace(
        "<x>0.2471</x>\n      <y>0.6032</y>\n      <time>1668002386805</time>",
        "<time>1668002386805</time><y>0.6032</y><x>0.2471</x>"),
    "records after traces": annotation().replace("    <selectedRecord>", "    <mouseTracking><time>5</time><x>0.1</x>"
                                                 "<y>0.2</y></mouseTracking>\n    <selectedRecord>", 1),
    "select-deselect-select": annotation("    <selectedRecord><x>0.5</x><y>0.5</y><time>7.0</time></selectedRecord>\n"),
    "unselected with a record": annotation().replace("<selected>True</selected>", "<selected>false</selected>", 1),
    "repeated fields: last wins": annotation("    <selected>0</selected><selected>TRUE</selected>\n"
                                             "    <worker_id>B</worker_id>\n").replace(
        "<x>0.814</x>", "<x>0.9</x><x>0.814</x>"),
    "number spellings": annotation().replace("<x>0.814</x>", "<x>+.5</x>").replace("<y>0.199</y>", "<y>1.</y>")
    .replace("<x>-0.05</x>", "<x>1e-3</x>").replace("<y>1.25</y>", "<y>0.30000000000000004</y>")
    .replace("<estimateTime>1707</estimateTime>", "<estimateTime>+0017.000</estimateTime>")
    .replace("<x>0.2471</x>", "<x>-0.0</x>").replace("<y>0.6032</y>", "<y>1E0</y>"),
    "whitespace around values": annotation().replace("<x>0.814</x>", "<x>\n 0.814\t</x>")
    .replace("<worker_id>A3FQ1RZ5QK9B2M</worker_id>", "<worker_id>  A3FQ 1RZ5 </worker_id>")
    .replace("<time>88.0</time>", "<time> 88 </time>"),
    "windows line endings": annotation().replace("\n", "\r\n"),
    "xml declaration": annotation(head='<?xml version="1.0" encoding="UTF-8"?>\n'),
    "xml declaration, single quotes": annotation(head="<?xml version='1.0' encoding='utf-8'?>"),
    "empty metadata fields": annotation("    <assignment_id></assignment_id>\n    <hit_id>  </hit_id>\n"),
    "no metadata": "<annotation><filename>n01440764_1</filename></annotation>",
    "xml-named file": "<annotation><filename>n01440764_1.xml</filename><folder>n01440764</folder></annotation>",
}

#: Files outside the grammar: handed to lxml, whose row (or error) they get.
FALLBACK = {
    "entity": annotation().replace("A3FQ1RZ5QK9B2M", "A3&amp;B"),
    "character reference": annotation().replace("0.814", "0&#46;814"),
    "comment": annotation("    <!-- a comment -->\n"),
    "cdata": annotation().replace("<worker_id>A3FQ1RZ5QK9B2M</worker_id>", "<worker_id><![CDATA[A<B]]></worker_id>"),
    "attribute": annotation().replace("<selected>True", '<selected kind="x">True'),
    "self-closing unknown": annotation("    <error/>\n"),
    "namespace": annotation("    <a:b xmlns:a='urn:x'>1</a:b>\n"),
    "non-ascii text": annotation("    <note>caf\u00e9</note>\n"),
    "byte order mark": "\ufeff" + annotation(),
    "processing instruction": annotation("    <?tool v2?>\n"),
    "other declaration": annotation(head='<?xml version="1.0" encoding="latin-1"?>'),
    "mixed content": annotation().replace("<selectedCount>1</selectedCount>", "<selectedCount>1<b/></selectedCount>"),
    "text around children": annotation().replace("<selectedRecord>", "<selectedRecord>stray", 1),
    "carriage return inside a value": annotation().replace("A3FQ1RZ5QK9B2M", "A3FQ\r1RZ5"),
    "nineteen-digit time": annotation().replace("<time>88.0</time>", "<time>1000000000000000000</time>"),
    "long float": annotation().replace("0.814", "0." + "1" * 70),
    "underscore in a trace value": annotation().replace("<x>0.814</x>", "<x>0_5</x>"),
    "nan in a trace": annotation().replace("<x>0.814</x>", "<x>nan</x>"),
}

#: Bad files: both paths raise the same error (the scanner leaves every error to lxml).
BAD = {
    "truncated": annotation()[:200],
    "second root": annotation() + "<annotation/>",
    "trailing text": annotation() + "junk",
    "wrong root": annotation().replace("annotation>", "annotations>"),
    "mismatched tag": annotation().replace("</selectedCount>", "</selectedcount>", 1),
    "missing selected": annotation().replace("<selected>True</selected>", "", 1),
    "selected without record": annotation().replace("<selectedRecord>", "<notARecord>").replace(
        "</selectedRecord>", "</notARecord>"),
    "click outside the image": annotation().replace("<x>0.2471</x>", "<x>1.5</x>"),
    "fractional time": annotation().replace("<time>88.0</time>", "<time>88.5</time>"),
    "negative time": annotation().replace("<time>88.0</time>", "<time>-3</time>"),
    "trace without y": annotation().replace("<y>0.199</y>", ""),
    "bad boolean": annotation().replace("<selected>True</selected>", "<selected>yes</selected>", 1),
    "huge count": annotation().replace("<selectedCount>1</selectedCount>", "<selectedCount>2147483648</selectedCount>"),
    "negative size": annotation(root_extra=VOC.replace("<width>500</width>", "<width>-5</width>")),
    "bbox without ymax": annotation(root_extra=VOC.replace("<ymax>341</ymax>", "")),
    "float beyond float32": annotation().replace("<x>0.814</x>", "<x>1e39</x>"),
    "no filename": annotation().replace("<filename>n01440764_10026</filename>", ""),
    "folder mismatch": annotation().replace("<folder>n01440764</folder>", "<folder>n02490219</folder>"),
    "dtd": '<!DOCTYPE annotation [<!ENTITY a "b">]>' + annotation(),
    "empty": "",
}


def outcome(parse, data: bytes):
    try:
        return parse(data, "f.xml")
    except ByproductError as error:
        return ("error", error.source, error.reason)


def public(data: bytes, source: str):
    return parser.parse_imagenet_ab_xml(data, source)


def test_the_scanner_is_built_where_a_compiler_is():
    """`make setup` builds it; only a machine without a C compiler parses with lxml alone."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) on this machine")
    assert parser._scan is not None, "the compiled scanner did not build: see `make setup`'s output"


@needs_scanner
@pytest.mark.parametrize("name", SCANNED)
def test_scanned_files_give_lxml_rows(name):
    data = SCANNED[name].encode()
    reference = parser.parse_with_lxml(data, "f.xml")
    assert parser.scan_imagenet_ab_xml(data, "f.xml") == reference
    assert public(data, "f.xml") == reference


@needs_scanner
@pytest.mark.parametrize("name", FALLBACK)
def test_files_outside_the_grammar_go_to_lxml(name):
    data = FALLBACK[name].encode()
    assert parser.scan_imagenet_ab_xml(data, "f.xml") is None
    assert outcome(public, data) == outcome(parser.parse_with_lxml, data)


@pytest.mark.parametrize("name", BAD)
def test_bad_files_raise_lxml_errors(name):
    data = BAD[name].encode()
    expected = outcome(parser.parse_with_lxml, data)
    assert expected[0] == "error"
    assert outcome(public, data) == expected


@needs_scanner
def test_fixtures_and_synthetic_releases_are_scanned_to_lxml_rows(fixtures_dir, imagenet_release):
    files = [p.read_bytes() for p in sorted(fixtures_dir.glob("imagenet_ab/train_xml/*/*.xml"))]
    files += [p.read_bytes() for p in sorted(imagenet_release.glob("train_xml/*/*.xml"))]
    files += [xml for _, xml in synthetic.imagenet_ab_xml_files(400, seed=3)]
    assert len(files) > 400
    for data in files:
        scanned = parser.scan_imagenet_ab_xml(data, "f.xml")
        assert scanned is not None
        assert scanned == parser.parse_with_lxml(data, "f.xml")


@needs_scanner
def test_damaged_files_get_the_same_outcome_either_way():
    """Hostile input: random cuts, duplications and stray bytes in a release-shaped file."""
    rng = random.Random(0)
    base = annotation(root_extra=VOC).encode()
    pieces = [b"<", b">", b"</", b"&", b"]]>", b"\r", b"\xc3\xa9", b"<x>", b"</x>", b"0.5", b"-", b" ", b"\0"]
    scanned = 0
    for _ in range(600):
        data = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            at, width = rng.randrange(len(data)), rng.randint(0, 12)
            kind = rng.random()
            if kind < 0.4:
                del data[at:at + width]
            elif kind < 0.7:
                data[at:at] = data[rng.randrange(len(data)):][:width]
            else:
                data[at:at] = rng.choice(pieces)
        data = bytes(data)
        scanned += isinstance(outcome(parser.scan_imagenet_ab_xml, data), dict)
        assert outcome(public, data) == outcome(parser.parse_with_lxml, data), data
    assert scanned > 20  # the scanner itself read some of them (most damage sends a file to lxml)


@pytest.fixture
def xml_job():
    wnids, names = imagenet_classes()
    configs = {"byproducts": imagenet_ab_features(list(names), with_image=False)}
    _set_job(converter._Job({w: i for i, w in enumerate(wnids)}, None, worker_schema(configs), 1 << 30))
    yield worker_schema(configs)
    _set_job(None)


def test_a_converted_chunk_is_the_table_of_lxml_rows(xml_job):
    """Packed traces spliced into the table == ``pa.Table.from_pylist`` of the reference rows, over
    scanned, handed-over and bad files (a bad one after part of its traces was packed included)."""
    chunk = [(f"train_xml/n01440764/{name}", xml) for name, xml in (
        (name.rsplit("/", 1)[-1], xml) for name, xml in synthetic.imagenet_ab_xml_files(60, seed=5, classes=1))]
    odd = [SCANNED["unknown nested, repeated"], FALLBACK["entity"], BAD["trace without y"],
           annotation().replace("<x>-0.05</x>", "<x>oops</x>"), BAD["click outside the image"], SCANNED["plain"]]
    chunk += [(f"train_xml/n01440764/n01440764_{900 + i}.xml",
               xml.replace("n01440764_10026", f"n01440764_{900 + i}").encode()) for i, xml in enumerate(odd)]
    random.Random(1).shuffle(chunk)
    table, errors, names, _ = converter._convert_xml_chunk(chunk)

    rows = []
    for name, data in chunk:
        try:
            row = parser.parse_with_lxml(data, name)
        except ByproductError:
            continue
        rows.append({**row, "label": 0, "_source": name})
    assert len(errors) == len(chunk) - len(rows) == 3
    assert table.equals(pa.Table.from_pylist(rows, schema=xml_job))
    assert len(names) == len(chunk)
