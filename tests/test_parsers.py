"""The raw-format fixtures, parsed field by field, and the parsers' refusals."""

from __future__ import annotations

import json

import pytest

from luab_hf.byproducts import (
    ByproductError,
    iter_coco_ab_json,
    parse_coco_ab_record,
    parse_imagenet_ab_xml,
    replay_points,
)
from luab_hf.labels import COCO_CLASS_INDEX


def _xml(fixtures_dir, image_id):
    return fixtures_dir / "imagenet_ab" / "train_xml" / image_id.split("_")[0] / f"{image_id}.xml"


def test_imagenet_fixture_with_voc_fields(fixtures_dir):
    row = parse_imagenet_ab_xml(_xml(fixtures_dir, "n02490219_6469"))
    assert row["image_id"] == "n02490219_6469" and row["wnid"] == "n02490219"
    assert (row["width"], row["height"], row["depth"]) == (500, 375, 3)
    assert row["source_database"] == "ILSVRC_2012" and row["segmented"] == 0
    assert row["objects"] == [{"name": "n02490219", "pose": "Unspecified", "truncated": 0, "difficult": 0,
                               "bbox": [121.0, 64.0, 398.0, 341.0]}]
    (annotation,) = row["annotations"]
    assert annotation["assignment_id"] == "3XCC1ODXDLAQ8ZL4WN0QW1JX2LQRQW"
    assert annotation["hit_id"] == "3R5OYNIC2C9NM2P7V2K0MRTJ6XMPTQ"
    assert annotation["worker_id"] == "A1B2C3D4E5F6G7"
    assert annotation["selected"] is True and annotation["selected_count"] == 1
    assert annotation["click"] == {"x": 0.5123, "y": 0.4410, "time_ms": 1687.0}
    assert annotation["estimate_time_ms"] == 1874
    assert annotation["hovers"] == [{"action": "enter", "time_ms": 912.0}, {"action": "leave", "time_ms": 1874.0}]
    assert len(annotation["mouse_trace"]) == 6
    assert annotation["mouse_trace"][0] == {"time_ms": 912.0, "x": 0.031, "y": 0.902}
    assert annotation["mouse_trace"][-1] == {"time_ms": 1612.0, "x": 0.512, "y": 0.441}
    assert row["clicks"] == [[0.5123, 0.4410]] and row["click_point"] == [0.5123, 0.4410]
    assert row["raw"] is None and annotation["raw"] is None


def test_imagenet_fixture_filename_before_folder(fixtures_dir):
    row = parse_imagenet_ab_xml(_xml(fixtures_dir, "n02490219_5174"))
    assert row["image_id"] == "n02490219_5174" and row["width"] is None and row["objects"] == []
    (annotation,) = row["annotations"]
    assert annotation["click"] == {"x": 0.2471, "y": 0.6032, "time_ms": 401.0}
    assert [p["x"] for p in annotation["mouse_trace"]] == [0.880, 0.512, 0.301]
    assert row["click_point"] == [0.2471, 0.6032]


def test_imagenet_fixture_unselected(fixtures_dir):
    row = parse_imagenet_ab_xml(_xml(fixtures_dir, "n01440764_10026"))
    (annotation,) = row["annotations"]
    assert annotation["selected"] is False and annotation["click"] is None
    assert annotation["estimate_time_ms"] == 0 and annotation["selected_count"] == 0
    assert annotation["mouse_trace"] == [{"time_ms": 88.0, "x": 0.412, "y": 0.133}]
    assert row["click_point"] is None and row["clicks"] == []


def _meta(selected="True", record="<selectedRecord><x>0.25</x><y>0.75</y><time>5</time></selectedRecord>", extra=""):
    return f"<metadata><selected>{selected}</selected>{record}{extra}</metadata>"


def _doc(*blocks, head="<folder>n01440764</folder><filename>n01440764_1</filename>"):
    return f"<annotation>{head}{''.join(blocks)}</annotation>".encode()


