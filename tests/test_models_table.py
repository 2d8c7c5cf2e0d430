"""partreid_core.models.complexity: hand-worked counts, any-ReidModel table, ``partreid models`` CLI."""
from dataclasses import dataclass

import pandas as pd
import pytest
import torch
from torch import nn

from partreid_core.cli import main
from partreid_core.models import ModelOutput, ReidModel, build_model, list_models
from partreid_core.models.complexity import (
    PAPER_COMPLEXITY,
    complexity_row,
    count_flops,
    count_parameters,
    format_table,
    models_table,
    torchreid_complexity,
)
from partreid_core.models.registry import MODELS
from partreid_core.registry import Entry


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@dataclass
class ToyConfig:
    pass


class Toy(ReidModel):
    """conv 3->4 (3x3, bias) used twice through one module, GAP, a frozen-bias BN, a linear head
    and an eval-unused classifier. Hand-countable."""

    feat_dim = 2

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)           # 112 params
        self.conv_b = nn.Conv2d(4, 4, 1, bias=False)        # 16
        self.shared = self.conv_b                           # the same module under a second name
        self.bn = nn.BatchNorm1d(4)                         # 8 (bias frozen, still counted)
        self.bn.bias.requires_grad_(False)
        self.head = nn.Linear(4, 2)                         # 10
        self.classifier = nn.Linear(2, 7)                   # 21, training only

    def forward(self, images, masks=None, keypoints=None):
        x = self.shared(self.conv_b(self.conv(images)))      # 1x1 conv applied twice
        v = self.head(self.bn(x.mean((2, 3))))
        if not self.training:
            return v
        return ModelOutput(logits=[self.classifier(v)], features=[v], embedding=v, aux={"feature_map": x})


def test_counts_by_hand_on_a_toy_model():
    m = Toy()
    assert count_parameters(m, inference_only=False) == 112 + 16 + 8 + 10 + 21
    # classifier excluded; the shared 1x1 conv counted once; the frozen BN bias counted
    assert count_parameters(m, input_size=(8, 8)) == 112 + 16 + 8 + 10
    assert not m.bn.bias.requires_grad and m.training  # state restored
    # MACs: conv 27 per output x 4*8*8 outputs; 1x1 conv 4 x 256, twice; linear 4 x 2 (bias adds not counted)
    assert count_flops(m, (8, 8)) == 27 * 256 + 2 * 4 * 256 + 8
    # torchreid counter: params per call (1x1 conv twice), +1 MAC per output for a bias
    assert torchreid_complexity(m, (8, 8)) == (112 + 2 * 16 + 8 + 10, 28 * 256 + 2 * 4 * 256 + 5 * 2)


def test_detached_eval_output_is_an_error_not_zero():
    class Detached(Toy):
        def forward(self, images, masks=None, keypoints=None):
            out = super().forward(images)
            return out.detach() if not self.training else out

    with pytest.raises(RuntimeError, match="not connected to any parameter"):
        count_parameters(Detached(), input_size=(8, 8))


def test_row_for_any_reid_model_without_a_claim_is_blank():
    row = complexity_row("toy", Toy(), (8, 8))
    assert row["feat_dim"] == 2 and row["params"] == 146 and row["error"] == ""
    assert row["paper_params"] is None and row["paper_artefact"] == ""


def test_table_covers_registry_and_reports_errors(monkeypatch):
    # a model another engineer registers later: any ReidModel, no paper claim
    monkeypatch.setitem(MODELS._entries, "toy", Entry("toy", lambda cfg, n: Toy(), ToyConfig))

    def broken(cfg, n):
        raise RuntimeError("cannot build")

    monkeypatch.setitem(MODELS._entries, "broken", Entry("broken", broken, ToyConfig))
    df = models_table(["toy", "broken"], input_size=(8, 8))
    assert df.loc["toy", "params"] == 146 and df.loc["toy", "feat_dim"] == 2 and pd.isna(df.loc["toy", "paper_params"])
    assert df.loc["broken", "error"] == "RuntimeError: cannot build" and pd.isna(df.loc["broken", "params"])
    shown = format_table(df)
    assert shown.loc["toy", "paper params (M)"] == "" and "error" in shown.columns
    with pytest.raises(RuntimeError, match="cannot build"):
        models_table(["broken"], strict=True)


def test_every_registered_model_has_a_row_with_its_feat_dim():
    names = list_models()
    assert {"osnet", "plr_osnet"} <= set(names)
    df = models_table(names, num_classes=10, input_size=(128, 64))
    assert list(df.index) == names
    assert (df["error"] == "").all(), df["error"].to_dict()
    for name in names:
        assert df.loc[name, "feat_dim"] == build_model(name, 10).feat_dim
    assert df.loc["plr_osnet", "feat_dim"] == df.loc["plr_osnet", "paper_feat_dim"] == 2560
    assert df.loc["plr_osnet", "params"] == 3_324_926 and df.loc["plr_osnet", "params_torchreid"] == 3_362_136


def test_paper_claims_round_to_our_torchreid_counts():
    df = models_table(["osnet", "plr_osnet"], input_size=(128, 64))
    # PLR-M1: "3.4M" and OSNet "2.2M" are torchreid-counter values, rounded to 0.1M
    for name in ("osnet", "plr_osnet"):
        assert round(df.loc[name, "params_torchreid"] / 1e6, 1) * 1e6 == PAPER_COMPLEXITY[name].params
    assert PAPER_COMPLEXITY["osnet"].macs == 978.9e6 and PAPER_COMPLEXITY["mpn"].artefact == "MPN-T8"


def test_cli_list_and_table(capsys, tmp_path):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "plr_osnet" in out and "osnet " in out
    assert main(["models", "list", "plr*"]) == 0
    assert capsys.readouterr().out.split()[0] == "plr_osnet"
    csv = tmp_path / "t.csv"
    assert main(["models", "table", "plr_osnet", "--height", "64", "--width", "32", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "PLR-M1" in out and "3.325" in out and "3.362" in out and "2560" in out
    assert pd.read_csv(csv, index_col=0).loc["plr_osnet", "params"] == 3_324_926
    assert main(["models", "table", "no_such_model"]) == 1
    assert "unknown model 'no_such_model'" in capsys.readouterr().out
