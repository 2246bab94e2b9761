"""The converters end to end on synthetic releases: Parquet, cards, load_dataset, bad input."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tarfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from datasets import load_dataset

from luab_hf import synthetic
from luab_hf.convert import coco_ab, imagenet_ab, staged
from luab_hf.convert.options import ShardOptions
from luab_hf.labels import COCO_CATEGORY_NAMES_91


def _tables(folder: Path, config: str) -> dict[str, object]:
    return {p.name: pq.read_table(p) for p in sorted((folder / "data" / config).glob("*.parquet"))}


def _imagenet(release: Path, out: Path, *extra: str) -> int:
    return imagenet_ab.main(["--xml", str(release), "--output", str(out), "--label-set", "present", *extra])


def _reference_order(image_ids: list[str], seed: int) -> list[str]:
    """The documented row order, computed here on its own: ascending 64-bit BLAKE2b of seed and id."""
    def key(image_id: str) -> int:
        return int.from_bytes(hashlib.blake2b(f"{seed}\0{image_id}".encode(), digest_size=8).digest(), "big")
    return sorted(image_ids, key=key)


def test_tarball_and_folder_give_the_same_shards_in_a_seeded_class_mixed_order(imagenet_release, tmp_path):
    """Tar members in shuffled order, a folder in sorted order, 2 workers or 1: the same shards,
    rows in the documented seeded order (which mixes classes); another seed, another order."""
    members = sorted((imagenet_release / "train_xml").rglob("*.xml"))
    random.Random(3).shuffle(members)
    tarball = tmp_path / "imagenet_ab_v1_0.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        for path in members:
            tar.add(path, arcname=str(path.relative_to(imagenet_release)))
    assert _imagenet(tarball, tmp_path / "from_tar", "--num-workers", "2", "--shard-size", "7") == 0
    assert _imagenet(imagenet_release / "train_xml", tmp_path / "from_dir", "--num-workers", "1", "--shard-size", "7") == 0
    from_tar, from_dir = _tables(tmp_path / "from_tar", "byproducts"), _tables(tmp_path / "from_dir", "byproducts")
    assert list(from_tar) == [f"train-{i:05d}-of-00004.parquet" for i in range(4)] and list(from_tar) == list(from_dir)
    for name in from_tar:
        assert from_tar[name].equals(from_dir[name]) and from_tar[name].num_rows <= 7
    ids = [i for table in from_tar.values() for i in table.column("image_id").to_pylist()]
    assert len(ids) == 24 and ids == _reference_order(ids, seed=0)
    assert len({i.split("_")[0] for i in ids[:6]}) > 1  # not class by class

    assert _imagenet(imagenet_release / "train_xml", tmp_path / "seed1", "--seed", "1") == 0
    reseeded = [i for t in _tables(tmp_path / "seed1", "byproducts").values() for i in t.column("image_id").to_pylist()]
    assert sorted(reseeded) == sorted(ids) and reseeded == _reference_order(ids, seed=1) and reseeded != ids


def test_shards_are_the_same_however_the_write_pass_is_cut(imagenet_release, tmp_path, monkeypatch):
    """Many staged chunks merged two at a time over three levels, runs of one bucket, two staged
    files copied out at a time, with images (and a repeated id across chunks, dropped): the same
    shards as one run over one chunk."""
    release = Path(shutil.copytree(imagenet_release, tmp_path / "release"))
    first = sorted((release / "train_xml").rglob("*.xml"))[0]
    shutil.copy(first, first.parent.parent / sorted(p.name for p in (release / "train_xml").iterdir())[-1] / first.name)
    options = ("--images", str(release), "--shard-size", "5", "--skip-invalid", "--num-workers", "2")
    assert _imagenet(release, tmp_path / "whole", *options) == 0
    monkeypatch.setattr(imagenet_ab, "IMAGE_CHUNK", 3)
    cut = ShardOptions(shard_size=5, run_bytes=1, files_at_once=2, fan_in=2)
    monkeypatch.setattr(ShardOptions, "from_args", classmethod(lambda cls, args: cut))
    original = staged.merge_tasks
    merges = []
    monkeypatch.setattr(staged, "merge_tasks", lambda *args: merges.append(args[2]) or original(*args))
    assert _imagenet(release, tmp_path / "cut", *options) == 0
    assert [len(files) for files in merges] == [9, 5, 3]  # 25 records in chunks of 3 -> 9 -> 5 -> 3 -> 2 files
    for config in ("default", "byproducts"):
        whole, cut = _tables(tmp_path / "whole", config), _tables(tmp_path / "cut", config)
        assert list(whole) == list(cut) and len(whole) == 5
        for name in whole:
            assert whole[name].equals(cut[name])
    ids = [i for table in _tables(tmp_path / "cut", "default").values() for i in table.column("image_id").to_pylist()]
    assert len(ids) == len(set(ids)) == 24 and ids == _reference_order(ids, seed=0)


def test_colliding_keys_are_ordered_by_image_id_whatever_the_input_order(imagenet_release, tmp_path, monkeypatch):
    """Two ids with one 64-bit key (forced here for every id): rows fall back to image id order, so
    shuffled tar members and a sorted folder still give the same shards."""
    monkeypatch.setattr(staged, "row_key", lambda seed, image_id: 1 << 60)
    members = sorted((imagenet_release / "train_xml").rglob("*.xml"))
    random.Random(5).shuffle(members)
    tarball = tmp_path / "shuffled.tar"
    with tarfile.open(tarball, "w") as tar:
        for path in members:
            tar.add(path, arcname=str(path.relative_to(imagenet_release)))
    assert _imagenet(tarball, tmp_path / "from_tar", "--shard-size", "10", "--num-workers", "2") == 0
    assert _imagenet(imagenet_release, tmp_path / "from_dir", "--shard-size", "10") == 0
    from_tar, from_dir = _tables(tmp_path / "from_tar", "byproducts"), _tables(tmp_path / "from_dir", "byproducts")
    assert list(from_tar) == list(from_dir) and all(from_tar[n].equals(from_dir[n]) for n in from_tar)
    ids = [i for table in from_tar.values() for i in table.column("image_id").to_pylist()]
    assert len(ids) == 24 and ids == sorted(ids)


def test_streamed_batches_hold_as_many_classes_as_a_global_shuffle(tmp_path):
    """A streaming shuffle buffer small next to the dataset (1,000 rows of 1.28M in a real run,
    32 of 500 here): its batches hold as many distinct classes as batches of a global shuffle,
    within 10%. Rows stored class by class, as the release lists them, hold far fewer."""
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=20, images_per_class=25, seed=4)
    out = tmp_path / "out"
    assert _imagenet(raw / "train_xml", out) == 0
    stream = load_dataset(str(out), "byproducts", split="train", streaming=True).shuffle(seed=0, buffer_size=32)
    streamed = [row["wnid"] for row in stream]
    assert len(streamed) == 500

    def distinct_per_batch(labels: list[str], size: int = 16) -> float:
        batches = [labels[i:i + size] for i in range(0, len(labels) - size + 1, size)]
        return sum(len(set(b)) for b in batches) / len(batches)

    rng = random.Random(0)
    shuffled = [distinct_per_batch(rng.sample(streamed, len(streamed))) for _ in range(20)]
    globally = sum(shuffled) / len(shuffled)
    assert distinct_per_batch(streamed) >= 0.9 * globally

    by_class = sorted(streamed)  # the input order, through the same kind of buffer
    buffered, buffer = [], []
    for label in by_class:
        buffer.append(label)
        if len(buffer) == 32:
            buffered.append(buffer.pop(rng.randrange(32)))
    buffered += rng.sample(buffer, len(buffer))
    assert distinct_per_batch(buffered) < 0.7 * globally


def test_imagenet_with_images_and_eval_splits_loads(imagenet_release, tmp_path):
    out = tmp_path / "ImageNet-AB"
    assert _imagenet(imagenet_release, out, "--images", str(imagenet_release),
                     "--eval-split", f"validation={imagenet_release / 'val'}",
                     "--eval-split", f"validation_shifted={imagenet_release / 'val_shifted'}",
                     "--shard-size", "10") == 0
    assert len(list((out / "data" / "default").glob("train-*-of-00003.parquet"))) == 3
    default = load_dataset(str(out))
    assert set(default) == {"train", "validation", "validation_shifted"}
    assert default["train"].num_rows == 24 and default["validation"].num_rows == 6
    row = default["train"][0]
    assert row["image"].size == (64, 64) and row["width"] == 64
    names = default["train"].features["label"].names
    assert len(names) == 3 and row["wnid"] in {p.name for p in (imagenet_release / "train").iterdir()}
    assert default["train"].features["label"].int2str(row["label"]) == names[row["label"]]
    labelled = [r for r in default["train"] if r["click_point"] is not None]
    assert labelled and all(0 <= v <= 1 for r in labelled for v in r["click_point"])
    assert default["validation"][0]["annotations"] is None and default["validation"][0]["click_point"] is None

    byproducts = load_dataset(str(out), "byproducts")
    assert set(byproducts) == {"train"} and "image" not in byproducts["train"].column_names
    assert byproducts["train"]["image_id"] == default["train"]["image_id"]

    streamed = load_dataset(str(out), "byproducts", split="train", streaming=True)
    first = next(iter(streamed))
    assert first["image_id"] == byproducts["train"][0]["image_id"]
    assert first["annotations"] == byproducts["train"][0]["annotations"]

    tensors = default["train"].with_format("torch")[:4]
    assert tensors["label"].dtype == torch.int64 and tensors["image"][0].shape == (3, 64, 64)
    card = (out / "README.md").read_text()
    assert "config_name: default" in card and "config_name: byproducts" in card and "apache-2.0" in card
    assert "No record was skipped" in card and "Input records: 36" in card

    # images stored as they are (JPEG does not compress), every other column zstd
    for shard in (out / "data" / "default").glob("train-*.parquet"):
        meta = pq.ParquetFile(shard).metadata
        codecs = {meta.row_group(0).column(i).path_in_schema: meta.row_group(0).column(i).compression
                  for i in range(meta.num_columns)}
        assert codecs.pop("image.bytes") == "UNCOMPRESSED" and codecs.pop("image.path") == "UNCOMPRESSED"
        assert set(codecs.values()) == {"ZSTD"}, shard


def test_imagenet_label_set_is_imagenet_1k_by_default(imagenet_release, tmp_path):
    out = tmp_path / "full"
    assert imagenet_ab.main(["--xml", str(imagenet_release), "--output", str(out)]) == 0
    features = load_dataset(str(out), "byproducts", split="train").features
    assert features["label"].num_classes == 1000 and features["label"].names[0] == "tench"


def test_existing_output_is_kept_unless_overwrite(imagenet_release, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert _imagenet(imagenet_release, out) == 1
    assert "already exists" in capsys.readouterr().err and (out / "keep.txt").exists()
    assert _imagenet(imagenet_release, out, "--overwrite") == 0
    assert not (out / "keep.txt").exists() and (out / "README.md").exists()


def _coco(release: Path, out: Path, *extra: str) -> int:
    return coco_ab.main(["--json", str(release / "coco_ab_v1_0.json"), "--output", str(out), *extra])


def test_coco_end_to_end_with_images_labels_and_eval(coco_release, tmp_path):
    out = tmp_path / "COCO-AB"
    assert _coco(coco_release, out, "--images", str(coco_release / "train2014"),
                 "--instances", str(coco_release / "annotations" / "instances_train2014.json"),
                 "--eval-split", f"validation={coco_release / 'val'}",
                 "--eval-instances", f"validation={coco_release / 'annotations' / 'instances_val.json'}") == 0
    ds = load_dataset(str(out))
    assert ds["train"].num_rows == 12 and ds["validation"].num_rows == 4
    instances = json.loads((coco_release / "annotations" / "instances_train2014.json").read_text())
    expected = {}
    for a in instances["annotations"]:
        expected.setdefault(a["image_id"], set()).add(a["category_id"])
    names = ds["train"].features["labels"].feature.names
    for row in ds["train"]:
        ids = {COCO_CATEGORY_NAMES_91.index(names[i]) + 1 for i in row["labels"]}
        assert ids == expected[row["image_id"]]
        assert row["image"].size == (64, 64) and row["points"]
        assert {p["category"] for p in row["points"]} <= set(row["labels"])
    assert ds["validation"][0]["points"] is None and ds["validation"][0]["labels"]
    streamed = next(iter(load_dataset(str(out), "byproducts", split="train", streaming=True)))
    assert streamed["image_id"] == ds["train"][0]["image_id"]
    assert "points | final" in (out / "README.md").read_text()


def test_coco_add_only_reading_differs_only_where_moves_or_removes(coco_release, tmp_path):
    assert _coco(coco_release, tmp_path / "final") == 0
    assert _coco(coco_release, tmp_path / "adds", "--points", "add-only") == 0
    final = load_dataset(str(tmp_path / "final"), split="train")
    adds = load_dataset(str(tmp_path / "adds"), split="train")
    assert "points | add-only" in (tmp_path / "adds" / "README.md").read_text()
    differ = [f["image_id"] for f, a in zip(final, adds) if f["points"] != a["points"]]
    edited = [f["image_id"] for f in final if any(x["action"] != "add" for x in f["actions"])]
    assert set(differ) <= set(edited)


def test_push_to_hub_uploads_the_finished_folder_once(imagenet_release, tmp_path, monkeypatch):
    calls = []

    class FakeApi:
        def create_repo(self, repo_id, **kwargs):
            calls.append(("create_repo", repo_id, kwargs["repo_type"]))

        def upload_folder(self, **kwargs):
            calls.append(("upload_folder", kwargs["repo_id"], kwargs["repo_type"],
                          sorted(p.name for p in Path(kwargs["folder_path"]).iterdir())))
            return "https://hub.example/commit/1"

    monkeypatch.setattr("luab_hf.hub.HfApi", FakeApi)
    out = tmp_path / "out"
    assert _imagenet(imagenet_release, out, "--push-to-hub", "org/ImageNet-AB") == 0
    assert calls == [("create_repo", "org/ImageNet-AB", "dataset"),
                     ("upload_folder", "org/ImageNet-AB", "dataset", ["README.md", "data", "preview.png"])]


def test_scripts_have_help():
    for module in (imagenet_ab, coco_ab):
        with pytest.raises(SystemExit) as done:
            module.main(["--help"])
        assert done.value.code == 0


def test_reconverting_into_the_same_folder_is_not_served_from_a_stale_cache(imagenet_release, tmp_path):
    out = tmp_path / "ImageNet-AB"
    assert _imagenet(imagenet_release, out) == 0
    first = load_dataset(str(out), split="train")
    assert first.num_rows == 24 and "dataset_info" in (out / "README.md").read_text()
    smaller = tmp_path / "smaller"
    shutil.copytree(imagenet_release / "train_xml", smaller / "train_xml")
    for path in sorted((smaller / "train_xml").rglob("*.xml"))[:5]:
        path.unlink()
    assert _imagenet(smaller, out, "--overwrite") == 0
    assert load_dataset(str(out), split="train").num_rows == 19


def test_epoch_millisecond_times_round_trip_exactly_and_out_of_80_icons_are_counted(tmp_path):
    folder = tmp_path / "train_xml" / "n01440764"
    folder.mkdir(parents=True)
    times = [1668000000571, 1668000000664, 1668000000762]
    trace = "".join(f"<mouseTracking><time>{t}</time><x>0.5</x><y>0.5</y></mouseTracking>" for t in times)
    (folder / "n01440764_1.xml").write_text(
        "<annotation><folder>n01440764</folder><filename>n01440764_1</filename><metadata><selected>True</selected>"
        f"<selectedRecord><x>0.5</x><y>0.5</y><time>{times[-1] + 9}</time></selectedRecord>{trace}</metadata></annotation>")
    assert _imagenet(tmp_path, tmp_path / "out") == 0
    annotation = load_dataset(str(tmp_path / "out"), "byproducts", split="train")[0]["annotations"][0]
    assert [p["time_ms"] for p in annotation["mouse_trace"]] == times
    assert annotation["click"]["time_ms"] == times[-1] + 9

    records = [{"image_id": 1, "actionHistories": [
        {"actionType": "add", "iconType": "street sign", "pointTo": {"x": 0.1, "y": 0.1}, "timeAt": 5},
        {"actionType": "add", "iconType": "hat", "pointTo": {"x": 0.2, "y": 0.1}, "timeAt": 6},
        {"actionType": "add", "iconType": "cat", "pointTo": {"x": 0.3, "y": 0.3}, "timeAt": 16000000000}]}]
    (tmp_path / "coco.json").write_text(json.dumps(records))
    assert coco_ab.main(["--json", str(tmp_path / "coco.json"), "--output", str(tmp_path / "coco")]) == 0
    assert "icons outside the 80 classes: 2" in (tmp_path / "coco" / "README.md").read_text()
    row = load_dataset(str(tmp_path / "coco"), "byproducts", split="train")[0]
    assert [a["category"] for a in row["actions"]] == ["street sign", "hat", "cat"] and len(row["points"]) == 1
    assert row["actions"][2]["time_ms"] == 16000000000


@pytest.mark.parametrize("where", ["the release itself", "a parent of the release", "the images folder"])
def test_an_output_that_is_or_holds_an_input_is_refused_and_nothing_is_touched(imagenet_copy, where, capsys):
    output = {"the release itself": imagenet_copy, "a parent of the release": imagenet_copy.parent,
              "the images folder": imagenet_copy / "train"}[where]
    before = sorted(str(p) for p in imagenet_copy.rglob("*"))
    code = imagenet_ab.main(["--xml", str(imagenet_copy), "--images", str(imagenet_copy / "train"),
                             "--label-set", "present", "--output", str(output), "--overwrite"])
    assert code == 1 and "would replace your data" in capsys.readouterr().err
    assert sorted(str(p) for p in imagenet_copy.rglob("*")) == before


def test_coco_output_equal_to_the_images_folder_is_refused(coco_release, tmp_path, capsys):
    images = Path(shutil.copytree(coco_release / "train2014", tmp_path / "images"))
    count = len(list(images.iterdir()))
    assert coco_ab.main(["--json", str(coco_release / "coco_ab_v1_0.json"), "--images", str(images),
                         "--output", str(images), "--overwrite"]) == 1
    assert "is the input --images" in capsys.readouterr().err and len(list(images.iterdir())) == count


def test_images_report_their_shown_size_and_oversized_ones_are_refused(tmp_path):
    from PIL import Image

    from luab_hf.byproducts import ByproductError
    from luab_hf.convert.images import read_image

    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait: rotate 90 degrees
    Image.new("RGB", (40, 20)).save(path, exif=exif)
    _, width, height = read_image(path)
    assert (width, height) == (20, 40)
    with pytest.raises(ByproductError, match="above --max-image-pixels 100"):
        read_image(path, max_pixels=100)


@pytest.mark.parametrize("flag", ["--shard-size", "--num-workers"])
def test_sizes_and_counts_must_be_positive(imagenet_release, tmp_path, flag, capsys):
    with pytest.raises(SystemExit) as done:
        _imagenet(imagenet_release, tmp_path / "out", flag, "0")
    assert done.value.code == 2 and "expected a number > 0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_only_wnid_folders_become_classes(imagenet_copy, tmp_path):
    (imagenet_copy / "train_xml" / "ds").mkdir()  # a user's folder beside the classes
    assert _imagenet(imagenet_copy, tmp_path / "out") == 0
    from luab_hf.labels import imagenet_name

    names = load_dataset(str(tmp_path / "out"), "byproducts", split="train").features["label"].names
    wnids = sorted(p.name for p in (imagenet_copy / "train_xml").iterdir() if p.name != "ds")
    assert names == [imagenet_name(w) for w in wnids] and len(names) == 3


def test_two_conversions_into_one_output_cannot_both_succeed(imagenet_release, tmp_path):
    import subprocess
    import sys

    output = tmp_path / "out"
    command = [sys.executable, "-m", "luab_hf.convert.imagenet_ab", "--xml", str(imagenet_release), "--images",
               str(imagenet_release), "--label-set", "present", "--output", str(output), "--num-workers", "1"]
    first, second = (subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(2))
    codes = sorted([first.wait(timeout=300), second.wait(timeout=300)])
    errors = first.stderr.read().decode() + second.stderr.read().decode()
    assert codes == [0, 1] and "already exists" in errors
    assert (output / "README.md").is_file() and not list(tmp_path.glob(".out.*"))


def test_row_groups_are_sized_by_bytes(tmp_path, monkeypatch):
    """Row groups stay under the byte budget (100 MB for real; 40 KB here, on 3 KB images)."""
    small = ShardOptions(max_row_group_bytes=40_000)
    monkeypatch.setattr(ShardOptions, "from_args", classmethod(lambda cls, args: small))
    raw = synthetic.write_imagenet_ab(tmp_path / "raw", classes=2, images_per_class=30, seed=5)
    out = tmp_path / "out"
    assert _imagenet(raw, out, "--images", str(raw), "--num-workers", "1") == 0
    (shard,) = (out / "data" / "default").glob("train-*.parquet")
    meta = pq.ParquetFile(shard).metadata
    images = [meta.row_group(g).column(0).total_uncompressed_size for g in range(meta.num_row_groups)]
    sizes = [meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)]
    assert meta.num_rows == 60 and meta.num_row_groups > 1 and all(s <= 40_000 * 1.2 for s in sizes), (sizes, images)


def test_chunk_functions_run_outside_the_pool_with_their_job(imagenet_release, coco_release):
    """A converter's chunk function is a plain function of its job and chunk: the rows it gives
    are the parser's, its images the files' bytes, and a bad record comes back named."""
    from luab_hf.byproducts import parse_imagenet_ab_xml, read_instances
    from luab_hf.byproducts.coco_ab import parse_coco_ab_record
    from luab_hf.convert.chunks import worker_schema
    from luab_hf.schema import coco_ab_features, imagenet_ab_features

    wnids = sorted(p.name for p in (imagenet_release / "train_xml").iterdir())
    configs = {"default": imagenet_ab_features(wnids, with_image=True)}
    job = imagenet_ab.Job({wnid: i for i, wnid in enumerate(wnids)}, imagenet_release / "train", worker_schema(configs),
                          10**8)
    good = sorted((imagenet_release / "train_xml" / wnids[1]).glob("*.xml"))[0]
    name = f"train_xml/{wnids[1]}/{good.name}"
    chunk = [(name, good.read_bytes()), ("train_xml/x/broken.xml", b"<annotation>")]
    table, errors, names, _ = imagenet_ab.convert_xml_chunk(job, chunk)
    (row,) = table.to_pylist()
    expected = parse_imagenet_ab_xml(good.read_bytes())
    assert row["label"] == 1 and row["click_point"] == pytest.approx(expected["click_point"], abs=1e-7)  # float32
    assert row["image"]["bytes"] == (imagenet_release / "train" / wnids[1] / f"{good.stem}.JPEG").read_bytes()
    assert names == [name, "train_xml/x/broken.xml"] and [source for source, _ in errors] == ["train_xml/x/broken.xml"]

    instances = read_instances(coco_release / "annotations" / "instances_train2014.json", 10**8)
    coco_configs = {"byproducts": coco_ab_features(with_image=False)}
    coco_job = coco_ab.Job("final", instances, None, worker_schema(coco_configs), 10**8)
    record = json.loads((coco_release / "coco_ab_v1_0.json").read_text())[0]
    table, errors, _, _ = coco_ab.convert_record_chunk(coco_job, [("record 0", record)])
    (row,) = table.to_pylist()
    assert not errors and row["labels"] == sorted(instances.labels[record["image_id"]])
    expected = parse_coco_ab_record(record, "record 0", "final")["points"]
    assert [p["category"] for p in row["points"]] == [p["category"] for p in expected]
    assert [v for p in row["points"] for v in (p["x"], p["y"])] == pytest.approx([v for p in expected for v in (p["x"], p["y"])], abs=1e-7)


@pytest.mark.parametrize("with_images", [True, False], ids=["images", "byproducts-only"])
def test_the_card_shows_a_preview_with_the_clicks_drawn(imagenet_release, tmp_path, with_images):
    """preview.png: the first train rows drawn (the Hub's viewer draws no points); in the first
    tile, the click marker's colour rings the first row's click, on its image or a neutral square."""
    import numpy as np
    from PIL import Image

    from luab_hf.visualization import CLICK_COLOUR

    out = tmp_path / "out"
    assert _imagenet(imagenet_release, out, *(["--images", str(imagenet_release)] if with_images else [])) == 0
    assert "![The first train rows" in (out / "README.md").read_text() and "](preview.png)" in (out / "README.md").read_text()
    config = "default" if with_images else "byproducts"
    rows = pq.read_table(sorted((out / "data" / config).glob("train-*.parquet"))[0]).slice(0, 8).to_pylist()
    preview = np.asarray(Image.open(out / "preview.png").convert("RGB"))
    side = 128 if with_images else 160  # 64 px images drawn twice their size; a 160 px neutral square
    offset = 4 + (160 - side) // 2  # the grid's padding, then the tile's centring
    checked = 0
    for index, row in enumerate(rows):
        left, top = (index % 4) * (160 + 4), (index // 4) * (160 + 4)  # four tiles a row, 4 px apart
        for x, y in row["clicks"]:
            column, line = int(left + offset + x * side), int(top + offset + y * side)
            window = preview[line - 4:line + 5, column - 4:column + 5].reshape(-1, 3)
            assert (window == CLICK_COLOUR).all(1).any(), (index, x, y)
            checked += 1
    assert checked >= 4
    if not with_images:
        assert tuple(preview[offset + 2, offset + 2]) == (215, 215, 215)
