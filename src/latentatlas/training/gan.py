"""GAN trainer for StyleGAN2 and Z-space generators (StyleGAN2-ADA conventions), CPU or CUDA.

What one training iteration (``step``) does, on every data-parallel rank:

1. **D step**: logistic loss softplus(D(G(z))) + softplus(-D(x)) on augmented fake and real
   images; every ``r1_interval`` steps (lazy R1) the penalty (gamma / 2) ||dD(x)/dx||^2 is added,
   multiplied by ``r1_interval`` so that its average weight stays gamma / 2.
2. **G step**: softplus(-D(G(z))) with style mixing (each sample swaps to a second w from a random
   layer on with probability ``style_mixing_prob``); every ``pl_interval`` steps the path-length
   penalty (weight ``pl_weight``, decay ``pl_decay``, batch shrink 2, times the interval); every
   registered :class:`GeneratorRegularizer` whose interval divides the step, times its interval.
3. EMA generator update with half-life ``ema_kimg`` (ramp-up ``ema_rampup``) as in StyleGAN2-ADA,
   w_avg tracking (beta ``w_avg_beta``) and the adaptive augmentation update.

The global batch is split over ranks and then into ``accum_steps`` micro-batches; gradients are
averaged over ranks with one all-reduce per step (as StyleGAN2-ADA does), so every rank holds the
same weights. Every random draw of step k comes from generators seeded by (seed, k, rank, phase) and
batch k of the data depends only on (seed, k): a run resumed from a checkpoint is bit-identical to
an uninterrupted one. Checkpoints are written atomically by rank 0 and never contain NaN weights;
a NaN / Inf loss stops the run with :class:`TrainingDivergedError` before the optimiser step.

Over 600 lines: one trainer class, whose D / G / EMA / DDP / checkpoint steps share its state.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import random
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from latentatlas.io.images import to_model_images
from latentatlas.training.augment import AUGMENT_OPS, Augmenter
from latentatlas.training.checkpoint import (
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
    nonfinite_tensors,
    prune_checkpoints,
    save_checkpoint,
)
from latentatlas.training.data import ArraySource, ImageSource
from latentatlas.training.losses import (
    d_logistic_loss,
    g_nonsaturating_loss,
    path_lengths,
    r1_penalty,
)
from latentatlas.utils.atomic import atomic_write_json, trim_jsonl_log
from latentatlas.utils.distributed import rank_world
from latentatlas.utils.errors import CheckpointError, DataError, LatentAtlasError
from latentatlas.utils.fingerprint import module_fingerprint
from latentatlas.utils.runinfo import write_run_record

# Phase ids mixed into the per-step seeds (any distinct constants).
_PHASE_D, _PHASE_G, _PHASE_NOISE, _PHASE_MIRROR = 1, 2, 3, 4


class TrainingDivergedError(LatentAtlasError):
    """A loss or gradient became NaN / Inf; the run stopped before the optimiser step."""


@runtime_checkable
class GeneratorRegularizer(Protocol):
    """A generator regulariser hook (OroJaR, Hessian penalty, contrastive losses, ...).

    Called in the G step every ``interval`` steps with the generator, the z batch, the W+ codes
    ([N, num_ws, w_dim], or None for Z-only generators), the generated images (graph attached)
    and the step; returns a scalar loss tensor, already weighted. The trainer adds
    ``loss * interval`` (lazy regularisation) and logs ``loss`` under ``name``.
    """

    name: str
    interval: int

    def __call__(
        self, G: nn.Module, z: torch.Tensor, ws: torch.Tensor | None, images: torch.Tensor,
        step: int,
    ) -> torch.Tensor: ...


@dataclass
class GANTrainConfig:
    """Hyper-parameters of a GAN run (defaults: StyleGAN2-ADA where it defines them).

    Length: ``total_steps`` or ``kimg`` (steps = ceil(kimg * 1000 / batch)). ``batch`` is global
    (split over ranks, then into ``accum_steps`` micro-batches). Adam: ``g_lr``, ``d_lr``,
    ``betas``, ``adam_eps``. Regularisation: ``r1_gamma`` every ``r1_interval`` steps;
    path length (``pl_weight`` > 0 enables) every ``pl_interval`` steps on batch /
    ``pl_batch_shrink`` with running-mean decay ``pl_decay``; ``style_mixing_prob``. EMA:
    ``ema_kimg`` (None: batch * 10 / 32), ``ema_rampup`` (None: off); ``w_avg_beta``.
    ``noise_mode`` of the generator's noise inputs while training. Augmentation: ``augment``
    (none | diffaug | ada), ``augment_p``, ``augment_ops``, ``ada_target``, ``ada_interval``,
    ``ada_kimg`` (see :mod:`latentatlas.training.augment`). ``mirror``: flip each real image
    left-right with probability 1/2 (StyleGAN2-ADA's ``--mirror``: doubles a small data set of
    left-right symmetric subjects such as aligned faces; unlike augmentation it is not undone, so
    G learns both orientations; do not use it where handedness is a factor). Speed: ``bf16``
    (torch.autocast around G and D), ``channels_last``. Outputs: ``checkpoint_every``,
    ``keep_checkpoints``, ``sample_every`` (grid of ``n_samples``), ``log_every``,
    ``tensorboard``, ``progress``. ``regularizer_only_steps``: the first steps train G by its
    regulariser hooks alone (no adversarial term, D untouched, no real images drawn; GAN-Control's
    contrastive warm-up, see :mod:`latentatlas.training.control_run`), at G learning rate
    ``regularizer_only_lr`` (None: ``g_lr``).
    ``seed`` fixes every random draw together with the step.
    """

    total_steps: int | None = None
    kimg: float | None = None  # alternative to total_steps: thousands of real images shown
    batch: int = 32  # global batch over all ranks
    accum_steps: int = 1
    g_lr: float = 0.0025
    d_lr: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    adam_eps: float = 1e-8
    r1_gamma: float = 1.0
    r1_interval: int = 16
    pl_weight: float = 0.0  # 2.0 enables path-length regularisation as in StyleGAN2
    pl_interval: int = 4
    pl_decay: float = 0.01
    pl_batch_shrink: int = 2
    style_mixing_prob: float = 0.9
    ema_kimg: float | None = None  # None: batch * 10 / 32 (StyleGAN2-ADA "auto")
    ema_rampup: float | None = 0.05
    w_avg_beta: float = 0.995
    noise_mode: str = "random"
    augment: str = "none"  # none | diffaug | ada
    augment_p: float | None = None
    augment_ops: tuple[str, ...] = AUGMENT_OPS
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 500.0
    mirror: bool = False
    bf16: bool = False
    channels_last: bool = False
    seed: int = 0
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    sample_every: int = 500
    n_samples: int = 64
    log_every: int = 10
    tensorboard: bool = True
    progress: bool = True
    regularizer_only_steps: int = 0
    regularizer_only_lr: float | None = None  # G's learning rate in those steps (None: g_lr)

    def __post_init__(self) -> None:
        self.betas = tuple(self.betas)  # type: ignore[assignment]
        self.augment_ops = tuple(self.augment_ops)
        self.validate()

    def validate(self) -> None:
        """Every number in its range (:class:`OptionError` naming the option otherwise)."""
        from latentatlas.utils.checks import check_number

        if self.total_steps is not None:
            check_number("total_steps", self.total_steps, 1, integer=True)
        if self.kimg is not None:
            check_number("kimg", self.kimg, 0, low_open=True)
        for name in ("batch", "accum_steps", "r1_interval", "pl_interval", "pl_batch_shrink",
                     "ada_interval", "n_samples"):
            check_number(name, getattr(self, name), 1, integer=True)
        for name in ("checkpoint_every", "sample_every", "log_every"):
            check_number(name, getattr(self, name), 1, integer=True)
        check_number("regularizer_only_steps", self.regularizer_only_steps, 0, integer=True)
        if self.regularizer_only_lr is not None:
            check_number("regularizer_only_lr", self.regularizer_only_lr, 0, low_open=True)
        for name in ("g_lr", "d_lr", "adam_eps"):
            check_number(name, getattr(self, name), 0, low_open=True)
        for name in ("r1_gamma", "pl_weight", "ada_kimg"):
            check_number(name, getattr(self, name), 0)
        for name in ("style_mixing_prob", "pl_decay", "ada_target", "w_avg_beta"):
            check_number(name, getattr(self, name), 0, 1)
        if self.augment_p is not None:
            check_number("augment_p", self.augment_p, 0, 1)
        if self.ema_kimg is not None:
            check_number("ema_kimg", self.ema_kimg, 0)
        if self.ema_rampup is not None:
            check_number("ema_rampup", self.ema_rampup, 0)
        if self.batch % self.accum_steps:
            from latentatlas.utils.errors import OptionError

            raise OptionError(f"batch={self.batch} must be a multiple of "
                              f"accum_steps={self.accum_steps}")

    def resolved_total_steps(self) -> int:
        if self.total_steps is not None:
            return int(self.total_steps)
        if self.kimg is not None:
            return int(math.ceil(self.kimg * 1000.0 / self.batch))
        raise LatentAtlasError("GANTrainConfig needs total_steps or kimg")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GANTrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise LatentAtlasError(f"unknown GAN training options {unknown}")
        return cls(**d)


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced."""

    step: int
    out_dir: Path
    model_dir: Path | None
    checkpoint: Path | None
    metrics: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------- helpers
