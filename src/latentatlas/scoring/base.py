"""The Scorer protocol and the shared batching / validation helpers.

A scorer turns a batch of images (float tensor [N, C, H, W] in [-1, 1], the generator convention)
into an [N, m] float32 tensor of scores whose columns are named by ``scorer.names``. Scorers built
on torch models are differentiable (``scorer.differentiable`` is True); scorers built on numpy /
scipy measurements return detached tensors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from latentatlas.models.predictors import check_images
from latentatlas.utils.errors import LatentAtlasError, ShapeError

#: Inputs within +-CLAMP_LIMIT are clamped to [-1, 1] by scorers; beyond it they are refused.
#: Untrained or early StyleGAN2 generators overshoot [-1, 1] by an order of magnitude (10.7 was
#: seen at random init), while data in the [0, 255] convention almost always exceeds 64.
CLAMP_LIMIT = 64.0

#: What a scorer does with input values outside [-1, 1] (``scorer.clamp``):
#: "validate" (default): clamp values within +-CLAMP_LIMIT, refuse larger ones (a convention
#: error such as [0, 255] data); "display": clamp every finite value, as the image would be
#: displayed (for generator output, whatever its range: explore scores what a generator shows);
#: "none": no clamping. NaN (and Inf) always raise. ``True`` / ``False`` mean "validate" / "none".
CLAMP_POLICIES = ("validate", "display", "none")


def clamp_policy(clamp: str | bool | None) -> str:
    """The policy name of a ``clamp`` argument (see :data:`CLAMP_POLICIES`)."""
    if clamp is True:
        return "validate"
    if clamp is False or clamp is None:
        return "none"
    if clamp not in CLAMP_POLICIES:
        raise ValueError(f"clamp must be one of {CLAMP_POLICIES} (or a bool), got {clamp!r}")
    return clamp


def clamp_images(images: torch.Tensor, policy: str, who: str = "scorer") -> torch.Tensor:
    """Apply a clamp policy to a float image batch (see :data:`CLAMP_POLICIES`)."""
    if policy == "none" or not images.is_floating_point() or not images.numel():
        return images
    peak = float(images.detach().abs().max())
    if math.isnan(peak):
        raise ShapeError(f"{who}: images contain NaN")
    if policy == "validate" and peak > CLAMP_LIMIT:
        raise ShapeError(
            f"{who}: image values reach {peak:.4g}; scorers expect [-1, 1] "
            f"(slight generator overshoot up to +-{CLAMP_LIMIT} is clamped). [0, 255] "
            "data: use x / 127.5 - 1"
        )
    if math.isinf(peak):
        raise ShapeError(f"{who}: images contain Inf")
    return images.clamp(-1.0, 1.0)


class ScoringError(LatentAtlasError, ValueError):
    """A scorer produced invalid scores (NaN / Inf, wrong shape) or was asked for unknown names."""


@runtime_checkable
class Scorer(Protocol):
    """Images [N, C, H, W] in [-1, 1] -> scores [N, len(names)]."""

    names: list[str]

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.=+-]")


def safe_name(name: str) -> str:
    """A score name usable in a file name (``<name>_scores.npy``): other characters become '_'."""
    return _SAFE_NAME.sub("_", name)


def check_scores(
    scores: torch.Tensor, n: int, names: Sequence[str], scorer: str = "scorer", offset: int = 0
) -> torch.Tensor:
    """Validate a score batch: shape [n, len(names)], all finite. ``offset`` is the index of the
    batch's first image, used in error messages."""
    if not isinstance(scores, torch.Tensor):
        scores = torch.as_tensor(np.asarray(scores), dtype=torch.float32)
    if scores.ndim == 1 and len(names) == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape != (n, len(names)):
        raise ScoringError(
            f"{scorer} returned scores of shape {list(scores.shape)}; expected [{n}, {len(names)}] "
            f"(columns {list(names)[:6]}{'...' if len(names) > 6 else ''})"
        )
    bad = ~torch.isfinite(scores.detach())
    if bad.any():
        row, col = (int(v) for v in torch.nonzero(bad)[0])
        raise ScoringError(
            f"{scorer} returned {int(bad.sum())} NaN/Inf score(s); first at image {offset + row}, "
            f"column {names[col]!r}"
        )
    return scores.float()


