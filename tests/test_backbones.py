"""LUAB on every backbone family, and the Hugging Face conventions users rely on: Trainer,
the image-classification example recipe, AutoModel, export to timm, torch.compile."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import timm
import torch
from huggingface_hub.errors import StrictDataclassError
from PIL import Image
from transformers import (
    AutoImageProcessor,
    AutoModel,
    AutoModelForImageClassification,
    ResNetConfig,
    TimmWrapperConfig,
    ViTConfig,
)

import luab_hf  # noqa: F401  (registers the Auto classes)
from luab_hf import LuabConfig, LuabForImageClassification, export_timm, make_image_processor

SIZE = 64
TINY_VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=SIZE,
                patch_size=16)
TINY_SWIN = dict(embed_dim=16, depths=(1, 1), num_heads=(1, 2), img_size=SIZE, window_size=4)

#: name -> (backbone config, extra LuabConfig fields, whether the logits are the mean of the class maps)
BACKBONES = {
    "vit-cls": (ViTConfig(**TINY_VIT), {}, False),
    "vit-mean": (ViTConfig(**TINY_VIT), {"pooling": "mean"}, True),
    "resnet": (ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"), {}, True),
    "timm-test_vit": (TimmWrapperConfig(architecture="test_vit"), {}, False),
    "timm-test_resnet": (TimmWrapperConfig(architecture="test_resnet"), {}, True),
    "timm-test_convnext": (TimmWrapperConfig(architecture="test_convnext"), {}, False),
    "timm-mobilenetv3_small_050": (TimmWrapperConfig(architecture="mobilenetv3_small_050"), {}, False),
    "timm-swin": (TimmWrapperConfig(architecture="swin_tiny_patch4_window7_224", model_args=TINY_SWIN), {}, True),
    "timm-test_mambaout": (TimmWrapperConfig(architecture="test_mambaout"), {}, False),
}


def _model(name: str, num_labels: int = 3, **kwargs) -> LuabForImageClassification:
    backbone, extra, _ = BACKBONES[name]
    torch.manual_seed(0)
    config = LuabConfig(backbone_config=backbone.__class__.from_dict(backbone.to_dict()), num_labels=num_labels,
                        id2label={i: f"class_{i}" for i in range(num_labels)},
                        label2id={f"class_{i}": i for i in range(num_labels)}, **extra, **kwargs)
    return LuabForImageClassification(config)


def _batch(size: int = 4) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    points = torch.rand(size, 1, 2, generator=generator)
    valid = torch.tensor([[True], [False], [True], [False]])[:size]
    points[~valid[:, 0], 0] = torch.tensor([float("nan"), 7.0])  # invalid points may hold anything
    return {"pixel_values": torch.randn(size, 3, SIZE, SIZE, generator=generator), "labels": torch.arange(size) % 3,
            "points": points, "points_valid": valid}


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_trains_maps_checkpoints_and_round_trips(name, tmp_path):
    model = _model(name, byproduct_targets=["click", "mouse_trace", "time"])
    batch = _batch() | {"trace": torch.rand(4, 8, 2), "trace_valid": torch.ones(4, 8, dtype=torch.bool),
                        "annotation_time": torch.rand(4), "annotation_time_valid": torch.ones(4, dtype=torch.bool)}
    out = model(**batch, output_class_maps=True)
    assert out.logits.shape == (4, 3) and out.point_predictions.shape == (4, 1, 2)
    assert out.trace_predictions.shape == (4, 8, 2) and out.time_predictions.shape == (4,)
    assert torch.isfinite(out.loss) and out.class_maps.shape[:2] == (4, 3) and out.class_maps.dim() == 4
    if BACKBONES[name][2]:  # the logits are the mean of the per-cell class scores
        torch.testing.assert_close(out.class_maps.mean((-2, -1)), out.logits, rtol=1e-4, atol=1e-4)
    assert model.class_maps_decompose() == BACKBONES[name][2]

    out.loss.backward()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    assert grads and model.classifier.weight.grad is not None and model.point_head.weight.grad is not None
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())

    # activation (gradient) checkpointing on: same loss and gradients (no dropout in these configs)
    model.zero_grad()
    model.activation_checkpointing_enable()
    model.train()
    torch.manual_seed(3)
    plain_loss = _model(name, byproduct_targets=["click", "mouse_trace", "time"])(**batch).loss
    checkpointed = _model(name, byproduct_targets=["click", "mouse_trace", "time"])
    checkpointed.activation_checkpointing_enable()
    checkpointed.train()
    loss = checkpointed(**batch).loss
    loss.backward()
    torch.testing.assert_close(loss, plain_loss)
    assert checkpointed.classifier.weight.grad is not None

    model.eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    loaded = AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    assert isinstance(loaded, LuabForImageClassification) and loaded.config.byproduct_targets == model.config.byproduct_targets
    with torch.no_grad():
        assert torch.equal(model(batch["pixel_values"]).logits, loaded(batch["pixel_values"]).logits)


def test_remote_code_loads_every_backbone_without_luab_hf(tmp_path):
    """The flat modelling files shipped with each checkpoint load it where luab_hf is absent."""
    logits = {}
    for name in BACKBONES:
        model = _model(name).eval()
        model.save_pretrained(tmp_path / name)
        make_image_processor(size=SIZE).save_pretrained(tmp_path / name)
        with torch.no_grad():
            logits[name] = model(_batch()["pixel_values"]).logits
        torch.save(_batch()["pixel_values"], tmp_path / "pixels.pt")
        torch.save(logits[name], tmp_path / name / "expected.pt")
    assert sorted(p.name for p in (tmp_path / "vit-mean").iterdir()) == [
        "config.json", "configuration_luab.py", "expected.pt", "model.safetensors", "modeling_luab.py",
        "preprocessor_config.json"]  # the checkpoint carries its flat modelling files
    script = textwrap.dedent(f"""
        import sys
        sys.modules["luab_hf"] = None  # any import of it fails
        import torch
        from PIL import Image
        from transformers import AutoModel, AutoModelForImageClassification, pipeline
        pixels = torch.load({str(tmp_path / 'pixels.pt')!r})
        for name in {list(BACKBONES)!r}:
            folder = {str(tmp_path)!r} + "/" + name
            model = AutoModelForImageClassification.from_pretrained(folder, trust_remote_code=True).eval()
            assert "luab_hf" not in type(model).__module__, type(model).__module__
            with torch.no_grad():
                assert torch.equal(model(pixels).logits, torch.load(folder + "/expected.pt")), name
            base = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
            assert type(base).__name__ == "LuabModel" and "luab_hf" not in type(base).__module__
            with torch.no_grad():
                assert torch.equal(base(pixels).pooler_output, model.luab(pixels).pooler_output), name
        # each pipeline task with remote code alone
        folder = {str(tmp_path)!r} + "/vit-mean"
        features = pipeline("image-feature-extraction", model=folder, trust_remote_code=True, pool=True)(
            Image.new("RGB", (80, 80), (30, 60, 90)))
        assert len(features[0]) == 32, len(features[0])
        scores = pipeline("image-classification", model=folder, trust_remote_code=True)(Image.new("RGB", (80, 80)))
        assert len(scores) == 3 and scores[0]["label"].startswith("class_")
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-4000:]


