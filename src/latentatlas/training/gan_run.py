"""One GAN training run from presets and options: what ``latentatlas train gan`` does.

:func:`run_gan` joins the torchrun process group when there is one, merges the preset with the
options (:func:`resolve_gan_settings`), loads the data, builds the seeded networks
(:func:`build_gan`) and trains them with :class:`GANTrainer`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

from latentatlas.training.gan_presets import gan_preset, resolve_gan_preset
from latentatlas.utils.errors import OptionError

#: Options of ``latentatlas train gan`` that go to :class:`GANTrainConfig` (``total_steps`` is
#: ``--steps``).
TRAIN_OPTION_KEYS = ("kimg", "total_steps", "batch", "accum_steps", "g_lr", "d_lr", "r1_gamma",
                     "pl_weight", "style_mixing_prob", "ema_kimg", "augment", "augment_p", "bf16",
                     "seed", "checkpoint_every", "sample_every", "log_every", "mirror")


def resolve_gan_settings(preset: str | dict[str, Any] | None,
                         overrides: dict[str, Any]) -> dict[str, Any]:
    """Built-in defaults < preset (a zoo name or a derived ``auto`` dict) < ``overrides`` (the
    options given on the command line; None values are not given).

    Returns ``{"arch", "data", "resolution", "generator", "discriminator", "train"}``: G / D
    constructor kwargs and :class:`GANTrainConfig` fields. ``channel_base`` / ``channel_max`` set
    both networks, ``d_channel_base`` D's alone; ``kimg`` and ``total_steps`` replace each other.
    """
    settings: dict[str, Any] = {
        "arch": "stylegan2", "data": None, "resolution": 64,
        "generator": {}, "discriminator": {}, "train": {"batch": 32},
    }
    if preset:
        p = gan_preset(preset) if isinstance(preset, str) else preset
        settings.update({k: p[k] for k in ("arch", "data", "resolution")})
        settings["generator"] = dict(p["generator"])
        settings["discriminator"] = dict(p["discriminator"])
        settings["train"] = dict(p["train"])
    for key in ("arch", "data", "resolution"):
        if overrides.get(key) is not None:
            settings[key] = overrides[key]
    for key in ("z_dim", "w_dim", "mapping_layers", "channel_base", "channel_max"):
        if overrides.get(key) is not None:
            settings["generator"][key] = overrides[key]
    for key in ("channel_base", "channel_max"):
        if overrides.get(key) is not None:
            settings["discriminator"][key] = overrides[key]
    if overrides.get("d_channel_base") is not None:
        settings["discriminator"]["channel_base"] = overrides["d_channel_base"]
    for key in TRAIN_OPTION_KEYS:
        if overrides.get(key) is not None:
            settings["train"][key] = overrides[key]
    if overrides.get("total_steps") is not None:
        settings["train"].pop("kimg", None)
    if overrides.get("kimg") is not None:
        settings["train"].pop("total_steps", None)
    if settings["arch"] == "zgen":
        settings["generator"].pop("w_dim", None)
        settings["generator"].pop("mapping_layers", None)
        settings["train"]["style_mixing_prob"] = 0.0
    return settings


def build_gan(arch: str, resolution: int, channels: int, generator: dict[str, Any],
              discriminator: dict[str, Any], bf16: bool, seed: int):
    """Seeded G and D for ``arch`` (stylegan2: fast path, bf16 compute when ``bf16``)."""
    import torch

    from latentatlas.models import (
        StyleGAN2Discriminator,
        StyleGAN2Generator,
        ZDiscriminator,
        ZGenerator,
    )

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        if arch == "stylegan2":
            dtype = "bfloat16" if bf16 else "float32"
            G = StyleGAN2Generator(img_resolution=resolution, img_channels=channels, impl="fast",
                                   dtype=dtype, **generator)
            D = StyleGAN2Discriminator(img_resolution=resolution, img_channels=channels,
                                       dtype=dtype, **discriminator)
        elif arch == "zgen":
            G = ZGenerator(img_resolution=resolution, img_channels=channels, **generator)
            D = ZDiscriminator(img_resolution=resolution, img_channels=channels, **discriminator)
        else:
            raise OptionError(f"unknown arch {arch!r}; use stylegan2 or zgen")
    return G, D


def _regularizer_hooks(spec: dict[str, Any] | None, G: Any, tcfg: dict[str, Any],
                       seed: int) -> list:
    """The OroJaR / Hessian-penalty hooks of ``spec`` (see :func:`run_gan`), layers checked on G."""
    from latentatlas.training.aux_hooks import InfoGANHook, VariationPredictabilityHook
    from latentatlas.training.regularizer_hooks import make_regularizers

    spec = {k: v for k, v in (spec or {}).items() if v is not None}
    shape = (int(G.z_dim), int(G.img_channels), int(G.img_resolution))
    aux: list = []
    if spec.get("infogan"):
        aux.append(InfoGANHook(*shape, n_codes=spec.get("infogan_codes"),
                               categorical=spec.get("infogan_categorical") or 0,
                               categories=spec.get("infogan_categories") or 10,
                               weight=spec["infogan"], seed=seed))
    if spec.get("vp"):
        aux.append(VariationPredictabilityHook(*shape, weight=spec["vp"], seed=seed))
    if not spec.get("orojar") and not spec.get("hessian"):
        return aux
    warmup = float(spec.get("warmup_kimg", 0.0))
    batch = int(tcfg.get("batch", 32))
    extra = {k: spec[k] for k in ("k", "epsilon", "estimator", "interval", "batch_shrink")
             if k in spec}
    hooks = make_regularizers(spec.get("orojar", 0.0), spec.get("hessian", 0.0),
                              spec.get("layers"), warmup_steps=math.ceil(warmup * 1000 / batch),
                              seed=seed, **extra)
    for h in hooks:
        h.check(G)
    return hooks + aux


def run_gan(out: str | os.PathLike, *, preset: str | None = None,
            overrides: dict[str, Any] | None = None, resume: bool = False,
            threads: int | None = None, device: str | None = None, max_images: int | None = None,
            data_root: str | None = None, command: str | None = None,
            log: Callable[[str], Any] = print, overwrite: bool = False,
            factor_ranges: dict[str, tuple[int, int]] | None = None,
            regularizers: dict[str, Any] | None = None):
    """Train a GAN into ``out`` from ``preset`` and ``overrides`` (:func:`resolve_gan_settings`;
    ``auto``, the default for a user's ``--data`` folder / npz, derives the preset from the data).

    Under torchrun every rank calls this; the global batch is split across ranks and rank 0 alone
    writes and ``log``s (a summary line before and after training). ``threads``: torch CPU threads
    per process (default: torch's, or cpu_count / world for several CPU ranks). ``command`` is
    recorded in run.json. ``factor_ranges`` restricts a procedural set's factors (class-index
    ranges, e.g. ``{"posX": (8, 24)}``) and is recorded in run.json. Raises
    :class:`OptionError` without data or length. ``regularizers``: OroJaR / Hessian-penalty
    hooks, ``{"orojar": lambda, "hessian": lambda, "layers": "conv0,conv1", "estimator": "fd",
    "warmup_kimg": 0, "k": 2, "epsilon": 0.1, "interval": 1, "batch_shrink": 1}`` (a lambda of
    0 or None: off; :mod:`latentatlas.training.regularizer_hooks`), plus ``"infogan": weight,
    "infogan_codes": n, "infogan_categorical": m, "infogan_categories": k`` and ``"vp": weight``
    (:mod:`latentatlas.training.aux_hooks`); recorded in run.json. An
    existing run in ``out`` is refused without ``resume`` unless ``overwrite``. Returns the
    :class:`~latentatlas.training.gan.TrainResult`.
    """
    from latentatlas.training.data import resolve_training_data
    from latentatlas.training.gan import GANTrainConfig, GANTrainer
    from latentatlas.utils.distributed import init_distributed, set_rank_threads
    from latentatlas.utils.hardware import resolve_bf16

    rank, world, dev = init_distributed(device)
    set_rank_threads(threads, world, dev)
    overrides = overrides or {}
    resolved = resolve_gan_preset(preset, overrides.get("data"), overrides, max_images, data_root)
    settings = resolve_gan_settings(resolved, overrides)
    if isinstance(resolved, dict):
        preset = "auto"
    if settings["data"] is None:
        raise OptionError("give --data (or a --preset)")
    tcfg = dict(settings["train"])
    if "kimg" not in tcfg and "total_steps" not in tcfg:
        raise OptionError("give --kimg or --steps (or a --preset)")
    seed = int(tcfg.get("seed", 0))
    source = resolve_training_data(settings["data"], settings["resolution"], seed=seed,
                                   max_images=max_images, root=data_root,
                                   factor_ranges=factor_ranges)
    # "auto" (the presets' value, and the default): bf16 only where the device computes it natively.
    bf16 = resolve_bf16(tcfg.get("bf16", "auto"), dev)
    tcfg["bf16"] = bf16
    G, D = build_gan(settings["arch"], settings["resolution"], source.channels,
                     settings["generator"], settings["discriminator"], bf16, seed)
    hooks = _regularizer_hooks(regularizers, G, tcfg, seed)
    if settings["arch"] == "stylegan2":
        # StyleGAN2 computes in bf16 itself (fast path); no extra autocast around it.
        tcfg["bf16"] = False
        tcfg["channels_last"] = False
    config = GANTrainConfig.from_dict(tcfg)
    trainer = GANTrainer(G, D, source, config, out, regularizers=hooks, device=dev,
                         command=command,
                         extra_config={"regularizers": [h.config() for h in hooks],
                                       "preset": preset, "preset_settings": resolved
                                       if isinstance(resolved, dict) else None,
                                       "arch": settings["arch"],
                                       "data_spec": settings["data"], "bf16": bf16,
                                       "factor_ranges": {k: list(v) for k, v in
                                                         (factor_ranges or {}).items()},
                                       "resolution": settings["resolution"]})
    if rank == 0 and isinstance(resolved, dict):
        t = settings["train"]
        log(f"--preset auto: {settings['arch']} at {settings['resolution']} px, "
            f"z {settings['generator'].get('z_dim')}, batch {t.get('batch')}, lr "
            f"{t.get('g_lr', 0.0025)}, r1 {t.get('r1_gamma')}, augment {t.get('augment')}")
    if rank == 0:
        n_g = sum(p.numel() for p in G.parameters())
        n_d = sum(p.numel() for p in D.parameters())
        log(f"{settings['arch']} G {n_g / 1e6:.2f} M / D {n_d / 1e6:.2f} M parameters; "
            f"{len(source)} images of {source.name}; {trainer.total_steps} steps of "
            f"batch {config.batch} on {world} process(es), {dev}")
    result = trainer.train(resume=resume, overwrite=overwrite)
    if rank == 0:
        log(f"done: step {result.step}; model {result.model_dir}; last checkpoint "
            f"{result.checkpoint}")
    return result
