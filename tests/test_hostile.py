"""Hostile input: every reader of downloaded bytes against the standard reader of its format.

Seeded mutations (:mod:`tests.hostile`) of tarballs, XML files and JSON documents, a few thousand
in all; ``LUAB_HOSTILE_CASES=N`` runs N times as many. A reader either hands over what the
standard reader does (``tarfile``, ``json.loads``, lxml) or stops with its own named error: never
another exception, never a hang, never more than it was told to hold.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import signal
import subprocess
import sys
import zlib
from contextlib import contextmanager
from pathlib import Path

import pytest
from lxml import etree

from luab_hf import synthetic
from luab_hf.byproducts import ByproductError, jsonstream, parse_imagenet_ab_xml, tarstream
from luab_hf.byproducts.jsonstream import BadEntry, JsonStreamError, iter_array, iter_object_arrays
from luab_hf.byproducts.tarstream import TarFormatError, iter_members
from luab_hf.convert import coco_ab, imagenet_ab
from tests import hostile

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def within(seconds: int):
    """Fail, instead of hanging the suite, when the block runs past ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# --------------------------------------------------------------------------- tar


def _ours(data: bytes, max_header_bytes: int = 1 << 16) -> list[tuple[str, bytes, int, str, bytes]]:
    members = iter_members(io.BytesIO(data), lambda name, kind, size: True, max_header_bytes)
    return [(m.name, m.type, m.size, m.linkname, m.data or b"") if m.type in (b"0", b"7") else
            (m.name, m.type, m.size, m.linkname, b"") for m in members]


def test_mutated_tarballs_give_tarfiles_members_or_a_named_error():
    seeds = hostile.tar_seeds()
    outcomes = {"same": 0, "error": 0}
    with within(120):
        for case in range(3000 * hostile.SCALE):
            rng = random.Random(case)
            data = hostile.mutate_tar(rng, rng.choice(seeds))
            reference = hostile.tarfile_members(data)
            try:
                ours = _ours(data)
            except TarFormatError:
                outcomes["error"] += 1
                continue
            assert not isinstance(reference, Exception), f"case {case}: ours read it, tarfile says {reference!r}"
            assert ours == reference, f"case {case}"
            outcomes["same"] += 1
    assert min(outcomes.values()) > 300, outcomes  # the mutations reach both outcomes, often


