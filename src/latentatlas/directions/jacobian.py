"""Hessian Penalty and OroJaR direction discovery in a pretrained generator.

Both learn K orthonormal directions A (K x d, Gram-Schmidt-orthonormalised at every step, so the
gradient flows through the orthonormalisation) that minimise a regulariser of
``f(w) = G(x + w A)`` with respect to the coefficient vector w [N, K]: A's directions are those
along which the generator's layers change *independently*.

- :class:`HessianDiscovery` (Peebles et al. 2020, BigGAN discovery): the Hessian Penalty of f at
  ``w = one-hot(k) * U[-path_size, path_size]`` (points along the paths), reduction mean.
- :class:`OroJaRDiscovery` (Wei et al. 2021): the OroJaR penalty of f at ``w = 0`` (the Jacobian
  J A^T should have orthogonal columns), reduction mean.

The estimators are those of :mod:`latentatlas.models.regularizers` (``estimator="fd"``: the
references' finite differences with k Rademacher vectors and eps 0.1; ``"jvp"``: exact
forward-mode derivatives). Adam lr 0.01 (the references'). ``layers`` picks the regularised
layers (generator layer names and/or ``"image"``, the default). The found directions are sorted
by *activeness* (mean pixel change of a +-2 move, the HP paper's ranking) and carry it in
``scores["activeness"]``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentatlas.directions._loop import (
    run_loop,
    seed_of,
    settings_fingerprint,
    step_generator,
)
from latentatlas.directions.base import Directions
from latentatlas.directions.finder import DirectionFinder
from latentatlas.directions.latent_discovery import check_n_directions, latent_space
from latentatlas.models.regularizers import (
    ESTIMATORS,
    hessian_penalty,
    layer_outputs,
    orojar,
)
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.modules import frozen

_ACTIVENESS_PHASE = 11


def gram_schmidt(rows: torch.Tensor) -> torch.Tensor:
    """Orthonormalise the rows of ``rows`` [K, d] (K <= d) in order, as classical Gram-Schmidt
    does (row k spans the first k inputs; positive projection on its input): QR of the
    transpose with the signs fixed. Differentiable."""
    q, r = torch.linalg.qr(rows.T)
    sign = torch.sign(torch.diagonal(r))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return (q * sign).T


class DirectionMatrix(nn.Module):
    """A learnable K x d matrix, Kaiming-normal initialised; ``forward`` gives it orthonormalised
    (``ortho``) or as it is."""

    def __init__(self, k: int, dim: int, ortho: bool = True,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.ortho = bool(ortho)
        self.weight = nn.Parameter(torch.randn(k, dim, generator=generator) * (2.0 / dim) ** 0.5)

    def forward(self) -> torch.Tensor:
        return gram_schmidt(self.weight) if self.ortho else F.normalize(self.weight, dim=1)


class _RegularizerDiscovery(DirectionFinder):
    """Shared machinery of :class:`HessianDiscovery` and :class:`OroJaRDiscovery`."""

    fit_requires: ClassVar[tuple[str, ...]] = ("generator",)
    method_name: ClassVar[str] = ""
    prefix: ClassVar[str] = ""

    def _penalty(self, f, w: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _coefficients(self, n: int, k: int, g: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _validate(self, generator: Any) -> tuple[str, int, int]:
        for name in ("n_steps", "batch_size", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ShapeError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.estimator not in ESTIMATORS:
            raise ShapeError(f"estimator must be one of {ESTIMATORS}, got {self.estimator!r}")
        if int(self.k) < 2 or not self.epsilon > 0 or not self.lr > 0:
            raise ShapeError("k must be >= 2, epsilon > 0 and lr > 0")
        space = latent_space(generator, self.space)
        dim = int(generator.latent_shape(space)[0])
        return space, dim, check_n_directions(self.n_directions, dim, space)

    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None):
        """Learn the directions on ``generator`` (frozen); sets ``directions_``, ``matrix_``
        (orthonormal rows, activeness order), ``penalty_`` (final running penalty),
        ``activeness_`` and ``history_``."""
        self._check_fit_inputs(generator=generator)
        space, dim, k = self._validate(generator)
        layers_fn = layer_outputs(generator, self.layers, space)
        seed = seed_of(rng)
        generator.eval()
        with frozen(generator):
            directions = DirectionMatrix(k, dim, self.ortho, step_generator(seed, 0, phase=99))
            opt = torch.optim.Adam(directions.parameters(), lr=self.lr)

            def step_fn(step: int) -> dict[str, float]:
                g = step_generator(seed, step)
                z = torch.randn(int(self.batch_size), generator.z_dim, generator=g)
                z = z.to(generator.device)
                with torch.no_grad():
                    base = z if space == "z" else generator.z_to_latent(z, space)
                matrix = directions()
                w = self._coefficients(int(self.batch_size), k, g).to(base.device)

                def f(coef: torch.Tensor):
                    return layers_fn(base + coef @ matrix)

                loss = self._penalty(f, w, g)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return {"loss": float(loss.detach())}

            fingerprint = settings_fingerprint(self.get_params(), generator, seed)
            history = run_loop(
                step_fn=step_fn, modules={"directions": directions}, optimizers={"A": opt},
                n_steps=int(self.n_steps), fingerprint=fingerprint, out_dir=self.out_dir,
                checkpoint_every=int(self.checkpoint_every), progress=self.progress,
                desc=f"{self.method_name} discovery", running="loss",
            )
        with torch.no_grad():
            matrix = directions().detach().float()
        act = _activeness(generator, space, matrix, seed)
        order = np.argsort(-act, kind="stable")
        matrix_np = matrix.cpu().numpy()[order]
        self.space_ = space
        self.seed_ = seed
        self.history_ = history
        self.penalty_ = float(np.mean([h["loss"] for h in history[-5:]])) if history else None
        self.activeness_ = act[order]
        self.matrix_ = matrix_np
        self.directions_ = Directions(
            matrix_np, space=space, names=[f"{self.prefix}{i}" for i in range(k)],
            method=self.method_name, normalize=True,
            scores={"activeness": self.activeness_, "init_index": order.astype(np.float64)},
            metadata={"layers": self.layers, "estimator": self.estimator, "k": int(self.k),
                      "epsilon": float(self.epsilon), "steps": int(self.n_steps), "seed": seed,
                      "penalty": self.penalty_},
        )
        return self


def _activeness(generator: Any, space: str, matrix: torch.Tensor, seed: int,
                n: int = 64, alpha: float = 2.0) -> np.ndarray:
    """Mean absolute pixel change of G(x + alpha a) vs G(x - alpha a) per direction a."""
    g = step_generator(seed, 0, phase=_ACTIVENESS_PHASE)
    z = torch.randn(n, generator.z_dim, generator=g).to(generator.device)
    out = []
    with torch.no_grad():
        base = z if space == "z" else generator.z_to_latent(z, space)
        for a in matrix.to(base.device):
            plus = generator.synthesize(base + alpha * a, space)
            minus = generator.synthesize(base - alpha * a, space)
            out.append(float((plus - minus).abs().mean()))
    return np.asarray(out, dtype=np.float64)


_PARAMS_DOC = """
    Args:
        n_directions: K (None: the latent dimension; at most the latent dimension).
        space: "auto" (w where the generator has one, else z), "z" or "w".
        layers: regularised layers: generator layer names and/or "image" (None: the image);
            a model without them is a one-line error listing its layers.
        k, epsilon, estimator: Rademacher samples, finite-difference step, "fd" or "jvp".
        reduction: over output elements / samples ("mean": the discovery references').
        n_steps, batch_size, lr: Adam steps, batch, learning rate (reference lr 0.01).
        ortho: Gram-Schmidt each step (the references'); False: unit-norm rows only.
        out_dir, checkpoint_every, progress: checkpoints (resume), progress bar.
"""


class HessianDiscovery(_RegularizerDiscovery):
    __doc__ = ("Hessian Penalty direction discovery: minimise the Hessian Penalty of "
               "G(x + w A) at w = one-hot * U[-path_size, path_size] (see the module "
               "docstring).\n" + _PARAMS_DOC +
               "        path_size: the coefficient range along each path (reference 5).\n")

    method_name: ClassVar[str] = "hessian_penalty"
    prefix: ClassVar[str] = "hp"

    def __init__(self, n_directions: int | None = None, space: str = "auto", layers: Any = None,
                 k: int = 2, epsilon: float = 0.1, estimator: str = "fd",
                 reduction: str = "mean", n_steps: int = 1000, batch_size: int = 32,
                 lr: float = 0.01, ortho: bool = True, path_size: float = 5.0,
                 out_dir: Any = None, checkpoint_every: int = 200,
                 progress: bool = True) -> None:
        self.n_directions = n_directions
        self.space = space
        self.layers = layers
        self.k = k
        self.epsilon = epsilon
        self.estimator = estimator
        self.reduction = reduction
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.lr = lr
        self.ortho = ortho
        self.path_size = path_size
        self.out_dir = out_dir
        self.checkpoint_every = checkpoint_every
        self.progress = progress

    def _coefficients(self, n: int, k: int, g: torch.Generator) -> torch.Tensor:
        idx = torch.randint(0, k, (n,), generator=g)
        amount = self.path_size * (2 * torch.rand(n, generator=g) - 1)
        return F.one_hot(idx, k).float() * amount[:, None]

    def _penalty(self, f, w: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return hessian_penalty(f, w, k=int(self.k), epsilon=float(self.epsilon),
                               reduction=self.reduction, estimator=self.estimator, generator=g)


class OroJaRDiscovery(_RegularizerDiscovery):
    __doc__ = ("OroJaR direction discovery: minimise the OroJaR penalty of G(x + w A) at "
               "w = 0 (see the module docstring).\n" + _PARAMS_DOC)

    method_name: ClassVar[str] = "orojar"
    prefix: ClassVar[str] = "orojar"

    def __init__(self, n_directions: int | None = None, space: str = "auto", layers: Any = None,
                 k: int = 2, epsilon: float = 0.1, estimator: str = "fd",
                 reduction: str = "mean", n_steps: int = 1000, batch_size: int = 32,
                 lr: float = 0.01, ortho: bool = True, out_dir: Any = None,
                 checkpoint_every: int = 200, progress: bool = True) -> None:
        self.n_directions = n_directions
        self.space = space
        self.layers = layers
        self.k = k
        self.epsilon = epsilon
        self.estimator = estimator
        self.reduction = reduction
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.lr = lr
        self.ortho = ortho
        self.out_dir = out_dir
        self.checkpoint_every = checkpoint_every
        self.progress = progress

    def _coefficients(self, n: int, k: int, g: torch.Generator) -> torch.Tensor:
        return torch.zeros(n, k)

    def _penalty(self, f, w: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        return orojar(f, w, k=int(self.k), epsilon=float(self.epsilon),
                      reduction=self.reduction, estimator=self.estimator, generator=g)


__all__ = ["DirectionMatrix", "HessianDiscovery", "OroJaRDiscovery", "gram_schmidt"]
