"""Latent directions: the :class:`Directions` object, InterFaceGAN / HiGAN SVM boundaries,
conditional boundaries and entanglement measures. HiGAN's layer-wise re-scoring needs editing,
so it sits a floor up, in :mod:`latentatlas.analysis.hierarchy`."""

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
from latentatlas.directions.svm import SVMBoundary

__all__ = [
    "Directions",
    "SVMBoundary",
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
