"""Render edited codes through a Generator into image grids (rows = codes, columns = steps) and
animated GIFs, via :mod:`latentatlas.io.images`. Codes come already edited ([N, S, ...]) or as
unedited codes plus any walk and its amounts (``walk=``, ``alphas=``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.directions.walks import as_walk, walk_steps
from latentatlas.io.images import make_grid, save_gif, save_image, to_uint8_nhwc
from latentatlas.utils.errors import ShapeError


def _walked(codes: Any, walk: Any, alphas: Any, layers: Any) -> Any:
    """``codes`` as given, or [N, S, ...] = ``codes`` [N, ...] walked by each of ``alphas``."""
    if walk is None:
        if alphas is not None or layers is not None:
            raise ShapeError("alphas= / layers= need walk=")
        return codes
    if alphas is None:
        raise ShapeError("walk= needs alphas= (the amounts, one grid column each)")
    with torch.no_grad():
        return walk_steps(as_walk(walk), codes, alphas, layers)


def _render_steps(
    generator: Any, codes: Any, space: str, batch_size: int, **kw: Any
) -> torch.Tensor:
    lat = codes if isinstance(codes, torch.Tensor) else torch.as_tensor(np.asarray(codes))
    if lat.ndim < 3:
        raise ShapeError(f"edit codes must be [N, S, *code_shape], got {list(lat.shape)}")
    n, s = lat.shape[:2]
    flat = lat.reshape(n * s, *lat.shape[2:])
    images = generator.synthesize_batched(flat, space, batch_size=batch_size, **kw)
    return images.reshape(n, s, *images.shape[1:])


def render_edit_grid(
    generator: Any,
    codes: Any,
    space: str,
    path: str | os.PathLike | None = None,
    batch_size: int = 32,
    padding: int = 2,
    *,
    walk: Any = None,
    alphas: Any = None,
    layers: Any = None,
    **synth_kwargs: Any,
) -> np.ndarray:
    """uint8 grid image of edited codes [N, S, ...]: row i = code i, column j = step j.

    With ``walk`` (any :class:`~latentatlas.directions.walks.Walk`: a one-direction Directions,
    a non-linear walk, ...), ``codes`` are the unedited codes [N, ...] and column j shows
    ``walk.walk(codes, alphas[j], layers)``. Written atomically to ``path`` (PNG/JPEG by
    extension) when given.
    """
    codes = _walked(codes, walk, alphas, layers)
    images = _render_steps(generator, codes, space, batch_size, **synth_kwargs)
    n, s = images.shape[:2]
    grid = make_grid(images.reshape(n * s, *images.shape[2:]), nrow=s, padding=padding)
    if path is not None:
        save_image(grid, path)
    return grid


def render_edit_gif(
    generator: Any,
    codes: Any,
    space: str,
    path: str | os.PathLike,
    fps: float = 8.0,
    boomerang: bool = True,
    batch_size: int = 32,
    padding: int = 2,
    *,
    walk: Any = None,
    alphas: Any = None,
    layers: Any = None,
    **synth_kwargs: Any,
) -> Path:
    """Animated GIF of edited codes [N, S, ...]: frame j shows every code at step j side by side.

    With ``walk``, ``codes`` are unedited [N, ...] and frame j is the walk by ``alphas[j]``
    (as in :func:`render_edit_grid`)."""
    codes = _walked(codes, walk, alphas, layers)
    images = _render_steps(generator, codes, space, batch_size, **synth_kwargs)
    n, s = images.shape[:2]
    frames = [make_grid(images[:, j], nrow=n, padding=padding) for j in range(s)]
    return save_gif(frames, path, fps=fps, boomerang=boomerang)


__all__ = [
    "render_edit_gif",
    "render_edit_grid",
    "to_uint8_nhwc",
]
