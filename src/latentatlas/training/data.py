"""Training image sources whose batch k depends only on (seed, k).

That property is what makes resumed runs bit-identical to uninterrupted ones and lets every
data-parallel rank agree on the global batch without communication: a source needs no state beyond
its seed, and the step counter in the checkpoint is the whole sampler state.

- :class:`ArraySource`: an in-memory uint8 (or float [0, 1]) NHWC array; batches walk through
  a fresh permutation every epoch (epoch e's permutation is drawn from (seed, e)).
- :class:`GroundTruthSource`: fresh samples of a procedural :class:`GroundTruthData` set, drawn
  from (seed, step, slice start).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from latentatlas.utils.errors import DataError


class ImageSource:
    """Base class: ``batch(step, start, stop, global_batch)`` -> NHWC array of images
    ``start:stop`` of global batch ``step`` (uint8, or float32 in [0, 1])."""

    resolution: int
    channels: int
    name: str = "images"

    def batch(self, step: int, start: int, stop: int, global_batch: int) -> np.ndarray:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


def _check_images(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise DataError(f"{name}: images must be an NHWC array (or NHW grey), got {images.shape}")
    if images.shape[0] == 0:
        raise DataError(f"{name}: the data set is empty (0 images)")
    if images.shape[-1] not in (1, 3):
        raise DataError(
            f"{name}: images must have 1 (grey) or 3 (RGB) channels in the last axis, got shape "
            f"{images.shape}; convert RGBA / other layouts first"
        )
    if images.shape[1] != images.shape[2]:
        raise DataError(f"{name}: images must be square, got {images.shape[1]}x{images.shape[2]}")
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise DataError(f"{name}: images must be uint8 or float in [0, 1], got {images.dtype}")
        if not np.isfinite(images).all():
            raise DataError(f"{name}: images contain NaN or Inf")
        lo, hi = float(images.min()), float(images.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise DataError(f"{name}: float images must lie in [0, 1], got [{lo:.3g}, {hi:.3g}]")
        images = images.astype(np.float32, copy=False)
    return images


class ArraySource(ImageSource):
    """Images held in memory; an epoch-wise permutation seeded by (seed, epoch)."""

    def __init__(self, images: np.ndarray, seed: int = 0, name: str = "images") -> None:
        self.images = _check_images(images, name)
        self.seed = int(seed)
        self.name = name
        self.resolution = int(self.images.shape[1])
        self.channels = int(self.images.shape[-1])
        self._perm_cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def _permutation(self, epoch: int) -> np.ndarray:
        perm = self._perm_cache.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch]).permutation(len(self))
            self._perm_cache = {epoch: perm}  # keep one: epochs are visited in order
        return perm

    def indices(self, step: int, global_batch: int) -> np.ndarray:
        """Data indices of global batch ``step``."""
        n = len(self)
        flat = np.arange(step * global_batch, (step + 1) * global_batch, dtype=np.int64)
        epochs, pos = flat // n, flat % n
        out = np.empty_like(flat)
        for e in np.unique(epochs):
            sel = epochs == e
            out[sel] = self._permutation(int(e))[pos[sel]]
        return out

    def batch(self, step: int, start: int, stop: int, global_batch: int) -> np.ndarray:
        return self.images[self.indices(step, global_batch)[start:stop]]


class GroundTruthSource(ImageSource):
    """Fresh random observations of a procedural ground-truth data set (factors uniform)."""

    def __init__(self, data, seed: int = 0) -> None:
        self.data = data
        self.seed = int(seed)
        self.name = getattr(data, "name", type(data).__name__)
        h, w, c = data.observation_shape
        if h != w:
            raise DataError(f"{self.name}: observations must be square, got {h}x{w}")
        if c not in (1, 3):
            raise DataError(f"{self.name}: observations must have 1 or 3 channels, got {c}")
        self.resolution, self.channels = int(h), int(c)

    def __len__(self) -> int:
        return int(self.data.num_observations)

    def batch(self, step: int, start: int, stop: int, global_batch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, step, start])
        factors = self.data.sample_factors(stop - start, rng)
        return _check_images(self.data.sample_observations_from_factors(factors, rng), self.name)


def resize_images(images: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 NHWC images resized to ``resolution`` (28 -> 32 pads with zeros, as for MNIST;
    other sizes: antialiased bilinear)."""
    n, h, w, c = images.shape
    if h == w == resolution:
        return images
    if h == w and resolution > h and (resolution - h) % 2 == 0 and resolution - h <= 8:
        pad = (resolution - h) // 2  # small borders: pad, do not blur (MNIST 28 -> 32)
        return np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    import torch

    out = np.empty((n, resolution, resolution, c), np.uint8)
    for start in range(0, n, 1024):
        t = torch.from_numpy(images[start:start + 1024]).permute(0, 3, 1, 2).float()
        t = torch.nn.functional.interpolate(t, size=(resolution, resolution), mode="bilinear",
                                            align_corners=False, antialias=resolution < h)
        out[start:start + 1024] = t.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return out


def resolve_training_data(
    spec: str, resolution: int, seed: int = 0, max_images: int | None = None,
    root: str | os.PathLike | None = None, factor_ranges: dict[str, tuple[int, int]] | None = None,
) -> ImageSource:
    """A training source for ``--data``: a data set name or a user's image folder / ``.npz``.

    Names and paths are resolved by the one registry (:func:`latentatlas.data.load_data`).
    Procedural sets (dsprites, shapes3d, ...) give fresh samples every batch at 64 px; real sets
    by name are loaded at ``resolution`` where their loader resizes (celeba: cropped faces), else
    resized here (mnist: 28 -> 32 zero-padded); a folder or npz: every image centre-cropped
    square and resized to ``resolution``. ``root`` overrides a named set's location.
    ``factor_ranges`` (procedural sets only) draws the named factors from sub-ranges of class
    indices (:class:`~latentatlas.data.base.RestrictedFactors`).
    """
    from latentatlas.data.base import GroundTruthData
    from latentatlas.data.registry import describe_data, is_dataset_name, load_data

    named = is_dataset_name(spec)
    if named:
        load_res = resolution if spec == "celeba" else None
    else:
        # Square images of one size load as they are and are resized below (a small even
        # difference, 28 -> 32, is zero-padded as for MNIST); others are centre-cropped.
        info = describe_data(spec, max_images=max_images)
        load_res = None if info.uniform and info.square else resolution
    data = load_data(spec, root=root, max_images=max_images, resolution=load_res,
                     **({"split": "train"} if spec == "mnist" else {}))
    if factor_ranges and not isinstance(data, GroundTruthData):
        raise DataError(f"{spec}: --factor-range needs a procedural set with factors "
                        "(dsprites, shapes3d, ...); restrict a folder by choosing its images")
    if isinstance(data, GroundTruthData):
        h = data.observation_shape[0]
        if resolution != h:
            raise DataError(f"{spec}: the procedural set is {h}x{h}; use --resolution {h}")
        if factor_ranges:
            from latentatlas.data.base import RestrictedFactors

            try:
                data = RestrictedFactors(data, factor_ranges)
            except ValueError as exc:
                raise DataError(str(exc)) from None
        return GroundTruthSource(data, seed=seed)
    images = resize_images(data.images, resolution)
    return ArraySource(images, seed=seed, name=spec if named else str(Path(spec)))
