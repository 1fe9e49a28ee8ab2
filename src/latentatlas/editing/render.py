"""Render edited codes through a Generator into image grids (rows = codes, columns = steps) and
animated GIFs, via :mod:`latentatlas.io.images`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentatlas.io.images import make_grid, save_gif, save_image, to_uint8_nhwc
from latentatlas.utils.errors import ShapeError


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
    **synth_kwargs: Any,
) -> np.ndarray:
    """uint8 grid image of edited codes [N, S, ...]: row i = code i, column j = step j.

    Written atomically to ``path`` (PNG/JPEG by extension) when given.
    """
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
    **synth_kwargs: Any,
) -> Path:
    """Animated GIF of edited codes [N, S, ...]: frame j shows every code at step j side by side."""
    images = _render_steps(generator, codes, space, batch_size, **synth_kwargs)
    n, s = images.shape[:2]
    frames = [make_grid(images[:, j], nrow=n, padding=padding) for j in range(s)]
    return save_gif(frames, path, fps=fps, boomerang=boomerang)


__all__ = [
    "render_edit_gif",
    "render_edit_grid",
    "to_uint8_nhwc",
]
