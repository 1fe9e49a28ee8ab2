"""Data sets of the VAE commands by name: procedural dSprites-like variants or a ``.npy`` array."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentatlas.data.base import GroundTruthData
from latentatlas.data.dsprites import DSpritesLike
from latentatlas.utils.errors import DataError


def load_vae_data(name: str) -> GroundTruthData | np.ndarray:
    """A VAE training / evaluation set by name: ``dsprites`` (binary), ``dsprites_color`` /
    ``dsprites_noisy`` (:class:`GroundTruthData`), or a ``.npy`` file of NHWC float images in
    [0, 1] (an array, memory-mapped; train only)."""
    if name.endswith(".npy"):
        path = Path(name)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        from latentatlas.io.images import check_image_values

        try:
            images = np.load(path, allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as e:
            raise DataError(f"{path}: not a readable .npy array ({e})") from e
        if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
            raise DataError(f"{path}: must be NHWC images [N, H, W, 1 or 3], got shape "
                            f"{images.shape}")
        try:
            return check_image_values(images, str(path))
        except ValueError as e:
            raise DataError(str(e)) from e
    if name == "dsprites" or name.startswith("dsprites_"):
        variant = "binary" if name == "dsprites" else name.split("_", 1)[1]
        return DSpritesLike(variant=variant)
    raise DataError(f"unknown data set {name!r}; use dsprites, dsprites_color, dsprites_noisy "
                    "or a .npy file of NHWC images in [0, 1]")
