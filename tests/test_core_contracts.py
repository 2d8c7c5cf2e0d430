"""Registry, strict configs, the data contract, ResNet backbone and the shared losses."""
from dataclasses import dataclass, field

import pytest
import torch
import torchvision

from partreid_core.config import ConfigError, from_dict, merge, to_dict
from partreid_core.data.types import SplitTensors, relabel
from partreid_core.losses import CrossEntropyLabelSmooth, TripletLoss
from partreid_core.models.backbones import resnet50, split_blocks
from partreid_core.registry import Registry


@dataclass
class Inner:
    lr: float = 0.1
    steps: tuple[int, ...] = (40, 70)


@dataclass
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    margin: float | None = 0.3


def test_registry_builds_and_suggests():
    reg = Registry("thing")

    @reg.register("alpha")
    def build_alpha(x):
        """An alpha."""
        return x * 2

    assert reg.build("alpha", 3) == 6
    assert reg.names("al*") == ["alpha"] and reg.get("alpha").doc == "An alpha."
    with pytest.raises(KeyError, match="Did you mean 'alpha'"):
        reg.get("alpah")
    with pytest.raises(KeyError, match="twice"):
        reg.register("alpha")(build_alpha)


def test_config_strict_nested_and_round_trip():
    cfg = from_dict(Outer, {"inner": {"lr": 1, "steps": [10, 20]}, "margin": None})
    assert cfg.inner.lr == 1.0 and isinstance(cfg.inner.lr, float) and cfg.inner.steps == (10, 20)
    assert cfg.margin is None
    assert from_dict(Outer, to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match=r"unknown config key 'inner.lrr'.*did you mean 'lr'"):
        from_dict(Outer, {"inner": {"lrr": 1}})
    merged = merge(cfg, {"inner": {"lr": 0.5}})
    assert merged.inner.lr == 0.5 and merged.inner.steps == (10, 20)


def test_split_tensors_validates_shapes():
    imgs = torch.zeros(4, 3, 8, 4, dtype=torch.uint8)
    st = SplitTensors(imgs, torch.arange(4), torch.zeros(4, dtype=torch.long))
    assert st.size == (8, 4) and len(st.subset(torch.tensor([0, 2]))) == 2
    with pytest.raises(ValueError, match="masks"):
        SplitTensors(imgs, torch.arange(4), torch.zeros(4, dtype=torch.long), masks=torch.zeros(4, 8, 5))
    with pytest.raises(ValueError, match="uint8"):
        SplitTensors(imgs.float(), torch.arange(4), torch.zeros(4, dtype=torch.long))


def test_relabel_contiguous():
    labels, n = relabel(torch.tensor([7, 3, 7, 100]))
    assert n == 3 and labels.tolist() == [1, 0, 1, 2]


def test_resnet50_matches_torchvision_names_and_shapes():
    ours = resnet50(width=1.0, last_stride=2)
    tv = torchvision.models.resnet50()
    tv_keys = {k for k in tv.state_dict() if not k.startswith("fc.")}
    assert set(ours.state_dict()) == tv_keys
    # loads torchvision weights strictly and computes the same features
    ours.load_state_dict({k: v for k, v in tv.state_dict().items() if k in tv_keys})
    ours.eval()
    tv.eval()
    x = torch.randn(1, 3, 64, 32)
    ref = torch.nn.Sequential(*list(tv.children())[:-2])(x)
    assert torch.allclose(ours(x), ref, atol=1e-5)


def test_resnet_last_stride_width_and_split():
    m = resnet50(width=0.25, last_stride=1)
    y = m(torch.randn(2, 3, 128, 64))
    assert y.shape == (2, 512, 8, 4)  # output stride 16, 2048 * 0.25 channels
    assert m.stage_channels == [64, 128, 256, 512]
    trunk, tail = split_blocks(m.blocks(), "layer3.1")
    m.eval()
    trunk.eval()
    tail.eval()
    x = torch.randn(1, 3, 64, 32)
    assert torch.allclose(tail(trunk(x)), m(x), atol=1e-6)
    with pytest.raises(KeyError, match="no block"):
        split_blocks(m.blocks(), "layer9.0")


def test_missing_weights_error_names_expected_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError, match=r"resnet50-0676ba61\.pth"):
        resnet50(pretrained=True)
    with pytest.raises(ValueError, match="width=1.0"):
        resnet50(width=0.5, pretrained=True)
    # a real local file loads
    tv = torchvision.models.resnet50()
    torch.save(tv.state_dict(), tmp_path / "resnet50-0676ba61.pth")
    m = resnet50(pretrained=True)
    assert torch.equal(m.conv1.weight, tv.conv1.weight)


def test_triplet_batch_hard_by_hand():
    feats = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # anchor 0: d_ap=1, d_an=3 ; anchor 1: d_ap=1, d_an=sqrt(10) ; anchor 2: d_ap=2, d_an=3 ; anchor 3: d_ap=2, d_an=5
    loss = TripletLoss(margin=1.5)(feats, labels)
    expected = torch.tensor([max(0, 1 - 3 + 1.5), max(0, 1 - 10**0.5 + 1.5), max(0, 2 - 3 + 1.5), 0.0]).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    soft = TripletLoss(margin=None)(feats, labels)
    expected_soft = torch.nn.functional.softplus(torch.tensor([-2.0, 1 - 10**0.5, -1.0, -3.0])).mean()
    assert torch.allclose(soft, expected_soft, atol=1e-5)


def test_label_smoothing_matches_formula():
    logits = torch.tensor([[2.0, 0.0, -1.0]])
    eps = 0.1
    logp = torch.log_softmax(logits, 1)
    expected = -((1 - eps) * logp[0, 0] + eps / 3 * logp.sum())
    assert torch.allclose(CrossEntropyLabelSmooth(eps)(logits, torch.tensor([0])), expected)


def test_triplet_squared_violating_variant():
    feats = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 5.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # squared: d_ap = 1, 1, 4, 4; d_an = 9, 10, 9, 25 -> hinge(margin 6) = 0, 0, 1, 0 -> violating mean = 1
    loss = TripletLoss(margin=6.0, squared=True, average="violating")(feats, labels)
    assert torch.allclose(loss, torch.tensor(1.0))
    assert torch.allclose(TripletLoss(margin=6.0, squared=True)(feats, labels), torch.tensor(0.25))
    with pytest.raises(ValueError, match="average"):
        TripletLoss(average="most")


def test_undo_zero_init_switches_residual_branches_on():
    from partreid_core.models.backbones import undo_zero_init
    from partreid_core.models.backbones.resnet import Bottleneck

    m = resnet50(width=0.25)
    blocks = [b for b in m.modules() if isinstance(b, Bottleneck)]
    assert all(bool((b.bn3.weight == 0).all()) for b in blocks)
    assert undo_zero_init(m) is m and all(bool((b.bn3.weight == 1).all()) for b in blocks)
