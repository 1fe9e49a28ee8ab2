"""Metrics: disentanglement (metrics.disentanglement) and sample quality (metrics.quality)."""

from latentatlas.metrics.disentanglement import *  # noqa: F403  (the disentanglement suite)
from latentatlas.metrics.disentanglement import __all__ as _disentanglement_all

__all__ = list(_disentanglement_all)
