"""Unsupervised discovery of interpretable directions (Voynov & Babenko, ICML 2020).

A direction matrix A (d x K) and a reconstructor R are trained together on a frozen generator:
for a random direction k and shift eps, R sees the image pair [G(x), G(x + A (eps e_k))] and
predicts k (cross-entropy) and eps (L1); loss ``CE + 0.25 |eps_hat - eps|``, eps ~ U[-6, 6] with
|eps| < 0.5 snapped to +-0.5 (keeping its sign). Directions that R can tell apart are ones that
change the image in distinct, recognisable ways. Shifts live in z (Z-only generators) or w
(StyleGAN2: ``space="w"``). Quality: the reconstructor classification accuracy (RCA) on held-out
pairs (a failed run plateaus near 1/K).

A variants (``deformator``): ``"ortho"`` (expm(S - S^T), first K columns: orthonormal),
``"proj"`` (unit-norm columns: the paper's "linear"), ``"linear"`` (a free matrix, initialised to
the identity; the reference code's "linear"). Reconstructors: ``"lenet"`` (LeNet-like, for 28-32 px
images), ``"resnet"`` (a small ResNet, for 64 px and up), ``"auto"`` picks by resolution.
"""

from __future__ import annotations

import contextlib
import copy
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
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.hardware import resolve_bf16
from latentatlas.utils.modules import frozen

DEFORMATORS = ("ortho", "proj", "linear")
RECONSTRUCTORS = ("auto", "lenet", "resnet")
_EVAL_PHASE = 7  # seeds of the held-out pairs: (seed, pair batch, this phase), never trained on


