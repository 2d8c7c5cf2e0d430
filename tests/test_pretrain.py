"""SynthReID-P, ``partreid pretrain`` and ``backbone.pretrained: synth`` (the fine-tuned regime's trunks)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from partreid_core.data import build_dataset, list_datasets
from partreid_core.data.synth import PRESETS, build_synth
from partreid_core.data.synth.pretrain import PRETRAIN_PRESETS, PRETRAIN_SALT, build_synth_p
from partreid_core.data.synth.raster import background_bank
from partreid_core.models.backbones import BackboneConfig, build_backbone, resnet50, trunk_provenance
from partreid_core.models.backbones.synth_trunks import file_sha256, trunk_name
from partreid_core.models.registry import model_config


def _streams(ds, monkeypatch) -> tuple[set, set]:
    """The (seed, pid, salt) identity keys and (seed, pid, camid, index) image keys every split of ``ds`` draws
    from (recorded from the dataset's own calls, whatever its frame / salt rules)."""
    import partreid_core.data.synth.dataset as mod

    ids, images = set(), set()
    with monkeypatch.context() as m:
        m.setattr(mod, "sample_identity", lambda seed, pid, salt=0: ids.add((seed, pid, salt)))
        m.setattr(mod, "sample_image", lambda seed, pid, cam, index, *a: images.add((seed, pid, cam, index)))
        for split in ds.splits:
            ds.scenes(split)
    return ids, images


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    for var in ("PARTREID_CACHE", "PARTREID_WEIGHTS", "PARTREID_CHECKPOINTS"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))


# ----------------------------------------------------------------------------------- SynthReID-P
def test_identities_and_image_streams_disjoint_from_every_other_preset(monkeypatch):
    for seed in (0, 3):
        others_ids, others_images = set(), set()
        for name in PRESETS:   # every split of every preset, whatever splits it has
            ids, images = _streams(build_synth(name, seed=seed, cache=False), monkeypatch)
            others_ids |= ids
            others_images |= images
        assert max(s for _, _, s in others_ids) < PRETRAIN_SALT
        for name in PRETRAIN_PRESETS:
            ds = build_synth_p(name, seed=seed, cache=False)
            assert set(np.concatenate([ds.keys(s) for s in ds.splits])[:, 3].tolist()) == {PRETRAIN_SALT}
            ids, images = _streams(ds, monkeypatch)
            assert len(ids) == ds.preset.train_ids and not ids & others_ids
            assert len(images) == ds.preset.train_ids * ds.preset.train_images[0] and not images & others_images
            # an identity is (seed, pid, salt): the same pid is another person
            assert ds.scenes("train", [0])[0].colour.tobytes() != build_synth("synth-s", seed=seed, cache=False) \
                .scenes("train", [0])[0].colour.tobytes()


def test_sizes_and_heldout_part():
    assert {"synth-p-cpu", "synth-p-gpu"} <= set(list_datasets("synth-p-*"))
    cpu, gpu = build_dataset("synth-p-cpu", cache=False), build_dataset("synth-p-gpu", cache=False)
    assert cpu.size == (128, 64) and gpu.size == (256, 128)
    assert gpu.preset.train_ids >= 5000
    tr, ho = cpu.keys("train"), cpu.keys("heldout")
    assert len(np.unique(tr[:, 0])) == 1500 and len(tr) + len(ho) == 1500 * 16
    assert np.all(np.bincount(ho[:, 0])[1:] == 2) and np.all(np.bincount(tr[:, 0])[1:] == 14)
    assert set(ho[:, 0]) <= set(tr[:, 0])
    assert not {tuple(k) for k in tr.tolist()} & {tuple(k) for k in ho.tolist()}
    cams = pd.DataFrame(np.concatenate([tr, ho])[:, :2], columns=["pid", "cam"]).groupby("pid").cam.nunique()
    assert cams.min() >= 2
    assert len(cpu.keys("query")) == 0 and len(cpu.keys("gallery")) == 0
    with pytest.raises(ValueError, match="unknown split"):
        cpu.keys("val_nope")


def test_deterministic_cached_and_in_its_own_style():
    a = build_dataset("synth-p-tiny")
    st = a.load_split("heldout", a.size)
    assert st.masks is None and st.images.shape[1:] == (3, *a.size)
    assert a.cache_path("heldout", a.size).is_file()
    again = build_synth_p("synth-p-tiny", cache=False).render("heldout", None, a.size)
    assert torch.equal(st.images, again.images) and torch.equal(st.pids, again.pids)
    other_seed = build_synth_p("synth-p-tiny", seed=1, cache=False).render("heldout", [0, 1], a.size)
    assert not torch.equal(other_seed.images, st.images[:2])
    # domain P: its own camera styles and texture banks
    assert a.knobs.domain == "P"
    assert a.cameras != build_synth("synth-tiny", cache=False, domain="A").cameras[: len(a.cameras)]
    for d in ("A", "B"):
        assert not torch.equal(background_bank("P")[0], background_bank(d)[0])


def test_parallel_render_equals_serial():
    ds = build_synth_p("synth-p-tiny", cache=False, workers=2)
    par = ds._render_parallel("train", ds.size)   # worker processes rebuild SynthReID-P, not a plain SynthReID
    serial = ds.render("train", None, ds.size)
    assert torch.equal(par.images, serial.images) and torch.equal(par.pids, serial.pids)
    assert par.masks is None and par.keypoints is None


