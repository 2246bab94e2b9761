"""The byproduct-guided attention loss, against its definition."""

from __future__ import annotations

import pytest
import torch

from luab_hf.models.luab.modeling_luab import attention_loss, cell_centres

RADIUS = 0.25


def _maps(batch: int = 2, classes: int = 4, side: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, classes, side, side, generator=torch.Generator().manual_seed(seed))


def _far_mask(side: int, click: tuple[float, float]) -> torch.Tensor:
    centres = cell_centres(side, side)
    return ((centres - torch.tensor(click)).norm(dim=-1) > RADIUS).view(side, side)


def _reference(maps: torch.Tensor, points: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The definition, one cell at a time."""
    total, cells = 0.0, 0
    batch, classes, height, width = maps.shape
    for b in range(batch):
        clicks = [points[b, p] for p in range(points.shape[1]) if valid[b, p]]
        if not clicks:
            continue
        for i in range(height):
            for j in range(width):
                centre = torch.tensor([(j + 0.5) / width, (i + 0.5) / height])
                if all((centre - c).norm() > RADIUS for c in clicks):
                    z = maps[b, :, i, j]
                    total += ((z - z.mean()) ** 2).mean()
                    cells += 1
    return torch.as_tensor(total / max(cells, 1))


def test_matches_the_definition_with_several_clicks_per_image():
    maps = _maps(batch=3)
    points = torch.tensor([[[0.2, 0.2], [0.8, 0.7]], [[0.5, 0.5], [0.0, 0.0]], [[0.9, 0.1], [0.3, 0.3]]])
    valid = torch.tensor([[True, True], [True, False], [False, False]])
    torch.testing.assert_close(attention_loss(maps, points, valid, RADIUS), _reference(maps, points, valid).float())


def test_zero_when_cells_far_from_the_click_are_class_neutral_positive_otherwise():
    maps = _maps(batch=1)
    far = _far_mask(6, (0.4, 0.6))
    neutral = torch.where(far, maps[:, :1].expand_as(maps), maps)  # every class scores alike far away
    points, valid = torch.tensor([[[0.4, 0.6]]]), torch.tensor([[True]])
    assert attention_loss(neutral, points, valid, RADIUS).item() == pytest.approx(0.0, abs=1e-7)
    assert attention_loss(maps, points, valid, RADIUS).item() > 0.1


def test_images_without_a_valid_click_add_exactly_zero_with_zero_gradient():
    maps = _maps(batch=2).requires_grad_()
    points = torch.tensor([[[0.5, 0.5]], [[float("nan"), 3.0]]])  # an invalid point may hold anything
    valid = torch.tensor([[True], [False]])
    loss = attention_loss(maps, points, valid, RADIUS)
    loss.backward()
    assert torch.equal(maps.grad[1], torch.zeros_like(maps.grad[1])) and maps.grad[0].abs().sum() > 0
    only_first = attention_loss(maps[:1], points[:1], valid[:1], RADIUS)
    assert loss.item() == pytest.approx(only_first.item())
    none = attention_loss(maps, points, torch.zeros_like(valid), RADIUS)
    assert none.item() == 0.0 and none.requires_grad  # still in the graph: no DDP hang


def test_invariant_to_adding_one_value_to_every_class_at_a_cell():
    maps = _maps()
    shift = torch.randn(2, 1, 6, 6) * 10
    points, valid = torch.tensor([[[0.3, 0.3]], [[0.7, 0.2]]]), torch.tensor([[True], [True]])
    torch.testing.assert_close(attention_loss(maps + shift, points, valid, RADIUS),
                               attention_loss(maps, points, valid, RADIUS))


def test_the_model_adds_the_weighted_term_and_reports_it():
    from transformers import ResNetConfig

    from luab_hf import LuabConfig, LuabForImageClassification

    config = LuabConfig(backbone_config=ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                                     layer_type="basic"),
                        num_labels=3, attention_loss_weight=2.0, byproduct_loss_weight=0.5)
    torch.manual_seed(0)
    model = LuabForImageClassification(config)
    batch = {"pixel_values": torch.randn(2, 3, 64, 64), "labels": torch.tensor([0, 2]),
             "points": torch.tensor([[[0.3, 0.4]], [[0.6, 0.6]]]), "points_valid": torch.tensor([[True], [True]])}
    out = model(**batch, output_class_maps=True)
    expected = out.classification_loss + 0.5 * out.byproduct_loss + 2.0 * out.attention_loss
    torch.testing.assert_close(out.loss, expected)
    torch.testing.assert_close(out.attention_loss, attention_loss(out.class_maps, batch["points"],
                                                                  batch["points_valid"], 0.25))
