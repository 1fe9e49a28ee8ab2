"""Differentiable augmentation for GAN training on small data sets.

DiffAugment-style operations (Zhao et al. 2020: colour = brightness, saturation, contrast;
translation by up to 1/8 of the image with zero padding; cutout of a half-size square) applied to
both real and fake images before D. Each operation fires per sample with probability ``p``:

- ``mode="diffaug"``: p is fixed (1.0 by default, the DiffAugment setting);
- ``mode="ada"``: p adapts as in StyleGAN2-ADA: every ``ada_interval`` steps
  r_t = E[sign(D(real))] over the images seen since the last update, and
  p += sign(r_t - ada_target) * (images seen) / (ada_kimg * 1000), clipped to [0, 1];
- ``mode="none"``: identity.

Randomness comes only from the ``torch.Generator`` the caller passes (sampled on the CPU, then
moved to the images' device), so runs are reproducible and device independent. The adaptive
state is :meth:`Augmenter.state_dict` and goes into training checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from latentatlas.utils.errors import LatentAtlasError

AUGMENT_MODES = ("none", "diffaug", "ada")
AUGMENT_OPS = ("color", "translation", "cutout")


class Augmenter:
    """Differentiable, per-sample-probability augmentation with optional ADA-style adaptive p."""

    def __init__(
        self,
        mode: str = "none",
        p: float | None = None,
        ops: Sequence[str] = AUGMENT_OPS,
        translation_ratio: float = 0.125,
        cutout_ratio: float = 0.5,
        ada_target: float = 0.6,
        ada_interval: int = 4,
        ada_kimg: float = 500.0,
    ) -> None:
        if mode not in AUGMENT_MODES:
            raise LatentAtlasError(f"augment mode must be one of {AUGMENT_MODES}, got {mode!r}")
        unknown = [op for op in ops if op not in AUGMENT_OPS]
        if unknown:
            raise LatentAtlasError(f"unknown augmentation ops {unknown}; known: {AUGMENT_OPS}")
        if p is None:
            p = {"none": 0.0, "diffaug": 1.0, "ada": 0.0}[mode]
        if not 0.0 <= p <= 1.0:
            raise LatentAtlasError(f"augment probability p must lie in [0, 1], got {p}")
        self.mode = mode
        self.p = float(p)
        self.ops = tuple(ops)
        self.translation_ratio = translation_ratio
        self.cutout_ratio = cutout_ratio
        self.ada_target = ada_target
        self.ada_interval = ada_interval
        self.ada_kimg = ada_kimg
        # Running sums of sign(D(real)) since the last p update (ADA's heuristic r_t).
        self.sign_sum = 0.0
        self.sign_count = 0

    @property
    def active(self) -> bool:
        return self.mode != "none" and (self.p > 0.0 or self.mode == "ada")

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "p": self.p, "sign_sum": self.sign_sum,
                "sign_count": self.sign_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("mode") != self.mode:
            raise LatentAtlasError(
                f"checkpoint was trained with augment mode {state.get('mode')!r}, "
                f"this run uses {self.mode!r}"
            )
        self.p = float(state["p"])
        self.sign_sum = float(state["sign_sum"])
        self.sign_count = int(state["sign_count"])

    # ------------------------------------------------------------------ ADA heuristic
    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Record sign(D(real)) for the adaptive heuristic (no-op unless mode == 'ada')."""
        if self.mode == "ada":
            self.sign_sum += float(real_logits.detach().float().sign().sum())
            self.sign_count += int(real_logits.numel())

    def update(self, step: int, all_reduce=None) -> None:
        """Adjust p every ``ada_interval`` steps. ``all_reduce`` sums a 2-vector over ranks."""
        if self.mode != "ada" or step % self.ada_interval != 0:
            return
        stats = torch.tensor([self.sign_sum, float(self.sign_count)], dtype=torch.float64)
        if all_reduce is not None:
            stats = all_reduce(stats)
        total, count = float(stats[0]), float(stats[1])
        if count > 0:
            r_t = total / count
            adjust = (1.0 if r_t > self.ada_target else -1.0) * count / (self.ada_kimg * 1000.0)
            self.p = min(max(self.p + adjust, 0.0), 1.0)
        self.sign_sum, self.sign_count = 0.0, 0

    # ------------------------------------------------------------------ the augmentation
    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Augment a batch [N, C, H, W] (differentiable w.r.t. ``images``)."""
        if not self.active or self.p <= 0.0:
            return images
        n = images.shape[0]
        dev = images.device

        def fire() -> torch.Tensor:
            return (torch.rand(n, generator=generator) < self.p).to(dev)

        x = images
        if "color" in self.ops:
            x = _brightness(x, torch.rand(n, generator=generator).to(dev), fire())
            x = _saturation(x, torch.rand(n, generator=generator).to(dev), fire())
            x = _contrast(x, torch.rand(n, generator=generator).to(dev), fire())
        if "translation" in self.ops:
            x = _translation(x, self.translation_ratio, generator, fire())
        if "cutout" in self.ops:
            x = _cutout(x, self.cutout_ratio, generator, fire())
        return x


def _where(mask: torch.Tensor, augmented: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), augmented, original)


def _brightness(x: torch.Tensor, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    shift = (u - 0.5).to(x.dtype).view(-1, 1, 1, 1)
    return _where(mask, x + shift, x)


def _saturation(x: torch.Tensor, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if x.shape[1] == 1:  # grey images have no saturation
        return x
    mean = x.mean(dim=1, keepdim=True)
    factor = (u * 2.0).to(x.dtype).view(-1, 1, 1, 1)
    return _where(mask, (x - mean) * factor + mean, x)


def _contrast(x: torch.Tensor, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    factor = (u + 0.5).to(x.dtype).view(-1, 1, 1, 1)
    return _where(mask, (x - mean) * factor + mean, x)


def _translation(
    x: torch.Tensor, ratio: float, generator: torch.Generator, mask: torch.Tensor
) -> torch.Tensor:
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1), generator=generator).to(x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1), generator=generator).to(x.device)
    ty = torch.where(mask.view(-1, 1), ty, torch.zeros_like(ty))
    tx = torch.where(mask.view(-1, 1), tx, torch.zeros_like(tx))
    # Gather from a zero-padded copy: index i+1 of the padded image is pixel i; out of range -> pad.
    gy = (torch.arange(h, device=x.device).view(1, h) + ty + 1).clamp(0, h + 1)
    gx = (torch.arange(w, device=x.device).view(1, w) + tx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # N, H+2, W+2, C
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    out = padded[batch, gy.view(n, h, 1), gx.view(n, 1, w)]  # N, H, W, C
    return out.permute(0, 3, 1, 2).contiguous(memory_format=_memory_format(x))


def _cutout(
    x: torch.Tensor, ratio: float, generator: torch.Generator, mask: torch.Tensor
) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Centre of the square, as in DiffAugment: anywhere such that the square may overhang.
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1), generator=generator).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1), generator=generator).to(x.device)
    ys = torch.arange(h, device=x.device).view(1, h)
    xs = torch.arange(w, device=x.device).view(1, w)
    in_y = (ys >= cy - ch // 2) & (ys < cy - ch // 2 + ch)
    in_x = (xs >= cx - cw // 2) & (xs < cx - cw // 2 + cw)
    hole = (in_y.view(n, h, 1) & in_x.view(n, 1, w)) & mask.view(n, 1, 1)
    return x * (~hole).unsqueeze(1).to(x.dtype)


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return torch.channels_last
    return torch.contiguous_format
