"""Image files: grids, PNGs and animated GIFs (every command that writes pictures uses these)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from latentatlas.utils.atomic import atomic_path
from latentatlas.utils.errors import ShapeError


def to_model_images(images, device=None, channels_last: bool = False):
    """NHWC uint8 [0, 255] or float [0, 1] images (array or tensor) -> float32 NCHW in [-1, 1],
    the generator / scorer convention (on ``device``; channels-last memory when asked).

    The one NHWC -> NCHW conversion; :func:`to_uint8_nhwc` is the way back.
    """
    import torch

    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(
        np.ascontiguousarray(images))
    if device is not None:
        x = x.to(device)
    x = x.float() / 127.5 - 1.0 if x.dtype == torch.uint8 else x.float() * 2.0 - 1.0
    x = x.permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last if channels_last else
                        torch.contiguous_format)


def to_uint8_nhwc(images, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Convert a batch to uint8 NHWC with 3 channels.

    Accepts torch tensors or arrays, NCHW or NHWC, 1 or 3 channels (or NHW grey), uint8, or float
    in ``value_range`` (default: [-1, 1] if any value is negative, else [0, 1]).
    """
    import torch

    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ShapeError(f"images must be a 4-D batch (or NHW), got shape {x.shape}")
    if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)
    if x.shape[-1] not in (1, 3):
        raise ShapeError(f"images must have 1 or 3 channels, got shape {x.shape}")
    if x.dtype != np.uint8:
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise ShapeError("images contain NaN or Inf")
        lo, hi = (
            value_range if value_range is not None else ((-1.0, 1.0) if x.min() < 0 else (0, 1))
        )
        x = np.clip((x - lo) / (hi - lo) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return x


def make_grid(
    images,
    nrow: int | None = None,
    padding: int = 2,
    pad_value: int = 255,
    value_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Tile a batch into one uint8 HxWx3 image with ``nrow`` images per row."""
    x = to_uint8_nhwc(images, value_range)
    n, h, w, c = x.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol_rows = int(np.ceil(n / nrow))
    grid = np.full(
        (ncol_rows * (h + padding) + padding, nrow * (w + padding) + padding, c),
        pad_value,
        np.uint8,
    )
    for i in range(n):
        r, col = divmod(i, nrow)
        y0, x0 = padding + r * (h + padding), padding + col * (w + padding)
        grid[y0 : y0 + h, x0 : x0 + w] = x[i]
    return grid


def save_image(array: np.ndarray, path: str | os.PathLike) -> Path:
    """Save a uint8 HxWx3 (or HxW) array as PNG/JPEG atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(array)).save(tmp, format=_format(path))
    return Path(path)


def save_grid(images, path: str | os.PathLike, nrow: int | None = None, **kw) -> Path:
    return save_image(make_grid(images, nrow=nrow, **kw), path)


def save_gif(
    frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 8.0, boomerang: bool = True
) -> Path:
    """Animated GIF from uint8 HxWx3 frames; ``boomerang`` plays forward then backward."""
    from PIL import Image

    frames = [np.asarray(f) for f in frames]
    if not frames:
        raise ShapeError("save_gif needs at least one frame")
    if boomerang and len(frames) > 2:
        frames = frames + frames[-2:0:-1]
    pil = [Image.fromarray(f) for f in frames]
    with atomic_path(path) as tmp:
        pil[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=pil[1:],
            duration=int(1000 / fps),
            loop=0,
        )
    return Path(path)


IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF"}


def _format(path: str | os.PathLike) -> str:
    ext = Path(path).suffix.lower()
    if ext not in IMAGE_FORMATS:
        raise ShapeError(f"{path}: an image file name must end in "
                         f"{', '.join(IMAGE_FORMATS)} (got {ext or 'no extension'!r})")
    return IMAGE_FORMATS[ext]


def check_image_values(images: np.ndarray, where: str, chunk: int = 4096) -> np.ndarray:
    """Refuse image arrays that are not what they claim: non-numeric / complex / bool dtypes,
    NaN or Inf, float values outside [0, 1] (checked chunk by chunk: memmaps stay on disk).
    Returns ``images``. Raises :class:`ShapeError` (a ValueError) naming ``where``."""
    arr = images
    kind = np.dtype(arr.dtype).kind
    if kind not in "uif":
        raise ShapeError(f"{where}: images must be uint8 or float in [0, 1], got dtype "
                         f"{arr.dtype}")
    if kind in "ui":
        return images
    n = arr.shape[0] if arr.ndim else 1
    lo, hi = np.inf, -np.inf
    for start in range(0, max(n, 1), chunk):
        part = np.asarray(arr[start:start + chunk] if arr.ndim else arr)
        if not np.isfinite(part).all():
            raise ShapeError(f"{where}: images contain NaN or Inf; clean them first")
        if part.size:
            lo, hi = min(lo, float(part.min())), max(hi, float(part.max()))
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ShapeError(f"{where}: float images must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]")
    return images


def to_8bit_image(im):
    """A PIL image with 8 bits per channel: 16-bit greys (``I;16*``, 16-bit PNGs) are scaled by
    1/257 instead of saturating; 32-bit integer greys are scaled from their 16-bit range; float
    greys must be finite and in [0, 1] (or [0, 255]). Other modes are returned as they are."""
    from PIL import Image

    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ShapeError(f"{mode} image with values outside [0, 65535]")
        scale = 257.0 if mode.startswith("I;16") or (a.size and a.max() > 255) else 1.0
        return Image.fromarray(np.round(a / scale).astype(np.uint8), "L")
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ShapeError("image contains NaN or Inf")
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ShapeError("float image with values outside [0, 1] / [0, 255]")
        if a.size and a.max() <= 1.0:
            a = a * 255.0
        return Image.fromarray(np.round(a).astype(np.uint8), "L")
    return im
