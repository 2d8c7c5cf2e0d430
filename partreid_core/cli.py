"""``partreid`` command line: one subcommand group per subsystem.

Each subsystem module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)`` and
adds its own subcommands (e.g. ``partreid bench eval``, ``partreid synth export``).

Errors: :func:`main` turns the project's own errors (a bad config value, a missing or malformed
dataset, a refused checkpoint, a run locked by another process, an unwritable or full folder) into one
line on stderr and exit code 2; ``--debug`` (anywhere on the line) shows the traceback instead. Other
exceptions are bugs and keep their traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_MODULES = (
    "partreid_core.data.cli",
    "partreid_core.commands.bench_eval",
    "partreid_core.models.cli",
    "partreid_core.commands.training",
    "partreid_core.reporting.cli",
    "partreid_core.experiments.pretrain_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="partreid",
        description="Part-based person re-identification: datasets, models, training, evaluation, benchmarks.",
        epilog="Errors are reported in one line (exit code 2); add --debug for the traceback.",
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (accepted anywhere)")
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


def is_user_error(e: BaseException) -> bool:
    """Whether ``e`` is an error a user can act on from its message alone: an exception class of this
    project (ConfigError, DatasetNotFoundError, DatasetLayoutError, CorruptImageError, CheckpointError,
    RunLockedError, NotWritableError, DiskFullError, NonFiniteLossError), an OSError (a missing file, a
    denied write) or a KeyError from a registry lookup ("unknown model ..."). Anything else is a bug."""
    if type(e).__module__.split(".")[0] == "partreid_core":
        return True
    if isinstance(e, OSError):
        return True
    return isinstance(e, KeyError) and str(e.args[0] if e.args else "").startswith("unknown ")


def _message(e: BaseException) -> str:
    text = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    if type(e).__module__ == "builtins" and isinstance(e, OSError) and e.strerror and e.filename:
        text = f"{e.strerror}: {e.filename}"  # "[Errno 13] Permission denied: 'x'" without the errno
    return " ".join(str(text).split())  # one line


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except Exception as e:  # noqa: BLE001 - the one place errors become messages
        if debug or not is_user_error(e):
            raise
        print(f"partreid {args.command}: error: {_message(e)} [{type(e).__name__}; --debug shows the traceback]",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