def test_click_point_is_the_mean_of_selected_clicks_and_unknowns_are_kept():
    second = "<selectedRecord><x>0.75</x><y>0.25</y><time>9</time></selectedRecord>"
    row = parse_imagenet_ab_xml(_doc(
        _meta(extra="<imageWidth>451</imageWidth><imagePosition>3</imagePosition><zoom>2</zoom>"),
        _meta(record=second), _meta(selected="False", record=""),
        head="<filename>n01440764_1.JPEG</filename><folder>n01440764</folder><camera><iso>100</iso></camera>"))
    assert row["click_point"] == [0.5, 0.5] and len(row["clicks"]) == 2
    assert row["image_id"] == "n01440764_1"
    assert json.loads(row["raw"]) == {"camera": {"iso": "100"}}
    first = row["annotations"][0]
    assert first["image_width"] == 451 and first["image_position"] == "3"
    assert json.loads(first["raw"]) == {"zoom": "2"}


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (b"<annotation><filename>n01440764_1</filename>", "malformed XML"),
        (b"<record><filename>n01440764_1</filename></record>", "root element is <record>"),
        (_doc(_meta(selected="maybe")), "selected is 'maybe'"),
        (_doc("<metadata><worker_id>A</worker_id></metadata>"), "missing <selected>"),
        (_doc(_meta(record="")), "no <selectedRecord>"),
        (_doc(_meta(record="<selectedRecord><x>0.5</x><time>1</time></selectedRecord>")), "has no <y>"),
        (_doc(_meta(record="<selectedRecord><x>abc</x><y>0.5</y><time>1</time></selectedRecord>")), "expected a number"),
        (_doc(_meta(record="<selectedRecord><x>nan</x><y>0.5</y><time>1</time></selectedRecord>")), "finite"),
        (_doc(_meta(record="<selectedRecord><x>1.5</x><y>0.5</y><time>1</time></selectedRecord>")), "in [0, 1]"),
        (_doc(_meta(record="<selectedRecord><x>0.5</x><y>0.5</y><time>-3</time></selectedRecord>")), "time >= 0"),
        (_doc(_meta(extra="<mouseTracking><time>1</time><x>inf</x><y>0</y></mouseTracking>")), "finite"),
        (_doc(head="<folder>n01440764</folder>"), "missing <filename>"),
        (_doc(head="<folder>n09999999</folder><filename>n01440764_1</filename>"), "does not match"),
        (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
         b"<annotation><filename>&lol2;</filename></annotation>", "DTD"),
    ],
)
def test_imagenet_bad_records_name_the_file(xml, message):
    with pytest.raises(ByproductError) as caught:
        parse_imagenet_ab_xml(xml, source="train_xml/n01440764/n01440764_1.xml")
    assert caught.value.source.startswith("train_xml/n01440764/n01440764_1.xml")
    assert message in str(caught.value)


def test_coco_fixture_records(fixtures_dir):
    records = list(iter_coco_ab_json(fixtures_dir / "coco_ab" / "coco_ab_sample.json"))
    assert [source.rsplit("#", 1)[1] for source, _ in records] == ["0", "1"]
    first = parse_coco_ab_record(records[0][1], records[0][0])
    assert first["image_id"] == 9 and first["time_spent_ms"] == 21873 and first["page_id"] == 3
    assert (first["image_width"], first["image_height"]) == (640, 480)
    assert (first["original_image_width"], first["original_image_height"]) == (640, 480)
    assert first["worker_id"] == "A2QW8LX5PN3R7T" and first["hit_id"] == "3BJKPTD2QCCLHW2GMZZ1P9AHXG0RTK"
    assert [a["action"] for a in first["actions"]] == ["add", "add", "move", "add"]
    assert first["actions"][2]["point_from"] == {"x": 0.6406, "y": 0.5833}
    assert first["category_history"][1] == {"category_index": 6, "category_name": "Food", "time_ms": 6980.0,
                                            "using_keyboard": True}
    assert first["mouse_trace"][0] == {"time_ms": 300.0, "x": 0.1, "y": 0.95}
    # final reading: broccoli where it was moved to
    broccoli = COCO_CLASS_INDEX["broccoli"]
    assert {p["category"]: (p["x"], p["y"]) for p in first["points"]} == {
        COCO_CLASS_INDEX["bowl"]: (0.3125, 0.7021), broccoli: (0.6719, 0.5417), COCO_CLASS_INDEX["orange"]: (0.4688, 0.2083)}
    added_only = parse_coco_ab_record(records[0][1], records[0][0], reading="add-only")
    assert {p["category"]: (p["x"], p["y"]) for p in added_only["points"]}[broccoli] == (0.6406, 0.5833)
    # a removed icon is gone in the final reading, and still there in the add-only one
    second = parse_coco_ab_record(records[1][1], records[1][0])
    assert [p["category"] for p in second["points"]] == [COCO_CLASS_INDEX["giraffe"]]
    second_add = parse_coco_ab_record(records[1][1], records[1][0], reading="add-only")
    assert [p["category"] for p in second_add["points"]] == [COCO_CLASS_INDEX["person"], COCO_CLASS_INDEX["giraffe"]]


