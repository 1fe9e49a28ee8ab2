"""Explore's attributes of every kind: which predictor heads are explored (held-out quality per
kind: ROC-AUC for binary heads, accuracy for multiclass heads, R^2 for regression heads), the
score columns they become (:mod:`latentatlas.scoring.factors`), extra scorers (``--scorers``),
the generator / predictor pairing of the zoo and the focus of factor predictors."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentatlas.io import registry
from latentatlas.models import load
from latentatlas.models.predictors import AttributePredictor
from latentatlas.pipelines.explore.selection import predictor_auc
from latentatlas.pipelines.explore.settings import (
    DEFAULT_MODEL,
    DEFAULT_PREDICTOR,
    MIN_ACCURACY,
    MIN_AUC,
    MIN_R2,
    PREFERRED_EXTRA_FOCUS,
)
from latentatlas.scoring import (
    BaseScorer,
    CombinedScorer,
    FactorScorer,
    PredictorScorer,
    ScoringError,
    factor_columns,
    make_scorer,
    ordered_heads,
)
from latentatlas.scoring.factors import check_channels
from latentatlas.utils.errors import LatentAtlasError
from latentatlas.utils.hardware import native_bf16_supported

#: The held-out quality read for each head kind (key in the predictor's per-head metrics).
QUALITY_METRIC = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}


@dataclass
class AttributeChoice:
    """The explored score columns and what is known about them.

    ``kinds``: column -> "binary" / "class" (one-vs-rest) / "expected" (ordered factor's expected
    class index) / "regression" / "score" (a plain scorer's column); ``heads``: column -> the
    factor (predictor head, or the column itself); ``quality``: column -> {metric, value} of its
    head; ``abstraction``: level -> semantics (heads or columns) for the hierarchy test."""

    scorer: BaseScorer
    attributes: list[str]
    aucs: dict[str, float]
    auc_source: str | None
    kinds: dict[str, str] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    num_classes: dict[str, int] = field(default_factory=dict)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)
    quality_source: str | None = None
    ordered: list[str] = field(default_factory=list)
    abstraction: dict[str, list[str]] = field(default_factory=dict)
    adaptation: dict[str, Any] = field(default_factory=dict)

    @property
    def factor_predictor(self) -> bool:
        """True when a predictor head is multiclass or regression (ground-truth style)."""
        return any(k in ("class", "expected", "regression") for k in self.kinds.values())

    def to_json(self) -> dict[str, Any]:
        return {"kinds": self.kinds, "heads": self.heads, "num_classes": self.num_classes,
                "quality": self.quality, "quality_source": self.quality_source,
                "ordered": self.ordered, "abstraction": self.abstraction,
                "adaptation": self.adaptation}


def paired_predictor(model: Any, predictor: Any) -> tuple[Any, list[str]]:
    """(predictor, extra scorers): ``predictor`` when given, else the shipped model's paired
    predictor (zoo index), else the default model's; a clear error for an unpaired model."""
    entry = registry.zoo_entry(model) if isinstance(model, (str, os.PathLike)) else {}
    extra = list(entry.get("scorers", []))
    if predictor is not None:
        return predictor, extra if _same(predictor, entry.get("predictor")) else []
    if entry.get("predictor"):
        return entry["predictor"], extra
    if isinstance(model, (str, os.PathLike)) and str(model) == DEFAULT_MODEL:
        return DEFAULT_PREDICTOR, []
    label = model if isinstance(model, (str, os.PathLike)) else type(model).__name__
    raise LatentAtlasError(
        f"no predictor is paired with {label!s} (only shipped generators have one: "
        f"{', '.join(k for k in registry.available_models() if not k.startswith('predictor'))}); "
        "pass --predictor NAME_OR_FOLDER (e.g. one trained with `latentatlas predictors train "
        "--data ...`)")


def _same(a: Any, b: Any) -> bool:
    return b is not None and isinstance(a, (str, os.PathLike)) and str(a) == str(b)


def predictor_quality(model: AttributePredictor) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Held-out quality of every head, by kind (:data:`QUALITY_METRIC`), from the predictor's
    config.json metadata or its metrics.json (``test.per_head``)."""
    kinds = {h["name"]: h["kind"] for h in model.heads}

    def read(per: Any) -> dict[str, dict[str, Any]]:
        found = {}
        for name, row in (per or {}).items() if isinstance(per, dict) else ():
            metric = QUALITY_METRIC.get(kinds.get(name, ""))
            if isinstance(row, dict) and metric and row.get(metric) is not None:
                found[name] = {"metric": metric, "value": float(row[metric])}
        return found

    meta = getattr(model, "model_metadata", None) or {}
    found = read((meta.get("test") or {}).get("per_head"))
    source = "config.json metadata"
    folder = getattr(model, "model_folder", None)
    if folder is not None and (Path(folder) / "metrics.json").is_file():
        try:
            per = json.loads((Path(folder) / "metrics.json").read_text("utf-8")) \
                .get("test", {}).get("per_head")
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            per = None
        more = read(per)
        if len(more) > len(found):
            found, source = more, str(Path(folder) / "metrics.json")
    if not found:
        aucs, auc_src = predictor_auc(model)
        return {k: {"metric": "roc_auc", "value": v} for k, v in aucs.items()}, auc_src
    return found, source


def default_heads(model: AttributePredictor, aucs: dict[str, float],
                  quality: dict[str, dict[str, Any]], min_auc: float) -> list[str]:
    """Heads explored by default: binary heads with held-out AUC >= ``min_auc`` (all of them
    when no AUC is recorded), multiclass heads with accuracy >= MIN_ACCURACY, regression heads
    with R^2 >= MIN_R2 (kept when their quality is not recorded)."""
    bars = {"accuracy": MIN_ACCURACY, "r2": MIN_R2}
    out = []
    for h in model.heads:
        name = h["name"]
        if h["kind"] == "binary":
            ok = aucs.get(name, 0.0) >= min_auc if aucs else True
        else:
            q = quality.get(name)
            ok = q is None or q["metric"] not in bars or q["value"] >= bars[q["metric"]]
        if ok:
            out.append(name)
    return out


def resolve_attributes(predictor: Any, attributes: Sequence[str] | None, *,
                       min_auc: float = MIN_AUC, clamp: str | None = None,
                       channels: int | None = None, ordered: Sequence[str] | None = None,
                       scorers: Sequence[str] = ()) -> AttributeChoice:
    """The explored columns of ``predictor`` (+ extra ``scorers``) as an :class:`AttributeChoice`.

    Without ``attributes``: every head whose held-out quality reaches its bar (AUC >=
    ``min_auc``, accuracy >= MIN_ACCURACY, R^2 >= MIN_R2; all heads when none is recorded).
    ``attributes`` may name heads or columns. A predictor of binary heads only, fed images of
    its own channel count, is scored exactly as before (:class:`PredictorScorer`).
    """
    if isinstance(predictor, BaseScorer) and not isinstance(predictor, PredictorScorer):
        scorer = make_scorer(predictor, attributes, clamp=clamp)
        choice = AttributeChoice(scorer, list(scorer.names), {}, None)
        choice.kinds = {a: "score" for a in choice.attributes}
        choice.heads = {a: a for a in choice.attributes}
        return _with_extra(choice, scorers, clamp, channels)
    model = _load_predictor(predictor)
    aucs, auc_source = predictor_auc(model)
    quality, q_source = predictor_quality(model)
    entry = registry.zoo_entry(model.model_folder) if getattr(model, "model_folder", None) else {}
    meta = getattr(model, "model_metadata", None) or {}
    ordered = ordered_heads(model, ordered)
    kinds = {h["name"]: h["kind"] for h in model.heads}
    if attributes is None:
        chosen = default_heads(model, aucs, quality, min_auc)
        if not chosen:
            raise ScoringError(
                "no head of the predictor reaches its held-out quality bar (AUC >= "
                f"{min_auc}, accuracy >= {MIN_ACCURACY}, R^2 >= {MIN_R2}; read from "
                f"{q_source}); pass attributes= explicitly")
    else:
        chosen = list(attributes)
    adapt = None if channels is None else check_channels(int(channels), model.in_channels)
    fast = native_bf16_supported()
    legacy = adapt is None and all(kinds.get(a) == "binary" or (a not in kinds and "=" not in a)
                                   for a in chosen)
    if legacy:
        # binary heads (or a PredictorScorer's own column names): the scorer explore always used
        scorer: BaseScorer = make_scorer(model, chosen, clamp=clamp, fast=fast)
        cols = [{"name": n, "kind": "binary" if kinds.get(n) == "binary" else "score",
                 "head": n} for n in scorer.names]
    else:
        wanted_heads = sorted({a.split("=")[0] for a in chosen}, key=model.head_names.index) \
            if all(a.split("=")[0] in kinds for a in chosen) else None
        if wanted_heads is None:
            bad = [a for a in chosen if a.split("=")[0] not in kinds]
            raise ScoringError(f"unknown attribute(s) {bad}; the predictor has heads "
                               f"{', '.join(model.head_names)}")
        cols = factor_columns(model, wanted_heads, ordered)
        if attributes is not None:
            cols = [c for c in cols if c["name"] in chosen or c["head"] in chosen]
        if not cols:
            raise ScoringError(f"heads {wanted_heads} give no score column (an unordered "
                               "multiclass head with many classes: mark it ordered)")
        scorer = FactorScorer(model, cols, channels=channels, fast=fast,
                              clamp=clamp or "validate")
    choice = AttributeChoice(scorer, list(scorer.names),
                             {a: aucs[a] for a in scorer.names if a in aucs}, auc_source)
    for c in cols:
        choice.kinds[c["name"]] = c["kind"]
        choice.heads[c["name"]] = c["head"]
        if c["head"] in kinds:
            choice.num_classes[c["name"]] = int(model.head(c["head"])["num_classes"])
        if c["head"] in quality:
            choice.quality[c["name"]] = dict(quality[c["head"]])
    choice.quality_source = q_source
    choice.ordered = list(ordered)
    choice.abstraction = {k: list(v) for k, v in (entry.get("abstraction")
                                                  or meta.get("abstraction") or {}).items()}
    choice.adaptation = {"channels": adapt, "resolution": None if channels is None else
                         f"the predictor resizes to {model.resolution} px"}
    return _with_extra(choice, scorers, clamp, channels)


def _load_predictor(predictor: Any) -> AttributePredictor:
    if isinstance(predictor, PredictorScorer):
        return predictor.model
    if isinstance(predictor, AttributePredictor):
        return predictor
    if isinstance(predictor, (str, os.PathLike)):
        model = load(predictor)
        if not isinstance(model, AttributePredictor):
            raise ScoringError(f"{predictor} is a {type(model).__name__}, not an "
                               "AttributePredictor")
        return model
    raise ScoringError(f"predictor must be a name, a folder, an AttributePredictor or a "
                       f"scorer, got {type(predictor).__name__}")


def _with_extra(choice: AttributeChoice, scorers: Sequence[str], clamp: str | None,
                channels: int | None) -> AttributeChoice:
    """Add the columns of extra scorers (pixel, moments, morpho...) beside the predictor's."""
    if not scorers:
        return choice
    extra = make_scorer(list(scorers), clamp=clamp, channels=int(channels or 3))
    clash = sorted(set(extra.names) & set(choice.attributes))
    if clash:
        raise ScoringError(f"extra scorer columns {clash} clash with the predictor's")
    choice.scorer = CombinedScorer([choice.scorer, extra])
    for name in extra.names:
        choice.attributes.append(name)
        choice.kinds[name] = "score"
        choice.heads[name] = name
    return choice


def factor_focus(choice: AttributeChoice, max_focus: int) -> list[str]:
    """Focus of a factor predictor: one column per factor (the continuous column of an ordered,
    regression or binary head; the first class of an unordered head), then the preferred
    extra-scorer columns (thickness, slant...); max(max_focus, that many) up to 8."""
    reps: dict[str, str] = {}
    for a in choice.attributes:
        h, k = choice.heads[a], choice.kinds[a]
        if k == "score":
            continue
        if h not in reps or (choice.kinds[reps[h]] == "class" and k != "class"):
            reps[h] = a
    extra = [a for a in PREFERRED_EXTRA_FOCUS if choice.kinds.get(a) == "score"]
    cols = list(reps.values()) + extra
    return cols[: max(max_focus, min(8, len(cols)))]