def _step_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0]
               & ((1 << 63) - 1))


# ---------------------------------------------------------------------- the trainer
class GANTrainer:
    """Trains ``G`` (and ``D``) on an image source; see the module docstring for the algorithm.

    Args:
        G: a :class:`latentatlas.models.Generator` (StyleGAN-like with a W space, or Z-only).
        D: discriminator, ``D(images[, c]) -> logits`` of shape [N] or [N, 1].
        data: an :class:`ImageSource` or an NHWC uint8 / float [0, 1] array.
        config: :class:`GANTrainConfig`.
        out_dir: run folder (checkpoints/, samples/, metrics.jsonl, run.json, model/).
        regularizers: generator regulariser hooks.
        device: default CUDA when available (cuda:LOCAL_RANK under torchrun), else CPU.
        command: the command line to record in the run's config (default: sys.argv).
        extra_config: more JSON-able facts to record (architecture, data name, preset).
    """

    def __init__(
        self,
        G: nn.Module,
        D: nn.Module,
        data: ImageSource | np.ndarray,
        config: GANTrainConfig | None = None,
        out_dir: str | os.PathLike = "runs/gan",
        regularizers: Sequence[GeneratorRegularizer] = (),
        device: str | torch.device | None = None,
        command: str | None = None,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.config = config or GANTrainConfig()
        cfg = self.config
        self.rank, self.world = rank_world()
        if device is None:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.out_dir = Path(out_dir)
        self.ckpt_dir = self.out_dir / "checkpoints"
        self.command = command if command is not None else " ".join(sys.argv)
        self.extra_config = dict(extra_config or {})
        self.total_steps = cfg.resolved_total_steps()
        if cfg.batch % (self.world * cfg.accum_steps) != 0:
            raise LatentAtlasError(
                f"batch {cfg.batch} must be divisible by world size {self.world} x accum_steps "
                f"{cfg.accum_steps}"
            )
        self.rank_batch = cfg.batch // self.world
        self.micro_batch = self.rank_batch // cfg.accum_steps
        if cfg.r1_interval < 1 or cfg.pl_interval < 1:
            raise LatentAtlasError("r1_interval and pl_interval must be >= 1")

        self.source = data if isinstance(data, ImageSource) else ArraySource(data, seed=cfg.seed)
        self._check_data(G)

        memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.G = G.to(self.device, memory_format=memory_format).train()
        self.D = D.to(self.device, memory_format=memory_format).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.g_lr, betas=cfg.betas,
                                      eps=cfg.adam_eps)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.d_lr, betas=cfg.betas,
                                      eps=cfg.adam_eps)
        self.augmenter = Augmenter(
            cfg.augment, cfg.augment_p, cfg.augment_ops, ada_target=cfg.ada_target,
            ada_interval=cfg.ada_interval, ada_kimg=cfg.ada_kimg,
        )
        self.regularizers = list(regularizers)
        # The latest value of each lazy regulariser (and its parts): logged on every log line,
        # not only on the steps where it is due.
        self._last_reg_stats: dict[str, float] = {}
        names = [r.name for r in self.regularizers]
        if len(set(names)) != len(names):
            raise LatentAtlasError(f"generator regularisers need distinct names, got {names}")
        for r in self.regularizers:
            if int(r.interval) < 1:
                raise LatentAtlasError(f"regulariser {r.name!r}: interval must be >= 1")
        if cfg.regularizer_only_steps and not self.regularizers:
            from latentatlas.utils.errors import OptionError

            raise OptionError("regularizer_only_steps needs a generator regulariser to train G "
                              "with; without one those steps would do nothing")
        self.pl_mean = torch.zeros((), device=self.device)
        self.step = 0
        self._tb = None
        self._last_stats: dict[str, float] = {}
        self.rank_digests: list[str] = []
        # Seconds spent in training steps, summed over all sessions of a resumed run.
        self.train_seconds = 0.0

    # ------------------------------------------------------------------ checks
    def _check_data(self, G: nn.Module) -> None:
        src = self.source
        g_ch = getattr(G, "img_channels", None)
        g_res = getattr(G, "img_resolution", None)
        if g_ch is not None and src.channels != g_ch:
            raise DataError(
                f"{src.name}: the data has {src.channels} channel(s) but the generator makes "
                f"{g_ch}; choose a generator with img_channels={src.channels} or convert the data"
            )
        if g_res is not None and src.resolution != g_res:
            raise DataError(
                f"{src.name}: the data is {src.resolution}x{src.resolution} but the generator "
                f"makes {g_res}x{g_res} images; resize the data (--resolution)"
            )

    # ------------------------------------------------------------------ randomness
    def _generator(self, step: int, phase: int) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(_step_seed(self.config.seed, step, self.rank, phase))
        return g

    def _autocast(self):
        if not self.config.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    # ------------------------------------------------------------------ batches
    def _real_batch(self, step: int, micro: int) -> torch.Tensor:
        start = self.rank * self.rank_batch + micro * self.micro_batch
        arr = self.source.batch(step, start, start + self.micro_batch, self.config.batch)
        if self.config.mirror:
            # Own generator per (step, rank, micro-batch): the flips are part of the exact-resume
            # contract and do not shift the D / G phases' random streams.
            g = torch.Generator()
            g.manual_seed(_step_seed(self.config.seed, step, self.rank, _PHASE_MIRROR, micro))
            flip = torch.rand(len(arr), generator=g).numpy() < 0.5
            arr = arr.copy()
            arr[flip] = arr[flip, :, ::-1]
        return to_model_images(arr, self.device, self.config.channels_last)

    def _sample_z(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
        z = torch.randn(n, self.G.z_dim, generator=gen).to(self.device)
        c_dim = int(getattr(self.G, "c_dim", 0) or 0)
        c = None
        if c_dim:
            idx = torch.randint(0, c_dim, (n,), generator=gen)
            c = nn.functional.one_hot(idx, c_dim).float().to(self.device)
        return z, c

    def _generate(
        self, G: nn.Module, z: torch.Tensor, c: torch.Tensor | None, gen: torch.Generator,
        mixing_prob: float,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(images, W+ codes or None, w or None) with per-sample style mixing."""
        if "w" not in G.spaces:
            return G.synthesize(z, space="z", c=c), None, None
        w = G.z_to_w(z, c)
        num_ws = int(G.num_ws)
        ws = w.unsqueeze(1).expand(-1, num_ws, -1)
        if mixing_prob > 0 and num_ws > 1:
            n = z.shape[0]
            z2 = torch.randn(z.shape, generator=gen).to(z.device)
            cutoff = torch.randint(1, num_ws, (n, 1), generator=gen).to(z.device)
            use = (torch.rand(n, 1, generator=gen) < mixing_prob).to(z.device)
            w2 = G.z_to_w(z2, c)
            layer = torch.arange(num_ws, device=z.device).view(1, num_ws)
            mix = (layer >= cutoff) & use
            ws = torch.where(mix.unsqueeze(-1), w2.unsqueeze(1), ws)
        images = G.synthesize(ws, space="wp", c=c, noise_mode=self.config.noise_mode)
        return images, ws, w

    def _D(self, images: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        logits = self.D(images) if c is None else self.D(images, c)
        return logits.reshape(images.shape[0]).float()

    # ------------------------------------------------------------------ gradient sync
    def _all_reduce(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            t = t.to(self.device)
            dist.all_reduce(t)
        return t.cpu() if t.device.type != "cpu" else t

    def _sync_and_check(self, module: nn.Module, bad_terms: list[str], step: int) -> None:
        """Average grads over ranks and stop (on every rank alike) when anything is NaN / Inf."""
        params = [p for p in module.parameters() if p.requires_grad]
        flag = torch.tensor([1.0 if bad_terms else 0.0], device=self.device)
        if self.world > 1:
            flat = torch.cat(
                [(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params]
                + [flag]
            )
            dist.all_reduce(flat)
            flat[:-1] /= self.world
            offset = 0
            for p in params:
                n = p.numel()
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                p.grad.copy_(flat[offset:offset + n].view_as(p))
                offset += n
            any_bad = float(flat[-1]) > 0
            grads_finite = bool(torch.isfinite(flat[:-1]).all())
        else:
            any_bad = bool(bad_terms)
            grads = [p.grad for p in params if p.grad is not None]
            # One device sync for all parameters (matters on CUDA).
            grads_finite = not grads or bool(
                torch.stack([torch.isfinite(g).all() for g in grads]).all())
        if any_bad or not grads_finite:
            what = ", ".join(bad_terms) if bad_terms else (
                "a loss on another rank" if any_bad else f"gradients of {type(module).__name__}")
            self._raise_diverged(step, what)

    def _raise_diverged(self, step: int, what: str) -> None:
        ckpts = list_checkpoints(self.ckpt_dir)
        last = f"{ckpts[-1][1]} (step {ckpts[-1][0]})" if ckpts else "none written yet"
        raise TrainingDivergedError(
            f"training diverged at step {step + 1}: {what} became NaN/Inf; stopped before the "
            f"optimiser step, no checkpoint was written with these values. Last good checkpoint: "
            f"{last}. Resume from it (--resume) with a lower learning rate, a larger r1_gamma or "
            "bf16 off."
        )

    # ------------------------------------------------------------------ one iteration
    def discriminator_step(self, step: int, stats: dict[str, float] | None = None) -> None:
        """One D update on real batch ``step`` and fresh fakes (lazy R1 when due)."""
        cfg = self.config
        stats = stats if stats is not None else {}
        gen = self._generator(step, _PHASE_D)
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        do_r1 = cfg.r1_gamma > 0 and step % cfg.r1_interval == 0
        bad: list[str] = []
        sums = {"loss_D": 0.0, "logits_real": 0.0, "logits_fake": 0.0, "r1": 0.0}
        for micro in range(cfg.accum_steps):
            real = self._real_batch(step, micro).detach().requires_grad_(do_r1)
            z, c = self._sample_z(self.micro_batch, gen)
            with torch.no_grad(), self._autocast():
                fake = self._generate(self.G, z, c, gen, cfg.style_mixing_prob)[0]
            with self._autocast():
                fake_logits = self._D(self.augmenter(fake.float(), gen), c)
                real_logits = self._D(self.augmenter(real, gen), c)
            loss = d_logistic_loss(real_logits, fake_logits)
            sums["loss_D"] += float(loss.detach().mean()) / cfg.accum_steps  # without R1
            if do_r1:
                r1 = r1_penalty(real_logits, real)
                loss = loss + r1 * (cfg.r1_gamma / 2) * cfg.r1_interval
                sums["r1"] += float(r1.detach().mean()) / cfg.accum_steps
            total = loss.mean() / cfg.accum_steps
            if not torch.isfinite(total):
                bad.append("the discriminator loss" + (" (with R1)" if do_r1 else ""))
                total = torch.nan_to_num(total, nan=0.0, posinf=0.0, neginf=0.0)
            total.backward()
            self.augmenter.accumulate(real_logits)
            sums["logits_real"] += float(real_logits.detach().mean()) / cfg.accum_steps
            sums["logits_fake"] += float(fake_logits.detach().mean()) / cfg.accum_steps
        self._sync_and_check(self.D, bad, step)
        self.opt_D.step()
        stats.update(sums if do_r1 else {k: v for k, v in sums.items() if k != "r1"})

    def generator_step(self, step: int, stats: dict[str, float] | None = None) -> None:
        """One G update (non-saturating loss, PL and regulariser hooks when due), then EMA."""
        cfg = self.config
        stats = stats if stats is not None else {}
        gen = self._generator(step, _PHASE_G)
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        has_w = "w" in self.G.spaces
        do_pl = cfg.pl_weight > 0 and has_w and step % cfg.pl_interval == 0
        regs_due = [r for r in self.regularizers if step % int(r.interval) == 0]
        bad: list[str] = []
        sums: dict[str, float] = {"loss_G": 0.0}
        w_sum = None
        for _micro in range(cfg.accum_steps):
            z, c = self._sample_z(self.micro_batch, gen)
            with self._autocast():
                fake, ws, w = self._generate(self.G, z, c, gen, cfg.style_mixing_prob)
                logits = self._D(self.augmenter(fake, gen), c)
            loss = g_nonsaturating_loss(logits).mean()
            if not torch.isfinite(loss):
                bad.append("the generator loss")
            sums["loss_G"] += float(loss.detach()) / cfg.accum_steps
            loss = self._regularizer_terms(loss, regs_due, z, ws, fake, step, sums, bad)
            if do_pl:
                loss = loss + self._path_length_term(z, c, gen, sums)
                if not math.isfinite(sums.get("pl_penalty", 0.0)):
                    bad.append("the path-length penalty")
            w_sum = self._backward_micro(loss, bad, w, w_sum)
        self.D.requires_grad_(True)
        self._finish_g_step(step, regs_due, bad, w_sum, sums, stats)

    def regularizer_step(self, step: int, stats: dict[str, float] | None = None) -> None:
        """A G update by the regulariser hooks alone (the first ``regularizer_only_steps``): no
        adversarial term, D untouched, no real images; the G batch is synthesised only for hooks
        that read it (``uses_batch``, default True); EMA as usual."""
        cfg = self.config
        stats = stats if stats is not None else {}
        gen = self._generator(step, _PHASE_G)
        self.G.requires_grad_(True)
        self.opt_G.zero_grad(set_to_none=True)
        regs_due = [r for r in self.regularizers if step % int(r.interval) == 0]
        if not regs_due:  # a lazy hook's off step: nothing trains G
            self._update_ema(step)
            return
        bad: list[str] = []
        sums: dict[str, float] = {}
        w_sum = None
        for _micro in range(cfg.accum_steps):
            z, c = self._sample_z(self.micro_batch, gen)
            fake = ws = w = None
            if any(getattr(r, "uses_batch", True) for r in regs_due):
                with self._autocast():
                    fake, ws, w = self._generate(self.G, z, c, gen, cfg.style_mixing_prob)
            loss = self._regularizer_terms(torch.zeros((), device=self.device), regs_due, z, ws,
                                           fake, step, sums, bad)
            w_sum = self._backward_micro(loss, bad, w, w_sum)
        self._finish_g_step(step, regs_due, bad, w_sum, sums, stats)

    def _backward_micro(self, loss: torch.Tensor, bad: list[str], w: torch.Tensor | None,
                        w_sum: torch.Tensor | None) -> torch.Tensor | None:
        """Backward of one micro-batch's G loss (zeroed where a term went non-finite: the
        step is refused after the sync); returns the running sum of its mean w."""
        total = loss / self.config.accum_steps
        if bad:
            total = torch.nan_to_num(total, nan=0.0, posinf=0.0, neginf=0.0)
        total.backward()
        if w is None:
            return w_sum
        w_mean = w.detach().float().mean(dim=0)
        return w_mean if w_sum is None else w_sum + w_mean

    def _regularizer_terms(self, loss: torch.Tensor, regs_due, z, ws, fake, step: int,
                           sums: dict[str, float], bad: list[str]) -> torch.Tensor:
        """``loss`` plus the due hooks' values (each times its interval: lazy regularisation);
        their values and parts are added to ``sums``, non-finite ones named in ``bad``."""
        cfg = self.config
        for reg in regs_due:
            value = reg(self.G, z, ws, fake, step)
            value = value.float().reshape(())
            if not torch.isfinite(value):
                bad.append(f"generator regulariser {reg.name!r}")
            sums[reg.name] = sums.get(reg.name, 0.0) + float(value.detach()) / cfg.accum_steps
            for part, v in getattr(reg, "parts", {}).items():  # e.g. per-layer penalties
                key = f"{reg.name}/{part}"
                sums[key] = sums.get(key, 0.0) + float(v) / cfg.accum_steps
            loss = loss + value * int(reg.interval)
        return loss

    def _finish_g_step(self, step: int, regs_due, bad: list[str], w_sum, sums: dict[str, float],
                       stats: dict[str, float]) -> None:
        """Check, step G (and the hooks' own networks), track w_avg, EMA, collect the stats."""
        self._sync_and_check(self.G, bad, step)
        self.opt_G.step()
        for reg in regs_due:  # hooks with networks of their own (InfoGAN's Q, GAN-VP's P)
            if hasattr(reg, "optimizer_step"):
                reg.optimizer_step()
        if w_sum is not None:
            self._update_w_avg(w_sum / self.config.accum_steps)
        self._update_ema(step)
        reg_keys = {r.name for r in regs_due}
        self._last_reg_stats.update({k: v for k, v in sums.items()
                                     if k.split("/", 1)[0] in reg_keys})
        stats.update(self._last_reg_stats)
        stats.update(sums)

    def _path_length_term(self, z, c, gen, sums: dict[str, float]) -> torch.Tensor:
        cfg = self.config
        n = max(1, z.shape[0] // cfg.pl_batch_shrink)
        with self._autocast():
            images, ws, _ = self._generate(self.G, z[:n], None if c is None else c[:n], gen,
                                           cfg.style_mixing_prob)
        noise = torch.randn(images.shape, generator=gen).to(images.device)
        lengths = path_lengths(images, ws, noise)
        mean_len = self._all_reduce(lengths.detach().mean().reshape(1).clone()) / self.world
        self.pl_mean = self.pl_mean.lerp(mean_len.to(self.pl_mean).reshape(()), cfg.pl_decay)
        penalty = (lengths - self.pl_mean).square().mean()
        sums["pl_penalty"] = sums.get("pl_penalty", 0.0) + float(penalty.detach()) / cfg.accum_steps
        sums["pl_mean"] = float(self.pl_mean)
        return penalty * cfg.pl_weight * cfg.pl_interval

    def _update_w_avg(self, w_mean: torch.Tensor) -> None:
        if self.world > 1:
            w_mean = self._all_reduce(w_mean.clone()).to(self.device) / self.world
        update = getattr(self.G, "update_w_avg", None)
        if callable(update):
            update(w_mean.reshape(1, -1), beta=self.config.w_avg_beta)

    def _update_ema(self, step: int) -> None:
        cfg = self.config
        ema_kimg = cfg.ema_kimg if cfg.ema_kimg is not None else cfg.batch * 10 / 32
        ema_nimg = ema_kimg * 1000
        if cfg.ema_rampup is not None:
            ema_nimg = min(ema_nimg, (step + 1) * cfg.batch * cfg.ema_rampup)
        beta = 0.5 ** (cfg.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                p_ema.copy_(p.detach().lerp(p_ema, beta))
            for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                b_ema.copy_(b)

    def train_step(self, step: int) -> dict[str, float]:
        """One full iteration (D step, G step, EMA, augmentation update) for 0-based ``step``."""
        torch.manual_seed(_step_seed(self.config.seed, step, self.rank, _PHASE_NOISE))
        stats: dict[str, float] = {}
        cfg = self.config
        if cfg.regularizer_only_steps:  # set every step: a resumed run gets the same rate
            warm = step < cfg.regularizer_only_steps
            lr = cfg.regularizer_only_lr if warm and cfg.regularizer_only_lr else cfg.g_lr
            for group in self.opt_G.param_groups:
                group["lr"] = lr
        if step < cfg.regularizer_only_steps:
            self.regularizer_step(step, stats)
        else:
            self.discriminator_step(step, stats)
            self.generator_step(step, stats)
        self.augmenter.update(step + 1, self._all_reduce if self.world > 1 else None)
        if self.augmenter.mode != "none":
            stats["augment_p"] = self.augmenter.p
        self.step = step + 1
        return stats

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the run exactly."""
        rng: dict[str, Any] = {
            "python": random.getstate(),
            "numpy": np.random.get_state(),  # noqa: NPY002 (global state, saved)
            "torch": torch.get_rng_state(),
        }
        if torch.cuda.is_available():
            rng["cuda"] = list(torch.cuda.get_rng_state_all())
        return {
            "step": self.step,
            "config": self.config.to_dict(),
            "world_size": self.world,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "augment": self.augmenter.state_dict(),
            "pl_mean": self.pl_mean,
            "rng": rng,
            "sampler": {"seed": self.config.seed, "step": self.step, "batch": self.config.batch},
            "data": self._data_identity(),
            "regularizers": [r.name for r in self.regularizers],
            "regularizer_states": {r.name: r.state_dict() for r in self.regularizers
                                   if hasattr(r, "state_dict")},
            "last_regularizer_stats": dict(self._last_reg_stats),
            "train_seconds": self.train_seconds,
        }

    def _data_identity(self) -> str | None:
        """The name of a procedural training set, restriction included (``dsprites[posX=8:24]``);
        None for image arrays, whose path may move between sessions."""
        from latentatlas.training.data import GroundTruthSource

        return self.source.name if isinstance(self.source, GroundTruthSource) else None

    def load_state_dict(self, state: dict[str, Any], where: str = "checkpoint") -> None:
        saved = state.get("config", {})
        data_name = self._data_identity()
        if state.get("data") is not None and data_name is not None and state["data"] != data_name:
            raise CheckpointError(
                f"{where}: was trained on {state['data']!r}, this run's data is {data_name!r}; "
                "resume with the same --data (and --factor-range), or start a new --out")
        for key in ("batch", "seed", "augment", "regularizer_only_steps", "regularizer_only_lr"):
            if key in saved and saved[key] != getattr(self.config, key):
                warnings.warn(
                    f"{where}: saved {key}={saved[key]!r} differs from this run's "
                    f"{getattr(self.config, key)!r}; the resumed run will not reproduce the "
                    "original exactly",
                    stacklevel=2,
                )
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            self.G_ema.load_state_dict(state["G_ema"])
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise CheckpointError(f"{where}: does not fit these networks ({e})") from e
        # Optimizer.load_state_dict also restores the saved hyper-parameters; this run's config
        # wins, so that resuming with e.g. a lower --g-lr / --d-lr really changes them.
        for opt, lr in ((self.opt_G, self.config.g_lr), (self.opt_D, self.config.d_lr)):
            for group in opt.param_groups:
                group.update(lr=lr, betas=tuple(self.config.betas), eps=self.config.adam_eps)
        self.augmenter.load_state_dict(state["augment"])
        self.pl_mean = state["pl_mean"].to(self.device).float()
        self._last_reg_stats = {str(k): float(v) for k, v in
                                state.get("last_regularizer_stats", {}).items()}
        saved_regs = state.get("regularizer_states", {})
        for reg in self.regularizers:
            if hasattr(reg, "load_state_dict"):
                if reg.name not in saved_regs:
                    raise CheckpointError(f"{where}: holds no state of the {reg.name!r} "
                                          "network; resume with the run's own options")
                reg.load_state_dict(saved_regs[reg.name])
        rng = state.get("rng", {})
        if "python" in rng:
            version, internal, gauss = rng["python"]
            random.setstate((version, tuple(internal), gauss))
        if "numpy" in rng:
            np.random.set_state(rng["numpy"])  # noqa: NPY002
        if "torch" in rng:
            torch.set_rng_state(rng["torch"].cpu())
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([t.cpu() for t in rng["cuda"]])
        self.step = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))

    def save_checkpoint(self) -> Path | None:
        """Rank 0 writes ckpt-<step>.safetensors atomically and prunes old ones."""
        path = None
        if self.rank == 0:
            path = save_checkpoint(self.state_dict(), checkpoint_path(self.ckpt_dir, self.step))
            prune_checkpoints(self.ckpt_dir, self.config.keep_checkpoints)
        if self.world > 1:
            dist.barrier()
        return path

    def resume(self, checkpoint: str | os.PathLike | bool = True) -> int:
        """Restore from ``checkpoint`` (a file) or the newest readable one in the run folder.

        Returns the restored step (0 when ``checkpoint`` is True and none exists yet).
        A checkpoint with NaN / Inf values is never resumed from: the error names the newest
        finite one before it (resume from that path, or delete the bad files).
        """
        if checkpoint is True:
            found = list_checkpoints(self.ckpt_dir)
            for step, path in reversed(found):
                try:
                    state = load_checkpoint(path, map_location=self.device)
                except CheckpointError as e:
                    warnings.warn(f"skipping unreadable checkpoint {path}: {e}", stacklevel=2)
                    continue
                self._check_finite_checkpoint(state, path, found)
                self.load_state_dict(state, str(path))
                return step
            return 0
        path = Path(checkpoint)
        state = load_checkpoint(path, map_location=self.device)
        self._check_finite_checkpoint(state, path, list_checkpoints(path.parent))
        self.load_state_dict(state, str(path))
        return self.step

    def _check_finite_checkpoint(self, state: Any, path: Path,
                                 found: list[tuple[int, Path]]) -> None:
        bad = nonfinite_tensors(state)
        if not bad:
            return
        previous = None
        for _, other in reversed([f for f in found if f[1] != path and f[1].name < path.name]):
            try:
                if not nonfinite_tensors(load_checkpoint(other)):
                    previous = other
                    break
            except CheckpointError:
                continue
        hint = (f"the previous good checkpoint is {previous}: delete the newer ones to resume "
                "from it" if previous is not None else "no earlier finite checkpoint exists; "
                "start over with --overwrite")
        raise CheckpointError(f"{path}: NaN/Inf values in {bad[:3]}, not a good checkpoint; "
                              f"{hint}")

    # ------------------------------------------------------------------ outputs
    def _fixed_z(self) -> torch.Tensor:
        g = torch.Generator()
        g.manual_seed(_step_seed(self.config.seed, 2**31 - 1))
        return torch.randn(self.config.n_samples, self.G.z_dim, generator=g)

    @torch.no_grad()
    def sample_images(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """G_ema images (noise 'const') for z (default: the run's fixed sample codes)."""
        z = (self._fixed_z() if z is None else z).to(self.device)
        G = self.G_ema
        c = None
        if int(getattr(G, "c_dim", 0) or 0):
            idx = torch.arange(z.shape[0]) % G.c_dim
            c = nn.functional.one_hot(idx, G.c_dim).float().to(self.device)
        space = "wp" if "wp" in G.spaces else "z"
        latent = G.z_to_latent(z, space, c)
        return G.synthesize(latent, space, c=c, noise_mode="const").float().cpu()

    def save_samples(self, name: str) -> Path:
        from latentatlas.io.images import save_grid

        return save_grid(self.sample_images().clamp(-1, 1), self.out_dir / "samples" / name,
                         value_range=(-1.0, 1.0))

    def _run_config(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "train": self.config.to_dict(),
            "total_steps": self.total_steps,
            "world_size": self.world,
            "device": str(self.device),
            "generator": {"class": type(self.G).__name__,
                          "kwargs": getattr(self.G, "init_kwargs", None)},
            "discriminator": {"class": type(self.D).__name__,
                              "kwargs": getattr(self.D, "init_kwargs", None)},
            "data": {"name": self.source.name, "size": len(self.source),
                     "resolution": self.source.resolution, "channels": self.source.channels},
            "regularizers": [r.name for r in self.regularizers],
            **self.extra_config,
        }

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record, allow_nan=True) + "\n")
        if self._tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, (int, float)):
                    self._tb.add_scalar(k, v, record["step"])

    def _open_tensorboard(self) -> None:
        if not self.config.tensorboard or self.rank != 0:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # optional: tensorboard is not a dependency
            return
        self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))

    # ------------------------------------------------------------------ the loop
    def train(
        self, resume: bool | str | os.PathLike = False, stop_after: int | None = None,
        overwrite: bool = False,
    ) -> TrainResult:
        """Run to ``total_steps`` (or stop after step ``stop_after``), resuming if asked.

        Without ``resume`` a run folder that already holds a run (checkpoints, a log, a model)
        is refused unless ``overwrite``, which clears it first."""
        from tqdm.auto import tqdm

        from latentatlas.utils.outputs import OutputExistsError, clear_folder

        cfg = self.config
        if self.rank == 0 and not resume and self.out_dir.is_dir():
            held = [n for n in ("checkpoints", "metrics.jsonl", "run.json", "model",
                                "training_config.json") if (self.out_dir / n).exists()]
            if held and not overwrite:
                raise OutputExistsError(
                    f"{self.out_dir} already holds a run ({', '.join(held)}); pass --resume to "
                    "continue it or --overwrite to start over (or choose another --out)")
            if held:
                clear_folder(self.out_dir)
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            from latentatlas.utils.outputs import remove_stale_temporaries

            remove_stale_temporaries(self.out_dir)  # left by a killed atomic write
            atomic_write_json(self.out_dir / "training_config.json", self._run_config())
        if self.world > 1:
            dist.barrier()
        start = self.resume(resume) if resume else 0
        if self.world > 1:
            self._broadcast_state()
        if self.rank == 0:
            trim_jsonl_log(self.out_dir / "metrics.jsonl", start)
            self._open_tensorboard()
        end = self.total_steps if stop_after is None else min(stop_after, self.total_steps)
        last_ckpt: Path | None = None
        bar = tqdm(total=self.total_steps, initial=start, disable=self.rank != 0 or not
                   cfg.progress, desc="train gan", unit="step", dynamic_ncols=True,
                   mininterval=0.5 if sys.stderr.isatty() else 30.0)  # keep log files small
        t_start = time.perf_counter()
        t_log, steps_since_log, images_per_s = t_start, 0, float("nan")
        stats: dict[str, float] = {}
        try:
            for step in range(start, end):
                t_step = time.perf_counter()
                stats = self.train_step(step)
                self.train_seconds += time.perf_counter() - t_step
                done = step + 1
                steps_since_log += 1
                if done % cfg.log_every == 0 or done == end:
                    now = time.perf_counter()
                    images_per_s = steps_since_log * cfg.batch / max(now - t_log, 1e-9)
                    t_log, steps_since_log = now, 0
                    stats["images_per_s"] = images_per_s
                    if self.rank == 0:
                        self._log({"step": done, "kimg": done * cfg.batch / 1000, **stats})
                        shown = {k: f"{stats[key]:.3f}" for k, key in
                                 (("D", "loss_D"), ("G", "loss_G")) if key in stats}
                        bar.set_postfix(
                            **shown, img_s=f"{images_per_s:.0f}",
                            **({"p": f"{self.augmenter.p:.2f}"} if "augment_p" in stats else {}),
                        )
                bar.update(1)
                if done % cfg.sample_every == 0 and self.rank == 0:
                    self.save_samples(f"step-{done:08d}.png")
                if done % cfg.checkpoint_every == 0 or done == self.total_steps:
                    last_ckpt = self.save_checkpoint() or last_ckpt
        finally:
            bar.close()
            if self._tb is not None:
                self._tb.flush()
        self._last_stats = stats
        if self.world > 1:
            # Data parallelism must leave every rank with the same weights: check it.
            digests: list[Any] = [None] * self.world
            dist.all_gather_object(digests, module_fingerprint(self.G, self.D, self.G_ema))
            self.rank_digests = digests
            if len(set(digests)) != 1:
                raise LatentAtlasError(f"ranks hold different weights after training: {digests}")
        model_dir = None
        if self.step >= self.total_steps:
            model_dir = self._finish(stats, time.perf_counter() - t_start, start)
        if self.world > 1:
            # The other ranks wait for rank 0's files: a rank that exits while its peers still
            # use the gloo group can abort its process at teardown ("terminate called ...").
            dist.barrier()
        found = list_checkpoints(self.ckpt_dir)
        return TrainResult(self.step, self.out_dir, model_dir,
                           found[-1][1] if found else last_ckpt, dict(stats))

    def _broadcast_state(self) -> None:
        """Make every rank start from rank 0's weights (same seeds give the same init anyway)."""
        with torch.no_grad():
            for module in (self.G, self.D, self.G_ema):
                for t in list(module.parameters()) + list(module.buffers()):
                    dist.broadcast(t.data, src=0)

    def _finish(self, stats: dict[str, float], wall_s: float, start: int) -> Path | None:
        if self.rank != 0:
            return None
        from latentatlas.io.persistence import save_model

        self.save_samples("final.png")
        model_dir = None
        init_kwargs = getattr(self.G_ema, "init_kwargs", {})
        # The compute dtype chosen for training (bf16 on an AMX CPU) must not follow the weights
        # (fp32) to machines where bf16 is emulated and slow: generators declare ``dtype`` a
        # runtime field, so save_model leaves it out and a loaded model uses its default "auto".
        try:
            model_dir = save_model(
                self.G_ema, self.out_dir / "model",
                metadata={"trained_with": "latentatlas.training.gan", "steps": self.step,
                          "kimg": self.step * self.config.batch / 1000,
                          "command": self.command,
                          "training_dtype": init_kwargs.get("dtype")},
            )
        except TypeError as e:  # an unregistered stand-in network: weights stay in checkpoints
            warnings.warn(f"G_ema not saved as a model folder: {e}", stacklevel=2)
        metrics = {k: float(v) for k, v in stats.items()}
        metrics.update({"steps": self.step, "kimg": self.step * self.config.batch / 1000,
                        "wall_s_this_session": wall_s, "resumed_from_step": start,
                        "train_seconds_total": self.train_seconds,
                        "images_per_s_mean": self.step * self.config.batch
                        / max(self.train_seconds, 1e-9)})
        if self.world > 1:
            metrics["rank_state_sha256"] = list(self.rank_digests)
        write_run_record(self.out_dir, command=self.command, config=self._run_config(),
                         seed=self.config.seed, metrics=metrics)
        return model_dir


def train_gan(
    G: nn.Module,
    D: nn.Module,
    data: ImageSource | np.ndarray,
    config: GANTrainConfig,
    out_dir: str | os.PathLike,
    resume: bool | str | os.PathLike = False,
    regularizers: Sequence[GeneratorRegularizer] = (),
    device: str | torch.device | None = None,
    command: str | None = None,
    extra_config: dict[str, Any] | None = None,
) -> TrainResult:
    """Convenience wrapper: build a :class:`GANTrainer` and run it."""
    trainer = GANTrainer(G, D, data, config, out_dir, regularizers, device, command, extra_config)
    return trainer.train(resume=resume)
