"""``partreid`` subcommands that train and evaluate runs: train, eval, sweep, analyze, segmenter train,
robustness, ranklist, bench train, bench models.

Examples::

    partreid train --recipe rmgl --profile cpu --seed 1 --set train.epochs=3 --out results/
    partreid train --recipe rmgl --profile cpu --resume          # continue an interrupted run
    partreid train --recipe rmgl --profile cpu --restart         # from scratch, whatever checkpoint exists
    torchrun --nproc_per_node 4 -m partreid_core.cli train --recipe pal_mgn --profile gpu --dataset market1501
    partreid eval --checkpoint checkpoints/results-<hash>/rmgl/rmgl-synth-s-s0/last.pt --dataset synth-s
    partreid eval --checkpoint checkpoints/results-<hash>/rmgl/rmgl-synth-s-s0/last.pt --split val   # validation
    partreid sweep sweeps/rsa.yaml --out results/
    partreid sweep sweeps/rsa.yaml --only rmgl-no-rsa --workers 2   # one arm of the grid
    partreid sweep sweeps/rsa.yaml --profile cpu-ft                # the fine-tuned regime: results/fine-tuned/
    partreid bench train --recipe pal_globalpool --profile cpu --steps 10
"""
from __future__ import annotations

import argparse
import json

import torch
import torch.distributed as dist

from ..config import ConfigError, merge
from ..data.augment import StyleConfig
from ..engine.bench import bench_models, bench_train
from ..engine.records import write_bench
from ..engine.trainer import amp_dtype_for, evaluate, load_splits, resolve_device
from ..experiments.comparison import METHODS, method, run_robustness
from ..experiments.config import PROFILES, list_recipes, parse_set, resolve_config
from ..experiments.launchers import add_cli_args as add_launcher_args
from ..experiments.launchers import from_args
from ..experiments.posthoc import analyze_checkpoint
from ..experiments.ranklists import compare_checkpoints
from ..experiments.robustness import evaluate_under_knob, load_trained
from ..experiments.runs import train_experiment
from ..experiments.segmenter import SegmenterTrainConfig, train_segmenter
from ..experiments.sweep import load_sweep, run_sweep, sweep_regime, with_profile
from ..reporting.paths import regime_root


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", help="recipe name (partreid_core/experiments/recipes/<profile>/) or a YAML path")
    p.add_argument("--profile", default="cpu", choices=PROFILES,
                   help="smoke (seconds, tests), cpu (minutes on 2 cores, from scratch), cpu-ft (the same, "
                        "fine-tuning a SynthReID-P trunk) or gpu (paper scale); default: cpu")
    p.add_argument("--dataset", help="dataset name (overrides data.dataset)")
    p.add_argument("--model", help="model name (overrides the recipe's model)")
    p.add_argument("--seed", type=int, help="the run's seed (default: the config's, 0)")
    p.add_argument("--experiment", help="results/<experiment>/ (default: the recipe name)")
    p.add_argument("--run", help="run folder name (default: <model>-<dataset>-s<seed>)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="config override, repeatable, e.g. --set train.epochs=3 --set optim.lr=0.02")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")


def _recipes_epilog() -> str:
    """The recipes each profile can train, for ``partreid train --help``."""
    lines = ["recipes (--recipe NAME, or a path to a YAML file):"]
    lines += [f"  {prof:6s} {', '.join(list_recipes(prof))}" for prof in PROFILES]
    return "\n".join(lines + ["", "A run resumes (--resume, or a sweep) only from a checkpoint of the same config; "
                               "--restart trains from scratch."])


def _config(args):
    return resolve_config(args.recipe, args.profile, parse_set(args.sets), model=args.model, seed=args.seed,
                          dataset=args.dataset, experiment=args.experiment, run=args.run)


def _train(args) -> int:
    cfg = _config(args)
    res = train_experiment(cfg, out=args.out, resume=args.resume, device=args.device, restart=args.restart)
    if dist.is_initialized():
        dist.destroy_process_group()
    if res.metrics:
        print(f"record: {res.path}")
        print(json.dumps(res.metrics, indent=2))
    return 0


