"""OroJaR and the Hessian Penalty as GAN-trainer hooks (``GeneratorRegularizer``).

:class:`JacobianRegularizer` penalises, on named generator layers (``"image"``: the output), the
OroJaR term (Var over Rademacher vectors v of ||J v||^2, max over the batch; Wei et al. 2021) or
the Hessian Penalty (Var over v of v^T H v, max over output elements; Peebles et al. 2020), with
the shared estimators of :mod:`latentatlas.models.regularizers` (finite differences, the
references' default, or exact ``torch.func.jvp``). The weight ramps linearly from 0 over
``warmup_steps`` (the references' warm-up); each layer's penalty is reported in ``parts`` and
logged by the trainer as ``<name>/<layer>``.

Every random draw (the Rademacher vectors) comes from a torch Generator seeded by (seed, step),
so a resumed run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from latentatlas.models.regularizers import (
    ESTIMATORS,
    IMAGE,
    hessian_penalty,
    layer_outputs,
    orojar,
)
from latentatlas.utils.checks import check_number
from latentatlas.utils.errors import OptionError

#: The penalties a hook can compute.
KINDS = {"orojar": orojar, "hessian": hessian_penalty}


class JacobianRegularizer:
    """``weight * penalty(G restricted to layers)`` every ``interval`` G steps (module docstring).

    Args:
        kind: "orojar" or "hessian".
        weight: lambda (> 0) after warm-up.
        layers: generator layer names (``generator.layer_names()``) and/or "image"; a
            comma-separated string or a list. Default: the image.
        k: Rademacher vectors per sample (>= 2). epsilon: finite-difference step.
        estimator: "fd" or "jvp". interval: every this many G steps (the trainer multiplies the
            term by it: lazy regularisation). warmup_steps: linear ramp of the weight from 0.
        batch_shrink: the penalty is computed on the first 1/batch_shrink of the batch (as
            StyleGAN2's path-length term), which divides its cost.
        seed: with the step, seeds the Rademacher vectors.
    """

    def __init__(self, kind: str = "orojar", weight: float = 1.0,
                 layers: Sequence[str] | str | None = None, *, k: int = 2, epsilon: float = 0.1,
                 estimator: str = "fd", interval: int = 1, warmup_steps: int = 0,
                 batch_shrink: int = 1, seed: int = 0) -> None:
        if kind not in KINDS:
            raise OptionError(f"regulariser kind must be one of {sorted(KINDS)}, got {kind!r}")
        if estimator not in ESTIMATORS:
            raise OptionError(f"estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")
        check_number("weight", weight, 0.0, low_open=True)
        check_number("k", k, 2, integer=True)
        check_number("epsilon", epsilon, 0.0, low_open=True)
        check_number("interval", interval, 1, integer=True)
        check_number("warmup_steps", warmup_steps, 0, integer=True)
        check_number("batch_shrink", batch_shrink, 1, integer=True)
        self.batch_shrink = int(batch_shrink)
        self.kind, self.weight, self.k, self.epsilon = kind, float(weight), int(k), float(epsilon)
        self.estimator, self.interval = estimator, int(interval)
        self.warmup_steps, self.seed = int(warmup_steps), int(seed)
        if layers is None:
            layers = [IMAGE]
        elif isinstance(layers, str):
            layers = [s.strip() for s in layers.split(",") if s.strip()]
        self.layers = list(layers)
        self.name = kind
        self.parts: dict[str, float] = {}

    def config(self) -> dict[str, Any]:
        """The hook's settings (recorded in the run's config)."""
        return {"kind": self.kind, "weight": self.weight, "layers": self.layers, "k": self.k,
                "epsilon": self.epsilon, "estimator": self.estimator,
                "interval": self.interval, "warmup_steps": self.warmup_steps,
                "batch_shrink": self.batch_shrink}

    def check(self, G: Any) -> None:
        """Refuse, before training, layers the generator does not have."""
        layer_outputs(G, self.layers)

    def weight_at(self, step: int) -> float:
        """lambda at ``step`` (linear warm-up from 0 over ``warmup_steps``)."""
        if self.warmup_steps <= 0:
            return self.weight
        return self.weight * min(1.0, (step + 1) / self.warmup_steps)

    def __call__(self, G: Any, z: torch.Tensor, ws: torch.Tensor | None, images: torch.Tensor,
                 step: int) -> torch.Tensor:
        fn = layer_outputs(G, self.layers)
        z = z[:max(1, z.shape[0] // self.batch_shrink)]
        # Seeded by (seed, step, kind) with plain arithmetic: Python's hash() of a str differs
        # between processes, which would break exact resume.
        kind_id = sorted(KINDS).index(self.kind)
        gen = torch.Generator(device="cpu").manual_seed(
            (self.seed * 1_000_003 + int(step)) * len(KINDS) + kind_id)
        per_layer = KINDS[self.kind](fn, z, k=self.k, epsilon=self.epsilon,
                                     estimator=self.estimator, generator=gen,
                                     return_separately=True)
        self.parts = {layer: float(v.detach()) for layer, v in
                      zip(self.layers, per_layer, strict=True)}
        return self.weight_at(step) * torch.stack([v.float() for v in per_layer]).sum()


def make_regularizers(orojar_weight: float = 0.0, hessian_weight: float = 0.0,
                      layers: Sequence[str] | str | None = None, **kwargs: Any
                      ) -> list[JacobianRegularizer]:
    """The hooks a ``train gan`` run asks for (a weight of 0 leaves a penalty out)."""
    out = []
    for kind, weight in (("orojar", orojar_weight), ("hessian", hessian_weight)):
        if weight:
            out.append(JacobianRegularizer(kind, weight, layers, **kwargs))
    return out


__all__ = ["KINDS", "JacobianRegularizer", "make_regularizers"]
