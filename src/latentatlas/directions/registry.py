"""The direction-method registry: method name -> :class:`DirectionFinder` class.

``latentatlas discover --methods ...`` and the leaderboard look methods up here; every class
follows the finder protocol of :mod:`latentatlas.directions.finder`.
"""

from __future__ import annotations

from latentatlas.directions.finder import DirectionFinder
from latentatlas.directions.jacobian import HessianDiscovery, OroJaRDiscovery
from latentatlas.directions.latent_discovery import LatentDiscovery
from latentatlas.directions.latentclr import LatentCLR

#: name -> finder class.
DIRECTION_METHODS: dict[str, type[DirectionFinder]] = {
    "ld": LatentDiscovery,
    "hp": HessianDiscovery,
    "orojar": OroJaRDiscovery,
    "latentclr": LatentCLR,
}

__all__ = ["DIRECTION_METHODS"]