def _parse_levels(values: list[str]) -> list[float | str]:
    """Knob levels from the command line: numbers as floats, names (SynthReID domains "A", "B") as given."""
    return [float(v) if v.replace(".", "", 1).isdigit() else v for v in values]


def _bench_device(args) -> str:
    """The device line of a benchmark record: the GPU's name, or the CPU with its thread count."""
    return torch.cuda.get_device_name() if (args.device or "").startswith("cuda") else \
        f"cpu ({torch.get_num_threads()} threads)"


def _eval(args) -> int:
    if args.knob:
        if args.split == "val":
            raise SystemExit("--knob evaluates the test split; --split val is not supported with --knob")
        if not args.levels:
            raise SystemExit("--knob needs --levels, e.g. --knob misalignment --levels 0 0.25 0.5 0.75 1")
        levels = _parse_levels(args.levels)
        table = evaluate_under_knob(args.checkpoint, args.knob, levels, device=args.device, out=args.out)
        print(table.to_string(index=False))
        return 0
    device = resolve_device(args.device)
    model, cfg = load_trained(args.checkpoint, device)
    extra = parse_set(args.sets)
    if args.dataset:
        extra.setdefault("data", {})["dataset"] = args.dataset
    if args.rerank is not None:
        extra.setdefault("eval", {})["rerank"] = args.rerank
    if args.split is not None:
        extra.setdefault("eval", {})["split"] = args.split
    cfg = merge(cfg, extra) if extra else cfg
    _, query, gallery = load_splits(cfg)
    metrics = evaluate(model, query, gallery, cfg, device, amp_dtype_for(cfg.train.amp, device), cfg.eval.rerank)
    print(json.dumps({**metrics, "split": cfg.eval.split}, indent=2))
    return 0


def _sweep(args) -> int:
    sweeps = with_profile([load_sweep(f) for f in args.file], args.profile)
    # the records root of the grids' regime: a fine-tuned profile's records never land beside the scratch ones
    out = args.out if args.out is not None else str(regime_root("results", sweep_regime(sweeps)))
    statuses = run_sweep(sweeps, out=out, dry_run=args.dry_run,
                         device=args.device, workers=args.workers, only=args.only, seeds=args.seeds,
                         launcher=from_args(args), **({"restart": True} if args.restart else {}))
    for s in statuses:
        print(f"{s['status']:8s} {s['path']}")
    return 1 if any(s["status"].startswith("failed") for s in statuses) else 0


def _bench_train(args) -> int:
    res = bench_train(_config(args), steps=args.steps, warmup=args.warmup, workers=args.workers, device=args.device)
    if args.out:
        print("record:", write_bench(args.out, "train", {k: v for k, v in vars(args).items() if k != "func"}, res,
                                     _bench_device(args)))
    print(json.dumps(res, indent=2))
    return 0


def _robustness(args) -> int:
    methods = [method(m) for m in args.methods] if args.methods else METHODS
    levels = _parse_levels(args.levels) if args.levels else None
    statuses = run_robustness(args.knob, methods, args.seeds, levels, out=args.out, checkpoints=args.checkpoints,
                              device=args.device)
    for s in statuses:
        print(f"{s['status']:10s} {s['path']}")
    return 1 if any(s["status"].startswith("failed") for s in statuses) else 0


def _ranklist(args) -> int:
    try:  # the same KEY=VALUE parser as --set: YAML scalars, so 0.9 is a float, 5 an int and B a name
        knobs = parse_set(args.test_knob)
    except ConfigError:
        raise SystemExit(f"--test-knob wants KEY=VALUE (e.g. occlusion=0.9), got {args.test_knob!r}") from None
    path = compare_checkpoints(args.checkpoint, args.against, args.out, k=args.k, cases=args.cases, device=args.device,
                               test_knobs=knobs)
    print("record:", path)
    return 0


def _analyze(args) -> int:
    for ckpt in args.checkpoint:
        print("record:", analyze_checkpoint(ckpt, args.hooks, out=args.out, device=args.device))
    return 0


