"""The paper-scale cost table (partreid_core.reporting.cost)."""
from __future__ import annotations

import math

import pytest

from partreid_core.engine.records import write_bench
from partreid_core.experiments.config import resolve_config
from partreid_core.reporting.cost import ASSUMED_ANCHOR, cost_table, images_per_epoch


def test_images_per_epoch_follows_each_sampler():
    gp = resolve_config("pal_globalpool", "gpu")     # random batches of 32
    assert images_per_epoch(gp, 751, 12936) == (12936 // 32) * 32
    mgn = resolve_config("pal_mgn", "gpu")           # P x K = 16 x 8, identity epochs
    assert images_per_epoch(mgn, 751, 12936) == (751 // 16) * 128
    rmgl = resolve_config("rmgl", "gpu")             # P x K = 12 x 4, image epochs: ceil(n_i / K) chunks per id
    # 12936 images over 751 ids: 169 ids of 18 images and 582 of 17, each 5 chunks of K = 4
    assert images_per_epoch(rmgl, 751, 12936) == (751 * 5 // 12) * 48
    fixed = resolve_config("pal_globalpool", "gpu", {"train": {"iters_per_epoch": 7}})
    assert images_per_epoch(fixed, 751, 12936) == 7 * 32


def _models_cpu(bench, rows):
    write_bench(bench / "models-cpu.json", "models", {}, {"rows": rows}, "cpu (1 threads)")


def test_cost_table_projected_then_measured(tmp_path):
    bench = tmp_path / "bench"
    _models_cpu(bench, [
        {"label": "pal_globalpool", "model": "globalpool", "size": [128, 64], "train_images_per_s": 300.0},
        {"label": "pal_mgn", "model": "mgn", "size": [128, 64], "train_images_per_s": 150.0}])
    t = cost_table(bench, ["pal_globalpool", "pal_mgn", "cgpn"])
    gp, mgn = t.loc["pal_globalpool"], t.loc["pal_mgn"]
    assert gp["kind"] == "projected" and gp["img/s"] == pytest.approx(ASSUMED_ANCHOR)
    assert gp["GPU-hours"] == pytest.approx(12928 * 60 / ASSUMED_ANCHOR / 3600)
    # half GlobalPool's CPU throughput, 1.5x its pixels (384x128): a third of the anchor; two passes per batch
    assert mgn["img/s"] == pytest.approx(ASSUMED_ANCHOR / 2 / 1.5) and mgn["passes"] == 2
    assert mgn["GPU-hours"] == pytest.approx(5888 * 200 * 2 / (ASSUMED_ANCHOR / 3) / 3600)
    assert math.isnan(t.loc["cgpn", "img/s"]) and "no CPU measure" in t.loc["cgpn", "basis"]

    write_bench(bench / "train-h100-globalpool.json", "train", {},
                {"model": "globalpool", "size": [256, 128], "ours_images_per_s": 5000.0}, "NVIDIA H100 80GB HBM3")
    write_bench(bench / "train-cpu-globalpool.json", "train", {},  # a CPU record never counts as a GPU measure
                {"model": "globalpool", "size": [256, 128], "ours_images_per_s": 9e9}, "cpu (2 threads)")
    t = cost_table(bench, ["pal_globalpool", "pal_mgn"])
    assert t.loc["pal_globalpool", "kind"] == "measured" and t.loc["pal_globalpool", "img/s"] == 5000.0
    assert t.loc["pal_mgn", "kind"] == "projected" and "H100" in t.loc["pal_mgn", "basis"]
    assert t.loc["pal_mgn", "img/s"] == pytest.approx(5000.0 / 3)


def test_mpn_trains_on_the_five_fold_set(tmp_path):
    bench = tmp_path / "bench"
    _models_cpu(bench, [{"label": "pal_globalpool", "model": "globalpool", "size": [128, 64],
                         "train_images_per_s": 300.0},
                        {"label": "mpn", "model": "mpn", "size": [128, 64], "train_images_per_s": 100.0}])
    t = cost_table(bench, ["mpn"])
    plain = resolve_config("mpn", "gpu", {"data": {"translate": {"copies": 1}}})
    assert t.loc["mpn", "images/epoch"] == images_per_epoch(plain, 751, 5 * 12936)
    # the P x K sampler's image epoch: each id's ~86 images in ceil(86 / 8) = 11 chunks, P = 6 chunks a batch
    assert t.loc["mpn", "images/epoch"] == (751 * 11 // 6) * 48
