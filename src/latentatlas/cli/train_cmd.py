"""`latentatlas train gan ...`: train a StyleGAN2 or Z-space GAN (single process or torchrun DDP).

Distributed: ``torchrun --nproc_per_node=N -m latentatlas.training.gan_main [same options]``
(gloo on CPU, NCCL on CUDA); the global ``--batch`` is split across ranks.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

import click

from latentatlas.cli._app import main

# What launched us, recorded in the run's config (gan_main sets the torchrun form).
COMMAND_PREFIX = "latentatlas"

_PRESET_NAMES = ("celeba64", "shapes3d", "dsprites", "mnist", "auto")


def _train_group() -> click.Group:
    """The shared `train` group (other trainers may register commands on it too)."""
    existing = main.commands.get("train")
    if isinstance(existing, click.Group):
        return existing

    @main.group("train")
    def train() -> None:
        """Train models: GANs (train gan)."""

    return train


def _resolve_settings(preset: str | dict[str, Any] | None, cli: dict[str, Any]) -> dict[str, Any]:
    """Built-in defaults < preset (a zoo name or a derived ``auto`` dict) < options given on the
    command line."""
    from latentatlas.training.gan_presets import gan_preset

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
        if cli.get(key) is not None:
            settings[key] = cli[key]
    g_keys = {"z_dim": "z_dim", "w_dim": "w_dim", "mapping_layers": "mapping_layers",
              "channel_base": "channel_base", "channel_max": "channel_max"}
    for opt, kw in g_keys.items():
        if cli.get(opt) is not None:
            settings["generator"][kw] = cli[opt]
    for opt in ("channel_base", "channel_max"):
        if cli.get(opt) is not None:
            settings["discriminator"][opt] = cli[opt]
    if cli.get("d_channel_base") is not None:
        settings["discriminator"]["channel_base"] = cli["d_channel_base"]
    train_keys = ("kimg", "total_steps", "batch", "accum_steps", "g_lr", "d_lr", "r1_gamma",
                  "pl_weight", "style_mixing_prob", "ema_kimg", "augment", "augment_p", "bf16",
                  "seed", "checkpoint_every", "sample_every", "log_every", "mirror")
    for key in train_keys:
        if cli.get(key) is not None:
            settings["train"][key] = cli[key]
    if cli.get("total_steps") is not None:
        settings["train"].pop("kimg", None)
    if cli.get("kimg") is not None:
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
            raise click.BadParameter(f"unknown arch {arch!r}", param_hint="--arch")
    return G, D


def _command_line() -> str:
    """The invoked command rebuilt from the parsed options (exactly reproducible)."""
    ctx = click.get_current_context()
    prefix = COMMAND_PREFIX if COMMAND_PREFIX != "latentatlas" else "latentatlas train gan"
    parts = [prefix]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value is None:
            continue
        if value is False and not param.secondary_opts:  # an unset plain flag
            continue
        if param.is_flag:
            if param.secondary_opts:  # --bf16/--no-bf16
                parts.append(param.opts[0] if value else param.secondary_opts[0])
            else:
                parts.append(param.opts[0])
            continue
        parts += [param.opts[0], shlex.quote(str(value))]
    return " ".join(parts)


def run_gan_command(preset: str | None, out: str, resume: bool, threads: int | None,
                    device: str | None, max_images: int | None, data_root: str | None,
                    cli: dict[str, Any]) -> None:
    import torch

    from latentatlas.training.data import resolve_training_data
    from latentatlas.training.gan import GANTrainConfig, GANTrainer, init_distributed
    from latentatlas.utils.hardware import resolve_bf16

    rank, world, dev = init_distributed(device)
    if threads:
        torch.set_num_threads(threads)
    elif world > 1 and dev.type == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    from latentatlas.training.gan_presets import resolve_gan_preset

    resolved = resolve_gan_preset(preset, cli.get("data"), cli, max_images, data_root)
    settings = _resolve_settings(resolved, cli)
    if isinstance(resolved, dict):
        preset = "auto"
    if settings["data"] is None:
        raise click.UsageError("give --data (or a --preset)")
    tcfg = dict(settings["train"])
    if "kimg" not in tcfg and "total_steps" not in tcfg:
        raise click.UsageError("give --kimg or --steps (or a --preset)")
    seed = int(tcfg.get("seed", 0))
    source = resolve_training_data(settings["data"], settings["resolution"], seed=seed,
                                   max_images=max_images, root=data_root)
    # "auto" (the presets' value, and the default): bf16 only where the device computes it natively.
    bf16 = resolve_bf16(tcfg.get("bf16", "auto"), dev)
    tcfg["bf16"] = bf16
    G, D = build_gan(settings["arch"], settings["resolution"], source.channels,
                     settings["generator"], settings["discriminator"], bf16, seed)
    if settings["arch"] == "stylegan2":
        # StyleGAN2 computes in bf16 itself (fast path); no extra autocast around it.
        tcfg["bf16"] = False
        tcfg["channels_last"] = False
    config = GANTrainConfig.from_dict(tcfg)
    command = _command_line()
    trainer = GANTrainer(G, D, source, config, out, device=dev, command=command,
                         extra_config={"preset": preset, "preset_settings": resolved
                                       if isinstance(resolved, dict) else None,
                                       "arch": settings["arch"],
                                       "data_spec": settings["data"], "bf16": bf16,
                                       "resolution": settings["resolution"]})
    if rank == 0 and isinstance(resolved, dict):
        t = settings["train"]
        click.echo(f"--preset auto: {settings['arch']} at {settings['resolution']} px, "
                   f"z {settings['generator'].get('z_dim')}, batch {t.get('batch')}, lr "
                   f"{t.get('g_lr', 0.0025)}, r1 {t.get('r1_gamma')}, augment {t.get('augment')}")
    if rank == 0:
        n_g = sum(p.numel() for p in G.parameters())
        n_d = sum(p.numel() for p in D.parameters())
        click.echo(f"{settings['arch']} G {n_g / 1e6:.2f} M / D {n_d / 1e6:.2f} M parameters; "
                   f"{len(source)} images of {source.name}; {trainer.total_steps} steps of "
                   f"batch {config.batch} on {world} process(es), {dev}")
    result = trainer.train(resume=resume)
    if rank == 0:
        click.echo(f"done: step {result.step}; model {result.model_dir}; last checkpoint "
                   f"{result.checkpoint}")


@_train_group().command("gan")
@click.option("--preset", type=click.Choice(_PRESET_NAMES), default=None,
              help="A zoo recipe (architecture + hyper-parameters), or auto: settings derived "
                   "from the data's size, channels and resolution (the default for a --data "
                   "folder / .npz); explicit options override it.")
@click.option("--arch", type=click.Choice(["stylegan2", "zgen"]), default=None,
              help="Generator family (default stylegan2).")
@click.option("--data", default=None,
              help="celeba | mnist | dsprites | shapes3d | a folder of images | an .npz with "
                   "an 'images' array.")
@click.option("--resolution", type=int, default=None, help="Image size (default 64).")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Run folder.")
@click.option("--kimg", type=float, default=None, help="Length in thousands of real images.")
@click.option("--steps", "total_steps", type=int, default=None, help="Length in steps.")
@click.option("--batch", type=int, default=None, help="Global batch (default 32).")
@click.option("--accum", "accum_steps", type=int, default=None, help="Gradient accumulation.")
@click.option("--resume", is_flag=True, help="Continue from the newest checkpoint in --out.")
@click.option("--bf16/--no-bf16", default=None,
              help="bf16 compute (default: where native: AMX / AVX512-BF16 CPUs, Ampere+ GPUs).")
@click.option("--augment", type=click.Choice(["none", "diffaug", "ada"]), default=None,
              help="Differentiable augmentation (ada: adaptive p).")
@click.option("--augment-p", type=float, default=None, help="Fixed / initial augment p.")
@click.option("--mirror/--no-mirror", default=None,
              help="Flip each real image left-right with probability 1/2 (doubles small data "
                   "sets of symmetric subjects, e.g. aligned faces).")
@click.option("--z-dim", type=int, default=None)
@click.option("--w-dim", type=int, default=None)
@click.option("--mapping-layers", type=int, default=None)
@click.option("--channel-base", type=int, default=None, help="G and D channel base.")
@click.option("--channel-max", type=int, default=None)
@click.option("--d-channel-base", type=int, default=None, help="D channel base (default: G's).")
@click.option("--g-lr", type=float, default=None)
@click.option("--d-lr", type=float, default=None)
@click.option("--r1-gamma", type=float, default=None)
@click.option("--pl-weight", type=float, default=None, help="Path-length weight (0: off).")
@click.option("--style-mixing", "style_mixing_prob", type=float, default=None)
@click.option("--ema-kimg", type=float, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--checkpoint-every", type=int, default=None, help="Steps between checkpoints.")
@click.option("--sample-every", type=int, default=None, help="Steps between sample grids.")
@click.option("--log-every", type=int, default=None)
@click.option("--max-images", type=int, default=None, help="Use only the first N images.")
@click.option("--data-root", default=None, help="Folder / file of the real data set.")
@click.option("--threads", type=int, default=None, help="torch CPU threads per process.")
@click.option("--device", default=None, help="cpu | cuda | cuda:0 (default: CUDA if present).")
def gan_command(preset, out, resume, threads, device, max_images, data_root, **cli) -> None:
    """Train a GAN; writes OUT/checkpoints, samples, metrics.jsonl, model/ (G_ema) and run.json.

    \b
    Zoo recipes (about 2.5 h each on a 2-core CPU; resumable with --resume):
      latentatlas train gan --preset celeba64 --out runs/zoo_celeba64
      latentatlas train gan --preset shapes3d --out runs/zoo_shapes3d
      latentatlas train gan --preset dsprites --out runs/zoo_dsprites
      latentatlas train gan --preset mnist    --out runs/zoo_mnist
    """
    run_gan_command(preset, out, resume, threads, device, max_images, data_root, cli)


def _crop_to(images, size: int):
    """Centre-crop NCHW images by a small even margin (undoes the 28 -> 32 MNIST padding)."""
    margin = images.shape[-1] - size
    if margin <= 0 or margin % 2 or margin > 8:
        return images
    m = margin // 2
    return images[..., m:m + size, m:m + size]


@main.command("quality")
@click.option("--model", "model_path", required=True, help="Generator: zoo name or model folder.")
@click.option("--data", required=True, help="celeba | mnist | dsprites | shapes3d | a folder.")
@click.option("--predictor", required=True, help="Predictor (zoo name or folder) to embed with.")
@click.option("--n-real", type=int, default=10000, show_default=True,
              help="Real images (split in two halves: reference and floor).")
@click.option("--n-fake", type=int, default=None, help="Generated images (default n-real / 2).")
@click.option("--truncation-psi", type=float, default=1.0, show_default=True)
@click.option("--kid-subsets", type=int, default=100, show_default=True)
@click.option("--kid-subset-size", type=int, default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--data-root", default=None, help="Folder / file of the real data set.")
@click.option("--inception-weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Also standard FID: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or "
                   "the same tensors as .safetensors); slow on a CPU.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the result as JSON here (and run.json beside it).")
@click.option("--threads", type=click.IntRange(1), default=None,
              help="torch CPU threads (default: torch's own choice).")
def quality_command(model_path, data, predictor, n_real, n_fake, truncation_psi, kid_subsets,
                    kid_subset_size, seed, data_root, inception_weights, out, threads) -> None:
    """Frechet distance and KID of a generator vs real data in a predictor's embedding, next to
    the real-vs-real floor; plus class confidence / coverage for multiclass predictor heads."""
    import json
    from pathlib import Path

    import numpy as np
    import torch

    from latentatlas.data.dsprites import SHAPE_NAMES, SYMMETRY_PERIODS
    from latentatlas.io.images import to_model_images
    from latentatlas.metrics.quality import (
        class_coverage,
        folded_orientation_coverage,
        generator_samples,
        sample_quality,
    )
    from latentatlas.models import load
    from latentatlas.training.data import ArraySource, resolve_training_data
    from latentatlas.training.predictors import DSPRITES_FOLDED_HEADS
    from latentatlas.utils.atomic import atomic_write_json
    from latentatlas.utils.runinfo import write_run_record

    if threads:
        torch.set_num_threads(threads)
    G = load(model_path).eval()
    P = load(predictor).eval()
    source = resolve_training_data(data, int(G.img_resolution), seed=seed, root=data_root)
    rng = np.random.default_rng(seed)
    if isinstance(source, ArraySource):
        idx = rng.permutation(len(source))[:n_real]
        real = source.images[np.sort(idx)]
    else:
        real = source.batch(0, 0, n_real, n_real)
    n_fake = n_fake if n_fake is not None else len(real) // 2
    fakes = generator_samples(G, n_fake, rng, truncation_psi, batch_size=256)
    real_t = to_model_images(real)
    size = int(getattr(P, "resolution", real_t.shape[-1]))
    real_t, fakes = _crop_to(real_t, size), _crop_to(fakes, size)
    result = sample_quality(real_t, fakes, P, rng=rng, kid_subsets=kid_subsets,
                            kid_subset_size=kid_subset_size)
    result.update({"model": str(model_path), "predictor": str(predictor), "data": data,
                   "truncation_psi": truncation_psi, "seed": seed})
    if any(h.get("kind") == "multiclass" for h in getattr(P, "heads", [])):
        result["class_coverage"] = class_coverage(P, fakes)
    if inception_weights:
        from latentatlas.metrics.inception import load_fid_inception

        inception = load_fid_inception(inception_weights)
        result["inception"] = sample_quality(
            real_t, fakes, inception, rng=np.random.default_rng(seed), kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size, batch_size=64, progress=True)
        result["inception"]["weights"] = str(inception_weights)
    head_names = {h.get("name") for h in getattr(P, "heads", [])}
    if {"shape", *DSPRITES_FOLDED_HEADS} <= head_names:
        # dSprites: orientation is identifiable only modulo the shape's symmetry; judge its
        # coverage on bins of the folded angle one grid step (360/39 degrees) wide.
        result["folded_orientation_coverage"] = folded_orientation_coverage(
            P, fakes, SYMMETRY_PERIODS, bin_width=2 * np.pi / 39, group_names=SHAPE_NAMES)
    click.echo(json.dumps(result, indent=2))
    if out:
        atomic_write_json(out, result)
        write_run_record(Path(out).parent, command=_command_line_quality(), config={
            "model": str(model_path), "data": data, "predictor": str(predictor),
            "n_real": len(real), "n_fake": n_fake, "truncation_psi": truncation_psi,
            "kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size,
            "inception_weights": inception_weights},
            seed=seed, metrics=result, filename=f"{Path(out).stem}.run.json")


def _command_line_quality() -> str:
    ctx = click.get_current_context()
    parts = ["latentatlas quality"]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(param, click.Option) and value is not None:
            parts += [param.opts[0], shlex.quote(str(value))]
    return " ".join(parts)


@_train_group().command("export-gan")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="A `train gan` run folder (finished or not).")
@click.option("--step", type=int, default=None, help="Checkpoint step (default: the newest).")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Model folder to write (config.json + model.safetensors).")
def export_gan_command(run_dir, step, out) -> None:
    """Save a checkpoint's G_ema as a model folder (for `latentatlas quality`, `load`, ...)."""
    from latentatlas.training.export import export_generator

    click.echo(f"exported {export_generator(run_dir, out, step)}")