def _action(kind, icon, t, to=(0.5, 0.5)):
    return {"actionType": kind, "iconType": icon, "pointFrom": None,
            "pointTo": None if to is None else {"x": to[0], "y": to[1]}, "timeAt": t}


def test_replay_sorts_by_time_and_last_add_wins():
    record = {"image_id": 1, "actionHistories": [
        _action("move", "cat", 30, (0.9, 0.9)), _action("add", "cat", 10, (0.1, 0.1)),
        _action("add", "dog", 20, (0.2, 0.2)), _action("add", "dog", 40, (0.3, 0.3)),
        _action("remove", "cat", 50, None)]}
    final = parse_coco_ab_record(record, "r#0")
    assert final["points"] == [{"category": COCO_CLASS_INDEX["dog"], "x": 0.3, "y": 0.3}]
    add_only = parse_coco_ab_record(record, "r#0", reading="add-only")
    assert [(p["category"], p["x"]) for p in add_only["points"]] == [(COCO_CLASS_INDEX["cat"], 0.1), (COCO_CLASS_INDEX["dog"], 0.3)]
    with pytest.raises(ValueError, match="reading"):
        replay_points([], "sometimes", "r#0")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"image_id": 1, "actionHistories": [_action("move", "cat", 5)]}, "never added"),
        ({"image_id": 1, "actionHistories": [_action("remove", "cat", 5, None)]}, "never added"),
        ({"image_id": 1, "actionHistories": [_action("add", "unicorn", 5)]}, "unknown COCO category 'unicorn'"),
        ({"image_id": 1, "actionHistories": [_action("rotate", "cat", 5)]}, "unknown actionType 'rotate'"),
        ({"image_id": 1, "actionHistories": [_action("add", "cat", 5, (float("nan"), 0.5))]}, "finite"),
        ({"image_id": 1, "actionHistories": [_action("add", "cat", 5, (0.5, -0.2))]}, "in [0, 1]"),
        ({"image_id": 1, "actionHistories": [_action("add", "cat", -1)]}, "time >= 0"),
        ({"image_id": "x"}, "image_id is 'x'"),
        ({"actionHistories": []}, "missing image_id"),
        ({"image_id": 1, "timeSpent": "long"}, "timeSpent"),
        ([1, 2], "expected an object"),
    ],
)
def test_coco_bad_records_name_the_record(record, message):
    with pytest.raises(ByproductError) as caught:
        parse_coco_ab_record(record, "coco_ab.json#7")
    assert caught.value.source.startswith("coco_ab.json#7")
    assert message in str(caught.value)


def test_coco_stream_reports_truncation_after_good_records(tmp_path):
    path = tmp_path / "coco.json"
    path.write_text('[{"image_id": 1}, {"image_id": 2}, {"image_id": 3, "actionHis')
    seen = []
    with pytest.raises(ByproductError, match="truncated JSON after record 1"):
        for _, record in iter_coco_ab_json(path):
            seen.append(record["image_id"])
    assert seen == [1, 2]
    path.write_text('{"image_id": 1}')
    with pytest.raises(ByproductError, match="JSON array"):
        list(iter_coco_ab_json(path))


