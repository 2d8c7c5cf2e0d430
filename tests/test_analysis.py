"""Analysis functions on hand-built inputs."""
import numpy as np
import pytest
import torch
from torch import nn

from partreid_core.analysis import (
    cam_part_statistics,
    confusion_matrix,
    grad_cam,
    input_gradient_rows,
    part_similarity_matrix,
    segmentation_scores,
    similarity_summary,
)


def test_part_similarity_identical_and_orthogonal_parts():
    same = torch.ones(5, 3, 4)
    assert torch.allclose(part_similarity_matrix(same), torch.ones(3, 3))
    ortho = torch.eye(3).expand(5, 3, 3) * 2.0
    s = part_similarity_matrix(ortho)
    assert torch.allclose(s, torch.eye(3), atol=1e-6)
    summ = similarity_summary(torch.tensor([[1.0, 0.9, 0.5], [0.9, 1.0, 0.8], [0.5, 0.8, 1.0]]))
    assert summ["mean_adjacent"] == pytest.approx(0.85) and summ["mean_non_adjacent"] == pytest.approx(0.5)
    assert summ["mean_off_diagonal"] == pytest.approx((0.9 + 0.5 + 0.8) / 3) and summ["min"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        part_similarity_matrix(torch.ones(3, 4))


def test_pal_f9_paper_scalars_from_paper_matrix():
    """The scalars the spec derived from the paper's PCB matrix (0.862 / 0.896 / 0.845 / 0.83)."""
    pcb = torch.tensor([
        [1.00, 0.90, 0.83, 0.83, 0.84, 0.84], [0.90, 1.00, 0.88, 0.84, 0.85, 0.85],
        [0.83, 0.88, 1.00, 0.89, 0.86, 0.85], [0.83, 0.84, 0.89, 1.00, 0.90, 0.86],
        [0.84, 0.85, 0.86, 0.90, 1.00, 0.91], [0.84, 0.85, 0.85, 0.86, 0.91, 1.00]])
    s = similarity_summary(pcb)
    assert round(s["mean_off_diagonal"], 3) == 0.862 and round(s["mean_adjacent"], 3) == 0.896
    assert round(s["mean_non_adjacent"], 3) == 0.845 and s["min"] == pytest.approx(0.83)


def test_segmentation_scores_by_hand():
    target = torch.tensor([[0, 0, 1, 1], [2, 2, 255, 255]])
    pred = torch.tensor([[0, 1, 1, 1], [2, 0, 2, 0]])
    cm = confusion_matrix(pred, target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    s = segmentation_scores(pred, target, 3)
    assert s["pixel_accuracy"] == pytest.approx(4 / 6)
    assert s["iou"] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert s["miou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    with pytest.raises(ValueError, match="labels must lie"):
        confusion_matrix(torch.tensor([5]), torch.tensor([0]), 3)


def test_cam_part_statistics_by_hand():
    masks = np.zeros((1, 4, 4), dtype=np.int64)
    masks[0, 0, :] = 1   # head row
    masks[0, 1:3, :] = 2  # torso rows
    masks[0, 3, :2] = 5   # upper leg
    cams = np.zeros((1, 4, 4), dtype=np.float32)
    cams[0, 0, :] = 1.0   # all heat on the head
    st = cam_part_statistics(cams, masks)
    assert st["coverage"].tolist() == [1]
    assert st["body_mass"][0] == pytest.approx(1.0) and st["entropy"][0] == pytest.approx(0.0, abs=1e-9)
    cams[0] = 1.0         # heat everywhere: all three present parts covered, background gets 2/16
    st = cam_part_statistics(cams, masks)
    assert st["coverage"].tolist() == [3] and st["body_mass"][0] == pytest.approx(14 / 16)
    assert st["entropy"][0] > 0.9 and st["part_mass"][0, 0] == pytest.approx(2 / 16)


def test_grad_cam_localises_the_responsible_region():
    class Tiny(nn.Module):
        """Channel 0 fires on red (top half of the image), channel 1 on green (bottom half);
        score k is the mean of channel k, so Grad-CAM of score k must light up its half."""
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1, bias=False)
            with torch.no_grad():
                self.conv.weight.copy_(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]).view(2, 3, 1, 1))
        def forward(self, x):
            return torch.relu(self.conv(x)).mean((2, 3))

    m = Tiny()
    x = torch.zeros(2, 3, 16, 8)
    x[:, 0, :8] = 1.0
    x[:, 1, 8:] = 1.0
    cams = grad_cam(m, m, m.conv, x, targets=[0, 1])
    assert cams.shape == (2, 16, 8)
    assert cams[0, :8].min() > 0.9 and cams[0, 8:].max() < 0.1
    assert cams[1, 8:].min() > 0.9 and cams[1, :8].max() < 0.1


def test_input_gradient_rows_sees_receptive_rows():
    fn = lambda x: x[:, :, :4].mean((2, 3))  # depends on rows 0..3 only  # noqa: E731
    rows = input_gradient_rows(fn, torch.rand(2, 3, 8, 4))
    assert rows.shape == (2, 8) and torch.allclose(rows.sum(1), torch.ones(2))
    assert rows[:, 4:].abs().max() == 0 and rows[:, :4].min() > 0


def test_per_image_off_diagonal_matches_matrix_mean():
    from partreid_core.analysis import per_image_off_diagonal
    f = torch.randn(5, 4, 8).abs()
    per = per_image_off_diagonal(f)
    mats = torch.stack([part_similarity_matrix(f[i:i + 1]) for i in range(5)])
    expected = (mats.sum((1, 2)) - 4) / 12
    assert torch.allclose(per, expected, atol=1e-6)
    summary = similarity_summary(part_similarity_matrix(f))
    assert torch.allclose(per.mean(), summary["mean_off_diagonal"] * torch.ones(()), atol=1e-6)
