"""Scorers: images [N, C, H, W] in [-1, 1] -> named scores [N, m].

Built-ins: :class:`PredictorScorer` (trained predictors: probabilities, logits, embeddings),
:class:`PixelStatsScorer`, :class:`ObjectMomentsScorer`, :class:`MorphometryScorer` and
:class:`CallableScorer` (any callable). :func:`build_scorer` makes one from a short name (the CLI's
``--scorers celeba,pixel``).
"""

from __future__ import annotations

import os
from pathlib import Path

from latentatlas.scoring.base import (
    BaseScorer,
    CallableScorer,
    CombinedScorer,
    Scorer,
    ScoringError,
    as_scorer,
    check_scores,
    safe_name,
)
from latentatlas.scoring.morphometry import MorphometryScorer, zhang_suen_thinning
from latentatlas.scoring.pixels import ObjectMomentsScorer, PixelStatsScorer
from latentatlas.scoring.predictor import PredictorScorer

#: Short scorer names -> shipped predictor models.
PREDICTOR_ALIASES = {
    "celeba": "predictor_celeba64",
    "mnist": "predictor_mnist",
    "dsprites": "predictor_dsprites",
    "shapes3d": "predictor_shapes3d",
}
BUILTIN_SCORERS = ("pixel", "moments", "morpho", *PREDICTOR_ALIASES)


def build_scorer(
    spec: str | os.PathLike, channels: int = 3, fast: bool = False
) -> BaseScorer:
    """A scorer from a short name: ``celeba`` / ``mnist`` / ``dsprites`` / ``shapes3d`` (shipped
    predictors), ``pixel``, ``moments``, ``morpho``, or a path to a predictor model folder."""
    name = str(spec).strip()
    if name == "pixel":
        return PixelStatsScorer(channels)
    if name == "moments":
        return ObjectMomentsScorer(channels)
    if name == "morpho":
        return MorphometryScorer(channels=channels)
    if name in PREDICTOR_ALIASES:
        return PredictorScorer(PREDICTOR_ALIASES[name], fast=fast)
    if Path(name).is_dir():
        return PredictorScorer(name, fast=fast)
    raise ScoringError(
        f"unknown scorer {name!r}; built-in: {', '.join(BUILTIN_SCORERS)}, or a predictor folder"
    )


__all__ = [
    "BUILTIN_SCORERS",
    "BaseScorer",
    "CallableScorer",
    "CombinedScorer",
    "MorphometryScorer",
    "ObjectMomentsScorer",
    "PixelStatsScorer",
    "PredictorScorer",
    "Scorer",
    "ScoringError",
    "as_scorer",
    "build_scorer",
    "check_scores",
    "safe_name",
    "zhang_suen_thinning",
]
