"""Edits of latent codes along :class:`~latentatlas.directions.Directions` (no generator needed).

Codes are numpy arrays or torch tensors, [N, d] (z / w) or [N, L, d] (W+); results come back in
the same type (float32). Modes:

- ``interpolate(..., mode="distance")``: InterFaceGAN's linear interpolation. For [N, d] codes the
  values are signed distances to the hyperplane ``n . x + b = 0`` (b = the direction's intercept,
  0 when it has none): ``x' = x + (t - (n . x + b)) n``, so ``n . x' + b = t`` exactly.
  For W+ codes the values are plain offsets (as in InterFaceGAN and HiGAN).
- ``mode="offset"``: ``x' = x + t n`` for any codes.
- Layer-selective W+ edits (HiGAN): only the selected layers move, layer l by ``t * s_l * n_l``,
  with ``s_l = psi`` below the truncation cutoff and 1 elsewhere (:func:`truncation_strengths`),
  which compensates for the truncation trick shrinking those layers' codes.
- :func:`joint_edit`: several directions at once with per-direction strengths.
- :func:`jitter`: move along a direction while adding seeded noise to, or re-sampling, a layer
  group (HiGAN's jittering).
- :func:`style_mix`: copy a layer range from other codes.

:func:`move`, :func:`interpolate` and :func:`jitter` also accept any walk (an object with
``walk(latent, alpha, layers)`` and ``space``, see :mod:`latentatlas.directions.walks`) in place
of a Directions: non-linear walks, class-dependent directions and controllers edit the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from latentatlas.directions.base import Directions, Key, parse_layers
from latentatlas.directions.walks import as_walk, layer_offsets, walk_steps
from latentatlas.utils.errors import ShapeError
from latentatlas.utils.rng import check_rng


def _as_tensor(latents: Any, what: str = "latents") -> tuple[torch.Tensor, bool]:
    """(float32 tensor, came_from_numpy)."""
    if isinstance(latents, torch.Tensor):
        t, was_numpy = latents.detach().float(), False
    else:
        t, was_numpy = torch.as_tensor(np.asarray(latents, dtype=np.float32)), True
    if t.ndim not in (2, 3):
        raise ShapeError(f"{what} must have shape [N, d] or [N, L, d], got {list(t.shape)}")
    if not torch.isfinite(t).all():
        raise ShapeError(f"{what} contain NaN or Inf")
    return t, was_numpy


def _back(t: torch.Tensor, was_numpy: bool) -> Any:
    return t.cpu().numpy() if was_numpy else t


def _other_walk(
    directions: Any, key: Any, layers: Any, layer_strength: Any, truncation_psi: float
) -> tuple[Any, Any] | None:
    """(walk, layers) when ``directions`` is a walk other than a Directions, else None.

    Such a walk is called as ``walk.walk(latent, alpha, layers)``: the values are its own
    amounts, ``layers="default"`` becomes None (the walk's default), and the Directions-only
    options (another ``key``, ``layer_strength``, truncation compensation) are refused."""
    if isinstance(directions, Directions):
        return None
    walk = as_walk(directions)
    if key not in (0, None):
        raise ShapeError(f"key={key!r} applies to Directions only, not to {type(walk).__name__}")
    if layer_strength is not None or truncation_psi != 1.0:
        raise ShapeError(
            "layer_strength / truncation compensation apply to Directions only; a walk moves "
            "layers its own way"
        )
    return walk, None if isinstance(layers, str) and layers == "default" else layers


def truncation_strengths(
    num_layers: int, psi: float = 1.0, cutoff: int | None = None
) -> np.ndarray:
    """HiGAN's layer-wise manipulation strengths: ``psi`` on layers [0, cutoff) (all layers when
    cutoff is None), 1 elsewhere."""
    if num_layers < 1:
        raise ShapeError(f"num_layers must be >= 1, got {num_layers}")
    s = np.ones(num_layers)
    stop = num_layers if cutoff is None else max(0, min(int(cutoff), num_layers))
    s[:stop] = psi
    return s


def _strength_arg(
    num_layers: int | None,
    layer_strength: Any,
    truncation_psi: float,
    truncation_cutoff: int | None,
) -> Any:
    if layer_strength is not None or truncation_psi == 1.0:
        return layer_strength
    if num_layers is None:
        return None  # truncation compensation concerns W+ layers only
    return truncation_strengths(num_layers, truncation_psi, truncation_cutoff)


def interpolate(
    latents: Any,
    directions: Directions,
    distances: Sequence[float] | np.ndarray,
    key: Key = 0,
    mode: str = "distance",
    layers: Any = "default",
    layer_strength: Any = None,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
) -> Any:
    """Codes moved along one direction: [N, S, *code_shape] for S values in ``distances``.

    ``mode="distance"``: for [N, d] codes, values are signed distances to the hyperplane
    (``n . x' + b = t``); for W+ codes they are offsets. ``mode="offset"``: ``x + t n``.
    W+ edits move the selected layers only (``layers``; default: the direction's own selection),
    scaled per layer by ``layer_strength`` or by the truncation compensation
    ``truncation_strengths(L, truncation_psi, truncation_cutoff)``.

    ``directions`` may also be any walk (:class:`~latentatlas.directions.walks.Walk`): then the
    values are the walk's amounts, ``walk.walk(latents, t, layers)`` for each (``mode`` does
    not apply).
    """
    other = _other_walk(directions, key, layers, layer_strength, truncation_psi)
    if other is not None:
        if mode not in ("distance", "offset"):
            raise ShapeError(f"mode must be 'distance' or 'offset', got {mode!r}")
        with torch.no_grad():  # edits never track gradients (codes are detached, as below)
            return walk_steps(other[0], latents, distances, other[1])
    x, was_numpy = _as_tensor(latents)
    steps = torch.as_tensor(np.asarray(distances, dtype=np.float32)).reshape(-1)
    if steps.numel() == 0 or not torch.isfinite(steps).all():
        raise ShapeError("distances must be a non-empty sequence of finite numbers")
    if mode not in ("distance", "offset"):
        raise ShapeError(f"mode must be 'distance' or 'offset', got {mode!r}")
    num_layers = x.shape[1] if x.ndim == 3 else None
    strength = _strength_arg(num_layers, layer_strength, truncation_psi, truncation_cutoff)
    offset = layer_offsets(directions, key, x.shape[1:], layers, strength)
    view = (1, -1) + (1,) * (x.ndim - 1)
    moved = x.unsqueeze(1) + steps.view(view) * offset
    if x.ndim == 2 and mode == "distance":
        # Move along the unit normal until the signed distance n.x + b equals each target.
        b = directions.intercept(key) or 0.0
        current = (x.double() @ offset.double() + b).float()
        moved = moved - current.view(-1, 1, 1) * offset
    return _back(moved, was_numpy)


def move(
    latents: Any,
    directions: Directions,
    amount: float | Sequence[float] | np.ndarray,
    key: Key = 0,
    layers: Any = "default",
    layer_strength: Any = None,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
) -> Any:
    """One offset edit ``x + a n`` (a scalar, or one value per code), same shape as the codes.

    ``directions`` may also be any walk: then this is ``walk.walk(latents, amount, layers)``
    (equal, for a Directions, to ``directions.walk(latents, amount, layers, key)``)."""
    other = _other_walk(directions, key, layers, layer_strength, truncation_psi)
    if other is not None:
        with torch.no_grad():
            return other[0].walk(latents, amount, other[1])
    x, was_numpy = _as_tensor(latents)
    a = torch.as_tensor(np.asarray(amount, dtype=np.float32)).reshape(-1)
    if a.numel() not in (1, x.shape[0]):
        raise ShapeError(f"amount needs 1 or {x.shape[0]} values, got {a.numel()}")
    num_layers = x.shape[1] if x.ndim == 3 else None
    strength = _strength_arg(num_layers, layer_strength, truncation_psi, truncation_cutoff)
    offset = layer_offsets(directions, key, x.shape[1:], layers, strength)
    out = x + a.view((-1,) + (1,) * (x.ndim - 1)) * offset
    return _back(out, was_numpy)


def joint_edit(
    latents: Any,
    directions: Directions,
    strengths: Mapping[str, float] | Sequence[float],
    steps: Sequence[float] | np.ndarray | None = None,
    layer_strength: Any = None,
) -> Any:
    """Several directions at once: ``x + t * sum_k a_k n_k`` (each on its own layer selection).

    ``strengths``: {name: a_k} or one value per direction. Without ``steps`` returns the edited
    codes (t = 1, same shape as the input); with ``steps`` returns [N, S, *code_shape].
    """
    x, was_numpy = _as_tensor(latents)
    if isinstance(strengths, Mapping):
        items = [(directions.index(k), float(v)) for k, v in strengths.items()]
    else:
        vals = list(strengths)
        if len(vals) != len(directions):
            raise ShapeError(f"got {len(vals)} strengths for {len(directions)} directions")
        items = [(i, float(v)) for i, v in enumerate(vals)]
    total = torch.zeros(x.shape[1:])
    for i, a in items:
        total = total + a * layer_offsets(directions, i, x.shape[1:], "default", layer_strength)
    if steps is None:
        return _back(x + total, was_numpy)
    t = torch.as_tensor(np.asarray(steps, dtype=np.float32)).reshape(-1)
    out = x.unsqueeze(1) + t.view((1, -1) + (1,) * (x.ndim - 1)) * total
    return _back(out, was_numpy)


def style_mix(latents: Any, source: Any, layers: Any) -> Any:
    """W+ codes [N, L, d] with ``layers`` copied from ``source`` ([N, L, d], [1, L, d], or W
    codes [N, d] / [1, d] broadcast to every layer)."""
    x, was_numpy = _as_tensor(latents)
    if x.ndim != 3:
        raise ShapeError(f"style mixing needs W+ codes [N, L, d], got {list(x.shape)}")
    src, _ = _as_tensor(source, "source")
    if src.ndim == 2:
        src = src.unsqueeze(1).expand(-1, x.shape[1], -1)
    if src.shape[1:] != x.shape[1:] or src.shape[0] not in (1, x.shape[0]):
        raise ShapeError(f"source shape {list(src.shape)} does not fit codes {list(x.shape)}")
    sel = parse_layers(layers, x.shape[1])
    out = x.clone()
    idx = list(range(x.shape[1])) if sel is None else list(sel)
    out[:, idx] = src.expand(x.shape[0], -1, -1)[:, idx]
    return _back(out, was_numpy)


def jitter(
    latents: Any,
    directions: Directions,
    distances: Sequence[float] | np.ndarray,
    key: Key = 0,
    rng: np.random.Generator | int | None = None,
    noise_std: float = 0.0,
    noise_layers: Any = None,
    resample_codes: Any = None,
    resample_layers: Any = None,
    mode: str = "distance",
    layers: Any = "default",
) -> Any:
    """Interpolate along a direction while jittering a layer group (HiGAN), seeded.

    At each step and for each code: Gaussian noise of std ``noise_std`` is added on
    ``noise_layers`` (None = all), and/or ``resample_layers`` are replaced by those of a code
    drawn at random from ``resample_codes`` ([M, L, d]). Returns [N, S, *code_shape].
    """
    moved, was_numpy = _as_tensor(latents)
    moved = interpolate(moved, directions, distances, key, mode=mode, layers=layers)
    gen = check_rng(rng)
    n, s = moved.shape[:2]
    if noise_std < 0:
        raise ShapeError(f"noise_std must be >= 0, got {noise_std}")
    if noise_std > 0:
        noise = torch.from_numpy(gen.standard_normal(moved.shape).astype(np.float32)) * noise_std
        if moved.ndim == 4 and noise_layers is not None:
            mask = torch.zeros(moved.shape[2])
            mask[list(parse_layers(noise_layers, moved.shape[2]) or [])] = 1.0
            noise = noise * mask[:, None]
        moved = moved + noise
    if resample_codes is not None:
        if moved.ndim != 4:
            raise ShapeError("re-sampling layers needs W+ codes [N, L, d]")
        pool, _ = _as_tensor(resample_codes, "resample_codes")
        if pool.ndim != 3 or pool.shape[1:] != moved.shape[2:]:
            raise ShapeError(
                f"resample_codes must be [M, {list(moved.shape[2:])}], got {list(pool.shape)}"
            )
        sel = parse_layers(resample_layers, moved.shape[2])
        idx = list(range(moved.shape[2])) if sel is None else list(sel)
        pick = torch.from_numpy(gen.integers(0, pool.shape[0], size=(n, s)))
        moved[:, :, idx] = pool[pick][:, :, idx]
    return _back(moved, was_numpy)
