"""``partreid pretrain``: identity-classification pretraining on SynthReID-P (:mod:`.pretrain`).

Examples::

    partreid pretrain --backbone resnet50 --width 0.25 --profile cpu      # -> synthp-resnet50-w0.25.pt
    partreid pretrain --backbone osnet_x0_25 --profile cpu --resume         # continue an interrupted run
    partreid pretrain --backbone resnet50 --width 1.0 --profile gpu
"""
from __future__ import annotations

import json

from .pretrain import BACKBONE_NAMES, TIERS, PretrainConfig, pretrain


def _pretrain(args) -> int:
    width = args.width if args.width is not None else (1.0 if args.backbone.startswith("osnet") or
                                                         args.profile == "gpu" else 0.25)
    cfg = PretrainConfig(backbone=args.backbone, width=width, profile=args.profile, name=args.name or "",
                         seed=args.seed, epochs=args.epochs, iters_per_epoch=args.iters_per_epoch,
                         batch_size=args.batch_size, **({"lr": args.lr} if args.lr is not None else {}))
    res = pretrain(cfg, out=args.out, resume=args.resume, device=args.device)
    print(f"record: {res.path}\ntrunk: {res.trunk}")
    print(json.dumps(res.summary, indent=2))
    return 0


def register(sub, group) -> None:
    """Add ``partreid pretrain`` to the top-level parser (see partreid_core.cli)."""
    p = sub.add_parser("pretrain", help="pretrain a backbone on SynthReID-P (identity classification); writes "
                       "results/pretrain/<name>/ and the trunk to $PARTREID_WEIGHTS (~/.cache/partreid/weights)")
    p.add_argument("--backbone", required=True, choices=sorted(BACKBONE_NAMES), help="the trunk to pretrain")
    p.add_argument("--width", type=float, help="channel multiplier (default: 0.25 at cpu, 1.0 at gpu and for OSNet)")
    p.add_argument("--profile", default="cpu", choices=tuple(TIERS), help="SynthReID-P tier (smoke: seconds)")
    p.add_argument("--epochs", type=int, help="default: the tier's (partreid_core.experiments.pretrain.TIERS)")
    p.add_argument("--iters-per-epoch", type=int, help="default: one pass over the training images")
    p.add_argument("--batch-size", type=int, help="images per step (default: the tier's)")
    p.add_argument("--lr", type=float, help="SGD base lr (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the run (default: 0)")
    p.add_argument("--name", help="record name (default <backbone>-w<width>-<profile>)")
    p.add_argument("--resume", action="store_true", help="continue from checkpoints/pretrain/<name>/last.pt")
    p.add_argument("--out", default="results", help="records root (default: results)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.set_defaults(func=_pretrain)