def _segmenter_train(args) -> int:
    cfg = SegmenterTrainConfig(name=args.name or (args.domain + ("-style" if args.style else "")), dataset=args.dataset,
                               domain=args.domain, epochs=args.epochs, seed=args.seed,
                               style=StyleConfig(p=0.8 if args.style else 0.0))
    path = train_segmenter(cfg, out=args.out, checkpoints=args.checkpoints, device=args.device)
    print("record:", path)
    return 0


def _bench_models(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    # "recipe:model" measures another model under a recipe (e.g. pal_pcb:pcb_ps, PAL's PS variant)
    cfgs = {r: resolve_config(r.split(":")[0], args.profile, dataset=args.dataset,
                              model=r.split(":")[1] if ":" in r else None) for r in args.recipes}
    rows = bench_models(cfgs, steps=args.steps, warmup=args.warmup, infer_images=args.infer_images,
                        device=args.device)
    if args.out:
        print("record:", write_bench(args.out, "models", {k: v for k, v in vars(args).items() if k != "func"},
                                     {"rows": rows}, _bench_device(args)))
    print(json.dumps(rows, indent=2))
    return 0


def register(sub, group) -> None:
    """Add this subsystem's subcommands to the top-level parser (see partreid_core.cli)."""
    p = sub.add_parser("train", help="train a model from a recipe and profile; writes results/<experiment>/<run>/",
                       epilog=_recipes_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_run_args(p)
    resume = p.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue from the run's last checkpoint (refused when its config differs)")
    resume.add_argument("--restart", action="store_true",
                        help="remove the run's checkpoint and train from scratch")
    p.add_argument("--out", default="results", help="records root (default: results); checkpoints are kept "
                   "per records root")
    p.set_defaults(func=_train)

    p = sub.add_parser("eval", help="evaluate a training checkpoint on a dataset's query/gallery")
    p.add_argument("--checkpoint", required=True, help="a last.pt written by partreid train")
    p.add_argument("--dataset", help="evaluate on this dataset instead of the training one")
    p.add_argument("--rerank", action=argparse.BooleanOptionalAction, default=None,
                   help="also report k-reciprocal re-ranked metrics (default: the run's eval.rerank)")
    p.add_argument("--split", choices=("test", "val"), default=None,
                   help="the query/gallery to evaluate: test, or SynthReID's validation split (default: the "
                        "run's eval.split, test unless set)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="config override for the evaluation, repeatable, e.g. --set eval.flip=false")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--knob", help="evaluate at several levels of this dataset knob (e.g. misalignment)")
    p.add_argument("--levels", nargs="+", help="the knob's levels")
    p.add_argument("--out", help="with --knob: write a record folder (knobs.csv, config.json) here")
    p.set_defaults(func=_eval)

    p = sub.add_parser("sweep", help="run a grid of variants x seeds, skipping existing records")
    p.add_argument("file", nargs="+", help="sweep YAML file(s) (see partreid_core.experiments.sweep)")
    p.add_argument("--workers", type=int, default=1, help="runs trained at once, each in its own process")
    p.add_argument("--profile", choices=PROFILES, help="run the grids at this profile instead of the files' own "
                   "(e.g. cpu-ft: the same variants fine-tuning SynthReID-P trunks)")
    p.add_argument("--out", help="records root (default: results, or results/fine-tuned for a fine-tuned profile "
                   "such as cpu-ft)")
    p.add_argument("--dry-run", action="store_true", help="list the runs and whether they exist")
    p.add_argument("--only", nargs="+", metavar="VARIANT", help="run only these variants of the grid")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="run only these of the grid's seeds")
    p.add_argument("--restart", action="store_true", help="train every run without a record from scratch, "
                   "ignoring its checkpoint (a sweep otherwise resumes runs whose config is unchanged)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    add_launcher_args(p)
    p.set_defaults(func=_sweep)

    p = sub.add_parser("analyze", help="run analysis hooks on trained checkpoints and add their arrays to the runs' "
                       "records (analysis.npz; config.json notes it), without retraining")
    p.add_argument("checkpoint", nargs="+", help="last.pt files written by partreid train / sweep")
    p.add_argument("--hooks", nargs="+", required=True, help="hook names (partreid_core.analysis.hooks.HOOKS)")
    p.add_argument("--out", default="results", help="the results folder the runs wrote to")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.set_defaults(func=_analyze)

    segmenter = group("segmenter", "the part segmenter that labels PAL's training images (PAL-T8 analogue, C9)")
    p = segmenter.add_parser("train", help="train it on one SynthReID domain, score it on both; writes "
                             "results/pal-segmenter/<name>/ and checkpoints/pal-segmenter/<name>/segmenter.pt")
    p.add_argument("--name", help="record name (default: the domain, plus -style with --style)")
    p.add_argument("--domain", default="B", help="the segmenter's training domain (default B; PAL runs train on A)")
    p.add_argument("--style", action="store_true", help="photometric style jitter (the SPGAN stand-in)")
    p.add_argument("--dataset", default="synth-s", help="SynthReID preset (default: synth-s)")
    p.add_argument("--epochs", type=int, default=8, help="training epochs (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    p.add_argument("--out", default="results", help="records root (default: results)")
    p.add_argument("--checkpoints", default="checkpoints", help="checkpoint folder (default: checkpoints)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.set_defaults(func=_segmenter_train)

    p = sub.add_parser("robustness", help="the comparison's robustness curves: every method's checkpoints "
                       "evaluated as one SynthReID knob grows (results/comparison-robustness/)")
    p.add_argument("--knob", required=True, help="misalignment, occlusion or domain (or any knob with --levels)")
    p.add_argument("--levels", nargs="+", help="default: partreid_core.experiments.comparison.ROBUSTNESS_LEVELS")
    p.add_argument("--methods", nargs="+", help="method labels or slugs (default: all of METHODS)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="the runs' seeds (default: 0 1 2)")
    p.add_argument("--checkpoints", default="checkpoints", help="where partreid sweep left the checkpoints")
    p.add_argument("--out", default="results", help="records root the sweeps wrote to; the curves go under it")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.set_defaults(func=_robustness)

    p = sub.add_parser("ranklist", help="two trained models' top-k lists on the queries where the second gains "
                       "most AP (PLR-F5, PAL-F15); writes a record folder")
    p.add_argument("--checkpoint", required=True, help="model A's last.pt (e.g. the baseline)")
    p.add_argument("--against", required=True, help="model B's last.pt (e.g. the method)")
    p.add_argument("--k", type=int, default=10, help="ranks shown per query (default: 10)")
    p.add_argument("--cases", type=int, default=3, help="queries shown (default: 3)")
    p.add_argument("--out", required=True, help="record folder, e.g. results/ranklists/plr_osnet-vs-osnet")
    p.add_argument("--test-knob", action="append", default=[], metavar="KEY=VALUE",
                   help="re-render the test split with this dataset option, e.g. occlusion=0.9 (repeatable)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.set_defaults(func=_ranklist)

    bench = group("bench", "benchmarks")
    p = bench.add_parser("train", help="training images/s: device tensor pipeline vs DataLoader + PIL + fp32")
    _add_run_args(p)
    p.add_argument("--steps", type=int, default=10, help="timed training steps (default: 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: 2)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the conventional pipeline")
    p.add_argument("--out",
                   help="also write a benchmark record (JSON) here, e.g. results/bench/train-cpu-globalpool.json")
    p.set_defaults(func=_bench_train)

    p = bench.add_parser("models", help="training and inference images/s of several recipes' models, same conditions")
    p.add_argument("--recipes", nargs="+", required=True, help="recipe names, or recipe:model")
    p.add_argument("--profile", choices=PROFILES, default="cpu", help="profile (default: cpu)")
    p.add_argument("--dataset", help="dataset name (default: each recipe's)")
    p.add_argument("--steps", type=int, default=10, help="timed training steps per model (default: 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default: 2)")
    p.add_argument("--infer-images", type=int, default=512, help="images timed for inference (default: 512)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--out", help="write a benchmark record (JSON) here, e.g. results/bench/models-cpu.json")
    p.set_defaults(func=_bench_models)
