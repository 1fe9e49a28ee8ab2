"""The one scorer factory: :func:`make_scorer` turns whatever names a scorer into a
:class:`~latentatlas.scoring.base.BaseScorer`, with a column selection and a clamp policy."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latentatlas.io import registry
from latentatlas.models.predictors import AttributePredictor
from latentatlas.scoring.base import (
    BaseScorer,
    CallableScorer,
    CombinedScorer,
    Scorer,
    ScoringError,
    clamp_policy,
)
from latentatlas.scoring.morphometry import MorphometryScorer
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


def make_scorer(
    source: Any,
    attributes: Sequence[str] | None = None,
    *,
    clamp: str | bool | None = None,
    fast: bool = False,
    channels: int = 3,
) -> BaseScorer:
    """One scorer from ``source``:

    - a :class:`BaseScorer` (returned as it is when nothing is asked of it);
    - any :class:`Scorer` (names + __call__), or a list / tuple of sources: a
      :class:`CombinedScorer` (column names must be unique);
    - an :class:`AttributePredictor`: a :class:`PredictorScorer` (probabilities);
    - a name: ``celeba`` / ``mnist`` / ``dsprites`` / ``shapes3d`` (shipped predictors),
      ``pixel``, ``moments``, ``morpho`` (``channels`` channels), a shipped predictor's model
      name or a predictor model folder (the CLI's ``--scorers``).

    ``attributes``: keep only these columns (a predictor's heads or columns; another scorer's
    names), in this order. ``clamp``: the clamp policy of the inputs
    (:data:`~latentatlas.scoring.base.CLAMP_POLICIES`, e.g. "display" for generator output of any
    range); None keeps the scorer's own ("validate" for built-ins). ``fast``: bf16 +
    channels_last for predictors.
    """
    policy = None if clamp is None else clamp_policy(clamp)
    if isinstance(source, (list, tuple)):
        if not source:
            raise ScoringError("give at least one scorer")
        members = [make_scorer(s, fast=fast, channels=channels) for s in source]
        scorer: BaseScorer = CombinedScorer(members)
    elif isinstance(source, (str, os.PathLike)):
        scorer = _named(source, fast, channels)
    elif isinstance(source, AttributePredictor):
        return PredictorScorer(source, attributes=attributes, fast=fast,
                               clamp=policy or "validate")
    elif isinstance(source, BaseScorer):
        scorer = source
    elif isinstance(source, Scorer):
        scorer = CombinedScorer([source])
    else:
        raise ScoringError(f"cannot make a scorer from a {type(source).__name__}")
    if attributes is not None:
        scorer = _columns(scorer, list(attributes))
    if policy is not None and policy != scorer.clamp:
        scorer = copy.copy(scorer)  # the caller's scorer keeps its own policy
        scorer.clamp = policy
    return scorer


def _named(spec: str | os.PathLike, fast: bool, channels: int) -> BaseScorer:
    name = str(spec).strip()
    if name == "pixel":
        return PixelStatsScorer(channels)
    if name == "moments":
        return ObjectMomentsScorer(channels)
    if name == "morpho":
        return MorphometryScorer(channels=channels)
    if name in PREDICTOR_ALIASES:
        return PredictorScorer(PREDICTOR_ALIASES[name], fast=fast)
    if Path(name).is_dir() or name in registry.available_models():
        return PredictorScorer(name, fast=fast)
    raise ScoringError(
        f"unknown scorer {name!r}; built-in: {', '.join(BUILTIN_SCORERS)}, a shipped predictor "
        "or a predictor folder"
    )


def _columns(scorer: BaseScorer, attributes: list[str]) -> BaseScorer:
    if list(scorer.names) == attributes:
        return scorer
    if isinstance(scorer, PredictorScorer):
        return PredictorScorer(scorer.model, output=scorer.output, attributes=attributes,
                               fast=scorer.fast, clamp=scorer.clamp, prefix=scorer.prefix)
    names = list(scorer.names)
    unknown = [a for a in attributes if a not in names]
    if unknown:
        raise ScoringError(f"unknown attribute(s) {unknown}; the scorer gives {names}")
    cols = [names.index(a) for a in attributes]
    return CallableScorer(lambda x: scorer(x)[:, cols], attributes, channels=scorer.channels,
                          differentiable=scorer.differentiable, clamp=scorer.clamp,
                          description=f"{scorer.spec()} columns {attributes}")
