"""Rank lists (PLR-F5, PAL-F15): junk removal, per-query AP, the case rule, and the record end to end."""
import json

import numpy as np
import pytest
import torch

from partreid_core.analysis.retrieval import choose_cases, per_query_ap, rank_lists


def _problem():
    # query 0: pid 1 cam 0; query 1: pid 2 cam 0. gallery (pid, cam): 0 (1,0) junk for q0, 1 (1,1), 2 (2,1),
    # 3 (-1,1) ignored for everyone, 4 (3,1)
    q_pids, q_cams = [1, 2], [0, 0]
    g_pids, g_cams = [1, 1, 2, -1, 3], [0, 1, 1, 1, 1]
    dist = torch.tensor([[0.0, 0.3, 0.1, 0.05, 0.2],
                         [0.5, 0.4, 0.9, 0.0, 0.4]])
    return dist, q_pids, g_pids, q_cams, g_cams


def test_rank_lists_drop_junk_and_keep_gallery_order_on_ties():
    idx, match = rank_lists(*_problem(), k=4)
    assert idx[0].tolist() == [2, 4, 1, -1]          # 0 (same pid+cam) and 3 (pid -1) never listed
    assert match[0].tolist() == [False, False, True, False]
    assert idx[1].tolist() == [1, 4, 0, 2]            # 1 and 4 tie at 0.4: gallery order
    assert match[1].tolist() == [False, False, False, True]


def test_per_query_ap_by_hand():
    ap = per_query_ap(*_problem())
    assert ap[0] == pytest.approx(1 / 3)              # the one positive at rank 2 (0-based) of the valid items
    assert ap[1] == pytest.approx(1 / 4)


def test_choose_cases_takes_the_largest_gains_and_skips_queries_without_positives():
    a = np.array([0.5, 0.25, np.nan, 0.125, 0.5])
    b = np.array([1.0, 0.75, 1.0, 0.125, 1.0])
    assert choose_cases(a, b, 3).tolist() == [0, 1, 4]  # gains 0.5, 0.5, 0.5: ties to the lower index
    assert choose_cases(a, b, 10).tolist() == [0, 1, 4, 3]


def test_ranklist_record_end_to_end(tmp_path, capsys):
    import matplotlib

    matplotlib.use("Agg")
    from test_engine import TEST_DATA, TEST_MODEL

    from partreid_core.cli import main
    from partreid_core.engine.records import checkpoint_file
    from partreid_core.experiments.ranklists import compare_checkpoints, load_ranklist
    from partreid_core.reporting.figures import rank_list_figure

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"model: {TEST_MODEL}\noptim: {{lr: 0.05}}\n")
    ckpts = []
    for seed in (0, 1):
        assert main(["train", "--recipe", str(recipe), "--profile", "smoke", "--dataset", TEST_DATA, "--seed",
                     str(seed), "--set", "data.size=[32, 16]", "--set", f"train.checkpoint_dir={tmp_path / 'ck'}",
                     "--device", "cpu", "--out", str(tmp_path / "res")]) == 0
        ckpts.append(checkpoint_file(tmp_path / "ck", tmp_path / "res", "tiny", f"{TEST_MODEL}-{TEST_DATA}-s{seed}"))
    out = tmp_path / "ranklists" / "s0-vs-s1"
    assert main(["ranklist", "--checkpoint", str(ckpts[0]), "--against", str(ckpts[1]), "--k", "5",
                 "--cases", "2", "--out", str(out), "--device", "cpu"]) == 0
    a = load_ranklist(out)
    assert a["cases"].shape == (2,) and a["top_a"].shape == a["match_b"].shape == (2, 5)
    assert a["query_images"].shape == (2, 3, 16, 8) and a["gallery_images_b"].shape == (2, 5, 3, 16, 8)
    gain = a["ap_b"] - a["ap_a"]
    assert gain[a["cases"][0]] == pytest.approx(np.nanmax(gain))
    assert (out / "config.json").is_file()
    fig = rank_list_figure(a, "seed 0", "seed 1")
    assert len(fig.axes) == 2 * 2 * (5 + 1)
    # CGPN-F5: the same pair on a re-rendered test split (there: occlusion=0.9; this toy dataset has only a seed);
    # the knob is part of the record
    occ = compare_checkpoints(ckpts[0], ckpts[1], tmp_path / "ranklists" / "s0-vs-s1-seed5", k=5, cases=2,
                              device="cpu", test_knobs={"seed": 5})
    b = load_ranklist(occ)
    assert not np.array_equal(a["query_images"], b["query_images"])
    assert json.loads((occ / "config.json").read_text())["test_knobs"] == {"seed": 5}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        main(["ranklist", "--checkpoint", str(ckpts[0]), "--against", str(ckpts[1]), "--test-knob", "occlusion",
              "--out", str(occ), "--device", "cpu"])
