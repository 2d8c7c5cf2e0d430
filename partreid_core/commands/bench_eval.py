"""``partreid bench eval``: the evaluation's throughput against a per-query numpy reference."""
from __future__ import annotations

import torch

from ..engine.records import write_bench
from ..evaluation.bench import run_bench


def _bench_eval(args) -> int:
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: CUDA is not available on this machine")
    r = run_bench(scale=args.scale, queries=args.queries, gallery=args.gallery, dim=args.dim,
                  ref_queries=args.ref_queries, chunk_size=args.chunk_size, threads=args.threads,
                  device=args.device, seed=args.seed, rerank=args.rerank)
    if args.out:
        dev = args.device if args.device != "cpu" else f"cpu ({torch.get_num_threads()} threads)"
        print("record:", write_bench(args.out, "eval", {k: v for k, v in vars(args).items() if k != "func"}, r, dev))
    return 0 if r["agree"] else 1


def register(sub, group) -> None:
    """Add this subsystem's subcommands to the top-level parser (see partreid_core.cli)."""
    p = group("bench", "throughput benchmarks").add_parser(
        "eval", help="chunked evaluation vs a per-query numpy reference on a random Market/MSMT-scale problem",
        description="Times our evaluation (distances, ranking, CMC/mAP/mINP) against a straightforward per-query "
                    "numpy reference on one random problem, prints both, the speed-up and peak RSS, and exits 1 "
                    "if the metrics disagree.")
    p.add_argument("--scale", choices=("market", "msmt"), default="market",
                   help="market: 3,368 x 15,913; msmt: 11,659 x 82,161 (default: market)")
    p.add_argument("--queries", type=int, default=None, help="override the number of queries")
    p.add_argument("--gallery", type=int, default=None, help="override the gallery size (ids/junk scale with it)")
    p.add_argument("--dim", type=int, default=2048, help="feature dimension (default: 2048)")
    p.add_argument("--ref-queries", type=int, default=None,
                   help="run the reference on the first N queries only (default: all for market, 1000 for msmt)")
    p.add_argument("--chunk-size", type=int, default=1024, help="queries per block (default: 1024)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:i] (default: cpu)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random features (default: 0)")
    p.add_argument("--rerank", action="store_true",
                   help="also time k-reciprocal re-ranking + evaluation of the re-ranked distances on --device")
    p.add_argument("--out", help="also write a benchmark record (JSON) to this path, e.g. results/bench/eval-cpu.json")
    p.set_defaults(func=_bench_eval)
