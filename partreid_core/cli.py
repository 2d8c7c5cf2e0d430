"""``partreid`` command line: one subcommand group per subsystem.

Each subsystem module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)`` and
adds its own subcommands (e.g. ``partreid bench eval``, ``partreid synth export``).
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "partreid_core.data.cli",
    "partreid_core.evaluation.cli",
    "partreid_core.models.cli",
    "partreid_core.engine.cli",
    "partreid_core.reporting.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partreid",
        description="Part-based person re-identification: datasets, models, training, evaluation, benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}

    def group(name: str, help: str) -> argparse._SubParsersAction:
        """A shared two-level group (``bench``, ``synth``, ...) that several modules add to."""
        if name not in groups:
            p = sub.add_parser(name, help=help)
            groups[name] = p.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND", required=True)
        return groups[name]

    for mod in COMMAND_MODULES:
        importlib.import_module(mod).register(sub, group)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
