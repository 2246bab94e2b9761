"""Shared test data: small synthetic releases made once per test process by the real generator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from luab_hf import synthetic

REPO = Path(__file__).resolve().parent.parent
#: files in exactly the releases' formats (values invented), kept with the tests
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def imagenet_release(tmp_path_factory) -> Path:
    """3 classes x 8 train images (+ val, val_shifted) in ImageNet's layout."""
    out = tmp_path_factory.mktemp("imagenet_release")
    return synthetic.write_imagenet_ab(out, classes=3, images_per_class=8, seed=0, val_per_class=2)


@pytest.fixture(scope="session")
def coco_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coco_release")
    return synthetic.write_coco_ab(out, images=12, seed=0, classes=4, val_images=4)


@pytest.fixture
def imagenet_copy(imagenet_release, tmp_path) -> Path:
    """A private copy of the ImageNet release that a test may damage."""
    return Path(shutil.copytree(imagenet_release, tmp_path / "release"))


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    """Each test gets its own `datasets` cache: its key is the folder name and features, so two
    tests writing different rows to folders of the same name would otherwise share it."""
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_datasets_cache")