# --------------------------------------------------------------------------- as the tools write it


def test_add_only_walks_the_list_in_file_order_final_replays_in_time_order():
    # the later add *in the list* carries the earlier time
    record = {"image_id": 1, "actionHistories": [_action("add", "dog", 40, (0.3, 0.3)),
                                                 _action("add", "dog", 20, (0.2, 0.2))]}
    assert parse_coco_ab_record(record, "r#0", reading="add-only")["points"][0]["x"] == 0.2
    assert parse_coco_ab_record(record, "r#0", reading="final")["points"][0]["x"] == 0.3


def test_icons_outside_the_80_classes_are_kept_but_are_no_point():
    record = {"image_id": 1, "actionHistories": [_action("add", "street sign", 5, (0.1, 0.1)),
                                                 _action("add", "cat", 6, (0.4, 0.6))]}
    row = parse_coco_ab_record(record, "r#0", reading="add-only")
    assert [a["category"] for a in row["actions"]] == ["street sign", "cat"]
    assert row["points"] == [{"category": COCO_CLASS_INDEX["cat"], "x": 0.4, "y": 0.6}]
    assert parse_coco_ab_record(record, "r#0")["points"] == row["points"]
    with pytest.raises(ByproductError, match="not one of COCO's 91 names"):
        parse_coco_ab_record({"image_id": 1, "actionHistories": [_action("add", "unicorn", 5)]}, "r#0")


def test_select_deselect_select_keeps_every_click_and_targets_the_first():
    twice = ("<selectedRecord><x>0.2</x><y>0.3</y><time>1668000000571</time></selectedRecord>"
             "<selectedRecord><x>0.9</x><y>0.8</y><time>1668000001664</time></selectedRecord>")
    deselected = "<selectedRecord><x>0.7</x><y>0.7</y><time>1668000000762</time></selectedRecord>"
    row = parse_imagenet_ab_xml(_doc(_meta(record=twice), _meta(selected="False", record=deselected),
                                     _meta(record="<selectedRecord><x>0.4</x><y>0.5</y><time>7</time></selectedRecord>")))
    first, unselected, third = row["annotations"]
    assert [c["x"] for c in first["clicks"]] == [0.2, 0.9] and first["click"] == first["clicks"][0]
    assert unselected["click"] is None and unselected["clicks"][0]["time_ms"] == 1668000000762
    # the published target: the mean of each selected block's first click
    assert row["click_point"] == pytest.approx([0.3, 0.4]) and row["clicks"] == [[0.2, 0.3], [0.4, 0.5]]


@pytest.mark.parametrize(("time", "expected"), [("1668000000571", 1668000000571), ("1687.0", 1687), (" 12 ", 12)])
def test_times_are_exact_integer_milliseconds(time, expected):
    trace = f"<mouseTracking><time>{time}</time><x>0.1</x><y>0.2</y></mouseTracking>"
    record = f"<selectedRecord><x>0.5</x><y>0.5</y><time>{time}</time></selectedRecord>"
    annotation = parse_imagenet_ab_xml(_doc(_meta(record=record, extra=trace)))["annotations"][0]
    assert annotation["mouse_trace"][0]["time_ms"] == expected and annotation["click"]["time_ms"] == expected
    assert type(annotation["mouse_trace"][0]["time_ms"]) is int
    coco = parse_coco_ab_record({"image_id": 1, "mouseTracking": [{"timeAt": float(expected), "x": 0.1, "y": 0.2}]}, "r#0")
    assert coco["mouse_trace"][0]["time_ms"] == expected


@pytest.mark.parametrize(("time", "message"), [("1687.5", "whole milliseconds"), ("-4", "time >= 0"),
                                               ("99999999999999999999", "int64"), ("1e3", "whole milliseconds")])
def test_fractional_negative_and_huge_times_are_record_errors(time, message):
    trace = f"<mouseTracking><time>{time}</time><x>0.1</x><y>0.2</y></mouseTracking>"
    with pytest.raises(ByproductError, match=message):
        parse_imagenet_ab_xml(_doc(_meta(extra=trace)), source="f.xml")
