"""The synthetic releases' simulated annotators, checked against the pixels they were drawn on."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from luab_hf import synthetic
from luab_hf.byproducts import parse_imagenet_ab_xml


def _object_pixels(path) -> np.ndarray:
    """Where the drawn object is, from the image alone: the shapes are grey, the background and
    its noise are colours of the class palette (saturation 0.55)."""
    hsv = np.asarray(Image.open(path).convert("HSV"), dtype=np.float64)
    return hsv[..., 1] < 0.25 * 255


def _imagenet_clicks(root, **style) -> list[tuple[np.ndarray, float, float]]:
    """(object pixels, x, y) of every selecting click of a synthetic ImageNet-AB release."""
    synthetic.write_imagenet_ab(root, classes=2, images_per_class=25, seed=4, val_per_class=1,
                                style=synthetic.Style(image_size=64, click_noise=0.0, unselected_rate=0.0, **style))
    clicks = []
    for xml in sorted((root / "train_xml").rglob("*.xml")):
        pixels = _object_pixels(root / "train" / xml.parent.name / f"{xml.stem}.JPEG")
        for annotation in parse_imagenet_ab_xml(xml)["annotations"]:
            clicks += [(pixels, click["x"], click["y"]) for click in annotation["clicks"]]
    return clicks


def _on_object(pixels: np.ndarray, x: float, y: float, reach: int = 0) -> bool:
    height, width = pixels.shape
    column, row = min(int(x * width), width - 1), min(int(y * height), height - 1)
    return bool(pixels[max(0, row - reach):row + reach + 1, max(0, column - reach):column + reach + 1].any())


def _near_edge(pixels: np.ndarray, x: float, y: float) -> bool:
    height, width = pixels.shape
    column, row = min(int(x * width), width - 1), min(int(y * height), height - 1)
    around = pixels[max(0, row - 1):row + 2, max(0, column - 1):column + 2]
    return bool(around.any() and not around.all())


def test_uniform_clicks_land_anywhere_on_the_object_and_edge_clicks_on_its_boundary(tmp_path):
    uniform = _imagenet_clicks(tmp_path / "uniform", click_model="uniform")
    edge = _imagenet_clicks(tmp_path / "edge", click_model="edge")
    centre = _imagenet_clicks(tmp_path / "centre")
    assert len(uniform) >= 50 and len(edge) >= 50
    assert np.mean([_on_object(*c, reach=1) for c in uniform]) >= 0.9  # JPEG's chroma blurs thin strokes
    assert np.mean([_near_edge(*c) for c in edge]) >= 0.85
    assert np.mean([_near_edge(*c) for c in uniform]) < np.mean([_near_edge(*c) for c in edge]) - 0.2

    def spread(clicks):  # how far the clicks of one image fall from their mean: zero for the centre model
        return np.mean([np.hypot(x - ox, y - oy) for (p, x, y), (q, ox, oy) in zip(clicks[1:], clicks) if p is q])

    assert spread(centre) == 0 and spread(uniform) > 0.02


def test_missed_images_are_clicked_on_the_background(tmp_path):
    missed = _imagenet_clicks(tmp_path / "missed", click_model="uniform", miss_rate=1.0)
    assert np.mean([_on_object(*c, reach=0) for c in missed]) <= 0.1
    some = _imagenet_clicks(tmp_path / "some", click_model="uniform", miss_rate=0.4)
    share = 1 - np.mean([_on_object(*c, reach=1) for c in some])
    assert 0.2 <= share <= 0.6  # about 40% of the images (a few clicks per image)


def test_coco_icons_follow_the_click_model(tmp_path):
    root = synthetic.write_coco_ab(tmp_path / "coco", images=40, seed=5, classes=4, val_images=1,
                                   style=synthetic.Style(image_size=64, click_noise=0.0, click_model="uniform"))
    on = []
    for record in json.loads((root / "coco_ab_v1_0.json").read_text()):
        pixels = _object_pixels(root / "train2014" / f"COCO_train2014_{record['image_id']:012d}.jpg")
        on += [_on_object(pixels, a["pointTo"]["x"], a["pointTo"]["y"], reach=1) for a in record["actionHistories"]
               if a["actionType"] in ("add", "move") and a["iconType"] != "street sign"]
    assert len(on) >= 40 and np.mean(on) >= 0.85  # stray icons, added and removed again, land anywhere


def test_click_settings_are_checked():
    with pytest.raises(ValueError, match="click_model"):
        synthetic.Style(click_model="nose")
    with pytest.raises(ValueError, match="miss_rate"):
        synthetic.Style(miss_rate=1.5)
