"""Walks: the protocol every latent edit follows, the linear walk and a non-linear reference walk.

A *walk* moves latent codes of one space by an amount ``alpha``::

    walk.walk(latent, alpha, layers=None) -> latent      # same shape and type as ``latent``

- ``latent``: codes of the walk's ``space``: [N, d] (z / w) or [N, L, d] (W+), numpy or torch.
- ``alpha``: a number, or one number per code ([N]). ``alpha = 0`` returns the codes unchanged.
- ``layers``: None for the walk's own default, else a W+ layer selection (an int, ints, a range
  or a HiGAN string like ``"2-5"``): only those layers move, the others come back unchanged.

:class:`~latentatlas.directions.Directions` is the linear walk (``x + alpha n`` along one
direction, see :func:`linear_walk`); :class:`NonlinearWalk` is a small learned vector field, the
reference implementation of a non-linear walk (GAN steerability's non-linear walk) and of a walk
saved as a model folder (config.json + model.safetensors, loaded by ``latentatlas.load``).
Editing, grids, GIFs and HiGAN re-scoring accept any object with this method and a ``space``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from latentatlas.directions.base import SPACES, Directions, Key, parse_layers
from latentatlas.io.persistence import ConfigModule, register_model, save_model
from latentatlas.utils.errors import ShapeError


@runtime_checkable
class Walk(Protocol):
    """Anything that moves latent codes of ``space`` by an amount (see the module docstring)."""

    space: str

    def walk(self, latent: Any, alpha: Any, layers: Any = None) -> Any:
        """Codes moved by ``alpha`` (a number or one per code), same shape and type."""
        ...


def is_walk(obj: Any) -> bool:
    """True for an object following the :class:`Walk` protocol (Directions included)."""
    return callable(getattr(obj, "walk", None)) and isinstance(getattr(obj, "space", None), str)


def as_walk(obj: Any, key: Key | None = None) -> Any:
    """A single walk from a walk, or from a Directions and the ``key`` of one of its directions."""
    if isinstance(obj, Directions):
        if key is None:
            if len(obj) != 1:
                raise ShapeError(
                    f"{len(obj)} directions ({obj.names[:4]}...): pick one with key= or "
                    "directions[name]"
                )
            return obj
        return obj[key]
    if not is_walk(obj):
        raise TypeError(
            f"{type(obj).__name__} is not a walk: it needs a walk(latent, alpha, layers) method "
            "and a space attribute"
        )
    if key is not None:
        raise ShapeError(f"key={key!r} applies to Directions only, not to {type(obj).__name__}")
    return obj


# --------------------------------------------------------------------------- tensors
def _as_tensor(latents: Any, what: str = "latents") -> tuple[torch.Tensor, bool]:
    """(float32 tensor, came_from_numpy); torch inputs keep their device and autograd graph."""
    if isinstance(latents, torch.Tensor):
        t, was_numpy = latents.float(), False
    else:
        t, was_numpy = torch.as_tensor(np.asarray(latents, dtype=np.float32)), True
    if t.ndim not in (2, 3):
        raise ShapeError(f"{what} must have shape [N, d] or [N, L, d], got {list(t.shape)}")
    if not torch.isfinite(t.detach()).all():
        raise ShapeError(f"{what} contain NaN or Inf")
    return t, was_numpy


def _back(t: torch.Tensor, was_numpy: bool) -> Any:
    return t.detach().cpu().numpy() if was_numpy else t


def _alpha(alpha: Any, n: int) -> torch.Tensor:
    """alpha as float32 [1] or [N]."""
    a = alpha if isinstance(alpha, torch.Tensor) else np.asarray(alpha, dtype=np.float32)
    a = torch.as_tensor(a, dtype=torch.float32).reshape(-1)
    if a.numel() not in (1, n):
        raise ShapeError(f"alpha needs 1 or {n} values, got {a.numel()}")
    if not torch.isfinite(a).all():
        raise ShapeError("alpha contains NaN or Inf")
    return a


def layer_mask(num_layers: int, layers: Any) -> torch.Tensor:
    """float32 [L]: 1 on the selected W+ layers (None: all), 0 elsewhere."""
    sel = parse_layers(layers, num_layers)
    mask = torch.zeros(num_layers)
    mask[list(range(num_layers)) if sel is None else list(sel)] = 1.0
    return mask


def restrict_layers(latent: Any, moved: Any, layers: Any) -> Any:
    """``moved`` on the selected W+ layers, ``latent`` elsewhere (bit-identical copies).

    For walks whose own move touches every layer: a layer selection is applied by keeping the
    unselected layers of the input. ``layers=None`` returns ``moved``; [N, d] codes need None.
    """
    if layers is None:
        return moved
    if moved.ndim != 3:
        raise ShapeError("a layer selection applies to W+ codes [N, L, d] only")
    sel = parse_layers(layers, moved.shape[1])
    if sel is None:
        return moved
    keep = [i for i in range(moved.shape[1]) if i not in sel]
    out = moved.clone() if isinstance(moved, torch.Tensor) else moved.copy()
    out[:, keep] = latent[:, keep]
    return out


# --------------------------------------------------------------------------- the linear walk
def layer_offsets(
    directions: Directions,
    key: Key,
    code_shape: Any,
    layers: Any = "default",
    layer_strength: Any = None,
) -> torch.Tensor:
    """The per-unit-step offset added to codes of shape ``code_shape`` ([d] or [L, d]).

    For [L, d] codes: layer l gets ``s_l * n_l`` on the selected layers and 0 elsewhere, where
    n_l is the direction's layer-l vector (or its single vector for [K, d] directions).
    ``layers="default"`` uses the direction's own layer selection; None means all layers.
    """
    vec = torch.from_numpy(directions.vector(key).astype(np.float32))
    code_shape = tuple(int(v) for v in code_shape)
    if vec.shape[-1] != code_shape[-1]:
        raise ShapeError(f"direction dim {vec.shape[-1]} != code dim {code_shape[-1]}")
    if len(code_shape) == 1:
        if vec.ndim != 1:
            raise ShapeError("per-layer directions need W+ codes [N, L, d]")
        if layer_strength is not None or (layers not in ("default", None)):
            raise ShapeError("layers / layer_strength apply to W+ codes [N, L, d] only")
        return vec
    num_layers = code_shape[0]
    if vec.ndim == 2 and vec.shape[0] != num_layers:
        raise ShapeError(f"direction has {vec.shape[0]} layers, codes have {num_layers}")
    sel = directions.layers_of(key) if isinstance(layers, str) and layers == "default" else layers
    mask = layer_mask(num_layers, sel)
    if layer_strength is not None:
        strength = torch.as_tensor(np.asarray(layer_strength, dtype=np.float32)).reshape(-1)
        if strength.numel() == 1:
            strength = strength.expand(num_layers)
        if strength.numel() != num_layers:
            raise ShapeError(f"layer_strength needs {num_layers} values, got {strength.numel()}")
        mask = mask * strength
    full = vec.expand(num_layers, -1) if vec.ndim == 1 else vec
    return full * mask[:, None]


def linear_walk(
    directions: Directions, latent: Any, alpha: Any, layers: Any = None, key: Key | None = None
) -> Any:
    """``x + alpha n`` along one direction (``Directions.walk``): the offset edit of
    :func:`latentatlas.editing.move`, bit for bit. ``layers=None``: the direction's own layer
    selection; ``key`` may be left out when there is one direction."""
    if key is None:
        as_walk(directions)  # one direction, or a clear error
        key = 0
    x, was_numpy = _as_tensor(latent)
    x = x.detach()
    a = _alpha(alpha, x.shape[0])
    offset = layer_offsets(directions, key, x.shape[1:], "default" if layers is None else layers)
    out = x + a.view((-1,) + (1,) * (x.ndim - 1)) * offset.to(x.device)
    return _back(out, was_numpy)


def walk_steps(walk: Any, latent: Any, alphas: Any, layers: Any = None) -> Any:
    """[N, S, *code_shape]: the codes walked by each of the S values in ``alphas``."""
    steps = np.asarray(alphas, dtype=np.float32).reshape(-1)
    if steps.size == 0 or not np.isfinite(steps).all():
        raise ShapeError("alphas must be a non-empty sequence of finite numbers")
    moved = [walk.walk(latent, float(a), layers) for a in steps]
    if isinstance(moved[0], torch.Tensor):
        return torch.stack(moved, dim=1)
    return np.stack([np.asarray(m) for m in moved], axis=1)


# --------------------------------------------------------------------------- a non-linear walk
@register_model
class NonlinearWalk(ConfigModule):
    """A learned non-linear walk: Euler steps along an MLP vector field f (GAN steerability).

    ``walk(x, alpha)`` takes ``k = max(1, ceil(|alpha| / step_size))`` steps
    ``x <- x + (alpha / k) f(x)`` (k per code), so small amounts are one step of ``alpha f(x)``
    and a constant field f = n gives the linear walk ``x + alpha n``. W+ codes [N, L, d] move
    each layer's code through f; ``layers`` restricts the move to a layer selection (default:
    every layer).
    Torch inputs keep their autograd graph (a trainer can learn f through the walk); numpy
    inputs come back as numpy. Saved as a model folder (:meth:`save`), loaded by
    ``latentatlas.load``.

    Args:
        dim: latent dimension d.
        space: the latent space the walk moves (``"z"``, ``"w"`` or ``"wp"``).
        hidden: width of the hidden layers.
        depth: number of hidden layers (0: an affine field ``A x + b``).
        step_size: the largest |alpha| covered by one Euler step.
        name: the walk's name (e.g. the attribute it controls).
    """

    config_fields = ("dim", "space", "hidden", "depth", "step_size", "name")

    def __init__(
        self,
        dim: int,
        space: str = "w",
        hidden: int = 64,
        depth: int = 1,
        step_size: float = 0.5,
        name: str = "walk",
    ) -> None:
        super().__init__()
        if space not in SPACES:
            raise ShapeError(f"space must be one of {SPACES}, got {space!r}")
        if dim < 1 or hidden < 1 or depth < 0 or not step_size > 0:
            raise ShapeError("dim and hidden must be >= 1, depth >= 0 and step_size > 0")
        self.dim, self.space, self.name = int(dim), space, str(name)
        self.step_size = float(step_size)
        layers: list[nn.Module] = []
        width = dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.Tanh()]
            width = hidden
        layers.append(nn.Linear(width, dim))
        self.field = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor, alpha: Any, layers: Any = None) -> torch.Tensor:
        return self.walk(latent, alpha, layers)

    def walk(self, latent: Any, alpha: Any, layers: Any = None) -> Any:
        """Codes moved by ``alpha`` (a number or one per code) along the field."""
        x, was_numpy = _as_tensor(latent)
        if x.shape[-1] != self.dim:
            raise ShapeError(f"latent dim {x.shape[-1]} != walk dim {self.dim}")
        if layers is not None and x.ndim != 3:
            raise ShapeError("a layer selection applies to W+ codes [N, L, d] only")
        a = _alpha(alpha, x.shape[0]).expand(x.shape[0])
        # Each code takes its own number of steps (so its result does not depend on the other
        # codes' alphas); a finished code adds 0 * f(x), which leaves it bit-identical.
        steps = torch.clamp(torch.ceil(a.abs() / self.step_size - 1e-6), min=1.0)
        device = next(self.parameters()).device
        view = (-1,) + (1,) * (x.ndim - 1)
        h = (a / steps).to(device).view(view)
        steps = steps.to(device).view(view)
        out = x.to(device)
        with torch.set_grad_enabled(torch.is_grad_enabled() and not was_numpy):
            for i in range(int(steps.max())):
                out = out + torch.where(steps > i, h, torch.zeros_like(h)) * self.field(out)
        out = restrict_layers(x.to(device), out, layers).to(x.device)
        return _back(out, was_numpy)

    def save(self, folder: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
        """Write the model folder (config.json + model.safetensors)."""
        return save_model(self, folder, metadata=metadata)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, space={self.space!r}, step_size={self.step_size}"


__all__ = [
    "NonlinearWalk",
    "Walk",
    "as_walk",
    "is_walk",
    "layer_mask",
    "layer_offsets",
    "linear_walk",
    "restrict_layers",
    "walk_steps",
]