# ----------------------------------------------------------------------------------- pretrain
def _cfg(name: str, **kw):
    from partreid_core.experiments.pretrain import PretrainConfig

    return PretrainConfig(backbone="resnet50", width=0.25, profile="smoke", name=name, progress=False, **kw)


def test_pretrain_record_cache_file_and_resume(tmp_path):
    from partreid_core.experiments.pretrain import checkpoint_file, load_pretrain_records, pretrain

    out = tmp_path / "results"
    full = pretrain(_cfg("straight"), out=out)
    rec = out / "pretrain" / "straight"
    assert {p.name for p in rec.iterdir()} == {"config.json", "history.csv", "pretrain.json"}
    summary = json.loads((rec / "pretrain.json").read_text())
    assert 0.0 <= summary["heldout_top1"] <= 100.0 and summary["wall_time_s"] > 0
    assert full.trunk.name == trunk_name("resnet50", 0.25) == "synthp-resnet50-w0.25.pt"
    assert summary["trunk_sha256"] == file_sha256(full.trunk)
    assert summary["checkpoint_sha256"] == file_sha256(checkpoint_file(_cfg("straight")))
    assert "--backbone resnet50 --width 0.25" in summary["make"]
    hist = pd.read_csv(rec / "history.csv")
    assert list(hist.epoch) == [1, 2] and {"loss", "lr", "images_per_s", "heldout_top1"} <= set(hist.columns)
    assert [r["name"] for r in load_pretrain_records(out)] == ["straight"]
    # not a ReID run record: load_records does not list it
    from partreid_core.engine.records import load_records
    assert load_records(out).empty

    # the cache file is the trunk: pretrained: synth loads exactly its tensors, at width 0.25
    saved = torch.load(full.trunk, weights_only=False)
    assert saved["meta"]["backbone"] == "resnet50" and saved["meta"]["width"] == 0.25
    m = resnet50(width=0.25, pretrained="synth")
    assert all(torch.equal(m.state_dict()[k], v) for k, v in saved["state_dict"].items())
    assert not torch.equal(resnet50(width=0.25).conv1.weight, m.conv1.weight)

    # interrupted after one epoch, then resumed: the same history as the straight run
    cut = pretrain(_cfg("cut"), out=out, stop_after_epochs=1)
    assert cut.summary == {} and not (out / "pretrain" / "cut").exists() and len(cut.history) == 1
    resumed = pretrain(_cfg("cut"), out=out, resume=True)
    a, b = pd.DataFrame(full.history), pd.DataFrame(resumed.history)
    assert np.allclose(a["loss"], b["loss"], rtol=1e-5) and np.allclose(a["heldout_top1"], b["heldout_top1"])


def test_smoke_tier_does_not_overwrite_a_real_trunk(tmp_path):
    from partreid_core.experiments.pretrain import pretrain
    from partreid_core.models.backbones import trunk_path

    path = trunk_path("resnet50", 0.25)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": resnet50(width=0.25).state_dict(), "meta": {"profile": "cpu"}}, path)
    with pytest.raises(FileExistsError, match="cpu-tier trunk"):
        pretrain(_cfg("x"), out=tmp_path / "r")


def test_missing_synth_trunk_names_the_command_and_imagenet_still_needs_width_1():
    with pytest.raises(FileNotFoundError, match=r"partreid pretrain --backbone resnet50 --width 0\.25 --profile cpu"):
        resnet50(width=0.25, pretrained="synth")
    with pytest.raises(FileNotFoundError, match=r"--backbone osnet_x0_25 --width 1 "):
        build_backbone(BackboneConfig(name="osnet_x0_25", pretrained="synth"))
    with pytest.raises(FileNotFoundError, match=r"--backbone mobilenetv2 --width 0\.5"):
        build_backbone(BackboneConfig(name="mobilenet_v2", width=0.5, pretrained="synth"))
    with pytest.raises(ValueError, match="width=1.0"):
        resnet50(width=0.25, pretrained=True)


def test_explicit_path_loads_at_any_width_and_provenance(tmp_path):
    ref = resnet50(width=0.5)
    torch.save({"state_dict": ref.state_dict()}, tmp_path / "t.pt")
    m = resnet50(width=0.5, pretrained=str(tmp_path / "t.pt"))
    assert torch.equal(m.layer4[0].conv2.weight, ref.layer4[0].conv2.weight)
    scratch = trunk_provenance(model_config("pcb", {"backbone": {"width": 0.25}}))
    assert scratch == {"regime": "scratch", "pretrained_trunk": None}
    ft = trunk_provenance(model_config("pcb", {"backbone": {"width": 0.5, "pretrained": str(tmp_path / "t.pt")}}))
    assert ft["regime"] == "fine-tuned"
    assert ft["pretrained_trunk"] == {"name": "t.pt", "sha256": file_sha256(tmp_path / "t.pt"), "source": "file"}

    from partreid_core.reporting import provenance
    df = pd.DataFrame({"seed": [0, 1], "profile": "cpu-ft", "dataset": "synth-s", "device": "cpu", "git_commit": "c",
                       "regime": "fine-tuned", "pretrained_trunk": "synthp-resnet50-w0.25.pt",
                       "pretrained_trunk_sha256": "0123456789abcdef"})
    line = provenance(df)
    assert line.endswith("· regime fine-tuned · trunk synthp-resnet50-w0.25.pt (sha256 0123456789ab)")


def test_cli_registers_pretrain():
    from partreid_core.cli import build_parser

    args = build_parser().parse_args(["pretrain", "--backbone", "mobilenetv2", "--profile", "smoke"])
    assert args.command == "pretrain" and args.backbone == "mobilenetv2" and callable(args.func)