# --------------------------------------------------------------------------- modules
class Deformator(nn.Module):
    """The direction matrix A (d x K) of one of :data:`DEFORMATORS`; ``forward(shift [N, K])``
    returns the latent offsets ``shift @ A^T`` [N, d]."""

    def __init__(self, dim: int, k: int, kind: str = "ortho", random_init: bool = True,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.dim, self.k, self.kind = int(dim), int(k), kind
        if kind == "ortho":
            scale = 1.0 if random_init else 1e-3
            self.weight = nn.Parameter(scale * torch.randn(dim, dim, generator=generator))
        else:
            init = (0.1 * torch.randn(dim, k, generator=generator) if random_init
                    else torch.eye(dim)[:, :k].clone())
            self.weight = nn.Parameter(init)

    def matrix(self) -> torch.Tensor:
        """A: [d, K], one direction per column."""
        if self.kind == "ortho":
            return torch.linalg.matrix_exp(self.weight - self.weight.T)[:, : self.k]
        if self.kind == "proj":
            return self.weight / self.weight.norm(dim=0, keepdim=True).clamp_min(1e-12)
        return self.weight

    def forward(self, shift: torch.Tensor) -> torch.Tensor:
        return shift @ self.matrix().T


class LeNetReconstructor(nn.Module):
    """LeNet-like reconstructor (the reference's MNIST choice, width 2) for small images: three
    conv + BN + ReLU stages (6, 16, 120 channels times ``width``) on the channel-concatenated
    image pair, then a direction-logit head and a shift head."""

    def __init__(self, channels: int, k: int, width: int = 2) -> None:
        super().__init__()
        c1, c2, c3 = 6 * width, 16 * width, 120 * width
        self.features = nn.Sequential(
            nn.Conv2d(2 * channels, c1, 5, padding=2), nn.BatchNorm2d(c1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.BatchNorm2d(c2), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Conv2d(c2, c3, 4), nn.BatchNorm2d(c3), nn.ReLU(), nn.Flatten(),
        )
        self.logits = nn.Linear(c3, k)
        self.shift = nn.Linear(c3, 1)

    def forward(self, pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(pair)
        return self.logits(h), self.shift(h).squeeze(1)


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                   nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.skip(x))


class ResNetReconstructor(nn.Module):
    """ResNet-like reconstructor for 64 px images (a narrow ResNet-18 cut to one basic block per
    stage, CPU-sized): stride-2 stem, four stages (``width`` x 1, 2, 4, 8 channels), global
    average pooling, direction-logit and shift heads. Input: the channel-concatenated pair."""

    def __init__(self, channels: int, k: int, width: int = 32) -> None:
        super().__init__()
        w = int(width)
        self.stem = nn.Sequential(nn.Conv2d(2 * channels, w, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(w), nn.ReLU())
        self.stages = nn.Sequential(_BasicBlock(w, w, 1), _BasicBlock(w, 2 * w, 2),
                                    _BasicBlock(2 * w, 4 * w, 2), _BasicBlock(4 * w, 8 * w, 2))
        self.logits = nn.Linear(8 * w, k)
        self.shift = nn.Linear(8 * w, 1)

    def forward(self, pair: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.stages(self.stem(pair)).mean(dim=(2, 3))
        return self.logits(h), self.shift(h).squeeze(1)


def make_reconstructor(kind: str, channels: int, resolution: int, k: int) -> nn.Module:
    """The reconstructor ``kind`` ("auto": LeNet-like up to 32 px, ResNet-like above)."""
    if kind not in RECONSTRUCTORS:
        raise ShapeError(f"reconstructor must be one of {RECONSTRUCTORS}, got {kind!r}")
    if kind == "auto":
        kind = "lenet" if resolution <= 32 else "resnet"
    if kind == "lenet":
        return LeNetReconstructor(channels, k)
    return ResNetReconstructor(channels, k)


def latent_space(generator: Any, space: str) -> str:
    """The shift space: ``"auto"`` is w for generators with a W space, else z."""
    spaces = tuple(getattr(generator, "spaces", ("z",)))
    if space == "auto":
        return "w" if "w" in spaces else "z"
    if space not in ("z", "w"):
        raise ShapeError(f"space must be 'auto', 'z' or 'w', got {space!r}")
    if space not in spaces:
        raise ShapeError(f"{type(generator).__name__} has latent spaces {spaces}; got "
                         f"space={space!r}")
    return space


def check_n_directions(k: Any, dim: int, space: str) -> int:
    """K (None: the latent dimension); one ShapeError when K < 1 or K > dim."""
    k = dim if k is None else int(k)
    if k < 1 or k > dim:
        raise ShapeError(f"n_directions must be in [1, {dim}] (the {space} dimension), got {k}")
    return k


def bf16_context(enabled: bool):
    return torch.autocast("cpu", dtype=torch.bfloat16) if enabled else contextlib.nullcontext()


# --------------------------------------------------------------------------- the finder
class LatentDiscovery(DirectionFinder):
    """Voynov & Babenko latent discovery as a direction finder (see the module docstring).

    Args:
        n_directions: K (None: the latent dimension; at most the latent dimension).
        space: "auto" (w where the generator has one, else z), "z" or "w".
        deformator: "ortho" (reference default), "proj" or "linear".
        random_init: random A (the reference default) or the coordinate axes.
        reconstructor: "auto", "lenet" or "resnet".
        n_steps, batch_size: optimisation length and batch (reference: 1e5 steps of 32).
        lr, reconstructor_lr: Adam learning rates of A and R (None: ``lr``; reference 1e-4 both).
        shift_scale, min_shift: eps ~ U[-shift_scale, shift_scale], |eps| >= min_shift.
        label_weight, shift_weight: loss weights of the cross-entropy and the L1 shift term.
        eval_pairs: held-out pairs for the RCA (reference: 100 batches of 32).
        eval_every: steps between held-out RCA evaluations (0: only at the end).
        bf16: "auto" (bf16 autocast where the CPU computes it natively), True or False.
        out_dir: checkpoint folder (resumes from its newest checkpoint); None: no checkpoints.
        checkpoint_every: steps between checkpoints. progress: a bar with the running RCA.

    Fitted attributes: ``directions_`` (K unit directions in ``space_``, named ``ld0``...,
    ``scores["rca"]`` the held-out accuracy per direction), ``rca_`` (held-out RCA, the
    reference protocol: R's batch normalisation on each held-out batch; ``rca_running_stats_``
    with R in eval mode),
    ``shift_mae_`` (held-out mean |eps_hat - eps|), ``matrix_`` (A, [d, K]), ``deformator_``,
    ``reconstructor_``, ``history_``.
    """

    fit_requires: ClassVar[tuple[str, ...]] = ("generator",)

    def __init__(
        self,
        n_directions: int | None = None,
        space: str = "auto",
        deformator: str = "ortho",
        random_init: bool = True,
        reconstructor: str = "auto",
        n_steps: int = 2000,
        batch_size: int = 32,
        lr: float = 1e-4,
        reconstructor_lr: float | None = None,
        shift_scale: float = 6.0,
        min_shift: float = 0.5,
        label_weight: float = 1.0,
        shift_weight: float = 0.25,
        eval_pairs: int = 3200,
        eval_every: int = 0,
        bf16: Any = "auto",
        out_dir: Any = None,
        checkpoint_every: int = 500,
        progress: bool = True,
    ) -> None:
        self.n_directions = n_directions
        self.space = space
        self.deformator = deformator
        self.random_init = random_init
        self.reconstructor = reconstructor
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.lr = lr
        self.reconstructor_lr = reconstructor_lr
        self.shift_scale = shift_scale
        self.min_shift = min_shift
        self.label_weight = label_weight
        self.shift_weight = shift_weight
        self.eval_pairs = eval_pairs
        self.eval_every = eval_every
        self.bf16 = bf16
        self.out_dir = out_dir
        self.checkpoint_every = checkpoint_every
        self.progress = progress

    # ----------------------------------------------------------------- validation
    def _validate(self, generator: Any) -> tuple[str, int, int]:
        if self.deformator not in DEFORMATORS:
            raise ShapeError(f"deformator must be one of {DEFORMATORS}, got {self.deformator!r}")
        for name in ("n_steps", "batch_size", "eval_pairs", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ShapeError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and self.shift_scale > 0 and 0 <= self.min_shift <= self.shift_scale):
            raise ShapeError("lr and shift_scale must be > 0 and 0 <= min_shift <= shift_scale")
        space = latent_space(generator, self.space)
        dim = int(generator.latent_shape(space)[0])
        k = check_n_directions(self.n_directions, dim, space)
        return space, dim, k

    # ----------------------------------------------------------------- pieces
    def _shifts(self, n: int, k: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(direction index [n], signed shift eps [n]) as in the reference's make_shifts."""
        idx = torch.randint(0, k, (n,), generator=g)
        eps = self.shift_scale * (2 * torch.rand(n, generator=g) - 1)
        small = eps.abs() < self.min_shift
        eps = torch.where(small, torch.where(eps < 0, -self.min_shift, self.min_shift), eps)
        return idx, eps

    def _latents(self, generator: Any, space: str, n: int, g: torch.Generator) -> torch.Tensor:
        z = torch.randn(n, generator.z_dim, generator=g).to(generator.device)
        if space == "z":
            return z
        with torch.no_grad():
            return generator.z_to_latent(z, "w")

    def _pair(self, generator, deformator, space, n, k, g, bf16):
        latent = self._latents(generator, space, n, g)
        idx, eps = self._shifts(n, k, g)
        onehot = F.one_hot(idx, k).float() * eps[:, None]
        offset = deformator(onehot.to(latent.device))
        with bf16_context(bf16):
            with torch.no_grad():
                before = generator.synthesize(latent, space)
            after = generator.synthesize(latent + offset, space)
        return torch.cat([before, after], dim=1), idx, eps

    # ----------------------------------------------------------------- fit
    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None) -> LatentDiscovery:
        """Train A and the reconstructor on ``generator`` (frozen); sets the fitted attributes."""
        self._check_fit_inputs(generator=generator)
        space, dim, k = self._validate(generator)
        seed = seed_of(rng)
        bf16 = resolve_bf16(self.bf16)
        generator.eval()
        with frozen(generator):
            init = step_generator(seed, 0, phase=99)
            with torch.random.fork_rng(devices=[]):  # seeded module init, global RNG untouched
                torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=init)))
                deformator = Deformator(dim, k, self.deformator, self.random_init, init)
                recon = make_reconstructor(self.reconstructor, generator.img_channels,
                                           generator.img_resolution, k)
            opt_a = torch.optim.Adam(deformator.parameters(), lr=self.lr)
            opt_r = torch.optim.Adam(recon.parameters(), lr=self.reconstructor_lr or self.lr)

            def step_fn(step: int) -> dict[str, float]:
                g = step_generator(seed, step)
                recon.train()
                pair, idx, eps = self._pair(generator, deformator, space, self.batch_size, k, g,
                                            bf16)
                with bf16_context(bf16):
                    logits, eps_hat = recon(pair)
                logits, eps_hat = logits.float(), eps_hat.float()
                ce = F.cross_entropy(logits, idx)
                l1 = (eps_hat - eps).abs().mean()
                loss = self.label_weight * ce + self.shift_weight * l1
                opt_a.zero_grad(set_to_none=True)
                opt_r.zero_grad(set_to_none=True)
                loss.backward()
                opt_a.step()
                opt_r.step()
                acc = float((logits.argmax(1) == idx).float().mean())
                return {"loss": float(loss.detach()), "ce": float(ce.detach()),
                        "shift_l1": float(l1.detach()), "train_rca": acc}

            def eval_fn(_step: int) -> dict[str, float]:
                return self._evaluate(generator, deformator, recon, space, k, seed, bf16)

            fingerprint = settings_fingerprint(self.get_params(), generator, seed)
            history = run_loop(
                step_fn=step_fn, modules={"deformator": deformator, "reconstructor": recon},
                optimizers={"deformator": opt_a, "reconstructor": opt_r},
                n_steps=int(self.n_steps), fingerprint=fingerprint, out_dir=self.out_dir,
                checkpoint_every=int(self.checkpoint_every), progress=self.progress,
                desc="latent discovery", running="train_rca", eval_fn=eval_fn,
                eval_every=int(self.eval_every),
            )
        final = history[-1]
        self.space_ = space
        self.seed_ = seed
        self.bf16_ = bf16
        self.history_ = history
        self.rca_ = float(final["rca"])
        self.shift_mae_ = float(final["shift_mae"])
        self.rca_running_stats_ = float(final.get("rca_running_stats", float("nan")))
        self.per_direction_rca_ = np.asarray(self._last_per_direction, dtype=np.float64)
        self.deformator_ = deformator.eval()
        self.reconstructor_ = recon.eval()
        with torch.no_grad():
            matrix = deformator.matrix().detach().float().cpu().numpy()
        self.matrix_ = matrix
        norms = np.linalg.norm(matrix, axis=0)
        self.directions_ = Directions(
            matrix.T, space=space, names=[f"ld{i}" for i in range(k)],
            method="latent_discovery", normalize=True,
            scores={"rca": self.per_direction_rca_, "column_norm": norms},
            metadata={"rca": self.rca_, "rca_running_stats": self.rca_running_stats_,
                      "shift_mae": self.shift_mae_, "deformator":
                      self.deformator, "steps": int(self.n_steps), "seed": seed,
                      "eval_pairs": int(self.eval_pairs)},
        )
        return self

    def _evaluate(self, generator, deformator, recon, space, k, seed, bf16) -> dict[str, float]:
        """Held-out RCA on fresh pairs from seeds never used in training.

        ``rca``: the reference protocol (its ``validate_classifier`` leaves R in training mode):
        batch normalisation with the statistics of each held-out batch of ``batch_size`` pairs
        (on a copy of R, so the running statistics are untouched). ``rca_running_stats``: R in
        eval mode (running statistics), for comparison.
        """
        batch_stats = copy.deepcopy(recon).train()
        recon.eval()
        correct = torch.zeros(2, k)
        count = torch.zeros(k)
        mae = 0.0
        done = 0
        batch = int(self.batch_size)
        with torch.no_grad():
            for b in range(0, int(self.eval_pairs), batch):
                n = min(batch, int(self.eval_pairs) - b)
                g = step_generator(seed, b // batch, phase=_EVAL_PHASE)
                pair, idx, eps = self._pair(generator, deformator, space, n, k, g, bf16)
                with bf16_context(bf16):
                    logits, eps_hat = batch_stats(pair)
                    logits_run, _ = recon(pair)
                for row, lg in enumerate((logits, logits_run)):
                    correct[row].index_add_(0, idx, (lg.float().argmax(1) == idx).float())
                count.index_add_(0, idx, torch.ones(n))
                mae += float((eps_hat.float() - eps).abs().sum())
                done += n
        recon.train()
        self._last_per_direction = (correct[0] / count.clamp_min(1)).tolist()
        return {"rca": float(correct[0].sum() / done), "shift_mae": mae / done,
                "rca_running_stats": float(correct[1].sum() / done)}

    def score(self, X: Any = None, y: Any = None) -> float:
        """The held-out RCA of the fitted run (higher is better)."""
        self._check_fitted()
        return self.rca_


__all__ = [
    "DEFORMATORS",
    "Deformator",
    "LatentDiscovery",
    "LeNetReconstructor",
    "RECONSTRUCTORS",
    "ResNetReconstructor",
    "make_reconstructor",
]