def test_gzipped_and_plain_archives_read_the_same():
    for case, seed in enumerate(hostile.tar_seeds()):
        rng = random.Random(case)
        data = hostile.mutate_tar(rng, seed) if case else seed
        try:
            plain = _ours(data)
        except TarFormatError as error:
            with pytest.raises(TarFormatError, match=str(error).split(":")[-1].strip()[:20]):
                _ours(gzip.compress(data))
            continue
        assert _ours(gzip.compress(data)) == plain
        assert _ours(gzip.compress(data[:len(data) // 2]) + gzip.compress(data[len(data) // 2:])) == plain


@pytest.mark.parametrize(("records", "message"), [
    (b"0 path=a\n", "length 0 does not end it"),  # once looped forever
    (b"-5 path=a\n", "malformed pax header record"),  # once moved backwards
    (b"3 path=a\n", "length 3 does not end it"),
    (b"12 size=abc\n", "pax size 'abc' is not a whole number"),  # once a ValueError traceback
    (b"11 size=-5\n", "pax size '-5' is not a whole number"),  # once accepted
    (b"12 size=1_0\n", "pax size '1_0' is not a whole number"),  # once accepted
    (b"22 GNU.sparse.size=10\n", "sparse member"),
])
def test_crafted_pax_records_are_named_errors(records, message):
    data = hostile.pax_header(records) + hostile.tar_seeds()[0]
    with within(10), pytest.raises(TarFormatError, match=message):
        _ours(data)


def test_global_pax_headers_and_long_names_before_pax_headers_name_members_as_tarfile_does():
    ustar = hostile.tar_seeds()[0]
    first = hostile.pax_header(hostile.pax_record("path", "train_xml/global.xml"), kind=b"g")
    archives = [
        first + ustar,  # a global header names every later member (once ignored)
        first + hostile.pax_header(hostile.pax_record("path", "x/local.xml")) + ustar,  # a member's own header wins
    ]
    long_name = bytearray(512)
    long_name[:13] = b"././@LongLink"
    long_name[124:136] = b"%011o\0" % 14
    long_name[156:157] = b"L"
    long_name[257:265] = b"ustar  \0"
    long_name = bytes(hostile._checksummed(long_name)) + b"gnu/long.xml\0\0" + bytes(498)
    archives.append(long_name + hostile.pax_header(hostile.pax_record("path", "pax/name.xml")) + ustar)  # once dropped
    archives.append(hostile.pax_header(hostile.pax_record("path", "pax/name.xml")) + long_name + ustar)
    for data in archives:
        reference = hostile.tarfile_members(data)
        assert not isinstance(reference, Exception)
        assert _ours(data) == reference


def test_inflation_is_bounded_per_read():
    """1 MiB of gzip inflates to ~1 GiB: the stream hands it over a piece at a time, never at once."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(deflate.compress(bytes(1 << 20)) for _ in range(64)) + deflate.flush()
    assert len(bomb) < (1 << 20) // 8
    stream = tarstream._Stream(io.BytesIO(bomb))
    total = 0
    while piece := stream._more():
        assert len(piece) <= tarstream._READ
        total += len(piece)
    assert total == 64 << 20


def test_long_names_and_extended_headers_are_capped():
    name = b"n/" * 40_000 + b"x.xml"
    header = bytearray(512)
    header[:13] = b"././@LongLink"
    header[124:136] = b"%011o\0" % (len(name) + 1)
    header[156:157] = b"L"
    header[257:265] = b"ustar  \0"
    data = bytes(hostile._checksummed(header)) + name + b"\0" + bytes(-(len(name) + 1) % 512) + hostile.tar_seeds()[0]
    with pytest.raises(TarFormatError, match="above the limit of 65,536"):
        _ours(data, max_header_bytes=1 << 16)
    assert _ours(data, max_header_bytes=1 << 20)[0][0] == name.decode()  # within the limit it is read


# --------------------------------------------------------------------------- XML


def _xml_seeds(fixtures_dir: Path) -> list[bytes]:
    files = sorted((fixtures_dir / "imagenet_ab").rglob("*.xml"))
    return [path.read_bytes() for path in files] + [xml for _, xml in synthetic.imagenet_ab_xml_files(3, 0)]


_HOSTILE_XML = [b"<a>" * 64, b"9" * 5000, b"-" + b"9" * 30, b"1e400", b"nan", b"&#0;", b"&amp;", b"<![CDATA[0.5]]>",
                b"<!-- c -->", b"<?pi x?>", b"\xff\xfe", "\u0660.\u0665".encode(), b"<x>1</x>", b"</metadata>", b"",
                b"<!DOCTYPE a [<!ENTITY e 'x'>]>", b"\x00", b"0.5_0", b" 12 "]


def _mutate_xml(rng: random.Random, xml: bytes) -> bytes:
    data = bytearray(xml)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.5:  # a text or tag replaced by something hostile
            starts = [i for i, byte in enumerate(data) if byte == ord(">")]
            if starts:
                start = rng.choice(starts) + 1
                end = data.find(b"<", start)
                data[start:end if end > 0 else start] = rng.choice(_HOSTILE_XML)
        elif choice < 0.65:
            del data[rng.randrange(len(data) + 1):]
        elif choice < 0.85 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            position = rng.randrange(len(data) + 1)
            data[position:position] = rng.choice(_HOSTILE_XML)
    return bytes(data)


def test_mutated_xml_files_give_a_row_or_a_named_error(fixtures_dir):
    """Every outcome is a row or a ByproductError; where lxml itself (hardened the same way) cannot
    parse the file, ours says malformed XML or refuses its DTD."""
    seeds = _xml_seeds(fixtures_dir)
    strict = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    outcomes = {"row": 0, "error": 0}
    with within(120):
        for case in range(1500 * hostile.SCALE):
            rng = random.Random(case)
            data = _mutate_xml(rng, rng.choice(seeds))
            try:
                etree.fromstring(data, strict)
                parsable = True
            except etree.XMLSyntaxError:
                parsable = False
            try:
                row = parse_imagenet_ab_xml(data, source=f"case{case}.xml")
            except ByproductError as error:
                assert error.source.startswith(f"case{case}.xml")
                assert parsable or "malformed XML" in error.reason or "DTD" in error.reason, (case, error)
                assert len(str(error)) < 2000, (case, len(str(error)))  # a hostile value is never echoed whole
                outcomes["error"] += 1
                continue
            assert parsable, f"case {case}: a row from a file lxml cannot parse"
            json.dumps(row, allow_nan=False)  # every value is plain and finite
            outcomes["row"] += 1
    assert min(outcomes.values()) > 150, outcomes


# --------------------------------------------------------------------------- JSON


def _coco_text(fixtures_dir: Path) -> str:
    return (fixtures_dir / "coco_ab" / "coco_ab_sample.json").read_text()


def _rejected_by_a_column(value: object) -> bool:
    """What a BadEntry may stand for: a value that cannot be written back as strict UTF-8 JSON at
    Python's default limits (NaN, a lone surrogate, an integer of thousands of digits, deep nesting)."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError, RecursionError):
        return True
    return False


def _check_entries(ours: list, reference: object, case: int) -> None:
    if isinstance(reference, Exception):  # only an entry too deep to decode is stepped over unchecked
        assert any(isinstance(e, BadEntry) and "nested too deeply" in e.reason for e in ours), \
            f"case {case}: read what json.loads refuses ({reference!r:.200})"
        return
    assert len(ours) == len(reference), f"case {case}"
    for entry, expected in zip(ours, reference):
        if isinstance(entry, BadEntry):
            assert _rejected_by_a_column(expected), f"case {case}: set aside {expected!r:.200}"
        else:
            assert entry == expected, f"case {case}"


def _json_mutations(text: str, read, check) -> None:
    """Mutations of ``text``: each read by ours (``read(handle)``; a JsonStreamError is a named
    refusal), and what ours read checked against ``json.loads`` (``check(ours, reference, case)``)."""
    outcomes = {"read": 0, "error": 0}
    with within(120):
        for case in range(1500 * hostile.SCALE):
            mutated = hostile.mutate_json(random.Random(case), text)
            try:
                ours = read(io.BytesIO(mutated.encode("utf-8", "surrogatepass")))
            except JsonStreamError:
                outcomes["error"] += 1
                continue
            check(ours, hostile.json_values(mutated), case)
            outcomes["read"] += 1
    assert min(outcomes.values()) > 150, outcomes


def test_mutated_coco_ab_json_gives_json_loads_entries_or_a_named_error(fixtures_dir):
    _json_mutations(_coco_text(fixtures_dir), lambda handle: [entry for _, entry in iter_array(handle)], _check_entries)


def test_mutated_instances_json_gives_json_loads_entries_or_a_named_error():
    document = {"info": {"year": 2014}, "images": [{"id": i, "file_name": f"{i}.jpg"} for i in range(4)],
                "annotations": [{"image_id": i, "category_id": 18, "bbox": [0.5, 1, 2, 3]} for i in range(4)],
                "categories": [{"id": 18, "name": "dog"}]}
    keys = {"images", "annotations", "categories"}

    def check(ours: list, reference: object, case: int) -> None:
        if not isinstance(reference, dict):
            _check_entries([e for _, _, e in ours], reference, case)
            return
        expected = [(key, index, entry) for key, value in reference.items() if key in keys and isinstance(value, list)
                    for index, entry in enumerate(value)]
        assert [(k, i) for k, i, _ in ours] == [(k, i) for k, i, _ in expected], f"case {case}"
        _check_entries([e for _, _, e in ours], [e for _, _, e in expected], case)

    _json_mutations(json.dumps(document, indent=1), lambda handle: list(iter_object_arrays(handle, keys)), check)


@pytest.mark.parametrize(("entry", "reason"), [
    ('{"a": "A\\ud800B"}', "lone surrogate"),  # once stored as "A?B"
    ('{"\\udc00": 1}', "lone surrogate"),  # once a UnicodeDecodeError
    ('{"a": ' + "1" * 5000 + "}", "an integer of 5,000 digits"),  # once a ValueError traceback
    ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),  # once a RecursionError
    ('{"a": NaN}', "NaN, which is not JSON"),
])
def test_entries_no_column_can_hold_are_set_aside_and_reading_goes_on(entry, reason, monkeypatch):
    text = f'[{{"ok": 1}}, {entry}, {{"ok": "\\ud83d\\ude00"}}]'
    for chunk in (1 << 20, 7):  # whole, and cut across every buffer boundary
        monkeypatch.setattr(jsonstream, "_CHUNK", chunk)
        with within(30):
            entries = [value for _, value in iter_array(io.BytesIO(text.encode()), max_value_bytes=1 << 20)]
        assert entries[0] == {"ok": 1} and entries[2] == {"ok": "\U0001F600"}
        assert isinstance(entries[1], BadEntry) and reason in entries[1].reason


def test_a_value_longer_than_the_limit_is_refused_however_it_is_buffered():
    text = '[{"a": "' + "x" * 5000 + '"}]'
    with pytest.raises(JsonStreamError, match="more than 1,000 characters"):
        list(iter_array(io.BytesIO(text.encode()), max_value_bytes=1000))


# --------------------------------------------------------------------------- whole conversions


def test_every_record_invalid_stops_with_the_count_and_first_reasons(tmp_path, capsys):
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=2, images_per_class=4, seed=3)
    for path in (raw / "train_xml").rglob("*.xml"):
        path.write_text("<a>")
    out = tmp_path / "out"
    code = imagenet_ab.main(["--xml", str(raw), "--output", str(out), "--label-set", "present", "--skip-invalid",
                             "--num-workers", "1"])
    err = capsys.readouterr().err
    assert code == 1 and "all 8 input records are invalid" in err and "malformed XML" in err, err
    assert err.count("train_xml/") == 5 and "and 3 more" in err and "Traceback" not in err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]

    coco = synthetic.write_coco_ab(tmp_path / "coco", images=3, seed=3, classes=2)
    records = json.loads((coco / "coco_ab_v1_0.json").read_text())
    (coco / "coco_ab_v1_0.json").write_text(json.dumps([{**r, "image_id": "abc"} for r in records]))
    code = coco_ab.main(["--json", str(coco / "coco_ab_v1_0.json"), "--output", str(out), "--skip-invalid",
                         "--num-workers", "2"])
    err = capsys.readouterr().err
    assert code == 1 and "all 3 input records are invalid" in err and "coco_ab_v1_0.json#2: image_id" in err, err
    assert not out.exists()


