"""GAN steerability: walks that reproduce an image transformation (zoom, shift, rotate, colour).

A walk is trained so that the generated image follows a target edit of the original image::

    min_walk  E_{x, a}  masked_l2( G(walk(x, a)), edit(G(x), a), mask(a) )

where ``edit`` is a pure torch transform below and ``mask`` its validity mask (1 where the edited
image shows pixels of the original, 0 where it had to be padded).

Amounts ``a`` (every transform maps a = 0 to the identity):

===========  ==============================================================================
``shift_x``  content moves right by a half-widths (a = 0.25: a quarter of the image width / 2)
``shift_y``  content moves down by a half-heights
``zoom``     log2 of the magnification (a = 1: twice as large, centre crop; a = -1: half, padded)
``rotate``   counter-clockwise rotation on screen by 45 a degrees
``color``    a per RGB channel ([N, 3]) added to the pixels in [-1, 1] (a number: the same on all)
===========  ==============================================================================

Walks: :class:`LinearSteerWalk` (``x + a w``; one w per colour channel for ``color``) and
:class:`NonlinearSteerWalk` (an MLP step applied k = round(a / step_alpha) times, renormalised to
the code's norm after each step (in W: its distance to ``w_avg``), with a second MLP for
negative amounts). Both are walks (``walk(latent, alpha, layers=None)``) saved as model folders
and loaded by ``latentatlas.load``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentatlas.directions._trainloop import train_walk, uniform
from latentatlas.directions.base import SPACES, Directions
from latentatlas.directions.finder import DirectionFinder
from latentatlas.directions.ganalyze import renormalize, sample_codes, synth
from latentatlas.directions.walks import _as_tensor, _back, restrict_layers
from latentatlas.io.persistence import ConfigModule, register_model, save_model
from latentatlas.utils.errors import OptionError, ShapeError
from latentatlas.utils.modules import frozen


# --------------------------------------------------------------------------- transforms
def _amount(alpha: Any, n: int, device: torch.device, width: int = 1) -> torch.Tensor:
    a = torch.as_tensor(alpha, dtype=torch.float32, device=device)
    if width == 1:
        a = a.reshape(-1)
        if a.numel() not in (1, n):
            raise ShapeError(f"alpha needs 1 or {n} values, got {a.numel()}")
        return a.expand(n)
    if a.ndim <= 1 and a.numel() in (1, n):
        a = a.reshape(-1, 1).expand(n, width)
    elif a.ndim == 1 and a.numel() == width:
        a = a.reshape(1, width).expand(n, width)
    if tuple(a.shape) != (n, width):
        raise ShapeError(f"alpha needs shape [{n}, {width}], [{width}], [{n}] or one number")
    return a


def _warp(images: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``images`` at theta @ (x, y, 1) (grid coordinates, y down); black padding; mask."""
    n, ch, h, w = images.shape
    grid = F.affine_grid(theta.to(images), [n, ch, h, w], align_corners=False)
    out = F.grid_sample(images + 1.0, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False) - 1.0
    ones = torch.ones(n, 1, h, w, dtype=images.dtype, device=images.device)
    valid = F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out, (valid > 1.0 - 1e-3).to(images.dtype)


def _affine(a: torch.Tensor, m00, m01, m10, m11, tx, ty) -> torch.Tensor:
    return torch.stack([torch.stack([m00, m01, tx], -1), torch.stack([m10, m11, ty], -1)], 1)


