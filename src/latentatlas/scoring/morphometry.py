"""Morphometry of hand-written strokes (MNIST), in the spirit of Morpho-MNIST (Castro et al. 2019).

Pipeline per image (numpy / scipy, not differentiable):

1. intensity u = channel mean of (x + 1) / 2; ``background="light"`` uses 1 - u;
2. upsample by ``upscale`` (bilinear) and binarise at ``threshold`` -> mask (sub-pixel accuracy:
   a stroke of width t pixels becomes t * upscale pixels wide);
3. skeleton of the mask by Zhang-Suen thinning (vectorised over the batch);
4. Euclidean distance transform of the mask (distance of each foreground pixel to the nearest
   background pixel).

Columns (lengths in pixels of the *input* image, angles in degrees):

- ``area``: foreground pixel count / upscale^2.
- ``length``: skeleton pixel count / upscale (approximate stroke length; diagonal runs count one
  pixel per step, so they are under-estimated by up to sqrt(2)).
- ``thickness``: 2 * mean distance transform over the skeleton / upscale (the mean stroke width
  measured perpendicular to the stroke, Morpho-MNIST's definition).
- ``slant``: atan(mu11 / mu02) of the mask with y pointing up: the horizontal shear angle. Positive
  when the glyph leans right (its top is to the right of its bottom), 0 for upright strokes.
- ``width``: horizontal extent of the mask after removing the slant (x - tan(slant) (y - y_mean)).
- ``height``: vertical extent of the mask.

An image without foreground gives zeros in every column.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from latentatlas.scoring.base import BaseScorer, to_unit


def zhang_suen_thinning(mask: np.ndarray) -> np.ndarray:
    """Skeletons of a batch of binary masks [N, H, W] (Zhang & Suen 1984), vectorised."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == 2:
        return zhang_suen_thinning(mask[None])[0]
    img = np.pad(mask, ((0, 0), (1, 1), (1, 1))).astype(np.uint8)
    while True:
        changed = False
        for sub in (0, 1):
            p2, p3, p4 = img[:, :-2, 1:-1], img[:, :-2, 2:], img[:, 1:-1, 2:]
            p5, p6, p7 = img[:, 2:, 2:], img[:, 2:, 1:-1], img[:, 2:, :-2]
            p8, p9 = img[:, 1:-1, :-2], img[:, :-2, :-2]
            centre = img[:, 1:-1, 1:-1]
            ring = (p2, p3, p4, p5, p6, p7, p8, p9, p2)
            neighbours = sum(p.astype(np.int8) for p in ring[:-1])
            transitions = sum(
                ((ring[k] == 0) & (ring[k + 1] == 1)).astype(np.int8) for k in range(8)
            )
            if sub == 0:
                cond = ((p2 & p4 & p6) == 0) & ((p4 & p6 & p8) == 0)
            else:
                cond = ((p2 & p4 & p8) == 0) & ((p2 & p6 & p8) == 0)
            delete = (
                (centre == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & cond
            )
            if delete.any():
                centre[delete] = 0  # a view: writes into img
                changed = True
        if not changed:
            break
    return img[:, 1:-1, 1:-1].astype(bool)


class MorphometryScorer(BaseScorer):
    """Area, length, thickness, slant, width and height of strokes (see the module docstring).

    Args:
        upscale: integer upsampling factor before binarisation (Morpho-MNIST uses 4).
        threshold: binarisation threshold on the [0, 1] intensity.
        background: "dark" (MNIST: white strokes on black) or "light".
        channels: expected channel count (None: any).
    """

    names = ["area", "length", "thickness", "slant", "width", "height"]
    differentiable = False

    def __init__(
        self,
        upscale: int = 4,
        threshold: float = 0.5,
        background: str = "dark",
        channels: int | None = None,
    ) -> None:
        if upscale < 1:
            raise ValueError(f"upscale must be >= 1, got {upscale}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if background not in ("dark", "light"):
            raise ValueError(f"background must be 'dark' or 'light', got {background!r}")
        self.upscale = int(upscale)
        self.threshold = float(threshold)
        self.background = background
        self.channels = channels
        self.names = list(MorphometryScorer.names)

    def masks(self, images: torch.Tensor) -> np.ndarray:
        """Binary masks [N, H * upscale, W * upscale] after upsampling and thresholding."""
        u = to_unit(images.detach().float()).mean(1, keepdim=True)
        if self.background == "light":
            u = 1.0 - u
        if self.upscale > 1:
            u = F.interpolate(u, scale_factor=self.upscale, mode="bilinear", align_corners=False)
        return (u[:, 0] > self.threshold).cpu().numpy()

    def measure(self, masks: np.ndarray) -> np.ndarray:
        """The six columns [N, 6] from binary masks at the upsampled resolution."""
        s = float(self.upscale)
        n = masks.shape[0]
        out = np.zeros((n, len(self.names)), dtype=np.float64)
        skeletons = zhang_suen_thinning(masks)
        for i in range(n):
            m = masks[i]
            count = int(m.sum())
            if count == 0:
                continue
            # Pad so strokes touching the border still see background there.
            dist = ndimage.distance_transform_edt(np.pad(m, 1))[1:-1, 1:-1]
            skel = skeletons[i]
            thickness = 2.0 * dist[skel].mean() / s if skel.any() else 0.0
            ys, xs = np.nonzero(m)
            x = xs.astype(np.float64)
            y_up = -ys.astype(np.float64)
            dx, dy = x - x.mean(), y_up - y_up.mean()
            mu02, mu11 = (dy * dy).mean(), (dx * dy).mean()
            shear = mu11 / mu02 if mu02 > 0 else 0.0
            deslanted = x - shear * dy
            out[i] = (
                count / s**2,
                skel.sum() / s,
                thickness,
                math.degrees(math.atan(shear)),
                (deslanted.max() - deslanted.min() + 1) / s,
                (ys.max() - ys.min() + 1) / s,
            )
        return out.astype(np.float32)

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.measure(self.masks(images))).to(images.device)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "upscale": self.upscale, "threshold": self.threshold,
                "background": self.background}
