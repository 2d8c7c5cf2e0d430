"""``partreid models ...``: list the registered models and print their complexity table."""
from __future__ import annotations

import argparse

from .complexity import format_table, models_table
from .registry import MODELS


def _cmd_list(args: argparse.Namespace) -> int:
    # importing partreid_core.models (this module's package) has registered every model
    for name in MODELS.names(args.pattern):
        print(f"{name:<16} {MODELS.get(name).doc}")
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    import pandas as pd


    df = models_table(args.names or None, num_classes=args.num_classes, input_size=(args.height, args.width),
                      strict=args.strict)
    if args.csv:
        df.to_csv(args.csv)
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(f"Eval forward of one {args.height}x{args.width} image; num_classes={args.num_classes} "
              f"(classifiers are not counted). MACs = multiply-adds.")
        print(format_table(df).to_string())
    return 1 if df["error"].fillna("").astype(bool).any() else 0


def register(sub, group) -> None:
    """Add ``partreid models list`` and ``partreid models table``."""
    models = group("models", "Registered ReID models: list them, compare their size with the papers'.")
    p = models.add_parser("list", help="List registered models with a one-line description.")
    p.add_argument("pattern", nargs="?", default="*", help="glob on model names (default: all)")
    p.set_defaults(func=_cmd_list)

    p = models.add_parser("table", help="Parameters, multiply-adds and test-feature size of each model vs the papers.")
    p.add_argument("names", nargs="*", help="model names (default: every registered model)")
    p.add_argument("--num-classes", type=int, default=751, help="training identities (default 751, Market-1501)")
    p.add_argument("--height", type=int, default=256, help="input height in pixels (default: 256)")
    p.add_argument("--width", type=int, default=128, help="input width in pixels (default: 128)")
    p.add_argument("--csv", default=None, help="also write the raw (integer) table to this CSV file")
    p.add_argument("--strict", action="store_true", help="fail on the first model that cannot be built or run")
    p.set_defaults(func=_cmd_table)
