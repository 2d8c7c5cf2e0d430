"""PAL-T8 analogue, label source (iii): style jitter, the part segmenter, its training and its use as PS labels."""
import json

import numpy as np
import pytest
import torch

from partreid_core.data.augment import StyleConfig, random_style
from partreid_core.data.types import Batch
from partreid_core.experiments.segmenter import SegmenterTrainConfig, train_segmenter
from partreid_core.models import BackboneConfig, build_model
from partreid_core.models.segmenter import PartSegmenter, SegmenterConfig, load_segmenter, save_segmenter

H, W = 64, 32


def _images(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(30, 220, (n, 3, H, W), generator=g).to(torch.uint8)


def test_style_jitter_off_is_the_identity_and_leaves_the_generator_alone():
    x, g = _images(), torch.Generator().manual_seed(3)
    state = g.get_state()
    assert random_style(x, StyleConfig(p=0.0), g) is x
    assert torch.equal(g.get_state(), state)  # recipes without jitter keep their random streams


def test_style_jitter_changes_colour_deterministically_and_stays_uint8():
    x = _images()
    a = random_style(x, StyleConfig(p=1.0), torch.Generator().manual_seed(1))
    b = random_style(x, StyleConfig(p=1.0), torch.Generator().manual_seed(1))
    assert a.dtype == torch.uint8 and a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, x)
    # brightness alone scales every pixel of an image by one factor within [0.6, 1.4]
    only_b = StyleConfig(p=1.0, brightness=0.4, contrast=0.0, saturation=0.0, channel_gain=0.0)
    y = random_style(x, only_b, torch.Generator().manual_seed(2)).float()
    ratio = y.mean((1, 2, 3)) / x.float().mean((1, 2, 3))
    assert bool(((ratio > 0.55) & (ratio < 1.45)).all()) and ratio.std() > 0.01
    half = random_style(x, StyleConfig(p=0.5), torch.Generator().manual_seed(0))
    changed = [not torch.equal(half[i], x[i]) for i in range(len(x))]
    assert 0 < sum(changed) < len(x)


TINY = SegmenterConfig(backbone=BackboneConfig(width=0.125, last_stride=1), mid_channels=16)


def _tiny_segmenter():
    return PartSegmenter(TINY)


def test_segmenter_shapes_and_label_range():
    seg = _tiny_segmenter().eval()
    x = torch.randn(2, 3, H, W)
    assert seg(x).shape == (2, 8, H // 4, W // 4)
    pred = seg.predict(x)
    assert pred.shape == (2, H, W) and pred.dtype == torch.long and int(pred.min()) >= 0 and int(pred.max()) <= 7


def test_segmenter_checkpoint_roundtrip_and_clear_errors(tmp_path):
    seg = _tiny_segmenter().eval()
    path = save_segmenter(tmp_path / "s" / "segmenter.pt", seg, {"note": "test"})
    loaded = load_segmenter(path)
    x = torch.randn(2, 3, H, W)
    assert torch.equal(loaded.predict(x), seg.predict(x))
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    with pytest.raises(FileNotFoundError, match="partreid segmenter train"):
        load_segmenter(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a part-segmenter checkpoint"):
        load_segmenter(tmp_path / "other.pt")


def _constant_segmenter(cls: int) -> PartSegmenter:
    """A segmenter that labels every pixel ``cls`` (zero final weights, a large bias on that class)."""
    seg = _tiny_segmenter()
    last = seg.head.body[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[cls] = 10.0
    return seg


def test_ps_labels_come_from_the_segmenter_when_one_is_set(tmp_path):
    path = save_segmenter(tmp_path / "segmenter.pt", _constant_segmenter(2))
    cfg = lambda ps: {"backbone": {"width": 0.25}, "ps": ps}  # noqa: E731
    with_seg = build_model("globalpool_ps", 3, cfg({"segmenter": str(path)}))
    plain = build_model("globalpool_ps", 3, cfg({}))
    plain.load_state_dict(with_seg.state_dict())
    assert not any("segmenter" in k for k in with_seg.state_dict())  # the label source is not part of the model
    x = torch.randn(6, 3, 128, 64)
    labels, camids = torch.arange(3).repeat_interleave(2), torch.zeros(6, dtype=torch.long)
    out_s, out_p = with_seg.train()(x), plain.train()(x)
    # no dataset masks needed; the loss equals the one with exact masks that are all "torso" (2)
    ls = with_seg.compute_losses(out_s, Batch(x, labels, camids, None))
    lp = plain.compute_losses(out_p, Batch(x, labels, camids, torch.full((6, 128, 64), 2, dtype=torch.long)))
    assert torch.allclose(ls["ps"], lp["ps"]) and torch.equal(ls["id"], lp["id"])
    lw = plain.compute_losses(out_p, Batch(x, labels, camids, torch.zeros((6, 128, 64), dtype=torch.long)))
    assert not torch.allclose(ls["ps"], lw["ps"])
    missing = build_model("globalpool_ps", 3, cfg({"segmenter": str(tmp_path / "nope.pt")})).train()
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        missing.compute_losses(missing(x), Batch(x, labels, camids, None))


def test_train_segmenter_writes_a_complete_record_and_a_usable_checkpoint(tmp_path):
    cfg = SegmenterTrainConfig(name="t", dataset="synth-tiny", size=(64, 32), epochs=1, batch_size=16,
                               model=TINY,
                               style=StyleConfig(p=0.8))
    path = train_segmenter(cfg, out=tmp_path / "results", checkpoints=tmp_path / "ck", device="cpu", progress=False)
    metrics = json.loads((path / "metrics.json").read_text())
    for d in ("A", "B"):
        assert 0.0 <= metrics[f"pixel_accuracy_{d}"] <= 1.0 and f"iou_{d}_torso" in metrics
    meta = json.loads((path / "config.json").read_text())
    assert meta["config"]["domain"] == "B" and meta["config"]["style"]["p"] == 0.8 and meta["git_commit"]
    with np.load(path / "analysis.npz") as z:
        assert z["pred_A"].shape == z["masks_A"].shape == (8, 64, 32) and "pred_B" not in z.files
    seg = load_segmenter(tmp_path / "ck" / "pal-segmenter" / "t" / "segmenter.pt")
    assert seg.predict(torch.randn(1, 3, 64, 32)).shape == (1, 64, 32)
    with pytest.raises(ValueError, match="domain must be one of"):
        SegmenterTrainConfig(domain="C")
    with pytest.raises(ValueError, match="SynthReID preset"):
        SegmenterTrainConfig(dataset="market1501")
