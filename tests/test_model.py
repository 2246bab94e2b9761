"""LuabForImageClassification: losses, masks, backbones, save/load, remote code and pipeline."""

from __future__ import annotations

import pytest
import torch
from huggingface_hub.errors import StrictDataclassError
from PIL import Image
from safetensors.torch import save_file
from transformers import (
    ResNetConfig,
    ResNetForImageClassification,
    TimmWrapperConfig,
    ViTConfig,
    ViTForImageClassification,
    ViTModel,
    pipeline,
)

import luab_hf  # noqa: F401  (registers the Auto classes)
from luab_hf import LuabConfig, LuabForImageClassification, create_luab_model, make_image_processor
from luab_hf.models.luab.modeling_luab import masked_regression_loss

TINY_VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, image_size=32, patch_size=8)
TINY_RESNET = dict(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")
BACKBONES = {
    "vit": ViTConfig(**TINY_VIT),
    "resnet": ResNetConfig(**TINY_RESNET),
    "timm": TimmWrapperConfig(architecture="test_resnet"),
}


def _model(backbone="vit", num_labels=3, **kwargs) -> LuabForImageClassification:
    torch.manual_seed(0)
    id2label = {i: f"class_{i}" for i in range(num_labels)}
    return LuabForImageClassification(LuabConfig(backbone_config=BACKBONES[backbone], num_labels=num_labels,
                                                 id2label=id2label, **kwargs))


def _batch(size=4, k=1):
    torch.manual_seed(1)
    return {"pixel_values": torch.randn(size, 3, 32, 32), "labels": torch.arange(size) % 3,
            "points": torch.rand(size, k, 2), "points_valid": torch.ones(size, k, dtype=torch.bool)}


def test_masked_points_add_exactly_zero_loss_and_gradient():
    predictions = torch.rand(4, 2, 2, requires_grad=True)
    targets = torch.rand(4, 2, 2)
    valid = torch.tensor([[True, False], [True, True], [False, False], [True, False]])
    poisoned = targets.clone()
    poisoned[~valid] = torch.tensor([float("nan"), 1e9])
    for kind in ("smooth_l1", "l1", "mse"):
        grads = []
        for t in (targets, poisoned):
            predictions.grad = None
            loss = masked_regression_loss(predictions, t, valid, kind)
            loss.backward()
            grads.append((loss.detach(), predictions.grad.clone()))
        assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])
        assert (grads[0][1][~valid] == 0).all() and torch.isfinite(grads[0][1]).all()
        only_valid = masked_regression_loss(predictions[valid].unsqueeze(0), targets[valid].unsqueeze(0),
                                            torch.ones(1, int(valid.sum()), dtype=torch.bool), kind)
        assert torch.allclose(grads[0][0], only_valid)


def test_a_batch_without_valid_points_still_touches_the_head():
    model = _model()
    batch = _batch()
    batch["points_valid"][:] = False
    batch["points"][:] = float("nan")
    out = model(**batch)
    assert out.byproduct_loss == 0 and torch.isfinite(out.loss)
    out.loss.backward()
    assert model.point_head.weight.grad is not None and (model.point_head.weight.grad == 0).all()


def test_masked_samples_do_not_change_the_model_loss():
    model = _model()
    batch = _batch()
    batch["points_valid"][1] = False
    reference = model(**batch)
    batch["points"][1] = float("nan")
    assert torch.equal(model(**batch).loss, reference.loss)


@pytest.mark.parametrize("backbone", ["vit", "resnet"])
def test_lambda_zero_is_the_plain_classifier(backbone):
    model = _model(backbone, byproduct_loss_weight=0.0)
    model.eval()
    if backbone == "vit":
        plain = ViTForImageClassification(ViTConfig(**TINY_VIT, num_labels=3))
        state = {f"vit.{k}": v for k, v in model.backbone.model.state_dict().items()}
        state |= {"classifier.weight": model.classifier.weight, "classifier.bias": model.classifier.bias}
    else:
        plain = ResNetForImageClassification(ResNetConfig(**TINY_RESNET, num_labels=3))
        state = {f"resnet.{k}": v for k, v in model.backbone.model.state_dict().items()}
        state |= {"classifier.1.weight": model.classifier.weight, "classifier.1.bias": model.classifier.bias}
    missing, unexpected = plain.load_state_dict(state, strict=False)
    assert not unexpected and all("pooler" in key for key in missing)
    plain.eval()
    batch = _batch()
    ours = model(**batch)
    theirs = plain(pixel_values=batch["pixel_values"], labels=batch["labels"])
    assert torch.allclose(ours.logits, theirs.logits, atol=1e-6)
    assert torch.allclose(ours.loss, theirs.loss, atol=1e-6) and ours.byproduct_loss > 0


def test_multi_label_coco_shapes():
    model = _model(num_labels=80, num_points=80, problem_type="multi_label_classification")
    batch = _batch(k=80)
    batch["labels"] = (torch.rand(4, 80) > 0.9).float()
    out = model(**batch)
    assert out.point_predictions.shape == (4, 80, 2) and torch.isfinite(out.loss)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.update(points=torch.rand(4, 2, 2)), r"must have shape \(4, 1, 2\)"),
        (lambda b: b.update(points_valid=torch.ones(3, 1, dtype=torch.bool)), "points_valid"),
        (lambda b: b.pop("points_valid"), "`points` needs `points_valid`"),
        (lambda b: b.update(labels=torch.zeros(4, 3)), "integer class ids"),
        (lambda b: b.update(trace=torch.rand(4, 8, 2)), "no head"),
    ],
)
def test_bad_inputs_say_what_was_expected(change, message):
    model = _model()
    batch = _batch()
    change(batch)
    with pytest.raises(ValueError, match=message):
        model(**batch)


