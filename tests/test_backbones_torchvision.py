"""MobileNetV2 / DenseNet-121 trunks (PAL-F7): shapes, strides, blocks, local ImageNet weights."""
import pytest
import torch

from partreid_core.models import build_model
from partreid_core.models.backbones import BackboneConfig, build_backbone, is_backbone_param
from partreid_core.models.backbones.torchvision_nets import _densenet_keys


@pytest.mark.parametrize("name,channels", [("mobilenet_v2", 1280), ("densenet121", 256)])
def test_trunk_shapes_strides_and_blocks(name, channels):
    x = torch.randn(2, 3, 128, 64)
    b16 = build_backbone(BackboneConfig(name=name, width=0.25, last_stride=1)).eval()
    b32 = build_backbone(BackboneConfig(name=name, width=0.25, last_stride=2)).eval()
    assert b16(x).shape == (2, channels, 8, 4) and b16.out_channels == channels
    assert b32(x).shape == (2, channels, 4, 2)
    assert all(is_backbone_param(p) for p in b16.parameters())
    first = next(iter(b16.features.named_children()))[0]   # "0" (MobileNetV2) or "conv0" (DenseNet)
    assert b16.blocks()[0][0] == f"features.{first}" and len(b16.blocks()) == len(b16.features)
    with pytest.raises(ValueError, match="last_stride must be 1 or 2"):
        build_backbone(BackboneConfig(name=name, last_stride=3))
    if name == "densenet121":  # DenseNet's forward ends with a ReLU after norm5: the trunk keeps it
        assert (b16(x) >= 0).all()


@pytest.mark.parametrize("name", ["mobilenet_v2", "densenet121"])
def test_globalpool_ps_on_the_trunk_trains_one_step(name):
    m = build_model("globalpool_ps", 4, {"backbone": {"name": name, "width": 0.25}}).train()
    from partreid_core.data.types import Batch

    x = torch.randn(8, 3, 128, 64)
    b = Batch(x, torch.arange(4).repeat_interleave(2), torch.zeros(8, dtype=torch.long),
              torch.randint(0, 8, (8, 128, 64)))
    out = m(x)
    assert out.aux["seg_logits"].shape == (8, 8, 16, 8)
    loss = sum(m.compute_losses(out, b).values())
    loss.backward()
    first_conv = next(p for p in m.base.backbone.parameters() if p.dim() == 4)
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0


def test_local_imagenet_weights_load_and_missing_ones_are_named(tmp_path, monkeypatch):
    from torchvision.models import mobilenet_v2

    ref = mobilenet_v2(weights=None)
    torch.save(ref.state_dict(), tmp_path / "mnv2.pth")
    b = build_backbone(BackboneConfig(name="mobilenet_v2", width=1.0, last_stride=2,
                                      pretrained=str(tmp_path / "mnv2.pth")))
    assert torch.equal(b.features[0][0].weight, ref.features[0][0].weight)
    monkeypatch.setenv("PARTREID_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(FileNotFoundError, match="mobilenet_v2-b0353104.pth"):
        build_backbone(BackboneConfig(name="mobilenet_v2", width=1.0, pretrained=True))
    with pytest.raises(ValueError, match="only for width=1.0"):
        build_backbone(BackboneConfig(name="densenet121", width=0.5, pretrained=True))


def test_old_densenet_key_names_are_mapped():
    state = {"features.denseblock1.denselayer1.norm.1.weight": 1, "features.denseblock1.denselayer1.conv.2.weight": 2,
             "features.norm5.weight": 3}
    assert _densenet_keys(state) == {"features.denseblock1.denselayer1.norm1.weight": 1,
                                     "features.denseblock1.denselayer1.conv2.weight": 2, "features.norm5.weight": 3}
