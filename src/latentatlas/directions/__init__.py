"""Latent directions: the :class:`Directions` object, the two protocols every method follows
(the :class:`DirectionFinder` estimator and the :class:`Walk`), InterFaceGAN / HiGAN SVM
boundaries, the reference :class:`NonlinearWalk`, conditional boundaries and entanglement
measures, and the trained walks (GANalyze, steerability). Importing this package registers
the walk classes (:class:`NonlinearWalk`, the GANalyze and steerability walks) for
``latentatlas.load``. HiGAN's layer-wise re-scoring needs editing, so it sits a floor up, in
:mod:`latentatlas.analysis.hierarchy`."""

from latentatlas.directions.base import (
    Directions,
    load_higan,
    load_interfacegan,
    parse_layers,
    safe_unpickle,
    save_higan,
    save_interfacegan,
)
from latentatlas.directions.conditional import (
    conditional_directions,
    cosine_matrix,
    project_boundary,
    score_change_matrix,
)
from latentatlas.directions.finder import FIT_INPUTS, DirectionFinder
from latentatlas.directions.ganalyze import GANalyze, GANalyzeTransformer
from latentatlas.directions.ganspace import GANSpace
from latentatlas.directions.jacobian import HessianDiscovery, OroJaRDiscovery
from latentatlas.directions.latent_discovery import LatentDiscovery
from latentatlas.directions.latentclr import LatentCLR
from latentatlas.directions.registry import DIRECTION_METHODS, make_method, method_class
from latentatlas.directions.sefa import SeFa
from latentatlas.directions.steerability import (
    TRANSFORMS,
    LinearSteerWalk,
    NonlinearSteerWalk,
    Steerability,
)
from latentatlas.directions.stylespace import StyleSpace
from latentatlas.directions.svm import SVMBoundary
from latentatlas.directions.walks import (
    NonlinearWalk,
    Walk,
    as_walk,
    is_walk,
    linear_walk,
    restrict_layers,
    walk_steps,
)

__all__ = [
    "GANalyze",
    "GANalyzeTransformer",
    "LinearSteerWalk",
    "NonlinearSteerWalk",
    "Steerability",
    "TRANSFORMS",
    "DIRECTION_METHODS",
    "HessianDiscovery",
    "LatentCLR",
    "LatentDiscovery",
    "OroJaRDiscovery",
    "FIT_INPUTS",
    "GANSpace",
    "SeFa",
    "StyleSpace",
    "make_method",
    "method_class",
    "DirectionFinder",
    "Directions",
    "NonlinearWalk",
    "SVMBoundary",
    "Walk",
    "as_walk",
    "is_walk",
    "linear_walk",
    "restrict_layers",
    "walk_steps",
    "conditional_directions",
    "cosine_matrix",
    "load_higan",
    "load_interfacegan",
    "parse_layers",
    "project_boundary",
    "safe_unpickle",
    "save_higan",
    "save_interfacegan",
    "score_change_matrix",
]
