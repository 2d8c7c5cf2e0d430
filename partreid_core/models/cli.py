"""``partreid`` subcommands of ``partreid_core.models``."""
from __future__ import annotations


def register(sub, group) -> None:
    """Add this subsystem's subcommands to the top-level parser (see partreid_core.cli)."""
