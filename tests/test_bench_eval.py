"""``partreid bench eval`` on a small problem (the Market/MSMT-scale runs are done by hand; see the report)."""
import pytest

from partreid_core.cli import main
from partreid_core.evaluation.bench import make_problem


def test_bench_eval_cli_small(capsys):
    rc = main(["bench", "eval", "--queries", "200", "--gallery", "1500", "--dim", "64", "--threads", "1"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "queries=200 gallery=1500 d=64" in out
    for phase in ("distances", "ranking+metrics", "total"):
        assert phase in out
    assert "agreement with the reference on 200 queries: OK" in out and "peak RSS" in out


def test_bench_eval_reference_subset(capsys):
    rc = main(["bench", "eval", "--scale", "msmt", "--queries", "120", "--gallery", "900", "--dim", "32",
               "--ref-queries", "50", "--threads", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "reference timed on 50 queries, scaled to 120" in out
    assert "agreement with the reference on 50 queries: OK" in out


def test_problem_structure():
    p = make_problem(nq=50, ng=400, ids=30, cams=6, distractors=40, junk=30, dim=8)
    assert p.qf.shape == (50, 8) and p.gf.shape == (400, 8)
    assert (p.g_pids == 0).sum() == 40 and (p.g_pids == -1).sum() == 30
    assert set(range(1, 31)) <= set(p.g_pids.tolist())  # every identity has a gallery image
    assert p.q_camids.max() < 6 and p.q_pids.min() >= 1


def test_bad_gallery_size():
    with pytest.raises(ValueError, match="cannot hold"):
        make_problem(nq=5, ng=10, ids=20, cams=2)
