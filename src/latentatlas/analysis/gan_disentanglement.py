"""The disentanglement suite on a Z-space GAN, so GANs and VAEs sit in one table.

A GAN has no encoder, so one is fitted: a small CNN regressing z from G(z) on fresh samples
(:func:`fit_z_encoder`, MSE, Adam). Its prediction on *real* images of a data set with ground
truth is the GAN's representation, and the suite (MIG, DCI, FactorVAE score, ...) runs on it
exactly as on a VAE's encoder mean (:func:`gan_disentanglement`). The encoder's held-out R^2 on
generated images is reported beside the scores: a low R^2 means the numbers describe the
encoder's failure more than the GAN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from latentatlas.data.base import GroundTruthData
from latentatlas.metrics.disentanglement import compute_suite
from latentatlas.utils.checks import check_number
from latentatlas.utils.errors import ShapeError


class ZEncoder(nn.Module):
    """Image [N, C, R, R] in [-1, 1] -> z [N, z_dim]: strided convs down to 4x4 and two linears."""

    def __init__(self, channels: int, resolution: int, z_dim: int, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, r = channels, resolution
        while r > 4:
            out = min(width * 2 ** len(layers[::2]), 128)
            layers += [nn.Conv2d(c, out, 4, 2, 1), nn.LeakyReLU(0.2)]
            c, r = out, r // 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(nn.Linear(c * r * r, 256), nn.LeakyReLU(0.2),
                                  nn.Linear(256, z_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def fit_z_encoder(generator: Any, *, steps: int = 3000, batch_size: int = 64, lr: float = 1e-3,
                  seed: int = 0, progress: bool = False) -> tuple[ZEncoder, float]:
    """A :class:`ZEncoder` fitted to (G(z), z) on fresh samples; returns it and its R^2 on 2,000
    held-out samples."""
    check_number("steps", steps, 1, integer=True)
    if "z" not in getattr(generator, "spaces", ("z",)):
        raise ShapeError("the encoder regresses z: the generator needs a Z space")
    z_dim = int(generator.z_dim)
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    enc = ZEncoder(int(generator.img_channels), int(generator.img_resolution), z_dim)
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    it: Any = range(int(steps))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="z encoder", unit="step")
    for _ in it:
        z = torch.randn(batch_size, z_dim, generator=gen)
        with torch.no_grad():
            images = generator.synthesize(z, "z").float()
        loss = (enc(images) - z).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    enc.eval()
    z = torch.randn(2000, z_dim, generator=gen)
    with torch.no_grad():
        pred = torch.cat([enc(generator.synthesize_batched(z[i:i + 256], "z").float())
                          for i in range(0, 2000, 256)])
    r2 = 1.0 - float((pred - z).square().sum() / (z - z.mean(0)).square().sum())
    return enc, r2


def gan_disentanglement(generator: Any, data: GroundTruthData, *,
                        metrics: tuple[str, ...] = ("mig", "dci", "factor_vae"),
                        encoder_steps: int = 3000, sizes: dict | None = None, seed: int = 0,
                        progress: bool = False) -> dict[str, Any]:
    """The suite's ``metrics`` on a fitted z encoder's codes of ``data``'s real images (module
    docstring); adds ``encoder_r2``."""
    enc, r2 = fit_z_encoder(generator, steps=encoder_steps, seed=seed, progress=progress)
    channels = int(generator.img_channels)

    @torch.no_grad()
    def represent(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()
        if x.shape[1] != channels:
            raise ShapeError(f"data has {x.shape[1]} channels, the generator {channels}")
        return enc(x * 2 - 1).numpy()

    result = compute_suite(data, represent, seed, metrics=list(metrics), sizes=sizes)
    result["encoder_r2"] = r2
    return result


__all__ = ["ZEncoder", "fit_z_encoder", "gan_disentanglement"]