@_train_group().command("widen-gan")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="A `train gan` run folder with a checkpoint.")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="New run folder (must be new or empty).")
@click.option("--channel-base", type=int, default=None, help="The wider generator's channel base.")
@click.option("--channel-max", type=int, default=None, help="The wider generator's channel max.")
@click.option("--step", type=int, default=None, help="Checkpoint step (default: the newest).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Initialisation of the new channels.")
def widen_gan_command(run_dir, out, channel_base, channel_max, step, seed) -> None:
    """Continue a run with a wider generator: copy a checkpoint into a new run folder with G,
    G_ema and G's Adam state widened so that the generator draws the same images (new channels
    start with zero outgoing weights); D and everything else unchanged. Then resume it with
    `latentatlas train gan ... --out OUT --resume --channel-base NEW --d-channel-base OLD`."""
    from latentatlas.training.widen import widen_run

    kwargs = {k: v for k, v in (("channel_base", channel_base), ("channel_max", channel_max))
              if v is not None}
    if not kwargs:
        raise click.UsageError("give --channel-base and/or --channel-max")
    path = widen_run(run_dir, out, kwargs, step=step, seed=seed)
    click.echo(f"wrote {path}; the generator draws the same images as before (checked)")


@_train_group().command("ship-gan")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="A finished `train gan` run folder.")
@click.option("--name", required=True, help="Zoo name (e.g. celeba64).")
@click.option("--quality", "quality_json", type=click.Path(dir_okay=False, exists=True),
              default=None, help="JSON written by `latentatlas quality --out`.")
@click.option("--zoo-dir", type=click.Path(file_okay=False), default=None,
              help="Zoo folder (default: the package's latentatlas/zoo).")
@click.option("--notes", "notes_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A Markdown file appended to the model card as its Notes section.")
def ship_gan_command(run_dir, name, quality_json, zoo_dir, notes_file) -> None:
    """Copy a run's G_ema into the zoo with its sample grid and a MODEL_CARD.md."""
    from pathlib import Path

    from latentatlas.training.gan_card import ship_gan

    notes = Path(notes_file).read_text("utf-8") if notes_file else None
    dest = ship_gan(run_dir, name, quality_json, zoo_dir, notes=notes)
    click.echo(f"shipped {name} -> {dest}")