def shift_x(images: torch.Tensor, alpha: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Content moved right by ``alpha`` half-widths; (edited images, validity mask [N,1,H,W])."""
    a = _amount(alpha, images.shape[0], images.device)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    return _warp(images, _affine(a, one, zero, zero, one, -a, zero))


def shift_y(images: torch.Tensor, alpha: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Content moved down by ``alpha`` half-heights."""
    a = _amount(alpha, images.shape[0], images.device)
    one, zero = torch.ones_like(a), torch.zeros_like(a)
    return _warp(images, _affine(a, one, zero, zero, one, zero, -a))


def zoom(images: torch.Tensor, alpha: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Content magnified by ``2 ** alpha`` about the centre (crop in, pad out)."""
    a = _amount(alpha, images.shape[0], images.device)
    inv, zero = torch.exp2(-a), torch.zeros_like(a)
    return _warp(images, _affine(a, inv, zero, zero, inv, zero, zero))


def rotate(images: torch.Tensor, alpha: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Content rotated counter-clockwise (on screen) by ``45 alpha`` degrees about the centre."""
    if images.shape[-1] != images.shape[-2]:
        raise ShapeError("rotate needs square images")
    a = _amount(alpha, images.shape[0], images.device) * (math.pi / 4)
    c, s, zero = torch.cos(a), torch.sin(a), torch.zeros_like(a)
    return _warp(images, _affine(a, c, -s, s, c, zero, zero))


def color(images: torch.Tensor, alpha: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``alpha`` ([N, 3], [3], [N] or a number) added to each RGB channel; the mask is all 1."""
    if images.shape[1] != 3:
        raise ShapeError(f"the colour transform needs RGB images; these have {images.shape[1]} "
                         "channel(s)")
    a = _amount(alpha, images.shape[0], images.device, width=3)
    mask = torch.ones_like(images[:, :1])
    return images + a[:, :, None, None].to(images), mask


#: name -> (transform, default training range alpha_max, sliders).
TRANSFORMS: dict[str, tuple[Any, float, int]] = {
    "shift_x": (shift_x, 0.5, 1),
    "shift_y": (shift_y, 0.5, 1),
    "zoom": (zoom, 1.0, 1),
    "rotate": (rotate, 1.0, 1),
    "color": (color, 0.5, 3),
}


def get_transform(name: str) -> tuple[Any, float, int]:
    if name not in TRANSFORMS:
        raise OptionError(f"unknown transform {name!r}; known: {', '.join(TRANSFORMS)}")
    return TRANSFORMS[name]


def check_transform(name: str, generator: Any) -> None:
    """A one-line error for a transform the generator's images cannot show."""
    get_transform(name)
    if name == "color" and int(getattr(generator, "img_channels", 3)) != 3:
        raise ShapeError(
            f"the colour transform needs an RGB generator; {type(generator).__name__} makes "
            f"{generator.img_channels}-channel images (use zoom, shift_x, shift_y or rotate)"
        )


def masked_l2(images: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the valid pixels (the mask broadcast over channels)."""
    m = mask.expand_as(images)
    return ((images - target) ** 2 * m).sum() / m.sum().clamp_min(1.0)


# --------------------------------------------------------------------------- walks
@register_model
class LinearSteerWalk(ConfigModule):
    """``x + a w`` (``x + a @ W`` with one row per slider: colour has 3, one per channel)."""

    config_fields = ("dim", "space", "sliders", "name")

    def __init__(self, dim: int, space: str = "z", sliders: int = 1, name: str = "walk") -> None:
        super().__init__()
        if space not in SPACES or dim < 1 or sliders < 1:
            raise ShapeError(f"need dim >= 1, sliders >= 1 and space in {SPACES}")
        self.dim, self.space, self.sliders, self.name = int(dim), space, int(sliders), str(name)
        self.w = nn.Parameter(torch.zeros(self.sliders, self.dim))

    def walk(self, latent: Any, alpha: Any, layers: Any = None) -> Any:
        x, was_numpy = _as_tensor(latent)
        if x.shape[-1] != self.dim:
            raise ShapeError(f"latent dim {x.shape[-1]} != walk dim {self.dim}")
        a = _amount(alpha, x.shape[0], x.device, width=self.sliders)
        if self.sliders == 1:
            a = a[:, None]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not was_numpy):
            offset = a @ self.w.to(x.device)
            out = x + (offset[:, None, :] if x.ndim == 3 else offset)
            out = restrict_layers(x, out, layers)
        return _back(out, was_numpy)

    forward = walk

    def save(self, folder: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
        return save_model(self, folder, metadata=metadata)


def _mlp(dim: int, hidden: int) -> nn.Sequential:
    net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
    return net


@register_model
class NonlinearSteerWalk(ConfigModule):
    """k = round(a / step_alpha) residual MLP steps ``x <- renorm(x + f(x))`` (``g`` for a < 0),
    each renormalised to the input code's norm (about ``center``: 0 in z, w_avg in W)."""

    config_fields = ("dim", "space", "hidden", "step_alpha", "name")

    def __init__(self, dim: int, space: str = "z", hidden: int = 64, step_alpha: float = 0.1,
                 name: str = "walk") -> None:
        super().__init__()
        if space not in SPACES or dim < 1 or hidden < 1 or not step_alpha > 0:
            raise ShapeError(f"need dim, hidden >= 1, step_alpha > 0 and space in {SPACES}")
        self.dim, self.space, self.hidden = int(dim), space, int(hidden)
        self.step_alpha, self.name = float(step_alpha), str(name)
        self.forward_net = _mlp(self.dim, self.hidden)
        self.reverse_net = _mlp(self.dim, self.hidden)
        self.register_buffer("center", torch.zeros(self.dim))

    def steps_of(self, alpha: Any, n: int) -> torch.Tensor:
        """The signed step counts k [N] of the amounts."""
        return torch.round(_amount(alpha, n, torch.device("cpu")) / self.step_alpha).long()

    def walk(self, latent: Any, alpha: Any, layers: Any = None) -> Any:
        x, was_numpy = _as_tensor(latent)
        if x.shape[-1] != self.dim:
            raise ShapeError(f"latent dim {x.shape[-1]} != walk dim {self.dim}")
        k = self.steps_of(alpha, x.shape[0]).to(x.device)
        view = (-1,) + (1,) * (x.ndim - 1)
        center = self.center.to(x.device)
        out = x
        with torch.set_grad_enabled(torch.is_grad_enabled() and not was_numpy):
            for i in range(int(k.abs().max()) if k.numel() else 0):
                fwd = renormalize(out + self.forward_net(out), x, center)
                rev = renormalize(out + self.reverse_net(out), x, center)
                step = torch.where((k > i).view(view), fwd, out)
                out = torch.where((k < -i).view(view), rev, step)
            out = restrict_layers(x, out, layers)
        return _back(out, was_numpy)

    forward = walk

    def save(self, folder: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
        return save_model(self, folder, metadata=metadata)


# --------------------------------------------------------------------------- the finder
class Steerability(DirectionFinder):
    """Learn a walk that reproduces ``transform`` (see the module docstring).

    Args:
        transform: zoom, shift_x, shift_y, rotate or color.
        walk: "linear" or "nonlinear".
        space: "z" or "w".
        steps, batch_size, lr: Adam budget.
        alpha_max: training range (default per transform: shift 0.5, zoom 1, rotate 1,
            colour 0.5). Linear: a ~ U(-alpha_max, alpha_max); non-linear: a = k alpha_max /
            n_steps with k uniform in -n_steps..n_steps.
        n_steps, hidden: the non-linear walk's largest step count and MLP width.
        init_scale: std of the linear walk's random init (reference 0.1).
        checkpoint, progress: resume folder; progress bar with the loss.

    Fitted: ``walk_``, ``directions_`` (the linear w rows, or the non-linear walk's mean first
    step, unit norm), ``losses_``.
    """

    fit_requires = ("generator",)

    def __init__(self, transform: str = "shift_x", walk: str = "linear", space: str = "z",
                 steps: int = 300, batch_size: int = 8, lr: float = 1e-3,
                 alpha_max: float | None = None, n_steps: int = 5, hidden: int = 64,
                 init_scale: float = 0.1, checkpoint: Any = None, progress: bool = False) -> None:
        self.transform = transform
        self.walk = walk
        self.space = space
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.alpha_max = alpha_max
        self.n_steps = n_steps
        self.hidden = hidden
        self.init_scale = init_scale
        self.checkpoint = checkpoint
        self.progress = progress

    def make_walk(self, generator: Any, seed: int) -> nn.Module:
        fn, default_max, sliders = get_transform(self.transform)
        dim = generator.latent_shape(self.space)[0]
        amax = float(self.alpha_max or default_max)
        g = torch.Generator().manual_seed(int(seed))
        if self.walk == "linear":
            walk = LinearSteerWalk(dim, self.space, sliders, name=self.transform)
            with torch.no_grad():
                walk.w.copy_(self.init_scale * torch.randn(walk.w.shape, generator=g))
            return walk
        walk = NonlinearSteerWalk(dim, self.space, self.hidden, amax / self.n_steps,
                                  name=self.transform)
        with torch.no_grad():
            for p in walk.parameters():
                p.copy_(0.01 * torch.randn(p.shape, generator=g))
            if self.space == "w":
                walk.center.copy_(generator.w_avg.detach().float().cpu().reshape(-1))
        return walk

    def fit(self, bank: Any = None, scores: Any = None, *, generator: Any = None,
            scorer: Any = None, rng: Any = None) -> Steerability:
        self._check_fit_inputs(generator=generator)
        check_transform(self.transform, generator)
        if self.walk not in ("linear", "nonlinear"):
            raise OptionError(f"walk must be 'linear' or 'nonlinear', got {self.walk!r}")
        if self.walk == "nonlinear" and self.transform == "color":
            raise OptionError("the non-linear walk takes one amount; colour needs the linear "
                              "walk (one slider per channel)")
        if self.space not in ("z", "w") or self.space not in generator.spaces:
            raise OptionError(f"space must be 'z' or 'w' (this generator has {generator.spaces})"
                              f", got {self.space!r}")
        if self.steps < 1 or self.batch_size < 1 or not self.lr > 0 or self.n_steps < 1:
            raise OptionError("steps, batch_size and n_steps must be >= 1 and lr > 0")
        fn, default_max, sliders = get_transform(self.transform)
        amax = float(self.alpha_max or default_max)
        seed = int(rng) if isinstance(rng, (int, np.integer)) else 0
        walk = self.make_walk(generator, seed).to(generator.device)
        bs = self.batch_size

        def loss_fn(gen: torch.Generator) -> torch.Tensor:
            x, c = sample_codes(generator, bs, self.space, gen)
            if self.walk == "linear":
                shape = (bs, sliders) if sliders > 1 else (bs,)
                a = uniform(gen, shape, -amax, amax)
            else:
                a = torch.randint(-self.n_steps, self.n_steps + 1, (bs,), generator=gen) \
                    * (amax / self.n_steps)
            with torch.no_grad():
                target, mask = fn(synth(generator, x, self.space, c), a)
            out = synth(generator, walk.walk(x, a.to(x.device)), self.space, c)
            return masked_l2(out, target, mask)

        with frozen(generator):
            self.losses_ = train_walk(walk, loss_fn, steps=self.steps, lr=self.lr, seed=seed,
                                      checkpoint=self.checkpoint,
                                      progress=self.progress,
                                      desc=f"steer {self.transform} ({self.walk})")
        walk.eval()
        self.walk_ = walk
        self.directions_ = self._directions(generator, walk, amax, seed)
        return self

    def _directions(self, generator: Any, walk: nn.Module, amax: float, seed: int) -> Directions:
        if isinstance(walk, LinearSteerWalk):
            vec = walk.w.detach().cpu().numpy()
            names = ([f"color_{ch}" for ch in "rgb"] if walk.sliders == 3
                     else [self.transform])
        else:
            g = torch.Generator().manual_seed(seed + 1)
            x, _ = sample_codes(generator, 64, self.space, g)
            with torch.no_grad():
                vec = (walk.walk(x, walk.step_alpha) - x).mean(0, keepdim=True).cpu().numpy()
            names = [self.transform]
        ok = bool(np.linalg.norm(vec, axis=1).min() > 0)
        return Directions(vec, self.space, names=names, method=f"steer_{self.walk}",
                          normalize=ok, metadata={"alpha_max": amax})


__all__ = [
    "TRANSFORMS",
    "LinearSteerWalk",
    "NonlinearSteerWalk",
    "Steerability",
    "check_transform",
    "color",
    "masked_l2",
    "rotate",
    "shift_x",
    "shift_y",
    "zoom",
]
