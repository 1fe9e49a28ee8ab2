"""Predictor heads -> score columns, for explore and for labelling: :class:`FactorScorer`.

This module is the one owner of the rule. A predictor's heads become score columns (see
:func:`factor_columns`):

- a binary head ``h``: column ``h``, P(positive);
- a multiclass head ``h`` with classes c_0..c_{K-1}: one column ``h=c_k`` per class,
  P(class k) (one-vs-rest), when it has at most :data:`MAX_ONE_VS_REST` classes; and, when the
  factor is *ordered* (scale, orientation, position...), column ``h`` = the expected class
  index sum_k k P(k), one continuous score whose boundary moves the factor monotonically;
- a regression head ``h``: column ``h``, the predicted value.

Labelling (``per_factor=True``, :func:`factor_scorer`) wants one representation per factor:
an ordered multiclass head gives only its expected index; an unordered one its class
probabilities (grouped under the head, see :func:`factor_groups`); a multiclass head with
regression companions ``<h>_*`` (dSprites' folded orientation cos / sin) is represented by them;
other regression heads are dropped when the predictor also has multiclass heads (unless
``keep_regression``).

Which multiclass heads are ordered is read from one place, :func:`ordered_heads`: the zoo
index's record of a shipped predictor, else the predictor's ``ordered_factors`` metadata (else,
for labelling, the head names of :data:`ORDERED_FACTORS`).

Images whose channel count differs from the predictor's are adapted: grey -> RGB by repeating the
channel, RGB -> grey by BT.601 luma (other counts are refused); spatial size is adapted by the
predictor itself (bilinear resize).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from latentatlas.io import registry
from latentatlas.models.predictors import AttributePredictor
from latentatlas.scoring.base import BaseScorer, ScoringError

#: A multiclass head gets one-vs-rest columns when it has at most this many classes.
MAX_ONE_VS_REST = 16
#: Head names read as ordered factors when neither the zoo index nor the predictor's metadata
#: says (``ordered_heads(..., by_name=True)``, the labelling default).
ORDERED_FACTORS = ("scale", "orientation", "posX", "posY", "size", "x", "y", "position")
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


def ordered_heads(model: AttributePredictor, ordered: Sequence[str] | None = None, *,
                  by_name: bool = False) -> list[str]:
    """The heads of ``model`` whose class index is an ordered value: ``ordered`` when given,
    else the zoo index's ``ordered`` list (:func:`latentatlas.io.registry.zoo_entry`), else the
    predictor's ``ordered_factors`` metadata, else (``by_name``) its heads named in
    :data:`ORDERED_FACTORS`, else none. Names that are not heads of ``model`` are dropped."""
    if ordered is None:
        folder = getattr(model, "model_folder", None)
        entry = registry.zoo_entry(folder) if folder else {}
        meta = getattr(model, "model_metadata", None) or {}
        if "ordered" in entry:
            ordered = entry["ordered"]
        elif "ordered_factors" in meta:
            ordered = meta["ordered_factors"]
        else:
            ordered = ORDERED_FACTORS if by_name else []
    return [h for h in ordered if h in model.head_names]


def _column(name: str, kind: str, head: str, index: int | None, factor: str) -> dict[str, Any]:
    return {"name": name, "kind": kind, "head": head, "index": index, "factor": factor}


def factor_columns(model: AttributePredictor, heads: Sequence[str] | None = None,
                   ordered: Sequence[str] = (), max_classes: int | None = MAX_ONE_VS_REST, *,
                   per_factor: bool = False, keep_regression: bool | None = None,
                   sep: str = "=") -> list[dict[str, Any]]:
    """Column specs (name, kind, head, class index, factor) of ``heads`` (default all), in head
    order (see the module docstring). ``ordered``: multiclass heads whose class index is
    ordered (:func:`ordered_heads`); ``max_classes``: one-vs-rest columns only for heads with at
    most this many classes (None: any); class columns are named ``<head><sep><class>``.

    ``per_factor`` (labelling): one representation per factor: expected index only for an
    ordered head, regression companions ``<head>_*`` instead of their multiclass head, other
    regression heads only with ``keep_regression`` (default: when the predictor has no
    multiclass head). A spec's ``factor`` is the head (the multiclass head of a companion)."""
    wanted = None if heads is None else set(heads)
    unknown = sorted((wanted or set()) - set(model.head_names))
    if unknown:
        raise ScoringError(f"unknown head(s) {unknown}; the predictor has "
                           f"{', '.join(model.head_names)}")
    has_mc = any(h["kind"] == "multiclass" for h in model.heads)
    keep_reg = (not has_mc) if keep_regression is None else bool(keep_regression)
    cols: list[dict[str, Any]] = []
    done: set[str] = set()  # heads already given a column
    for h in model.heads:
        name, kind = h["name"], h["kind"]
        if wanted is not None and name not in wanted:
            continue
        if kind == "binary":
            cols.append(_column(name, "binary", name, None, name))
        elif kind == "regression":
            if per_factor and (name in done or not keep_reg):
                continue
            cols.append(_column(name, "regression", name, None, name))
        else:
            companions = [r["name"] for r in model.heads if r["kind"] == "regression"
                          and r["name"].startswith(name + "_") and r["name"] not in done] \
                if per_factor else []
            if companions:
                # dSprites' orientation_folded_cos / _sin (the orientation modulo the shape's
                # symmetry) describe the factor better than its class index.
                cols.extend(_column(r, "regression", r, None, name) for r in companions)
                done.update(companions)
                continue
            if name in ordered:
                cols.append(_column(name, "expected", name, None, name))
                if per_factor:
                    continue
            if max_classes is None or h["num_classes"] <= max_classes:
                cols.extend(_column(f"{name}{sep}{c}", "class", name, k, name)
                            for k, c in enumerate(class_names(h)))
        done.add(name)
    return cols


