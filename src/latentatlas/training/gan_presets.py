"""The model-zoo recipes: architecture + hyper-parameters of each shipped GAN.

Each preset is meant for about 2.5 hours of an otherwise idle 2-core CPU (Sapphire Rapids, bf16 via
AMX). ``"bf16": "auto"`` computes in bfloat16 only where the device does so natively (AMX /
AVX512-BF16 CPUs, Ampere+ GPUs); elsewhere emulated bf16 is far slower than float32, and a 2-core
CPU without it trains about half as fast as the figures below assume. The kimg figures are
extrapolated from throughput measured on a busy machine (see docs/training.md: measured numbers
and how they were taken), not measured on an idle one. Every run is resumable (``--resume``): run
it in several sittings, or extend a finished run by resuming with a larger ``--kimg``.
``latentatlas train gan --preset NAME --out DIR`` runs one; every option given explicitly on the
command line overrides the preset's value. See docs/training.md.

Keys: ``arch`` (stylegan2 | zgen), ``data``, ``resolution``, ``generator`` / ``discriminator``
(constructor kwargs besides resolution and channels), ``train`` (:class:`GANTrainConfig` fields).
"""

from __future__ import annotations

import copy
from typing import Any

GAN_PRESETS: dict[str, dict[str, Any]] = {
    # StyleGAN2 on the 10k real CelebA faces at 64 px. Small data: ADA-style adaptive
    # augmentation; r1_gamma from StyleGAN2-ADA's "auto" rule 0.0002 res^2 / batch ~ 0.03,
    # raised to 0.05 for stability at this size; 2-layer mapping as in ADA's "auto" config.
    "celeba64": {
        "arch": "stylegan2",
        "data": "celeba",
        "resolution": 64,
        "generator": {"z_dim": 256, "w_dim": 256, "mapping_layers": 2, "channel_base": 1024,
                      "channel_max": 256},
        "discriminator": {"channel_base": 1024, "channel_max": 256},
        "train": {"kimg": 350, "batch": 32, "r1_gamma": 0.05, "pl_weight": 2.0,
                  "style_mixing_prob": 0.9, "augment": "ada", "bf16": "auto",
                  "checkpoint_every": 250, "sample_every": 1000, "log_every": 25},
    },
    # StyleGAN2 on procedural Shapes3D-like images (480k-image grid, fresh samples: no
    # augmentation needed); a smaller network, the scenes are simple.
    "shapes3d": {
        "arch": "stylegan2",
        "data": "shapes3d",
        "resolution": 64,
        "generator": {"z_dim": 128, "w_dim": 128, "mapping_layers": 2, "channel_base": 1024,
                      "channel_max": 256},
        "discriminator": {"channel_base": 1024, "channel_max": 256},
        "train": {"kimg": 350, "batch": 32, "r1_gamma": 0.05, "pl_weight": 2.0,
                  "style_mixing_prob": 0.9, "augment": "none", "bf16": "auto",
                  "checkpoint_every": 250, "sample_every": 1000, "log_every": 25},
    },
    # Z-space GAN on procedural dSprites-like images with a small z (8 dims: 5 factors + slack).
    # 600 kimg: at 400 the square's orientation was still under-covered (0.45x of uniform).
    "dsprites": {
        "arch": "zgen",
        "data": "dsprites",
        "resolution": 64,
        "generator": {"z_dim": 8, "channel_base": 1024, "channel_max": 256},
        "discriminator": {"channel_base": 1024, "channel_max": 256},
        "train": {"kimg": 600, "batch": 64, "g_lr": 2e-4, "d_lr": 2e-4, "betas": [0.5, 0.99],
                  "r1_gamma": 1.0, "style_mixing_prob": 0.0, "augment": "none", "bf16": "auto",
                  "channels_last": True, "checkpoint_every": 500, "sample_every": 2000,
                  "log_every": 50},
    },
    # Z-space GAN on MNIST (60k training digits, zero-padded to 32 px).
    "mnist": {
        "arch": "zgen",
        "data": "mnist",
        "resolution": 32,
        "generator": {"z_dim": 64, "channel_base": 1024, "channel_max": 256},
        "discriminator": {"channel_base": 1024, "channel_max": 256},
        "train": {"kimg": 600, "batch": 64, "g_lr": 2e-4, "d_lr": 2e-4, "betas": [0.5, 0.99],
                  "r1_gamma": 1.0, "style_mixing_prob": 0.0, "augment": "none", "bf16": "auto",
                  "channels_last": True, "checkpoint_every": 500, "sample_every": 2000,
                  "log_every": 50},
    },
}


def gan_preset(name: str) -> dict[str, Any]:
    """A deep copy of preset ``name`` (KeyError-free: unknown names raise LatentAtlasError)."""
    from latentatlas.utils.errors import LatentAtlasError

    if name not in GAN_PRESETS:
        raise LatentAtlasError(f"unknown GAN preset {name!r}; presets: {', '.join(GAN_PRESETS)}")
    return copy.deepcopy(GAN_PRESETS[name])
