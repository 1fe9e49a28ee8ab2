"""Scores of every kind of predictor head, for explore: :class:`FactorScorer`.

A predictor's heads become score columns (see :func:`factor_columns`):

- a binary head ``h``: column ``h``, P(positive);
- a multiclass head ``h`` with classes c_0..c_{K-1}: one column ``h=c_k`` per class,
  P(class k) (one-vs-rest), when it has at most :data:`MAX_ONE_VS_REST` classes; and, when the
  factor is *ordered* (scale, orientation, position...), column ``h`` = the expected class
  index sum_k k P(k), one continuous score whose boundary moves the factor monotonically;
- a regression head ``h``: column ``h``, the predicted value.

Images whose channel count differs from the predictor's are adapted: grey -> RGB by repeating the
channel, RGB -> grey by BT.601 luma (other counts are refused); spatial size is adapted by the
predictor itself (bilinear resize).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from latentatlas.models.predictors import AttributePredictor
from latentatlas.scoring.base import BaseScorer, ScoringError

#: A multiclass head gets one-vs-rest columns when it has at most this many classes.
MAX_ONE_VS_REST = 16
COLUMN_KINDS = ("binary", "class", "expected", "regression")
_LUMA = (0.299, 0.587, 0.114)


def adapt_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, channels, H, W]: 1 -> 3 repeats, 3 -> 1 takes the luma."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1)
    if have == 3 and channels == 1:
        w = images.new_tensor(_LUMA).view(1, 3, 1, 1)
        return (images * w).sum(1, keepdim=True)
    raise ScoringError(f"cannot adapt {have}-channel images to a {channels}-channel predictor "
                       "(only grey <-> RGB is adapted)")


def check_channels(have: int, want: int) -> str | None:
    """How images of ``have`` channels are fed to a ``want``-channel predictor (None: as they
    are); raises ScoringError when they cannot be."""
    if have == want:
        return None
    if (have, want) == (1, 3):
        return "grey -> RGB (channel repeated)"
    if (have, want) == (3, 1):
        return "RGB -> grey (BT.601 luma)"
    raise ScoringError(f"the generator makes {have}-channel images and the predictor takes "
                       f"{want}: only grey <-> RGB is adapted")


def class_names(head: dict[str, Any]) -> list[str]:
    return list(head.get("classes") or [str(k) for k in range(head["num_classes"])])


def factor_columns(model: AttributePredictor, heads: Sequence[str] | None = None,
                   ordered: Sequence[str] = (), max_classes: int = MAX_ONE_VS_REST
                   ) -> list[dict[str, Any]]:
    """Column specs (name, kind, head, class index) of ``heads`` (default all), in head order
    (see the module docstring). ``ordered``: multiclass heads whose class index is ordered."""
    wanted = None if heads is None else set(heads)
    unknown = sorted((wanted or set()) - set(model.head_names))
    if unknown:
        raise ScoringError(f"unknown head(s) {unknown}; the predictor has "
                           f"{', '.join(model.head_names)}")
    cols: list[dict[str, Any]] = []
    for h in model.heads:
        name, kind = h["name"], h["kind"]
        if wanted is not None and name not in wanted:
            continue
        if kind == "binary":
            cols.append({"name": name, "kind": "binary", "head": name, "index": None})
        elif kind == "regression":
            cols.append({"name": name, "kind": "regression", "head": name, "index": None})
        else:
            if name in ordered:
                cols.append({"name": name, "kind": "expected", "head": name, "index": None})
            if h["num_classes"] <= max_classes:
                cols.extend({"name": f"{name}={c}", "kind": "class", "head": name, "index": k}
                            for k, c in enumerate(class_names(h)))
    return cols


class FactorScorer(BaseScorer):
    """Scores of a predictor's binary, multiclass and regression heads (module docstring).

    Args:
        model: the AttributePredictor.
        columns: column specs from :func:`factor_columns` (or a subset of them).
        channels: channel count of the images given to the scorer (default: the predictor's);
            grey <-> RGB is adapted.
        fast: bf16 autocast + channels_last of the predictor.
        clamp: the clamp policy of the inputs.
    """

    def __init__(self, model: AttributePredictor, columns: Sequence[dict[str, Any]],
                 channels: int | None = None, fast: bool = False,
                 clamp: str | bool = "validate") -> None:
        if not columns:
            raise ScoringError("FactorScorer needs at least one column")
        self.model = model.eval()
        self.model.set_fast(fast)
        self.fast = fast
        self.clamp = clamp
        self.channels = int(channels or model.in_channels)
        self.adaptation = check_channels(self.channels, model.in_channels)
        self.differentiable = True
        slices = model.head_slices()
        self.columns = []
        for c in columns:
            if c["kind"] not in COLUMN_KINDS or c["head"] not in slices:
                raise ScoringError(f"bad column spec {c!r}")
            self.columns.append(dict(c))
        self._slices = slices
        self.names = [c["name"] for c in self.columns]

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        dev = next(self.model.parameters()).device
        x = adapt_channels(images.to(dev), self.model.in_channels)
        logits = self.model.logits(x)
        soft: dict[str, torch.Tensor] = {}
        out = []
        for c in self.columns:
            raw = logits[:, self._slices[c["head"]]]
            if c["kind"] == "binary":
                out.append(torch.sigmoid(raw[:, 0]))
            elif c["kind"] == "regression":
                out.append(raw[:, 0])
            else:
                if c["head"] not in soft:
                    soft[c["head"]] = torch.softmax(raw, dim=1)
                p = soft[c["head"]]
                if c["kind"] == "class":
                    out.append(p[:, c["index"]])
                else:
                    idx = torch.arange(p.shape[1], device=p.device, dtype=p.dtype)
                    out.append(p @ idx)
        return torch.stack(out, dim=1)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "model": getattr(self.model, "model_folder", None),
                "model_class": type(self.model).__name__,
                "model_kwargs": self.model.init_kwargs, "fast": self.fast,
                "columns": [{k: c[k] for k in ("name", "kind", "head", "index")}
                            for c in self.columns],
                "channel_adaptation": self.adaptation}