@pytest.mark.filterwarnings("ignore:'luab_hf.convert.cli' found in sys.modules:RuntimeWarning")  # runpy, twice
def test_python_m_luab_hf_convert_is_luab_convert(tmp_path, monkeypatch, capsys):
    """``python -m luab_hf.convert`` runs the converters, and ``-m luab_hf.convert.cli`` with no
    arguments prints usage and fails (never a silent exit 0); run as ``-m`` runs them, in this process."""
    import runpy

    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=2, images_per_class=3, seed=0,
                                      style=synthetic.Style(image_size=32))
    monkeypatch.setattr(sys, "argv", ["luab_hf.convert", "imagenet-ab", "--xml", str(raw), "--output",
                                      str(tmp_path / "out"), "--label-set", "present"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("luab_hf.convert", run_name="__main__", alter_sys=True)
    assert done.value.code == 0 and (tmp_path / "out" / "README.md").is_file()
    monkeypatch.setattr(sys, "argv", ["luab_hf.convert.cli"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("luab_hf.convert.cli", run_name="__main__", alter_sys=True)
    output = capsys.readouterr()
    assert done.value.code != 0 and "usage: luab-convert" in output.out + output.err


def test_a_claim_left_by_a_dead_process_is_taken_over_with_a_message(tmp_path, capsys):
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=2, images_per_class=3, seed=3)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / ".out.claim").write_text(str(dead.pid))
    (tmp_path / f".out.tmp-{dead.pid}").mkdir()
    code = imagenet_ab.main(["--xml", str(raw), "--output", str(tmp_path / "out"), "--label-set", "present"])
    err = capsys.readouterr().err
    assert code == 0 and f"left by process {dead.pid}, which no longer runs" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw"]


def test_the_bulk_trace_reading_gives_the_point_by_point_rows(fixtures_dir, monkeypatch):
    """Traces are read in bulk when every point and value is plain; the row (or error) must be the
    one the point-by-point reading gives, for plain and mutated files alike."""
    from luab_hf.byproducts import imagenet_ab

    def outcome(data: bytes, bulk: bool):
        with monkeypatch.context() as patch:
            if not bulk:
                patch.setattr(imagenet_ab, "plain_trace", lambda *texts: None)
            try:
                return parse_imagenet_ab_xml(data, source="f.xml")
            except ByproductError as error:
                return str(error)

    seeds = _xml_seeds(fixtures_dir)
    files = seeds + [_mutate_xml(random.Random(case), seeds[case % len(seeds)]) for case in range(400)]
    bulk_rows = 0
    for data in files:
        assert outcome(data, bulk=True) == outcome(data, bulk=False)
        bulk_rows += isinstance(outcome(data, bulk=True), dict)
    assert bulk_rows > 50