def factor_groups(model: AttributePredictor, columns: Sequence[dict[str, Any]]
                  ) -> dict[str, list[str]]:
    """{factor: [columns]} of column specs; the classes of a predictor's only head (MNIST's
    digit) are each their own factor."""
    single = len(model.heads) == 1
    groups: dict[str, list[str]] = {}
    for c in columns:
        key = c["name"] if single and c["kind"] == "class" else c.get("factor", c["head"])
        groups.setdefault(key, []).append(c["name"])
    return groups


def factor_scorer(scorer: Any, ordered: Sequence[str] | None = None,
                  keep_regression: bool | None = None) -> tuple[Any, dict[str, list[str]]]:
    """(scorer, groups): a predictor scorer's heads as per-factor columns to label against
    (``factor_columns(per_factor=True, max_classes=None, sep="_")``, ordered heads from
    :func:`ordered_heads` with ``by_name``), evaluated by a :class:`FactorScorer` with the
    scorer's channels, speed and clamp policy. A scorer without predictor heads, of another
    output than probabilities, or restricted to a column subset, is returned as it is, each
    column its own factor."""
    model = getattr(scorer, "model", None)
    heads = getattr(model, "heads", None)
    if heads is None or getattr(scorer, "output", "probabilities") != "probabilities":
        return scorer, {n: [n] for n in scorer.names}
    if getattr(scorer, "columns", None) is not None and len(scorer.names) != sum(
            h.get("num_classes", 1) if h["kind"] == "multiclass" else 1 for h in heads):
        return scorer, {n: [n] for n in scorer.names}
    cols = factor_columns(model, ordered=ordered_heads(model, ordered, by_name=True),
                          max_classes=None, per_factor=True, keep_regression=keep_regression,
                          sep="_")
    fs = FactorScorer(model, cols, channels=getattr(scorer, "channels", None),
                      fast=bool(getattr(scorer, "fast", False)),
                      clamp=getattr(scorer, "clamp", "validate"))
    return fs, factor_groups(model, cols)


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
