"""A tiny linear "generator" with a known layer structure, for direction / editing tests.

Images are [N, 1, 4, 4]; pixel groups carry three attributes whose dependence on the W+ layers
is planted:

- A (pixels 0-3) = 0.5 * (wp[:, 2, 0] + wp[:, 3, 0]) + 0.1 * wp[:, 1, 0]  (layers 2-3, a bit of 1)
- B (pixels 4-7) = 0.5 * (wp[:, 0, 1] + wp[:, 1, 1])                      (layers 0-1)
- C (pixels 8-11) = mean over layers of wp[:, :, 2]                          (all layers)

so moving dim 0 on layers 2-3 keeps 2.0 / 2.2 = 91% of the all-layer effect on A.
"""

from __future__ import annotations

import numpy as np
import torch

from latentatlas.models.base import Generator

ATTRIBUTES = ["A", "B", "C"]


class ToyGenerator(Generator):
    def __init__(self, z_dim: int = 6, num_ws: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.w_dim = z_dim
        self.num_ws = num_ws
        self.img_resolution = 4
        self.img_channels = 1
        g = torch.Generator().manual_seed(seed)
        mapping = torch.eye(z_dim) + 0.2 * torch.randn(z_dim, z_dim, generator=g)
        self.register_buffer("mapping", mapping)
        self.register_buffer("bias", 0.3 * torch.randn(z_dim, generator=g))

    def z_to_w(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.check_latent(z, "z") @ self.mapping + self.bias

    @property
    def w_avg(self) -> torch.Tensor:
        return self.bias

    def synthesize(self, latent, space="wp", c=None, noise_mode="const"):
        latent = self.check_latent(latent, space)
        if space == "z":
            latent, space = self.z_to_w(latent), "w"
        wp = self.w_to_wp(latent) if space == "w" else latent
        a = 0.5 * (wp[:, 2, 0] + wp[:, 3, 0]) + 0.1 * wp[:, 1, 0]
        b = 0.5 * (wp[:, 0, 1] + wp[:, 1, 1])
        cc = wp[:, :, 2].mean(dim=1)
        img = torch.zeros(wp.shape[0], 16)
        img[:, 0:4] = a[:, None]
        img[:, 4:8] = b[:, None]
        img[:, 8:12] = cc[:, None]
        return img.reshape(-1, 1, 4, 4)


def toy_scorer(images: torch.Tensor) -> np.ndarray:
    """[N, 3] attribute scores (A, B, C) read back from the pixel groups."""
    flat = images.reshape(images.shape[0], -1)
    return torch.stack(
        [flat[:, 0:4].mean(1), flat[:, 4:8].mean(1), flat[:, 8:12].mean(1)], dim=1
    ).numpy()