class BaseScorer:
    """Common machinery: input validation, batched numpy scoring, a JSON description.

    Subclasses set ``names`` and implement :meth:`_score` on validated images.
    """

    names: list[str]
    differentiable: bool = True
    channels: int | None = None
    _clamp: str = "validate"

    @property
    def clamp(self) -> str:
        """The clamp policy of the inputs (:data:`CLAMP_POLICIES`; set with a name or a bool)."""
        return self._clamp

    @clamp.setter
    def clamp(self, value: str | bool | None) -> None:
        self._clamp = clamp_policy(value)

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def validate(self, images: torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor):
            images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        images = clamp_images(images, self.clamp, type(self).__name__)
        return check_images(images, self.channels, name=f"{type(self).__name__} images")

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = self.validate(images)
        scores = self._score(images)
        return check_scores(scores, images.shape[0], self.names, type(self).__name__)

    def score_numpy(
        self, images: np.ndarray | torch.Tensor, batch_size: int = 64
    ) -> np.ndarray:
        """Score many images in batches without gradients; returns float32 [N, m]."""
        images_t = torch.as_tensor(np.asarray(images)) if isinstance(images, np.ndarray) else images
        outs = []
        with torch.no_grad():
            for i in range(0, images_t.shape[0], batch_size):
                batch = images_t[i : i + batch_size].float()
                scores = self._score(self.validate(batch))
                outs.append(check_scores(scores, batch.shape[0], self.names,
                                         type(self).__name__, offset=i).cpu())
        if not outs:
            return np.zeros((0, len(self.names)), dtype=np.float32)
        return torch.cat(outs).numpy().astype(np.float32, copy=False)

    def spec(self) -> dict[str, Any]:
        """A JSON-serialisable description (for bank.json)."""
        return {"type": type(self).__name__, "names": list(self.names), **self._clamp_spec()}

    def _clamp_spec(self) -> dict[str, Any]:
        return {"clamped_to": [-1.0, 1.0]} if self.clamp == "display" else {}


class CallableScorer(BaseScorer):
    """Wrap any callable ``fn(images [N, C, H, W] in [-1, 1]) -> [N, m]`` (tensor or array).

    Args:
        fn: the callable. A 1-D output is accepted when ``names`` has one entry.
        names: the column names.
        differentiable: whether ``fn`` is built from torch operations (informational).
        channels: expected channel count (None: any).
        clamp: the clamp policy of the inputs (:data:`CLAMP_POLICIES`).
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], Any],
        names: Sequence[str],
        differentiable: bool = False,
        channels: int | None = None,
        clamp: str | bool = "validate",
        description: str | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError("fn must be callable")
        if isinstance(names, str) or not names:
            raise ValueError("names must be a non-empty list of strings")
        self.fn = fn
        self.names = [str(n) for n in names]
        self.differentiable = differentiable
        self.channels = channels
        self.clamp = clamp
        self.description = description or getattr(fn, "__name__", type(fn).__name__)

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        out = self.fn(images)
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(np.asarray(out, dtype=np.float32))
        return out

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "callable": self.description}


class CombinedScorer(BaseScorer):
    """Several scorers side by side: columns are concatenated in order; names must be unique."""

    def __init__(self, scorers: Sequence[Scorer], clamp: str | bool = "none") -> None:
        if not scorers:
            raise ValueError("CombinedScorer needs at least one scorer")
        self.scorers = list(scorers)
        names: list[str] = []
        for s in self.scorers:
            if not isinstance(s, Scorer):
                raise TypeError(f"{s!r} is not a Scorer (needs .names and __call__)")
            names.extend(s.names)
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ScoringError(f"scorers produce duplicate score names {dupes}; rename one")
        self.names = names
        self.differentiable = all(getattr(s, "differentiable", False) for s in self.scorers)
        self.clamp = clamp  # "none" by default: each member validates and clamps its own input

    def validate(self, images: torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor):
            images = torch.as_tensor(np.asarray(images), dtype=torch.float32)
        return clamp_images(images, self.clamp, type(self).__name__)

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        parts = []
        for s in self.scorers:
            out = s(images)
            parts.append(check_scores(out, images.shape[0], s.names, type(s).__name__))
        return torch.cat(parts, dim=1)

    def spec(self) -> dict[str, Any]:
        return {"type": "CombinedScorer", "names": self.names,
                "scorers": [s.spec() if hasattr(s, "spec") else {"type": type(s).__name__,
                                                                 "names": list(s.names)}
                            for s in self.scorers], **self._clamp_spec()}


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1]."""
    return (images + 1.0) * 0.5
