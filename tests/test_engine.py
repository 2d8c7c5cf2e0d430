"""The training engine with stand-ins: a tiny ReidModel and a tiny in-memory dataset, registered here."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from partreid_core.analysis.hooks import build_hooks
from partreid_core.config import ConfigError, deep_update, from_dict, merge
from partreid_core.data.registry import DATASETS
from partreid_core.data.types import Batch, ReidDataset, Sample, SplitTensors
from partreid_core.engine.config import ExperimentConfig, ScheduleConfig
from partreid_core.engine.hooks import AnalysisContext, HookBase
from partreid_core.engine.optim import build_optimizer, lr_factor, split_param_groups
from partreid_core.engine.records import checkpoint_file, load_analysis
from partreid_core.engine.trainer import NonFiniteLossError, checkpoint_path, train
from partreid_core.experiments.config import list_recipes, parse_set, resolve_config
from partreid_core.experiments.runs import train_experiment
from partreid_core.models.base import ReidModel
from partreid_core.models.output import ModelOutput
from partreid_core.models.registry import MODELS, register_model

TEST_MODEL = "_test_tiny"
TEST_DATA = "_test_random"


@dataclass
class TinyConfig:
    width: int = 8
    nan_after: int = -1  # make the triplet term NaN from this training call on (-1: never)
    backbone: dict = dataclasses.field(default_factory=dict)  # accepted (profiles set a width) and ignored


class TinyReid(ReidModel):
    """conv stem ("backbone") -> 2 stripes -> BNNeck -> classifier; eval returns the (N, 2*width) embedding."""

    def __init__(self, cfg: TinyConfig, num_classes: int):
        super().__init__()
        w = cfg.width
        self.cfg = cfg
        self.calls = 0
        self.backbone = nn.Sequential(nn.Conv2d(3, w, 3, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),
                                      nn.Conv2d(w, w, 3, 2, 1), nn.BatchNorm2d(w), nn.ReLU())
        self.neck = nn.BatchNorm1d(2 * w)
        self.classifier = nn.Linear(2 * w, num_classes)
        self.feat_dim = 2 * w

    def forward(self, images, masks=None, keypoints=None):
        f = self.backbone(images)
        parts = nn.functional.adaptive_avg_pool2d(f, (2, 1)).flatten(2).transpose(1, 2)  # (N, 2, w)
        emb = parts.flatten(1)
        if not self.training:
            return emb
        self.calls += 1
        return ModelOutput(logits=[self.classifier(self.neck(emb))], features=[emb], embedding=emb,
                           aux={"part_features": parts})

    def compute_losses(self, out, batch):
        losses = super().compute_losses(out, batch)
        if 0 <= self.cfg.nan_after < self.calls:
            losses["triplet"] = losses["triplet"] * float("nan")
        return losses


class RandomReid(ReidDataset):
    """n_ids identities with a per-identity colour (so training can learn), random noise, masks and keypoints."""

    name = TEST_DATA

    def __init__(self, n_ids: int = 8, per_id: int = 4, seed: int = 0):
        self.n_ids, self.per_id, self.seed = n_ids, per_id, seed

    def manifest(self, split):
        off = {"train": 0, "query": 1000, "gallery": 1000}[split]  # test ids: query and gallery share them
        n_img = self.per_id if split == "train" else (1 if split == "query" else 2)
        return [Sample(i, off + i // n_img, (i % n_img) % 2) for i in range(self.n_ids * n_img)]

    def load_split(self, split, size=(32, 16)):
        m = self.manifest(split)
        g = torch.Generator().manual_seed(self.seed + len(split))
        pids = torch.tensor([s.pid for s in m])
        colour = torch.rand(self.n_ids, 3, 1, 1, generator=torch.Generator().manual_seed(self.seed)) * 200
        ident = (pids % 1000) % self.n_ids
        noise = torch.rand(len(m), 3, *size, generator=g) * 55
        images = (colour[ident] + noise).to(torch.uint8)
        masks = torch.randint(0, 8, (len(m), *size), generator=g, dtype=torch.uint8)
        kps = torch.rand(len(m), 17, 3, generator=g) * torch.tensor([size[1] - 1, size[0] - 1, 1.0])
        kps[..., 2] = kps[..., 2].round()
        return SplitTensors(images, pids, torch.tensor([s.camid for s in m]), masks, kps)


_last_model: TinyReid | None = None


def _build_tiny(cfg: TinyConfig, num_classes: int) -> TinyReid:
    global _last_model
    _last_model = TinyReid(cfg, num_classes)
    return _last_model


if TEST_MODEL not in MODELS:
    register_model(TEST_MODEL, TinyConfig)(_build_tiny)
if TEST_DATA not in DATASETS:
    DATASETS.register(TEST_DATA)(lambda **kw: RandomReid(**kw))


def tiny_config(tmp_path, **over) -> ExperimentConfig:
    base = {"experiment": "t", "model": TEST_MODEL, "seed": 3,
            "data": {"dataset": TEST_DATA, "size": [32, 16], "p": 4, "k": 2, "flip_p": 0.5, "pad": 2,
                     "erasing": {"p": 0.5}, "rsa": {"p": 0.5}},
            "optim": {"name": "sgd", "lr": 0.05, "lr_mult": {"head": 2.0}},
            "schedule": {"warmup_epochs": 1, "warmup_per": "iter", "milestones": [2]},
            "train": {"epochs": 3, "progress": False, "iters_per_epoch": 3,
                      "checkpoint_dir": str(tmp_path / "ckpt"), "channels_last": False},
            "eval": {"rerank": False}}
    return from_dict(ExperimentConfig, deep_update(base, over))


# ---------------------------------------------------------------------------------------------


class _Probe(HookBase):
    """Records what ``after_train`` saw: the model's mode and the query split's size."""

    name = "probe"

    def __init__(self):
        self.calls = 0

    def after_train(self, ctx: AnalysisContext) -> dict[str, np.ndarray]:
        self.calls += 1
        return {"n_query": np.asarray([len(ctx.query)]), "training": np.asarray([ctx.model.training])}


def test_hook_objects_write_their_arrays_under_their_name(tmp_path):
    probe = _Probe()
    cfg = tiny_config(tmp_path, train={"epochs": 1})
    res = train(cfg, out=tmp_path / "r", device="cpu", hooks=[probe])
    arrays = load_analysis(res.path)
    assert probe.calls == 1 and sorted(arrays) == ["probe/n_query", "probe/training"]
    assert arrays["probe/n_query"][0] > 0 and not arrays["probe/training"][0]  # run in eval mode


def test_a_config_naming_hooks_is_refused_without_their_objects(tmp_path):
    cfg = tiny_config(tmp_path, analysis=["part_similarity"], train={"epochs": 1})
    with pytest.raises(ValueError, match=r"names analysis hooks \['part_similarity'\].*train_experiment"):
        train(cfg, out=tmp_path / "r", device="cpu")
    with pytest.raises(ValueError, match=r"given \['probe'\]"):
        train(cfg, out=tmp_path / "r", device="cpu", hooks=[_Probe()])
    assert not (tmp_path / "r").exists()  # refused before any folder is made


def test_the_experiments_entry_builds_the_named_hooks(tmp_path):
    """train_experiment gives the same analysis.npz keys as passing build_hooks(cfg.analysis) to the engine,
    extra hook objects after the named ones."""
    cfg = tiny_config(tmp_path, analysis=["part_similarity"], train={"epochs": 1})
    res = train_experiment(cfg, out=tmp_path / "a", device="cpu", hooks=[_Probe()])
    direct = train(cfg, out=tmp_path / "b", device="cpu", hooks=build_hooks(cfg.analysis))
    a, b = load_analysis(res.path), load_analysis(direct.path)
    assert list(a) == ["part_similarity/matrix", "part_similarity/per_image_mean", "probe/n_query", "probe/training"]
    assert all(np.array_equal(a[k], b[k]) for k in b)
    with pytest.raises(KeyError, match="unknown analysis hook 'nope'"):
        train_experiment(dataclasses.replace(cfg, analysis=["nope"]), out=tmp_path / "c", device="cpu")


def test_loss_decreases_on_a_fixed_batch():
    model = TinyReid(TinyConfig(), num_classes=4)
    ds = RandomReid(n_ids=4, per_id=4)
    st = ds.load_split("train", (32, 16))
    from partreid_core.data.transforms import normalize
    labels = st.pids
    batch = Batch(normalize(st.images), labels, st.camids)
    cfg = ExperimentConfig().optim
    opt = build_optimizer(model, dataclasses.replace(cfg, lr=0.05))
    model.train()
    losses = []
    for _ in range(10):
        total = sum(model.compute_losses(model(batch.images), batch).values())
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(float(total.detach()))
    assert losses[-1] < 0.5 * losses[0]


def test_smoke_training_writes_a_complete_record(tmp_path):
    cfg = tiny_config(tmp_path, analysis=["part_similarity"], eval={"every": 1})
    res = train(cfg, out=tmp_path / "results", device="cpu", hooks=build_hooks(cfg.analysis))
    run = tmp_path / "results" / "t" / cfg.run_name
    assert res.path == run
    for f in ("config.json", "history.csv", "metrics.json", "analysis.npz"):
        assert (run / f).is_file(), f
    assert len(res.history) == 3
    # every epoch logs each loss term, lr and images/s; epochs 1-2 were evaluated (every=1) and the last by the
    # final eval
    for row in res.history:
        assert {"loss/id", "loss/triplet", "lr", "lr/head", "lr/backbone", "images_per_s", "rank1", "mAP"} <= set(row)
    # head group at 2x the backbone lr
    assert res.history[-1]["lr/head"] == pytest.approx(2 * res.history[-1]["lr/backbone"])
    assert {"rank1", "rank5", "rank10", "mAP", "mAP_trapezoid", "mINP"} <= set(res.metrics)
    assert checkpoint_path(cfg, tmp_path / "results").is_file()


def test_same_seed_same_metrics_and_resume_equivalence(tmp_path):
    cfg = tiny_config(tmp_path)
    full = train(cfg, out=tmp_path / "a", device="cpu")
    # the same config again (fresh checkpoint folder) gives the same numbers
    again = train(dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, checkpoint_dir=str(tmp_path / "c2"))),
                  out=tmp_path / "b", device="cpu")
    assert again.metrics == full.metrics
    # interrupted after one epoch, then resumed: the same history and metrics as the uninterrupted run
    cfg3 = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, checkpoint_dir=str(tmp_path / "c3")))
    part = train(cfg3, out=tmp_path / "c", device="cpu", stop_after_epochs=1)
    assert part.metrics == {} and not (tmp_path / "c" / "t" / cfg.run_name / "metrics.json").exists()
    resumed = train(cfg3, out=tmp_path / "c", device="cpu", resume=True)
    assert resumed.metrics == full.metrics
    for a, b in zip(resumed.history, full.history, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-6, abs=1e-9)


def test_nan_loss_names_epoch_step_and_term(tmp_path):
    cfg = tiny_config(tmp_path, model_overrides={"nan_after": 4}, data={"epoch": "ids"},
                      train={"iters_per_epoch": 3})
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 2: term 'triplet' = nan"):
        train(cfg, out=tmp_path / "r", device="cpu")


def test_alternating_update_steps_each_phase_with_its_own_terms(tmp_path):
    cfg = tiny_config(tmp_path, train={"update": "alternating", "epochs": 1, "iters_per_epoch": 2,
                                       "phases": [{"terms": ["id"], "lr": 0.1}, {"terms": ["triplet"], "lr": 0.01}]})
    res = train(cfg, out=tmp_path / "r", device="cpu")
    row = res.history[0]
    # two optimisers, each at its own base lr (warm-up factor applies to both)
    assert row["lr/0:head"] / row["lr/1:head"] == pytest.approx(10.0)
    assert {"loss/id", "loss/triplet"} <= set(row)
    bad = tiny_config(tmp_path, train={"update": "alternating", "epochs": 1, "iters_per_epoch": 1,
                                       "phases": [{"terms": ["id"], "lr": 0.1}]})
    with pytest.raises(KeyError, match=r"loss terms \['triplet'\] are in no train.phases"):
        train(bad, out=tmp_path / "r2", device="cpu")


def test_freeze_backbone_epochs_keeps_backbone_fixed(tmp_path):
    cfg = tiny_config(tmp_path, train={"epochs": 1, "iters_per_epoch": 2, "freeze_backbone_epochs": 1})
    import partreid_core.engine.trainer as tr

    seen = {}
    real = tr.build_model

    def spy(*a, **k):
        m = real(*a, **k)
        seen["init"] = {n: p.detach().clone() for n, p in m.named_parameters()}
        seen["model"] = m
        return m

    tr.build_model = spy
    try:
        train(cfg, out=tmp_path / "r", device="cpu")
    finally:
        tr.build_model = real
    m = seen["model"]
    for n, p in m.named_parameters():
        changed = not torch.equal(p.detach(), seen["init"][n])
        assert changed == (not n.startswith("backbone")), n


def test_param_groups_rule_and_model_override():
    m = TinyReid(TinyConfig(), 4)
    g = split_param_groups(m)
    assert set(g) == {"backbone", "head"}
    assert sum(p.numel() for ps in g.values() for p in ps) == sum(p.numel() for p in m.parameters())
    m.param_groups = lambda: {"head": list(m.classifier.parameters())}
    with pytest.raises(ValueError, match="leaves parameters out"):
        split_param_groups(m)
    opt_cfg = dataclasses.replace(ExperimentConfig().optim, lr_mult={"heads": 2.0})
    with pytest.raises(ValueError, match=r"lr_mult names groups \['heads'\]"):
        build_optimizer(TinyReid(TinyConfig(), 4), opt_cfg)


def test_schedules_match_the_specs_by_hand():
    plr = ScheduleConfig(warmup_epochs=19, warmup_start=0.1, milestones=(60, 90))
    base = 3.5e-4
    assert base * lr_factor(plr, 1, 0, 100, 120) == pytest.approx(5.1579e-5, rel=1e-4)
    assert base * lr_factor(plr, 10, 50, 100, 120) == pytest.approx(2.0079e-4, rel=1e-4)
    assert base * lr_factor(plr, 19, 0, 100, 120) == pytest.approx(3.5e-4)
    assert base * lr_factor(plr, 60, 0, 100, 120) == pytest.approx(3.5e-5)
    assert base * lr_factor(plr, 119, 0, 100, 120) == pytest.approx(3.5e-6)
    mgn = ScheduleConfig(warmup_epochs=20, warmup_start=0.1, milestones=(140, 180))
    assert [round(0.1 * lr_factor(mgn, e, 0, 46, 200), 6) for e in (0, 1, 19, 20, 140, 180)] == \
        [0.01, 0.0145, 0.0955, 0.1, 0.01, 0.001]
    rmgl = ScheduleConfig(warmup_epochs=3, warmup="exponential", warmup_start=1e-3, warmup_per="iter",
                          milestones=(30, 50))
    assert 0.01 * lr_factor(rmgl, 0, 0, 100, 60) == pytest.approx(1e-5)
    assert 0.01 * lr_factor(rmgl, 1, 50, 100, 60) == pytest.approx(1e-5 * 1e3 ** 0.5)
    assert 0.01 * lr_factor(rmgl, 3, 0, 100, 60) == pytest.approx(0.01)
    cos = ScheduleConfig(decay="cosine")
    assert lr_factor(cos, 125, 0, 10, 250) == pytest.approx(0.5)
    assert lr_factor(cos, 0, 0, 10, 250) == 1.0


def test_unknown_config_keys_rejected(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown config key 'train.epoch'.*did you mean 'epochs'"):
        resolve_config(None, "smoke", {"train": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"unknown config key 'data.rsa.pc'.*did you mean 'p_c'"):
        resolve_config(None, "smoke", parse_set(["data.rsa.pc=0.3"]))
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lrr: 0.1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'optim.lrr'"):
        resolve_config(str(bad), "cpu")
    with pytest.raises(ConfigError, match="unknown profile"):
        resolve_config(None, "laptop")
    with pytest.raises(FileNotFoundError, match="no recipe 'nope'"):
        resolve_config("nope", "cpu")


@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu"])
def test_every_recipe_resolves(profile):
    names = list_recipes(profile)
    assert {"pal_globalpool", "pal_pcb", "pal_mgn", "pal_osnet", "rmgl", "cgpn", "mpn", "plr_osnet"} <= set(names)
    for name in names:
        cfg = resolve_config(name, profile)
        assert cfg.recipe == name and cfg.experiment == name
        # recipes set training, not architecture; the exceptions: torchreid's softmax-only OSNet with its fc
        # frozen in the classifier-only epochs, PAL's pooling rule, MPN's IDE initialisation and triplet scale,
        # and the IDE model of MPN §5.1
        allowed = {"pal_osnet": {"backbone", "loss", "center_weight", "fc_in_backbone_group"},
                   "pal_globalpool": {"backbone", "pool"}, "mpn": {"backbone", "init_from", "loss"},
                   "mpn_ide": {"backbone", "pool", "loss"}}.get(name, {"backbone"})
        assert set(cfg.model_overrides) <= allowed, name
        assert set(cfg.model_overrides.get("backbone", {})) <= {"name", "width", "pretrained", "zero_init_residual",
                                                                "last_stride"}
        if profile == "smoke":
            assert cfg.data.size == (64, 32) and cfg.train.epochs <= 2 and cfg.data.dataset == "synth-tiny"
        if profile == "gpu":
            assert cfg.data.size[1] == 128 and cfg.model_overrides["backbone"].get("width", 1.0) == 1.0


def test_gpu_recipes_carry_the_spec_numbers():
    mgn = resolve_config("pal_mgn", "gpu")
    assert (mgn.data.p, mgn.data.k, mgn.data.epoch, mgn.train.epochs) == (16, 8, "ids", 200)
    assert [(p.terms, p.lr) for p in mgn.train.phases] == [(("id", "ps"), 0.1), (("triplet", "ps"), 0.01)]
    rmgl = resolve_config("rmgl", "gpu")
    assert rmgl.data.rsa.p == 1.0 and rmgl.optim.lr_mult == {"head": 10.0} and rmgl.schedule.milestones == (30, 50)
    plr = resolve_config("plr_osnet", "gpu")
    assert plr.optim.name == "adam" and plr.optim.lr == 3.5e-4 and plr.data.size == (256, 128)


def test_cli_train_eval_and_bench(tmp_path, capsys):
    from partreid_core.cli import main

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"model: {TEST_MODEL}\noptim: {{lr: 0.05}}\n")
    common = ["--recipe", str(recipe), "--profile", "smoke", "--dataset", TEST_DATA, "--seed", "2",
              "--set", "data.size=[32, 16]", "--set", f"train.checkpoint_dir={tmp_path / 'ckpt'}", "--device", "cpu"]
    assert main(["train", *common, "--out", str(tmp_path / "res")]) == 0
    printed = capsys.readouterr().out
    assert "record:" in printed
    assert (tmp_path / "res" / "tiny" / f"{TEST_MODEL}-{TEST_DATA}-s2" / "metrics.json").is_file()
    ckpt = checkpoint_file(tmp_path / "ckpt", tmp_path / "res", "tiny", f"{TEST_MODEL}-{TEST_DATA}-s2")
    assert main(["eval", "--checkpoint", str(ckpt), "--device", "cpu", "--no-rerank"]) == 0
    import json
    out = capsys.readouterr().out
    metrics = json.loads(out[out.index("{"):])
    saved = json.loads((tmp_path / "res" / "tiny" / f"{TEST_MODEL}-{TEST_DATA}-s2" / "metrics.json").read_text())
    assert metrics["rank1"] == pytest.approx(saved["rank1"]) and metrics["mAP"] == pytest.approx(saved["mAP"])
    assert main(["bench", "train", *common, "--steps", "2", "--warmup", "1", "--workers", "0"]) == 0
    out = capsys.readouterr().out
    res = json.loads(out[out.index("{"):])
    assert res["ours_images_per_s"] > 0 and res["conventional_images_per_s"] > 0
    assert res["speedup"] == pytest.approx(res["ours_images_per_s"] / res["conventional_images_per_s"])


def test_bench_models_times_mask_using_models_and_writes_a_record(tmp_path, capsys):
    """``bench models`` trains with masks/keypoints where a model needs them (MPN's prior) and
    reports positive rates with the model's size, one row per recipe, in a JSON record."""
    from partreid_core.cli import main

    out = tmp_path / "models.json"
    assert main(["bench", "models", "--recipes", "pal_globalpool", "mpn", "--profile", "smoke", "--dataset",
                 TEST_DATA, "--steps", "1", "--warmup", "1", "--infer-images", "16", "--device", "cpu",
                 "--out", str(out)]) == 0
    import json
    rec = json.loads(out.read_text())
    rows = rec["result"]["rows"]
    assert [r["recipe"] for r in rows] == ["pal_globalpool", "mpn"] and rec["git_commit"]
    assert all(r["train_images_per_s"] > 0 and r["infer_images_per_s"] > 0 and r["params"] > 0 for r in rows)
    assert rows[1]["params"] > rows[0]["params"]  # MPN's six part heads on the same trunk


def test_parse_set_keeps_yaml11_words_as_strings():
    assert parse_set(["train.amp=off", "train.compile=false", "data.size=[64, 32]", "x.y=on"]) == {
        "train": {"amp": "off", "compile": False}, "data": {"size": [64, 32]}, "x": {"y": "on"}}


def test_backbone_group_follows_tagged_parameters_through_wrappers_and_branch_copies():
    from partreid_core.models import build_model

    for name in ("pcb_ps", "mgn", "rmgl", "plr_osnet"):
        bb = {"name": "osnet_x0_25"} if "osnet" in name else {"width": 0.25}
        model = build_model(name, 10, {"backbone": bb})
        groups = split_param_groups(model)
        names = {id(p): n for n, p in model.named_parameters()}
        backbone = [names[id(p)] for p in groups["backbone"]]
        head = [names[id(p)] for p in groups["head"]]
        assert backbone and head, name
        # backbone stages copied into branches count as backbone; classifiers never do
        assert not any("classifier" in n for n in backbone), (name, [n for n in backbone if "classifier" in n][:3])
        if name == "mgn":
            assert any(n.startswith("branches.1") for n in backbone) and not any(n.startswith("branches") for n in head)
        if name == "pcb_ps":
            assert all(n.startswith("base.backbone") for n in backbone)


def test_relative_checkpoint_dirs_go_under_partreid_checkpoints(monkeypatch, tmp_path):
    """The test suite's guard: with $PARTREID_CHECKPOINTS set, no run can write into ./checkpoints.
    Checkpoints are keyed by the records root too: two --out roots never share one."""
    from partreid_core.engine.records import records_key
    from partreid_core.engine.trainer import checkpoint_path

    cfg = resolve_config(None, "smoke", {"model": TEST_MODEL, "experiment": "e", "run": "r"})
    monkeypatch.setenv("PARTREID_CHECKPOINTS", str(tmp_path))
    key = records_key("results")
    assert checkpoint_path(cfg) == tmp_path / "checkpoints" / key / "e" / "r" / "last.pt"
    absolute = merge(cfg, {"train": {"checkpoint_dir": str(tmp_path / "abs")}})
    assert checkpoint_path(absolute) == tmp_path / "abs" / key / "e" / "r" / "last.pt"
    monkeypatch.delenv("PARTREID_CHECKPOINTS")
    assert checkpoint_path(cfg) == Path("checkpoints") / key / "e" / "r" / "last.pt"
    assert checkpoint_path(cfg, tmp_path / "a" / "results") != checkpoint_path(cfg, tmp_path / "b" / "results")
    assert key.startswith("results-") and records_key(Path("results").resolve()) == key
