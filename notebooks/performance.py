# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Engine performance
#
# Speed is a feature of this study: each chapter needs on the order of a hundred training runs, and every
# number here comes from a benchmark or run record under `results/` (the file is named under each table).
#
# - **Evaluation** — `partreid bench eval` runs our chunked evaluation and a straightforward per-query numpy
#   reference on the same random Market-scale problem (3,368 queries × 15,913 gallery images, d = 2048), checks
#   that they agree, and times both.
# - **Training** — `partreid bench train` trains the same model with our pipeline (the split decoded once into a
#   uint8 tensor, batched tensor augmentations, bf16 autocast where the hardware has it, channels_last) and with a
#   conventional one (a torchvision `DataLoader` decoding JPEGs with PIL in worker processes, fp32).
# - **The `cpu` profile** — the wall time and throughput of every model's calibration run.
#
# GPU figures (the targets: GlobalPool-ResNet-50 ≥ 4,000 img/s and MGN ≥ 1,500 img/s at 256×128 on an
# H100, ≥ 5× the conventional pipeline) are **pending**: no GPU was lent to the sessions that built this book.
# The commands are in the last section.

# %%
import json
from pathlib import Path

import pandas as pd

from partreid_core.experiments.records import load_history, load_records, results_root

RESULTS = results_root()
BENCH = RESULTS / "bench"


def bench_records(kind):
    rows = []
    for f in sorted(BENCH.glob(f"{kind}-*.json")):
        rec = json.loads(f.read_text())
        rows.append({"record": f"results/bench/{f.name}", "device": rec["device"], "commit": rec["git_commit"][:8],
                     "date": rec["date"][:10], **rec["result"]})
    return rows


# %% [markdown]
# ## Evaluation speed

# %%
rows = []
for r in bench_records("eval"):
    scale = r["nq"] / r["ref_queries"]  # the reference may run on a subset of the queries
    rows.append({"record": r["record"], "device": r["device"], "problem": f"{r['nq']:,} × {r['ng']:,}",
                 "ours (s)": r["t_ours"]["total"], "reference (s)": r["t_ref"]["total"] * scale,
                 "speed-up, total": r["ratios"]["total"], "speed-up, ranking + metrics": r["ratios"]["ranking"],
                 "peak RSS (MB)": r["peak_rss_mb"], "agree": r["agree"]})
eval_table = pd.DataFrame(rows)
eval_table.round(2) if rows else print("no evaluation benchmark records yet")

# %% [markdown]
# Both sides spend most of their time on the same float32 matrix product (about 220 GFLOP at Market scale); the
# ranking and metric computation, where the implementations differ, is where our evaluation gains its speed-up
# (it counts, for each true match, the gallery items closer than it, instead of sorting whole rows). The issue
# targets ≤ 2 s and ≥ 10× end to end on two cores: the first is met, the second only for the ranking and
# metrics — end to end the shared matrix product bounds the ratio.

# %% [markdown]
# ## Training throughput: our pipeline vs a conventional one

# %%
rows = []
for r in bench_records("train"):
    rows.append({"record": r["record"], "device": r["device"], "model": r["model"], "input": "×".join(map(str, r["size"])),
                 "batch": r["batch"], "ours (img/s)": r["ours_images_per_s"], "precision (ours)": r["ours_amp"],
                 "conventional (img/s)": r["conventional_images_per_s"], "speed-up": r["speedup"]})
train_table = pd.DataFrame(rows)
train_table.round(2) if rows else print("no training benchmark records yet")

# %% [markdown]
# On two CPU cores the model's own compute dominates, so the data pipeline matters less than on a GPU, where a
# PIL-based loader is usually the bottleneck; the GPU comparison is the one the issue's ≥ 5× target is about.

# %% [markdown]
# ## The `cpu` profile: every model's calibration run

# %%
cal = load_records(RESULTS, "calibration")
if cal.empty:
    print("no calibration records yet")
else:
    cal["train images/s"] = [load_history(p)["images_per_s"].mean() for p in cal["path"]]
    prof = (cal.groupby("model").agg(runs=("seed", "count"), minutes=("wall_time_s", lambda t: t.mean() / 60),
                                     train_images_per_s=("train images/s", "mean"), rank1=("rank1", "mean"))
            .sort_values("minutes"))
    display(prof.round(2))
    print(f"device: {', '.join(sorted(set(cal.device)))}")

# %% [markdown]
# A `cpu` run is 600 iterations of 32 images at 128×64 with a width-0.25 backbone, trained in bf16 on CPUs with
# native bf16 (1.5× the fp32 throughput here). Runs are trained two at a time (`partreid sweep --workers 2`), one
# thread each, which gives about 20% more images/s on two cores than one two-thread run.
#
# ## Commands
#
# ```bash
# partreid bench eval --threads 2 --out results/bench/eval-market-cpu.json
# partreid bench train --recipe pal_globalpool --profile cpu --steps 20 --out results/bench/train-cpu-globalpool.json
# partreid bench train --recipe pal_mgn --profile cpu --steps 10 --out results/bench/train-cpu-mgn.json
# # on a GPU (pending):
# partreid bench eval --device cuda --out results/bench/eval-market-h100.json
# partreid bench train --recipe pal_globalpool --profile gpu --device cuda --set train.compile=true \
#     --out results/bench/train-h100-globalpool.json
# partreid bench train --recipe pal_mgn --profile gpu --device cuda --out results/bench/train-h100-mgn.json
# ```
