"""GANalyze: a learned direction that moves a differentiable assessor's score by a chosen amount.

The transformer is ``T(z, a) = z + a theta`` (or ``z + a theta(y)`` with one theta per class for
a class-conditional generator), renormalised **per sample** to the norm of the input code (the
PyTorch reference divides by the norm of the whole batch instead). It is trained with

    loss = MSE(A(G(T(z, a))), A(G(z)) + a),   a ~ U(-alpha_max, alpha_max) per sample,

with Adam, the generator and the assessor A (one column of a differentiable scorer) frozen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from latentatlas.directions._trainloop import train_walk, uniform
from latentatlas.directions.base import SPACES, Directions
from latentatlas.directions.finder import DirectionFinder
from latentatlas.directions.walks import _alpha, _as_tensor, _back
from latentatlas.io.persistence import ConfigModule, register_model, save_model
from latentatlas.scoring.base import ScoringError
from latentatlas.utils.errors import OptionError, ShapeError
from latentatlas.utils.modules import frozen


def renormalize(moved: torch.Tensor, reference: torch.Tensor,
                center: torch.Tensor | None = None) -> torch.Tensor:
    """``moved`` rescaled, code by code, to the norm of ``reference`` (about ``center``)."""
    c = 0.0 if center is None else center
    dims = tuple(range(1, moved.ndim))
    ref = (reference - c).norm(dim=dims, keepdim=True)
    cur = (moved - c).norm(dim=dims, keepdim=True).clamp_min(1e-12)
    return c + (moved - c) * (ref / cur)


@register_model
class GANalyzeTransformer(ConfigModule):
    """``T(x, a) = x + a theta`` (``theta(y)`` for ``n_classes > 0``), renormalised per code.

    A walk (``walk(latent, alpha, layers=None, c=None)``) saved as a model folder. ``c``: one-hot
    (or soft) labels [N, n_classes] for the class-dependent variant (theta(y) = y @ Theta).
    ``renormalize``: keep each code's norm (z space; W codes keep their distance to ``w_avg``
    when the walk has one).
    """

    config_fields = ("dim", "space", "n_classes", "renormalize", "name")

    def __init__(self, dim: int, space: str = "z", n_classes: int = 0, renormalize: bool = True,
                 name: str = "ganalyze") -> None:
        super().__init__()
        if space not in SPACES or dim < 1 or n_classes < 0:
            raise ShapeError(f"need dim >= 1, n_classes >= 0 and space in {SPACES}")
        self.dim, self.space, self.n_classes = int(dim), space, int(n_classes)
        self.renormalize, self.name = bool(renormalize), str(name)
        self.theta = nn.Parameter(torch.zeros(max(1, self.n_classes), self.dim))
        self.register_buffer("center", torch.zeros(self.dim))

    def direction(self, c: Any = None) -> torch.Tensor:
        """theta [N or 1, d] for the labels c (the single theta when unconditional)."""
        if not self.n_classes:
            return self.theta
        if c is None:
            raise ShapeError(f"this walk is class-dependent ({self.n_classes} classes): pass c")
        c = torch.as_tensor(c, dtype=torch.float32)
        if c.ndim != 2 or c.shape[1] != self.n_classes:
            raise ShapeError(f"c must have shape [N, {self.n_classes}], got {list(c.shape)}")
        return c.to(self.theta.device) @ self.theta

    def walk(self, latent: Any, alpha: Any, layers: Any = None, c: Any = None) -> Any:
        x, was_numpy = _as_tensor(latent)
        if x.shape[-1] != self.dim:
            raise ShapeError(f"latent dim {x.shape[-1]} != walk dim {self.dim}")
        if layers is not None:
            raise ShapeError("a GANalyze walk moves whole codes; layers must be None")
        a = _alpha(alpha, x.shape[0]).to(x.device)
        theta = self.direction(c).to(x.device)
        if x.ndim == 3:
            theta = theta[:, None, :]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not was_numpy):
            out = x + a.view((-1,) + (1,) * (x.ndim - 1)) * theta
            if self.renormalize:
                out = renormalize(out, x, self.center.to(x.device) if self.space != "z" else None)
        return _back(out, was_numpy)

    forward = walk

    def save(self, folder: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
        return save_model(self, folder, metadata=metadata)


def assessor_column(scorer: Any, assessor: Any) -> int:
    """The column index of ``assessor`` (a name or an index) in ``scorer``; one-line errors for
    an unknown column or a scorer that is not differentiable."""
    names = list(getattr(scorer, "names", []))
    if isinstance(assessor, (int, np.integer)) and not isinstance(assessor, bool):
        if not 0 <= int(assessor) < len(names):
            raise ScoringError(f"assessor column {assessor} out of range: the scorer has "
                               f"{len(names)} columns {names}")
        col = int(assessor)
    elif assessor is None and len(names) == 1:
        col = 0
    elif assessor in names:
        col = names.index(assessor)
    else:
        raise ScoringError(f"unknown assessor column {assessor!r}; the scorer gives {names}")
    if not getattr(scorer, "differentiable", False):
        raise ScoringError(
            f"GANalyze needs a differentiable assessor; {type(scorer).__name__} column "
            f"{names[col]!r} is not (e.g. a hard-threshold or numpy scorer)"
        )
    return col


def sample_codes(generator: Any, n: int, space: str, gen: torch.Generator,
                 conditional: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(codes of ``space`` [N, d], labels or None) drawn from the step generator ``gen``."""
    z = torch.randn(n, generator.z_dim, generator=gen).to(generator.device)
    c = None
    if getattr(generator, "c_dim", 0):
        idx = torch.randint(0, generator.c_dim, (n,), generator=gen)
        c = torch.nn.functional.one_hot(idx, generator.c_dim).float().to(generator.device)
    if space == "z":
        return z, c
    with torch.no_grad():
        return generator.z_to_latent(z, space, c), c


