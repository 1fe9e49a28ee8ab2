"""The direction-method registry: a name -> :class:`DirectionFinder` class table.

``latentatlas discover --methods sefa,ganspace,...`` and the leaderboard look methods up here.
A method module adds one line to :data:`DIRECTION_METHODS` (keep the table sorted by family:
supervised, closed form, sampled, trained). Every class follows the finder protocol of
:mod:`latentatlas.directions.finder`: an estimator whose ``fit(bank=None, scores=None, *,
generator=None, scorer=None, rng=None)`` sets ``directions_``.
"""

from __future__ import annotations

from typing import Any

from latentatlas.directions.finder import DirectionFinder
from latentatlas.directions.ganspace import GANSpace
from latentatlas.directions.jacobian import HessianDiscovery, OroJaRDiscovery
from latentatlas.directions.latent_discovery import LatentDiscovery
from latentatlas.directions.latentclr import LatentCLR
from latentatlas.directions.sefa import SeFa
from latentatlas.directions.stylespace import StyleSpace
from latentatlas.directions.svm import SVMBoundary
from latentatlas.utils.errors import ShapeError

#: name -> finder class. Unsupervised methods are those whose ``fit_requires`` has no "scores".
DIRECTION_METHODS: dict[str, type[DirectionFinder]] = {
    "svm": SVMBoundary,
    "sefa": SeFa,
    "ganspace": GANSpace,
    "stylespace": StyleSpace,
    "ld": LatentDiscovery,
    "hp": HessianDiscovery,
    "orojar": OroJaRDiscovery,
    "latentclr": LatentCLR,
}


def method_class(name: str) -> type[DirectionFinder]:
    """The finder class registered under ``name``; a one-line error lists the known names."""
    key = str(name).strip().lower()
    if key not in DIRECTION_METHODS:
        raise ShapeError(
            f"unknown direction method {name!r}; known: {', '.join(sorted(DIRECTION_METHODS))}"
        )
    return DIRECTION_METHODS[key]


def unsupervised_methods() -> list[str]:
    """Registered methods that need no scores (everything but supervised boundaries)."""
    return [n for n, c in DIRECTION_METHODS.items() if "scores" not in c.fit_requires]


def make_method(name: str, **params: Any) -> DirectionFinder:
    """A new finder of the method registered under ``name``, built with ``params``."""
    return method_class(name)(**params)


__all__ = ["DIRECTION_METHODS", "make_method", "method_class", "unsupervised_methods"]
