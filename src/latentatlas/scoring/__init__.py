"""Scorers: images [N, C, H, W] in [-1, 1] -> named scores [N, m].

Built-ins: :class:`PredictorScorer` (trained predictors: probabilities, logits, embeddings),
:class:`PixelStatsScorer`, :class:`ObjectMomentsScorer`, :class:`MorphometryScorer` and
:class:`CallableScorer` (any callable). :func:`make_scorer` is the one factory: from a scorer, a
list of them, a predictor or a short name (the CLI's ``--scorers celeba,pixel``), with a column
selection and a clamp policy (``clamp="display"`` for generator output of any range).
"""

from __future__ import annotations

from latentatlas.scoring.base import (
    CLAMP_POLICIES,
    BaseScorer,
    CallableScorer,
    CombinedScorer,
    Scorer,
    ScoringError,
    check_scores,
    safe_name,
)
from latentatlas.scoring.factors import (
    FactorScorer,
    factor_columns,
    factor_groups,
    factor_scorer,
    ordered_heads,
)
from latentatlas.scoring.factory import BUILTIN_SCORERS, PREDICTOR_ALIASES, make_scorer
from latentatlas.scoring.morphometry import MorphometryScorer, zhang_suen_thinning
from latentatlas.scoring.pixels import ObjectMomentsScorer, PixelStatsScorer
from latentatlas.scoring.predictor import PredictorScorer

__all__ = [
    "BUILTIN_SCORERS",
    "CLAMP_POLICIES",
    "PREDICTOR_ALIASES",
    "BaseScorer",
    "CallableScorer",
    "CombinedScorer",
    "FactorScorer",
    "MorphometryScorer",
    "ObjectMomentsScorer",
    "PixelStatsScorer",
    "PredictorScorer",
    "Scorer",
    "ScoringError",
    "check_scores",
    "factor_columns",
    "factor_groups",
    "factor_scorer",
    "make_scorer",
    "ordered_heads",
    "safe_name",
    "zhang_suen_thinning",
]
