"""The browser check's signals, on figures and pages made here: empty axes and blank images are caught,
figures with data are not; tracebacks are found inside cell outputs only."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from browser import image_stats, looks_empty, page_outputs  # noqa: E402


def _empty_axes(fig):
    ax = fig.subplots()
    ax.set(title="CGPN-X1", xlabel="occlusion", ylabel="mAP")


def _three_empty_axes(fig):
    for ax in fig.subplots(1, 3):
        ax.set_title("panel")
    fig.suptitle("X2")


def _noted_empty_axes(fig):
    """What a chapter without its records drew: gridded axes with a note in the middle (CGPN-X1 before the fix)."""
    for ax in fig.subplots(1, 2):
        ax.grid(alpha=0.3)
        ax.text(0.5, 0.5, "not run yet", ha="center")
        ax.set_ylabel("mAP (%)")


FIGURES = {
    "blank": (lambda fig: None, True),
    "empty axes": (_empty_axes, True),
    "three empty axes": (_three_empty_axes, True),
    "gridded axes with a note": (_noted_empty_axes, True),
    "line": (lambda fig: fig.subplots().plot([0, 1, 2], [1, 3, 2], marker="o"), False),
    "black line": (lambda fig: fig.subplots().plot([0, 1, 2], [1, 3, 2], color="k"), False),
    "bars": (lambda fig: fig.subplots().bar([0, 1], [2, 3]), False),
    "grey image": (lambda fig: fig.subplots().imshow(np.random.default_rng(0).random((8, 8)), cmap="gray"), False),
}


@pytest.mark.parametrize("name", FIGURES)
def test_empty_figures_are_told_from_figures_with_data(name, tmp_path):
    draw, empty = FIGURES[name]
    fig = plt.figure(figsize=(10, 4))
    draw(fig)
    fig.savefig(tmp_path / "f.png", dpi=100)
    plt.close(fig)
    assert looks_empty(image_stats(tmp_path / "f.png")) is empty


def test_page_outputs_reads_only_cell_outputs():
    dom = """<body><p>Traceback (most recent call last) in prose</p>
    <div class="cell docutils container"><div class="cell_input"><pre>raise ValueError</pre></div>
    <div class="cell_output docutils container"><div class="output stream"><pre>42 runs</pre></div>
    <img alt="fig" src="../_images/a.png"/><br>
    <div class="output traceback highlight-ipythontb"><pre>ValueError</pre></div></div></div>
    <img src="logo.png"></body>"""
    out = page_outputs(dom)
    assert out.images == ["../_images/a.png"]
    assert out.tracebacks == 1
    assert "42 runs" in "".join(out.text) and "in prose" not in "".join(out.text)
