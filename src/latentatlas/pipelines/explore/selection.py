"""Explore's choices: the generator, the scorer and its attributes (held-out AUC), the focus
attributes and the conditions of the conditional edits."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from latentatlas.io import registry
from latentatlas.io.cards import model_card_path
from latentatlas.models import Generator, load
from latentatlas.models.predictors import AttributePredictor
from latentatlas.pipelines.explore.settings import (
    DEFAULT_MODEL,
    MIN_AUC,
    PREFERRED_CONDITIONS,
    PREFERRED_FOCUS,
)
from latentatlas.scoring import BaseScorer, PredictorScorer, ScoringError, make_scorer
from latentatlas.utils.errors import CheckpointError, LatentAtlasError, ShapeError
from latentatlas.utils.hardware import native_bf16_supported


def resolve_generator(model: Any) -> Any:
    """A Generator from an instance, a shipped name or a model folder (clear error for the
    default ``celeba64`` when the zoo lacks it)."""
    if isinstance(model, Generator):
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise LatentAtlasError(f"model must be a Generator, a shipped name or a folder, "
                               f"got {type(model).__name__}")
    if str(model) == DEFAULT_MODEL and not Path(model).is_dir() \
            and DEFAULT_MODEL not in registry.available_models():
        raise CheckpointError(
            f"model {DEFAULT_MODEL!r} (the default of `latentatlas explore`) is missing from "
            "this installation's model zoo. Pass a generator folder instead, e.g. "
            "`latentatlas explore --model runs/my_gan/model` (train one with `latentatlas train "
            "gan --preset celeba64`)."
        )
    gen = load(model)
    if not isinstance(gen, Generator):
        raise CheckpointError(f"{model}: is a {type(gen).__name__}, not a generator")
    return gen


_CARD_ROW = re.compile(r"^\|\s*([^|]+?)\s*\|(.*)\|\s*$")


def _auc_from_card(text: str) -> dict[str, float]:
    """Per-head ROC-AUC from a model card's markdown table with a ``roc_auc`` column."""
    out: dict[str, float] = {}
    col = None
    for line in text.splitlines():
        m = _CARD_ROW.match(line.strip())
        if not m:
            col = None if not line.strip().startswith("|") else col
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "roc_auc" in cells:
            col = cells.index("roc_auc")
            continue
        if col is None or set(cells[0]) <= set("-: "):
            continue
        try:
            out[cells[0]] = float(cells[col])
        except (ValueError, IndexError):
            continue
    return out


def predictor_auc(model: Any) -> tuple[dict[str, float], str | None]:
    """Held-out ROC-AUC per binary head of a loaded predictor and where it was read from.

    Looks at ``model.model_metadata['test']['per_head']``, then ``<folder>/metrics.json``
    (``test.per_head``), then the ``roc_auc`` column of ``<folder>/MODEL_CARD.md``.
    Returns ({}, None) when none is available.
    """

    def from_per_head(per: Any) -> dict[str, float]:
        if not isinstance(per, dict):
            return {}
        return {str(k): float(v["roc_auc"]) for k, v in per.items()
                if isinstance(v, dict) and v.get("roc_auc") is not None}

    meta = getattr(model, "model_metadata", None) or {}
    found = from_per_head((meta.get("test") or {}).get("per_head"))
    if found:
        return found, "config.json metadata"
    folder = getattr(model, "model_folder", None)
    if folder is None:
        return {}, None
    metrics_path = Path(folder) / "metrics.json"
    if metrics_path.is_file():
        try:
            found = from_per_head(json.loads(metrics_path.read_text("utf-8"))
                                  .get("test", {}).get("per_head"))
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            found = {}
        if found:
            return found, str(metrics_path)
    card = model_card_path(folder)
    if card.is_file():
        found = _auc_from_card(card.read_text("utf-8", errors="replace"))
        if found:
            return found, str(card)
    return {}, None


def resolve_scorer(
    predictor: Any,
    attributes: Sequence[str] | None,
    min_auc: float = MIN_AUC,
    clamp: str | None = None,
) -> tuple[BaseScorer, list[str], dict[str, float], str | None]:
    """(scorer of the explored attributes, attribute names, AUC per attribute, AUC source).

    ``predictor``: a shipped predictor name / folder, an AttributePredictor, or any scorer
    (BaseScorer, e.g. CallableScorer) whose columns are probabilities. Without ``attributes``
    a predictor's binary heads with held-out AUC >= ``min_auc`` are explored. The scorer comes
    from :func:`~latentatlas.scoring.make_scorer` with the clamp policy ``clamp``.
    """
    if isinstance(predictor, BaseScorer) and not isinstance(predictor, PredictorScorer):
        scorer = make_scorer(predictor, attributes, clamp=clamp)
        return scorer, list(scorer.names), {}, None
    if isinstance(predictor, PredictorScorer):
        model = predictor.model
    elif isinstance(predictor, AttributePredictor):
        model = predictor
    elif isinstance(predictor, (str, os.PathLike)):
        model = load(predictor)
        if not isinstance(model, AttributePredictor):
            raise ScoringError(f"{predictor} is a {type(model).__name__}, not an "
                               "AttributePredictor")
    else:
        raise ScoringError(f"predictor must be a name, a folder, an AttributePredictor or a "
                           f"scorer, got {type(predictor).__name__}")
    aucs, source = predictor_auc(model)
    binary = [h["name"] for h in model.heads if h["kind"] == "binary"]
    if attributes is None:
        if aucs:
            chosen = [h for h in binary if aucs.get(h, 0.0) >= min_auc]
        else:
            chosen = binary
        if not chosen:
            raise ScoringError(
                f"no binary head of the predictor reaches held-out AUC >= {min_auc} "
                f"(AUCs from {source}); pass attributes= explicitly"
            )
    else:
        chosen = list(attributes)
    # bf16 scoring only where it is native: emulated bf16 is several times slower than fp32.
    scorer = make_scorer(model, chosen, clamp=clamp, fast=native_bf16_supported())
    return scorer, list(scorer.names), {a: aucs[a] for a in scorer.names if a in aucs}, source


def choose_focus(attributes: Sequence[str], aucs: dict[str, float], max_focus: int,
                 explicit: bool) -> list[str]:
    """The attributes the image-heavy stages run on (see the module docstring)."""
    if max_focus < 1:
        raise ShapeError(f"max_focus must be >= 1, got {max_focus}")
    if explicit:
        return list(attributes)[:max_focus]
    first = [a for a in PREFERRED_FOCUS if a in attributes]
    rest = sorted((a for a in attributes if a not in first),
                  key=lambda a: (-aucs.get(a, 0.0), list(attributes).index(a)))
    return (first + rest)[:max_focus]


def choose_condition(target: str, attributes: Sequence[str], cosines: np.ndarray,
                     overrides: dict[str, str] | None = None) -> str | None:
    """The attribute a conditional edit of ``target`` keeps fixed: an override, InterFaceGAN's
    Smiling | Male when both exist, else the attribute whose boundary has the largest |cosine|
    with the target's."""
    names = list(attributes)
    if len(names) < 2:
        return None
    for table in (overrides or {}, PREFERRED_CONDITIONS):
        cond = table.get(target)
        if cond is not None and cond in names and cond != target:
            return cond
    t = names.index(target)
    row = np.abs(np.asarray(cosines, dtype=np.float64)[t]).copy()
    row[t] = -1.0
    return names[int(np.argmax(row))]

