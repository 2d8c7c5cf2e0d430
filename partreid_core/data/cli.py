"""``partreid`` subcommands of ``partreid_core.data``.

* ``partreid data stats NAME [--seed S] [--knob k=v ...]``: the PAL-T1 style statistics table of a dataset.
* ``partreid synth export PRESET OUT_DIR [--size H W] [--seed S] [--knob k=v ...]``: Market-1501 layout.
* ``partreid synth bench [--preset P] [--images N] [--size H W] [--workers K]``: generation speed.
"""
from __future__ import annotations

import time

from . import build_dataset
from .synth import build_synth, export_market
from .synth.dataset import _render_job


def _knobs(pairs: list[str] | None) -> dict:
    """``["occlusion=0.3", "domain=B"]`` -> {"occlusion": 0.3, "domain": "B"}."""
    out = {}
    for p in pairs or []:
        if "=" not in p:
            raise SystemExit(f"--knob expects NAME=VALUE, got {p!r}")
        k, v = p.split("=", 1)
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out


def _stats(args) -> int:
    kwargs = _knobs(args.knob)
    if args.seed is not None:
        kwargs["seed"] = args.seed
    if args.root is not None:
        kwargs["root"] = args.root
    ds = build_dataset(args.name, **kwargs)
    if not hasattr(ds, "summary"):  # a real dataset prints its summary (this table, root, side labels) on load
        print(ds.statistics().to_string())
    return 0


def _export(args) -> int:
    ds = build_synth(args.preset, seed=args.seed, **_knobs(args.knob))
    t = time.time()
    counts = export_market(ds, args.out_dir, tuple(args.size))
    print(f"exported {counts} to {args.out_dir} (+ {args.out_dir.rstrip('/')}_ps_label) in {time.time() - t:.1f}s")
    return 0


def _bench(args) -> int:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    ds = build_synth(args.preset, seed=args.seed, cache=False, **_knobs(args.knob))
    sizes = {s: len(ds.keys(s)) for s in ("train", "query", "gallery")}
    total = sum(sizes.values())
    n = min(args.images, sizes["train"])
    idx = np.linspace(0, sizes["train"] - 1, n).astype(int)
    size = tuple(args.size)
    ds.render("train", idx[: min(8, n)], size)   # warm-up: texture banks
    if args.workers <= 1:
        t0, c0 = time.time(), time.process_time()
        ds.render("train", idx, size)
    else:   # worker start-up (spawn + imports) is excluded: the pool is warmed before timing
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        chunks = np.array_split(idx, args.workers * 4)
        jobs = [(ds.preset, ds.seed, ds.knobs, "train", c.tolist(), size) for c in chunks]
        with ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn")) as ex:
            list(ex.map(_render_job, [(ds.preset, ds.seed, ds.knobs, "train", [0], size)] * args.workers))
            t0, c0 = time.time(), time.process_time()
            list(ex.map(_render_job, jobs))
    dt, cpu = time.time() - t0, time.process_time() - c0
    per = dt / n
    print(f"{args.preset} {size[0]}x{size[1]}: rendered {n} train images in {dt:.2f}s with {args.workers} worker(s) "
          f"= {1000 * per:.2f} ms/image wall; whole preset ({total} images) extrapolated: {per * total:.0f}s wall")
    if args.workers <= 1:  # CPU time is what an idle machine would need (the wall clock includes other load)
        print(f"CPU time {1000 * cpu / n:.2f} ms/image; whole preset on 2 idle cores (2 workers): "
              f"{cpu / n * total / 2:.0f}s")
    return 0


def register(sub, group) -> None:
    """Add this subsystem's subcommands to the top-level parser (see partreid_core.cli)."""
    data = group("data", "datasets: statistics")
    p = data.add_parser("stats", help="print the statistics table of a registered dataset")
    p.add_argument("name", help="dataset name, e.g. synth-s or market1501")
    p.add_argument("--seed", type=int, default=None, help="SynthReID generation seed (default: the preset's)")
    p.add_argument("--root", default=None, help="dataset root for real datasets (default: $PARTREID_DATA)")
    p.add_argument("--knob", action="append", metavar="NAME=VALUE",
                   help="SynthReID knob override, repeatable, e.g. --knob occlusion=0.3 --knob domain=B")
    p.set_defaults(func=_stats)

    synth = group("synth", "SynthReID: export and benchmark the synthetic dataset")
    p = synth.add_parser("export", help="write a preset in the Market-1501 folder layout")
    p.add_argument("preset", help="SynthReID preset, e.g. synth-s")
    p.add_argument("out_dir", help="output folder (the part labels go to OUT_DIR_ps_label beside it)")
    p.add_argument("--size", type=int, nargs=2, default=(256, 128), metavar=("H", "W"),
                   help="image height and width in pixels (default: 256 128)")
    p.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    p.add_argument("--knob", action="append", metavar="NAME=VALUE", help="SynthReID knob override, repeatable")
    p.set_defaults(func=_export)

    p = synth.add_parser("bench", help="measure generation speed on a subset and extrapolate to the preset")
    p.add_argument("--preset", default="synth-m", help="SynthReID preset (default: synth-m)")
    p.add_argument("--images", type=int, default=512, help="training images rendered for the timing (default: 512)")
    p.add_argument("--size", type=int, nargs=2, default=(256, 128), metavar=("H", "W"),
                   help="image height and width in pixels (default: 256 128)")
    p.add_argument("--workers", type=int, default=1, help="rendering processes (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    p.add_argument("--knob", action="append", metavar="NAME=VALUE", help="SynthReID knob override, repeatable")
    p.set_defaults(func=_bench)