def test_trainer_evaluate_hands_compute_metrics_the_logits(tmp_path):
    from torch.utils.data import Dataset
    from transformers import Trainer, TrainingArguments

    from luab_hf.data import collate_byproducts

    class Rows(Dataset):
        def __len__(self) -> int:
            return 12

        def __getitem__(self, index: int) -> dict:
            generator = torch.Generator().manual_seed(index)
            return {"pixel_values": torch.randn(3, SIZE, SIZE, generator=generator), "labels": index % 3,
                    "points": torch.rand(1, 2, generator=generator), "points_valid": torch.tensor([index % 2 == 0])}

    seen = {}

    def compute_metrics(prediction) -> dict:
        seen["shape"] = np.asarray(prediction.predictions).shape
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    args = TrainingArguments(output_dir=str(tmp_path), per_device_train_batch_size=4, per_device_eval_batch_size=4,
                             max_steps=2, report_to=[], use_cpu=True, save_strategy="no", dataloader_num_workers=0)
    trainer = Trainer(model=_model("resnet"), args=args, train_dataset=Rows(), eval_dataset=Rows(),
                      data_collator=collate_byproducts, compute_metrics=compute_metrics)
    trainer.train()
    metrics = trainer.evaluate()
    assert seen["shape"] == (12, 3) and 0.0 <= metrics["eval_accuracy"] <= 1.0 and "eval_loss" in metrics


