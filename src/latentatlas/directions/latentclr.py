"""LatentCLR (Yüksel et al., ICCV 2021): contrastive discovery on feature differences.

K global directions d_k (unit vectors, scaled by ``alpha``) move each code x_n of a batch; the
feature differences ``h_kn = F(x_n + alpha d_k) - F(x_n)`` at a chosen generator layer are
compared by cosine similarity, and an NT-Xent loss (temperature 0.5) pulls together the
differences of the *same* direction on different codes and pushes apart those of different
directions: each direction should make one consistent change, distinct from the others'. As in
the reference (``abs: True``) the similarity is the absolute cosine, so a direction's effect and
its opposite count as the same change.

Optimiser: Adam lr 1e-3, weight decay 1e-3, learning rate x0.2 after steps 1000 and 5000 (the
reference's MultiStepLR; here a function of the step, so a resumed run stays exact).
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
from latentatlas.models.regularizers import layer_outputs
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.modules import frozen


def nt_xent(features: torch.Tensor, temperature: float = 0.5, absolute: bool = True
            ) -> torch.Tensor:
    """The contrastive loss of feature differences ``features`` [K, N, D]: for every anchor
    (k, n), -log( sum_{m != n} e^{s(kn, km)/T} / sum_{(l, m) != (k, n)} e^{s(kn, lm)/T} ),
    averaged; s is the (absolute) cosine similarity."""
    if features.ndim != 3 or features.shape[0] < 2 or features.shape[1] < 2:
        raise ShapeError(f"features must be [K >= 2, N >= 2, D], got {list(features.shape)}")
    k, n, _ = features.shape
    flat = F.normalize(features.reshape(k * n, -1).float(), dim=1)
    sim = flat @ flat.T
    if absolute:
        sim = sim.abs()
    logits = sim / temperature
    eye = torch.eye(k * n, dtype=torch.bool, device=flat.device)
    labels = torch.arange(k, device=flat.device).repeat_interleave(n)
    positive = (labels[:, None] == labels[None, :]) & ~eye
    logits = logits.masked_fill(eye, float("-inf"))
    log_all = torch.logsumexp(logits, dim=1)
    log_pos = torch.logsumexp(logits.masked_fill(~positive, float("-inf")), dim=1)
    return (log_all - log_pos).mean()


class GlobalDirections(nn.Module):
    """K learnable directions (the reference's "global" model); ``forward`` gives them unit
    norm."""

    def __init__(self, k: int, dim: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(k, dim, generator=generator))

    def forward(self) -> torch.Tensor:
        return F.normalize(self.weight, dim=1)


class LatentCLR(DirectionFinder):
    """LatentCLR with global directions as a direction finder (see the module docstring).

    Args:
        n_directions: K (None: the latent dimension; at most the latent dimension).
        space: "auto" (w where the generator has one, else z), "z" or "w".
        layer: the feature layer (a generator layer name, or "image"; None: "image").
        alpha: the shift size (reference examples: 3).
        temperature: NT-Xent temperature (reference 0.5). absolute: |cos| similarities.
        n_steps, batch_size, lr, weight_decay, milestones, gamma: Adam with step decay.
        out_dir, checkpoint_every, progress: checkpoints (resume), progress bar.

    Fitted: ``directions_`` (named ``clr0``..., in order of activeness: the mean feature-change
    norm, ``scores["activeness"]``), ``matrix_``, ``loss_``, ``history_``.
    """

    fit_requires: ClassVar[tuple[str, ...]] = ("generator",)

    def __init__(self, n_directions: int | None = None, space: str = "auto", layer: Any = None,
                 alpha: float = 3.0, temperature: float = 0.5, absolute: bool = True,
                 n_steps: int = 1000, batch_size: int = 32, lr: float = 1e-3,
                 weight_decay: float = 1e-3, milestones: tuple[int, ...] = (1000, 5000),
                 gamma: float = 0.2, out_dir: Any = None, checkpoint_every: int = 200,
                 progress: bool = True) -> None:
        self.n_directions = n_directions
        self.space = space
        self.layer = layer
        self.alpha = alpha
        self.temperature = temperature
        self.absolute = absolute
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.milestones = milestones
        self.gamma = gamma
        self.out_dir = out_dir
        self.checkpoint_every = checkpoint_every
        self.progress = progress

    def _validate(self, generator: Any) -> tuple[str, int, int]:
        for name in ("n_steps", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ShapeError(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.batch_size) < 2:
            raise ShapeError(f"batch_size must be >= 2 (positive pairs), got {self.batch_size}")
        if not (self.alpha > 0 and self.temperature > 0 and self.lr > 0):
            raise ShapeError("alpha, temperature and lr must be > 0")
        space = latent_space(generator, self.space)
        dim = int(generator.latent_shape(space)[0])
        k = check_n_directions(self.n_directions, dim, space)
        if k < 2:
            raise ShapeError("LatentCLR needs n_directions >= 2 (negatives)")
        return space, dim, k

    def _lr(self, step: int) -> float:
        return float(self.lr) * float(self.gamma) ** sum(step >= m for m in self.milestones)

    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None) -> LatentCLR:
        """Learn the directions on ``generator`` (frozen); sets the fitted attributes."""
        self._check_fit_inputs(generator=generator)
        space, dim, k = self._validate(generator)
        layer = "image" if self.layer is None else str(self.layer)
        feats = layer_outputs(generator, [layer], space)
        seed = seed_of(rng)
        generator.eval()
        with frozen(generator):
            dirs = GlobalDirections(k, dim, step_generator(seed, 0, phase=99))
            opt = torch.optim.Adam(dirs.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            n = int(self.batch_size)

            def step_fn(step: int) -> dict[str, float]:
                g = step_generator(seed, step)
                z = torch.randn(n, generator.z_dim, generator=g).to(generator.device)
                with torch.no_grad():
                    base = z if space == "z" else generator.z_to_latent(z, space)
                    f0 = feats(base)[0].reshape(n, -1)
                d = dirs()
                moved = (base[None] + self.alpha * d[:, None, :]).reshape(k * n, dim)
                f1 = feats(moved)[0].reshape(k, n, -1)
                loss = nt_xent(f1 - f0[None], self.temperature, self.absolute)
                for group in opt.param_groups:
                    group["lr"] = self._lr(step)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                return {"loss": float(loss.detach())}

            fingerprint = settings_fingerprint(self.get_params(), generator, seed)
            history = run_loop(
                step_fn=step_fn, modules={"directions": dirs}, optimizers={"directions": opt},
                n_steps=int(self.n_steps), fingerprint=fingerprint, out_dir=self.out_dir,
                checkpoint_every=int(self.checkpoint_every), progress=self.progress,
                desc="LatentCLR", running="loss",
            )
            with torch.no_grad():
                matrix = dirs().detach().float()
                g = step_generator(seed, 0, phase=11)
                z = torch.randn(64, generator.z_dim, generator=g).to(generator.device)
                base = z if space == "z" else generator.z_to_latent(z, space)
                f0 = feats(base)[0].reshape(64, -1)
                act = np.asarray([float((feats(base + self.alpha * a)[0].reshape(64, -1) - f0)
                                        .norm(dim=1).mean()) for a in matrix])
        order = np.argsort(-act, kind="stable")
        self.space_ = space
        self.seed_ = seed
        self.history_ = history
        self.loss_ = float(np.mean([h["loss"] for h in history[-5:]])) if history else None
        self.activeness_ = act[order]
        self.matrix_ = matrix.cpu().numpy()[order]
        self.directions_ = Directions(
            self.matrix_, space=space, names=[f"clr{i}" for i in range(k)], method="latentclr",
            normalize=True, scores={"activeness": self.activeness_},
            metadata={"layer": layer, "alpha": float(self.alpha), "temperature":
                      float(self.temperature), "steps": int(self.n_steps), "seed": seed,
                      "loss": self.loss_},
        )
        return self


__all__ = ["GlobalDirections", "LatentCLR", "nt_xent"]