def synth(generator: Any, latent: torch.Tensor, space: str, c: torch.Tensor | None) -> torch.Tensor:
    return generator.synthesize(latent, space=space, c=c) if c is not None else \
        generator.synthesize(latent, space=space)


class GANalyze(DirectionFinder):
    """GANalyze (see the module docstring): a sklearn-style finder of one assessor direction.

    Args:
        assessor: the scorer column to move (a name or an index; None for a 1-column scorer).
        space: "z" (default) or "w".
        steps, batch_size, lr: Adam training budget (the reference: lr 2e-4, batch 4).
        alpha_max: training amounts a ~ U(-alpha_max, alpha_max) (reference 0.5).
        renormalize: keep each code's norm (per sample).
        class_dependent: one theta per class (needs a conditional generator).
        init_scale: std of the random theta init (0: zeros, as the TF reference).
        checkpoint: a folder to checkpoint to and resume from.
        progress: a progress bar with the loss.

    Fitted: ``walk_`` (a :class:`GANalyzeTransformer`), ``directions_`` (theta, unit norm, one
    per class), ``losses_``, ``assessor_name_``.
    """

    fit_requires = ("generator", "scorer")

    def __init__(self, assessor: Any = None, space: str = "z", steps: int = 500,
                 batch_size: int = 8, lr: float = 2e-4, alpha_max: float = 0.5,
                 renormalize: bool = True, class_dependent: bool = False,
                 init_scale: float = 0.0, checkpoint: Any = None, progress: bool = False) -> None:
        self.assessor = assessor
        self.space = space
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.alpha_max = alpha_max
        self.renormalize = renormalize
        self.class_dependent = class_dependent
        self.init_scale = init_scale
        self.checkpoint = checkpoint
        self.progress = progress

    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None) -> GANalyze:
        self._check_fit_inputs(generator=generator, scorer=scorer)
        if self.space not in ("z", "w") or self.space not in generator.spaces:
            raise OptionError(f"space must be 'z' or 'w' (this generator has {generator.spaces}),"
                              f" got {self.space!r}")
        if self.steps < 1 or self.batch_size < 1 or not self.lr > 0 or not self.alpha_max > 0:
            raise OptionError("steps and batch_size must be >= 1, lr and alpha_max > 0")
        col = assessor_column(scorer, self.assessor)
        n_classes = int(getattr(generator, "c_dim", 0)) if self.class_dependent else 0
        if self.class_dependent and not n_classes:
            raise OptionError("class_dependent=True needs a class-conditional generator")
        seed = int(rng) if isinstance(rng, (int, np.integer)) else 0
        dim = generator.latent_shape(self.space)[0]
        walk = GANalyzeTransformer(dim, self.space, n_classes, self.renormalize,
                                   name=str(scorer.names[col]))
        if self.space == "w":
            with torch.no_grad():
                walk.center.copy_(generator.w_avg.detach().float().cpu().reshape(-1))
        if self.init_scale:
            with torch.no_grad():
                g = torch.Generator().manual_seed(seed)
                walk.theta.copy_(self.init_scale * torch.randn(walk.theta.shape, generator=g))
        walk.to(generator.device)

        def loss_fn(gen: torch.Generator) -> torch.Tensor:
            x, c = sample_codes(generator, self.batch_size, self.space, gen)
            a = uniform(gen, (self.batch_size,), -self.alpha_max, self.alpha_max).to(x.device)
            with torch.no_grad():
                base = scorer(synth(generator, x, self.space, c))[:, col]
            moved = walk.walk(x, a, c=c if n_classes else None)
            out = scorer(synth(generator, moved, self.space, c))[:, col]
            return torch.mean((out - (base + a)) ** 2)

        model = getattr(scorer, "model", None)
        with frozen(generator), frozen(model if isinstance(model, nn.Module) else nn.Module()):
            self.losses_ = train_walk(walk, loss_fn, steps=self.steps, lr=self.lr, seed=seed,
                                      checkpoint=self.checkpoint,
                                      progress=self.progress, desc=f"ganalyze {scorer.names[col]}")
        walk.eval()
        self.walk_ = walk
        self.assessor_name_ = str(scorer.names[col])
        theta = walk.theta.detach().cpu().numpy()
        names = ([self.assessor_name_] if not n_classes
                 else [f"{self.assessor_name_}|class{k}" for k in range(n_classes)])
        norms = np.linalg.norm(theta, axis=1)
        self.directions_ = Directions(theta, self.space, names=names, method="ganalyze",
                                      normalize=bool(norms.min() > 0),
                                      metadata={"theta_norm": norms.tolist()})
        return self
