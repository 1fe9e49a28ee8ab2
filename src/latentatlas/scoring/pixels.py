"""Pixel statistics and object moments: exact, differentiable image measurements.

Every definition works on u = (x + 1) / 2 in [0, 1] (x the image in [-1, 1]).

PixelStatsScorer columns (RGB: all; one channel: brightness and contrast):

- ``brightness``: mean luma, Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601); one channel: mean u.
- ``mean_r``, ``mean_g``, ``mean_b``: the mean of each channel.
- ``hue``: the hue of the chroma-weighted mean colour, in [0, 1) (a fraction of the colour circle):
  with the opponent coordinates a = R - (G + B) / 2 and b = sqrt(3)/2 (G - B),
  hue = atan2(mean b, mean a) / (2 pi) mod 1. Red 0, yellow 1/6, green 1/3, cyan 1/2, blue 2/3,
  magenta 5/6 (the same as HSV hue on the primaries and secondaries). Grey images give 0.
- ``saturation``: mean over pixels of HSV saturation (max - min) / max (0 where max = 0).
- ``contrast``: RMS contrast, the population standard deviation of Y (or u) over the pixels.

ObjectMomentsScorer columns, from the image moments of a foreground mask m(i, j) >= 0 (soft mask:
the intensity itself; or a hard threshold):

- ``centroid_x``, ``centroid_y``: the mask-weighted mean of the pixel-centre coordinates
  x = (j + 0.5) / W and y = (i + 0.5) / H in [0, 1] (x to the right, y downwards, as in the image).
- ``area``: the mask mass as a fraction of the image, sum(m) / (H W).
- ``orientation``: the angle of the major axis in degrees, in (-90, 90], counter-clockwise from the
  x axis as seen on screen: 0.5 atan2(2 mu11, mu20 - mu02) with central moments computed in pixel
  units with y pointing up (so non-square images keep true angles).
An empty mask gives centroid (0.5, 0.5), area 0 and orientation 0.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from latentatlas.scoring.base import BaseScorer, to_unit

LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def luma(unit_images: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] in [0, 1] -> [N, H, W]: BT.601 luma for 3 channels, the channel mean else."""
    if unit_images.shape[1] == 3:
        w = unit_images.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
        return (unit_images * w).sum(1)
    return unit_images.mean(1)


class PixelStatsScorer(BaseScorer):
    """Brightness, per-channel means, hue, saturation and contrast (see the module docstring).

    Args:
        channels: 3 (RGB) or 1 (grey). Grey images get ``brightness`` and ``contrast`` only.
    """

    def __init__(self, channels: int = 3) -> None:
        if channels not in (1, 3):
            raise ValueError(f"PixelStatsScorer supports 1 or 3 channels, got {channels}")
        self.channels = channels
        if channels == 3:
            self.names = ["brightness", "mean_r", "mean_g", "mean_b", "hue", "saturation",
                          "contrast"]
        else:
            self.names = ["brightness", "contrast"]

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        u = to_unit(images.float())
        y = luma(u)
        brightness = y.mean((1, 2))
        contrast = y.flatten(1).std(dim=1, correction=0)
        if self.channels == 1:
            return torch.stack([brightness, contrast], dim=1)
        means = u.mean((2, 3))
        r, g, b = means.unbind(1)
        # Mean of the (linear) opponent coordinates = chroma-weighted circular mean of the hue.
        a = r - 0.5 * (g + b)
        bb = (math.sqrt(3) / 2) * (g - b)
        hue = torch.remainder(torch.atan2(bb, a) / (2 * math.pi), 1.0)
        hue = torch.where(hue >= 1.0, torch.zeros_like(hue), hue)  # remainder can round to 1.0
        mx = u.amax(1)
        mn = u.amin(1)
        sat = torch.where(mx > 1e-8, (mx - mn) / mx.clamp_min(1e-8), torch.zeros_like(mx))
        return torch.stack([brightness, r, g, b, hue, sat.mean((1, 2)), contrast], dim=1)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "channels": self.channels}


