"""One contract for every registered model (timm's ``tests/test_models.py`` shape): a training forward gives the
losses' inputs, every trainable parameter gets a finite, non-zero gradient from the model's own losses, and the
evaluation forward gives one finite (N, D) descriptor per image. Paper-specific behaviour is tested per model."""
import inspect

import pytest
import torch

from partreid_core.data.types import Batch
from partreid_core.models import build_model, list_models, model_config
from partreid_core.models.backbones import undo_zero_init
from partreid_core.models.output import ModelOutput

from model_checks import params_without_gradient

H, W, P, K, NUM_CLASSES = 128, 64, 4, 2, 4   # the cpu profile's input; P identities x K images


def _overrides(name: str) -> dict:
    """The cpu profile's width for the ResNet-50-topology models (OSNet models are x0.25 by name)."""
    cfg = model_config(name, None)
    backbone = getattr(cfg, "backbone", None)
    return {"backbone": {"width": 0.25}} if backbone is not None and "resnet" in str(backbone.name) else {}


def _open_gates(model: torch.nn.Module) -> None:
    """Zero-initialised residual gates (PLR-OSNet's SAM ``gamma``) pass no gradient to what they gate on the
    first step, by design; opening them lets the contract check that everything behind them is connected."""
    for module in model.modules():
        gamma = getattr(module, "gamma", None)
        if isinstance(gamma, torch.nn.Parameter):
            gamma.data.fill_(0.5)


def _forward(model: torch.nn.Module, batch: Batch):
    """``model(images)``, or ``model(images, masks)`` for a model whose forward takes the part labels (MPN's prior)."""
    takes_masks = len(inspect.signature(model.forward).parameters) > 1
    return model(batch.images, batch.masks) if takes_masks else model(batch.images)


def _batch() -> Batch:
    g = torch.Generator().manual_seed(0)
    n = P * K
    masks = torch.randint(0, 8, (n, H, W), generator=g)
    masks[:, : H // 8] = 0                      # background rows above the head, as a detected box has
    return Batch(torch.randn(n, 3, H, W, generator=g), torch.arange(P).repeat_interleave(K),
                 torch.zeros(n, dtype=torch.long), masks)


# Names with a leading underscore are stand-ins other test modules register at import (test_engine's tiny model);
# whether they are collected first depends on the test order, so the contract covers the shipped models only.
SHIPPED = [name for name in list_models() if not name.startswith("_")]


def test_every_shipped_model_is_covered():
    assert len(SHIPPED) >= 10, SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_model_contract(name):
    torch.manual_seed(0)
    model = build_model(name, NUM_CLASSES, _overrides(name))
    undo_zero_init(model)          # zero-initialised last BNs would leave their branch's gradients at zero
    _open_gates(model)
    batch = _batch()

    model.train()
    out = _forward(model, batch)
    assert isinstance(out, ModelOutput) and out.logits, name
    for logits in out.logits:
        assert logits.shape == (P * K, NUM_CLASSES)
    for f in out.features:
        assert f.dim() == 2 and f.shape[0] == P * K
    losses = model.compute_losses(out, batch)
    total = sum(losses.values())
    assert torch.isfinite(total), {k: float(v) for k, v in losses.items()}
    total.backward()
    assert params_without_gradient(model) == [], name

    model.eval()
    with torch.no_grad():
        emb = _forward(model, batch)
    assert emb.dim() == 2 and emb.shape[0] == P * K and torch.isfinite(emb).all()
    if out.embedding is not None:   # the training forward's copy of the test descriptor has the same width
        assert out.embedding.shape == emb.shape
