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


#: ``--preset auto`` uses the Z-space GAN up to this resolution and StyleGAN2 above it.
AUTO_ZGEN_MAX_RESOLUTION = 32
#: The largest resolution ``--preset auto`` picks (a CPU-sized model; pass --resolution for more).
AUTO_MAX_RESOLUTION = 64
#: Fewer real images than this: ADA-style adaptive augmentation (StyleGAN2-ADA's regime; the
#: 10k-face celeba64 preset uses it, the 60k-digit mnist preset does not).
AUTO_AUGMENT_BELOW = 30_000


def _pow2_floor(n: int) -> int:
    return 1 << (max(int(n), 1).bit_length() - 1)


def auto_gan_preset(num_images: int, channels: int, size: int, data: str | None = None,
                    procedural: bool = False, resolution: int | None = None,
                    arch: str | None = None) -> dict[str, Any]:
    """``--preset auto``: a preset derived from the data, in the spirit of the zoo presets.

    Args:
        num_images: real images in the data set (procedural sets: their grid size).
        channels: 1 (grey) or 3.
        size: the images' short side in pixels.
        data: the ``--data`` value (stored as the preset's ``data``).
        procedural: fresh samples every batch (no augmentation needed).
        resolution, arch: values given on the command line (the rest is derived for them).

    The rules (each from a zoo preset):

    - resolution: the largest power of two <= ``size``, at least 32 (small images are zero-padded
      or upsampled: MNIST's 28 -> 32) and at most 64.
    - arch: the Z-space GAN at <= 32 px (the ``mnist`` preset: z 64, Adam 2e-4 / betas
      (0.5, 0.99), R1 gamma 1, batch 64); StyleGAN2 above (the ``celeba64`` / ``shapes3d``
      presets: z = w = 256 for RGB, 128 for grey, 2-layer mapping, Adam 0.0025 / betas (0, 0.99),
      path-length 2, style mixing 0.9, batch 32, R1 gamma = 2 x StyleGAN2-ADA's rule
      0.0002 res^2 / batch to one digit, i.e. 0.05 at 64 px).
    - widths: channel_base 1024, channel_max 256 for G and D (every preset).
    - augment: ``ada`` for fewer than :data:`AUTO_AUGMENT_BELOW` real images, else none; the
      batch is at most a quarter of a tiny data set (power of two, >= 4).
    - length: the preset of the same family's kimg (about 2.5 h on a 2-core CPU); shorten it
      with ``--kimg`` / ``--steps``.

    The built-in Z-space defaults (Adam 0.0025 with betas (0, 0.99), channel_base 4096) are
    StyleGAN2's; on a Z-space GAN they drove D's loss to 0 within 30 steps on 2,000 MNIST digits
    (docs/user_data.md has the measurements).
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if resolution is None:
        resolution = min(max(_pow2_floor(size), 32), AUTO_MAX_RESOLUTION)
    if arch is None:
        arch = "zgen" if resolution <= AUTO_ZGEN_MAX_RESOLUTION else "stylegan2"
    augment = "none" if procedural or num_images >= AUTO_AUGMENT_BELOW else "ada"
    base = 64 if arch == "zgen" else 32
    batch = int(min(base, max(4, _pow2_floor(max(num_images // 4, 1)))))
    widths = {"channel_base": 1024, "channel_max": 256}
    common = {"augment": augment, "bf16": "auto", "checkpoint_every": 500,
              "sample_every": 2000, "log_every": 25, "batch": batch}
    if arch == "zgen":
        generator = {"z_dim": 64, **widths}
        train = {"kimg": 600, "g_lr": 2e-4, "d_lr": 2e-4, "betas": [0.5, 0.99], "r1_gamma": 1.0,
                 "style_mixing_prob": 0.0, "channels_last": True, **common}
    else:
        z = 256 if channels == 3 else 128
        generator = {"z_dim": z, "w_dim": z, "mapping_layers": 2, **widths}
        r1 = float(f"{2 * 0.0002 * resolution**2 / batch:.1g}")
        train = {"kimg": 350, "r1_gamma": r1, "pl_weight": 2.0, "style_mixing_prob": 0.9,
                 **common, "checkpoint_every": 250, "sample_every": 1000}
    return {"arch": arch, "data": data, "resolution": int(resolution), "generator": generator,
            "discriminator": dict(widths), "train": train,
            "derived_from": {"num_images": int(num_images), "channels": int(channels),
                             "size": int(size), "procedural": bool(procedural)}}


def resolve_gan_preset(preset: str | None, data: str | None, cli: dict[str, Any],
                       max_images: int | None = None,
                       data_root: str | None = None) -> str | dict[str, Any] | None:
    """The preset a ``train gan`` run uses: a zoo preset name, ``auto`` derived from ``--data``
    (a dict), or None (the built-in defaults). Without ``--preset``, a ``--data`` that is not a
    built-in data set name (a user's folder / npz) gets ``auto``."""
    from latentatlas.data.registry import describe_data, is_dataset_name

    if preset is None and data is not None and not is_dataset_name(data):
        preset = "auto"
    if preset != "auto":
        return preset
    if data is None:
        from latentatlas.utils.errors import LatentAtlasError

        raise LatentAtlasError("--preset auto derives its settings from --data; give --data")
    info = describe_data(data, root=data_root, max_images=max_images)
    return auto_gan_preset(info.num_images, info.channels, info.size, data=data,
                           procedural=info.procedural, resolution=cli.get("resolution"),
                           arch=cli.get("arch"))
