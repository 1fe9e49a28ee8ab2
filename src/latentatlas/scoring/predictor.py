"""Scores from a trained :class:`~latentatlas.models.predictors.AttributePredictor`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from latentatlas.models.predictors import AttributePredictor
from latentatlas.scoring.base import BaseScorer, ScoringError

OUTPUTS = ("probabilities", "logits", "embeddings")


def _column_names(model: AttributePredictor) -> list[tuple[str, str]]:
    """(head name, column name) for every output column, in logits order.

    Binary and regression heads give one column named after the head; a multiclass head gives
    one column per class named ``<head>_<class>``.
    """
    cols = []
    for h in model.heads:
        if h["kind"] == "multiclass":
            classes = h.get("classes") or [str(k) for k in range(h["num_classes"])]
            cols.extend((h["name"], f"{h['name']}_{c}") for c in classes)
        else:
            cols.append((h["name"], h["name"]))
    return cols


class PredictorScorer(BaseScorer):
    """Probabilities, logits or penultimate embeddings of a predictor, differentiable.

    Args:
        model: an AttributePredictor, or a shipped model name / model folder to load.
        output: "probabilities" (sigmoid for binary heads, softmax over a multiclass head's
            classes, the value for regression heads), "logits" (raw outputs) or "embeddings"
            (the penultimate layer, columns ``emb_000``...).
        attributes: keep only these heads or columns (by name); unknown names raise ScoringError
            listing the available ones. Not allowed with ``output="embeddings"``.
        fast: bfloat16 autocast + channels_last (about 2x faster on AMX CPUs; probabilities
            differ from fp32 by up to ~1e-2). This sets the mode of the model object itself.
        clamp: the clamp policy of the inputs (:data:`~latentatlas.scoring.base.CLAMP_POLICIES`;
            "validate" clamps the slight overshoot of generator outputs).
        prefix: prepended to every column name (to tell two predictors apart in one bank).
        device: where to run the model (default: where it is).
    """

    def __init__(
        self,
        model: AttributePredictor | str | os.PathLike,
        output: str = "probabilities",
        attributes: Sequence[str] | None = None,
        fast: bool = False,
        clamp: str | bool = "validate",
        prefix: str = "",
        device: str | torch.device | None = None,
    ) -> None:
        if output not in OUTPUTS:
            raise ScoringError(f"output must be one of {OUTPUTS}, got {output!r}")
        if not isinstance(model, AttributePredictor):
            from latentatlas.models import load

            source = str(model)
            model = load(model)
            if not isinstance(model, AttributePredictor):
                raise ScoringError(
                    f"{source} is a {type(model).__name__}, not an AttributePredictor"
                )
        self.model = model.eval()
        if device is not None:
            self.model.to(device)
        self.model.set_fast(fast)
        self.output = output
        self.fast = fast
        self.clamp = clamp
        self.prefix = prefix
        self.channels = model.in_channels
        self.differentiable = True
        columns = _column_names(model)
        if output == "embeddings":
            if attributes is not None:
                raise ScoringError("attributes cannot be selected with output='embeddings'")
            self.columns = None
            self.names = [f"{prefix}emb_{k:03d}" for k in range(model.embedding_dim)]
            return
        if attributes is None:
            keep = list(range(len(columns)))
        else:
            if isinstance(attributes, str):
                attributes = [attributes]
            known_heads = [h for h, _ in columns]
            known_cols = [c for _, c in columns]
            unknown = [a for a in attributes if a not in known_heads and a not in known_cols]
            if unknown:
                raise ScoringError(
                    f"unknown attribute(s) {unknown} for this predictor; available: "
                    f"{', '.join(dict.fromkeys(known_heads))}"
                )
            keep = [i for i, (h, c) in enumerate(columns) if h in attributes or c in attributes]
        self.columns = torch.tensor(keep, dtype=torch.long)
        self.names = [prefix + columns[i][1] for i in keep]

    def _activate(self, logits: torch.Tensor) -> torch.Tensor:
        if self.output == "logits":
            return logits
        out = logits.clone()
        for h, sl in zip(self.model.heads, self.model.head_slices().values(), strict=True):
            if h["kind"] == "binary":
                out[:, sl] = torch.sigmoid(logits[:, sl])
            elif h["kind"] == "multiclass":
                out[:, sl] = torch.softmax(logits[:, sl], dim=1)
        return out

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        dev = self.model_device
        images = images.to(dev)
        if self.output == "embeddings":
            return self.model.embed(images)
        return self._activate(self.model.logits(images))[:, self.columns.to(dev)]

    @property
    def model_device(self) -> torch.device:
        return next(self.model.parameters()).device

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate embeddings [N, embedding_dim] (differentiable)."""
        return self.model.embed(self.validate(images).to(self.model_device))

    def spec(self) -> dict[str, Any]:
        return {
            **super().spec(),
            "output": self.output,
            "model": getattr(self.model, "model_folder", None),
            "model_class": type(self.model).__name__,
            "model_kwargs": self.model.init_kwargs,
            "fast": self.fast,
        }
