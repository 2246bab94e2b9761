"""GPU smoke tests: a bf16 training step per backbone family with no host-device sync, and the
same step under torch.compile. Skipped without CUDA; run them where a GPU is available."""

from __future__ import annotations

import pytest
import torch

from tests.test_backbones import _batch, _model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

FAMILIES = {"vit-mean": 1.0, "resnet": 1.0, "timm-test_convnext": 0.0, "timm-swin": 1.0, "timm-test_mambaout": 0.0}


def _step(model, batch, optimizer) -> torch.Tensor:
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(**batch)
    out.loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return out.loss.detach()


@pytest.mark.parametrize("name", list(FAMILIES))
def test_bf16_training_step_never_waits_for_the_device(name):
    model = _model(name, attention_loss_weight=FAMILIES[name]).cuda().train()
    batch = {key: value.cuda() for key, value in _batch().items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=True)
    _step(model, batch, optimizer)  # warm-up: allocator and kernel selection may sync once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        loss = _step(model, batch, optimizer)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(loss).item()


@pytest.mark.parametrize("name", ["vit-mean", "resnet", "timm-test_convnext"])
def test_compiled_bf16_training_step(name):
    torch._dynamo.reset()
    model = _model(name, attention_loss_weight=FAMILIES[name]).cuda().train()
    compiled = torch.compile(model, fullgraph=True)
    batch = {key: value.cuda() for key, value in _batch().items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    losses = [_step(compiled, batch, optimizer) for _ in range(2)]
    assert all(torch.isfinite(loss).item() for loss in losses)


def test_jpegs_decode_on_the_gpu_in_batches_near_the_cpus_pixels():
    """nvJPEG decodes the batch's JPEGs where the model runs; crops and flips as the workers drew."""
    from luab_hf.data import LuabBatchTransform, collate_byproducts
    from luab_hf.transforms import PointTransform, decode_crops
    from tests.test_transforms import _examples, _stored_rows

    transform = PointTransform.for_training(size=48, scale=(0.3, 1.0), normalize=False)
    batch = collate_byproducts(_examples(LuabBatchTransform(transform, task="imagenet-ab", seed=5,
                                                            decode_on_device=True)(_stored_rows())))
    on_cpu = decode_crops(batch["jpeg"], batch["crop"], batch["pixel_values"])
    on_gpu = decode_crops(batch["jpeg"], batch["crop"], batch["pixel_values"].cuda())
    assert on_gpu.is_cuda and (on_gpu.cpu().float() - on_cpu.float()).abs().mean() < 2.0