def test_image_classification_example_recipe_fine_tunes_a_luab_vit_checkpoint(tmp_path):
    """What transformers' run_image_classification(_no_trainer).py does with a checkpoint's processor:
    RandomResizedCrop / Resize+CenterCrop to ``size["shortest_edge"]`` (73 px for this 64 px model)."""
    from torchvision.transforms import (
        CenterCrop,
        Compose,
        Normalize,
        RandomResizedCrop,
        Resize,
        ToTensor,
    )

    _model("vit-cls").save_pretrained(tmp_path / "luab")
    make_image_processor(size=SIZE).save_pretrained(tmp_path / "luab")
    processor = AutoImageProcessor.from_pretrained(tmp_path / "luab")
    size = processor.size["shortest_edge"] if "shortest_edge" in processor.size else (
        processor.size["height"], processor.size["width"])
    normalize = Normalize(mean=processor.image_mean, std=processor.image_std)
    train_transform = Compose([RandomResizedCrop(size), ToTensor(), normalize])
    eval_transform = Compose([Resize(size), CenterCrop(size), ToTensor(), normalize])
    model = AutoModelForImageClassification.from_pretrained(
        tmp_path / "luab", num_labels=5, id2label={i: str(i) for i in range(5)}, label2id={str(i): i for i in range(5)},
        ignore_mismatched_sizes=True)
    images = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (90, 120, 3), np.uint8)) for i in range(4)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    loss = model(pixel_values=torch.stack([train_transform(i) for i in images]), labels=torch.arange(4)).loss
    loss.backward()
    optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(pixel_values=torch.stack([eval_transform(i) for i in images])).logits
    assert logits.shape == (4, 5) and torch.isfinite(logits).all()
    # the processor's own output is still the model's input size
    assert processor(images[0], return_tensors="pt")["pixel_values"].shape[-2:] == (SIZE, SIZE)


def test_auto_model_and_feature_extraction_pipeline(tmp_path):
    from transformers import pipeline

    model = _model("vit-mean")
    model.save_pretrained(tmp_path)
    make_image_processor(size=SIZE).save_pretrained(tmp_path)
    base = AutoModel.from_pretrained(tmp_path).eval()
    assert type(base).__name__ == "LuabModel"
    pixels = _batch()["pixel_values"]
    with torch.no_grad():
        torch.testing.assert_close(base(pixels).pooler_output, model.eval().luab(pixels).pooler_output)
    features = pipeline("image-feature-extraction", model=str(tmp_path), pool=True)(
        Image.new("RGB", (80, 80), (30, 60, 90)))
    assert np.asarray(features).shape[-1] == 32


