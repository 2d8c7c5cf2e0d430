"""Figures more than one chapter draws (the rest live in the notebooks)."""
from __future__ import annotations

import numpy as np

from ..experiments.ranklists import load_ranklist


def rank_list_figure(arrays: dict[str, np.ndarray], label_a: str, label_b: str, title: str = ""):
    """Rank lists of :func:`partreid_core.experiments.ranklists.compare_checkpoints` as one figure.

    One block per case: the query, then model A's top-k on the first row and model B's on the second;
    green borders mark the query's identity, red the others (the papers' convention).
    """
    import matplotlib.pyplot as plt

    cases, k = arrays["top_a"].shape
    fig, axes = plt.subplots(2 * cases, k + 1, figsize=(0.75 * (k + 1), 1.45 * 2 * cases), squeeze=False)
    for c in range(cases):
        for r, name, label in ((0, "a", label_a), (1, "b", label_b)):
            row = axes[2 * c + r]
            q = row[0]
            if r == 0:
                q.imshow(arrays["query_images"][c].transpose(1, 2, 0))
                q.set_title(f"query {int(arrays['cases'][c])}", fontsize=8)
            q.set_ylabel(f"{label}\nAP {100 * arrays[f'ap_{name}'][arrays['cases'][c]]:.0f}", fontsize=8)
            for j in range(k):
                ax = row[j + 1]
                if arrays[f"top_{name}"][c, j] >= 0:
                    ax.imshow(arrays[f"gallery_images_{name}"][c, j].transpose(1, 2, 0))
                    color = "#2ca02c" if arrays[f"match_{name}"][c, j] else "#d62728"
                    for s in ax.spines.values():
                        s.set_edgecolor(color)
                        s.set_linewidth(2.5)
            for ax in row:
                ax.set_xticks([])
                ax.set_yticks([])
            if r == 1:
                for ax in row:
                    ax.spines["bottom"].set_visible(True)
            row[0].spines[:].set_visible(r == 0)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def show_rank_list(record, label_a: str, label_b: str, title: str) -> str:
    """Draw a ``partreid ranklist`` record (folder ``record``) and return one line on all queries: how often
    B's AP is higher / lower than A's. Without the record nothing is drawn and the line says so."""
    from pathlib import Path


    if not (Path(record) / "ranklist.npz").exists():
        return f"no rank-list record at {record}: run the command above"
    arrays = load_ranklist(record)
    rank_list_figure(arrays, label_a, label_b, title)
    a, b = arrays["ap_a"], arrays["ap_b"]
    both = ~np.isnan(a) & ~np.isnan(b)
    return (f"over all {both.sum()} queries: {label_b}'s AP is higher on {(b > a)[both].mean():.0%}, "
            f"lower on {(b < a)[both].mean():.0%}")


__all__ = ["rank_list_figure", "show_rank_list"]
