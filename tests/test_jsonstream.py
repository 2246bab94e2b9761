"""The one-pass JSON object reader against ``json.load``, across every buffer boundary, and on
truncated and malformed files."""

from __future__ import annotations

import io
import json
import re

import pytest

from luab_hf.byproducts import ByproductError, jsonstream, read_instances
from luab_hf.labels import COCO_ID_TO_CLASS

DOCUMENT = {
    "info": {"year": 2014, "nested": [[1, 2.5e-3, {"a": None}], "x"]},
    "images": [{"id": 1, "file_name": "COCO_train2014_000000000001.jpg", "note": "caf\u00e9 \u2603 \U0001F600"},
               {"id": 2, "file_name": "b\\\"q.jpg", "flag": True}],
    "licenses": [],
    "annotations": [{"image_id": 1, "category_id": 18, "segmentation": [[1.25, 2, 3e5, -4.0]], "iscrowd": False},
                    {"image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1], "area": 12345678901234567890}],
    "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}],
    "empty": {},
    "tail": 12.5,
}
KEYS = {"images", "annotations", "categories", "licenses"}


def expected(document: dict) -> list:
    return [(key, index, entry) for key, value in document.items() if key in KEYS
            for index, entry in enumerate(value)]


@pytest.mark.parametrize("indent", [None, 2, "\t"])
@pytest.mark.parametrize("chunk", [1, 3, 7, 64, 1 << 20])
def test_entries_equal_json_load_at_every_buffer_size(monkeypatch, indent, chunk):
    monkeypatch.setattr(jsonstream, "_CHUNK", chunk)
    raw = json.dumps(DOCUMENT, indent=indent, ensure_ascii=False).encode()
    assert list(jsonstream.iter_object_arrays(io.BytesIO(raw), KEYS)) == expected(DOCUMENT)


@pytest.mark.parametrize("chunk", [5, 1 << 20])
def test_every_truncation_is_an_error_naming_where(monkeypatch, chunk):
    monkeypatch.setattr(jsonstream, "_CHUNK", chunk)
    raw = json.dumps(DOCUMENT).encode()
    for cut in range(0, len(raw) - 1):
        with pytest.raises(jsonstream.JsonStreamError) as caught:
            list(jsonstream.iter_object_arrays(io.BytesIO(raw[:cut]), KEYS))
        assert str(caught.value)


@pytest.mark.parametrize(("text", "where"), [
    ('{"images": [{"id": 1}, {"id": 2,, }]}', "images[1]"),
    ('{"images": [{"id": 1} {"id": 2}]}', "after images[0]"),
    ('{"images": [1], "annotations": [{"a": tru}]}', "annotations[0]"),
    ('{"images": [1]} trailing', "text after the top-level object"),
    ('[{"id": 1}]', "the start of the file"),
    ('{"images": [1], 5: 2}', "a key of the top-level object"),
])
def test_malformed_json_names_the_entry(text, where):
    with pytest.raises(jsonstream.JsonStreamError, match=re.escape(where)):
        list(jsonstream.iter_object_arrays(io.BytesIO(text.encode()), KEYS))


def test_an_unterminated_value_is_bounded(monkeypatch):
    """A string that never ends reads at most max_value_bytes ahead, never the whole file."""
    monkeypatch.setattr(jsonstream, "_CHUNK", 1024)
    raw = b'{"images": [{"file_name": "' + b"x" * 200_000
    with pytest.raises(jsonstream.JsonStreamError, match="more than 10,000 characters"):
        list(jsonstream.iter_object_arrays(io.BytesIO(raw + b'"}]}'), KEYS, max_value_bytes=10_000))


def test_read_instances_matches_json_load(coco_release, monkeypatch):
    monkeypatch.setattr(jsonstream, "_CHUNK", 97)
    path = coco_release / "annotations" / "instances_train2014.json"
    document = json.loads(path.read_text())
    instances = read_instances(path)
    assert instances.file_names == {image["id"]: image["file_name"] for image in document["images"]}

    labels: dict[int, set[int]] = {}
    for annotation in document["annotations"]:
        labels.setdefault(annotation["image_id"], set()).add(COCO_ID_TO_CLASS[annotation["category_id"]])
    assert dict(instances.labels) == labels and labels


def test_read_instances_reports_a_truncated_file(coco_release, tmp_path):
    raw = (coco_release / "annotations" / "instances_train2014.json").read_bytes()
    path = tmp_path / "instances.json"
    path.write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(ByproductError, match="malformed or truncated JSON") as caught:
        read_instances(path)
    assert str(path) in str(caught.value)
