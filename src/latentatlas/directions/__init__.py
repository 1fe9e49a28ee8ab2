"""Latent directions: the :class:`Directions` object, InterFaceGAN / HiGAN SVM boundaries,
conditional boundaries, entanglement measures and HiGAN's layer-wise analysis."""

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
from latentatlas.directions.hierarchy import (
    LayerSelection,
    RescoreResult,
    rescore,
    select_layers,
    select_layers_from_relevance,
)
from latentatlas.directions.svm import SVMBoundary

__all__ = [
    "Directions",
    "LayerSelection",
    "RescoreResult",
    "SVMBoundary",
    "conditional_directions",
    "cosine_matrix",
    "load_higan",
    "load_interfacegan",
    "parse_layers",
    "project_boundary",
    "rescore",
    "safe_unpickle",
    "save_higan",
    "save_interfacegan",
    "score_change_matrix",
    "select_layers",
    "select_layers_from_relevance",
]
