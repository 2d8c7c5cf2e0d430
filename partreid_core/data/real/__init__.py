"""Real ReID datasets under ``PARTREID_DATA`` (Market-1501, DukeMTMC-reID, CUHK03-NP, MSMT17) — issue 2.

Importing this package registers ``market1501``, ``dukemtmcreid``, ``cuhk03-labeled``, ``cuhk03-detected``
and ``msmt17`` in :data:`partreid_core.data.registry.DATASETS`.
"""
from .base import DatasetLayoutError, RealReidDataset
from .cuhk03 import CUHK03
from .market import DukeMTMCreID, Market1501, MarketLayoutDataset
from .msmt17 import MSMT17

__all__ = ["CUHK03", "DatasetLayoutError", "DukeMTMCreID", "MSMT17", "Market1501", "MarketLayoutDataset",
           "RealReidDataset"]