@pytest.mark.parametrize("value", [1.5, -0.1, float("nan")])
def test_valid_points_are_checked_where_the_batch_is_made(value):
    from luab_hf.data import collate_byproducts

    examples = [{"pixel_values": torch.zeros(3, 4, 4), "labels": 0, "points": torch.tensor([[0.5, 0.5]]),
                 "points_valid": torch.tensor([True])} for _ in range(3)]
    examples[2]["points"] = torch.tensor([[0.5, value]])
    with pytest.raises(ValueError, match=r"`points` marked valid must be finite and in \[0, 1\].*example 2"):
        collate_byproducts(examples)
    examples[2]["points_valid"] = torch.tensor([False])  # invalid points may hold anything
    assert collate_byproducts(examples)["points"].shape == (3, 1, 2)


def test_multi_label_config_refuses_single_labels():
    model = _model(problem_type="multi_label_classification")
    with pytest.raises(ValueError, match="multi-hot labels"):
        model(**_batch())


def test_bad_configs_and_backbones():
    with pytest.raises(StrictDataclassError, match="unknown backbone type 'bert'"):
        LuabConfig(backbone_config={"model_type": "bert"})
    with pytest.raises(ValueError, match="unknown backbone 'resnet_does_not_exist'"):
        create_luab_model("resnet_does_not_exist", num_labels=2)


def test_pretrained_backbones_from_local_folders(tmp_path):
    torch.manual_seed(5)
    ViTModel(ViTConfig(**TINY_VIT)).save_pretrained(tmp_path / "vit-checkpoint")
    reference = ViTModel.from_pretrained(tmp_path / "vit-checkpoint", add_pooling_layer=False)
    model = create_luab_model(str(tmp_path / "vit-checkpoint"), num_labels=4, pretrained=True)
    for key, value in reference.state_dict().items():
        assert torch.equal(model.backbone.model.state_dict()[key], value), key

    timm_model = create_luab_model("test_resnet", num_labels=4).backbone.model.timm_model
    weights = {k: v.clone() + 1.0 for k, v in timm_model.state_dict().items()}
    save_file(weights, tmp_path / "test_resnet.safetensors")
    loaded = create_luab_model("test_resnet", num_labels=4, timm_weights=tmp_path / "test_resnet.safetensors")
    for key, value in loaded.backbone.model.timm_model.state_dict().items():
        assert torch.equal(value, weights[key]), key
    with pytest.raises(ValueError, match="only .safetensors"):
        create_luab_model("test_resnet", num_labels=4, timm_weights=tmp_path / "weights.pth")


def _save_with_processor(tmp_path):
    model = create_luab_model("vit-micro", num_labels=3, id2label={0: "circle", 1: "square", 2: "triangle"}, image_size=32)
    model.save_pretrained(tmp_path)
    make_image_processor(size=32).save_pretrained(tmp_path)
    return model


def test_pipeline_returns_readable_labels(tmp_path):
    _save_with_processor(tmp_path)
    classify = pipeline("image-classification", model=str(tmp_path))
    results = classify(Image.new("RGB", (50, 40), (200, 10, 10)), top_k=3)
    assert sorted(r["label"] for r in results) == ["circle", "square", "triangle"]
    assert abs(sum(r["score"] for r in results) - 1) < 1e-4


def test_timm_pretrained_without_network_points_to_local_weights(monkeypatch):
    import types

    import timm

    def offline(*args, **kwargs):
        raise RuntimeError("no network")

    fake = types.SimpleNamespace(create_model=offline, is_model=timm.is_model, list_models=timm.list_models)
    monkeypatch.setattr("luab_hf.models.factory.timm", fake)
    with pytest.raises(OSError, match="--timm_weights"):
        create_luab_model("test_resnet", num_labels=2, pretrained=True)


def test_create_luab_model_takes_id2label_and_label2id_together_and_checks_them():
    from luab_hf import create_luab_model

    names = {0: "cat", 1: "dog"}
    model = create_luab_model("vit-micro", num_labels=2, id2label=names, label2id={"cat": 0, "dog": 1})
    assert model.config.id2label == names and model.config.label2id == {"cat": 0, "dog": 1}
    assert create_luab_model("vit-micro", num_labels=2, label2id={"cat": 0, "dog": 1}).config.id2label == names
    with pytest.raises(ValueError, match="not the inverse of id2label"):
        create_luab_model("vit-micro", num_labels=2, id2label=names, label2id={"cat": 1, "dog": 0})


def test_an_unknown_task_name_lists_the_known_ones():
    from luab_hf.data import LuabBatchTransform
    from luab_hf.schema import TASKS
    from luab_hf.transforms import PointTransform

    with pytest.raises(ValueError, match=r"unknown task 'imagenet_ab': expected one of \['coco-ab', 'imagenet-ab'\]"):
        LuabBatchTransform(PointTransform.for_training(size=32), task="imagenet_ab")
    assert sorted(TASKS) == ["coco-ab", "imagenet-ab"]
