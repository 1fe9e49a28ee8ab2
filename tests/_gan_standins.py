"""Tiny generator / discriminator stand-ins for the GAN trainer tests (8x8 grey images).

Kept in a module of their own so that the torchrun subprocess test can import them too.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from latentatlas.io import register_model
from latentatlas.models.base import Generator


@register_model
class _TinyStyleG(Generator):
    """z (8) -> mapping -> w (8); W+ with 2 layers; each layer's w drives half of an 8x8 image."""

    config_fields = ("z_dim", "w_dim", "resolution", "channels")

    def __init__(self, z_dim: int = 8, w_dim: int = 8, resolution: int = 8, channels: int = 1):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws = z_dim, w_dim, 2
        self.img_resolution, self.img_channels = resolution, channels
        self.mapping = nn.Sequential(nn.Linear(z_dim, w_dim), nn.LeakyReLU(0.2),
                                     nn.Linear(w_dim, w_dim))
        self.to_feat = nn.Linear(2 * w_dim, 16 * (resolution // 2) ** 2)
        self.conv = nn.Conv2d(16, channels, 3, padding=1)
        self.register_buffer("_w_avg", torch.zeros(w_dim))

    def z_to_w(self, z, c=None):
        return self.mapping(z)

    @property
    def w_avg(self):
        return self._w_avg

    def update_w_avg(self, w, beta=0.995):
        self._w_avg.copy_(w.detach().mean(0).lerp(self._w_avg, beta))

    def synthesize(self, latent, space="wp", c=None, noise_mode="const"):
        if space == "z":
            latent = self.w_to_wp(self.z_to_w(latent))
        elif space == "w":
            latent = self.w_to_wp(latent)
        r = self.img_resolution // 2
        h = self.to_feat(latent.reshape(latent.shape[0], -1)).view(-1, 16, r, r)
        h = nn.functional.interpolate(nn.functional.leaky_relu(h, 0.2), scale_factor=2)
        if noise_mode == "random":
            h = h + 0.01 * torch.randn_like(h)
        return torch.tanh(self.conv(h))


@register_model
class _TinyZG(Generator):
    """Z-only generator: z (4) -> 8x8 image."""

    config_fields = ("z_dim", "resolution", "channels")

    def __init__(self, z_dim: int = 4, resolution: int = 8, channels: int = 1):
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = z_dim, resolution, channels
        self.net = nn.Sequential(nn.Linear(z_dim, 32), nn.LeakyReLU(0.2),
                                 nn.Linear(32, channels * resolution**2))

    def synthesize(self, latent, space="z", c=None, noise_mode="const"):
        r = self.img_resolution
        return torch.tanh(self.net(latent)).view(-1, self.img_channels, r, r)


class TinyD(nn.Module):
    def __init__(self, resolution: int = 8, channels: int = 1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(8 * (resolution // 2) ** 2, 1),
        )

    def forward(self, x, c=None):
        return self.net(x)


def blob_images(n: int, seed: int = 0, resolution: int = 8) -> np.ndarray:
    """uint8 NHWC grey images: a bright 3x3 square at a random position on black."""


    rng = np.random.default_rng(seed)
    out = np.zeros((n, resolution, resolution, 1), np.uint8)
    ys = rng.integers(0, resolution - 2, n)
    xs = rng.integers(0, resolution - 2, n)
    for i in range(n):
        out[i, ys[i]:ys[i] + 3, xs[i]:xs[i] + 3] = 255
    return out
