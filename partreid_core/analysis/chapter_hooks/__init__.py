"""End-of-training analysis hooks that belong to one chapter (e.g. PAL-F10's Grad-CAM part coverage).

Each module registers its hooks with :func:`partreid_core.analysis.hooks.register_hook`; the
``partreid_core.analysis`` package imports this one, so a recipe can name any of them in ``analysis:``.
"""
from . import cgpn, mpn, pal, plr_osnet, rmgl  # noqa: F401  (registration)