def test_vit_attentions_sdpa_and_interpolated_positions(tmp_path):
    model = _model("vit-cls")
    model.set_attn_implementation("eager")  # sdpa computes no attention weights to return
    out = model(_batch()["pixel_values"], output_attentions=True, output_hidden_states=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (4, 2, 17, 17) and len(out.hidden_states) == 3
    model.save_pretrained(tmp_path)
    sdpa = LuabForImageClassification.from_pretrained(tmp_path, attn_implementation="sdpa").eval()
    assert sdpa.config.backbone_config._attn_implementation == "sdpa"
    with torch.no_grad():
        torch.testing.assert_close(sdpa(_batch()["pixel_values"]).logits, model.eval()(_batch()["pixel_values"]).logits,
                                   rtol=1e-4, atol=1e-5)
        assert sdpa(torch.randn(1, 3, 96, 80)).logits.shape == (1, 3)  # any size: positions interpolated


def test_export_timm_writes_timms_folder_format_that_timm_rebuilds_with_identical_logits(tmp_path):
    for name in ("timm-test_resnet", "timm-mobilenetv3_small_050", "timm-test_convnext"):
        model = _model(name, num_labels=4).eval()
        folder = export_timm(model, tmp_path / name)
        reference = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
        assert reference.num_classes == 4 and reference.pretrained_cfg["label_names"] == [f"class_{i}" for i in range(4)]
        assert json.loads((tmp_path / name / "config.json").read_text())["architecture"] == BACKBONES[name][0].architecture
        pixels = _batch()["pixel_values"]
        with torch.no_grad():
            torch.testing.assert_close(reference(pixels), model(pixels).logits, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="timm backbone"):
        export_timm(_model("resnet"), tmp_path / "x")
    with pytest.raises(ValueError, match="pass a folder"):
        export_timm(_model("timm-test_resnet"), tmp_path / "x.safetensors")


def test_a_training_step_compiles_as_one_graph():
    """No host syncs, boolean indexing or data-dependent shapes in forward and loss: the whole
    training step, with valid and invalid points, is one graph (``fullgraph=True``)."""
    torch._dynamo.reset()
    model = _model("resnet", attention_loss_weight=0.5)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
    loss = compiled(**_batch()).loss
    loss.backward()
    assert torch.isfinite(loss) and model.classifier.weight.grad is not None
    torch.testing.assert_close(loss, model(**_batch()).loss, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("override", [{"byproduct_loss_weight": -1.0}, {"byproduct_loss": "huber"},
                                      {"pooling": "max"}, {"attention_radius": -0.1}, {"classifier_dropout": 1.5}])
def test_invalid_config_values_are_refused_through_from_pretrained(override, tmp_path):
    _model("resnet").save_pretrained(tmp_path)
    with pytest.raises(StrictDataclassError, match=next(iter(override))):
        LuabForImageClassification.from_pretrained(tmp_path, **override)


def test_attention_loss_needs_logits_that_decompose():
    with pytest.raises(StrictDataclassError, match="pooling='mean'"):
        _model("vit-cls", attention_loss_weight=1.0)
    with pytest.raises(ValueError, match="mobilenetv3_small_050"):
        _model("timm-mobilenetv3_small_050", attention_loss_weight=1.0)
    assert _model("vit-mean", attention_loss_weight=1.0).config.attention_loss_weight == 1.0



def test_luab_trainer_trains_on_a_converted_dataset_with_plain_training_arguments(imagenet_release, tmp_path):
    """transformers' TrainingArguments with its defaults (remove_unused_columns=True included):
    the rows reach the batch transform whole, the loss terms are logged, compute_metrics sees the
    logits, and the output folder carries LUAB's card."""
    from datasets import load_dataset
    from transformers import TrainingArguments

    from luab_hf import LuabTrainer, PointTransform, create_luab_model
    from luab_hf.convert import imagenet_ab
    from luab_hf.data import LuabBatchTransform

    data = tmp_path / "ImageNet-AB"
    assert imagenet_ab.main(["--xml", str(imagenet_release), "--images", str(imagenet_release), "--label-set", "present",
                             "--output", str(data), "--eval-split", f"validation={imagenet_release / 'val'}"]) == 0
    train, validation = load_dataset(str(data), split="train"), load_dataset(str(data), split="validation")
    names = train.features["label"].names
    train.set_transform(LuabBatchTransform(PointTransform.for_training(size=32), task="imagenet-ab", seed=0))
    validation.set_transform(LuabBatchTransform(PointTransform.for_eval(size=32), task="imagenet-ab"))
    model = create_luab_model("resnet-micro", num_labels=len(names), id2label=dict(enumerate(names)),
                              attention_loss_weight=0.5)
    seen = {}

    def compute_metrics(prediction) -> dict:
        seen["shape"] = np.asarray(prediction.predictions).shape
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    args = TrainingArguments(output_dir=str(tmp_path / "run"), per_device_train_batch_size=8, max_steps=4,
                             logging_steps=2, eval_strategy="steps", eval_steps=4, report_to=[], use_cpu=True,
                             dataloader_num_workers=0)
    trainer = LuabTrainer(model=model, args=args, train_dataset=train, eval_dataset=validation,
                          compute_metrics=compute_metrics)
    trainer.train()
    trainer.save_model()
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logged) == 2
    for entry in logged:  # the logged terms add up to the logged loss (weights 1.0 and 0.5)
        total = entry["classification_loss"] + 1.0 * entry["byproduct_loss"] + 0.5 * entry["attention_loss"]
        assert total == pytest.approx(entry["loss"], rel=1e-3)
    assert seen["shape"] == (len(validation), len(names))
    card = (tmp_path / "run" / "README.md").read_text()
    assert "model-index" in card and "eval/accuracy" in card and "transformers Trainer" in card
    assert LuabForImageClassification.from_pretrained(tmp_path / "run").config.id2label == dict(enumerate(names))