class ColourfulnessScorer(BaseScorer):
    """Hasler and Suesstrunk's colourfulness (2003), a differentiable torch expression on RGB in
    [0, 1] (the paper's 0-255 values divided by 255): with rg = R - G and yb = (R + G) / 2 - B
    over the pixels, ``sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)`` (population
    sd). Grey images give 0. One column, ``colourfulness``."""

    names = ["colourfulness"]
    channels = 3

    def __init__(self) -> None:
        self.names = list(ColourfulnessScorer.names)

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        u = to_unit(images.float())
        r, g, b = u.unbind(1)
        rg = (r - g).flatten(1)
        yb = (0.5 * (r + g) - b).flatten(1)
        eps = 1e-12  # keeps the square roots differentiable at 0
        sd = torch.sqrt(rg.var(1, correction=0) + yb.var(1, correction=0) + eps)
        mean = torch.sqrt(rg.mean(1) ** 2 + yb.mean(1) ** 2 + eps)
        return (sd + 0.3 * mean)[:, None]


class ObjectMomentsScorer(BaseScorer):
    """Centroid, area and orientation of the foreground (see the module docstring).

    Args:
        channels: expected channel count (None: any; the intensity is the channel mean).
        threshold: None for a soft mask (the intensity, differentiable); a number t in (0, 1) for
            the hard mask intensity > t (not differentiable).
        background: "dark" (objects are bright, as in dSprites) or "light" (the mask is computed
            on 1 - intensity).
    """

    names = ["centroid_x", "centroid_y", "area", "orientation"]

    def __init__(
        self, channels: int | None = None, threshold: float | None = None, background: str = "dark"
    ) -> None:
        if background not in ("dark", "light"):
            raise ValueError(f"background must be 'dark' or 'light', got {background!r}")
        if threshold is not None and not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        self.channels = channels
        self.threshold = threshold
        self.background = background
        self.differentiable = threshold is None
        self.names = list(ObjectMomentsScorer.names)

    def mask(self, images: torch.Tensor) -> torch.Tensor:
        """The foreground mask [N, H, W] used for the moments."""
        intensity = to_unit(images.float()).mean(1)
        if self.background == "light":
            intensity = 1.0 - intensity
        if self.threshold is None:
            return intensity
        return (intensity > self.threshold).float()

    def _score(self, images: torch.Tensor) -> torch.Tensor:
        m = self.mask(images)
        n, h, w = m.shape
        cols = (torch.arange(w, dtype=m.dtype, device=m.device) + 0.5)  # pixel units
        rows = (torch.arange(h, dtype=m.dtype, device=m.device) + 0.5)
        m00 = m.sum((1, 2))
        empty = m00 <= 1e-12
        safe = torch.where(empty, torch.ones_like(m00), m00)
        mx, my = m.sum(1), m.sum(2)  # marginals over rows -> [N, W]; over cols -> [N, H]
        cx = (mx * cols).sum(1) / safe
        cy = (my * rows).sum(1) / safe
        dx = cols.view(1, 1, w) - cx.view(n, 1, 1)
        dy_up = -(rows.view(1, h, 1) - cy.view(n, 1, 1))  # y pointing up: counter-clockwise angles
        mu20 = (m * dx * dx).sum((1, 2)) / safe
        mu02 = (m * dy_up * dy_up).sum((1, 2)) / safe
        mu11 = (m * dx * dy_up).sum((1, 2)) / safe
        theta = 0.5 * torch.atan2(2 * mu11, mu20 - mu02)
        theta = torch.where(theta <= -math.pi / 2, theta + math.pi, theta)
        centroid_x = torch.where(empty, torch.full_like(cx, 0.5), cx / w)
        centroid_y = torch.where(empty, torch.full_like(cy, 0.5), cy / h)
        area = m00 / (h * w)
        orientation = torch.where(empty, torch.zeros_like(theta), torch.rad2deg(theta))
        return torch.stack([centroid_x, centroid_y, area, orientation], dim=1)

    def spec(self) -> dict[str, Any]:
        return {**super().spec(), "threshold": self.threshold, "background": self.background}
