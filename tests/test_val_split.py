"""SynthReID's validation split: disjoint identities, the test protocol, determinism, laziness, and evaluation on it
(``eval.split``, ``partreid eval --split``, the record's ``split``, the error on real datasets)."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from partreid_core.cli import main
from partreid_core.config import ConfigError
from partreid_core.data import build_dataset
from partreid_core.data.synth import PRESETS, SynthReID, build_synth
from partreid_core.data.synth.dataset import VAL_SALT
from partreid_core.data.synth.scene import sample_identity
from partreid_core.data.types import EVAL_SPLITS, eval_splits
from partreid_core.engine import records
from partreid_core.experiments.config import resolve_config
from partreid_core.reporting import provenance

from real_fixtures import MARKET, make_market_like, make_msmt17

SIZE = (64, 32)
EXISTING = ("train", "query", "gallery")


@pytest.mark.parametrize("preset", list(PRESETS))
def test_val_identities_are_disjoint_from_train_and_test(preset):
    ds = build_synth(preset, seed=0, cache=False)
    vq, vg = ds.keys("val_query"), ds.keys("val_gallery")
    val_ids = set(vq[:, 0].tolist())
    used = set().union(*(ds.keys(s)[:, 0].tolist() for s in EXISTING)) - {0}
    assert val_ids and 0 not in val_ids and not val_ids & used
    assert set(vg[vg[:, 0] > 0, 0].tolist()) == val_ids
    # a fifth to a quarter of the test identities; its own pid-0 distractors, none shared with the test gallery
    n_test = len(set(ds.keys("query")[:, 0].tolist()))
    assert n_test / 5 <= len(val_ids) <= n_test / 4 or len(val_ids) == 2
    salts = lambda keys: {tuple(k) for k in keys[keys[:, 0] == 0][:, [0, 3]].tolist()}  # noqa: E731
    assert len(salts(vg)) == (vg[:, 0] == 0).sum() == ds.preset.val_distractors
    assert not salts(vg) & salts(ds.keys("gallery"))


def test_val_people_are_new_people():
    """A validation person is not the train person of the same pid number in a larger preset (synth-m's train
    pids run to 751): identity draws of the validation split come from a salt of their own."""
    ds = build_synth("synth-s", seed=0, cache=False)
    keys = ds.keys("val_query")
    assert (keys[:, 3] == VAL_SALT).all()
    m_train = set(build_synth("synth-m", seed=0, cache=False).keys("train")[:, 0].tolist())
    pids = sorted(set(keys[:, 0].tolist()))
    assert set(pids) <= m_train
    assert all(sample_identity(0, pid, VAL_SALT) != sample_identity(0, pid, 0) for pid in pids)


def test_val_follows_the_test_protocol(tmp_path):
    ds = build_synth("synth-s", seed=0, cache=False)
    q, g = ds.keys("val_query"), ds.keys("val_gallery")
    pairs = [tuple(r) for r in q[:, :2].tolist()]
    assert len(pairs) == len(set(pairs))                       # one query per (pid, camera)
    for pid, cam in pairs:                                     # a cross-camera match and a junk image each
        assert ((g[:, 0] == pid) & (g[:, 1] != cam)).any()
        assert ((g[:, 0] == pid) & (g[:, 1] == cam)).any()
    for pid in set(q[:, 0].tolist()):
        assert len(set(q[q[:, 0] == pid, 1].tolist())) >= 3    # >= 3 cameras, as the test identities
    for keys in (q, g):
        k = [tuple(r) for r in keys[:, :3].tolist()]
        assert len(k) == len(set(k))
    assert set(g[:, 1].tolist()) <= set(range(ds.preset.cameras))
    stats = ds.statistics()
    assert list(stats.index) == ["train", "query", "gallery", "val_query", "val_gallery"]
    assert stats.loc["val_query", "identities"] == len(set(q[:, 0].tolist()))


def test_val_is_deterministic_and_seeded():
    a = build_synth("synth-tiny", seed=0, cache=False)
    b = build_synth("synth-tiny", seed=0, cache=False)
    for split in ("val_query", "val_gallery"):
        assert np.array_equal(a.keys(split), b.keys(split))
        ra, rb = a.render(split, None, SIZE), b.render(split, None, SIZE)
        assert torch.equal(ra.images, rb.images) and torch.equal(ra.masks, rb.masks)
        assert torch.equal(ra.keypoints, rb.keypoints) and ra.pids.tolist() == a.keys(split)[:, 0].tolist()
    other = build_synth("synth-tiny", seed=1, cache=False)
    assert not torch.equal(other.render("val_query", None, SIZE).images, a.render("val_query", None, SIZE).images)
    # no validation image repeats a test image, pixel for pixel
    test = a.render("gallery", None, SIZE).images.flatten(1)
    val = a.render("val_gallery", None, SIZE).images.flatten(1)
    assert not (val[:, None] == test[None]).all(-1).any()


def test_val_is_built_only_when_asked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(SynthReID, "_build_val_keys", lambda self: pytest.fail("val built for an existing split"))
    ds = build_synth("synth-tiny", cache_dir=tmp_path)
    for s in EXISTING:
        ds.load_split(s, SIZE)
    monkeypatch.undo()
    st = ds.load_split("val_query", SIZE)           # cached like every split, under a key of its own
    files = list(tmp_path.glob("synth-tiny-val_query-64x32-*.pt"))
    assert len(files) == 1 and len(st) == len(ds.keys("val_query"))
    assert len({ds.cache_key(s, SIZE) for s in (*EXISTING, "val_query", "val_gallery")}) == 5


def test_cli_stats_shows_val_rows(capsys):
    assert main(["data", "stats", "synth-s"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"val_query\s+50\s+\d+\s+4", out) and re.search(r"val_gallery\s+50\s+\d+\s+4\s+50", out)


# ------------------------------------------------------------------------------------------- evaluation


def test_eval_split_config():
    assert resolve_config(None, "smoke").eval.split == "test"
    assert resolve_config(None, "cpu").eval.split == "test"
    assert resolve_config(None, "smoke", {"eval": {"split": "val"}}).eval.split == "val"
    with pytest.raises(ConfigError, match="eval.split must be one of"):
        resolve_config(None, "smoke", {"eval": {"split": "validation"}})


def test_val_is_an_error_on_real_datasets(tmp_path):
    make_market_like(tmp_path / "market1501" / "Market-1501-v15.09.15", MARKET)
    market = build_dataset("market1501", root=str(tmp_path), verbose=False)
    assert eval_splits(market, "test") == EVAL_SPLITS["test"]
    with pytest.raises(ValueError, match="market1501 has no 'val' split.*only for SynthReID"):
        eval_splits(market, "val")
    make_msmt17(tmp_path / "MSMT17_V1")
    msmt = build_dataset("msmt17", root=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="only for SynthReID.*list_val.txt is read into the training split"):
        eval_splits(msmt, "val")
    assert eval_splits(build_synth("synth-tiny", cache=False), "val") == ("val_query", "val_gallery")


@pytest.fixture(scope="module")
def val_run(tmp_path_factory):
    """A smoke run (synth-tiny, 64x32, 2x3 iterations) evaluated on the validation split."""
    from partreid_core.engine.trainer import checkpoint_path
    from partreid_core.experiments.runs import train_experiment

    tmp = tmp_path_factory.mktemp("val-run")
    cfg = resolve_config("pal_globalpool", "smoke", {"eval": {"split": "val"},
                                                    "train": {"checkpoint_dir": str(tmp / "ckpt")}},
                         experiment="val-split", seed=0)
    res = train_experiment(cfg, out=tmp / "res", device="cpu")
    return res, checkpoint_path(cfg, tmp / "res")


def test_training_evaluates_and_records_the_chosen_split(val_run):
    res, _ = val_run
    saved = json.loads((res.path / "metrics.json").read_text())
    assert saved["split"] == "val"
    n_val_queries = len(build_synth("synth-tiny", cache=False).keys("val_query"))
    assert saved["num_valid_queries"] + saved["num_skipped_queries"] == n_val_queries
    assert saved["rank1"] == pytest.approx(res.metrics["rank1"])
    meta = json.loads((res.path / "config.json").read_text())
    assert meta["config"]["eval"]["split"] == "val"
    rows = records.load_records(res.path.parents[1])
    assert rows["split"].tolist() == ["val"] and provenance(rows).endswith("· split val")


def test_cli_eval_split(val_run, capsys):
    res, ckpt = val_run
    counts = {}
    for split in ("val", "test"):
        assert main(["eval", "--checkpoint", str(ckpt), "--device", "cpu", "--no-rerank", "--split", split]) == 0
        out = capsys.readouterr().out
        m = json.loads(out[out.index("{"):])
        assert m["split"] == split
        counts[split] = m["num_valid_queries"] + m["num_skipped_queries"]
        if split == "val":   # the same model on the same split: the record's numbers
            assert m["rank1"] == pytest.approx(res.metrics["rank1"]) and m["mAP"] == pytest.approx(res.metrics["mAP"])
    ds = build_synth("synth-tiny", cache=False)
    assert counts == {"val": len(ds.keys("val_query")), "test": len(ds.keys("query"))}


def test_old_records_read_as_test(tmp_path):
    path = tmp_path / "exp" / "run-s0"
    records.write_config(path, {"model": "m", "data": {"dataset": "synth-s"}}, {"seed": 0})
    (path / "metrics.json").write_text(json.dumps({"rank1": 50.0, "mAP": 40.0}))   # written before the split
    rows = records.load_records(tmp_path)
    assert rows["split"].tolist() == ["test"] and provenance(rows).endswith("· split test")
